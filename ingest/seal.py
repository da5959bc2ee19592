"""Tamper evidence: every stored message is sealed into one store-wide log.

When a message is stored it gets three more triples: its position in the log
(`jt:logPosition`), the digest of the message before it (`jt:previousDigest`,
empty for the first) and its own digest (`jt:digest`): SHA-256 of the
previous digest and of the message's triples in a canonical form. The
message's `jt:sha256` already names its original bytes. `verify` walks the
log in order and recomputes all of it from what the store holds now; the
first message whose triples, original bytes or link to the one before no
longer match is named — an edited triple, a removed or inserted message.

The canonical form is one line per triple, sorted: IRIs as they are, every
blank node as `_:`, literals by value (Oxigraph stores `01`^^xsd:integer as
`1` and `+00:00` as `Z`, so typed values are normalised the same way on both
sides). The log's head is read from the store when a `Log` is opened; one
process writes to a store at a time (the embedded store's lock), so the
positions are dense. Producers' graphs are not sealed.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import pyoxigraph as ox
from jobtrail.base import nt
from jobtrail.base.terms import JT, XSD
from jobtrail.ingest.message import original_bytes
from jobtrail.store import ResourceGraph, Store, Triple

_J = str(JT)
_X = str(XSD)
POSITION, PREVIOUS, DIGEST = (f"{_J}logPosition", f"{_J}previousDigest", f"{_J}digest")
SEAL = frozenset({POSITION, PREVIOUS, DIGEST})
_SEAL_TERMS = frozenset(f"<{p}>" for p in SEAL)
_STRING = f"{_X}string"
_TIMEZONE = re.compile(r"[+-]00:00$")
_FRACTION = re.compile(r"(\.\d*?)0+(?=Z|[+-]|$)")


def _number(value: str, kind: Callable[[str], object]) -> str:
    try:
        return str(kind(value.strip()))
    except (ValueError, InvalidOperation):
        return value


def _decimal(value: str) -> object:
    d = Decimal(value)
    return d.normalize() if d != d.to_integral() else d.to_integral()


_NORMALISE: dict[str, Callable[[str], str]] = {
    f"{_X}integer": lambda v: _number(v, int),
    f"{_X}decimal": lambda v: _number(v, _decimal),
    f"{_X}double": lambda v: _number(v, float),
    f"{_X}float": lambda v: _number(v, float),
    f"{_X}boolean": lambda v: {"1": "true", "0": "false"}.get(v.strip(), v.strip()),
    f"{_X}dateTime": lambda v: _FRACTION.sub(
        lambda m: "" if m.group(1) == "." else m.group(1), _TIMEZONE.sub("Z", v.strip())
    ),
}


def _literal(value: str, datatype: str | None, language: str | None) -> str:
    text = json.dumps(value, ensure_ascii=False)
    if language:
        return f"{text}@{language.lower()}"
    if datatype and datatype != _STRING:
        normalise = _NORMALISE.get(datatype)
        if normalise is not None:
            text = json.dumps(normalise(value), ensure_ascii=False)
        return f"{text}^^<{datatype}>"
    return text


def _from_text(term: str) -> str:
    kind, value, extra = nt.parse_term(term)
    if kind == "iri":
        return term
    if kind == "bnode":
        return "_:"
    if extra is not None and extra.startswith("@"):
        return _literal(value, None, extra[1:])
    return _literal(value, extra, None)


def _from_term(term: ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple) -> str:
    if isinstance(term, ox.NamedNode):
        return f"<{term.value}>"
    if isinstance(term, ox.BlankNode):
        return "_:"
    if isinstance(term, ox.Literal):
        return _literal(term.value, term.datatype.value, term.language)
    return str(term)


def digest_of_lines(lines: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(lines)).encode("utf-8")).hexdigest()


def content_digest(triples: Iterable[Triple]) -> str:
    """The digest of a graph about to be stored (N-Triples term strings), seal excluded."""
    return digest_of_lines(
        f"{_from_text(s)} {_from_text(p)} {_from_text(o)}"
        for s, p, o in triples
        if p not in _SEAL_TERMS
    )


def stored_digest(triples: Iterable[ox.Triple]) -> str:
    """The same digest of a graph as the store returns it."""
    return digest_of_lines(
        f"{_from_term(t.subject)} {_from_term(t.predicate)} {_from_term(t.object)}"
        for t in triples
        if t.predicate.value not in SEAL
    )


def chain(previous: str, content: str) -> str:
    return hashlib.sha256(f"{previous}:{content}".encode("ascii")).hexdigest()


class Log:
    """The store-wide log's head; `seal` appends a message to it (thread-safe)."""

    def __init__(self, store: Store):
        self._lock = threading.Lock()
        self.position, self.previous = 0, ""
        rows = store.query(
            f"SELECT ?n ?d WHERE {{ ?m <{POSITION}> ?n ; <{DIGEST}> ?d }} ORDER BY DESC(?n) LIMIT 1"
        )
        for row in rows:  # type: ignore[union-attr]
            self.position, self.previous = int(row["n"].value), row["d"].value

    def seal(self, graph: ResourceGraph) -> None:
        s = nt.iri(graph.iri)
        content = content_digest(graph.triples)
        with self._lock:
            self.position += 1
            sealed = chain(self.previous, content)
            graph.triples += [
                (s, nt.iri(POSITION), nt.integer(self.position)),
                (s, nt.iri(PREVIOUS), nt.lit(self.previous)),
                (s, nt.iri(DIGEST), nt.lit(sealed)),
            ]
            self.previous = sealed


@dataclass(frozen=True)
class Finding:
    position: int
    message: str
    problem: str


def verify(store: Store, progress: Callable[[int], None] | None = None) -> Iterator[Finding]:
    """Walk the log in order; yield what no longer matches (stop at the first if you like)."""
    rows = store.query(
        f"SELECT ?m ?n ?p ?d WHERE {{ GRAPH ?m {{ ?m <{POSITION}> ?n ; <{PREVIOUS}> ?p ; "
        f"<{DIGEST}> ?d }} }} ORDER BY ?n"
    )
    expected_position, previous = 1, ""
    for row in rows:  # type: ignore[union-attr]
        m, n = row["m"].value, int(row["n"].value)
        if progress is not None:
            progress(n)
        if n != expected_position:
            yield Finding(n, m, f"the log jumps from position {expected_position - 1} to {n}")
        if row["p"].value != previous:
            yield Finding(n, m, "it does not follow the message before it in the log")
        triples = store.read(m)
        if chain(row["p"].value, stored_digest(triples)) != row["d"].value:
            yield Finding(n, m, "its triples are not the ones it was stored with")
        problem = _original(m, triples)
        if problem:
            yield Finding(n, m, problem)
        expected_position, previous = n + 1, row["d"].value


def _original(iri: str, triples: list[ox.Triple]) -> str | None:
    values = {t.predicate.value: t.object.value for t in triples if t.subject.value == iri}  # type: ignore[union-attr]
    text, b64 = values.get(f"{_J}originalText"), values.get(f"{_J}originalBase64")
    if text is None and b64 is None:
        return None
    digest = hashlib.sha256(original_bytes(text, b64)).hexdigest()
    if digest != values.get(f"{_J}sha256") or not iri.endswith(digest):
        return "its original bytes do not hash to its SHA-256"
    return None
