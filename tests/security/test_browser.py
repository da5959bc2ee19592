"""Browser safety on a real server: safety headers on every response, links only for
http(s) IRIs, and no state-changing request from another site (issue 17).

Non-browser clients (no Origin, no Sec-Fetch-Site) are checked to work unchanged.
The last test renders /sparql in headless Chromium under the server's CSP and is
skipped without it.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import lxml.html
import pytest
from jobtrail.server.app import App
from jobtrail.web import errors
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from tests.conftest import (
    ADMIN_TOKEN,
    CHROMIUM,
    PRODUCER,
    DocumentServer,
    headless_chromium,
    job_server,
)

EVIL = "https://evil.example"
CROSS = {"Origin": EVIL, "Sec-Fetch-Site": "cross-site"}
XSS = "javascript:alert(1)"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("browser")
    with job_server(root / "data", root / "files") as base:
        yield base


@pytest.fixture
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=10) as c:
        yield c


def own_origin(server: str) -> str:
    parts = urlsplit(server)
    return f"{parts.scheme}://{parts.netloc}"


def ask(client: httpx.Client, query: str) -> bool:
    answer = client.get("/sparql", params={"query": query}, headers={"Accept": "application/json"})
    assert answer.status_code == 200, answer.text
    result: bool = answer.json()["boolean"]
    return result


def mentioned(client: httpx.Client, marker: str) -> bool:
    """Whether any stored term mentions `marker` (a job's input URL, an inserted literal)."""
    return ask(client, f'ASK {{ GRAPH ?g {{ ?s ?p ?o FILTER(CONTAINS(STR(?o), "{marker}")) }} }}')


def hrefs(page: str) -> list[str]:
    """Every href (and SVG xlink:href) in an HTML page."""
    tree = lxml.html.fromstring(page)
    return [str(v) for v in tree.xpath("//@href | //@*[local-name()='href']")]


def assert_only_safe_links(page: str) -> None:
    for href in hrefs(page):
        scheme = urlsplit(href).scheme.lower()
        assert scheme in ("", "http", "https"), href
    assert "javascript:" not in " ".join(hrefs(page)).lower()


# --- headers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, accept",
    [
        ("/", "text/html"),
        ("/jobs", "text/html"),
        ("/sparql", "text/html"),
        ("/vocab", "text/turtle"),
        ("/jobs", "application/ld+json"),
        ("/sparql?query=ASK%7B%7D", "application/sparql-results+json"),
        ("/messages", "application/atom+xml"),
        ("/no/such/thing", "application/problem+json"),
        ("/static/jobtrail.css", "text/css"),
        ("/openapi", "text/html"),
        ("/openapi.json", "application/json"),
        ("/static/swagger-ui/jobtrail-swagger.js", "text/javascript"),
    ],
)
def test_safety_headers_on_every_response(client: httpx.Client, path: str, accept: str) -> None:
    answer = client.get(path, headers={"Accept": accept})
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["Referrer-Policy"] in ("same-origin", "no-referrer")
    csp = answer.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp


def test_safety_headers_on_a_refused_write(client: httpx.Client) -> None:
    answer = client.post("/jobs", content="http://h/x.doc", headers=CROSS)
    assert answer.status_code == 403
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]


def test_safety_headers_on_an_unexpected_error() -> None:
    """Starlette answers a 500 outside the app's middleware; the App class covers it too."""

    async def boom(request: Request) -> Response:
        raise RuntimeError("boom")

    app = App(routes=[Route("/boom", boom)], exception_handlers={Exception: errors.unexpected})
    with TestClient(app, raise_server_exceptions=False) as c:
        answer = c.get("/boom", headers={"Accept": "text/html"})
    assert answer.status_code == 500
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]


# --- links ---------------------------------------------------------------------------


def test_a_stored_javascript_iri_is_text_not_a_link(client: httpx.Client) -> None:
    marker = uuid.uuid4().hex
    body = (
        f"<urn:x:{marker}> <http://example.org/p> <{XSS}> .\n"
        f"<urn:x:{marker}> <http://example.org/q> <https://example.org/{marker}> .\n"
    )
    stored = client.post(
        "/messages", content=body, headers={**PRODUCER, "Content-Type": "text/turtle"}
    )
    assert stored.status_code == 201, stored.text
    page = client.get(stored.headers["Location"], headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert_only_safe_links(page.text)
    assert XSS in lxml.html.fromstring(page.text).text_content()  # shown, as text
    assert f"https://example.org/{marker}" in hrefs(page.text)  # http(s) still linked


@pytest.mark.parametrize(
    "iri", [XSS, "JavaScript:alert(1)", "data:text/html,<script>alert(1)</script>", "vbscript:x"]
)
def test_a_javascript_iri_reflected_through_sparql_is_text(client: httpx.Client, iri: str) -> None:
    query = f'SELECT ?x ?y WHERE {{ BIND(IRI("{iri}") AS ?x) BIND(<https://example.org/> AS ?y) }}'
    page = client.get("/sparql", params={"query": query}, headers={"Accept": "text/html"})
    assert page.status_code == 200, page.text
    assert_only_safe_links(page.text)
    assert "https://example.org/" in hrefs(page.text)


# --- cross-site writes ---------------------------------------------------------------


def test_cross_site_post_jobs_is_refused_and_creates_nothing(
    client: httpx.Client, documents: DocumentServer
) -> None:
    url = documents.put(f"/{uuid.uuid4().hex}.txt", b"hello\n", "text/plain")
    answer = client.post(
        "/jobs",
        content=url,
        headers={**CROSS, "Content-Type": "text/plain", "Accept": "application/problem+json"},
    )
    assert answer.status_code == 403
    problem = answer.json()
    assert "another site" in problem["detail"]
    assert "Authorization: Bearer" in problem["hint"]
    assert not mentioned(client, url)


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": EVIL},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": "https://other.127.0.0.1.example"},
        {"Origin": "null"},
    ],
    ids=["origin", "sec-fetch-site", "same-site", "null-origin"],
)
def test_either_header_alone_marks_a_request_cross_site(
    client: httpx.Client, documents: DocumentServer, headers: dict[str, str]
) -> None:
    url = documents.put(f"/{uuid.uuid4().hex}.txt", b"hello\n", "text/plain")
    answer = client.post("/jobs", content=url, headers={**headers, "Content-Type": "text/plain"})
    assert answer.status_code == 403
    assert not mentioned(client, url)


def test_a_non_browser_post_jobs_still_works(
    client: httpx.Client, documents: DocumentServer
) -> None:
    url = documents.put(f"/{uuid.uuid4().hex}.txt", b"hello\n", "text/plain")
    answer = client.post("/jobs", content=url, headers={"Content-Type": "text/plain"})
    assert answer.status_code == 201, answer.text
    assert mentioned(client, url)


def test_a_same_origin_post_jobs_works(
    client: httpx.Client, server: str, documents: DocumentServer
) -> None:
    url = documents.put(f"/{uuid.uuid4().hex}.txt", b"hello\n", "text/plain")
    headers = {
        "Origin": own_origin(server),
        "Sec-Fetch-Site": "same-origin",
        "Content-Type": "text/plain",
    }
    answer = client.post("/jobs", content=url, headers=headers)
    assert answer.status_code == 201, answer.text
    assert mentioned(client, url)


def test_cross_site_update_with_basic_credentials_is_refused(client: httpx.Client) -> None:
    marker = uuid.uuid4().hex
    basic = base64.b64encode(f"anyone:{ADMIN_TOKEN}".encode()).decode()
    update = f'INSERT DATA {{ GRAPH <urn:x:{marker}> {{ <urn:x:a> <urn:x:p> "{marker}" }} }}'
    for path, kwargs in [
        ("/update", {"data": {"update": update}}),
        ("/sparql", {"data": {"update": update}}),
        ("/update", {"content": update, "headers": {"Content-Type": "application/sparql-update"}}),
        ("/sparql", {"content": update, "headers": {"Content-Type": "application/sparql-update"}}),
    ]:
        headers = {**CROSS, "Authorization": f"Basic {basic}", **kwargs.pop("headers", {})}
        answer = client.post(path, headers=headers, **kwargs)  # type: ignore[arg-type]
        assert answer.status_code == 403, (path, answer.text)
        assert not mentioned(client, marker)


def test_cross_site_update_with_a_bearer_token_is_allowed(client: httpx.Client) -> None:
    marker = uuid.uuid4().hex
    update = f'INSERT DATA {{ GRAPH <urn:x:{marker}> {{ <urn:x:a> <urn:x:p> "{marker}" }} }}'
    headers = {**CROSS, "Authorization": f"Bearer {ADMIN_TOKEN}"}
    answer = client.post("/update", data={"update": update}, headers=headers)
    assert answer.status_code == 204, answer.text
    assert mentioned(client, marker)
    # the route still checks the token itself
    wrong = client.post(
        "/update", data={"update": update}, headers={**CROSS, "Authorization": "Bearer no"}
    )
    assert wrong.status_code == 403


def test_cross_site_sparql_query_by_post_still_works_with_cors(client: httpx.Client) -> None:
    headers = {**CROSS, "Accept": "application/sparql-results+json"}
    form = client.post("/sparql", data={"query": "ASK {}"}, headers=headers)
    assert form.status_code == 200, form.text
    assert form.headers["Access-Control-Allow-Origin"] == "*"
    assert form.json()["boolean"] is True
    direct = client.post(
        "/sparql",
        content="ASK {}",
        headers={**headers, "Content-Type": "application/sparql-query"},
    )
    assert direct.status_code == 200 and direct.headers["Access-Control-Allow-Origin"] == "*"


def test_cross_site_reads_are_untouched(client: httpx.Client) -> None:
    answer = client.get("/jobs", headers={**CROSS, "Accept": "text/turtle"})
    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == "*"


# --- the /sparql page under the CSP, in headless Chromium ------------------------------


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium)"
)
def test_yasgui_renders_under_the_csp_without_violations(server: str, tmp_path: Path) -> None:
    result = subprocess.run(
        headless_chromium(
            tmp_path / "profile",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            f"{server}sparql",
        ),
        capture_output=True,
        text=True,
        timeout=90,
    )
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)
    assert result.returncode == 0, result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if "CONSOLE" in line]
    assert not [line for line in console if "Content Security Policy" in line], console
    dom = lxml.html.fromstring(result.stdout)
    assert dom.xpath("//*[contains(@class, 'CodeMirror-code')]"), "the editor did not start"
    assert dom.xpath("//*[contains(@class, 'yasr')]"), "the results area did not start"
