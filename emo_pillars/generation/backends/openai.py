"""Generation through an OpenAI-compatible chat server: vLLM, SGLang, TGI, ``transformers serve``, ...

Requests go through the maintained ``openai`` client (``pip install 'emo-pillars[server]'``), several at a time
from a bounded thread pool (the client is thread-safe and keeps one connection pool). Retries of transient failures
(connection errors, timeouts, 408, 409, 429, 5xx, honouring ``Retry-After``) are the client's own ``max_retries``
with its exponential back-off; a prompt that still fails comes back as ``Completion(finish_reason="error")`` so one
bad call never stops a run.

Why ``openai`` and not ``huggingface_hub.InferenceClient(base_url=...)``: both are maintained and installed
already; ``openai`` takes arbitrary extra request fields (``extra_body``), which the structured-output parameters of
vLLM and SGLang and the prefill extension need, retries on its own, and reports ``usage`` and ``finish_reason`` as
typed fields. ``InferenceClient.chat_completion`` has a fixed argument list (``extra_body`` only in recent
versions) and no retries.

Constrained decoding: a prompt's constraint (a regex over the reply after the prefill) is sent as the
structured-output parameters servers document -- vLLM >= 0.10 ``"structured_outputs": {"regex": ...}``
(``guided_regex`` was removed in vLLM 0.12) and SGLang's ``"regex"``. ``structured_outputs="auto"`` (the default)
sends vLLM's or SGLang's form when ``GET /v1/models`` says the server is one of them (``owned_by``), and nothing
otherwise: ``transformers serve`` refuses unknown fields with HTTP 422, so there the parsers are the safety net.
``True`` sends both forms whatever the server, ``False`` none.

The API key is read from the config or from ``EMO_PILLARS_API_KEY`` / ``OPENAI_API_KEY``; it is sent only in the
``Authorization`` header and never logged or recorded.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any, Literal

from emo_pillars.errors import BackendError, ConfigError

from .base import ChatPrompt, Completion, DecodingConfig, LLMBackend

__all__ = ["OpenAICompatibleBackend", "OpenAICompatibleConfig"]

logger = logging.getLogger(__name__)

API_KEY_ENV_VARS = ("EMO_PILLARS_API_KEY", "OPENAI_API_KEY")
_PREFILL_INSTRUCTION = "Begin your answer with: {prefill}"
#: ``owned_by`` of ``GET /v1/models`` -> the structured-output dialect that server speaks.
_DIALECTS = {"vllm": "vllm", "sglang": "sglang"}
#: Request fields that some servers refuse, and the config switch that stops sending each.
_SWITCHES = {
    "repetition_penalty": "send_repetition_penalty=False",
    "continue_final_message": "supports_prefill=False",
    "structured_outputs": "structured_outputs=False",
    "regex": "structured_outputs=False",
}


@dataclass
class OpenAICompatibleConfig:
    """How to reach the server and how hard to push it.

    Args:
        base_url: Server root, with or without the trailing ``/v1`` (``http://localhost:8000`` or
            ``http://localhost:8000/v1``).
        model: The model name the server expects in requests.
        api_key: Bearer token; defaults to ``$EMO_PILLARS_API_KEY``, then ``$OPENAI_API_KEY``. Never shown in
            ``repr`` or :meth:`OpenAICompatibleBackend.describe`.
        max_concurrency: Requests in flight at once.
        timeout_s: Timeout of one request, in seconds.
        max_retries: Retries of a request after its first failure (the ``openai`` client's own retries:
            connection errors, timeouts, 408, 409, 429, 5xx; exponential back-off from 0.5 s, at most 8 s, or the
            server's ``Retry-After``).
        supports_prefill: The server continues a final assistant message (vLLM, SGLang:
            ``continue_final_message``). Otherwise the prefill is asked for in the user message and removed from
            the start of the reply.
        send_repetition_penalty: Send ``repetition_penalty`` (a vLLM/SGLang extension; ``transformers serve``
            and the OpenAI API reject it).
        send_seed: Send ``seed``.
        structured_outputs: Send each prompt's constraint as structured-output parameters: ``"auto"`` when the
            server says it is vLLM or SGLang, ``True`` always (vLLM's and SGLang's forms), ``False`` never.
        extra_body: More fields merged into every request body (e.g. ``{"top_k": 20}``).
        check_health: Check in :meth:`OpenAICompatibleBackend.load` that the server answers.
        show_progress: Accepted for symmetry with the transformers backend (this backend prints no bars).

    Examples:
        >>> from emo_pillars.generation.backends import OpenAICompatibleConfig
        >>> config = OpenAICompatibleConfig("http://127.0.0.1:8000/v1", model="Qwen/Qwen2.5-7B-Instruct", api_key="sk-abc")
        >>> config.api_url
        'http://127.0.0.1:8000/v1'
        >>> "sk-abc" in repr(config)
        False
    """

    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)
    max_concurrency: int = 8
    timeout_s: float = 300.0
    max_retries: int = 5
    supports_prefill: bool = False
    send_repetition_penalty: bool = True
    send_seed: bool = True
    structured_outputs: bool | Literal["auto"] = "auto"
    extra_body: dict[str, Any] = field(default_factory=dict)
    check_health: bool = True
    show_progress: bool = True

    def __post_init__(self):
        if not self.base_url or not self.base_url.startswith(("http://", "https://")):
            raise ConfigError(f"base_url must start with http:// or https://, got {self.base_url!r}")
        if not self.model:
            raise ConfigError("model must name the model the server serves")
        if self.max_concurrency < 1:
            raise ConfigError(f"max_concurrency must be >= 1, got {self.max_concurrency}")
        if self.timeout_s <= 0:
            raise ConfigError(f"timeout_s must be > 0, got {self.timeout_s}")
        if self.max_retries < 0:
            raise ConfigError(f"max_retries must be >= 0, got {self.max_retries}")
        if self.structured_outputs not in (True, False, "auto"):
            raise ConfigError(f"structured_outputs must be True, False or 'auto', got {self.structured_outputs!r}")
        if self.api_key is None:
            self.api_key = next((os.environ[v] for v in API_KEY_ENV_VARS if os.environ.get(v)), None)

    @property
    def root_url(self) -> str:
        """The server root, without ``/v1``."""
        url = self.base_url.rstrip("/")
        return url.removesuffix("/v1")

    @property
    def api_url(self) -> str:
        return self.root_url + "/v1"

    @property
    def chat_url(self) -> str:
        return self.api_url + "/chat/completions"


class OpenAICompatibleBackend(LLMBackend):
    """Replies from an OpenAI-compatible ``/v1/chat/completions`` server, several requests at a time.

    Greedy decoding is ``temperature=0``. Token counts come from the server's ``usage``. Scoring is not offered
    (:meth:`score` raises :class:`~emo_pillars.errors.ConfigError`): chat servers do not return the
    log-probabilities of given continuations reliably.

    Args:
        config: An :class:`OpenAICompatibleConfig`, or the base URL (then ``**overrides`` are config fields and
            must include ``model``).
        progress_callback: Called with 1 each time a prompt finishes (in the calling thread).
        **overrides: Fields of :class:`OpenAICompatibleConfig` when ``config`` is a URL.

    Examples:
        >>> from emo_pillars.generation.backends import ChatPrompt, OpenAICompatibleBackend
        >>> backend = OpenAICompatibleBackend(
        ...     "http://127.0.0.1:8000", model="Qwen/Qwen2.5-7B-Instruct", supports_prefill=True, max_concurrency=32
        ... )
        >>> backend.load()  # raises BackendError if no server answers  # doctest: +SKIP
        >>> backend.generate([ChatPrompt.from_user("Name a colour.")], max_new_tokens=8)[0].text  # doctest: +SKIP
        'Blue.'
    """

    def __init__(
        self,
        config: OpenAICompatibleConfig | str,
        *,
        progress_callback: Callable[[int], None] | None = None,
        **overrides: Any,
    ):
        if isinstance(config, OpenAICompatibleConfig):
            if overrides:
                raise ConfigError("pass either an OpenAICompatibleConfig or keyword overrides, not both")
        else:
            config = OpenAICompatibleConfig(base_url=config, **overrides)
        self.config = config
        self.progress_callback = progress_callback
        self._client = None
        self._lock = threading.Lock()
        self._server: dict[str, Any] | None = None  # this model's entry of GET /v1/models, once read

    @property
    def model_name(self) -> str:
        return self.config.model

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        cfg = self.config
        info.update(
            base_url=cfg.root_url,
            supports_prefill=cfg.supports_prefill,
            send_repetition_penalty=cfg.send_repetition_penalty,
            structured_outputs=cfg.structured_outputs,
            structured_outputs_dialect=self._dialect() if self._server is not None else None,
            max_concurrency=cfg.max_concurrency,
        )
        return info

    def cache_identity(self) -> dict[str, Any]:
        """Model and every setting that changes what the server is asked (prefill mode, penalty, structured
        outputs); the server's address is left out, so a reply is reused whichever host served the model."""
        cfg = self.config
        return {
            **super().cache_identity(),
            "supports_prefill": cfg.supports_prefill,
            "send_repetition_penalty": cfg.send_repetition_penalty,
            "structured_outputs": cfg.structured_outputs,
            "extra_body": dict(sorted(cfg.extra_body.items())),
        }

    @property
    def context_window(self) -> int | None:
        """``max_model_len`` from ``GET /v1/models`` when the server reports it (vLLM does), else ``None``."""
        value = (self._server_info() or {}).get("max_model_len")
        return value if isinstance(value, int) and value > 0 else None

    # ------------------------------------------------------------------ connection

    def _get_client(self):
        with self._lock:
            if self._client is None:
                try:
                    from openai import OpenAI
                except ImportError as exc:  # pragma: no cover - an extra
                    raise ConfigError(
                        "the server backend needs the openai client: pip install 'emo-pillars[server]'"
                    ) from exc
                cfg = self.config
                self._client = OpenAI(
                    base_url=cfg.api_url,
                    api_key=cfg.api_key or "EMPTY",
                    timeout=cfg.timeout_s,
                    max_retries=cfg.max_retries,
                )
            return self._client

    def _server_info(self) -> dict[str, Any] | None:
        """This model's entry of ``GET /v1/models`` (the first entry when the name is not listed); ``{}`` when the
        listing fails."""
        if self._server is None:
            try:
                listing = self._get_client().models.list()
                entries = [m.model_dump() for m in listing.data]
            except Exception as exc:
                logger.debug("GET /v1/models failed: %s", exc)
                return None
            chosen = next((e for e in entries if e.get("id") == self.config.model), entries[0] if entries else {})
            self._server = chosen
        return self._server

    def _dialect(self) -> str | None:
        """The structured-output parameters to send: ``"vllm"``, ``"sglang"``, ``"both"`` or ``None``."""
        mode = self.config.structured_outputs
        if mode is True:
            return "both"
        if mode is False:
            return None
        owner = str((self._server_info() or {}).get("owned_by") or "").lower()
        return _DIALECTS.get(owner)

    def load(self) -> None:
        """Create the client and check that the server answers (``GET /v1/models``, with the client's retries).

        Raises:
            BackendError: No server answered at ``base_url``.
        """
        client = self._get_client()
        if not self.config.check_health:
            return
        try:
            listing = client.models.list()
            entries = [m.model_dump() for m in listing.data]
        except Exception as exc:
            raise BackendError(
                f"no OpenAI-compatible server answers at {self.config.root_url} ({_describe_error(exc)})"
            ) from exc
        self._server = next((e for e in entries if e.get("id") == self.config.model), entries[0] if entries else {})
        logger.info("server %s: structured outputs %s", self.config.root_url, self._dialect() or "off")

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # ------------------------------------------------------------------ requests

    def request_kwargs(
        self, prompt: ChatPrompt, *, max_new_tokens: int, decoding: DecodingConfig | None = None
    ) -> dict[str, Any]:
        """The arguments of ``client.chat.completions.create`` for ``prompt`` (fields outside the OpenAI schema
        travel in ``extra_body``)."""
        cfg = self.config
        decoding = decoding or DecodingConfig()
        messages = prompt.as_messages()
        kwargs: dict[str, Any] = {"model": cfg.model, "messages": messages, "max_tokens": max_new_tokens}
        extra: dict[str, Any] = {}
        regex = prompt.constraint.regex if prompt.constraint is not None else None
        if prompt.prefill:
            if cfg.supports_prefill:
                messages.append({"role": "assistant", "content": prompt.prefill})
                extra["continue_final_message"] = True
                extra["add_generation_prompt"] = False
            else:
                instruction = _PREFILL_INSTRUCTION.format(prefill=prompt.prefill)
                last_user = next((m for m in reversed(messages) if m["role"] == "user"), None)
                if last_user is None:
                    messages.append({"role": "user", "content": instruction})
                else:
                    last_user["content"] = f"{last_user['content']}\n\n{instruction}"
                if regex is not None:  # the reply repeats the prefill, which is removed afterwards
                    regex = re.escape(prompt.prefill) + f"({regex})"
        kwargs["temperature"] = 0.0 if decoding.greedy else decoding.temperature
        if not decoding.greedy:
            kwargs["top_p"] = decoding.top_p
        if cfg.send_seed:
            kwargs["seed"] = decoding.seed
        if cfg.send_repetition_penalty and decoding.repetition_penalty != 1.0:
            extra["repetition_penalty"] = decoding.repetition_penalty
        dialect = self._dialect() if regex is not None else None
        if dialect in ("vllm", "both"):
            extra["structured_outputs"] = {"regex": regex}
        if dialect in ("sglang", "both"):
            extra["regex"] = regex
        extra.update(cfg.extra_body)
        if extra:
            kwargs["extra_body"] = extra
        return kwargs

    def request_body(
        self, prompt: ChatPrompt, *, max_new_tokens: int, decoding: DecodingConfig | None = None
    ) -> dict[str, Any]:
        """The JSON body sent for ``prompt`` (without the API key, which travels in a header)."""
        kwargs = self.request_kwargs(prompt, max_new_tokens=max_new_tokens, decoding=decoding)
        extra = kwargs.pop("extra_body", {})
        return {**kwargs, **extra}

    def generate(
        self,
        prompts: Sequence[ChatPrompt],
        *,
        max_new_tokens: int,
        decoding: DecodingConfig | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> list[Completion]:
        """Send every prompt (at most ``max_concurrency`` at once) and return the replies in order.

        ``on_progress(1)`` (and the backend's ``progress_callback``) runs in the calling thread as each reply
        arrives.
        """
        if max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        client = self._get_client()
        if any(p.constraint is not None for p in prompts):
            self._dialect()  # read GET /v1/models once, before the threads start
        results: list[Completion | None] = [None] * len(prompts)
        workers = min(self.config.max_concurrency, max(len(prompts), 1))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="emo-pillars-openai") as pool:
            futures = {
                pool.submit(self._complete, client, prompt, max_new_tokens, decoding): i
                for i, prompt in enumerate(prompts)
            }
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                for callback in (self.progress_callback, on_progress):
                    if callback is not None:
                        callback(1)
        return results  # type: ignore[return-value]

    def _complete(
        self, client, prompt: ChatPrompt, max_new_tokens: int, decoding: DecodingConfig | None
    ) -> Completion:
        try:
            kwargs = self.request_kwargs(prompt, max_new_tokens=max_new_tokens, decoding=decoding)
            response = client.chat.completions.create(**kwargs)
            choice = response.choices[0]
            text = choice.message.content or ""
            usage = response.usage
            finish = choice.finish_reason
        except Exception as exc:  # one bad call never stops the run
            return Completion(text="", finish_reason="error", error=self._explain(exc))
        if prompt.prefill and not self.config.supports_prefill:
            text = strip_prefill(text, prompt.prefill)
        return Completion(
            text=text,
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            finish_reason="length" if finish == "length" else "stop",
        )

    def _explain(self, exc: Exception) -> str:
        """One line: what failed, after how many attempts, and the switch that avoids a refused field."""
        import openai

        message = _describe_error(exc)
        retried = isinstance(exc, openai.APIConnectionError) or (
            isinstance(exc, openai.APIStatusError) and (exc.status_code in (408, 409, 429) or exc.status_code >= 500)
        )
        if retried and self.config.max_retries:
            message += f" after {self.config.max_retries + 1} attempts"
        if isinstance(exc, openai.APIStatusError) and exc.status_code in (400, 422):
            detail = f"{exc} {getattr(exc.response, 'text', '')}"
            hints = sorted({hint for name, hint in _SWITCHES.items() if name in detail})
            if hints:
                message += f" (for this server set {' and '.join(hints)})"
        return message


def _describe_error(exc: Exception) -> str:
    """``ErrorType: message`` of an ``openai`` exception, with the HTTP status or the transport error under it."""
    status = getattr(exc, "status_code", None)
    cause = exc.__cause__
    text = f"{type(exc).__name__}: {exc}"
    if status is not None:
        response = getattr(exc, "response", None)
        detail = getattr(response, "text", "") if response is not None else ""
        text = f"HTTP {status}: {type(exc).__name__}: {detail[:400] or exc}"
    elif cause is not None:
        text += f" ({type(cause).__name__})"
    return text[:600]


def strip_prefill(text: str, prefill: str) -> str:
    """Remove a repeated ``prefill`` from the start of ``text`` (leading whitespace and the prefill's own
    trailing whitespace are tolerated); return ``text`` unchanged when it does not start with the prefill.

    Examples:
        >>> strip_prefill("Answer: 0.7 joy", "Answer:")
        ' 0.7 joy'
        >>> strip_prefill("  Answer: 0.7 joy", "Answer: ")
        '0.7 joy'
        >>> strip_prefill("0.7 joy", "Answer:")
        '0.7 joy'
    """
    body = text.lstrip()
    if body.startswith(prefill):
        return body[len(prefill) :]
    core = prefill.rstrip()
    if core and body.startswith(core):
        rest = body[len(core) :]
        return rest.lstrip() if core != prefill else rest
    return text
