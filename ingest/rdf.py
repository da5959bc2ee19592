"""RDF in any common syntax, parsed natively by Oxigraph.

A message given as RDF is one graph: its triples go into the message's graph
and blank nodes become IRIs inside it. A dataset with named graphs (N-Quads,
TriG) is a restore, not a message: each named graph is kept as the resource
graph it names (see `load`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

import pyoxigraph as ox
from jobtrail.base.errors import Location, MalformedInput, UnsupportedFormat
from jobtrail.base.xmltext import refuse_dtd
from jobtrail.store import ResourceGraph, Triple

FORMATS: dict[str, ox.RdfFormat] = {
    # no text/plain: N-Triples' old name, but an HTTP body of that type is plain text
    # (an error page, a log line), kept verbatim rather than refused as bad RDF
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/x-turtle": ox.RdfFormat.TURTLE,
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
    "text/n3": ox.RdfFormat.N3,
    "text/rdf+n3": ox.RdfFormat.N3,
    "application/n-quads": ox.RdfFormat.N_QUADS,
    "application/trig": ox.RdfFormat.TRIG,
}

EXTENSIONS: dict[str, str] = {
    ".ttl": "text/turtle",
    ".nt": "application/n-triples",
    ".rdf": "application/rdf+xml",
    ".owl": "application/rdf+xml",
    ".xml": "application/rdf+xml",
    ".n3": "text/n3",
    ".nq": "application/n-quads",
    ".trig": "application/trig",
}

DATASETS = {"application/n-quads", "application/trig"}


def rdf_format(media_type: str) -> ox.RdfFormat:
    fmt = FORMATS.get(media_type.split(";")[0].strip().lower())
    if fmt is None:
        raise UnsupportedFormat(
            f"no RDF reader for {media_type!r}",
            hint="RDF is read as " + ", ".join(sorted(FORMATS)),
        )
    return fmt


def _syntax_error(e: SyntaxError, source: str) -> MalformedInput:
    # Oxigraph gives the position (1-based line and column) where it has one;
    # its RDF/XML parser has none, and then only the message says what is wrong
    return MalformedInput(
        f"not valid RDF: {e.msg or e}", location=Location(source, e.lineno, e.offset)
    )


def triples(data: bytes, media_type: str, m: str, source: str) -> list[Triple]:
    """The triples of an RDF message, blank nodes made IRIs inside the message."""
    fmt = rdf_format(media_type)
    if fmt == ox.RdfFormat.RDF_XML:
        refuse_dtd(data, source, what="RDF/XML")  # the parser would expand its entities
    out: list[Triple] = []
    blanks: dict[str, str] = {}
    try:
        for q in ox.parse(data, format=fmt, base_iri=m, without_named_graphs=True):
            out.append((_term(q.subject, m, blanks), str(q.predicate), _term(q.object, m, blanks)))
    except SyntaxError as e:
        raise _syntax_error(e, source) from e
    return out


def _term(term: object, m: str, blanks: dict[str, str]) -> str:
    """A term as N-Triples; a blank node as `{m}#b{n}`, numbered in order of first appearance.

    Oxigraph's labels for anonymous nodes (`[]`, nested RDF/XML) are random, so
    the number, not the label, names the node: the same bytes give the same triples.
    """
    if isinstance(term, ox.BlankNode):
        skolem = blanks.get(term.value)
        if skolem is None:
            skolem = blanks[term.value] = f"<{m}#b{len(blanks)}>"
        return skolem
    if isinstance(term, ox.Triple):
        raise MalformedInput("RDF-star quoted triples are not stored")
    return str(term)


def dataset_graphs(
    data: bytes | IO[bytes], media_type: str, source: str
) -> Iterator[ResourceGraph]:
    """Named graphs of an N-Quads or TriG dump, one at a time, in order of appearance.

    Quads of one graph are expected together (as `jobtrail export` writes
    them); a graph that appears again later is reported as a second graph.
    """
    fmt = rdf_format(media_type)
    current: ResourceGraph | None = None
    try:
        for q in ox.parse(data, format=fmt):
            g = q.graph_name
            if not isinstance(g, ox.NamedNode):
                raise MalformedInput(
                    "a dump holds only named graphs; this one has triples in the default graph",
                    location=Location(source),
                    hint="load such a file as a message (Turtle or N-Triples) instead",
                )
            if current is None or current.iri != g.value:
                if current is not None:
                    yield current
                current = ResourceGraph(g.value)
            current.triples.append((str(q.subject), str(q.predicate), str(q.object)))
    except SyntaxError as e:
        raise _syntax_error(e, source) from e
    if current is not None:
        yield current
