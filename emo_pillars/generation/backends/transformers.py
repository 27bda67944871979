"""Local generation with ``transformers``: one process, several GPUs (``device_map``) or data parallel under accelerate.

The backend renders every prompt with the tokenizer's chat template (with a prefill, the assistant's turn is opened
and continued: ``apply_chat_template(..., continue_final_message=True)``), sorts the prompts by token length, generates batch by batch with left padding and returns the replies in the original order. Launched
with ``accelerate launch`` or ``torchrun`` on N > 1 processes, each process generates its share of the (sorted)
prompts and every rank receives the full, ordered list of replies.

Two throughput features:

* **Shared-prefix reuse** (``prefix_cache=True``): prompts are grouped by shared token prefixes (all label prompts
  share the emotion definitions; the characters of one plot share the definitions and the plot). Each group's common
  prefix is encoded once, its key/value cache is kept and copied into the rows of every batch that use it (a batch
  may mix groups: each row gets its own prefix, zero-padded to the longest). Only the rest of each prompt (its
  *suffix*) goes through the model. Pads sit between a prefix and its suffix, the attention mask hides them and
  position ids skip them, so every row sees exactly the tokens and positions of the plain path: greedy replies are
  the same.
* **Constrained decoding**: a prompt's ``constraint`` (a regex) is compiled once per regex by xgrammar and applied by
  a logits processor per row (:mod:`.grammar`), so one batch mixes constrained and free rows, with or without the
  prefix cache.
* **Continuation scoring** (:meth:`TransformersBackend.score`): the log-probability of each of K fixed
  continuations after each prompt, from one forward pass per batch. The K continuations are packed after the prompt
  in the same row; a block attention mask lets every continuation see the prompt and its own earlier tokens only,
  so the prompt's keys and values are computed once and shared by all K (a tree of continuations, no K-fold copies).

This module imports torch and transformers; ``import emo_pillars`` stays free of both because the backends package
imports it lazily.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import gc
import hashlib
import logging
import os
import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ...errors import BackendError, ConfigError
from ...utils.hub import looks_local
from .base import ChatPrompt, Completion, DecodingConfig, LLMBackend

if TYPE_CHECKING:
    import torch

__all__ = ["TransformersBackend", "TransformersBackendConfig"]

logger = logging.getLogger(__name__)

_DTYPES = ("auto", "float32", "bfloat16", "float16")
#: Shorter common prefixes are not worth a cache lookup.
_MIN_PREFIX_TOKENS = 16
#: Prompts that share this many tokens beyond what all prompts of a call share are batched together.
_GROUP_MIN_TOKENS = 32
#: Prefix caches kept (least recently used dropped first).
_PREFIX_STORE_SIZE = 8


_DEVICE_TYPES = ("cuda", "xpu", "mps", "npu", "hpu", "mlu", "musa", "cpu")
_DEVICE_RE = re.compile(rf"(auto|({'|'.join(_DEVICE_TYPES)})(:\d+)?)")


def check_device(device: str) -> None:
    """Refuse a device string that is not ``auto``, ``cpu`` or ``<accelerator>[:N]``, or that names an
    accelerator this machine does not have (one line, before any weights load).

    Raises:
        ConfigError: The device is malformed or absent.

    Examples:
        >>> check_device("cpu")
        >>> check_device("gpu9")
        Traceback (most recent call last):
        ...
        emo_pillars.errors.ConfigError: device 'gpu9' is not one of auto, cpu, cuda, cuda:N, xpu, xpu:N, mps, ...
    """
    if not isinstance(device, str) or not _DEVICE_RE.fullmatch(device):
        raise ConfigError(f"device {device!r} is not one of auto, cpu, cuda, cuda:N, xpu, xpu:N, mps, ...")
    kind, _, index = device.partition(":")
    if kind in ("auto", "cpu"):
        return
    import torch

    module = getattr(torch, kind, None)
    if kind == "mps":
        available, count = torch.backends.mps.is_available(), 1
    else:
        available = bool(module is not None and module.is_available())
        count = module.device_count() if available else 0
    if not available:
        raise ConfigError(f"device {device!r}: this machine has no {kind} device (use --device cpu or auto)")
    if index and int(index) >= count:
        raise ConfigError(f"device {device!r}: this machine has {count} {kind} device(s) (0 to {count - 1})")


def _common_prefix_length(rows: Sequence[Sequence[int]]) -> int:
    """Length of the longest common prefix of token lists."""
    return len(os.path.commonprefix([list(r) for r in rows])) if rows else 0


def _release_process_group(state: Any) -> None:
    """Destroy the default process group of a multi-process run if it is still there (idempotent)."""
    import torch

    if torch.distributed.is_available() and torch.distributed.is_initialized():
        state.destroy_process_group()


@dataclass
class TransformersBackendConfig:
    """Where the model comes from and how to run it.

    Args:
        model: A Hub id or a local folder.
        gguf_file: Name of a GGUF file inside ``model`` to load (dequantized) instead of safetensors weights.
        revision: Hub revision (branch, tag or commit) to load.
        dtype: Weights dtype; ``"auto"`` keeps the checkpoint's.
        device: ``"auto"`` (the accelerator if there is one, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...
            Ignored under a multi-process launch, where each process uses its own device.
        device_map: Spread one model over several devices (e.g. ``"auto"`` for a model larger than one GPU);
            cannot be combined with a multi-process launch.
        batch_size: Most prompts per ``generate`` call (default: no count limit, the token budget decides).
        max_batch_tokens: Most tokens per ``generate`` call, counted as rows x (longest prompt + max_new_tokens)
            (default 32,768: 40 label prompts, or 24 utterance prompts with their 500 new tokens). Prompts are
            length-sorted first, so short prompts travel in large batches and long ones in small. With both limits
            set, a batch respects both; at least one must be set. On a large GPU raise it (a 7B model in bf16 keeps
            128 KB of key/value cache per token: 262,144 tokens take 32 GB).
        trust_remote_code: Allow model code from the Hub.
        use_accelerate: Split prompts between processes with accelerate. ``None``: on when the process was
            launched with more than one process (``WORLD_SIZE > 1``).
        chat_template: A Jinja chat template replacing the tokenizer's (for tokenizers that have none).
        prefix_cache: Encode the longest common token prefix of each batch once, keep its key/value cache (the last
            few prefixes are kept) and reuse it for every batch that shares it. Prompts of one call are grouped so
            that prompts sharing a long prefix (one plot's characters) fall into the same batches. Greedy replies
            are the same as without it; prefill work drops by the prefix's share of the prompt. On by default.
        ignore_eos: Always generate exactly ``max_new_tokens`` tokens (end-of-sequence tokens are suppressed). For
            benchmarks that need fixed reply lengths; replies then end with ``finish_reason="length"``. For free
            prompts: a constrained row whose grammar is complete is decoded freely from then on.
        show_progress: Show the weight-loading and conversion bars of ``transformers`` (``False``: quiet, for
            ``--quiet``; warnings below errors are silenced while loading too).

    Examples:
        >>> from emo_pillars.generation.backends import TransformersBackendConfig
        >>> config = TransformersBackendConfig("HuggingFaceTB/SmolLM2-135M-Instruct", batch_size=8)
        >>> config.dtype, config.device
        ('auto', 'auto')
        >>> TransformersBackendConfig("some/model", batch_size=0)
        Traceback (most recent call last):
        ...
        emo_pillars.errors.ConfigError: batch_size must be >= 1, got 0
    """

    model: str
    gguf_file: str | None = None
    revision: str | None = None
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    device: str = "auto"
    device_map: str | dict[str, Any] | None = None
    batch_size: int | None = None
    max_batch_tokens: int | None = 32768
    trust_remote_code: bool = False
    use_accelerate: bool | None = None
    chat_template: str | None = None
    prefix_cache: bool = True
    ignore_eos: bool = False
    show_progress: bool = True

    def __post_init__(self):
        self.model = os.fspath(self.model)
        if not self.model:
            raise ConfigError("model must name a Hub id or a local folder")
        if self.dtype not in _DTYPES:
            raise ConfigError(f"dtype must be one of {_DTYPES}, got {self.dtype!r}")
        if self.batch_size is None and self.max_batch_tokens is None:
            raise ConfigError("set batch_size, max_batch_tokens or both")
        if self.batch_size is not None and self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.max_batch_tokens is not None and self.max_batch_tokens < 1:
            raise ConfigError(f"max_batch_tokens must be >= 1, got {self.max_batch_tokens}")
        if self.device_map is not None and self.device != "auto":
            raise ConfigError("give device or device_map, not both")
        if self.device_map is not None and self.use_accelerate:
            raise ConfigError("device_map cannot be combined with use_accelerate (one model copy per process)")
        check_device(self.device)
        if looks_local(self.model) and not os.path.isdir(os.path.expanduser(self.model)):
            raise ConfigError(f"model folder {self.model} does not exist")
        if self.gguf_file:
            folder = os.path.expanduser(self.model)
            if os.path.isdir(folder) and not os.path.isfile(os.path.join(folder, self.gguf_file)):
                present = sorted(f for f in os.listdir(folder) if f.lower().endswith(".gguf"))
                raise ConfigError(
                    f"gguf_file {self.gguf_file!r} is not in {self.model} (GGUF files there: {present or 'none'})"
                )

    def wants_accelerate(self) -> bool:
        """Whether to split work between processes (resolves ``use_accelerate=None``)."""
        if self.use_accelerate is not None:
            return self.use_accelerate
        return int(os.environ.get("WORLD_SIZE", "1")) > 1


class TransformersBackend(LLMBackend):
    """Generate with a local causal LM through ``transformers`` (safetensors or GGUF weights).

    Replies are greedy by default (``DecodingConfig(temperature=0)``). Batched and unbatched generation give the
    same greedy replies: prompts are left-padded and the attention mask hides the padding.

    Args:
        config: A :class:`TransformersBackendConfig`, or a model id/folder (then ``**overrides`` are config fields).
        progress_callback: Called with the number of prompts just finished after each batch (on every process,
            counting that process's prompts). The pipeline uses it to drive its progress bar.
        **overrides: Fields of :class:`TransformersBackendConfig` when ``config`` is a model id.

    Examples:
        >>> from emo_pillars.generation.backends import ChatPrompt, TransformersBackend
        >>> backend = TransformersBackend("HuggingFaceTB/SmolLM2-135M-Instruct", batch_size=8)  # doctest: +SKIP
        >>> backend.load()  # doctest: +SKIP
        >>> prompt = ChatPrompt.from_user("Name a colour.", prefill="Colour:")
        >>> backend.generate([prompt], max_new_tokens=8)[0].text  # doctest: +SKIP
        ' Blue.'

        GGUF weights (dequantized on load) and a multi-process run::

            backend = TransformersBackend("path/to/folder", gguf_file="model.Q4_1.gguf")
            # accelerate launch --num_processes 4 script.py   (each GPU generates a quarter of the prompts)
    """

    def __init__(
        self,
        config: TransformersBackendConfig | str | os.PathLike,
        *,
        progress_callback: Callable[[int], None] | None = None,
        **overrides: Any,
    ):
        if isinstance(config, TransformersBackendConfig):
            if overrides:
                raise ConfigError("pass either a TransformersBackendConfig or keyword overrides, not both")
        else:
            config = TransformersBackendConfig(model=os.fspath(config), **overrides)
        self.config = config
        self.progress_callback = progress_callback
        self.model = None
        self.tokenizer = None
        self._state = None  # accelerate.PartialState when several processes share the work
        self.is_main_process = True
        self._prefix_store: OrderedDict[tuple[int, ...], Any] = OrderedDict()
        #: Prefix tokens run through the model to fill the prefix cache (a counter for benchmarks).
        self.prefix_tokens_encoded = 0
        self._grammars = None  # GrammarCompiler, built at the first constrained prompt
        self._model_config = None  # the model's config, read without weights for context_window

    # ------------------------------------------------------------------ properties

    @property
    def model_name(self) -> str:
        return self.config.model

    @property
    def model_revision(self) -> str | None:
        if self.model is not None:
            commit = getattr(self.model.config, "_commit_hash", None)
            if commit:
                return commit
        return None

    @property
    def num_processes(self) -> int:
        """Processes sharing the prompts (1 unless launched with accelerate/torchrun and ``use_accelerate``)."""
        return self._state.num_processes if self._state is not None else 1

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        cfg = self.config
        info.update(
            gguf_file=cfg.gguf_file,
            dtype=cfg.dtype if self.model is None else str(self.model.dtype).removeprefix("torch."),
            device_map=cfg.device_map if isinstance(cfg.device_map, str) else None,
            batch_size=cfg.batch_size,
            max_batch_tokens=cfg.max_batch_tokens,
            num_processes=self.num_processes,
            prefix_cache=cfg.prefix_cache,
        )
        return info

    def cache_identity(self) -> dict[str, Any]:
        """Model, revision, weights file, dtype and every setting that changes replies (the chat template override,
        ``ignore_eos``). Taken from the config, so it is the same before and after :meth:`load`; ``commit`` is the
        loaded checkpoint's hash when the Hub gave one (``None`` before loading and for local folders)."""
        cfg = self.config
        template = cfg.chat_template
        return {
            "backend": type(self).__name__,
            "model": cfg.model,
            "revision": cfg.revision,
            "commit": self.model_revision,
            "gguf_file": cfg.gguf_file,
            "dtype": cfg.dtype,
            "chat_template": hashlib.sha256(template.encode()).hexdigest()[:16] if template else None,
            "ignore_eos": cfg.ignore_eos,
        }

    @property
    def context_window(self) -> int | None:
        """``max_position_embeddings`` of the model's config, else the tokenizer's ``model_max_length`` when it is a
        real limit (tokenizers without one report about 1e30). Reads the config and tokenizer, never the weights."""
        config = self.model.config if self.model is not None else self._read_model_config()
        for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
            value = getattr(config, name, None)
            if isinstance(value, int) and value > 0:
                return value
        limit = getattr(self._load_tokenizer(), "model_max_length", None)
        return int(limit) if isinstance(limit, int | float) and 0 < limit < 10_000_000 else None

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` with the model's tokenizer (no special tokens); loads the tokenizer, not the weights."""
        return len(self._load_tokenizer()(text, add_special_tokens=False)["input_ids"])

    # ------------------------------------------------------------------ loading

    def _common_kwargs(self) -> dict[str, Any]:
        cfg = self.config
        common: dict[str, Any] = {"revision": cfg.revision, "trust_remote_code": cfg.trust_remote_code}
        if cfg.gguf_file:
            common["gguf_file"] = cfg.gguf_file
        return common

    def _where(self) -> str:
        cfg = self.config
        return cfg.model + (f" (gguf_file={cfg.gguf_file!r})" if cfg.gguf_file else "")

    @contextlib.contextmanager
    def _quiet(self):
        """With ``show_progress=False``: no transformers progress bars and only its errors while loading.

        The GGUF conversion bar is a bare ``tqdm`` that no transformers switch reaches, so ``sys.stderr`` is sent to
        ``os.devnull`` while loading (failures still surface: they are exceptions, and logging handlers keep their
        own stream)."""
        if self.config.show_progress:
            yield
            return
        from transformers.utils import logging as hf_logging

        bars, verbosity = hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()
        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        try:
            with open(os.devnull, "w") as sink, contextlib.redirect_stderr(sink):
                yield
        finally:
            hf_logging.set_verbosity(verbosity)
            if bars:
                hf_logging.enable_progress_bar()

    def _load_tokenizer(self):
        """The tokenizer, loaded once (left padding, a pad token, the chat template checked)."""
        if self.tokenizer is not None:
            return self.tokenizer
        from transformers import AutoTokenizer

        cfg, where = self.config, self._where()
        try:
            with self._quiet():
                tokenizer = AutoTokenizer.from_pretrained(cfg.model, **self._common_kwargs())
        except Exception as exc:
            raise BackendError(f"cannot load the tokenizer of {where}: {type(exc).__name__}: {exc}") from exc
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            fallback = tokenizer.eos_token or tokenizer.unk_token
            if fallback is None:
                raise BackendError(f"the tokenizer of {where} has neither a pad, an eos nor an unk token")
            tokenizer.pad_token = fallback
        if cfg.chat_template is not None:
            tokenizer.chat_template = cfg.chat_template
        if not tokenizer.chat_template:
            raise BackendError(
                f"the tokenizer of {where} has no chat template; pass one with TransformersBackendConfig(chat_template=)"
            )
        self.tokenizer = tokenizer
        return tokenizer

    def _read_model_config(self):
        if self._model_config is None:
            from transformers import AutoConfig

            try:
                with self._quiet():
                    self._model_config = AutoConfig.from_pretrained(self.config.model, **self._common_kwargs())
            except Exception as exc:
                raise BackendError(f"cannot read the config of {self._where()}: {type(exc).__name__}: {exc}") from exc
        return self._model_config

    def load(self) -> None:
        """Load the tokenizer and the model; set up accelerate when several processes share the work.

        Raises:
            ConfigError: The device is absent (checked before anything loads).
            BackendError: The model or tokenizer cannot be loaded (the message names the model).
        """
        if self.model is not None:
            return
        import torch
        from transformers import AutoModelForCausalLM

        cfg = self.config
        check_device(cfg.device)
        device = self._resolve_device(torch)
        where = self._where()
        self._load_tokenizer()

        kwargs = self._common_kwargs()
        if not cfg.gguf_file:
            kwargs["use_safetensors"] = True
        kwargs["dtype"] = cfg.dtype if cfg.dtype == "auto" else getattr(torch, cfg.dtype)
        if cfg.device_map is not None:
            kwargs["device_map"] = cfg.device_map
        try:
            with self._quiet():
                model = AutoModelForCausalLM.from_pretrained(cfg.model, **kwargs)
        except Exception as exc:
            raise BackendError(f"cannot load the model {where}: {type(exc).__name__}: {exc}") from exc
        if cfg.device_map is None:
            model = model.to(device)
        model.eval()
        self.model = model
        logger.info("loaded %s on %s (%s, %d process(es))", where, model.device, model.dtype, self.num_processes)

    def _resolve_device(self, torch) -> torch.device:
        cfg = self.config
        if cfg.wants_accelerate():
            from accelerate import PartialState
            from accelerate.utils import parse_flag_from_env

            has_accelerator = torch.accelerator.is_available()
            cpu = cfg.device == "cpu" or parse_flag_from_env("ACCELERATE_USE_CPU") or not has_accelerator
            state = PartialState(cpu=cpu)
            if state.num_processes > 1:
                if cfg.device_map is not None:
                    raise ConfigError("device_map cannot be used in a multi-process launch (one model per process)")
                self._state = state
                # A gloo/NCCL group still alive when the interpreter exits can abort the process from its
                # threads ("terminate called without an active exception"): release it at exit, once.
                atexit.register(_release_process_group, state)
                self.is_main_process = state.is_main_process
                return state.device
        if cfg.device != "auto":
            return torch.device(cfg.device)
        accelerator = torch.accelerator.current_accelerator() if torch.accelerator.is_available() else None
        return accelerator if accelerator is not None else torch.device("cpu")

    def close(self) -> None:
        if self._state is not None:
            self._state.wait_for_everyone()  # no process leaves the group while another still uses it
            _release_process_group(self._state)
            self._state = None
        self._prefix_store.clear()
        self.model = None
        self.tokenizer = None
        self._grammars = None
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:  # pragma: no cover - torch is a dependency
            pass

    # ------------------------------------------------------------------ generation

    def render(self, prompt: ChatPrompt) -> str:
        """The text the model sees for ``prompt``: the chat template with the assistant's turn opened and, with a
        prefill, continued from it (``apply_chat_template(..., continue_final_message=True)``)."""
        self._require_loaded()
        messages = prompt.as_messages()
        if not prompt.prefill:
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        messages.append({"role": "assistant", "content": prompt.prefill})
        return self.tokenizer.apply_chat_template(messages, tokenize=False, continue_final_message=True)

    def _compiler(self):
        if self._grammars is None:
            from .grammar import GrammarCompiler

            self._grammars = GrammarCompiler(
                self.tokenizer, vocab_size=self.model.config.vocab_size, stop_token_ids=self._eos_ids()
            )
        return self._grammars

    def generate(
        self,
        prompts: Sequence[ChatPrompt],
        *,
        max_new_tokens: int,
        decoding: DecodingConfig | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> list[Completion]:
        """Generate one reply per prompt, in the order of ``prompts``, each kept inside its ``constraint``.

        Under a multi-process launch every process must call this with the same prompts; each generates its share
        and all of them return the full list.

        Args:
            prompts: Chat prompts; each may carry its own constraint (or none).
            max_new_tokens: Most tokens per reply.
            decoding: Greedy by default.
            on_progress: Called with the number of prompts just finished after each internal batch (besides the
                backend's ``progress_callback``).
        """
        if max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        if self.model is None:
            self.load()
        decoding = decoding or DecodingConfig()

        results: list[Completion | None] = [None] * len(prompts)
        encoded: dict[int, list[int]] = {}
        grammars: dict[int, Any] = {}
        for i, prompt in enumerate(prompts):
            try:
                encoded[i] = self._encode(prompt)
            except Exception as exc:  # a template that refuses these messages, for instance
                results[i] = Completion(text="", finish_reason="error", error=f"cannot render the prompt: {exc}")
                continue
            if prompt.constraint is not None:
                try:
                    grammars[i] = self._compiler().compile(prompt.constraint.regex)
                except ConfigError as exc:
                    del encoded[i]
                    results[i] = Completion(text="", prompt_tokens=0, finish_reason="error", error=str(exc))

        def work(order: list[int]) -> list[tuple[int, Completion]]:
            return self._generate_indices(order, encoded, grammars, max_new_tokens, decoding, on_progress)

        for i, completion in self._distribute(self._order(encoded), work):
            results[i] = completion
        return results  # type: ignore[return-value]

    def _encode(self, prompt: ChatPrompt) -> list[int]:
        return self.tokenizer(self.render(prompt), add_special_tokens=False)["input_ids"]

    def _order(self, encoded: dict[int, list[int]]) -> list[int]:
        """The processing order: longest first, or (with ``prefix_cache``) prefix groups one after the other."""
        return [i for group in self._groups(list(encoded), encoded) for i in group]

    def _groups(self, indices: list[int], encoded: dict[int, list[int]]) -> list[list[int]]:
        """Split ``indices`` into groups that are batched separately, each sorted longest first.

        Without ``prefix_cache`` there is one group. With it, prompts are sorted token-wise so that prompts sharing a
        prefix are neighbours; a run of neighbours that share at least ``_GROUP_MIN_TOKENS`` tokens more than all
        prompts share (the same plot, say) becomes its own group, and the prompts left over form one last group.
        Longest first: a batch that does not fit in memory fails at once, not after an hour.
        """

        def longest_first(group: list[int]) -> list[int]:
            return sorted(group, key=lambda i: (-len(encoded[i]), i))

        if not self.config.prefix_cache or len(indices) < 3:
            return [longest_first(indices)] if indices else []
        lexical = sorted(indices, key=lambda i: (encoded[i], i))
        shared = _common_prefix_length([encoded[lexical[0]], encoded[lexical[-1]]])
        runs: list[list[int]] = [[lexical[0]]]
        for a, b in zip(lexical, lexical[1:]):
            if _common_prefix_length([encoded[a], encoded[b]]) >= shared + _GROUP_MIN_TOKENS:
                runs[-1].append(b)
            else:
                runs.append([b])
        groups = [longest_first(run) for run in runs if len(run) > 1]
        rest = [i for run in runs if len(run) == 1 for i in run]
        if rest:
            groups.append(longest_first(rest))
        return sorted(groups, key=lambda g: (-len(encoded[g[0]]), g[0]))

    def _distribute(
        self, order: list[int], work: Callable[[list[int]], list[tuple[int, Any]]]
    ) -> list[tuple[int, Any]]:
        """Run ``work`` on this process's share of ``order`` and gather every process's ``(index, result)`` pairs."""
        if self._state is None:
            return work(order)
        from accelerate.utils import gather_object

        with self._state.split_between_processes(order) as local_order:
            local = work(list(local_order))
        return gather_object(local)

    def _generate_indices(
        self,
        order: list[int],
        encoded: dict[int, list[int]],
        grammars: dict[int, Any],
        max_new_tokens: int,
        decoding: DecodingConfig,
        on_progress: Callable[[int], None] | None,
    ) -> list[tuple[int, Completion]]:
        out: list[tuple[int, Completion]] = []
        flat, prefixes = self._plan(order, encoded)
        for batch in self._batches(flat, encoded, max_new_tokens):
            rows, cuts = [encoded[i] for i in batch], [prefixes[i] for i in batch]
            row_grammars = [grammars.get(i) for i in batch]
            out.extend(zip(batch, self._generate_batch(rows, cuts, row_grammars, max_new_tokens, decoding)))
            self._report(len(batch), on_progress)
        return out

    def _report(self, n: int, on_progress: Callable[[int], None] | None) -> None:
        for callback in (self.progress_callback, on_progress):
            if callback is not None:
                callback(n)

    def _plan(self, order: list[int], encoded: dict[int, list[int]]) -> tuple[list[int], dict[int, int]]:
        """The processing order of ``order`` (groups one after the other) and, per prompt, how many of its leading
        tokens to take from the prefix cache: its group's common prefix (0 without ``prefix_cache``)."""
        groups = self._groups(order, encoded)
        prefixes = dict.fromkeys(order, 0)
        if self.config.prefix_cache:
            for group in groups:
                prefixes.update(dict.fromkeys(group, _common_prefix_length([encoded[i] for i in group])))
        return [i for group in groups for i in group], prefixes

    def _batches(self, order: list[int], encoded: dict[int, list[int]], max_new_tokens: int) -> list[list[int]]:
        cfg = self.config
        batches: list[list[int]] = []
        current: list[int] = []
        longest = 0
        for i in order:
            new_longest = max(longest, len(encoded[i]))
            too_many = cfg.batch_size is not None and len(current) + 1 > cfg.batch_size
            too_big = (
                cfg.max_batch_tokens is not None
                and (len(current) + 1) * (new_longest + max_new_tokens) > cfg.max_batch_tokens
            )
            if current and (too_many or too_big):
                batches.append(current)
                current, new_longest = [], len(encoded[i])
            current.append(i)
            longest = new_longest
        if current:
            batches.append(current)
        return batches

    def _eos_ids(self) -> list[int]:
        ids: set[int] = set()
        for source in (self.model.generation_config.eos_token_id, self.tokenizer.eos_token_id):
            if source is None:
                continue
            ids.update([source] if isinstance(source, int) else source)
        return sorted(ids)

    def _generate_batch(
        self,
        rows: list[list[int]],
        cuts: list[int],
        grammars: list[Any],
        max_new_tokens: int,
        decoding: DecodingConfig,
    ) -> list[Completion]:
        import torch

        try:
            return self._run_generate(rows, cuts, grammars, max_new_tokens, decoding)
        except torch.OutOfMemoryError as exc:
            if len(rows) == 1:
                return [Completion(text="", prompt_tokens=len(rows[0]), finish_reason="error", error=f"OOM: {exc}")]
            logger.warning("out of memory on a batch of %d prompts; splitting it in two", len(rows))
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            half = len(rows) // 2
            return self._generate_batch(
                rows[:half], cuts[:half], grammars[:half], max_new_tokens, decoding
            ) + self._generate_batch(rows[half:], cuts[half:], grammars[half:], max_new_tokens, decoding)
        except Exception as exc:
            logger.warning("generation failed for a batch of %d prompts", len(rows), exc_info=True)
            error = f"{type(exc).__name__}: {exc}"
            return [Completion(text="", prompt_tokens=len(r), finish_reason="error", error=error) for r in rows]

    def _generation_config(self, max_new_tokens: int, decoding: DecodingConfig, eos_ids: list[int]):
        import torch

        tokenizer, model = self.tokenizer, self.model
        generation_config = copy.deepcopy(model.generation_config)
        generation_config.max_new_tokens = max_new_tokens
        generation_config.max_length = None
        generation_config.min_new_tokens = max_new_tokens if self.config.ignore_eos else None
        generation_config.repetition_penalty = decoding.repetition_penalty
        generation_config.pad_token_id = tokenizer.pad_token_id
        generation_config.eos_token_id = eos_ids or None
        if decoding.greedy:
            generation_config.do_sample = False
            generation_config.temperature = None
            generation_config.top_p = None
            generation_config.top_k = None
        else:
            generation_config.do_sample = True
            generation_config.temperature = decoding.temperature
            generation_config.top_p = decoding.top_p
            torch.manual_seed(decoding.seed)
        return generation_config

    def _run_generate(
        self,
        rows: list[list[int]],
        cuts: list[int],
        grammars: list[Any],
        max_new_tokens: int,
        decoding: DecodingConfig,
    ) -> list[Completion]:
        import torch
        from transformers import LogitsProcessorList

        tokenizer, model = self.tokenizer, self.model
        eos_ids = self._eos_ids()
        generation_config = self._generation_config(max_new_tokens, decoding, eos_ids)
        cuts = self._cuts(rows, cuts)
        if any(cuts):
            # [prefix][pads][suffix]: the prefixes' keys and values come from the cache; the pads sit between a
            # prefix and its suffix, masked out, and position ids (from the mask's cumulative sum) skip them.
            input_ids, attention_mask = self._suffix_padded(rows, cuts)
            inputs = {"input_ids": input_ids, "attention_mask": attention_mask, "cache": self._batch_cache(rows, cuts)}
        else:
            inputs = dict(tokenizer.pad({"input_ids": rows}, padding=True, return_tensors="pt").to(model.device))
        processors = LogitsProcessorList()
        if any(g is not None for g in grammars):
            from .grammar import GrammarLogitsProcessor

            processors.append(GrammarLogitsProcessor(grammars, self._compiler()))
        with torch.inference_mode():
            output = model.generate(**inputs, generation_config=generation_config, logits_processor=processors)
        new_tokens = output[:, inputs["input_ids"].shape[1] :].tolist()

        eos = set(eos_ids)
        completions = []
        for prompt_ids, ids in zip(rows, new_tokens):
            stop = next((k for k, token in enumerate(ids) if token in eos), None)
            if stop is None:
                kept, n_generated, reason = ids, len(ids), "length"
            else:
                kept, n_generated, reason = ids[:stop], stop + 1, "stop"
            text = tokenizer.decode(kept, skip_special_tokens=True)
            completions.append(
                Completion(
                    text=text, prompt_tokens=len(prompt_ids), completion_tokens=n_generated, finish_reason=reason
                )
            )
        return completions

    # ------------------------------------------------------------------ shared-prefix cache

    def _cuts(self, rows: list[list[int]], cuts: list[int]) -> list[int]:
        """Per row, the tokens taken from the prefix cache: at most all but the last (the forward pass needs a
        position to predict from), and none when fewer than ``_MIN_PREFIX_TOKENS``."""
        cuts = [min(cut, len(row) - 1) for row, cut in zip(rows, cuts)]
        return [cut if cut >= _MIN_PREFIX_TOKENS else 0 for cut in cuts]

    def _suffix_padded(self, rows: list[list[int]], cuts: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """``input_ids`` and ``attention_mask`` laid out as ``[prefix][pads][suffix]`` per row; every row's prefix
        area is as long as the longest cut, so the suffixes start at the same column."""
        import torch

        pad = self.tokenizer.pad_token_id
        prefix_area = max(cuts)
        width = max(len(row) - cut for row, cut in zip(rows, cuts))
        ids, mask = [], []
        for row, cut in zip(rows, cuts):
            n_pad = prefix_area - cut + width - (len(row) - cut)
            ids.append(row[:cut] + [pad] * n_pad + row[cut:])
            mask.append([1] * cut + [0] * n_pad + [1] * (len(row) - cut))
        device = self.model.device
        return torch.tensor(ids, device=device), torch.tensor(mask, device=device)

    def _prefix_kv(self, prefix: list[int]):
        """The key/value cache (batch of one) of ``prefix``: from the store, else extended from the longest stored
        prefix of it, else computed; the result is stored (the last ``_PREFIX_STORE_SIZE`` prefixes are kept)."""
        import torch

        key = tuple(prefix)
        store = self._prefix_store
        if key in store:
            store.move_to_end(key)
            return store[key]
        base = max((k for k in store if len(k) < len(key) and key[: len(k)] == k), key=len, default=())
        cache = copy.deepcopy(store[base]) if base else None
        ids = torch.tensor([prefix[len(base) :]], device=self.model.device)
        with torch.inference_mode():
            cache = self.model(input_ids=ids, cache=cache, use_cache=True).cache
        self.prefix_tokens_encoded += len(prefix) - len(base)
        store[key] = cache
        while len(store) > _PREFIX_STORE_SIZE:
            store.popitem(last=False)
        return cache

    def _batch_cache(self, rows: list[list[int]], cuts: list[int]):
        """A fresh cache for a batch (``generate`` extends it in place): row b holds the keys and values of its first
        ``cuts[b]`` tokens, then zeros up to the longest cut (masked out by the attention mask)."""
        import torch
        from transformers import DynamicCache

        prefix_area = max(cuts)
        sources = {tuple(row[:cut]): None for row, cut in zip(rows, cuts) if cut}
        for key in sources:
            sources[key] = [(layer.keys, layer.values) for layer in self._prefix_kv(list(key)).layers]
        if len(sources) == 1 and min(cuts) == prefix_area:
            # One prefix for every row (the definitions block of the label prompts): broadcast views, no copies;
            # the model's first cache update materialises them once.
            (layers,) = sources.values()
            shared = [(k.expand(len(rows), -1, -1, -1), v.expand(len(rows), -1, -1, -1)) for k, v in layers]
            with torch.inference_mode():
                return DynamicCache(ddp_cache_data=shared)
        n_layers = len(next(iter(sources.values())))
        layers = []
        for layer in range(n_layers):
            keys, values = next(iter(sources.values()))[layer]
            shape = (len(rows), keys.shape[1], prefix_area, keys.shape[3])
            batch_keys = keys.new_zeros(shape)
            batch_values = values.new_zeros(shape[:3] + (values.shape[3],))
            for b, (row, cut) in enumerate(zip(rows, cuts)):
                if cut:
                    k, v = sources[tuple(row[:cut])][layer]
                    batch_keys[b, :, :cut] = k[0, :, :cut]
                    batch_values[b, :, :cut] = v[0, :, :cut]
            layers.append((batch_keys, batch_values))
        with torch.inference_mode():
            return DynamicCache(ddp_cache_data=layers)

    def clear_prefix_cache(self) -> None:
        """Drop the stored prefix caches (they are also dropped by :meth:`close`)."""
        self._prefix_store.clear()

    # ------------------------------------------------------------------ scoring

    can_score = True

    def score(
        self,
        prompts: Sequence[ChatPrompt],
        continuations: Sequence[str],
        *,
        on_progress: Callable[[int], None] | None = None,
    ) -> list[Completion]:
        """Log-probability of each continuation right after each rendered prompt (chat template plus prefill).

        One forward pass per batch: the K continuations are packed after the prompt in the same row, and a block
        attention mask lets each of them see the prompt and its own earlier tokens only, so the prompt is encoded
        once for all K. With ``prefix_cache`` the prompts' shared prefix comes from the prefix cache. Continuations
        are tokenized on their own and appended to the prompt's tokens, so put a leading space in the continuation
        (``" joy"``), not at the end of the prefill.

        Args:
            prompts: N chat prompts (their constraints are ignored: scoring decodes nothing).
            continuations: K non-empty strings.
            on_progress: Called with the number of prompts just finished after each internal batch.

        Returns:
            One :class:`Completion` per prompt: ``scores`` holds the K summed log-probabilities (natural log),
            ``prompt_tokens`` the rendered prompt's length. A prompt that cannot be rendered or scored (or whose
            scores are not finite) gets ``finish_reason="error"`` and no scores.

        Raises:
            ConfigError: No continuations, or one that tokenizes to nothing.

        Examples:
            >>> reply = backend.score(  # doctest: +SKIP
            ...     [ChatPrompt.from_user("Is the sky blue? Answer yes or no.", prefill="Answer:")], [" yes", " no"]
            ... )[0]
            >>> len(reply.scores)  # doctest: +SKIP
            2
        """
        import math

        table, prompt_tokens, errors = self._score_table(prompts, continuations, on_progress)
        out = []
        for row, n_tokens, error in zip(table, prompt_tokens, errors):
            if error is None and not all(math.isfinite(x) for x in row):
                error = "non-finite log-probabilities"
            if error is None:
                out.append(Completion(text="", prompt_tokens=n_tokens, scores=[float(x) for x in row]))
            else:
                out.append(Completion(text="", prompt_tokens=n_tokens, finish_reason="error", error=error))
        return out

    def _score_table(
        self,
        prompts: Sequence[ChatPrompt],
        continuations: Sequence[str],
        on_progress: Callable[[int], None] | None,
    ) -> tuple[list[list[float]], list[int], list[str | None]]:
        """Per prompt: the K log-probabilities (NaN when it failed), its token count and its error."""
        if self.model is None:
            self.load()
        if not continuations:
            raise ConfigError("score needs at least one continuation")
        pieces = [self.tokenizer(c, add_special_tokens=False)["input_ids"] for c in continuations]
        empty = [c for c, ids in zip(continuations, pieces) if not ids]
        if empty:
            raise ConfigError(f"continuations must not be empty after tokenization: {empty!r}")

        nan_row = [float("nan")] * len(pieces)
        scores = [nan_row] * len(prompts)
        prompt_tokens = [0] * len(prompts)
        errors: list[str | None] = [None] * len(prompts)
        encoded: dict[int, list[int]] = {}
        for i, prompt in enumerate(prompts):
            try:
                encoded[i] = self._encode(prompt)
                prompt_tokens[i] = len(encoded[i])
            except Exception as exc:
                errors[i] = f"cannot render the prompt: {exc}"

        packed = sum(len(p) for p in pieces)

        def work(order: list[int]) -> list[tuple[int, list[float]]]:
            out: list[tuple[int, list[float]]] = []
            flat, prefixes = self._plan(order, encoded)
            for batch in self._batches(flat, encoded, packed):
                rows, cuts = [encoded[i] for i in batch], [prefixes[i] for i in batch]
                out.extend(zip(batch, self._score_batch(rows, cuts, pieces)))
                self._report(len(batch), on_progress)
            return out

        for i, row in self._distribute(self._order(encoded), work):
            scores[i] = row
        return scores, prompt_tokens, errors

    def _score_batch(self, rows: list[list[int]], cuts: list[int], pieces: list[list[int]]) -> list[list[float]]:
        import torch

        try:
            return self._run_score(rows, cuts, pieces)
        except torch.OutOfMemoryError:
            if len(rows) == 1:
                logger.warning("out of memory scoring one prompt of %d tokens", len(rows[0]))
                return [[float("nan")] * len(pieces)]
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            half = len(rows) // 2
            return self._score_batch(rows[:half], cuts[:half], pieces) + self._score_batch(
                rows[half:], cuts[half:], pieces
            )
        except Exception:
            logger.warning("scoring failed for a batch of %d prompts", len(rows), exc_info=True)
            return [[float("nan")] * len(pieces) for _ in rows]

    def _run_score(self, rows: list[list[int]], cuts: list[int], pieces: list[list[int]]) -> list[list[float]]:
        """One forward pass over ``[prefix][pads][suffix][inputs of continuation 1]...[inputs of continuation K]``.

        A continuation's first token is predicted by the last suffix position, shared by all K; its token t > 0 by
        its token t - 1. So only the tokens that predict another one are fed (every token but the last of each
        continuation): a single-token continuation adds no input at all."""
        import torch

        model = self.model
        device = model.device
        cuts = self._cuts(rows, cuts)
        n_prefix = max(cuts)  # the cached area; row b's first cuts[b] columns are its prefix, the rest are masked
        width = max(len(row) - cut for row, cut in zip(rows, cuts))  # the suffix area, pads included
        fed = [p[:-1] for p in pieces]
        flat_in = [t for p in fed for t in p]
        n_in = len(flat_in)
        query = width + n_in

        # Per fed position: which continuation it belongs to and its offset in it.
        piece_of_in = torch.tensor([k for k, p in enumerate(fed) for _ in p], dtype=torch.long, device=device)
        offset_in = torch.tensor([t for p in fed for t in range(len(p))], dtype=torch.long, device=device)

        ids = torch.full((len(rows), query), self.tokenizer.pad_token_id, dtype=torch.long, device=device)
        positions = torch.zeros((len(rows), query), dtype=torch.long, device=device)
        real = torch.zeros((len(rows), query), dtype=torch.bool, device=device)  # not a pad
        for b, (row, cut) in enumerate(zip(rows, cuts)):
            suffix = row[cut:]
            start = width - len(suffix)
            ids[b, start:width] = torch.tensor(suffix, device=device)
            if n_in:
                ids[b, width:] = torch.tensor(flat_in, device=device)
                positions[b, width:] = len(row) + offset_in
            positions[b, start:width] = torch.arange(cut, len(row), device=device)
            real[b, start:] = True

        # Block mask over the query area: suffix tokens are causal among themselves; a fed continuation token sees
        # the whole suffix and the earlier tokens of its own continuation; pads are never seen. Every position sees
        # itself (keeps pad rows finite) and the cached prefix.
        segment = torch.cat([torch.full((width,), -1, dtype=torch.long, device=device), piece_of_in])
        index = torch.arange(query, device=device)
        causal = index[None, :] <= index[:, None]
        key_suffix = segment[None, :] == -1
        same_piece = (segment[:, None] == segment[None, :]) & (segment[:, None] >= 0)
        allowed = (key_suffix & ((segment[:, None] >= 0) | causal)) | (same_piece & causal)
        allowed = (allowed[None] & real[:, None, :]) | torch.eye(query, dtype=torch.bool, device=device)[None]
        if n_prefix:
            cached = torch.arange(n_prefix, device=device)[None, :] < torch.tensor(cuts, device=device)[:, None]
            allowed = torch.cat([cached[:, None, :].expand(-1, query, -1), allowed], 2)
        mask = torch.zeros(allowed.shape, dtype=model.dtype, device=device)
        mask.masked_fill_(~allowed, torch.finfo(model.dtype).min)

        # Logits at the last suffix position (kept row 0) and at every fed position (kept row 1 + j); the vocabulary
        # projection and softmax are skipped everywhere else.
        keep = torch.arange(width - 1, query, device=device)
        source, first_in = [], 0
        for inputs in fed:
            source += [0] + [1 + first_in + t for t in range(len(inputs))]
            first_in += len(inputs)
        targets = torch.tensor([t for p in pieces for t in p], device=device)
        piece_of = torch.tensor([k for k, p in enumerate(pieces) for _ in p], device=device)
        cache = self._batch_cache(rows, cuts) if n_prefix else None
        with torch.inference_mode():
            logits = model(
                input_ids=ids,
                attention_mask=mask[:, None],
                position_ids=positions,
                cache=cache,
                use_cache=False,
                logits_to_keep=keep,
            ).logits
        logprobs = torch.log_softmax(logits.float(), dim=-1)[:, torch.tensor(source, device=device)]
        token_logprobs = logprobs.gather(-1, targets.expand(len(rows), -1)[..., None])[..., 0]
        totals = torch.zeros((len(rows), len(pieces)), dtype=torch.float64, device=device)
        totals.index_add_(1, piece_of, token_logprobs.double())
        return totals.cpu().tolist()

    def _require_loaded(self) -> None:
        if self.tokenizer is None:
            raise BackendError(f"{type(self).__name__} for {self.config.model} is not loaded; call load() first")
