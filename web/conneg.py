"""Content negotiation, for every route: RFC 9110 Accept, file extensions, older media type names.

A route says which formats it can produce and which one is its default; `negotiate`
picks one from the request's Accept header (q-values, wildcards, the most specific
range winning), or raises NotAcceptable listing what is available. A file
extension on the path (`/jobs/1.rdf`) is an explicit choice and overrides Accept.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from jobtrail.base.errors import NotAcceptable


@dataclass(frozen=True)
class Format:
    key: str
    media_type: str
    extension: str | None
    aliases: tuple[str, ...] = ()
    label: str = ""

    def content_type(self) -> str:
        textual = self.media_type.startswith("text/") or self.media_type.endswith(
            ("+xml", "json", "xml")
        )
        return f"{self.media_type}; charset=utf-8" if textual else self.media_type

    def matches(self, media_type: str) -> bool:
        return media_type == self.media_type or media_type in self.aliases


TURTLE = Format("turtle", "text/turtle", ".ttl", ("application/x-turtle",), "Turtle")
JSONLD = Format("jsonld", "application/ld+json", ".jsonld", ("application/json",), "JSON-LD")
RDFXML = Format("rdfxml", "application/rdf+xml", ".rdf", ("application/xml", "text/xml"), "RDF/XML")
N3 = Format("n3", "text/n3", ".n3", ("text/rdf+n3", "application/n3"), "N3")
NTRIPLES = Format("ntriples", "application/n-triples", ".nt", (), "N-Triples")
NQUADS = Format("nquads", "application/n-quads", ".nq", (), "N-Quads")
TRIG = Format("trig", "application/trig", ".trig", (), "TriG")
ATOM = Format("atom", "application/atom+xml", ".atom", (), "Atom")
HTML = Format("html", "text/html", ".html", ("application/xhtml+xml",), "HTML")

RDF_FORMATS: tuple[Format, ...] = (TURTLE, JSONLD, RDFXML, N3, NTRIPLES, NQUADS, TRIG)
"""Every RDF syntax a resource description is offered in, in the server's order of preference."""

SPARQL_JSON = Format(
    "json", "application/sparql-results+json", ".srj", ("application/json",), "SPARQL JSON"
)
SPARQL_XML = Format(
    "xml", "application/sparql-results+xml", ".srx", ("application/xml", "text/xml"), "SPARQL XML"
)
CSV = Format("csv", "text/csv", ".csv", (), "CSV")
TSV = Format("tsv", "text/tab-separated-values", ".tsv", (), "TSV")
RESULT_FORMATS: tuple[Format, ...] = (SPARQL_JSON, SPARQL_XML, CSV, TSV)

BY_EXTENSION: dict[str, Format] = {
    f.extension: f for f in (*RDF_FORMATS, ATOM, HTML, *RESULT_FORMATS) if f.extension
}


@dataclass(frozen=True)
class MediaRange:
    type: str
    subtype: str
    q: float
    params: tuple[tuple[str, str], ...] = ()

    @property
    def specificity(self) -> int:
        if self.type == "*":
            return 0
        if self.subtype == "*":
            return 1
        return 2 + len(self.params)

    def covers(self, media_type: str) -> bool:
        kind, _, sub = media_type.partition("/")
        return self.type in ("*", kind) and self.subtype in ("*", sub)


_QVALUE = re.compile(r"0(\.[0-9]{0,3})?|1(\.0{0,3})?")
"""RFC 9110 §12.4.2's qvalue; a q that is not one (`q=abc`, `q=-1`, `q=0.1234`) is ignored."""


def parse_accept(header: str) -> list[MediaRange]:
    """The ranges of an Accept header; malformed parts are skipped, as RFC 9110 allows."""
    ranges = []
    for part in header.split(","):
        pieces = [p.strip() for p in part.split(";")]
        kind, slash, sub = pieces[0].lower().partition("/")
        if not slash or not kind or not sub:
            continue
        q = 1.0
        params = []
        for p in pieces[1:]:
            name, eq, value = p.partition("=")
            name, value = name.strip().lower(), value.strip().strip('"')
            if name == "q":
                if _QVALUE.fullmatch(value):  # else ignored, as RFC 9110 §12.4.2 allows
                    q = float(value)
            elif eq and name != "charset":  # charset says nothing about the format
                params.append((name, value))
        ranges.append(MediaRange(kind, sub, q, tuple(params)))
    return ranges


def quality(ranges: Sequence[MediaRange], fmt: Format) -> float:
    """The q the client gives a format: that of the most specific range covering it.

    Wildcards cover a format's own media type only; its aliases (`text/rdf+n3`,
    `application/xml` …) count only when named exactly.
    """
    best: MediaRange | None = None
    for r in ranges:
        named = r.specificity >= 2 and f"{r.type}/{r.subtype}" in fmt.aliases
        more_specific = best is None or r.specificity > best.specificity
        if (r.covers(fmt.media_type) or named) and more_specific:
            best = r
    return best.q if best else 0.0


def negotiate(accept: str | None, available: Sequence[Format], default: Format) -> Format:
    """The format to answer with; NotAcceptable when the client accepts none of them."""
    if not accept or not accept.strip():
        return default
    ranges = parse_accept(accept)
    if not ranges:
        return default
    if all(r.type == "*" for r in ranges) and all(r.q > 0 for r in ranges):
        return default
    # the highest q wins; ties go to the default, then to the server's order of preference
    q, _, _, best = max(
        ((quality(ranges, f), f is default, -i, f) for i, f in enumerate(available)),
        key=lambda t: t[:3],
    )
    if q <= 0:
        raise NotAcceptable(
            f"none of the formats in Accept: {accept} is available here",
            hint="available: " + ", ".join(f.media_type for f in available),
            details={"available": [f.media_type for f in available]},
        )
    return best


def split_extension(path: str) -> tuple[str, Format | None]:
    """`/jobs/1.rdf` → (`/jobs/1`, RDF/XML); a path without a known extension is unchanged."""
    dot = path.rfind(".")
    if dot > path.rfind("/"):
        fmt = BY_EXTENSION.get(path[dot:].lower())
        if fmt is not None:
            return path[:dot], fmt
    return path, None
