"""uvicorn's httptools protocol, sending each response's head and body in one write.

uvicorn writes the status line and headers the moment the app sends ``http.response.start``
and the body on ``http.response.body``: two ``send`` calls and two TCP segments, so the client
wakes twice for every answer. Inference answers are small (``{"predictions":[0]}`` is 19 bytes
behind 260 bytes of headers), so the second segment costs as much as the body is worth: at one
connection it added ~30-60 µs to every request's latency on a 2-core VM. Here the head waits
for the first piece of body (or the end of the response, for ``HEAD`` and empty answers, or a
``close``) and goes out with it. Nothing else changes: uvicorn still frames, checks and
completes the response.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["OneWriteHttpToolsProtocol", "lone_connection"]

# Above this, the head is written on its own rather than copied in front of the body.
_JOIN_MAX_BYTES = 64 * 1024


class _HeadHeldBack:
    """The transport seen by one request's cycle: holds the head until the body follows."""

    __slots__ = ("_cycle", "_held", "_real", "_seen_head")

    def __init__(self, real: asyncio.Transport, cycle: Any) -> None:
        self._real = real
        self._cycle = cycle
        self._held: bytes | None = None
        self._seen_head = False

    def write(self, data: bytes) -> None:
        # The cycle's first write after the response started is the head (a "100 Continue"
        # interim answer goes out before the response starts, so it is never held).
        if not self._seen_head and self._cycle.response_started:
            self._seen_head = True
            self._held = bytes(data)
            return
        held = self._held
        if held is not None:
            self._held = None
            if len(data) <= _JOIN_MAX_BYTES:
                self._real.write(held + data)
                return
            self._real.write(held)
        self._real.write(data)

    def flush(self) -> None:
        """Write a held head that no body followed."""
        held = self._held
        if held is not None:
            self._held = None
            self._real.write(held)

    def close(self) -> None:
        self.flush()
        self._real.close()

    def __getattr__(self, name: str) -> Any:  # is_closing, get_extra_info, ...
        return getattr(self._real, name)


# The open connections of this process's server: uvicorn's own set, shared by its protocols.
_connections: set[Any] = set()


def lone_connection() -> bool:
    """Whether exactly one client connection is open to this process (``conveyor serve``).

    HTTP/1.1 answers one connection's requests in turn, so a lone connection's request never
    has a concurrent one to batch with (``AdaptiveBatcher``'s ``lone_caller``).
    """
    return len(_connections) == 1


class OneWriteHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` whose responses leave in one write (see the module doc); it also
    shows its server's open connections to ``lone_connection``."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        global _connections  # noqa: PLW0603 - one server per process, read per request
        _connections = self.connections
        super().connection_made(transport)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle = self.cycle
        # The request's task is created but has not run yet: its cycle can still be wrapped.
        if cycle is None or cycle.transport is not self.transport:
            return  # an upgrade (no new cycle): the last one is already wrapped
        held = _HeadHeldBack(cycle.transport, cycle)
        cycle.transport = held  # type: ignore[assignment]
        cycle.on_response = _flushing(held, cycle.on_response)


def _flushing(held: _HeadHeldBack, on_response: Callable[[], None]) -> Callable[[], None]:
    def complete() -> None:
        held.flush()  # HEAD answers and empty bodies write nothing after the head
        on_response()

    return complete
