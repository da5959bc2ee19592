"""Parsers refuse what they cannot bound; no input gives a 500 (issue 17), on a real server.

For every refused input: a 4xx, a message naming the limit or the field, and nothing stored
(the number of quads in the store is the same before and after).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import EXAMPLES_DIR, jobtrail_server

RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with jobtrail_server(tmp_path_factory.mktemp("input-limits") / "data") as base:
        yield base


@pytest.fixture
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=30) as c:
        yield c


def quads(client: httpx.Client) -> int:
    query = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"
    r = client.get(
        "/sparql", params={"query": query}, headers={"Accept": "application/sparql-results+json"}
    )
    assert r.status_code == 200, r.text
    return int(r.json()["results"]["bindings"][0]["n"]["value"])


def refused(
    client: httpx.Client, status: int, words: str, method: str, url: str, **kwargs: object
) -> httpx.Response:
    """The request is answered `status`, its message says `words`, and nothing is stored."""
    before = quads(client)
    r = client.request(method, url, **kwargs)  # type: ignore[arg-type]
    assert r.status_code == status, r.text[:2000]
    assert words.lower() in r.text.lower(), r.text[:2000]
    assert quads(client) == before
    return r


# --- 1. RDF/XML entities ------------------------------------------------------------------


def billion_laughs(levels: int = 9) -> bytes:
    entities = '<!ENTITY a0 "' + "a" * 40 + '">\n'
    for i in range(1, levels + 1):
        entities += f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">\n'
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [\n{entities}]>\n'
        f'<rdf:RDF xmlns:rdf="{RDF_NS}" xmlns:e="http://example.org/">'
        f'<rdf:Description rdf:about="http://example.org/x"><e:p>&a{levels};</e:p>'
        "</rdf:Description></rdf:RDF>"
    ).encode()


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("application/rdf+xml", billion_laughs()),
        ("application/rdf+xml", billion_laughs(2)),  # small enough to expand: still refused
        (
            "message/http",
            b"POST /x HTTP/1.1\r\nHost: example.org\r\nContent-Type: application/rdf+xml\r\n\r\n"
            + billion_laughs(),
        ),
    ],
    ids=["rdfxml-bomb", "rdfxml-small-dtd", "http-body-rdfxml-bomb"],
)
def test_rdfxml_with_a_dtd_is_refused_unexpanded(
    client: httpx.Client, content_type: str, body: bytes
) -> None:
    started = time.monotonic()
    r = refused(
        client,
        400,
        "DOCTYPE is not allowed",
        "POST",
        "/messages",
        content=body,
        headers={"Content-Type": content_type},
    )
    assert time.monotonic() - started < 5
    assert len(r.content) < 4000


# --- 3. JSON limits, nesting in other syntaxes ---------------------------------------------


def tre_message(**parameters: object) -> bytes:
    doc = json.loads((EXAMPLES_DIR / "tre-enhanced-messages" / "01-tdr-export.json").read_text())
    doc["parameters"] = {**doc.get("parameters", {}), **parameters}
    doc["timestamp"] = str(1700000000 + len(json.dumps(parameters)))
    return json.dumps(doc).encode()


def nested(levels: int) -> object:
    value: object = "x"
    for _ in range(levels):
        value = {"a": value}
    return value


LD = {
    "@context": "https://job-processor/context/default",
    "type": "StopJob",
    "id": "https://job-processor/StopJob/deep",
    "job": "https://job-processor/Job/1",
    "stopJobCause": "COMPLETED",
}


@pytest.mark.parametrize(
    "content_type, body, words",
    [
        ("application/json", b"[" * 100_000, "limit of 512"),
        ("application/json", b'{"a": ' * 600 + b"1" + b"}" * 600, "limit of 512"),
        ("application/json", tre_message(n="?").replace(b'"?"', b"9" * 5000), "limit of 1,000"),
        (
            "application/json",
            tre_message(n="?").replace(b'"?"', b"1." + b"1" * 2000),
            "limit of 1,000",
        ),
        ("application/ld+json", json.dumps({**LD, "notes": nested(300)}).encode(), "limit of 256"),
        (
            "message/http",
            b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n\r\n"
            + b"[" * 100_000,
            "limit of 512",
        ),
    ],
    ids=["deep-array", "deep-object", "long-integer", "long-float", "deep-jsonld", "deep-http"],
)
def test_json_past_its_limits_is_refused(
    client: httpx.Client, content_type: str, body: bytes, words: str
) -> None:
    refused(
        client,
        400,
        words,
        "POST",
        "/messages",
        content=body,
        headers={"Content-Type": content_type, "Accept": "application/problem+json"},
    )


def test_json_within_the_limits_is_stored(client: httpx.Client) -> None:
    body = tre_message(deep=nested(500), n="?").replace(b'"?"', b"9" * 999)
    r = client.post("/messages", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text[:2000]


@pytest.mark.parametrize(
    "url, body",
    [
        ("/jobs", b"[" * 100_000),
        ("/jobs", b'{"url": "http://example.org/x.pdf", "n": ' + b"9" * 5000 + b"}"),
        ("/mcma/jobs", b"[" * 100_000),
        ("/mcma/jobs", b'{"@type": "JobProfile", "n": ' + b"9" * 5000 + b"}"),
    ],
    ids=["jobs-deep", "jobs-long-number", "mcma-deep", "mcma-long-number"],
)
def test_json_request_bodies_have_the_same_limits(
    client: httpx.Client, url: str, body: bytes
) -> None:
    r = refused(
        client,
        400,
        "limit of",
        "POST",
        url,
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert "1,000" in r.text or "512" in r.text


@pytest.mark.parametrize(
    "content_type, body",
    [
        (
            "text/turtle",
            b"<http://example.org/a> <http://example.org/p> "
            + b"[ <http://example.org/p> " * 20_000
            + b"[]"
            + b" ]" * 20_000
            + b" .",
        ),
        (
            "text/turtle",
            b"<http://example.org/a> <http://example.org/p> "
            + b"( " * 20_000
            + b")" * 20_000
            + b" .",
        ),
        ("text/turtle", b"<http://example.org/a> <http://example.org/p> " + b"[ " * 100_000),
        ("text/n3", b"<http://example.org/a> <http://example.org/p> " + b"{ " * 100_000),
    ],
    ids=["turtle-deep-blank-nodes", "turtle-deep-lists", "turtle-unclosed", "n3-unclosed"],
)
def test_deeply_nested_rdf_is_never_a_500(
    client: httpx.Client, content_type: str, body: bytes
) -> None:
    r = client.post("/messages", content=body, headers={"Content-Type": content_type})
    assert r.status_code < 500, r.text[:2000]
