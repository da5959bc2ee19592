"""Tamper evidence: every stored message is sealed into one store-wide log.

When a message is stored it gets three more triples: its position in the log
(`jt:logPosition`), the digest of the message before it (`jt:previousDigest`,
empty for the first) and its own digest (`jt:digest`): SHA-256 of the
previous digest and of the message's triples in a canonical form. The
message's `jt:sha256` already names its original bytes. `verify` walks the
log in order and recomputes all of it from what the store holds now; the
first message whose triples, original bytes or link to the one before no
longer match is named — an edited triple, a removed or inserted message.

The canonical form is one line per triple of the record's triples taken as a
set (RDF 1.1 Concepts §3: a graph is a set of triples; a triple listed twice is
stored once, so it is digested once: a writer that lists one twice still seals
what the store holds), sorted: IRIs as they are, every blank node as `_:`,
literals by value (Oxigraph stores `01`^^xsd:integer as `1` and `+00:00` as
`Z`, so typed values are normalised the same way on both sides). Producers'
graphs are not sealed.

Sealing order: the log held by the store is always a gap-free chain of what
committed. The head is read from the store when a `Log` is opened (one process
writes to a store at a time: the embedded store's lock), and every writer seals
and writes in one critical section, `Log.sealing`: positions are handed out and
the transaction that stores the records commits under the log's lock, and a
write that fails gives its positions back. Records therefore commit in log
order, one writer at a time, and a crash can only lose the records of the one
write that had not committed, which are the head of the log: nothing after them
was sealed. A bulk load (`ingest/load.py`) holds the log for the whole load:
its batches commit in order, a crash drops the uncommitted ones (the store's
journal), which are again the head, and the next `Log` opened continues from
what committed.

Scrubs: a store written by an earlier release may hold secrets in sealed records
(`jobtrail scrub`, jobs/scrub.py, takes them out). A record changed that way no
longer matches its seal, so the scrub writes a record of its own, a `jt:Scrub`
message sealed at the head of the log like any other: its bytes (JSON) list each
record it changed with the record's position, its content digest before and after,
and the SHA-256 of its original bytes after. `verify` reads every scrub first and
accepts a record whose triples are the ones a scrub left, when the scrub's "before"
is what the record was sealed with; anything else is still a finding, and a scrub
record edited afterwards is a finding itself (its own seal).

Hops sealed by earlier releases: their hop writer listed the hop's `jt:about` and
`jt:carriesUUID` again when the reader had found them already, and the digest counted
the triple twice. `verify` accepts a hop whose digest is that of its stored triples
with one such triple of its own node counted twice: the same set of triples.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import pyoxigraph as ox
from jobtrail.base import nt
from jobtrail.base.errors import StoreError
from jobtrail.base.terms import JT, PROV, XSD
from jobtrail.ingest import tree
from jobtrail.ingest.message import Incoming, envelope, original_bytes
from jobtrail.store import ResourceGraph, Store, Triple
from jobtrail.store.leases import Leases

_J = str(JT)
_X = str(XSD)
POSITION, PREVIOUS, DIGEST = (f"{_J}logPosition", f"{_J}previousDigest", f"{_J}digest")
SEAL = frozenset({POSITION, PREVIOUS, DIGEST, *tree.TERMS})
"""The predicates of a record's seal: its place in the chain and in the Merkle tree."""
SCRUB, SCRUBBED = f"{_J}Scrub", f"{_J}scrubbed"
ORIGINAL_TEXT, ORIGINAL_BASE64, SHA256 = (
    f"{_J}originalText",
    f"{_J}originalBase64",
    f"{_J}sha256",
)
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
    """A term's canonical form; a blank node keeps its label (`_key` drops it)."""
    kind, value, extra = nt.parse_term(term)
    if kind in ("iri", "bnode"):
        return term
    if extra is not None and extra.startswith("@"):
        return _literal(value, None, extra[1:])
    return _literal(value, extra, None)


def _from_term(term: ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple) -> str:
    if isinstance(term, ox.NamedNode):
        return f"<{term.value}>"
    if isinstance(term, ox.BlankNode):
        return str(term)
    if isinstance(term, ox.Literal):
        return _literal(term.value, term.datatype.value, term.language)
    return str(term)


def _line(key: tuple[str, str, str]) -> str:
    """The digested line of a triple: its canonical terms, every blank node as `_:`."""
    return " ".join("_:" if t.startswith("_:") else t for t in key)


def digest_of_lines(lines: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(lines)).encode("utf-8")).hexdigest()


def _digest(keys: Iterable[tuple[str, str, str]]) -> str:
    """The digest of a record's triples as a set: each triple once, however often it is
    listed (two blank nodes stay two triples: the set is taken before labels go)."""
    return digest_of_lines(_line(k) for k in set(keys))


def content_digest(triples: Iterable[Triple]) -> str:
    """The digest of a graph about to be stored (N-Triples term strings), seal excluded:
    the digest of what the store will hold, so a triple listed twice counts once."""
    return _digest(
        (_from_text(s), _from_text(p), _from_text(o)) for s, p, o in triples if p not in _SEAL_TERMS
    )


def stored_digest(triples: Iterable[ox.Triple]) -> str:
    """The same digest of a graph as the store returns it."""
    return _digest(
        (_from_term(t.subject), _from_term(t.predicate), _from_term(t.object))
        for t in triples
        if t.predicate.value not in SEAL
    )


def chain(previous: str, content: str) -> str:
    return hashlib.sha256(f"{previous}:{content}".encode("ascii")).hexdigest()


@dataclass(frozen=True)
class Head:
    """A point of the log: the last position sealed and its digest (0 and "": empty), and
    the Merkle tree's frontier there (`tree.py`: the tree has one leaf per position)."""

    position: int = 0
    digest: str = ""
    frontier: tree.Frontier = ()

    @property
    def root(self) -> bytes:
        return tree.root_of(self.frontier)


class Log:
    """The store-wide log's head; records are sealed onto it and written in one critical
    section (`sealing`), so that the store always holds a gap-free chain of what committed.

    `position` and `previous` are the head as sealed; `committed` is the head the store
    holds (they differ only while a write is under way)."""

    def __init__(self, store: Store, *, lease_ttl: float = 15.0, merkle: bool = True):
        self.store = store
        self.merkle = merkle
        """False: no Merkle tree is written (only to measure what it costs: bench/tree.py)."""
        self._lock = threading.RLock()
        self.leases = Leases(store, ttl=lease_ttl) if store.shared else None
        """On a store other processes write too: the leases this process holds there (the
        log's own while it writes; jobs' runs), renewed by their heartbeat thread."""
        if self.leases is not None:
            self.leases.start()
        self.mine: set[int] | None = None
        """Positions this process sealed, kept once a follower of other processes' changes
        (`jobs/follow.py`) sets it to a set, and taken out as it passes them."""
        head = Head()
        rows = store.query(
            f"SELECT ?n ?d WHERE {{ ?m <{POSITION}> ?n ; <{DIGEST}> ?d }} ORDER BY DESC(?n) LIMIT 1"
        )
        for row in rows:  # type: ignore[union-attr]
            head = Head(int(row["n"].value), row["d"].value)
        self._head = self.committed = head
        self._held = _Holding(self)
        with self._held:  # on a shared store: the head as the lease's holder finds it
            if self._head.position == head.position and merkle:
                self._head = self.committed = self._with_tree(head)

    @property
    def position(self) -> int:
        return self._head.position

    @property
    def previous(self) -> str:
        return self._head.digest

    @contextlib.contextmanager
    def sealing(self, records: Sequence[ResourceGraph]) -> Iterator[None]:
        """Seal `records` at the head, in order, and hold the log while the block writes
        them in one transaction: the next writer seals after they committed. A block that
        raises gives their positions back (nothing of the write was kept)."""
        with self._held:
            start = self._head
            for record in records:
                self.seal(record)
            try:
                yield
            except BaseException:
                self._head = start
                raise
            self.committed = self._head
            if self.mine is not None:
                self.mine.update(range(start.position + 1, self._head.position + 1))

    def held(self) -> contextlib.AbstractContextManager[bool]:
        """The log's lock (re-entrant): a writer that decides what to write from what is
        stored ("stored before?") holds it from the look to the write; a bulk load holds
        it for the whole load, sealing with `seal` and settling with `commit`/`rewind`.
        On a shared store it is also the log's lease in the engine: one writer among every
        process at a time, which finds the head where the last one (of any process) left it."""
        return self._held

    def at(self, position: int) -> str | None:
        """The IRI of the record sealed at `position`, if the store holds one: found by its
        leaf in the Merkle tree, a read by subject (the graph holding the node
        `<urn:jobtrail:tree:0:{position - 1}>`). A read by value (`?m jt:logPosition 10`)
        is what Virtuoso now and then answers without a record it acknowledged (README,
        "Known defect on Virtuoso"); only a log kept without the tree reads that way."""
        if not self.merkle:
            return self.by_position(position)
        leaf = tree.node_iri((0, position - 1))
        rows = self.store.query(
            f"SELECT ?m WHERE {{ GRAPH ?m {{ <{leaf}> <{tree.HASH}> ?h }} }} LIMIT 1"
        )
        for row in rows:  # type: ignore[union-attr]
            return str(row["m"].value)
        return None

    def by_position(self, position: int) -> str | None:
        """The IRI of the record sealed at `position`, found by its `jt:logPosition` (a
        record sealed before the tree has no leaf to be found by)."""
        rows = self.store.query(
            f"SELECT ?m WHERE {{ ?m <{POSITION}> {nt.integer(position)} }} LIMIT 1"
        )
        for row in rows:  # type: ignore[union-attr]
            return str(row["m"].value)
        return None

    def head_from(self, position: int) -> int:
        """The last position the store holds, looked for from `position` (which it holds):
        a step forward, then doubling steps, then halving them: O(log n) point reads for n
        records written since."""
        return self._find_head(position)[0]

    def _find_head(self, position: int) -> tuple[int, str | None]:
        """`head_from`, and the IRI of the record found there (None: no record was read,
        the log has not grown past `position`)."""
        found = self.at(position + 1)
        if found is None:
            return position, None
        low, step = position + 1, 1
        while (probe := self.at(low + step)) is not None:
            low, step, found = low + step, step * 2, probe
        high = low + step  # low is held, high is not
        while high - low > 1:
            middle = (low + high) // 2
            if (probe := self.at(middle)) is not None:
                low, found = middle, probe
            else:
                high = middle
        return low, found

    def close(self) -> None:
        """Stop renewing leases (a shared store); the process holds none after this."""
        if self.leases is not None:
            self.leases.stop()

    def _catch_up(self) -> None:
        """Move the head to where the store's log ends (another process may have written)."""
        position, record = self._find_head(self._head.position)
        if position != self._head.position:
            digest = None
            query = (
                f"SELECT ?d WHERE {{ <{record}> <{DIGEST}> ?d }}"  # by subject
                if record is not None
                else f"SELECT ?d WHERE {{ ?m <{POSITION}> {nt.integer(position)} ; <{DIGEST}> ?d }}"
            )
            for pause in (0, 0.01, 0.05, 0.1, 0.2, 0.5, 1.0):  # the head whole, or no seal
                time.sleep(pause)
                rows = self.store.query(query)
                digest = next((row["d"].value for row in rows), None)  # type: ignore[union-attr]
                if digest is not None:
                    break
            if digest is None:
                raise StoreError(
                    f"the record at the log's head ({position}) has no digest: nothing is "
                    "sealed after it",
                    hint="run `jobtrail verify`; try again",
                )
            head = Head(position, digest)
            self._head = self.committed = self._with_tree(head) if self.merkle else head

    def _with_tree(self, head: Head) -> Head:
        """`head` with the tree's frontier there, read from the store; a store sealed by a
        release before the tree gets its tree built first (`build_tree`)."""
        frontier = tree.stored_frontier(self.store, head.position)
        if frontier is None:
            frontier = build_tree(self.store, self, head.position)
        return Head(head.position, head.digest, frontier)

    def seal(self, graph: ResourceGraph) -> None:
        """Append one record at the head (the caller holds the log: `sealing`, `held`).
        Its triples are made a set first, so the record stores exactly what it seals."""
        with self._lock:
            graph.triples[:] = dict.fromkeys(graph.triples)
            s = nt.iri(graph.iri)
            position = self._head.position + 1
            content = content_digest(graph.triples)
            sealed = chain(self._head.digest, content)
            graph.triples += [
                (s, nt.iri(POSITION), nt.integer(position)),
                (s, nt.iri(PREVIOUS), nt.lit(self._head.digest)),
                (s, nt.iri(DIGEST), nt.lit(sealed)),
            ]
            frontier: tree.Frontier = ()
            if self.merkle:
                leaf = tree.leaf_hash(tree.entry(content))
                frontier, completed = tree.append(self._head.frontier, position - 1, leaf)
                graph.triples += tree.triples(graph.iri, position, completed)
            self._head = Head(position, sealed, frontier)

    def mark(self) -> Head:
        """The head as sealed now, to `commit` or `rewind` to later (a bulk load)."""
        return self._head

    def commit(self, head: Head) -> None:
        """What was sealed up to `head` is committed (a bulk load's batch)."""
        with self._lock:
            if self.mine is not None:
                self.mine.update(range(self.committed.position + 1, head.position + 1))
            self.committed = head

    def rewind(self, head: Head) -> None:
        """Forget what was sealed after `head`: it was not stored and will not be."""
        with self._lock:
            self._head = head


class _Holding:
    """`Log.held()`: the log's lock, and on a shared store its lease (reentrant both)."""

    def __init__(self, log: Log) -> None:
        self.log = log
        self._stack: list[contextlib.ExitStack] = []

    def __enter__(self) -> bool:
        log = self.log
        if log.leases is None:
            log._lock.acquire()
            return True
        # the lease first: the threads of this process queue for it there, where a holder
        # that ends hands it to the next one without letting the engine's claim go
        stack = contextlib.ExitStack()
        fresh = stack.enter_context(log.leases.hold("log"))
        log._lock.acquire()
        try:
            if fresh:  # taken afresh: others may have written since this process last held it
                log._catch_up()
        except BaseException:
            log._lock.release()
            stack.close()
            raise
        self._stack.append(stack)
        return True

    def __exit__(self, *exc: object) -> None:
        self.log._lock.release()
        if self.log.leases is not None:
            self._stack.pop().close()


def unsealed(graph: ResourceGraph) -> ResourceGraph:
    """The record without its seal (and its part of the tree), to seal it again at another
    position."""
    graph.triples[:] = [t for t in graph.triples if t[1] not in _SEAL_TERMS]
    return graph


def build_tree(
    store: Store,
    log: Log,
    size: int,
    progress: Callable[[int, int], None] | None = None,
    batch: int = 500,
) -> tree.Frontier:
    """Write the Merkle tree's nodes for the records sealed up to `size` that have none (a
    store sealed by a release before the tree), each into its record's graph; the frontier
    at `size`. The caller holds the log. A leaf is the record's content as the store holds
    it now (a record a scrub changed before the tree existed: as the scrub left it)."""
    built = 0  # the longest prefix of the log whose leaves are stored
    fetch = tree.fetcher(store)
    low, high = 0, size
    while low < high:  # leaves are written in order: the first one missing, by halving
        middle = (low + high + 1) // 2
        if fetch([(0, middle - 1)]):
            low = middle
        else:
            high = middle - 1
    built = low
    frontier = tree.stored_frontier(store, built)
    if frontier is None:  # a prefix without all its nodes: build it all again
        built, frontier = 0, ()
    for start in range(built + 1, size + 1, batch):
        parts: list[str] = []
        for position in range(start, min(start + batch, size + 1)):
            record = log.by_position(position)  # no leaf yet to find it by
            if record is None:
                raise ValueError(
                    f"the log has no record at position {position}: run jobtrail verify"
                )
            content = stored_digest(store.read(record))
            leaf = tree.leaf_hash(tree.entry(content))
            frontier, completed = tree.append(frontier, position - 1, leaf)
            body = "".join(
                f"{a} {b} {c} .\n" for a, b, c in tree.triples(record, position, completed)
            )
            parts.append(f"GRAPH <{record}> {{\n{body}}}")
        store.update("INSERT DATA {\n" + "\n".join(parts) + "\n}")
        if progress is not None:
            progress(min(start + batch - 1, size), size)
    return frontier


@dataclass(frozen=True)
class Scrubbed:
    """One sealed record a scrub changed, as its scrub record lists it."""

    record: str
    position: int
    before: str  # the content digest (`stored_digest`) of its triples before the scrub
    after: str  # … and after
    sha256: str | None = None  # of its original bytes after, when the scrub changed them
    redacted: tuple[str, ...] = ()  # the names of what was taken out

    def document(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "record": self.record,
            "position": self.position,
            "before": self.before,
            "after": self.after,
        }
        if self.sha256 is not None:
            out["sha256After"] = self.sha256
        out["redacted"] = list(self.redacted)
        return out

    @classmethod
    def of(cls, value: Any) -> Scrubbed | None:
        """An entry back from a scrub record's JSON; None for one that does not read."""
        if not isinstance(value, dict):
            return None
        try:
            sha = value.get("sha256After")
            return cls(
                str(value["record"]),
                int(value["position"]),
                str(value["before"]),
                str(value["after"]),
                str(sha) if sha is not None else None,
                tuple(str(n) for n in value.get("redacted", [])),
            )
        except (KeyError, TypeError, ValueError):
            return None


def scrub_record(
    changed: Sequence[Scrubbed], *, base: str, at: datetime, counts: Mapping[str, Any]
) -> ResourceGraph:
    """The `jt:Scrub` message listing the sealed records a scrub changed (not yet sealed):
    its bytes a JSON document, `counts` (what else the scrub did) beside the list."""
    stamp = at.isoformat().replace("+00:00", "Z")
    document = {
        "scrub": "secrets an earlier release stored, taken out; each record changed is "
        "listed with its content digest before and after (jobtrail verify reads them)",
        "at": stamp,
        **counts,
        "records": [c.document() for c in changed],
    }
    data = json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")
    m, triples = envelope(
        Incoming(data, "jobtrail scrub", "application/json"),
        base=base,
        classes=("Scrub",),
        media_type="application/json",
        notes=[],
        stored_at=nt.datetime_lit(at),
    )
    s = nt.iri(m)
    triples += [(s, nt.iri(SCRUBBED), nt.iri(c.record)) for c in changed]
    triples.append((s, nt.iri(f"{PROV}generatedAtTime"), nt.datetime_lit(at)))
    return ResourceGraph(m, triples)


@dataclass(frozen=True)
class Finding:
    position: int
    message: str
    problem: str


@dataclass
class Tally:
    """What `verify` saw besides its findings: records a scrub changed, and the scrubs."""

    scrubbed: int = 0
    scrubs: set[str] = field(default_factory=set)
    treeless: bool = False  # sealed by a release before the Merkle tree, none built yet


_Step = tuple[str, int, Scrubbed]  # the scrub record, its position, the entry


def verify(
    store: Store,
    progress: Callable[[int], None] | None = None,
    tally: Tally | None = None,
    roots: Mapping[int, Collection[bytes]] | None = None,
) -> Iterator[Finding]:
    """Walk the log in order; yield what no longer matches (stop at the first if you like).

    A record whose triples a scrub changed is no finding when a scrub record vouches for
    exactly what it holds now (`tally`, if given, counts them). The Merkle tree is checked
    as the walk goes: each record's leaf is its content, each node its append completed is
    the hash of the two below it; and the tree's root at each size in `roots` (what kept
    checkpoints say) is the one the walk computes."""
    scrubs = _scrubs(store)
    rows = store.query(
        f"SELECT ?m ?n ?p ?d WHERE {{ GRAPH ?m {{ ?m <{POSITION}> ?n ; <{PREVIOUS}> ?p ; "
        f"<{DIGEST}> ?d }} }} ORDER BY ?n"
    )
    expected_position, previous = 1, ""
    walk = _TreeWalk(roots or {}, tally)
    for row in rows:  # type: ignore[union-attr]
        m, n = row["m"].value, int(row["n"].value)
        if progress is not None:
            progress(n)
        if n != expected_position:
            yield Finding(n, m, f"the log jumps from position {expected_position - 1} to {n}")
        if row["p"].value != previous:
            yield Finding(n, m, "it does not follow the message before it in the log")
        triples = store.read(m)
        content, sealed = stored_digest(triples), row["d"].value
        history = [step for step in scrubs.get(m, []) if step[2].position == n and step[1] > n]
        scrubbed = next((e.sha256 for _, _, e in reversed(history) if e.sha256), None)
        changed = False
        if chain(row["p"].value, content) != sealed:
            steps = _vouched(history, row["p"].value, sealed, content)
            if steps is None:
                listed = (chain(row["p"].value, d) == sealed for d in _listed_twice(m, triples))
                if not any(listed):
                    changed = True
                    yield Finding(n, m, "its triples are not the ones it was stored with")
            elif tally is not None:
                tally.scrubbed += 1
                tally.scrubs |= {s for s, _, _ in steps}
        problem = _original(m, triples, scrubbed)
        if problem:
            yield Finding(n, m, problem)
        vouched = {content, *(e.before for _, _, e in history), *(e.after for _, _, e in history)}
        yield from walk.step(n, m, triples, None if changed else vouched)
        expected_position, previous = n + 1, row["d"].value
    yield from walk.end()


class _TreeWalk:
    """`verify`'s check of the Merkle tree, one record at a time in log order."""

    def __init__(self, roots: Mapping[int, Collection[bytes]], tally: Tally | None) -> None:
        self.roots = roots
        self.tally = tally
        self.frontier: tree.Frontier = ()
        self.size = 0
        self.missing: int | None = None  # the first position without a leaf: no tree past it

    def step(
        self, n: int, m: str, triples: list[ox.Triple], contents: set[str] | None
    ) -> Iterator[Finding]:
        """Check record `n`'s leaf against `contents` (the content digests it may have:
        None when its content is a finding already) and the nodes it completed."""
        if self.missing is not None or n != self.size + 1:
            return
        stored = tree.stored_nodes(triples)
        leaf = stored.get((0, n - 1))
        if leaf is None:
            self.missing = n
            if n == 1:  # no tree at all: sealed before it existed (the next writer builds it)
                if self.tally is not None:
                    self.tally.treeless = True
                return
            yield Finding(
                n, m, "it has no leaf in the Merkle tree (from here on: run jobtrail reindex)"
            )
            return
        if contents is not None and leaf not in {tree.leaf_hash(tree.entry(c)) for c in contents}:
            yield Finding(n, m, "its leaf in the Merkle tree is not the hash of its content")
        self.frontier, completed = tree.append(self.frontier, n - 1, leaf)
        self.size = n
        for key, h in completed[1:]:
            if stored.get(key) != h:
                yield Finding(
                    n,
                    m,
                    f"the Merkle tree's node {key[0]}:{key[1]} is not the hash of the two below it",
                )
        claimed = self.roots.get(n, ())
        if any(root != tree.root_of(self.frontier) for root in claimed):
            yield Finding(
                n, m, f"the tree's root at size {n} is not the one a kept checkpoint signed"
            )

    def end(self) -> Iterator[Finding]:
        for size in sorted(s for s in self.roots if s > self.size and self.missing is None):
            yield Finding(
                size,
                "",
                f"a kept checkpoint signs a tree of {size} records; the log holds {self.size}",
            )


_TWICE = (f"<{_J}about>", f"<{_J}carriesUUID>")


def _listed_twice(iri: str, triples: list[ox.Triple]) -> Iterator[str]:
    """The digests a hop was sealed with by releases whose hop writer listed its own
    `jt:about` and `jt:carriesUUID` triple again when the reader had found it already,
    and digested the list (issue 18): the stored triples with one such line of the
    record's own node counted twice, or one of each. The same set of triples either way."""
    keys = {(_from_term(t.subject), _from_term(t.predicate), _from_term(t.object)) for t in triples}
    lines = [_line(k) for k in keys if k[1] not in _SEAL_TERMS]
    own = f"<{iri}>"
    about, carries = ([x for x in lines if x.startswith(f"{own} {p} ")] for p in _TWICE)
    for a in [None, *about]:
        for c in [None, *carries]:
            extra = [x for x in (a, c) if x is not None]
            if extra:
                yield digest_of_lines(lines + extra)


def _scrubs(store: Store) -> dict[str, list[_Step]]:
    """Every record the store's scrub records list, with the scrubs in log order. A scrub
    record that does not match its own seal vouches for nothing (and is a finding)."""
    rows = store.query(
        f"SELECT ?s ?n ?p ?d WHERE {{ GRAPH ?s {{ ?s a <{SCRUB}> ; <{POSITION}> ?n ; "
        f"<{PREVIOUS}> ?p ; <{DIGEST}> ?d }} }} ORDER BY ?n"
    )
    out: dict[str, list[_Step]] = {}
    for row in rows:  # type: ignore[union-attr]
        s, n = row["s"].value, int(row["n"].value)
        triples = store.read(s)
        if chain(row["p"].value, stored_digest(triples)) != row["d"].value:
            continue
        if _original(s, triples) is not None:
            continue
        text = next(
            (
                t.object.value
                for t in triples
                if t.predicate.value == ORIGINAL_TEXT and isinstance(t.object, ox.Literal)
            ),
            None,
        )
        try:
            document = json.loads(text or "")
        except ValueError:
            continue
        listed = document.get("records") if isinstance(document, dict) else None
        for value in listed if isinstance(listed, list) else []:
            entry = Scrubbed.of(value)
            if entry is not None:
                out.setdefault(entry.record, []).append((s, n, entry))
    return out


def _vouched(steps: list[_Step], previous: str, sealed: str, content: str) -> list[_Step] | None:
    """The scrubs (those listing the record, in log order) that turned what the record was
    sealed with into what it holds now; None when they do not (then the record was changed
    some other way)."""
    if not steps or chain(previous, steps[0][2].before) != sealed:
        return None
    for (_, _, a), (_, _, b) in zip(steps, steps[1:], strict=False):
        if a.after != b.before:
            return None
    return steps if steps[-1][2].after == content else None


def _original(iri: str, triples: list[ox.Triple], scrubbed: str | None = None) -> str | None:
    """What is wrong with the record's original bytes (None: nothing): they hash to its
    `jt:sha256`, which names it; for a record a scrub changed them in, to the SHA-256 the
    scrub listed (`scrubbed`), its `jt:sha256` still naming it."""
    values = {t.predicate.value: t.object.value for t in triples if t.subject.value == iri}  # type: ignore[union-attr]
    text, b64 = values.get(ORIGINAL_TEXT), values.get(ORIGINAL_BASE64)
    if text is None and b64 is None:
        return None
    digest = hashlib.sha256(original_bytes(text, b64)).hexdigest()
    named = values.get(SHA256)
    if digest == named and iri.endswith(digest):
        return None
    if scrubbed is not None and digest == scrubbed and named and iri.endswith(named):
        return None
    return "its original bytes do not hash to its SHA-256"
