"""The W3C SPARQL 1.1 Protocol test suite, run against a real `jobtrail serve`.

The manifest (tests/data/w3c-sparql11-protocol, vendored with its licence and source) says
each test's requests in RDF (the HTTP vocabulary): method, path, headers, body, and what the
response must be (status class, a boolean, a kind of format). Each test runs here as the
suite intends: `/sparql/` becomes this server's `/sparql`, the graphs a test needs
(`ut:graphData`) are put in first through the Graph Store Protocol (`PUT /store?graph=`),
and every request carries the admin token (updates need it; the suite's updates clear the
whole store, so the server is this module's own).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pyoxigraph as ox
import pytest

from tests.conftest import ADMIN_TOKEN, jobtrail_server

SUITE = Path(__file__).parents[2] / "data" / "w3c-sparql11-protocol"
MANIFEST = SUITE / "manifest.ttl"
BASE = "http://www.w3.org/2009/sparql/docs/tests/data-sparql11/protocol/manifest.ttl"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
MF = "http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#"
HT = "http://www.w3.org/2011/http#"
HTS = "http://www.w3.org/2011/http-statusCodes#"
CNT = "http://www.w3.org/2011/content#"
UT = "http://www.w3.org/2009/sparql/tests/test-update#"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
BOOLEAN_TYPES = ("application/sparql-results+json", "application/sparql-results+xml")
TABULAR_TYPES = (*BOOLEAN_TYPES, "text/csv", "text/tab-separated-values")
RDF_TYPES = ("application/rdf+xml", "text/turtle", "application/n-triples", "text/html")


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None
    statuses: set[int]  # the first digits allowed: 2, 3, 4
    boolean: bool | None
    format: str | None


@dataclass
class Case:
    iri: str
    name: str
    requests: list[Request]
    graphs: dict[str, Path] = field(default_factory=dict)  # graph IRI → its data


def _one(store: ox.Store, s: object, p: str) -> ox.NamedNode | ox.BlankNode | ox.Literal | None:
    for q in store.quads_for_pattern(s, ox.NamedNode(p), None):  # type: ignore[arg-type]
        return q.object  # type: ignore[return-value]
    return None


def _all(store: ox.Store, s: object, p: str) -> list[object]:
    return [q.object for q in store.quads_for_pattern(s, ox.NamedNode(p), None)]  # type: ignore[arg-type]


def _list(store: ox.Store, head: object) -> Iterator[object]:
    nil = ox.NamedNode(RDF + "nil")
    while head != nil:
        yield _one(store, head, RDF + "first")
        head = _one(store, head, RDF + "rest")


def cases() -> list[Case]:
    store = ox.Store()
    store.load(MANIFEST.read_bytes(), format=ox.RdfFormat.TURTLE, base_iri=BASE)
    manifest = ox.NamedNode(BASE)
    found = []
    for test in _list(store, _one(store, manifest, MF + "entries")):
        assert isinstance(test, ox.NamedNode)
        action = _one(store, test, MF + "action")
        requests = []
        for r in _list(store, _one(store, action, HT + "requests")):
            headers = {
                str(_one(store, h, HT + "fieldName").value): str(  # type: ignore[union-attr]
                    _one(store, h, HT + "fieldValue").value  # type: ignore[union-attr]
                )
                for h in _list(store, _one(store, r, HT + "headers") or ox.NamedNode(RDF + "nil"))
            }
            body = None
            content = _one(store, r, HT + "body")
            if content is not None:
                chars = str(_one(store, content, CNT + "chars").value)  # type: ignore[union-attr]
                encoding = _one(store, content, CNT + "characterEncoding")
                body = chars.encode(str(encoding.value) if encoding else "utf-8")
            resp = _one(store, r, HT + "resp")
            statuses = {
                int(str(s.value).removeprefix(HTS + "StatusCode")[0])  # type: ignore[attr-defined]
                for s in _all(store, resp, MF + "expectedStatus")
            }
            boolean = _one(store, resp, MF + "expectedBoolean")
            fmt = _one(store, resp, MF + "expectedFormat")
            requests.append(
                Request(
                    method=str(_one(store, r, HT + "methodName").value),  # type: ignore[union-attr]
                    path=str(_one(store, r, HT + "absolutePath").value),  # type: ignore[union-attr]
                    headers=headers,
                    body=body,
                    statuses=statuses,
                    boolean=None if boolean is None else boolean.value == "true",
                    format=None if fmt is None else fmt.value,
                )
            )
        graphs = {
            str(_one(store, g, RDFS + "label").value): SUITE  # type: ignore[union-attr]
            / str(_one(store, g, UT + "graph").value).rsplit("/", 1)[1]  # type: ignore[union-attr]
            for g in _all(store, test, UT + "graphData")
        }
        name = str(_one(store, test, MF + "name").value)  # type: ignore[union-attr]
        found.append(Case(test.value, name, requests, graphs))
    return found


CASES = cases()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("w3c-protocol") / "data"
    with jobtrail_server(data, env={"JOBTRAIL_ADMIN_TOKEN": ADMIN_TOKEN}) as base:
        yield base


def test_the_manifest_holds_every_test() -> None:
    assert len(CASES) == 34
    assert all(c.requests for c in CASES)


def _boolean(response: httpx.Response) -> bool:
    kind = response.headers.get("content-type", "").partition(";")[0]
    if kind == "application/sparql-results+json":
        value = json.loads(response.text)["boolean"]
        assert isinstance(value, bool)
        return value
    root = ET.fromstring(response.content)
    element = root.find("{http://www.w3.org/2005/sparql-results#}boolean")
    assert element is not None and element.text is not None
    return element.text.strip() == "true"


def check(case: Case, request: Request, response: httpx.Response) -> None:
    said = f"{case.iri} ({case.name}): {request.method} {request.path} → {response.status_code}"
    said += f" {response.headers.get('content-type')} {response.text[:400]!r}"
    assert response.status_code // 100 in request.statuses, said
    kind = response.headers.get("content-type", "").partition(";")[0].strip()
    if request.format == "boolean":
        assert kind in BOOLEAN_TYPES, said
    elif request.format == "tabular":
        assert kind in TABULAR_TYPES, said
    elif request.format == "RDF":
        assert kind in RDF_TYPES, said
    if request.boolean is not None:
        assert _boolean(response) is request.boolean, said


@pytest.mark.parametrize("case", CASES, ids=[c.iri.rsplit("#", 1)[1] for c in CASES])
def test_w3c_protocol(server: str, case: Case) -> None:
    with httpx.Client(base_url=server, timeout=30, follow_redirects=False) as client:
        for graph, data in case.graphs.items():
            put = client.put(
                "/store",
                params={"graph": graph},
                content=data.read_bytes(),
                headers={**AUTH, "Content-Type": "application/n-triples"},
            )
            assert put.status_code in (201, 204), f"{case.iri}: loading <{graph}>: {put.text}"
        for request in case.requests:
            path = "/sparql" + request.path.removeprefix("/sparql/")  # /sparql/?q → /sparql?q
            response = client.request(
                request.method,
                path,
                headers={**AUTH, **request.headers},
                content=request.body,
            )
            check(case, request, response)
