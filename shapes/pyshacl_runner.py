"""pySHACL over the shapes files, its results turned into our Report.

Two things keep this reference validator comparable with the fast path:

- The data graph is built from the N-Triples term strings directly, every
  literal made with ``normalize=False``: rdflib would otherwise rewrite
  literals to a canonical form (``"01"^^xsd:integer`` becomes ``"1"``) and
  merge two distinct terms into one triple. This is what setting
  ``rdflib.NORMALIZE_LITERALS = False`` around a parse would do, without
  flipping a process-wide switch that other threads parsing RDF would see.
- Results are rendered as the fast path renders them (`render_term`): an IRI
  focus node bare, any other focus node and every value as the N-Triples term
  the data gave, so `Report.text()` and `as_json()` do not depend on which
  validator ran.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyshacl
from jobtrail.base.nt import parse_term
from jobtrail.base.terms import SH
from jobtrail.shapes.compiled import _nt
from jobtrail.shapes.files import shapes_graph
from jobtrail.shapes.report import Report, Result
from jobtrail.store import Triple
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Identifier, Node

_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


def _term(term: str) -> Identifier:
    kind, value, extra = parse_term(term)
    if kind == "iri":
        return URIRef(value)
    if kind == "bnode":
        return BNode(value)
    assert extra is not None
    if extra.startswith("@"):
        return Literal(value, lang=extra[1:], normalize=False)
    return Literal(value, datatype=None if extra == _XSD_STRING else URIRef(extra), normalize=False)


def data_graph(triples: Iterable[Triple]) -> tuple[Graph, dict[Node, str]]:
    """The triples as an rdflib graph (literals as written), and each term's N-Triples string."""
    graph = Graph()
    made: dict[str, Identifier] = {}
    written: dict[Node, str] = {}
    for triple in triples:
        spo = []
        for t in triple:
            node = made.get(t)
            if node is None:
                node = made[t] = _term(t)
                written.setdefault(node, t)
            spo.append(node)
        graph.add((spo[0], spo[1], spo[2]))
    return graph, written


def render_term(node: Node | None, written: dict[Node, str], *, focus: bool = False) -> str | None:
    """As compiled.py writes it: an IRI focus node bare, anything else as N-Triples."""
    if node is None:
        return None
    if focus and isinstance(node, URIRef):
        return str(node)
    return written.get(node) or _nt(node)


def report(results_graph: Graph, written: dict[Node, str]) -> Report:
    """The report's own results (sh:result), not the nested ones an sh:node failure
    carries with sh:detail."""
    results = []
    for r in results_graph.objects(None, SH.result):
        path = results_graph.value(r, SH.resultPath)
        results.append(
            Result(
                focus=render_term(results_graph.value(r, SH.focusNode), written, focus=True) or "",
                path=str(path) if path is not None else None,
                message=str(results_graph.value(r, SH.resultMessage) or ""),
                severity=str(results_graph.value(r, SH.resultSeverity)),
                shape=str(results_graph.value(r, SH.sourceShape)),
                component=str(results_graph.value(r, SH.sourceConstraintComponent)),
                value=render_term(results_graph.value(r, SH.value), written),
            )
        )
    return Report(results)


def run_with(shacl_graph: Graph, triples: Iterable[Triple]) -> Report:
    """pySHACL with any shapes graph over one message's triples."""
    data, written = data_graph(triples)
    _conforms, results_graph, _text = pyshacl.validate(
        data,
        shacl_graph=shacl_graph,
        inference="none",
        allow_warnings=True,
        advanced=False,
    )
    return report(results_graph, written)


def run(triples: Iterable[Triple]) -> Report:
    return run_with(shapes_graph(), triples)
