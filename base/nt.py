"""N-Triples term strings: how readers write triples without building term objects.

Building a pyoxigraph term costs about as much as storing it, so the hot
path writes terms as N-Triples text and lets Oxigraph parse them natively.
Every IRI that comes from input is checked with pyoxigraph's own IRI parser
first, so one bad value can never make a whole batch fail to load.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache, lru_cache
from json.encoder import encode_basestring

import pyoxigraph as ox
from jobtrail.base.terms import JT, PROV, RDF, RDFS, XSD

_XSD = str(XSD)
XSD_STRING = f"{_XSD}string"
XSD_DATETIME = f"{_XSD}dateTime"
XSD_DOUBLE = f"{_XSD}double"
XSD_INTEGER = f"{_XSD}integer"


def iri(value: str) -> str:
    """A trusted IRI (ours, or already checked) as an N-Triples term."""
    return f"<{value}>"


@lru_cache(maxsize=65536)
def checked_iri(value: str) -> str | None:
    """An IRI from input as an N-Triples term, or None if it is not a valid absolute IRI."""
    try:
        ox.NamedNode(value)
    except ValueError:
        return None
    return f"<{value}>" if ":" in value else None


# JSON's string escaping is a subset of N-Triples' (\" \\ \n \r \t \b \f \uXXXX),
# and the C encoder is several times faster than anything written here.
lit: Callable[[str], str] = encode_basestring
"""A plain (xsd:string) literal."""


def typed(value: str, datatype: str) -> str:
    return f"{encode_basestring(value)}^^<{datatype}>"


def integer(value: int) -> str:
    return f'"{value}"^^<{XSD_INTEGER}>'


def boolean(value: bool) -> str:
    return f'"{"true" if value else "false"}"^^<{_XSD}boolean>'


def datetime_lit(value: datetime) -> str:
    return f'"{value.isoformat().replace("+00:00", "Z")}"^^<{XSD_DATETIME}>'


def now() -> str:
    return datetime_lit(datetime.now(UTC))


def json_lit(value: object) -> str:
    """Any JSON value as an rdf:JSON literal (compact, keys in given order)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return f"{encode_basestring(text)}^^<{RDF}JSON>"


_ESCAPES = re.compile(r"\\(U[0-9A-Fa-f]{8}|u[0-9A-Fa-f]{4}|.)")
_SIMPLE = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


def _unescape(match: re.Match[str]) -> str:
    code = match.group(1)
    if code[0] in "uU" and len(code) > 1:
        return chr(int(code[1:], 16))
    return _SIMPLE.get(code, code)


@lru_cache(maxsize=65536)
def parse_term(term: str) -> tuple[str, str, str | None]:
    """Split an N-Triples term into (kind, value, datatype-or-language).

    kind is "iri", "bnode" or "literal"; for literals the third item is the
    datatype IRI (xsd:string when none is written) or "@lang".
    """
    first = term[0]
    if first == "<":
        return "iri", term[1:-1], None
    if first == "_":
        return "bnode", term[2:], None
    end = term.rfind('"')
    raw = term[1:end]
    value = _ESCAPES.sub(_unescape, raw) if "\\" in raw else raw
    rest = term[end + 1 :]
    if rest.startswith("^^<"):
        return "literal", value, rest[3:-1]
    if rest.startswith("@"):
        return "literal", value, rest
    return "literal", value, f"{_XSD}string"


# Predicates and classes every reader uses, as N-Triples terms.
A = iri(str(RDF.type))
LABEL = iri(str(RDFS.label))
GENERATED_AT = iri(str(PROV.generatedAtTime))
ATTRIBUTED_TO = iri(str(PROV.wasAttributedTo))
GENERATED_BY = iri(str(PROV.wasGeneratedBy))
ASSOCIATED_WITH = iri(str(PROV.wasAssociatedWith))


@cache
def jt(name: str) -> str:
    """A jobtrail term as N-Triples; fails for a term the ontology does not declare."""
    return iri(str(getattr(JT, name)))
