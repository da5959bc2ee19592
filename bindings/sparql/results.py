"""SPARQL results written out: SELECT solutions and ASK answers in SPARQL JSON, XML, CSV
and TSV. Used by the endpoint and by the query processes (`worker.py`), so it imports
nothing of the web server."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pyoxigraph as ox
from jobtrail.base.xmltext import carried_utf8
from jobtrail.web import conneg

_RESULTS_FORMAT = {
    "xml": ox.QueryResultsFormat.XML,
    "csv": ox.QueryResultsFormat.CSV,
    "tsv": ox.QueryResultsFormat.TSV,
}
_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


def results_body(
    fmt: conneg.Format,
    *,
    names: list[str] | None = None,
    solutions: Iterable[Any] = (),
    boolean: bool | None = None,
) -> bytes:
    """SELECT solutions (taken already) or an ASK answer in a SPARQL results format.

    One writer of our own (JSON); Oxigraph converts it to XML, CSV and TSV.
    """
    doc: dict[str, Any]
    if boolean is not None:
        doc = {"head": {}, "boolean": boolean}
    else:
        vars_ = names or []
        bindings = [
            {n: term_json(t) for n, t in zip(vars_, s, strict=True) if t is not None}
            for s in solutions
        ]
        doc = {"head": {"vars": vars_}, "results": {"bindings": bindings}}
    body = json.dumps(doc, ensure_ascii=False).encode("utf-8")
    if fmt.key in _RESULTS_FORMAT:
        parsed = ox.parse_query_results(body, format=ox.QueryResultsFormat.JSON)
        body = parsed.serialize(format=_RESULTS_FORMAT[fmt.key]) or b""
        if _RESULTS_FORMAT[fmt.key] == ox.QueryResultsFormat.XML:
            body = carried_utf8(body)  # a literal's U+0001 is written raw: not XML
    return body


def term_json(t: Any) -> dict[str, Any]:
    if isinstance(t, ox.NamedNode):
        return {"type": "uri", "value": t.value}
    if isinstance(t, ox.BlankNode):
        return {"type": "bnode", "value": t.value}
    if isinstance(t, ox.Literal):
        out = {"type": "literal", "value": t.value}
        if t.language:
            out["xml:lang"] = t.language
            if t.direction is not None:  # SPARQL 1.2 results: the base direction
                out["its:dir"] = str(t.direction.value)
        elif t.datatype.value != _XSD_STRING:
            out["datatype"] = t.datatype.value
        return out
    parts = {"subject": t.subject, "predicate": t.predicate, "object": t.object}
    return {"type": "triple", "value": {k: term_json(v) for k, v in parts.items()}}
