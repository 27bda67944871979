"""Generation through an OpenAI-compatible chat server: vLLM, SGLang, TGI, ``transformers serve``, ...

Requests go to ``POST {base_url}/v1/chat/completions`` with ``httpx`` from a bounded thread pool. Transient
failures (connection errors, timeouts, 408, 429, 5xx) are retried with exponential backoff; a prompt that still
fails comes back as ``Completion(finish_reason="error")`` so one bad call never stops a run.

The API key is read from the config or from ``EMO_PILLARS_API_KEY`` / ``OPENAI_API_KEY``; it is sent only in the
``Authorization`` header and never logged or recorded.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from emo_pillars.errors import BackendError, ConfigError

from .base import ChatPrompt, Completion, DecodingConfig, LLMBackend

__all__ = ["OpenAICompatibleBackend", "OpenAICompatibleConfig"]

logger = logging.getLogger(__name__)

API_KEY_ENV_VARS = ("EMO_PILLARS_API_KEY", "OPENAI_API_KEY")
_RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
_PREFILL_INSTRUCTION = "Begin your answer with: {prefill}"


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
        max_retries: Retries of a request after its first failure (connection error, timeout, 429, 5xx).
        backoff_s: Wait before the first retry; doubled at every further retry.
        backoff_max_s: Longest wait between two retries.
        supports_prefill: The server continues a final assistant message (vLLM, SGLang:
            ``continue_final_message``). Otherwise the prefill is asked for in the user message and removed from
            the start of the reply.
        send_repetition_penalty: Send ``repetition_penalty`` (a vLLM/SGLang extension; ``transformers serve``
            and the OpenAI API reject it).
        send_seed: Send ``seed``.
        extra_body: More fields merged into every request body (e.g. ``{"top_k": 20}``).
        check_health: Check in :meth:`OpenAICompatibleBackend.load` that the server answers.

    Examples:
        >>> from emo_pillars.generation.backends import OpenAICompatibleConfig
        >>> config = OpenAICompatibleConfig("http://127.0.0.1:8000/v1", model="Qwen/Qwen2.5-7B-Instruct", api_key="sk-abc")
        >>> config.chat_url
        'http://127.0.0.1:8000/v1/chat/completions'
        >>> "sk-abc" in repr(config)
        False
    """

    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)
    max_concurrency: int = 8
    timeout_s: float = 300.0
    max_retries: int = 5
    backoff_s: float = 1.0
    backoff_max_s: float = 60.0
    supports_prefill: bool = False
    send_repetition_penalty: bool = True
    send_seed: bool = True
    extra_body: dict[str, Any] = field(default_factory=dict)
    check_health: bool = True

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
        if self.backoff_s < 0 or self.backoff_max_s < 0:
            raise ConfigError("backoff_s and backoff_max_s must be >= 0")
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


class _Failure(Exception):
    """A request that failed; ``retry`` says whether another attempt may help."""

    def __init__(self, message: str, retry: bool, wait_s: float | None = None):
        super().__init__(message)
        self.retry = retry
        self.wait_s = wait_s


class OpenAICompatibleBackend(LLMBackend):
    """Replies from an OpenAI-compatible ``/v1/chat/completions`` server, several requests at a time.

    Greedy decoding is ``temperature=0``. Token counts come from the server's ``usage``.

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
            max_concurrency=cfg.max_concurrency,
        )
        return info

    # ------------------------------------------------------------------ connection

    def _get_client(self):
        with self._lock:
            if self._client is None:
                import httpx

                headers = {"Authorization": f"Bearer {self.config.api_key}"} if self.config.api_key else {}
                n = self.config.max_concurrency
                self._client = httpx.Client(
                    headers=headers,
                    timeout=httpx.Timeout(self.config.timeout_s, connect=min(self.config.timeout_s, 30.0)),
                    limits=httpx.Limits(max_connections=n, max_keepalive_connections=n),
                )
            return self._client

    def load(self) -> None:
        """Open the connection pool and check that the server answers (``GET /health``, else ``GET /v1/models``).

        Raises:
            BackendError: No server answered at ``base_url`` after the configured retries.
        """
        client = self._get_client()
        if not self.config.check_health:
            return
        import httpx

        cfg = self.config
        last = "no answer"
        for attempt in range(cfg.max_retries + 1):
            if attempt:
                time.sleep(self._backoff(attempt))
            try:
                health = client.get(cfg.root_url + "/health")
                if health.status_code == 200:
                    return
                models = client.get(cfg.api_url + "/models")
                if models.status_code == 200:
                    return
                last = f"GET /health -> {health.status_code}, GET /v1/models -> {models.status_code}"
                if models.status_code not in _RETRY_STATUS and health.status_code not in _RETRY_STATUS:
                    break
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
        raise BackendError(f"no OpenAI-compatible server answers at {cfg.root_url} ({last})")

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # ------------------------------------------------------------------ requests

    def request_body(
        self, prompt: ChatPrompt, *, max_new_tokens: int, decoding: DecodingConfig | None = None
    ) -> dict[str, Any]:
        """The JSON body sent for ``prompt`` (without the API key, which travels in a header)."""
        cfg = self.config
        decoding = decoding or DecodingConfig()
        messages = prompt.as_messages()
        body: dict[str, Any] = {"model": cfg.model, "messages": messages, "max_tokens": max_new_tokens}
        if prompt.prefill:
            if cfg.supports_prefill:
                messages.append({"role": "assistant", "content": prompt.prefill})
                body["continue_final_message"] = True
                body["add_generation_prompt"] = False
            else:
                instruction = _PREFILL_INSTRUCTION.format(prefill=prompt.prefill)
                last_user = next((m for m in reversed(messages) if m["role"] == "user"), None)
                if last_user is None:
                    messages.append({"role": "user", "content": instruction})
                else:
                    last_user["content"] = f"{last_user['content']}\n\n{instruction}"
        body["temperature"] = 0.0 if decoding.greedy else decoding.temperature
        if not decoding.greedy:
            body["top_p"] = decoding.top_p
        if cfg.send_seed:
            body["seed"] = decoding.seed
        if cfg.send_repetition_penalty and decoding.repetition_penalty != 1.0:
            body["repetition_penalty"] = decoding.repetition_penalty
        body.update(cfg.extra_body)
        return body

    def generate(
        self,
        prompts: Sequence[ChatPrompt],
        *,
        max_new_tokens: int,
        decoding: DecodingConfig | None = None,
    ) -> list[Completion]:
        """Send every prompt (at most ``max_concurrency`` at once) and return the replies in order."""
        if max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        client = self._get_client()
        results: list[Completion | None] = [None] * len(prompts)
        workers = min(self.config.max_concurrency, max(len(prompts), 1))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="emo-pillars-openai") as pool:
            futures = {
                pool.submit(self._complete, client, prompt, max_new_tokens, decoding): i
                for i, prompt in enumerate(prompts)
            }
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                if self.progress_callback is not None:
                    self.progress_callback(1)
        return results  # type: ignore[return-value]

    def _complete(
        self, client, prompt: ChatPrompt, max_new_tokens: int, decoding: DecodingConfig | None
    ) -> Completion:
        body = self.request_body(prompt, max_new_tokens=max_new_tokens, decoding=decoding)
        attempts = self.config.max_retries + 1
        for attempt in range(attempts):
            try:
                data = self._post(client, body)
                return self._to_completion(data, prompt)
            except _Failure as failure:
                if not failure.retry or attempt == attempts - 1:
                    tries = f" after {attempt + 1} attempts" if attempt else ""
                    return Completion(text="", finish_reason="error", error=f"{failure}{tries}")
                wait = self._backoff(attempt + 1, failure.wait_s)
                logger.debug("request failed (%s); retry %d in %.2fs", failure, attempt + 1, wait)
                time.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _post(self, client, body: dict[str, Any]) -> dict[str, Any]:
        import httpx

        try:
            response = client.post(self.config.chat_url, json=body)
        except httpx.TransportError as exc:  # connection refused, timeouts, broken connections
            raise _Failure(f"{type(exc).__name__}: {exc} ({self.config.chat_url})", retry=True) from exc
        if response.status_code != 200:
            detail = response.text[:500]
            message = f"HTTP {response.status_code} from {self.config.chat_url}: {detail}"
            if response.status_code in (400, 422) and (
                "repetition_penalty" in detail or "continue_final_message" in detail
            ):
                message += " (for this server set send_repetition_penalty=False and supports_prefill=False)"
            retry = response.status_code in _RETRY_STATUS
            return_after = _retry_after(response.headers.get("retry-after"))
            raise _Failure(message, retry=retry, wait_s=return_after)
        try:
            data = response.json()
            data["choices"][0]["message"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise _Failure(
                f"malformed reply from {self.config.chat_url}: {response.text[:200]!r}", retry=False
            ) from exc
        return data

    def _to_completion(self, data: dict[str, Any], prompt: ChatPrompt) -> Completion:
        choice = data["choices"][0]
        text = choice["message"].get("content") or ""
        if prompt.prefill and not self.config.supports_prefill:
            text = strip_prefill(text, prompt.prefill)
        usage = data.get("usage") or {}
        reason = "length" if choice.get("finish_reason") == "length" else "stop"
        return Completion(
            text=text,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            finish_reason=reason,
        )

    def _backoff(self, attempt: int, hint_s: float | None = None) -> float:
        cfg = self.config
        wait = min(cfg.backoff_s * 2 ** (attempt - 1), cfg.backoff_max_s)
        if hint_s is not None:
            wait = min(max(wait, hint_s), cfg.backoff_max_s)
        return wait * (1 + 0.1 * random.random())


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


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None
