"""Pure ASGI middleware: CORS for reading, and a limit on request bodies.

`ReadOnlyCors` lets any web page read what this server publishes: GET and HEAD
responses get `Access-Control-Allow-Origin: *` (and expose ETag, Link,
Location), and a preflight asking for GET or HEAD is answered here. Nothing is
added to writes, and a preflight for any other method goes on to the app, so a
route that wants CORS for its writes (or its own CORS, as /sparql may) decides
for itself; headers a route already set are never doubled.

`BodyLimit` answers 413 (jobtrail.base.errors.PayloadTooLarge, rendered like
every other error) when Content-Length says the body is too large, before any
of it is read, and stops a body without Content-Length (chunked) as soon as
more than the limit has arrived.
"""

from __future__ import annotations

from jobtrail.base.errors import PayloadTooLarge
from jobtrail.web import errors
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

READ_METHODS = frozenset({"GET", "HEAD"})
EXPOSED = "ETag, Link, Location, Content-Location, Vary"
PREFLIGHT_MAX_AGE = "86400"


class ReadOnlyCors:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        headers = Headers(scope=scope)
        if method == "OPTIONS" and "origin" in headers:
            wanted = headers.get("access-control-request-method", "").upper()
            if wanted in READ_METHODS:
                await self._preflight_unless_routed(scope, receive, send, headers)
                return
        if method not in READ_METHODS:
            await self.app(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                if "access-control-allow-origin" not in response_headers:
                    response_headers["Access-Control-Allow-Origin"] = "*"
                    response_headers["Access-Control-Expose-Headers"] = EXPOSED
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight_unless_routed(
        self, scope: Scope, receive: Receive, send: Send, headers: Headers
    ) -> None:
        """A route that answers OPTIONS itself (as /sparql does) keeps its answer; else ours."""
        replaced = False

        async def send_or_replace(message: Message) -> None:
            nonlocal replaced
            if message["type"] == "http.response.start" and message["status"] in (404, 405):
                replaced = True
                await self._preflight(headers, send)
            elif not replaced:
                await send(message)

        await self.app(scope, receive, send_or_replace)

    @staticmethod
    def preflight_headers(headers: Headers) -> list[tuple[bytes, bytes]]:
        response = [
            (b"access-control-allow-origin", b"*"),
            (b"access-control-allow-methods", b"GET, HEAD, OPTIONS"),
            (b"access-control-max-age", PREFLIGHT_MAX_AGE.encode()),
            (b"content-length", b"0"),
        ]
        allow_headers = headers.get("access-control-request-headers")
        if allow_headers:
            # any request header may be sent to a read-only route; no credentials are allowed
            response.append((b"access-control-allow-headers", allow_headers.encode("latin-1")))
        return response

    @classmethod
    async def _preflight(cls, headers: Headers, send: Send) -> None:
        start = {
            "type": "http.response.start",
            "status": 204,
            "headers": cls.preflight_headers(headers),
        }
        await send(start)
        await send({"type": "http.response.body", "body": b""})


class BodyLimit:
    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    def _error(self, received: int | None = None) -> PayloadTooLarge:
        size = f" ({received} bytes)" if received is not None else ""
        return PayloadTooLarge(
            f"the request body{size} is larger than this server accepts: {self.max_body} bytes",
            hint="send less, or raise the limit with the max_body setting (JOBTRAIL_MAX_BODY)",
            details={"max_body": self.max_body},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                declared = -1
            if declared > self.max_body:
                await self._reject(scope, send, self._error(declared))
                return

        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise self._error()
            return message

        async def watch_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, watch_send)
        except PayloadTooLarge as e:
            if started:
                raise
            await self._reject(scope, send, e)

    @staticmethod
    async def _reject(scope: Scope, send: Send, error: PayloadTooLarge) -> None:
        response = errors.render(Request(scope), error)
        response.headers["Connection"] = "close"

        async def nothing() -> Message:
            return {"type": "http.disconnect"}

        await response(scope, nothing, send)
