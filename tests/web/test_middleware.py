"""Middleware: CORS for read-only routes, the request body limit (413), and the refusal of
cross-site writes (403; tests/security/test_browser.py checks it on a real server)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from jobtrail.base.errors import JobtrailError
from jobtrail.web import errors
from jobtrail.web.middleware import BodyLimit, CrossSiteWrites, ReadOnlyCors
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

ORIGIN = {"Origin": "https://example.org"}


# ------------------------------------------------------------------ against the real server


@pytest.mark.parametrize(
    "path", ["vocab", "messages", "shapes.ttl", "producers/TDR/consignment-export/INT"]
)
def test_reads_get_cors(served: str, path: str) -> None:
    for r in (httpx.get(served + path, headers=ORIGIN), httpx.head(served + path, headers=ORIGIN)):
        assert r.status_code == 200
        assert r.headers.get_list("access-control-allow-origin") == ["*"]
        exposed = {h.strip().lower() for h in r.headers["access-control-expose-headers"].split(",")}
        assert {"etag", "link", "location"} <= exposed


def test_errors_of_reads_get_cors_too(served: str) -> None:
    r = httpx.get(served + "vocab/Nope", headers=ORIGIN)
    assert r.status_code == 404 and r.headers["access-control-allow-origin"] == "*"


def test_preflight_for_a_read(served: str) -> None:
    r = httpx.options(
        served + "vocab",
        headers={
            **ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "Accept, If-None-Match",
        },
    )
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "*"
    assert "GET" in r.headers["access-control-allow-methods"]
    assert r.headers["access-control-allow-headers"] == "Accept, If-None-Match"


def test_sparql_keeps_its_own_cors_without_doubling(served: str) -> None:
    r = httpx.get(served + "sparql", params={"query": "ASK {}"}, headers=ORIGIN)
    assert r.headers.get_list("access-control-allow-origin") == ["*"]
    pre = httpx.options(
        served + "sparql", headers={**ORIGIN, "Access-Control-Request-Method": "GET"}
    )
    assert pre.status_code < 300
    assert pre.headers.get_list("access-control-allow-origin") == ["*"]


def test_too_large_declared_body_is_413_before_it_is_sent(served: str) -> None:
    """A raw request declaring 50 MB and sending none of it: answered at once."""
    url = urlsplit(served)
    with socket.create_connection((url.hostname, url.port), timeout=5) as s:
        s.sendall(
            b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
            b"Accept: application/problem+json\r\nContent-Length: 50000000\r\n\r\n"
        )
        answer = b""
        while b"PayloadTooLarge" not in answer:  # head and body may come in separate packets
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
    text = answer.decode("latin-1")
    assert text.startswith("HTTP/1.1 413"), text
    assert "PayloadTooLarge" in text


# ------------------------------------------------------------------ a tiny app


async def echo(request: Request) -> Response:
    body = await request.body()
    return PlainTextResponse(f"{len(body)} bytes")


async def streamed(request: Request) -> Response:
    n = 0
    async for chunk in request.stream():
        n += len(chunk)
    return PlainTextResponse(f"{n} bytes")


def tiny(*, handlers: bool = True) -> Starlette:
    return Starlette(
        routes=[
            Route("/echo", echo, methods=["GET", "POST", "PUT"]),
            Route("/stream", streamed, methods=["POST"]),
        ],
        middleware=[Middleware(ReadOnlyCors), Middleware(BodyLimit, max_body=100)],
        exception_handlers={JobtrailError: errors.jobtrail_error} if handlers else {},
    )


@pytest.fixture(params=[True, False], ids=["app-renders", "middleware-renders"])
def client(request: pytest.FixtureRequest) -> Iterator[TestClient]:
    with TestClient(tiny(handlers=request.param)) as c:
        yield c


def chunks(n: int, size: int = 30) -> Iterator[bytes]:
    for _ in range(n):
        yield b"x" * size


def test_body_within_the_limit(client: TestClient) -> None:
    assert client.post("/echo", content=b"x" * 100).text == "100 bytes"
    assert client.post("/stream", content=chunks(3)).text == "90 bytes"


def test_declared_length_over_the_limit(client: TestClient) -> None:
    r = client.post("/echo", content=b"x" * 101, headers={"Accept": "application/problem+json"})
    assert r.status_code == 413
    problem = r.json()
    assert problem["status"] == 413 and problem["max_body"] == 100
    assert "101 bytes" in problem["detail"]


@pytest.mark.parametrize("path", ["/echo", "/stream"])
def test_streamed_body_over_the_limit(client: TestClient, path: str) -> None:
    r = client.post(path, content=chunks(5))  # chunked: no Content-Length
    assert r.status_code == 413
    assert "larger than this server accepts" in r.text


def test_cors_only_on_reads(client: TestClient) -> None:
    get = client.get("/echo", headers=ORIGIN)
    assert get.headers["access-control-allow-origin"] == "*"
    post = client.post("/echo", content=b"x", headers=ORIGIN)
    assert post.status_code == 200 and "access-control-allow-origin" not in post.headers
    too_big = client.post("/echo", content=b"x" * 500, headers=ORIGIN)
    assert too_big.status_code == 413 and "access-control-allow-origin" not in too_big.headers
    preflight_write = client.options(
        "/echo", headers={**ORIGIN, "Access-Control-Request-Method": "PUT"}
    )
    assert "access-control-allow-origin" not in preflight_write.headers
    preflight_read = client.options(
        "/echo", headers={**ORIGIN, "Access-Control-Request-Method": "GET"}
    )
    assert preflight_read.status_code == 204
    assert preflight_read.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-headers" not in preflight_read.headers


# ------------------------------------------------------------------ cross-site writes

PUBLIC = "https://public.example/"  # base_url behind a proxy; TestClient's Host is testserver


def guarded() -> Starlette:
    return Starlette(
        routes=[Route("/echo", echo, methods=["POST"]), Route("/sparql", echo, methods=["POST"])],
        middleware=[
            Middleware(BodyLimit, max_body=100),
            Middleware(CrossSiteWrites, base_url=PUBLIC),
        ],
        exception_handlers={JobtrailError: errors.jobtrail_error},
    )


@pytest.mark.parametrize(
    "headers, status",
    [
        ({}, 200),
        ({"Origin": "https://public.example"}, 200),
        ({"Origin": "https://PUBLIC.example:443"}, 200),
        ({"Origin": "http://testserver"}, 200),  # the request's own Host
        ({"Origin": "https://public.example", "Sec-Fetch-Site": "same-origin"}, 200),
        ({"Sec-Fetch-Site": "none"}, 200),
        ({"Origin": "http://public.example"}, 403),  # another scheme is another origin
        ({"Origin": "https://public.example:8443"}, 403),
        ({"Origin": "https://evil.example"}, 403),
        ({"Origin": "null"}, 403),
        ({"Sec-Fetch-Site": "cross-site"}, 403),
        ({"Sec-Fetch-Site": "same-site"}, 403),
        ({"Origin": "https://evil.example", "Authorization": "Bearer t"}, 200),
        ({"Origin": "https://evil.example", "Authorization": "Basic dTpw"}, 403),
    ],
)
def test_which_writes_are_cross_site(headers: dict[str, str], status: int) -> None:
    with TestClient(guarded()) as c:
        assert c.post("/echo", content=b"abc", headers=headers).status_code == status
        assert c.get("/echo", headers=headers).status_code == 405  # reads pass through


def test_a_cross_site_sparql_query_post_reaches_the_route_with_its_body() -> None:
    cross = {"Origin": "https://evil.example"}
    form = {"Content-Type": "application/x-www-form-urlencoded", **cross}
    with TestClient(guarded()) as c:
        query = c.post("/sparql", content=b"query=ASK%7B%7D", headers=form)
        assert query.status_code == 200 and query.text == "15 bytes"
        direct = {"Content-Type": "application/sparql-query", **cross}
        assert c.post("/sparql", content=b"ASK {}", headers=direct).text == "6 bytes"
        assert c.post("/sparql", content=b"query=x&update=y", headers=form).status_code == 403
        assert c.post("/sparql?update=y", content=b"query=x", headers=form).status_code == 403
        update = {"Content-Type": "application/sparql-update", **cross}
        assert c.post("/sparql", content=b"CLEAR ALL", headers=update).status_code == 403
        assert c.post("/sparql", content=b"query=" + b"x" * 200, headers=form).status_code == 413
