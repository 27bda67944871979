"""Local generation with ``transformers``: one process, several GPUs (``device_map``) or data parallel under accelerate.

The backend renders every prompt with the tokenizer's chat template, appends the prompt's prefill, sorts the prompts
by token length, generates batch by batch with left padding and returns the replies in the original order. Launched
with ``accelerate launch`` or ``torchrun`` on N > 1 processes, each process generates its share of the (sorted)
prompts and every rank receives the full, ordered list of replies.

This module imports torch and transformers; ``import emo_pillars`` stays free of both because the backends package
imports it lazily.
"""

from __future__ import annotations

import copy
import gc
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from emo_pillars.errors import BackendError, ConfigError

from .base import ChatPrompt, Completion, DecodingConfig, LLMBackend

if TYPE_CHECKING:
    import torch

__all__ = ["TransformersBackend", "TransformersBackendConfig"]

logger = logging.getLogger(__name__)

_DTYPES = ("auto", "float32", "bfloat16", "float16")


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
        batch_size: Most prompts per ``generate`` call.
        max_batch_tokens: Most tokens per ``generate`` call, counted as rows x (longest prompt + max_new_tokens).
            With both limits set, a batch respects both; at least one must be set.
        trust_remote_code: Allow model code from the Hub.
        use_accelerate: Split prompts between processes with accelerate. ``None``: on when the process was
            launched with more than one process (``WORLD_SIZE > 1``).
        chat_template: A Jinja chat template replacing the tokenizer's (for tokenizers that have none).

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
    batch_size: int | None = 16
    max_batch_tokens: int | None = None
    trust_remote_code: bool = False
    use_accelerate: bool | None = None
    chat_template: str | None = None

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
        )
        return info

    # ------------------------------------------------------------------ loading

    def load(self) -> None:
        """Load the tokenizer and the model; set up accelerate when several processes share the work.

        Raises:
            BackendError: The model or tokenizer cannot be loaded (the message names the model).
        """
        if self.model is not None:
            return
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        cfg = self.config
        device = self._resolve_device(torch)
        common: dict[str, Any] = {"revision": cfg.revision, "trust_remote_code": cfg.trust_remote_code}
        if cfg.gguf_file:
            common["gguf_file"] = cfg.gguf_file
        where = cfg.model + (f" (gguf_file={cfg.gguf_file!r})" if cfg.gguf_file else "")

        try:
            tokenizer = AutoTokenizer.from_pretrained(cfg.model, **common)
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

        kwargs = dict(common)
        if not cfg.gguf_file:
            kwargs["use_safetensors"] = True
        kwargs["dtype"] = cfg.dtype if cfg.dtype == "auto" else getattr(torch, cfg.dtype)
        if cfg.device_map is not None:
            kwargs["device_map"] = cfg.device_map
        try:
            model = AutoModelForCausalLM.from_pretrained(cfg.model, **kwargs)
        except Exception as exc:
            raise BackendError(f"cannot load the model {where}: {type(exc).__name__}: {exc}") from exc
        if cfg.device_map is None:
            model = model.to(device)
        model.eval()
        self.tokenizer = tokenizer
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
                self.is_main_process = state.is_main_process
                return state.device
        if cfg.device != "auto":
            return torch.device(cfg.device)
        accelerator = torch.accelerator.current_accelerator() if torch.accelerator.is_available() else None
        return accelerator if accelerator is not None else torch.device("cpu")

    def close(self) -> None:
        self.model = None
        self.tokenizer = None
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:  # pragma: no cover - torch is a dependency
            pass

    # ------------------------------------------------------------------ generation

    def render(self, prompt: ChatPrompt) -> str:
        """The text the model sees for ``prompt``: the chat template with a generation prompt, then the prefill."""
        self._require_loaded()
        text = self.tokenizer.apply_chat_template(prompt.as_messages(), tokenize=False, add_generation_prompt=True)
        return text + prompt.prefill

    def generate(
        self,
        prompts: Sequence[ChatPrompt],
        *,
        max_new_tokens: int,
        decoding: DecodingConfig | None = None,
    ) -> list[Completion]:
        """Generate one reply per prompt, in the order of ``prompts``.

        Under a multi-process launch every process must call this with the same prompts; each generates its share
        and all of them return the full list.
        """
        if max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        if self.model is None:
            self.load()
        decoding = decoding or DecodingConfig()

        results: list[Completion | None] = [None] * len(prompts)
        encoded: dict[int, list[int]] = {}
        for i, prompt in enumerate(prompts):
            try:
                encoded[i] = self.tokenizer(self.render(prompt), add_special_tokens=False)["input_ids"]
            except Exception as exc:  # a template that refuses these messages, for instance
                results[i] = Completion(text="", finish_reason="error", error=f"cannot render the prompt: {exc}")

        # Longest first: a batch that does not fit in memory fails at once, not after an hour.
        order = sorted(encoded, key=lambda i: (-len(encoded[i]), i))
        if self._state is not None:
            from accelerate.utils import gather_object

            with self._state.split_between_processes(order) as local_order:
                local = self._generate_indices(list(local_order), encoded, max_new_tokens, decoding)
            pairs = gather_object(local)
        else:
            pairs = self._generate_indices(order, encoded, max_new_tokens, decoding)
        for i, completion in pairs:
            results[i] = completion
        return results  # type: ignore[return-value]

    def _generate_indices(
        self, order: list[int], encoded: dict[int, list[int]], max_new_tokens: int, decoding: DecodingConfig
    ) -> list[tuple[int, Completion]]:
        out: list[tuple[int, Completion]] = []
        for batch in self._batches(order, encoded, max_new_tokens):
            completions = self._generate_batch([encoded[i] for i in batch], max_new_tokens, decoding)
            out.extend(zip(batch, completions))
            if self.progress_callback is not None:
                self.progress_callback(len(batch))
        return out

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
        self, rows: list[list[int]], max_new_tokens: int, decoding: DecodingConfig
    ) -> list[Completion]:
        import torch

        try:
            return self._run_generate(rows, max_new_tokens, decoding)
        except torch.OutOfMemoryError as exc:
            if len(rows) == 1:
                return [Completion(text="", prompt_tokens=len(rows[0]), finish_reason="error", error=f"OOM: {exc}")]
            logger.warning("out of memory on a batch of %d prompts; splitting it in two", len(rows))
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            half = len(rows) // 2
            return self._generate_batch(rows[:half], max_new_tokens, decoding) + self._generate_batch(
                rows[half:], max_new_tokens, decoding
            )
        except Exception as exc:
            logger.warning("generation failed for a batch of %d prompts", len(rows), exc_info=True)
            error = f"{type(exc).__name__}: {exc}"
            return [Completion(text="", prompt_tokens=len(r), finish_reason="error", error=error) for r in rows]

    def _run_generate(self, rows: list[list[int]], max_new_tokens: int, decoding: DecodingConfig) -> list[Completion]:
        import torch

        tokenizer, model = self.tokenizer, self.model
        batch = tokenizer.pad({"input_ids": rows}, padding=True, return_tensors="pt").to(model.device)
        eos_ids = self._eos_ids()
        generation_config = copy.deepcopy(model.generation_config)
        generation_config.max_new_tokens = max_new_tokens
        generation_config.max_length = None
        generation_config.min_new_tokens = None
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

        with torch.inference_mode():
            output = model.generate(**batch, generation_config=generation_config)
        new_tokens = output[:, batch["input_ids"].shape[1] :].tolist()

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

    def _require_loaded(self) -> None:
        if self.tokenizer is None:
            raise BackendError(f"{type(self).__name__} for {self.config.model} is not loaded; call load() first")
