"""Parsers refuse what they cannot bound; no input gives a 500 (issue 17), on a real server.

For every refused input: a 4xx, a message naming the limit or the field, and nothing stored
(the number of quads in the store is the same before and after).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import jobtrail_server

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
