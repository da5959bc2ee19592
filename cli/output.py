"""What the command line prints: progress, query results, statistics."""

from __future__ import annotations

import sys
from typing import IO, Any, TextIO

import pyoxigraph as ox
from jobtrail.base.errors import InputError
from jobtrail.base.terms import PREFIXES, shorten
from jobtrail.ingest.load import Event
from jobtrail.store import QueryResult, Store
from tqdm import tqdm


class Progress:
    """A progress bar on standard error (bytes read), or nothing with --silent or no terminal."""

    def __init__(self, *, silent: bool, total_bytes: int | None):
        self.silent = silent
        self.bar: tqdm[Any] | None = None
        if not silent:
            self.bar = tqdm(
                total=total_bytes,
                unit="B",
                unit_scale=True,
                desc="loading",
                file=sys.stderr,
                disable=None,
                dynamic_ncols=True,
            )
        self.counts = {"stored": 0, "duplicate": 0, "rejected": 0}

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()

    def advance(self, event: Event) -> None:
        self.counts[event.outcome] += 1
        if self.bar is not None:
            self.bar.update(event.size)
            if sum(self.counts.values()) % 500 == 0:
                self.bar.set_postfix(self.counts, refresh=False)

    def write(self, line: str) -> None:
        if self.silent:
            return
        if self.bar is not None and not self.bar.disable:
            self.bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr)


_RESULT_FORMATS = {
    "csv": ox.QueryResultsFormat.CSV,
    "tsv": ox.QueryResultsFormat.TSV,
    "json": ox.QueryResultsFormat.JSON,
    "xml": ox.QueryResultsFormat.XML,
}
_GRAPH_FORMATS = {"turtle": ox.RdfFormat.TURTLE, "ntriples": ox.RdfFormat.N_TRIPLES}


def _text(data: bytes | None) -> str:
    assert data is not None  # pyoxigraph returns bytes when given no output
    return data.decode("utf-8")


def print_results(result: QueryResult, fmt: str, out: TextIO) -> None:
    """The result in `fmt`; InputError for a format the result's kind has not (a table's rows
    have no Turtle, a graph has no CSV)."""
    graph = not isinstance(result, ox.QueryBoolean | ox.QuerySolutions)
    if not graph and fmt in _GRAPH_FORMATS:
        kind = (
            "ASK gives true or false"
            if isinstance(result, ox.QueryBoolean)
            else ("SELECT gives a table")
        )
        raise InputError(
            f"--format {fmt} is for the graph a CONSTRUCT or DESCRIBE gives; {kind}",
            hint="use --format table, csv, tsv, json or xml",
        )
    if graph and fmt in _RESULT_FORMATS:
        raise InputError(
            f"--format {fmt} is for the table a SELECT gives (or an ASK's answer); "
            "a CONSTRUCT or DESCRIBE gives a graph",
            hint="use --format turtle or ntriples",
        )
    if isinstance(result, ox.QueryBoolean):
        if fmt in _RESULT_FORMATS:
            out.write(_text(result.serialize(format=_RESULT_FORMATS[fmt])))
        else:
            out.write(("true" if bool(result) else "false") + "\n")
        return
    if isinstance(result, ox.QuerySolutions):
        if fmt in _RESULT_FORMATS:
            out.write(_text(result.serialize(format=_RESULT_FORMATS[fmt])))
        else:
            _table(result, out)
        return
    graph_format = _GRAPH_FORMATS.get(fmt, ox.RdfFormat.TURTLE)
    prefixes = PREFIXES if graph_format == ox.RdfFormat.TURTLE else None
    out.write(_text(ox.serialize(list(result), format=graph_format, prefixes=prefixes)))


def _short(term: Any) -> str:
    if term is None:
        return ""
    if isinstance(term, ox.NamedNode):
        return shorten(term.value)
    if isinstance(term, ox.Literal):
        return term.value
    return str(term)


def _table(solutions: ox.QuerySolutions, out: TextIO, limit: int = 60) -> None:
    names = [v.value for v in solutions.variables]
    rows = [[_short(row[n]) for n in names] for row in solutions]
    widths = [min(limit, max([len(n)] + [len(r[i]) for r in rows])) for i, n in enumerate(names)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            (c if len(c) <= w else c[: w - 1] + "…").ljust(w)
            for c, w in zip(cells, widths, strict=True)
        ).rstrip()

    out.write(line(names) + "\n" + line(["-" * w for w in widths]) + "\n")
    for r in rows:
        out.write(line(r) + "\n")
    out.write(f"({len(rows)} row{'s' if len(rows) != 1 else ''})\n")


_STATS_QUERY = """
PREFIX jt: <https://w3id.org/jobtrail/vocab#>
SELECT ?what (COUNT(DISTINCT ?x) AS ?n) WHERE {
  { ?x a jt:Message . BIND("messages" AS ?what) }
  UNION { ?x a jt:TREMessage . BIND("  TRE messages" AS ?what) }
  UNION { ?x a jt:JSONLDMessage . BIND("  JSON-LD messages" AS ?what) }
  UNION { ?x a jt:HTTPMessage . BIND("  HTTP messages" AS ?what) }
  UNION { ?x a jt:RDFMessage . BIND("  RDF messages" AS ?what) }
  UNION { ?m jt:validationWarning ?w . BIND(?m AS ?x) BIND("  with warnings" AS ?what) }
  UNION { ?x a jt:Producer . BIND("producers" AS ?what) }
  UNION { ?m jt:carriesUUID ?x . BIND("UUIDs" AS ?what) }
  UNION { ?p jt:reference ?x . BIND("references" AS ?what) }
} GROUP BY ?what
"""


def stats_table(store: Store, out: TextIO | IO[str]) -> None:
    counts = {str(row["what"].value): int(row["n"].value) for row in store.query(_STATS_QUERY)}  # type: ignore[union-attr]
    order = [
        "messages",
        "  TRE messages",
        "  JSON-LD messages",
        "  HTTP messages",
        "  RDF messages",
        "  with warnings",
        "producers",
        "UUIDs",
        "references",
    ]
    out.write(f"{store.description}\n")
    out.write(f"{'quads':<20}{store.count():>12,}\n")
    out.write(f"{'graphs':<20}{sum(1 for _ in store.graphs()):>12,}\n")
    for key in order:
        out.write(f"{key:<20}{counts.get(key, 0):>12,}\n")
    kinds = sum(counts.get(k, 0) for k in order[1:5])
    if kinds > counts.get("messages", 0):
        out.write(
            "(the kinds overlap: a message may be of several, as an HTTP message with a JSON-LD "
            "body is)\n"
        )
