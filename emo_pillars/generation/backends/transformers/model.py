"""Loading the teacher: :class:`TransformersBackendConfig` (the options), :func:`check_device` and the
:class:`ModelLoading` part of the backend (tokenizer, config and weights; dtype and device; accelerate's processes;
the backend's description and cache identity).
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import hashlib
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

from ....errors import BackendError, ConfigError
from ....utils.hub import looks_local
from ....utils.quiet import quiet

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)


_DTYPES = ("auto", "float32", "bfloat16", "float16")

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


def _release_process_group(state: Any) -> None:
    """Destroy the default process group of a multi-process run if it is still there (idempotent)."""
    import torch

    if torch.distributed.is_available() and torch.distributed.is_initialized():
        state.destroy_process_group()


def _peer_error(exc: Exception, state: Any, timeout: float) -> BackendError:
    """One line for a failed exchange between processes: who lost whom, torch's reason (its first sentence, without
    the source location), and how to go on."""
    text = re.sub(r"^\[[^\]]*\]\s*", "", str(exc).strip())  # "[.../gloo/transport/tcp/pair.cc:537] Read error ..."
    reason = text.split(". ")[0].partition("\n")[0] or type(exc).__name__
    return BackendError(
        f"process {state.process_index} of {state.num_processes} lost its peers ({reason}): another process stopped "
        f"or did not answer within peer_timeout ({timeout:g} s); rerun the same command on every machine to resume "
        "from the cache"
    )


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
        show_progress: ``True``: loading is quiet unless the library is verbose (``--verbose``), when the
            weight-loading and conversion bars of ``transformers`` show; ``False``: quiet even then.
        peer_timeout: Multi-process launches: seconds a process waits for the others at each exchange of replies
            (it covers the slowest process's share of a batch, and a model download on one machine only) before the
            run stops with a one-line :class:`~emo_pillars.errors.BackendError`. A peer that is killed is noticed at
            once; this bounds the wait for one that hangs or whose machine is cut off (default 1800, torch's own).

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
    peer_timeout: float = 1800.0

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
        if not self.peer_timeout > 0:
            raise ConfigError(f"peer_timeout must be > 0 seconds, got {self.peer_timeout}")
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


class ModelLoading:
    """Model loading and devices: the tokenizer, config and weights, dtype and device choice, accelerate's processes, and what the backend reports about itself."""

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

    def _common_kwargs(self) -> dict[str, Any]:
        cfg = self.config
        common: dict[str, Any] = {"revision": cfg.revision, "trust_remote_code": cfg.trust_remote_code}
        if cfg.gguf_file:
            common["gguf_file"] = cfg.gguf_file
        return common

    def _where(self) -> str:
        cfg = self.config
        return cfg.model + (f" (gguf_file={cfg.gguf_file!r})" if cfg.gguf_file else "")

    def _quiet(self) -> Any:
        """Loading is quiet unless the library is verbose (:mod:`emo_pillars.utils.quiet`): no transformers bars or
        load report, and no GGUF conversion bar, a bare ``tqdm`` that no switch reaches (``sys.stderr`` goes to
        ``os.devnull`` while loading; failures still surface as exceptions)."""
        return quiet(stderr=True, always=not self.config.show_progress)

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
            state = PartialState(cpu=cpu, timeout=timedelta(seconds=cfg.peer_timeout))
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

    @contextlib.contextmanager
    def _peers(self) -> Iterator[None]:
        """Around an exchange with the other processes: a peer killed, hung past ``peer_timeout`` or cut off (torch's
        ``RuntimeError`` / ``DistBackendError``) becomes one :class:`~emo_pillars.errors.BackendError` line."""
        try:
            yield
        except RuntimeError as exc:
            raise _peer_error(exc, self._state, self.config.peer_timeout) from exc

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

    def _require_loaded(self) -> None:
        if self.tokenizer is None:
            raise BackendError(f"{type(self).__name__} for {self.config.model} is not loaded; call load() first")
