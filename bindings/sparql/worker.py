"""A query process: runs clients' SPARQL queries over read-only snapshots of the store.

Started by the pool (`isolation.py`) as `python -m jobtrail.bindings.sparql.worker`. It
reads requests from stdin and writes answers to stdout, one at a time, as frames: a
4-byte big-endian length, then that many bytes. A request is one JSON frame; an answer
is a JSON frame, then for a success a second frame with the body.

Request: `store` (a snapshot's folder, opened read-only and kept open until a request
names another snapshot of the same `dataset`), `query`, `default` and `named` (graph
IRIs), `union` (the default graph is the union of all graphs), `substitutions` (name →
a term in SPARQL JSON), `results`, `boolean` and `graph` (the format keys for solutions,
for an ASK's answer — "": as `results`, but never CSV or TSV — and for triples: `json`,
`turtle` … or `html`, which answers capped SPARQL JSON or N-Triples for the pool's caller
to lay out; null: not acceptable), `limit` (most bytes of a body),
`cap` (most rows for `html`) and `base`.

A process says `{"ready": true}` once, when it has started. Answer:
`{"ok": true, "kind": "solutions" | "boolean" | "triples", "format": key}` and the body,
or `{"ok": false, "error": name, "message": …}` for what the client did (a syntax error,
a result past `limit`, a format not available for this kind of query).

Everything else — a time limit, a memory limit, an engine panic — is the pool's to
notice: it kills the process or sees it die, and starts another. Nothing here catches
what pyoxigraph does when it aborts (tests/store/engine_sort_panic.py).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import struct
import sys
from typing import IO, Any

import pyoxigraph as ox
from jobtrail.base.lifetime import signal_on_parent_death
from jobtrail.bindings.sparql.results import results_body
from jobtrail.web import conneg, render

_LENGTH = struct.Struct(">I")
READY = b'{"ready": true}'
NO_BOOLEAN = (
    "an ASK query answers true or false, which the CSV and TSV results formats cannot say; "
    "ask for application/sparql-results+json or application/sparql-results+xml"
)
_FORMATS = {f.key: f for f in (*conneg.RESULT_FORMATS, *conneg.RDF_FORMATS, conneg.HTML)}


class Refusal(Exception):
    """What the client asked for cannot be answered: (error name, message, details)."""


def read_frame(stream: IO[bytes]) -> bytes | None:
    """One frame, or None at the end of the stream."""
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    (size,) = _LENGTH.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        return None
    return data


def frame(data: bytes) -> bytes:
    return _LENGTH.pack(len(data)) + data


def term(doc: dict[str, Any]) -> ox.NamedNode | ox.Literal | ox.BlankNode:
    """A term from its SPARQL JSON form (`term_json`)."""
    if doc["type"] == "uri":
        return ox.NamedNode(doc["value"])
    if doc["type"] == "bnode":
        return ox.BlankNode(doc["value"])
    if "xml:lang" in doc:
        return ox.Literal(doc["value"], language=doc["xml:lang"])
    if "datatype" in doc:
        return ox.Literal(doc["value"], datatype=ox.NamedNode(doc["datatype"]))
    return ox.Literal(doc["value"])


class Budget:
    """Counts the bytes a result will take, roughly, as rows are taken; past `limit`: refused."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def spend(self, size: int) -> None:
        self.used += size
        if self.used > self.limit:
            raise Refusal(
                "QueryTooLarge",
                f"the results of this query are larger than this server's limit of "
                f"{self.limit / 1048576:g} MiB",
                {"limit_bytes": self.limit},
            )


def _size(terms: Any) -> int:
    return sum(len(t.value) + 24 for t in terms if t is not None)


class Worker:
    def __init__(self) -> None:
        self.open: dict[str, tuple[str, ox.Store]] = {}  # dataset → (snapshot folder, store)

    def store(self, dataset: str, path: str) -> ox.Store:
        held = self.open.get(dataset)
        if held is not None and held[0] == path:
            return held[1]
        self.open.pop(dataset, None)  # closes the older snapshot before the newer opens
        store = ox.Store.read_only(path)
        self.open[dataset] = (path, store)
        return store

    def answer(self, request: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
        store = self.store(request["dataset"], request["store"])
        kwargs: dict[str, Any] = {}
        if request["default"]:
            kwargs["default_graph"] = [ox.NamedNode(i) for i in request["default"]]
        else:
            kwargs["use_default_graph_as_union"] = request["union"]
        if request["named"]:
            kwargs["named_graphs"] = [ox.NamedNode(i) for i in request["named"]]
        if request["substitutions"]:
            kwargs["substitutions"] = {
                ox.Variable(k): term(v) for k, v in request["substitutions"].items()
            }
        try:
            result = store.query(request["query"], **kwargs)
        except (SyntaxError, RuntimeError) as e:
            raise Refusal("QueryError", str(e), {}) from e
        budget = Budget(request["limit"])
        html = False
        if isinstance(result, ox.QueryTriples):
            key, kind = request["graph"], "triples"
            if key is None:
                raise Refusal("NotAcceptable", "", {})
            html = key == "html"
            triples = []
            for t in result:
                budget.spend(_size((t.subject, t.predicate, t.object)))
                triples.append(t)
                if html and len(triples) > request["cap"]:
                    break
            if html:
                body = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b""
            else:
                body = render.rdf(triples, _FORMATS[key], base=request["base"])
        elif isinstance(result, ox.QueryBoolean):
            kind, key = "boolean", request.get("boolean", "")
            key = request["results"] if key == "" else key
            if key is None or key in ("csv", "tsv"):
                raise Refusal("NotAcceptable", NO_BOOLEAN, {})
            fmt = conneg.SPARQL_JSON if key == "html" else _FORMATS[key]
            body = results_body(fmt, boolean=bool(result))
        else:
            key = request["results"]
            if key is None:
                raise Refusal("NotAcceptable", "", {})
            html = key == "html"
            fmt = conneg.SPARQL_JSON if html else _FORMATS[key]
            kind = "solutions"
            names = [v.value for v in result.variables]
            rows = []
            for s in result:
                row = list(s)
                budget.spend(_size(row))
                rows.append(row)
                if html and len(rows) > request["cap"]:
                    break
            body = results_body(fmt, names=names, solutions=rows)
        if len(body) > budget.limit:
            budget.spend(len(body))
        return {"ok": True, "kind": kind, "format": key}, body

    def serve(self, requests: IO[bytes], answers: IO[bytes]) -> None:
        answers.write(frame(READY))  # imports done: the pool may count time from now
        answers.flush()
        while (data := read_frame(requests)) is not None:
            request = json.loads(data)
            try:
                head, body = self.answer(request)
            except Refusal as e:
                name, message, details = e.args
                head, body = {"ok": False, "error": name, "message": message}, b""
                head["details"] = details
            answers.write(frame(json.dumps(head).encode("utf-8")))
            if head["ok"]:
                answers.write(frame(body))
            answers.flush()


def limit_memory(megabytes: int) -> None:
    """A backstop beneath the pool's own watch of the process's size: allocations past
    twice the limit fail (and the engine aborts) even between two of the pool's looks."""
    if megabytes > 0:
        cap = 2 * megabytes * 1048576
        resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))


def die_with_parent() -> None:
    """Ask Linux to kill this process when the server that started it dies (a server killed
    with -9 leaves no query process running on); elsewhere, the end of stdin stops it once
    its query is done."""
    parent = int(os.environ.get("JOBTRAIL_QUERY_PARENT") or os.getppid())
    signal_on_parent_death(signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)  # it died before the request was made


def main() -> None:
    die_with_parent()
    limit_memory(int(os.environ.get("JOBTRAIL_QUERY_MEMORY_MB", "0")))
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not corrupt the answers
    Worker().serve(requests, answers)


if __name__ == "__main__":
    main()
