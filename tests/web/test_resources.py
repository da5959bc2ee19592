"""Dereferencing over a real server: content negotiation, formats, caching, errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pyoxigraph as ox
import pytest
import rdflib
from jobtrail.web import conneg

from tests.conftest import ADMIN_TOKEN

PRODUCER = "producers/TDR/consignment-export/INT"
EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.mark.parametrize("fmt", conneg.RDF_FORMATS, ids=lambda f: f.key)
def test_every_rdf_format_by_accept_and_by_extension(served: str, fmt: conneg.Format) -> None:
    iri = served + PRODUCER
    by_accept = httpx.get(iri, headers={"Accept": fmt.media_type})
    by_extension = httpx.get(f"{iri}{fmt.extension}")
    assert by_accept.status_code == by_extension.status_code == 200
    assert by_accept.headers["content-type"].startswith(fmt.media_type)
    assert by_accept.headers["vary"] == "Accept"
    assert by_accept.content == by_extension.content
    # an independent parser reads it back; the dataset formats keep the resource's own graph
    dataset = rdflib.Dataset()
    dataset.parse(data=by_accept.content, format=_rdflib_format(fmt), publicID=iri)
    triple = (
        rdflib.URIRef(iri),
        rdflib.URIRef("https://w3id.org/jobtrail/vocab#producerName"),
        rdflib.Literal("TDR"),
    )
    graphs = {str(g) for s, p, o, g in dataset.quads((*triple, None))}
    assert graphs == (
        {iri}
        if fmt in (conneg.NQUADS, conneg.TRIG)
        else {str(rdflib.graph.DATASET_DEFAULT_GRAPH_ID)}
    )


def _rdflib_format(fmt: conneg.Format) -> str:
    return {
        "turtle": "turtle",
        "jsonld": "json-ld",
        "rdfxml": "xml",
        "n3": "n3",
        "ntriples": "nt",
        "nquads": "nquads",
        "trig": "trig",
    }[fmt.key]


def test_rdflib_dereferences_with_content_negotiation(served: str) -> None:
    graph = rdflib.Graph().parse(served + PRODUCER)
    assert len(graph) == 5  # two types, name, process, environment
    assert graph.value(
        rdflib.URIRef(served + PRODUCER), rdflib.URIRef("https://w3id.org/jobtrail/vocab#process")
    ) == rdflib.Literal("consignment-export")


def test_a_message_dereferences_with_its_original_bytes(served: str) -> None:
    original = (EXAMPLES / "tre-enhanced-messages" / "01-tdr-export.json").read_bytes()
    iri = f"{served}messages/{hashlib.sha256(original).hexdigest()}"
    response = httpx.get(iri + ".nt")
    assert response.status_code == 200
    store = ox.Store()
    store.load(response.content, format=ox.RdfFormat.N_TRIPLES)
    (text,) = store.quads_for_pattern(
        ox.NamedNode(iri), ox.NamedNode("https://w3id.org/jobtrail/vocab#originalText"), None
    )
    assert text.object.value.encode("utf-8") == original


def test_browsers_get_html_with_links_to_every_format(served: str) -> None:
    page = httpx.get(
        served + PRODUCER, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    )
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for fmt in conneg.RDF_FORMATS:
        assert f'<link rel=alternate type="{fmt.media_type}"' in page.text
    assert "consignment-export" in page.text
    assert 'rel="alternate"' in page.headers["link"]


def test_the_seeds_legacy_n3_name_and_406(served: str) -> None:
    n3 = httpx.get(served + PRODUCER, headers={"Accept": "text/rdf+n3;charset=utf-8"})
    assert n3.status_code == 200 and n3.headers["content-type"].startswith("text/n3")
    refused = httpx.get(served + PRODUCER, headers={"Accept": "image/png"})
    assert refused.status_code == 406
    assert "text/turtle" in refused.text


def test_conditional_get_and_head(served: str) -> None:
    first = httpx.get(served + PRODUCER)
    again = httpx.get(served + PRODUCER, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    head = httpx.head(served + PRODUCER)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == first.headers["etag"]


@pytest.mark.parametrize(
    ("accept", "content_type", "expected"),
    [
        ("application/json", "application/problem+json", '"status": 404'),
        ("text/html", "text/html", "<h1>404 Not found</h1>"),
        (None, "text/plain", "nothing is stored at"),
    ],
)
def test_not_found_in_the_format_asked_for(
    served: str, accept: str | None, content_type: str, expected: str
) -> None:
    response = httpx.get(served + "no/such/thing", headers={"Accept": accept} if accept else {})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith(content_type)
    assert expected in response.text
    assert "Traceback" not in response.text


def test_home_openapi_and_context(served: str) -> None:
    assert "jobtrail" in httpx.get(served).text
    spec = httpx.get(served + "openapi.json").json()
    assert spec["openapi"].startswith("3.") and "/{path}" in spec["paths"]  # the fallback
    context = httpx.get(served + "contexts/jobtrail").json()
    assert context["@context"]["jt"] == "https://w3id.org/jobtrail/vocab#"


RDFS_COMMENT = "<http://www.w3.org/2000/01/rdf-schema#comment>"


def test_kept_renditions_follow_updates(sparql_admin_served: str) -> None:
    """Renditions of immutable resources are kept, but an update through the server is seen."""
    base = sparql_admin_served
    iri = base + PRODUCER
    first, second = httpx.get(iri), httpx.get(iri)
    assert first.status_code == 200 and first.content == second.content
    auth = {"Authorization": "Bearer " + ADMIN_TOKEN}
    added = httpx.post(
        base + "update",
        headers={**auth, "Content-Type": "application/sparql-update"},
        content=f'INSERT DATA {{ GRAPH <{iri}> {{ <{iri}> {RDFS_COMMENT} "changed" }} }}',
    )
    assert added.status_code == 204
    assert b"changed" in httpx.get(iri).content
    dropped = httpx.post(
        base + "update",
        headers={**auth, "Content-Type": "application/sparql-update"},
        content=f"DROP GRAPH <{iri}>",
    )
    assert dropped.status_code == 204
    assert httpx.get(iri).status_code == 404
