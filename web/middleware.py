"""Pure ASGI middleware: browser safety headers, CORS for reading, no cross-site writes,
and a limit on request bodies.

`SecurityHeaders` puts on every response `X-Content-Type-Options: nosniff`,
`X-Frame-Options: DENY`, `Referrer-Policy: same-origin` and a
Content-Security-Policy (`CSP`) that lets a page load scripts, styles, images
and fonts only from this server, connect only to it, submit forms only to it,
and never be framed (`frame-ancestors 'none'`). Headers a route already set are
kept. server/app.py puts it outside Starlette's own error middleware, so an
unexpected 500 carries them too. The policy allows no inline script or `<style>`:
the /sparql page's YASGUI is configured by a JSON data block (not run) and styled
by files under /static/yasgui (the style properties its scripts set through the
DOM are not inline styles).

`CrossSiteWrites` refuses (403) a request that may change something (any
method but GET, HEAD and OPTIONS) when a browser sent it from another site: its
`Sec-Fetch-Site` is `cross-site` or `same-site`, or its `Origin` is not this
server's own (the origin of base_url, or the request's Host). A browser would
otherwise attach its stored Basic credentials to a form or fetch another site
makes. Not refused: requests without `Origin` and `Sec-Fetch-Site` (curl, pyvo,
MCMA and SIF clients, SPARQLWrapper), requests carrying `Authorization: Bearer`
(a browser never adds one by itself; the route still checks the token), and the
POSTs in `READ_ONLY_POSTS`, which change nothing: a SPARQL query POSTed to
/sparql (as `application/sparql-query`, or a form with `query=` and no
`update=`). That list is the one place where a route says a POST is a read.

`HttpDetails` folds repeated `Accept` fields into one (RFC 9110 §5.3: they are one list),
redirects (301) a GET or HEAD of a path with a trailing slash to the path without it (every
resource here is named without one), and answers an `OPTIONS` without `Origin` (not a CORS
preflight) with `204` and `Allow`: the methods of the routes that match the path, unless the
route answers `OPTIONS` itself.

`LinksByPath` makes every link of the HTML pages made for a request to an IRI under the
server's base URL a path (`web/html.LINKS_UNDER`): the pages browse wherever the server
answers, on another port, host or behind a proxy, while the IRIs they show stay whole.

`ReadOnlyCors` lets any web page read what this server publishes: GET and HEAD
responses get `Access-Control-Allow-Origin: *` (and expose ETag, Link,
Location), and a preflight asking for GET or HEAD is answered here. Nothing is
added to writes, and a preflight for any other method goes on to the app, so a
route that wants CORS for its writes (or its own CORS, as /sparql may) decides
for itself; headers a route already set are never doubled.

`ReadLogin` answers 401 to a read (GET, HEAD) that carries no credential at all (no
`Authorization`, no `?pass=`) when the visibility policy says every read needs a login
(the `read_login` setting; `Policy.check_reader`), except for the home page, `/health`
and the definitions anyone needs to read the data (`/vocab`, `/shapes`, `/contexts`,
`/static`). Credentials that do not check are the routes' to refuse (403).

`BodyLimit` answers 413 (jobtrail.base.errors.PayloadTooLarge, rendered like
every other error) when Content-Length says the body is too large, before any
of it is read, and stops a body without Content-Length (chunked) as soon as
more than the limit has arrived.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, parse_qsl, urlsplit

from jobtrail.base.errors import Forbidden, JobtrailError, PayloadTooLarge, Unauthorized
from jobtrail.jobs.visibility import ANONYMOUS_VIEWER
from jobtrail.web import errors
from jobtrail.web.html import LINKS_UNDER
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

READ_METHODS = frozenset({"GET", "HEAD"})
EXPOSED = "ETag, Link, Location, Content-Location, Vary"
PREFLIGHT_MAX_AGE = "86400"


class LinksByPath:
    def __init__(self, app: ASGIApp, base_url: str) -> None:
        self.app = app
        self.base_url = base_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = LINKS_UNDER.set(self.base_url)
        try:
            await self.app(scope, receive, send)
        finally:
            LINKS_UNDER.reset(token)


class HttpDetails:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        accepts = [v for k, v in scope["headers"] if k == b"accept"]
        if len(accepts) > 1:
            others = [(k, v) for k, v in scope["headers"] if k != b"accept"]
            scope = {**scope, "headers": [*others, (b"accept", b", ".join(accepts))]}
        method, path = scope["method"], scope["path"]
        raw: bytes = scope.get("raw_path") or path.encode()
        # a slash the client wrote, not an encoded one (`/trace/a%2F` names the key `a/`)
        if method in READ_METHODS and len(path) > 1 and raw.endswith(b"/"):
            query = scope.get("query_string") or b""
            target = raw.rstrip(b"/") or b"/"
            location = target + (b"?" + query if query else b"")
            await _redirect(send, location)
            return
        if method == "OPTIONS" and "origin" not in Headers(scope=scope):
            await self._options(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _options(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The route's own answer to OPTIONS, else 204 with the methods it allows."""
        replaced = False

        async def send_or_replace(message: Message) -> None:
            nonlocal replaced
            if message["type"] == "http.response.start" and message["status"] in (404, 405):
                replaced = True
                allow = ", ".join(_allowed(scope))
                headers = [(b"allow", allow.encode()), (b"content-length", b"0")]
                await send({"type": "http.response.start", "status": 204, "headers": headers})
                await send({"type": "http.response.body", "body": b""})
            elif not replaced:
                await send(message)

        await self.app(scope, receive, send_or_replace)


def _allowed(scope: Scope) -> list[str]:
    """The methods the app's routes allow at this path (the catch-all's only if nothing else
    matches), OPTIONS among them."""
    routes = getattr(getattr(scope.get("app"), "router", None), "routes", [])
    matched: list[set[str]] = []
    for route in routes:
        match, _ = route.matches({**scope, "method": "GET"})
        if match is not Match.NONE:
            methods = getattr(route, "methods", None) or {"GET", "HEAD"}
            matched.append(set(methods))
    found = matched[:-1] if len(matched) > 1 and routes and _catch_all(routes[-1]) else matched
    order = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
    every = set().union(*found) if found else {"GET", "HEAD"}
    return [m for m in order if m in every] + sorted(every - {*order, "OPTIONS"}) + ["OPTIONS"]


def _catch_all(route: object) -> bool:
    return getattr(route, "path", None) == "/{path:path}"


async def _redirect(send: Send, location: bytes) -> None:
    headers = [(b"location", location), (b"content-length", b"0")]
    await send({"type": "http.response.start", "status": 301, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


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
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        if length is None and "transfer-encoding" not in headers:
            await self.app(scope, receive, send)  # no body: nothing to count
            return
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
        await _answer(scope, send, error, {"Connection": "close"})


async def _answer(
    scope: Scope, send: Send, error: JobtrailError, headers: dict[str, str] | None = None
) -> None:
    """Answer with the error, rendered like every other, without running the app."""
    response = errors.render(Request(scope), error)
    response.headers.update(headers or {})

    async def nothing() -> Message:
        return {"type": "http.disconnect"}

    await response(scope, nothing, send)


# --- who may read at all -----------------------------------------------------------

OPEN_PATHS = frozenset({"/", "/health", "/favicon.ico", "/openapi", "/openapi.json"})
OPEN_PREFIXES = ("/static/", "/vocab", "/shapes", "/contexts/")


class ReadLogin:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in ("GET", "HEAD")
            and scope["state"]["engine"].visibility.read_login
        ):
            path = scope["path"]
            if path not in OPEN_PATHS and not path.startswith(OPEN_PREFIXES):
                headers = Headers(scope=scope)
                query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
                if "authorization" not in headers and "pass" not in query:
                    try:
                        scope["state"]["engine"].visibility.check_reader(ANONYMOUS_VIEWER)
                    except Unauthorized as e:  # with WWW-Authenticate, as every 401
                        await _answer(scope, send, e)
                        return
        await self.app(scope, receive, send)


# --- browser safety -----------------------------------------------------------------

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Content-Security-Policy", CSP),
)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS:
                    if name not in response_headers:
                        response_headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_SPARQL_QUERY_TYPES = frozenset({"application/sparql-query"})
_FORM = "application/x-www-form-urlencoded"


def _sparql_query(scope: Scope, body: bytes) -> bool:
    """A POST to /sparql that is a query: no update in its URL, its form or its type."""
    if any(k == "update" for k, _ in parse_qsl(scope.get("query_string", b"").decode("latin-1"))):
        return False
    kind = Headers(scope=scope).get("content-type", "").partition(";")[0].strip().lower()
    if kind in _SPARQL_QUERY_TYPES:
        return True
    if kind == _FORM:
        form = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        return not any(k == "update" for k, _ in form)
    return False


# (method, path) → does this request, with this body, change nothing?
READ_ONLY_POSTS: dict[tuple[str, str], Callable[[Scope, bytes], bool]] = {
    ("POST", "/sparql"): _sparql_query,
}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


class CrossSiteWrites:
    def __init__(self, app: ASGIApp, base_url: str) -> None:
        self.app = app
        self.base_url = base_url

    def own_origins(self, scope: Scope, headers: Headers) -> set[str]:
        own = {_origin(self.base_url)}
        host = headers.get("host")
        if host:
            for scheme in {scope.get("scheme", "http"), urlsplit(self.base_url).scheme}:
                own.add(_origin(f"{scheme}://{host}"))
        return own

    def foreign(self, scope: Scope, headers: Headers) -> str | None:
        """Why this request comes from another site, or None."""
        origin = headers.get("origin")
        own = self.own_origins(scope, headers)
        same_origin = origin is not None and origin != "null" and _origin(origin) in own
        fetch_site = headers.get("sec-fetch-site", "").lower()
        if fetch_site in ("cross-site", "same-site") and not same_origin:
            return f"Sec-Fetch-Site: {fetch_site}"
        if origin is not None and not same_origin:
            return f"Origin: {origin}"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        reason = self.foreign(scope, headers)
        bearer = headers.get("authorization", "").partition(" ")[0].lower() == "bearer"
        if reason is None or bearer:
            await self.app(scope, receive, send)
            return
        read_only = READ_ONLY_POSTS.get((scope["method"], scope["path"]))
        if read_only is not None:
            body, receive = await self._buffer(receive)
            if read_only(scope, body):
                await self.app(scope, receive, send)
                return
        await self._refuse(scope, send, reason)

    @staticmethod
    async def _buffer(receive: Receive) -> tuple[bytes, Receive]:
        """The whole body, and a `receive` that hands it on as it came."""
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return body, replay

    @staticmethod
    async def _refuse(scope: Scope, send: Send, reason: str) -> None:
        error = Forbidden(
            f"a request from another site may not change anything here ({reason})",
            hint="browsers attach stored credentials to requests other sites make, so this "
            "server refuses them: send the request from this server's own pages, from a "
            "client that is not a browser (no Origin or Sec-Fetch-Site header), or with "
            "Authorization: Bearer <token>",
            details={"rule": "no cross-site writes", "refused_because": reason},
        )
        await _answer(scope, send, error)
