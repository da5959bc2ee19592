"""The public copy: every sealed record anyone may read, in a store of its own, for SPARQL.

A SPARQL query sees a whole dataset, and the store holds jobs private to their owners
(`jobs/visibility.py`). Oxigraph cannot hide graphs from a query at a cost worth paying
(README, "Security"), so callers who may not see the whole store query a second store
that holds only what every reader may see: the public copy. It is kept by following the
seal log (`ingest/seal.py`): a thread reads each record in log order from the store,
asks the visibility policy whether an anonymous reader may see it (provenance messages,
and the change records and hops of anonymous jobs while anonymous jobs are allowed), and
copies it, with the producers it is attributed to. Records are immutable, so a copy never
needs changing; it is a moment behind the store while new records arrive. The one
exception is a scrub (`jobtrail scrub`, jobs/scrub.py), which takes secrets out of records
an earlier release stored: its `jt:Scrub` record comes later in the log, and when the copy
reaches it, the records it lists that the copy holds are copied again as they are now.

Where it is kept: beside an embedded store (`jobtrail-data.public`), in memory for a store
in memory, or in the files directory for a remote store (every server process keeps its
own). How far it got is the one triple of its graph `urn:jobtrail:public-copy`, so a
restart resumes where it stopped, and a copy started on an existing store first catches
up with everything already sealed (`progress()` says how far; SPARQL answers 503 until
then).

Not copied: jobs' current state, results, outbox calls and side graphs (mutable, and
read through the jobs' own views), and anything an administrator's SPARQL update
changes after it was copied: the copy holds records as they were sealed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

import pyoxigraph as ox
from jobtrail.base import nt
from jobtrail.base.terms import JT, PROV
from jobtrail.ingest.seal import POSITION, SCRUB, SCRUBBED, Log
from jobtrail.jobs.visibility import ANONYMOUS_VIEWER, Policy
from jobtrail.store import ResourceGraph, Store

MARKER = "urn:jobtrail:public-copy"
_COPIED = f"{JT}copiedUpTo"
_ATTRIBUTED = f"{PROV}wasAttributedTo"
_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
_LATER = (
    f"SELECT ?m ?after WHERE {{ GRAPH ?m {{ ?m <{POSITION}> ?n FILTER(?n > ?after) }} }} LIMIT 1"
)
_DONE = f"SELECT ?n WHERE {{ GRAPH <{MARKER}> {{ <{MARKER}> <{_COPIED}> ?n }} }}"


def _triples(triples: Iterable[ox.Triple]) -> list[tuple[str, str, str]]:
    return [(str(t.subject), str(t.predicate), str(t.object)) for t in triples]


class PublicCopy:
    """Keeps `copy` holding every record of `source` an anonymous reader may see."""

    def __init__(
        self,
        source: Store,
        copy: Store,
        log: Log,
        policy: Policy,
        *,
        batch: int = 500,
        gap_grace: float = 10.0,
    ):
        self.source = source
        self.store = copy
        self.log = log
        self.policy = policy
        self.batch = batch
        self.gap_grace = gap_grace
        """Seconds a missing log position is waited for before it is passed over."""
        self.done = self._resume()
        self.copied = self.done
        """Records looked at and written to the copy: what a query over it sees."""
        self._copied = threading.Condition()
        self.caught_up = threading.Event()
        self._target = log.committed.position  # what to reach before answering queries
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._producers: set[str] = set()
        self._missing_since: float | None = None
        if self.done >= self._target:
            self.caught_up.set()

    def _resume(self) -> int:
        for row in self.store.query(_DONE):  # type: ignore[union-attr]
            return int(row["n"].value)
        return 0

    # --- running ---------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="public-copy", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def nudge(self) -> None:
        """Something was sealed: look now rather than at the next poll."""
        self._wake.set()

    def wait_for(self, position: int, timeout: float) -> bool:
        """Wait until every record sealed up to `position` is copied (or passed over: not
        for anonymous readers); False if that takes longer than `timeout` seconds."""
        end = time.monotonic() + timeout
        with self._copied:
            while self.copied < position:
                self._wake.set()
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._copied.wait(min(left, 0.5))
        return True

    def progress(self) -> tuple[int, int]:
        """(records looked at, records sealed when the copy started or since)."""
        return self.done, max(self._target, self.log.committed.position)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except Exception:  # noqa: BLE001 — a store hiccup: try again at the next poll
                time.sleep(1.0)
            self._wake.wait(0.5)
            self._wake.clear()

    def step(self) -> int:
        """Copy what was sealed since the last step; the number of records looked at."""
        head = self.log.committed.position
        if self.source.shared:  # other processes seal too: the log ends where the store's does
            head = max(head, self.log.head_from(self.done))
        looked = 0
        records: list[ResourceGraph] = []
        producers: list[ResourceGraph] = []
        while self.done < head and not self._stop.is_set():
            position = self.done + 1
            record = self.log.at(position)
            if record is None and not self._passed_over(position):
                break  # not written yet: the transaction sealing it is still running
            self._missing_since = None
            if record is not None:
                found, attributed = self._copies(record)
                records += found
                producers += attributed
            self.done = position
            looked += 1
            if len(records) + len(producers) >= self.batch:
                self._write(records, producers)
                records, producers = [], []
        if looked:
            self._write(records, producers)
        if self.done >= self._target:
            self.caught_up.set()
        return looked

    # --- one record ---------------------------------------------------------------

    def _passed_over(self, position: int) -> bool:
        """A position no record holds: true once a later one exists and the grace is over
        (a write that failed after its record was sealed leaves a gap)."""
        now = time.monotonic()
        if self._missing_since is None:
            self._missing_since = now
        if now - self._missing_since < self.gap_grace:
            return False
        after = ox.Literal(str(position), datatype=ox.NamedNode(nt.XSD_INTEGER))
        return any(True for _ in self.source.query(_LATER, substitutions={"after": after}))  # type: ignore[union-attr]

    def _copies(self, iri: str) -> tuple[list[ResourceGraph], list[ResourceGraph]]:
        """The record's graph, and the graphs to replace: its producers' not yet copied by
        this process (they may be in the copy from before a restart), and for a scrub
        record the records it changed that the copy holds, as they are now; if an
        anonymous reader may see the record."""
        triples = self.source.read(iri)
        if not triples:
            return [], []
        scrubbed = self._scrubbed(iri, triples)  # the scrub record itself is the curators'
        if not self.policy.may_read(ANONYMOUS_VIEWER, iri, triples):
            return [], scrubbed
        producers = scrubbed
        for t in triples:
            if t.predicate.value == _ATTRIBUTED and isinstance(t.object, ox.NamedNode):
                producer = t.object.value
                if producer not in self._producers:
                    self._producers.add(producer)
                    if found := self.source.read(producer):
                        producers.append(ResourceGraph(producer, _triples(found)))
        return [ResourceGraph(iri, _triples(triples))], producers

    def _scrubbed(self, iri: str, triples: list[ox.Triple]) -> list[ResourceGraph]:
        """The records a scrub record lists that the copy holds, read again from the store."""
        own = ox.NamedNode(iri)
        if not any(
            t.subject == own and t.predicate.value == _TYPE and t.object == ox.NamedNode(SCRUB)
            for t in triples
        ):
            return []
        listed = {
            t.object.value
            for t in triples
            if t.subject == own
            and t.predicate.value == SCRUBBED
            and isinstance(t.object, ox.NamedNode)
        }
        out = []
        for record in sorted(self.store.existing(listed)):
            if found := self.source.read(record):
                out.append(ResourceGraph(record, _triples(found)))
        return out

    def _write(self, records: list[ResourceGraph], producers: list[ResourceGraph]) -> None:
        """The records, the producers and how far the copy got, in one transaction."""
        marker = ResourceGraph(MARKER, [(f"<{MARKER}>", f"<{_COPIED}>", nt.integer(self.done))])
        self.store.apply(add=records, replace=[*producers, marker])
        with self._copied:
            self.copied = self.done
            self._copied.notify_all()
