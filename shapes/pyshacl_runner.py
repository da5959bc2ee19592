"""pySHACL over the shapes files, its results turned into our Report."""

from __future__ import annotations

from collections.abc import Iterable

import pyshacl  # type: ignore[import-untyped]
from rdflib import Graph, Literal

from jobtrail.store import Triple
from jobtrail.vocab.terms import SH

from . import shapes_graph
from .report import Report, Result


def run(triples: Iterable[Triple]) -> Report:
    data = Graph()
    data.parse(data="".join(f"{s} {p} {o} .\n" for s, p, o in triples), format="nt")
    _conforms, results_graph, _text = pyshacl.validate(
        data,
        shacl_graph=shapes_graph(),
        inference="none",
        allow_warnings=True,
        advanced=False,
    )
    results = []
    for r in results_graph.subjects(SH.resultSeverity, None):
        value = results_graph.value(r, SH.value)
        path = results_graph.value(r, SH.resultPath)
        results.append(Result(
            focus=str(results_graph.value(r, SH.focusNode)),
            path=str(path) if path is not None else None,
            message=str(results_graph.value(r, SH.resultMessage) or ""),
            severity=str(results_graph.value(r, SH.resultSeverity)),
            shape=str(results_graph.value(r, SH.sourceShape)),
            component=str(results_graph.value(r, SH.sourceConstraintComponent)),
            value=value.n3() if isinstance(value, Literal) else (str(value) if value is not None else None),
        ))
    return Report(results)
