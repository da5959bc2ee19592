"""Point lookups answered in the server, without a query process: one triple pattern about
one named subject.

A client's query goes to a query process (`isolation.py`) so that a query that crashes the
engine or runs long never reaches the server. Most clients' queries are point lookups
(`SELECT ?p ?o WHERE { <iri> ?p ?o }`), for which the trip to a process, and a snapshot
after every write, costs many times the lookup. `shape` recognises the queries that can
neither crash the engine nor run long, and `answer` runs them over the live store and
writes their results with the engine's own serialisers.

What is recognised (`shape`), by a tokenizer that refuses anything it does not know:
`PREFIX`/`BASE` declarations; `SELECT [DISTINCT|REDUCED] (?vars | *)` or `ASK`; an
optional `WHERE`; braces around exactly one triple pattern whose subject is an IRI (`<…>`
or a prefixed name) and whose predicate and object are variables or constants (no blank
node, no path, no `;`, `,` or `[]`); then at most `LIMIT n` and `OFFSET n`. No `FROM`, no
`FILTER`, `BIND`, function, `ORDER BY`, `GROUP BY`, aggregate, sub-query, `GRAPH`,
`SERVICE` or `VALUES`; no `\\u` escape anywhere (SPARQL lets one stand for any character).
The text the client sent is what the engine parses; the recogniser only says yes or no.

Why such a query cannot crash or run long: its evaluation is one range scan of the
engine's subject index over the quads of one subject (the union of the graphs, kept
distinct), with terms compared as stored, nothing sorted, no expression evaluated: the
engine's known aborts (tests/store/engine_sort_panic.py) are in sorting, which it never
reaches. Its cost is bounded by that subject's quads: before it runs, a probe asks for the
quad past `QUADS` of the subject (`OFFSET`, which walks the index without decoding any
term); a subject with more goes to a query process like any other query. So the work here
is at most `QUADS` index entries and rows, a few milliseconds, and the server never waits
on it for long.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass

import pyoxigraph as ox
from jobtrail.base.errors import QueryError, QueryTooLarge
from jobtrail.base.xmltext import carried_utf8
from jobtrail.bindings.sparql.results import results_body
from jobtrail.store.oxigraph import OxigraphStore
from jobtrail.web import conneg

QUADS = 1000
"""Most quads of the subject a query answered here may read; past it: a query process."""

_TOKEN = re.compile(
    r"""
    (?P<space>\s+|\#[^\n]*)
    |(?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
    |(?P<var>[?$][A-Za-z0-9_\u00b7\u00c0-\ufffd]+)
    |(?P<string>"(?:[^"\\\n\r]|\\[tbnrf"'\\])*"|'(?:[^'\\\n\r]|\\[tbnrf"'\\])*')
    |(?P<lang>@[A-Za-z]+(?:-[A-Za-z0-9]+)*)
    |(?P<datatype>\^\^)
    |(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
    |(?P<pname>(?:[A-Za-z][A-Za-z0-9_-]*)?:(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_-])?)?)
    |(?P<word>[A-Za-z]+)
    |(?P<punct>[{}.*])
    """,
    re.VERBOSE,
)
_CONSTANT = ("iri", "pname")


@dataclass(frozen=True)
class Shape:
    """A query `answer` may run: its form and the subject, as written (with its prologue)."""

    ask: bool
    prologue: str
    subject: str


def _tokens(text: str) -> list[tuple[str, str, int]] | None:
    """(kind, text, position) of every token; None if any character is not understood."""
    found: list[tuple[str, str, int]] = []
    at = 0
    while at < len(text):
        m = _TOKEN.match(text, at)
        if m is None or m.end() == at:
            return None
        kind = m.lastgroup or ""
        if kind != "space":
            value = m.group()
            found.append((kind, value.upper() if kind == "word" else value, at))
        at = m.end()
    return found


def shape(text: str) -> Shape | None:
    """The query's shape if it is one answered here (see the module's notes), else None."""
    if "\\u" in text.lower() or len(text) > 4000:
        return None
    tokens = _tokens(text)
    if tokens is None:
        return None
    tokens.append(("end", "", len(text)))
    i = 0

    def at(kind: str, value: str | None = None) -> bool:
        k, v, _ = tokens[i]
        return k == kind and (value is None or v == value)

    while at("word", "PREFIX") or at("word", "BASE"):
        i += 1
        if tokens[i - 1][1] == "PREFIX":
            if not (at("pname") and tokens[i][1].endswith(":")):
                return None
            i += 1
        if not at("iri"):
            return None
        i += 1
    prologue = text[: tokens[i][2]]
    if at("word", "ASK"):
        ask = True
        i += 1
    elif at("word", "SELECT"):
        ask = False
        i += 1
        if at("word", "DISTINCT") or at("word", "REDUCED"):
            i += 1
        if at("punct", "*"):
            i += 1
        elif at("var"):
            while at("var"):
                i += 1
        else:
            return None
    else:
        return None
    if at("word", "WHERE"):
        i += 1
    if not at("punct", "{"):
        return None
    if len(tokens) < i + 5:  # the pattern and what closes it
        return None
    subject, predicate, obj = tokens[i + 1 : i + 4]
    i += 4
    if subject[0] not in _CONSTANT:
        return None
    if predicate[0] not in ("var", *_CONSTANT) and predicate[:2] != ("word", "A"):
        return None
    if obj[0] == "string":
        if at("lang"):
            i += 1
        elif at("datatype"):
            i += 1
            if not (at("iri") or at("pname")):
                return None
            i += 1
    elif obj[0] not in ("var", "number", *_CONSTANT) and obj[:2] not in (
        ("word", "TRUE"),
        ("word", "FALSE"),
    ):
        return None
    if at("punct", "."):
        i += 1
    if not at("punct", "}"):
        return None
    i += 1
    seen: set[str] = set()
    while at("word", "LIMIT") or at("word", "OFFSET"):
        word = tokens[i][1]
        i += 1
        if word in seen or not at("number") or not tokens[i][1].isdigit():
            return None
        seen.add(word)
        i += 1
    if not at("end"):
        return None
    return Shape(ask, prologue, subject[1])


_RESULTS = {
    "json": ox.QueryResultsFormat.JSON,
    "xml": ox.QueryResultsFormat.XML,
    "csv": ox.QueryResultsFormat.CSV,
    "tsv": ox.QueryResultsFormat.TSV,
}


_SMALL: weakref.WeakKeyDictionary[OxigraphStore, tuple[int, set[str]]] = weakref.WeakKeyDictionary()
"""Per store: its count of writes, and the subjects found small while it stood there (a
subject's quads change only with a write)."""
_REMEMBERED = 10_000


def small(store: OxigraphStore, found: Shape, base: str) -> bool:
    """Whether the subject has at most `QUADS` quads (in any graph): the probe walks the
    subject index past them without decoding a term. A subject found small is not probed
    again until the store is written."""
    subject = f"{base}{found.prologue} {found.subject}"
    writes = store.writes  # before the probe: a write during it makes the next one look again
    held = _SMALL.get(store)
    if held is not None and held[0] == writes and subject in held[1]:
        return True
    probe = (
        f"{base}{found.prologue} SELECT ?g WHERE {{ {{ {found.subject} ?p ?o }} UNION "
        f"{{ GRAPH ?g {{ {found.subject} ?p ?o }} }} }} OFFSET {QUADS} LIMIT 1"
    )
    try:
        rows = store.query(probe, default_graph_union=False)
    except QueryError:
        return False  # the query process's path says what is wrong with the text
    assert isinstance(rows, ox.QuerySolutions)
    if next(iter(rows), None) is not None:
        return False
    if held is None or held[0] != writes or len(held[1]) >= _REMEMBERED:
        held = _SMALL[store] = (writes, set())
    held[1].add(subject)
    return True


def answer(
    store: OxigraphStore, based: str, text: str, found: Shape, fmt: conneg.Format, limit: int
) -> tuple[str, bytes] | None:
    """The kind ("solutions" or "boolean") and body of the client's query `text`, shaped
    `found`, over the union of the store's graphs, in `fmt`; None when it is not answered
    here (HTML, CSV or TSV for an ASK, a subject with too many quads). `based`: the `BASE`
    put in front of the client's text; `limit`: most bytes of a body (507 past it)."""
    if fmt.key not in _RESULTS or not small(store, found, based):
        return None
    result = store.query(based + text, default_graph_union=True)
    if isinstance(result, ox.QueryBoolean):
        if fmt.key not in ("json", "xml"):
            return None  # the endpoint names the formats an ASK answers in
        return "boolean", results_body(fmt, boolean=bool(result))
    assert isinstance(result, ox.QuerySolutions)
    body = result.serialize(format=_RESULTS[fmt.key]) or b""
    if fmt.key == "xml":
        body = carried_utf8(body)  # a literal's U+0001 is written raw: not XML
    if len(body) > limit:
        raise QueryTooLarge(
            f"the results of this query are larger than this server's limit of "
            f"{limit / 1048576:g} MiB",
            hint="ask for fewer results (a LIMIT, fewer variables), or raise the limit: "
            "setting query_result_limit",
            details={"limit_bytes": limit},
        )
    return "solutions", body
