"""HTTP calls to OpenAI-compatible servers: aiohttp, one session per server, retries with exponential back-off.

Why aiohttp and not the ``openai`` client: on this project's 2-core machine the ``openai`` client's asyncio API (on
httpx, or on aiohttp) spent 1.3-2.3 ms of CPU per chat completion building and validating typed objects, which caps
one client process near 500 calls/s; a plain aiohttp ``POST`` of the same JSON body spends 0.15-0.2 ms (both
measured against the fake server of ``tests/fake_openai.py``, 3,000 calls). A run over a fleet of servers needs the
cheap path. The retry policy is the one the ``openai`` client documents, kept here in a few lines because its
machinery is what costs: connection errors, timeouts, 408, 409, 429 and 5xx are retried up to ``max_retries``
times, waiting 0.5 s doubling to at most 8 s, or what the server asks in ``Retry-After`` / ``Retry-After-Ms``.

Examples:
    >>> backoff(1), backoff(3), backoff(9), backoff(1, retry_after=2.5)
    (0.5, 2.0, 8.0, 2.5)
    >>> str(CallError("HTTP 503: busy", attempts=3))
    'HTTP 503: busy after 3 attempts'
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["CallError", "Unreachable", "backoff", "retry_after", "new_session", "request_json", "retryable"]

#: Statuses retried besides 5xx (the ``openai`` client's list).
RETRY_STATUSES = (408, 409, 429)


class CallError(Exception):
    """A call the server answered with an error status (or a reply that is not JSON).

    Attributes:
        status: The HTTP status (``None`` when the server was not reached).
        body: The start of the server's reply.
        attempts: How many times the call was sent.
        wait: The seconds the server asked to wait before a retry (``Retry-After``), if it did.
    """

    def __init__(
        self, message: str, status: int | None = None, body: str = "", attempts: int = 1, wait: float | None = None
    ):
        super().__init__(message)
        self.message, self.status, self.body, self.attempts, self.wait = message, status, body, attempts, wait

    def __str__(self) -> str:
        return self.message + (f" after {self.attempts} attempts" if self.attempts > 1 else "")


class Unreachable(CallError):
    """The server could not be reached (refused, reset, timed out)."""


def retryable(status: int | None) -> bool:
    """Whether a failure with this status is transient (``None``: the server was not reached)."""
    return status is None or status in RETRY_STATUSES or status >= 500


def backoff(attempt: int, retry_after: float | None = None) -> float:
    """Seconds to wait before retry ``attempt`` (1-based): the server's ``Retry-After``, else 0.5 s doubling, 8 s at
    most."""
    if retry_after is not None and 0 <= retry_after <= 60:
        return retry_after
    return min(0.5 * 2 ** (attempt - 1), 8.0)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """The wait a server asks for (``Retry-After-Ms`` or ``Retry-After`` in seconds), if any."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name) or headers.get(name.title())
        if value is not None:
            try:
                return float(value) * scale
            except ValueError:
                return None
    return None


def new_session(max_connections: int, timeout_s: float) -> Any:
    """An aiohttp session with ``max_connections`` kept-alive connections and a total timeout per request."""
    import aiohttp

    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=max_connections, limit_per_host=max_connections),
        timeout=aiohttp.ClientTimeout(total=timeout_s),
    )


async def _once(session: Any, method: str, url: str, headers: Mapping[str, str], body: Any) -> dict[str, Any]:
    import aiohttp

    try:
        async with session.request(method, url, json=body, headers=headers) as response:
            text = await response.text()
            status, wait = response.status, retry_after(response.headers)
    except (aiohttp.ClientConnectionError, asyncio.TimeoutError) as exc:
        reason = f"{type(exc).__name__}: {exc}".strip()
        raise Unreachable(f"cannot reach {url} ({reason[:300]})") from None
    if status != 200:
        raise CallError(f"HTTP {status}: {text[:400]}", status, text[:2000], wait=wait)
    try:
        return json.loads(text)
    except ValueError:
        raise CallError(f"HTTP 200 with a reply that is not JSON: {text[:200]!r}", 200, text[:2000]) from None


async def request_json(
    session: Any,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: Any = None,
    max_retries: int = 0,
    retry_unreachable: bool = True,
) -> dict[str, Any]:
    """Send one request and return the JSON reply, retrying transient failures with :func:`backoff`.

    Args:
        session: From :func:`new_session`.
        method: ``"GET"`` or ``"POST"``.
        url: The full URL.
        headers: Request headers (the API key travels here, never in a message).
        body: The JSON body.
        max_retries: Retries after the first attempt.
        retry_unreachable: Also retry when the server cannot be reached (``False``: fail at once, for a fleet
            that sends the call to another server instead).

    Raises:
        Unreachable: The server could not be reached (after the retries, if any).
        CallError: The server answered with an error status (after the retries of transient ones).
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return await _once(session, method, url, headers, body)
        except CallError as error:
            error.attempts = attempt
            transient = retryable(error.status) and (retry_unreachable or not isinstance(error, Unreachable))
            if not transient or attempt > max_retries:
                raise
            await asyncio.sleep(backoff(attempt, error.wait))
