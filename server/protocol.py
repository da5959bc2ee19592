"""uvicorn's HTTP/1.1 protocol with a time limit on a request's head (slow clients).

uvicorn closes an idle keep-alive connection after 5 seconds and h11 caps a head at
16 KB, but a client that sends its head a byte at a time keeps a connection open for as
long as it likes (slowloris). `HeadTimeoutProtocol` gives each head `header_timeout`
seconds from the moment the connection opens (or the previous response ends): a head not
complete by then is answered `408 Request Timeout` and the connection is closed, as
nginx's `client_header_timeout` does. The body has its own limit (`body_timeout`,
web/requests.read_body).
"""

from __future__ import annotations

import asyncio
import os

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

DEFAULT = 10.0
_ANSWER = (
    b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Type: text/plain\r\n"
    b"Content-Length: 44\r\n\r\nthe request head did not arrive in time\r\n\r\n"
)


def _from_environment() -> float:
    try:
        return float(os.environ.get("JOBTRAIL_HEADER_TIMEOUT") or DEFAULT)
    except ValueError:
        return DEFAULT


class HeadTimeoutProtocol(H11Protocol):
    timeout: float = _from_environment()  # seconds; 0: no limit (worker processes: from env)
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        coalesce_writes(transport, self.loop)
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the head is complete
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm()  # the next request's head, on a kept-alive connection

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        if self.timeout > 0:
            self._head_timer = self.loop.call_later(self.timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _too_slow(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        self.transport.write(_ANSWER)
        self.transport.close()


COALESCED = 1 << 16
"""Bytes held for one write at most; more go out at once."""


def coalesce_writes(transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
    """Make what is written to `transport` in one turn of the event loop go out in one send:
    uvicorn writes a response's head and its body apart, two system calls (and two wake-ups
    of the client) where one does. Held bytes go out before the transport closes."""
    write, close = transport.write, transport.close
    held: list[bytes] = []
    size = 0

    def flush() -> None:
        nonlocal size
        if held:
            data = b"".join(held)
            held.clear()
            size = 0
            if not transport.is_closing():
                write(data)

    def held_write(data: bytes | bytearray | memoryview) -> None:
        nonlocal size
        if not held:
            loop.call_soon(flush)
        held.append(bytes(data))
        size += len(data)
        if size >= COALESCED:
            flush()

    def flushed_close() -> None:
        flush()
        close()

    transport.write = held_write  # type: ignore[method-assign]
    transport.close = flushed_close  # type: ignore[method-assign]
