"""The SPARQL 1.1 Service Description of the endpoint: what `GET /sparql` without a query
answers in an RDF format (Turtle by default; a browser's HTML still gets the query page)."""

from __future__ import annotations

import pyoxigraph as ox
from jobtrail.bindings.sparql import federation
from jobtrail.web import conneg, render

SD = "http://www.w3.org/ns/sparql-service-description#"
FORMATS = "http://www.w3.org/ns/formats/"
_RESULT_FORMATS = (
    "SPARQL_Results_JSON",
    "SPARQL_Results_XML",
    "SPARQL_Results_CSV",
    "SPARQL_Results_TSV",
    "Turtle",
    "N-Triples",
    "RDF_XML",
    "JSON-LD",
    "N3",
    "N-Quads",
    "TriG",
)
_INPUT_FORMATS = ("Turtle", "N-Triples", "RDF_XML", "JSON-LD", "N-Quads", "TriG")


def describe(endpoint: str, federation_setting: str | None, fmt: conneg.Format) -> bytes:
    """The description of the endpoint at `endpoint` (its absolute URL) in `fmt`."""
    service = ox.NamedNode(endpoint)
    dataset, default = ox.BlankNode(), ox.BlankNode()
    a = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")

    def sd(name: str) -> ox.NamedNode:
        return ox.NamedNode(SD + name)

    triples = [
        ox.Triple(service, a, sd("Service")),
        ox.Triple(service, sd("endpoint"), service),
        ox.Triple(service, sd("supportedLanguage"), sd("SPARQL11Query")),
        ox.Triple(service, sd("supportedLanguage"), sd("SPARQL11Update")),
        ox.Triple(service, sd("feature"), sd("UnionDefaultGraph")),
        ox.Triple(service, sd("defaultDataset"), dataset),
        ox.Triple(dataset, a, sd("Dataset")),
        ox.Triple(dataset, sd("defaultGraph"), default),
        ox.Triple(default, a, sd("Graph")),
    ]
    if federation.allowed(federation_setting):
        triples.append(ox.Triple(service, sd("feature"), sd("BasicFederatedQuery")))
    triples += [
        ox.Triple(service, sd("resultFormat"), ox.NamedNode(FORMATS + f)) for f in _RESULT_FORMATS
    ]
    triples += [
        ox.Triple(service, sd("inputFormat"), ox.NamedNode(FORMATS + f)) for f in _INPUT_FORMATS
    ]
    return render.rdf(triples, fmt)
