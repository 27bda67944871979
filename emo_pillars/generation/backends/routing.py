"""Which server of a fleet answers a call: one plot's calls go to one server, and a failed server is left out.

Several OpenAI-compatible servers (vLLM replicas, one per node or per GPU) serve one run. Each call carries a route
key, the plot it belongs to, and every call of a plot goes to the same server, so the plot's shared prompt prefix
(the 28 definitions, then the synopsis) stays hot in that server's prefix cache (:class:`Router`). A plot's server is
chosen on its first call: the server that holds the fewest plots, ties broken by the plot's
rendezvous (highest-random-weight) order, a hash of its id (``hashlib``, not Python's salted ``hash``), so the choice
is the same from run to run. Pure rendezvous hashing (:func:`choose`) keeps a plot on its server with no state, but
200 plots over 8 servers then give the busiest server about 1.3 times its share, and the fleet waits for it; the
router keeps the shares within one plot. When a server goes down only its plots move, each to the least-loaded server
in its order, while every other plot stays where it was.

A server that fails a connection is marked down and its calls go to the others. It is tried again after
``revive_after_s`` (doubling with each failure in a row, at most 5 minutes): the backend probes it with
``GET /v1/models`` before routing to it again.

Rendezvous hashing is a few lines over ``hashlib``; a library for it (uhashring, clandestined) would add a
dependency for less than it saves.

Examples:
    >>> servers = [ServerState("http://a:8000"), ServerState("http://b:8000"), ServerState("http://c:8000")]
    >>> first = choose(servers, "plot-17").root
    >>> first == choose(servers, "plot-17").root  # stable
    True
    >>> servers[[s.root for s in servers].index(first)].mark_down(now=0.0, revive_after_s=30.0)
    >>> choose(servers, "plot-17", now=1.0).root != first  # its plots move; the others stay
    True
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Router", "ServerState", "choose", "rendezvous_order", "MAX_REVIVE_S"]

#: The longest wait before a failed server is tried again.
MAX_REVIVE_S = 300.0


@dataclass
class ServerState:
    """One server of a fleet: its address, whether it is up, and what it did.

    Attributes:
        root: The server root URL (without ``/v1``).
        down_until: ``time.monotonic()`` before which the server is left out (0: up).
        failures_in_a_row: Connection failures since it last answered.
        calls: Calls it answered.
        failed: Calls that could not reach it and were sent again, to another server.
        client: The client that talks to it (set by the backend).
    """

    root: str
    down_until: float = 0.0
    failures_in_a_row: int = 0
    calls: int = 0
    failed: int = 0
    client: Any = field(default=None, repr=False, compare=False)
    limit: Any = field(default=None, repr=False, compare=False)

    def is_up(self, now: float | None = None) -> bool:
        """Whether calls may go to it now."""
        return (time.monotonic() if now is None else now) >= self.down_until

    def mark_down(self, now: float | None = None, revive_after_s: float = 30.0) -> None:
        """Leave it out for ``revive_after_s``, doubled for each failure in a row (at most :data:`MAX_REVIVE_S`)."""
        now = time.monotonic() if now is None else now
        self.failures_in_a_row += 1
        self.failed += 1
        wait = min(revive_after_s * 2 ** (self.failures_in_a_row - 1), MAX_REVIVE_S)
        self.down_until = now + wait

    def mark_up(self) -> None:
        """It answered: back in the rotation."""
        self.down_until = 0.0
        self.failures_in_a_row = 0

    def usage(self) -> dict[str, Any]:
        """What ``run.json`` records for it."""
        return {"calls": self.calls, "resent_calls": self.failed, "up": self.down_until == 0.0}


def _weight(root: str, key: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{root}\x00{key}".encode(), digest_size=8).digest(), "big")


def rendezvous_order(servers: Sequence[ServerState], key: str) -> list[ServerState]:
    """The servers in the order ``key`` prefers them (highest rendezvous weight first)."""
    return sorted(servers, key=lambda server: _weight(server.root, key), reverse=True)


def choose(servers: Sequence[ServerState], key: str, now: float | None = None) -> ServerState | None:
    """The server that answers a call with route ``key``: the first one up in its order (``None`` if none is up)."""
    now = time.monotonic() if now is None else now
    return next((server for server in rendezvous_order(servers, key) if server.is_up(now)), None)


class Router:
    """Sticky, balanced routing: a route keeps the server it was given while that server is up.

    A new route goes to the server that holds the fewest routes (plots), ties broken by the route's rendezvous order.
    Counting routes, not calls, matters: a plot's first call says nothing of the hundreds that follow it, and a
    server a few calls behind would otherwise draw every new plot of the next chunk.

    Args:
        servers: The fleet.

    Examples:
        >>> router = Router([ServerState("http://a:8000"), ServerState("http://b:8000")])
        >>> first, second = router.choose("plot-1").root, router.choose("plot-2").root
        >>> first != second, router.choose("plot-1").root == first
        (True, True)
    """

    def __init__(self, servers: Sequence[ServerState]):
        self.servers = list(servers)
        self.assigned: dict[str, ServerState] = {}
        self.routes = {server.root: 0 for server in self.servers}

    def choose(self, route: str, now: float | None = None) -> ServerState | None:
        """The server for a call of ``route`` (``None`` when none is up)."""
        now = time.monotonic() if now is None else now
        server = self.assigned.get(route)
        if server is not None and server.is_up(now):
            return server
        up = [s for s in rendezvous_order(self.servers, route) if s.is_up(now)]
        if not up:
            return None
        if server is not None:
            self.routes[server.root] -= 1  # its server is down: the route moves
        chosen = min(up, key=lambda s: self.routes[s.root])  # the first of equals: the rendezvous order
        self.assigned[route] = chosen
        self.routes[chosen.root] += 1
        return chosen
