"""The OpenAPI description (/openapi.json) and its reader (/openapi) on a real server.

Every route of the app has a declaration (a new route without one fails here, listing it);
the description is valid OpenAPI 3.1; real answers — a sample over every binding — have a
status and a content type the description declares for their operation; Swagger UI renders
the operations in headless Chromium under the server's CSP (skipped without Chromium; a
screenshot goes to $JOBTRAIL_SCREENSHOTS when set).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import lxml.html
import pytest
from jobtrail.server import api
from jobtrail.server.app import create_app
from jobtrail.web.openapi import describe, template, undeclared
from jobtrail.web.state import Config
from openapi_spec_validator import OpenAPIV31SpecValidator
from starlette.applications import Starlette
from starlette.routing import Match, Mount, Route

from tests.conftest import (
    ADMIN_TOKEN,
    CHROMIUM,
    JOB_USERS,
    DocumentServer,
    headless_chromium,
    job_server,
)

ROOT = Path(__file__).resolve().parents[2]
SWAGGER = ROOT / "web" / "static" / "swagger-ui"
ALICE = {
    "Authorization": "Basic " + base64.b64encode(f"alice:{JOB_USERS['alice']}".encode()).decode()
}
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("openapi")
    with job_server(root / "data", root / "files") as base:
        yield base


@pytest.fixture(scope="module")
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def spec(client: httpx.Client) -> dict[str, Any]:
    answer = client.get("/openapi.json")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    found: dict[str, Any] = answer.json()
    return found


# --- the declarations --------------------------------------------------------------------


def test_every_route_has_a_declaration() -> None:
    app = create_app(Config(store="memory:"))
    missing = undeclared(app.routes, {"server": api.API, **app.state.apis})
    assert not missing, (
        "routes without an OpenAPI declaration (add them to the binding's api.py, "
        "keyed by (METHOD, path)):\n" + "\n".join(f"  {m} {p}" for p, m in missing)
    )


def test_no_declaration_names_a_route_that_is_not_there() -> None:
    app = create_app(Config(store="memory:"))
    routes = set()
    for route in app.routes:
        if isinstance(route, Route):
            routes |= {(m, route.path) for m in route.methods or ()}
        elif isinstance(route, Mount):
            routes.add(("GET", route.path + "/{path:path}"))
    apis = {"server": api.API, **app.state.apis}
    stale = [key for a in apis.values() for key in a.operations if key not in routes]
    assert not stale, f"declared but not routed: {stale}"


def test_an_undeclared_route_is_listed_and_still_described() -> None:
    async def extra() -> None:
        """Something new."""

    routes = [Route("/new/{x:int}", extra, methods=["GET", "POST"])]
    assert undeclared(routes, {}) == [("/new/{x:int}", "GET"), ("/new/{x:int}", "HEAD"),
                                      ("/new/{x:int}", "POST")]  # fmt: skip
    found = describe(routes, {}, base_url="http://h/")
    op = found["paths"]["/new/{x}"]["get"]
    assert op["x-undeclared"] is True and op["summary"] == "Something new."
    assert op["parameters"][0] == {
        "name": "x",
        "in": "path",
        "required": True,
        "schema": {"type": "integer"},
    }


# --- the description ---------------------------------------------------------------------


def test_the_description_is_valid_openapi_3_1(spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.1")
    errors = [str(e).splitlines()[0] for e in OpenAPIV31SpecValidator(spec).iter_errors()]
    assert not errors, errors[:10]


def test_paths_are_templates_without_converters(spec: dict[str, Any]) -> None:
    assert all(":" not in path for path in spec["paths"]), [p for p in spec["paths"] if ":" in p]
    trace = spec["paths"]["/trace/{key}"]["get"]
    (key,) = [p for p in trace["parameters"] if p["in"] == "path"]
    assert key["required"] and "/" in key["description"]  # a catch-all says it takes slashes
    assert "/{path}" in spec["paths"]  # dereferencing, one operation with a description
    assert "minted" in spec["paths"]["/{path}"]["get"]["description"]


def test_every_operation_has_a_summary_answers_and_no_undeclared_mark(
    spec: dict[str, Any],
) -> None:
    count = 0
    for path, item in spec["paths"].items():
        for method, op in item.items():
            count += 1
            assert op["summary"].strip(), f"{method} {path}"
            assert op["responses"], f"{method} {path}"
            assert "x-undeclared" not in op, f"{method} {path}"
    assert count > 100


def test_errors_are_problem_details(spec: dict[str, Any]) -> None:
    problem = spec["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail"} <= set(problem["required"])
    statuses = {"400", "401", "403", "404", "406", "410", "413", "415", "424", "503", "507"}
    used = {s for item in spec["paths"].values() for op in item.values() for s in op["responses"]}
    assert statuses <= used, statuses - used
    answer = spec["components"]["responses"]["Problem404"]
    assert answer["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/Problem"
    }
    # SIF's paths answer their own error document by default, problem+json on request
    sif = spec["paths"]["/sif/jobs/{collection}/{item}"]["get"]["responses"]["404"]
    assert list(sif["content"])[0] == "application/xml"
    assert "application/problem+json" in sif["content"]


def test_request_bodies_have_media_types_and_schemas(spec: dict[str, Any]) -> None:
    post = spec["paths"]["/messages"]["post"]["requestBody"]["content"]
    assert {"application/json", "application/x-ndjson", "message/http", "text/turtle"} <= set(post)
    refs = [s["$ref"] for s in post["application/json"]["schema"]["anyOf"] if "$ref" in s]
    assert "#/components/schemas/tna-tre-event" in refs
    assert "tna-bagit-available" in spec["components"]["schemas"]
    job = spec["paths"]["/jobs"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert job == {"$ref": "#/components/schemas/JobRequest"}
    assert "url" in spec["components"]["schemas"]["JobRequest"]["required"]
    assert "application/sparql-query" in spec["paths"]["/sparql"]["post"]["requestBody"]["content"]


def test_security_schemes_are_the_servers_credentials(spec: dict[str, Any]) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert schemes["adminToken"] == {**schemes["adminToken"], "type": "http", "scheme": "bearer"}
    assert schemes["user"]["scheme"] == "basic"
    assert schemes["pass"] == {**schemes["pass"], "type": "apiKey", "in": "query", "name": "pass"}
    assert {"producer", "serviceToken", "sifSession"} <= set(schemes)
    assert spec["paths"]["/update"]["post"]["security"] == [{"adminToken": []}]
    posting = spec["paths"]["/messages"]["post"]["security"]
    assert posting == [{"producer": []}, {"adminToken": []}]
    assert {} in spec["paths"]["/jobs"]["get"]["security"]  # anyone reads, credentials widen


def test_the_description_is_read_only_and_public(client: httpx.Client) -> None:
    for path in ("/openapi.json", "/openapi"):
        assert client.get(path, headers=ALICE).status_code == 200
        refused = client.post(path, content=b"{}")
        assert refused.status_code == 405, path
        assert refused.headers["X-Content-Type-Options"] == "nosniff"


# --- real answers match the description ---------------------------------------------------


@functools.cache
def _app() -> Starlette:
    return create_app(Config(store="memory:"))


def _operation(spec: dict[str, Any], method: str, path: str) -> tuple[str, dict[str, Any]]:
    """The described operation that answers `method path`, found the way the app routes."""
    app = _app()
    scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}
    for route in app.routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            found = route.path + ("/{path}" if isinstance(route, Mount) else "")
            return template(found), spec["paths"][template(found)][method.lower()]
    raise AssertionError(f"no route answers {method} {path}")


def _declared(spec: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    ref = response.get("$ref")
    if ref is not None:
        found: dict[str, Any] = spec["components"]["responses"][ref.rsplit("/", 1)[1]]
        return found
    return response


def _check(spec: dict[str, Any], answer: httpx.Response) -> None:
    method, path = answer.request.method, answer.request.url.path
    where, op = _operation(spec, method, path)
    status = str(answer.status_code)
    said = f"{method} {path} ({where}): {status} {answer.text[:300]}"
    assert status in op["responses"], f"undeclared status: {said}; declared {list(op['responses'])}"
    content = _declared(spec, op["responses"][status]).get("content")
    kind = answer.headers.get("content-type", "").split(";")[0].strip()
    if content and kind and "*/*" not in content:
        assert kind in content, f"undeclared content type {kind}: {said}; declared {list(content)}"


def _job_ids(client: httpx.Client, documents: DocumentServer) -> tuple[str, str]:
    url = documents.put("/openapi-input.txt", b"hello\n", "text/plain")
    made = client.post(
        "/jobs",
        params={"profile": "Fixity"},
        json={"url": url, "parameters": {"algorithm": "sha256"}},
        headers=ALICE,
    )
    assert made.status_code == 201, made.text
    job = made.headers["location"].rstrip("/").rsplit("/", 1)[1]
    uws = client.post("/uws/Fixity", data={"URL": url}, headers=ALICE)
    assert uws.status_code == 303, uws.text
    return job, uws.headers["location"].rsplit("/", 1)[1]


SPARQL_JSON = {"Accept": "application/sparql-results+json"}
PROBLEM = {"Accept": "application/problem+json"}
SAMPLE: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/", {"headers": {"Accept": "text/html"}}),
    ("GET", "/health", {}),
    ("HEAD", "/health", {}),
    ("GET", "/openapi.json", {}),
    ("GET", "/openapi", {}),
    ("GET", "/sparql", {"params": {"query": "ASK {}"}, "headers": SPARQL_JSON}),
    ("GET", "/sparql", {"params": {"query": "ASK {"}, "headers": PROBLEM}),
    ("GET", "/sparql", {"params": {"query": "ASK {}"}, "headers": {"Accept": "text/csv"}}),
    ("GET", "/sparql", {"headers": {"Accept": "text/turtle"}}),
    (
        "POST",
        "/sparql",
        {
            "content": b"ASK {}",
            "headers": {**SPARQL_JSON, "Content-Type": "application/sparql-query"},
        },
    ),  # fmt: skip
    (
        "POST",
        "/update",
        {"content": b"INSERT DATA {}", "headers": {"Content-Type": "application/sparql-update"}},
    ),  # fmt: skip
    (
        "POST",
        "/update",
        {
            "content": b"INSERT DATA {}",
            "headers": {**ADMIN, "Content-Type": "application/sparql-update"},
        },
    ),  # fmt: skip
    ("GET", "/store", {"params": {"graph": "http://example.org/none"}, "headers": PROBLEM}),
    ("GET", "/store", {"params": {"graph": "not an iri"}}),
    ("GET", "/queries", {}),
    ("GET", "/queries/stats", {"headers": SPARQL_JSON}),
    ("GET", "/queries/no-such-query", {"headers": PROBLEM}),
    ("GET", "/jobs", {"headers": ALICE}),
    ("GET", "/jobs", {"headers": {**ALICE, "Accept": "text/turtle"}}),
    ("POST", "/jobs", {"content": b"", "headers": {**ALICE, "Content-Type": "text/plain"}}),
    ("POST", "/jobs", {"content": b"x", "headers": {**ALICE, "Content-Type": "image/png"}}),
    ("POST", "/sparql", {"content": b"x", "headers": {"Content-Type": "image/png"}}),
    ("GET", "/jobs/{job}", {"headers": ALICE}),
    ("GET", "/jobs/{job}", {"headers": {"Accept": "application/json"}}),
    ("GET", "/jobs/00000000-0000-0000-0000-000000000000", {"headers": {**ALICE, **PROBLEM}}),
    ("GET", "/jobs/{job}/executions", {"headers": ALICE}),
    ("GET", "/mcma/jobs/{job}", {"headers": ALICE}),
    ("GET", "/profiles", {}),
    ("GET", "/profiles/Fixity", {"headers": {"Accept": "text/html"}}),
    ("GET", "/profiles/Nothing", {}),
    ("POST", "/credit", {"data": {"pass": "rich-pass", "amount": "1"}, "headers": ADMIN}),
    ("GET", "/uws", {}),
    ("GET", "/uws/Fixity", {"headers": ALICE}),
    ("GET", "/uws/Fixity/{uws}", {"headers": ALICE}),
    ("GET", "/uws/Fixity/{uws}/phase", {"headers": ALICE}),
    ("GET", "/uws/Fixity/{uws}/parameters", {"headers": ALICE}),
    ("POST", "/uws/Fixity/{uws}/phase", {"data": {"PHASE": "SUSPEND"}, "headers": ALICE}),
    ("GET", "/mcma/services", {}),
    ("GET", "/mcma/jobs", {"headers": ALICE}),
    ("GET", "/mcma/jobs", {"params": {"sortOrder": "up"}}),
    ("GET", "/mcma/job-profiles", {}),
    ("GET", "/mcma/job-profiles/Nothing", {}),
    ("POST", "/mcma/jobs", {"content": b"[]", "headers": {"Content-Type": "application/json"}}),
    ("GET", "/sif/jobs", {}),
    ("GET", "/sif/jobs/Transfers", {"headers": ALICE}),
    ("PUT", "/sif/jobs/Transfers/x", {"content": b"<x/>", "headers": ALICE}),
    ("GET", "/sif/jobs/Transfers/{job}/package/states", {"headers": ALICE}),
    ("GET", "/contexts/jobtrail", {}),
    ("GET", "/contexts/nothing", {}),
    ("GET", "/trace/TDR-2021-GW3", {}),
    ("GET", "/trace/TDR-2021-GW3.svg", {}),
    ("GET", "/vocab", {}),
    ("GET", "/vocab.jsonld", {}),
    ("GET", "/vocab/Hop", {"headers": {"Accept": "text/html"}}),
    ("GET", "/vocab", {"headers": {"Accept": "image/png"}}),
    ("GET", "/shapes.ttl", {}),
    ("GET", "/messages", {}),
    ("GET", "/messages", {"params": {"size": "nope"}, "headers": PROBLEM}),
    ("GET", "/messages.nt", {}),
    ("POST", "/messages", {"content": b"{}", "headers": {"Content-Type": "application/json"}}),
    ("GET", "/static/jobtrail.css", {}),
    ("GET", "/static/swagger-ui/jobtrail-swagger.js", {}),
    ("GET", "/static/nothing.css", {}),
    ("GET", "/producers/nobody-at-all", {"headers": PROBLEM}),
    ("GET", "/no/such/thing", {"headers": {"Accept": "text/html"}}),
]


def test_real_answers_have_a_declared_status_and_content_type(
    client: httpx.Client, spec: dict[str, Any], documents: DocumentServer
) -> None:
    job, uws = _job_ids(client, documents)
    wrong, statuses = [], set()
    for method, path, more in SAMPLE:
        url = path.format(job=job, uws=uws)
        answer = client.request(method, url, **more)
        statuses.add(answer.status_code)
        try:
            _check(spec, answer)
        except AssertionError as e:
            wrong.append(str(e).splitlines()[0])
    assert not wrong, "\n".join(wrong)
    assert {200, 303, 400, 401, 403, 404, 406, 415} <= statuses, statuses  # the sample reaches


# --- the vendored reader, and the page ----------------------------------------------------


def _version() -> Path:
    (folder,) = [p for p in SWAGGER.iterdir() if p.is_dir()]
    return folder


def test_vendored_swagger_ui_is_one_version_with_its_licence_and_checksums() -> None:
    folder = _version()
    readme = (SWAGGER / "README.md").read_text(encoding="utf-8")
    assert f"| Version | {folder.name} |" in readme
    assert "Apache License" in (folder / "LICENSE").read_text(encoding="utf-8")
    assert f'"version": "{folder.name}"' in (folder / "package.json").read_text(encoding="utf-8")
    for name in ("swagger-ui-bundle.js", "swagger-ui.css"):
        digest = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        assert digest in readme, name
    assert not list(folder.glob("*.map")), "no source maps"
    app_source = (ROOT / "server" / "app.py").read_text(encoding="utf-8")
    assert f"/static/swagger-ui/{folder.name}/" in app_source


def test_the_page_loads_its_scripts_from_the_server_only(client: httpx.Client) -> None:
    answer = client.get("/openapi")
    assert answer.status_code == 200
    assert "unsafe-inline" not in answer.headers["Content-Security-Policy"]
    page = lxml.html.fromstring(answer.text)
    scripts = page.xpath("//script")
    assert scripts and all(s.get("src", "").startswith("/static/") for s in scripts)
    assert not [s for s in scripts if (s.text or "").strip()], "no inline script"
    for src in [s.get("src") for s in scripts] + page.xpath("//link[@rel='stylesheet']/@href"):
        assert client.get(src).status_code == 200, src
    assert page.xpath("//a[@href='/openapi.json']"), "a link for those without JavaScript"
    home = client.get("/", headers={"Accept": "text/html"}).text
    assert 'href="/openapi"' in home and 'href="/openapi.json"' in home


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium)"
)
def test_swagger_ui_renders_the_operations_under_the_csp(
    server: str, spec: dict[str, Any], tmp_path: Path
) -> None:
    # Swagger UI renders the operations a tall window shows (the first tags': server,
    # sparql, jobservice, uws); the rest as they scroll into view
    window = "--window-size=1280,4000"
    result = subprocess.run(
        headless_chromium(
            tmp_path / "profile",
            "--enable-logging=stderr",
            "--v=0",
            window,
            "--dump-dom",
            f"{server}openapi",
        ),  # fmt: skip
        capture_output=True,
        text=True,
        timeout=120,
    )
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)
    assert result.returncode == 0, result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if "CONSOLE" in line]
    assert not [line for line in console if "Content Security Policy" in line], console
    dom = lxml.html.fromstring(result.stdout)
    shown = [str(p) for p in dom.xpath("//*[contains(@class, 'opblock-summary')]/@data-path")]
    assert not set(shown) - set(spec["paths"]), set(shown) - set(spec["paths"])
    assert {"/health", "/sparql", "/jobs/{id}", "/uws/{list}"} <= set(shown), shown
    tags = {str(t) for t in dom.xpath("//*[contains(@class, 'opblock-tag')]/@data-tag")}
    assert {"server", "sparql", "jobservice", "uws"} <= tags, tags  # the rest further down
    assert not dom.xpath("//*[contains(@class, 'errors-wrapper')]"), "Swagger UI says errors"
    shots = os.environ.get("JOBTRAIL_SCREENSHOTS")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        target = Path(shots) / "openapi.png"
        subprocess.run(
            headless_chromium(
                tmp_path / "shot",
                "--window-size=1280,1600",
                f"--screenshot={target}",
                f"{server}openapi",
            ),
            capture_output=True,
            timeout=300,
            check=True,
        )
        assert target.stat().st_size > 10_000
        shutil.rmtree(tmp_path / "shot", ignore_errors=True)


def test_the_init_script_contacts_nothing_outside() -> None:
    script = (SWAGGER / "jobtrail-swagger.js").read_text(encoding="utf-8")
    assert "validatorUrl: null" in script and "queryConfigEnabled: false" in script
    assert not re.findall(r"https?://", script)


def test_the_error_formats_described_are_those_the_renderer_writes() -> None:
    from jobtrail.web import errors, openapi

    assert tuple(f.media_type for f in errors.FORMATS) == openapi.ERROR_MEDIA
