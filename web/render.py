"""Resource descriptions in every RDF format, from pyoxigraph triples.

Turtle, RDF/XML, N3, N-Triples, N-Quads and TriG are written by Oxigraph;
JSON-LD is compacted with the project's context by pyld (through the same
local document loader the readers use, so nothing is fetched).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pyoxigraph as ox
from jobtrail.base.terms import PREFIXES
from jobtrail.base.xmltext import carried_utf8
from jobtrail.ingest.jsonld import document_loader
from jobtrail.web import conneg
from pyld import jsonld

CONTEXT_URL = "https://w3id.org/jobtrail/context"

_OXIGRAPH: dict[str, ox.RdfFormat] = {
    "turtle": ox.RdfFormat.TURTLE,
    "rdfxml": ox.RdfFormat.RDF_XML,
    "n3": ox.RdfFormat.N3,
    "ntriples": ox.RdfFormat.N_TRIPLES,
    "nquads": ox.RdfFormat.N_QUADS,
    "trig": ox.RdfFormat.TRIG,
}
_PREFIXED = {"turtle", "rdfxml", "n3", "trig"}


def rdf(
    triples: Sequence[ox.Triple], fmt: conneg.Format, *, graph: str | None = None, base: str = ""
) -> bytes:
    """Serialise a resource's triples; N-Quads and TriG keep them in their named graph.

    JSON-LD names its context by this server's URL for it (`{base}contexts/jobtrail`),
    so a client that dereferences the context gets it from here, never from outside.
    """
    if fmt is conneg.JSONLD:
        return _jsonld(triples, f"{base}contexts/jobtrail")
    target = _OXIGRAPH[fmt.key]
    if target == ox.RdfFormat.N3:  # N3 has no base direction: the i18n datatype says it
        triples = [_i18n(t) for t in triples]
    data: Sequence[ox.Triple] | list[ox.Quad] = triples
    if target in (ox.RdfFormat.N_QUADS, ox.RdfFormat.TRIG) and graph is not None:
        g = ox.NamedNode(graph)
        data = [ox.Quad(t.subject, t.predicate, t.object, g) for t in triples]
    prefixes = _used_prefixes(triples) if fmt.key in _PREFIXED else None
    out = ox.serialize(data, format=target, prefixes=prefixes)
    assert out is not None
    if target == ox.RdfFormat.RDF_XML:  # Oxigraph writes a literal's U+0001 raw: not XML
        return carried_utf8(out)
    return out


_RDF_JSON = "http://www.w3.org/1999/02/22-rdf-syntax-ns#JSON"
_I18N = "https://www.w3.org/ns/i18n#"
_HELD = "\ue000jobtrail-held-literal-"
"""Placeholders start with a private-use character no stored literal starts with."""


def _used_prefixes(triples: Sequence[ox.Triple]) -> dict[str, str]:
    """Only the prefixes the document uses, so it does not open with a dozen unused lines."""
    iris = {t.predicate.value for t in triples}
    for t in triples:
        for term in (t.subject, t.object):
            if isinstance(term, ox.NamedNode):
                iris.add(term.value)
            elif isinstance(term, ox.Literal):
                iris.add(term.datatype.value)
    return {p: ns for p, ns in PREFIXES.items() if any(i.startswith(ns) for i in iris)}


def _jsonld(triples: Sequence[ox.Triple], context_url: str) -> bytes:
    held: dict[str, dict[str, str]] = {}
    nquads = ox.serialize([_placeheld(t, held) for t in triples], format=ox.RdfFormat.N_TRIPLES)
    assert nquads is not None
    options: dict[str, Any] = {"format": "application/n-quads", "documentLoader": document_loader}
    expanded = jsonld.from_rdf(nquads.decode("utf-8"), options)
    compacted = jsonld.compact(expanded, CONTEXT_URL, {"documentLoader": document_loader})
    compacted["@context"] = context_url
    return json.dumps(_restored(compacted, held), ensure_ascii=False, indent=2).encode("utf-8")


def _i18n(triple: ox.Triple) -> ox.Triple:
    """A direction-tagged literal as an `i18n` datatype (JSON-LD 1.1's `i18n-datatype`
    form: `"…"^^<https://www.w3.org/ns/i18n#ar_rtl>`), for a format without directions."""
    term = triple.object
    if not isinstance(term, ox.Literal) or term.direction is None:
        return triple
    datatype = ox.NamedNode(f"{_I18N}{term.language or ''}_{term.direction.value}")
    return ox.Triple(triple.subject, triple.predicate, ox.Literal(term.value, datatype=datatype))


def _placeheld(triple: ox.Triple, held: dict[str, dict[str, str]]) -> ox.Triple:
    """The triple, with a literal pyld would change (an `rdf:JSON` one: parsed, its keys
    reordered; a direction-tagged one: not read at all) in place of a plain placeholder
    string, kept in `held` with the value object that says it exactly."""
    term = triple.object
    if not isinstance(term, ox.Literal):
        return triple
    if term.direction is not None:
        value = {
            "@value": term.value,
            "@language": term.language or "",
            "@direction": str(term.direction.value),
        }
    elif term.datatype.value == _RDF_JSON:
        value = {"@value": term.value, "@type": _RDF_JSON}  # the lexical form, as it is
    else:
        return triple
    key = f"{_HELD}{len(held)}"
    held[key] = value
    return ox.Triple(triple.subject, triple.predicate, ox.Literal(key))


def _restored(node: Any, held: dict[str, dict[str, str]]) -> Any:
    """The compacted document with every placeholder back as its value object."""
    if not held:
        return node
    if isinstance(node, str):
        return held.get(node, node)
    if isinstance(node, list):
        return [_restored(n, held) for n in node]
    if isinstance(node, dict):
        if set(node) == {"@value"} and node["@value"] in held:
            return held[node["@value"]]
        return {k: _restored(v, held) for k, v in node.items()}
    return node
