"""Generation through an OpenAI-compatible chat server: vLLM, SGLang, TGI, ``transformers serve``, ...

Requests are plain JSON ``POST``s of the OpenAI chat-completions API through aiohttp (``pip install
'emo-pillars[server]'``; :mod:`.http` says why not the ``openai`` client): one asyncio event loop in one background
thread holds every request in flight (thousands, with no thread per request), at most ``max_concurrency`` per
server. Transient failures (connection errors, timeouts, 408, 409, 429, 5xx) are retried ``max_retries`` times with
exponential back-off, honouring ``Retry-After``. A call the server answered with an error still comes back as
``Completion(finish_reason="error")``, so one bad call never stops a run.

**Several servers, one run.** ``base_url`` may list several servers (vLLM replicas). Every call of one plot goes to one
server (:mod:`.routing`: chosen on the plot's first call, the server holding the fewest plots, ties broken by the plot
id's rendezvous order), so the plot's prompt prefix stays cached there; :meth:`~OpenAICompatibleBackend.lanes` tells
the pipeline which plots each server holds, so it runs each server's plots on their own. A server that cannot be
reached is taken out and its calls, in flight or not, go to the others; it is probed again later. When no server is
left the run stops with one :class:`~emo_pillars.errors.BackendError` line, and a re-run resumes from the reply cache.
Replies do not depend on which server gave them (the cache key leaves the address out), so with a greedy teacher the
output is the same as with one server. ``describe()`` (``run.json``) records the calls each server answered.

The request body is the OpenAI schema plus the extra fields vLLM and SGLang read (structured outputs, the prefill
extension, ``repetition_penalty``); :meth:`OpenAICompatibleBackend.request_body` builds it in one place.

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

import asyncio
import hashlib
import json
import logging
import os
import queue
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from emo_pillars.errors import BackendError, ConfigError

from .base import ChatPrompt, Completion, DecodingConfig, LLMBackend
from .http import CallError, Unreachable, new_session, request_json
from .routing import Router, ServerState

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
            ``http://localhost:8000/v1``), or a list of them: one run over several servers.
        model: The model name the server expects in requests.
        api_key: Bearer token; defaults to ``$EMO_PILLARS_API_KEY``, then ``$OPENAI_API_KEY``. Never shown in
            ``repr`` or :meth:`OpenAICompatibleBackend.describe`.
        max_concurrency: Requests in flight at once, per server.
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
        check_health: Check in :meth:`OpenAICompatibleBackend.load` that the servers answer.
        revive_after_s: A server that failed is probed again after this long (doubling with each failure in a row,
            at most 5 minutes).
        show_progress: Accepted for symmetry with the transformers backend (this backend prints no bars).

    Examples:
        >>> from emo_pillars.generation.backends import OpenAICompatibleConfig
        >>> config = OpenAICompatibleConfig("http://127.0.0.1:8000/v1", model="Qwen/Qwen2.5-7B-Instruct", api_key="sk-abc")
        >>> config.api_url
        'http://127.0.0.1:8000/v1'
        >>> "sk-abc" in repr(config)
        False
    """

    base_url: str | Sequence[str]
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
    revive_after_s: float = 30.0
    show_progress: bool = True

    def __post_init__(self):
        urls = [self.base_url] if isinstance(self.base_url, str) else list(self.base_url)
        if not urls:
            raise ConfigError("base_url must name at least one server")
        for url in urls:
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise ConfigError(f"base_url must start with http:// or https://, got {url!r}")
        roots = [url.rstrip("/").removesuffix("/v1") for url in urls]
        repeated = sorted({root for root in roots if roots.count(root) > 1})
        if repeated:
            raise ConfigError(f"a server is listed twice: {', '.join(repeated)}")
        self.base_url = urls[0] if len(urls) == 1 else urls
        if self.revive_after_s <= 0:
            raise ConfigError(f"revive_after_s must be > 0, got {self.revive_after_s}")
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
    def server_roots(self) -> tuple[str, ...]:
        """Every server root, without ``/v1``, in the order given."""
        urls = [self.base_url] if isinstance(self.base_url, str) else self.base_url
        return tuple(url.rstrip("/").removesuffix("/v1") for url in urls)

    @property
    def root_url(self) -> str:
        """The (first) server root, without ``/v1``."""
        return self.server_roots[0]

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
        self._lock = threading.Lock()
        self._server: dict[str, Any] | None = None  # this model's entry of GET /v1/models, once read
        #: The fleet: one state per server, in the order given (see :mod:`.routing`).
        self.servers = [ServerState(root) for root in config.server_roots]
        self.router = Router(self.servers)
        self._loop: asyncio.AbstractEventLoop | None = None

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
        if len(self.servers) > 1:
            info["servers"] = {server.root: server.usage() for server in self.servers}
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
    def preferred_batch_size(self) -> int:
        """Enough calls to keep every server busy: consecutive calls belong to one plot, hence to one server, so a
        batch must span many plots (1,024 calls a server, and at least twice what the fleet holds in flight)."""
        return max(2 * self.config.max_concurrency, 1024) * len(self.servers)

    @property
    def context_window(self) -> int | None:
        """``max_model_len`` from ``GET /v1/models`` when the server reports it (vLLM does), else ``None``."""
        value = (self._server_info() or {}).get("max_model_len")
        return value if isinstance(value, int) and value > 0 else None

    # ------------------------------------------------------------------ connection

    @property
    def _headers(self) -> dict[str, str]:
        """Request headers; the API key travels only here."""
        return {"Authorization": f"Bearer {self.config.api_key or 'EMPTY'}"}

    def _server_info(self) -> dict[str, Any] | None:
        """This model's entry of ``GET /v1/models`` on the first server that answers (the first entry when the
        name is not listed); ``None`` when none answers."""
        if self._server is None:
            answers = self._run(self._probe_all())
            entries = next((a for a in answers if not isinstance(a, str)), None)
            if entries is None:
                logger.debug("GET /v1/models failed: %s", "; ".join(str(a) for a in answers))
                return None
            self._server = next(
                (e for e in entries if e.get("id") == self.config.model), entries[0] if entries else {}
            )
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
        """Check that the servers answer (``GET /v1/models``, with retries).

        A server that does not answer is left out (one warning line) while another does.

        Raises:
            BackendError: No server answered.
        """
        if not self.config.check_health:
            return
        answers = self._run(self._probe_all(retries=self.config.max_retries))
        failed = {server.root: answer for server, answer in zip(self.servers, answers) if isinstance(answer, str)}
        if len(failed) == len(self.servers):
            where = "; ".join(f"{root} ({reason})" for root, reason in failed.items())
            raise BackendError(f"no OpenAI-compatible server answers at {where}")
        for server in self.servers:
            if server.root in failed:
                server.mark_down(revive_after_s=self.config.revive_after_s)
        if failed:
            logger.warning("left out until they answer: %s", ", ".join(failed))
        entries = next(answer for answer in answers if not isinstance(answer, str))
        self._server = next((e for e in entries if e.get("id") == self.config.model), entries[0] if entries else {})
        logger.info("servers %s: structured outputs %s", ", ".join(self.config.server_roots), self._dialect() or "off")

    def close(self) -> None:
        with self._lock:
            loop, self._loop = self._loop, None
        if loop is not None:
            for server in self.servers:
                if server.client is not None:
                    asyncio.run_coroutine_threadsafe(server.client.close(), loop).result(timeout=10)
                    server.client = server.limit = None
            loop.call_soon_threadsafe(loop.stop)

    # ------------------------------------------------------------------ the event loop and the fleet

    def _run(self, coroutine: Any) -> Any:
        """Run ``coroutine`` on the backend's event loop (one background thread) and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._event_loop()).result()

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="emo-pillars-openai", daemon=True).start()
                self._loop = loop
            return self._loop

    def _session(self, server: ServerState) -> Any:
        """The server's HTTP session and its in-flight limit, made on the loop the first time."""
        if server.client is None:
            try:
                server.client = new_session(self.config.max_concurrency, self.config.timeout_s)
            except ImportError as exc:  # pragma: no cover - an extra
                raise ConfigError("the server backend needs aiohttp: pip install 'emo-pillars[server]'") from exc
            server.limit = asyncio.Semaphore(self.config.max_concurrency)
        return server.client

    async def _probe(self, server: ServerState, retries: int = 0) -> list[dict[str, Any]] | str:
        """``GET /v1/models`` on one server: its entries, or why it failed."""
        try:
            listing = await request_json(
                self._session(server), "GET", server.root + "/v1/models", self._headers, max_retries=retries
            )
        except CallError as error:
            return str(error)
        server.mark_up()
        return list(listing.get("data") or [])

    async def _probe_all(self, retries: int = 0) -> list[list[dict[str, Any]] | str]:
        return await asyncio.gather(*(self._probe(server, retries) for server in self.servers))

    async def _pick(self, route: str) -> ServerState:
        """The server for ``route``, first probing the servers that are down when none is up.

        Raises:
            BackendError: Every server is down and none answers a probe.
        """
        while True:
            server = self.router.choose(route)
            if server is not None:
                return server
            answers = await self._probe_all()
            if all(isinstance(answer, str) for answer in answers):
                reasons = "; ".join(f"{s.root} ({a})" for s, a in zip(self.servers, answers))
                raise BackendError(
                    f"every server failed: {reasons}; finished calls are cached, run the same command again to resume"
                )

    def lanes(self, routes: Sequence[str]) -> list[list[int]]:
        """One lane per server: the indices of ``routes`` whose plots it holds, in the order given.

        A route without a server is given one here, as its first call would give it (:class:`~.routing.Router`:
        the server holding the fewest plots), so the lanes are where the calls will go. With one server, or one
        left up, there is one lane. A lane only groups work: each call is still routed when it is sent, so when a
        server goes down mid-run its lane's calls go to the others.

        Raises:
            BackendError: Every server is down and none answers a probe.
        """
        if len(self.servers) == 1 or not routes:
            return super().lanes(routes)
        chosen = self._run(self._assign(routes))
        lanes: dict[str, list[int]] = {server.root: [] for server in self.servers}
        for index, server in enumerate(chosen):
            lanes[server.root].append(index)
        return [lane for lane in lanes.values() if lane]

    async def _assign(self, routes: Sequence[str]) -> list[ServerState]:
        """The server of each route, chosen on the event loop (the one thread that touches the router)."""
        return [await self._pick(route) for route in routes]

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
        """Send every prompt (at most ``max_concurrency`` at once per server) and return the replies in order.

        ``on_progress(1)`` (and the backend's ``progress_callback``) runs in the calling thread as each reply
        arrives.

        Raises:
            BackendError: No server can be reached (the replies already given are returned to no one: the
                pipeline caches per batch, and a re-run resumes).
        """
        if max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        if any(p.constraint is not None for p in prompts):
            self._dialect()  # read GET /v1/models once, before the requests start
        arrived: queue.Queue = queue.Queue()
        job = asyncio.run_coroutine_threadsafe(
            self._generate_all(prompts, max_new_tokens, decoding, arrived), self._event_loop()
        )
        job.add_done_callback(lambda _: arrived.put(None))
        results: list[Completion | None] = [None] * len(prompts)
        while (item := arrived.get()) is not None:
            index, completion = item
            results[index] = completion
            for callback in (self.progress_callback, on_progress):
                if callback is not None:
                    callback(1)
        job.result()  # raises BackendError when every server failed
        return results  # type: ignore[return-value]

    async def _generate_all(
        self, prompts: Sequence[ChatPrompt], max_new_tokens: int, decoding: DecodingConfig | None, arrived: Any
    ) -> None:
        async def one(index: int, prompt: ChatPrompt) -> None:
            arrived.put((index, await self._complete(prompt, max_new_tokens, decoding)))

        tasks = [asyncio.ensure_future(one(i, p)) for i, p in enumerate(prompts)]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()

    async def _complete(self, prompt: ChatPrompt, max_new_tokens: int, decoding: DecodingConfig | None) -> Completion:
        """One call on the server its route picks; when that server cannot be reached, on the next one."""
        body = self.request_body(prompt, max_new_tokens=max_new_tokens, decoding=decoding)
        route = prompt.route or _prompt_key(body)
        fleet = len(self.servers) > 1
        while True:
            server = await self._pick(route)
            session = self._session(server)
            async with server.limit:
                try:
                    reply = await request_json(
                        session, "POST", server.root + "/v1/chat/completions", self._headers, body,
                        max_retries=self.config.max_retries, retry_unreachable=not fleet,
                    )  # fmt: skip
                except Unreachable as error:
                    if server.is_up():
                        server.mark_down(revive_after_s=self.config.revive_after_s)
                        if fleet:
                            logger.warning("%s left out (%s); its calls go to the others", server.root, error)
                    continue
                except CallError as error:  # the server answered with an error: one bad call never stops the run
                    return Completion(text="", finish_reason="error", error=self._explain(error))
            server.calls += 1
            return self._completion(prompt, reply)

    def _completion(self, prompt: ChatPrompt, reply: dict[str, Any]) -> Completion:
        try:
            choice = reply["choices"][0]
            text = choice["message"].get("content") or ""
        except (KeyError, IndexError, TypeError, AttributeError):
            return Completion(text="", finish_reason="error", error=f"a reply without choices: {str(reply)[:200]}")
        usage = reply.get("usage") or {}
        if prompt.prefill and not self.config.supports_prefill:
            text = strip_prefill(text, prompt.prefill)
        return Completion(
            text=text,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            finish_reason="length" if choice.get("finish_reason") == "length" else "stop",
        )

    def _explain(self, error: CallError) -> str:
        """One line: what failed, after how many attempts, and the switch that avoids a refused field."""
        message = str(error)
        if error.status in (400, 422):
            hints = sorted({hint for name, hint in _SWITCHES.items() if name in error.body})
            if hints:
                message += f" (for this server set {' and '.join(hints)})"
        return message


def _prompt_key(body: dict[str, Any]) -> str:
    """A route for a call that belongs to no plot: its messages, so such calls spread over the servers."""
    return hashlib.blake2b(json.dumps(body["messages"], sort_keys=True).encode(), digest_size=8).hexdigest()


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
