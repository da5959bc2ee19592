"""Literals some readers change: `rdf:JSON` keeps its lexical form, and a direction-tagged
literal (RDF 1.2, `"…"@ar--rtl`) its direction, in every RDF format and every SPARQL result
format, read back by independent readers (pyld for JSON-LD, pyoxigraph for the rest)."""

from __future__ import annotations

import json
import uuid

import httpx
import pyoxigraph as ox
from pyld import jsonld

from tests.conftest import ADMIN_TOKEN

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
RDF_JSON = "http://www.w3.org/1999/02/22-rdf-syntax-ns#JSON"
LEXICAL = '{"b": 1,  "a": [2, 1], "z": {"y": null}}'  # key order and spacing kept
TEXT = "مرحبا بالعالم"
FORMATS = {
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "application/n-quads": ox.RdfFormat.N_QUADS,
    "application/trig": ox.RdfFormat.TRIG,
}


def _stored(base: str) -> str:
    graph = f"http://example.org/literals/{uuid.uuid4()}"
    escaped = LEXICAL.replace('"', '\\"')
    data = (
        f'<{graph}#s> <urn:x:json> "{escaped}"^^<{RDF_JSON}> .\n'
        f'<{graph}#s> <urn:x:text> "{TEXT}"@ar--rtl .\n'
    )
    put = httpx.put(
        f"{base}store",
        params={"graph": graph},
        content=data.encode(),
        headers={**AUTH, "Content-Type": "application/n-triples"},
    )
    assert put.status_code == 201, put.text
    return graph


def _construct(base: str, graph: str, accept: str) -> httpx.Response:
    query = f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"
    answer = httpx.get(
        f"{base}sparql", params={"query": query}, headers={**AUTH, "Accept": accept}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    return answer


def test_every_rdf_format_keeps_them(sparql_admin_served: str) -> None:
    graph = _stored(sparql_admin_served)
    for accept, fmt in FORMATS.items():
        body = _construct(sparql_admin_served, graph, accept).content
        found = {q.predicate.value: q.object for q in ox.parse(body, format=fmt)}
        assert found["urn:x:json"] == ox.Literal(LEXICAL, datatype=ox.NamedNode(RDF_JSON)), accept
        text = found["urn:x:text"]
        assert isinstance(text, ox.Literal)
        assert (text.value, text.language, text.direction) == (TEXT, "ar", ox.BaseDirection.RTL)
    n3 = _construct(sparql_admin_served, graph, "text/n3").content  # N3 has no direction
    found = {q.predicate.value: q.object for q in ox.parse(n3, format=ox.RdfFormat.N3)}
    assert found["urn:x:text"] == ox.Literal(
        TEXT, datatype=ox.NamedNode("https://www.w3.org/ns/i18n#ar_rtl")
    )


def test_json_ld_keeps_them_for_pyld(sparql_admin_served: str) -> None:
    graph = _stored(sparql_admin_served)
    answer = _construct(sparql_admin_served, graph, "application/ld+json")
    doc = answer.json()
    context = httpx.get(doc["@context"], headers={"Accept": "application/ld+json"}).json()
    doc["@context"] = context["@context"]
    options = {"format": "application/n-quads", "rdfDirection": "i18n-datatype"}
    nquads = jsonld.to_rdf(doc, options)
    found = {q.predicate.value: q.object for q in ox.parse(nquads, format=ox.RdfFormat.N_QUADS)}
    assert found["urn:x:json"] == ox.Literal(LEXICAL, datatype=ox.NamedNode(RDF_JSON))
    assert found["urn:x:text"] == ox.Literal(
        TEXT, datatype=ox.NamedNode("https://www.w3.org/ns/i18n#ar_rtl")
    )
    assert json.dumps(doc, ensure_ascii=False).count('"@direction": "rtl"') == 1


def test_every_result_format_keeps_the_direction(sparql_admin_served: str) -> None:
    graph = _stored(sparql_admin_served)
    query = f"SELECT ?o WHERE {{ GRAPH <{graph}> {{ ?s <urn:x:text> ?o }} }}"
    for accept, fmt in (
        ("application/sparql-results+json", ox.QueryResultsFormat.JSON),
        ("application/sparql-results+xml", ox.QueryResultsFormat.XML),
    ):
        answer = httpx.get(
            f"{sparql_admin_served}sparql",
            params={"query": query},
            headers={**AUTH, "Accept": accept},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        (row,) = list(ox.parse_query_results(answer.content, format=fmt))  # type: ignore[arg-type]
        assert row["o"] == ox.Literal(TEXT, language="ar", direction=ox.BaseDirection.RTL)
    csv = httpx.get(
        f"{sparql_admin_served}sparql",
        params={"query": query},
        headers={**AUTH, "Accept": "text/csv"},
        timeout=30,
    )
    assert csv.status_code == 200 and TEXT in csv.text
