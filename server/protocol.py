"""uvicorn's HTTP/1.1 protocol (over httptools, the C parser) with limits on a request's
head: its time (slow clients) and its size.

uvicorn closes an idle keep-alive connection after 5 seconds, but a client that sends its
head a byte at a time keeps a connection open for as long as it likes (slowloris), and
httptools itself sets no bound on a head's size. `HeadLimitProtocol` gives each head
`header_timeout` seconds from the moment the connection opens (or the previous response
ends): a head not complete by then is answered `408 Request Timeout` and the connection is
closed, as nginx's `client_header_timeout` does. A head longer than `MAX_HEAD` bytes (16 KiB,
what h11 allowed) is answered `431 Request Header Fields Too Large` and the connection closed.
The body has its own limits (`max_body`, `body_timeout`, web/requests.read_body).

httptools parses a request in C where h11 did it in Python: measured on the 2-core machine
with wrk, 16 connections, `/health` answered about half as many requests again.
"""

from __future__ import annotations

import asyncio
import os

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

DEFAULT = 10.0
MAX_HEAD = 16 * 1024
"""The longest request head read, in bytes."""


def _answer(status: bytes, text: bytes) -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\nConnection: close\r\nContent-Type: text/plain\r\n"
        b"Content-Length: " + str(len(text)).encode() + b"\r\n\r\n" + text
    )


_TOO_SLOW = _answer(b"408 Request Timeout", b"the request head did not arrive in time\r\n")
_TOO_LONG = _answer(
    b"431 Request Header Fields Too Large",
    b"the request head is longer than 16384 bytes, the most read here\r\n",
)


def _from_environment() -> float:
    try:
        return float(os.environ.get("JOBTRAIL_HEADER_TIMEOUT") or DEFAULT)
    except ValueError:
        return DEFAULT


class HeadLimitProtocol(HttpToolsProtocol):
    timeout: float = _from_environment()  # seconds; 0: no limit (worker processes: from env)
    _head_timer: asyncio.TimerHandle | None = None
    _in_head = True  # reading a request's head (or waiting for one)
    _head_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        coalesce_writes(transport, self.loop)
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > MAX_HEAD and not self.transport.is_closing():
            self._refuse(_TOO_LONG)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # the next request's head, on a kept-alive connection

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._in_head, self._head_bytes = True, 0
        if self.timeout > 0:
            self._head_timer = self.loop.call_later(self.timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _too_slow(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing() and self._in_head:
            self._refuse(_TOO_SLOW)

    def _refuse(self, answer: bytes) -> None:
        self._disarm()
        self.transport.write(answer)
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
