"""Bulk loading: read, validate, deduplicate and store messages in batches.

One bad message never stops the good ones: it is reported (where, what,
why) and skipped, and nothing of it is stored. Messages are only reported
as stored once their batch is committed (see the store's journal), so a
crash loses nothing that was reported.

A large load (`jobtrail load`) goes through the store's bulk path. A small
one inside the server (`POST /messages`) is `transactional`: each chunk is
one ordinary transaction (`Store.add`), like a job change, so it never runs
an engine bulk load or a flush beside the server's other writes.

Sealing (`ingest/seal.py`): a transactional load looks for what is stored
already, seals and writes each chunk in one critical section of the log
(`Log.sealing`), beside the server's other writers. A bulk load holds the log
for the whole load: its batches commit in the order they were sealed, the one
being committed and the one being written are the head of the log, and a batch
the engine refuses is stored again one record at a time, sealed again from the
last committed record, after the next batch is given up and stored the same
way — so what the store holds is always a gap-free log, whatever is killed when.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from jobtrail.base import nt
from jobtrail.base.errors import InputError, JobtrailError, ValidationFailed
from jobtrail.base.terms import SH
from jobtrail.ingest import traceindex
from jobtrail.ingest.message import Incoming, Message
from jobtrail.ingest.read import read_message
from jobtrail.ingest.seal import Head, Log, unsealed
from jobtrail.ingest.sources import Item, Unreadable
from jobtrail.shapes import Report, Result, validate
from jobtrail.store import ResourceGraph, Store, Triple
from jobtrail.store.base import BulkWriter, TransactionWriter

CHUNK = 1000
"""Messages read before they are handed to the store's bulk writer in one piece."""


@dataclass
class Rejected:
    source: str
    error: JobtrailError


@dataclass
class LoadReport:
    stored: int = 0
    restored: int = 0  # of `stored`, graphs read back from a dump rather than messages
    duplicates: int = 0
    warned: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    seconds: float = 0.0
    stored_iris: list[str] = field(default_factory=list)

    @property
    def seen(self) -> int:
        return self.stored + self.duplicates + len(self.rejected)

    def summary(self) -> str:
        rate = (
            f" ({self.stored / self.seconds:,.0f} messages/s)"
            if self.seconds and self.stored
            else ""
        )
        messages = self.stored - self.restored
        parts = [f"stored {messages:,} message{'s' if messages != 1 else ''}"]
        if self.restored:
            parts[0] += (
                f" and {self.restored:,} graph{'s' if self.restored != 1 else ''} from dumps"
            )
        if self.duplicates:
            parts.append(f"{self.duplicates:,} already stored")
        if self.warned:
            parts.append(f"{self.warned:,} with warnings")
        if self.rejected:
            parts.append(f"{len(self.rejected):,} rejected")
        took = f"{self.seconds:.1f}" if self.seconds >= 10 else f"{self.seconds:.2f}"
        return ", ".join(parts) + f" in {took} s{rate}"


@dataclass
class Event:
    """What happened to one item, for progress bars and per-message output."""

    source: str
    outcome: str  # "stored", "duplicate", "rejected"
    size: int = 0
    iri: str | None = None
    error: JobtrailError | None = None
    warnings: list[Result] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    restored: bool = False  # a graph from a dump, not a message


Listener = Callable[[Event], None]
_Closing = tuple[
    "Future[None]",
    list[Event],
    dict[str, ResourceGraph],
    dict[str, JobtrailError],
    Head,
    Head,
    BulkWriter | None,
]
"""A batch being committed: its write, its messages, its graphs, what was refused, the
log's head before and after it, and its writer."""


class Loader:
    """Loads items into a store in batches; one instance per load."""

    def __init__(
        self,
        store: Store,
        *,
        base: str,
        validating: bool = True,
        batch_size: int = 5000,
        listener: Listener | None = None,
        keep_iris: bool = False,
        log: Log | None = None,
        transactional: bool = False,
        submitted_by: str | None = None,
        admit: Callable[[Message], JobtrailError | None] | None = None,
    ):
        self.store = store
        self.base = base
        self.validating = validating
        self.batch_size = batch_size
        self.listener = listener or (lambda event: None)
        self.keep_iris = keep_iris
        self.transactional = transactional
        self.submitted_by = submitted_by  # recorded beside each message, sealed with it
        self.admit = admit  # why a message may not be stored (its producer), or None
        self.log = log if log is not None else Log(store)
        self.report = LoadReport()
        self._chunk: dict[str, tuple[Message, Event]] = {}  # read, not yet handed over
        self._shared: dict[str, ResourceGraph] = {}
        self._pending: list[Event] = []  # handed over, reported when the batch is closed
        self._written: dict[str, ResourceGraph] = {}  # handed over in this batch
        self._failed: dict[str, JobtrailError] = {}
        self._writer: BulkWriter | None = None
        self._closing: _Closing | None = None
        self._fresh: set[str] = set()  # the graphs this load seals (not dumps', not shared)
        self._start = self.log.mark()  # the head before the batch being written
        self._stored_at = nt.now()

    def load(self, items: Iterable[Item]) -> LoadReport:
        """Read, validate and hand over messages in chunks; report them per batch.

        A batch (`batch_size` messages) is one bulk write. The store stores its
        chunks while this thread reads and validates the next ones; a batch is
        closed (its last quads indexed and committed) on another thread while
        the next batch is read, and its messages are reported once that is done.
        """
        start = time.perf_counter()
        # a store with no record yet is indexed from its first (the server marks its own)
        fresh = not self.transactional and traceindex.unmarked_and_empty(self.store)
        # a bulk load is the log's one writer from start to end (see the module docstring)
        held = contextlib.nullcontext() if self.transactional else self.log.held()
        with (
            held,
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="jobtrail-commit") as closer,
        ):
            self._closer = closer
            self._start = self.log.mark()
            try:
                for item in items:
                    self._take(item)
                    if len(self._chunk) >= CHUNK:
                        self._write_chunk()
                    if self._pending_count >= self.batch_size:
                        self._close_batch()
                self._write_chunk()
                self._close_batch()
                self._settle()
                if fresh and self.report.stored:
                    traceindex.mark(self.store)
            except BaseException:
                if self._writer is not None:
                    self._writer.abort()
                if self._closing is not None:
                    self._abandon(self._closing)
                self.log.rewind(self.log.committed)  # nothing sealed since was kept
                raise
        self.report.seconds = time.perf_counter() - start
        return self.report

    def _take(self, item: Item) -> None:
        if isinstance(item, Unreadable):
            self._reject(item.source, item.error, item.size)
            return
        if isinstance(item, Message) and traceindex.is_index(item.iri):
            return  # a dump's trace index: written again from the graphs it indexes
        size = len(item.data) if isinstance(item, Incoming) else 0
        try:
            message = (
                item
                if isinstance(item, Message)
                else read_message(item, base=self.base, stored_at=self._stored_at)
            )
            refused = self.admit(message) if self.admit is not None else None
            if refused is not None:
                raise refused
            report = validate(message.all_triples()) if self.validating else Report()
            if self.validating:  # and what TNA's schemas say of a TRE message
                report.results += message.warnings
        except JobtrailError as e:
            self._reject(item.source, e, size)
            return
        if not report.conforms:
            error = ValidationFailed(f"{len(report.violations)} shape violation(s)", report=report)
            self._reject(message.source, error, size)
            return
        event = Event(
            message.source,
            "stored",
            size,
            message.iri,
            warnings=report.warnings,
            notes=message.notes,
            restored=isinstance(item, Message),
        )
        if message.iri in self._chunk:
            self._duplicate(event)
            return
        if report.warnings and not event.restored:
            # a graph from a dump is stored verbatim: its warnings are already in it
            message.graph.triples += warning_triples(message.iri, report.warnings)
        if self.submitted_by is not None and not event.restored:
            submitted = (nt.iri(message.iri), nt.jt("submittedBy"), nt.lit(self.submitted_by))
            message.graph.triples.append(submitted)
        self._chunk[message.iri] = (message, event)
        for graph in message.shared:
            self._shared.setdefault(graph.iri, graph)

    def _write_chunk(self) -> None:
        """Hand the messages read so far to the batch's writer, sealed."""
        if not self._chunk:
            return
        chunk, self._chunk = self._chunk, {}
        shared, self._shared = self._shared, {}
        if self._writer is None:
            self._writer = (
                TransactionWriter(self.store) if self.transactional else self.store.bulk_writer()
            )
        # "stored before?", the seal and the write go together (a bulk load holds the log)
        with self.log.held():
            # graphs handed over but not committed yet are not seen by `existing`
            unsettled = self._written.keys() | (self._closing[2].keys() if self._closing else set())
            names = chunk.keys() | shared.keys()
            already = self.store.existing(names - unsettled) | (names & unsettled)
            graphs, fresh = [], []
            for iri, (m, event) in chunk.items():
                if iri in already:
                    self._duplicate(event)
                    continue
                self._pending.append(event)
                graphs.append(m.graph)
                if not event.restored:  # a graph from a dump keeps the seal it was dumped with
                    fresh.append(m.graph)
            graphs += [g for iri, g in shared.items() if iri not in already]
            self._fresh.update(g.iri for g in fresh)
            try:
                self._sealed(graphs, fresh)
            except (InputError, ValueError, UnicodeError):
                self._isolate(graphs)
                return
        self._written.update((g.iri, g) for g in graphs)

    def _sealed(
        self,
        graphs: list[ResourceGraph],
        fresh: list[ResourceGraph],
        write: Callable[[list[ResourceGraph]], None] | None = None,
    ) -> None:
        """Seal `fresh` (of `graphs`) at the log's head and write `graphs` (`write`, else
        the batch's writer): in one critical section when transactional; into the batch
        otherwise, committed when it closes. Raises what the writer raises, nothing
        written and the head as it was."""
        assert self._writer is not None or write is not None
        write = write or self._writer.write  # type: ignore[union-attr]
        if self.transactional:
            with self.log.sealing(fresh):
                write(traceindex.with_entries(graphs))
            return
        before = self.log.mark()
        for graph in fresh:
            self.log.seal(graph)
        try:
            write(traceindex.with_entries(graphs))
        except BaseException:
            self.log.rewind(before)
            raise

    def _close_batch(self) -> None:
        """Close the batch's write on the committing thread, once the one before is done."""
        try:
            self._settle()
        except BaseException:
            if self._writer is not None:  # its engine load waits on its pipe until it is closed
                self._writer.abort()
                self._writer = None
            raise
        writer, self._writer = self._writer, None
        head = self.log.mark()
        self._start, start = head, self._start
        done: Future[None] = self._closer.submit(writer.close) if writer else _done()
        self._closing = (done, self._pending, self._written, self._failed, start, head, writer)
        self._pending, self._written, self._failed = [], {}, {}

    def _settle(self) -> None:
        """Wait for the batch being committed, then report its messages."""
        if self._closing is None:
            return
        done, pending, written, failed, start, end, closed = self._closing
        self._closing = None
        try:
            done.result()
        except (InputError, ValueError, UnicodeError):
            # The engine refused something the readers let through (none of the
            # batch is kept): store it again one graph at a time, each its own
            # transaction sealed again from the batch's start, and reject only what
            # the engine refuses. The batch being written was sealed after it: give it
            # up first (no transaction runs beside an engine bulk load: they deadlock),
            # and store it the same way.
            if self._writer is not None:
                self._writer.abort()
                self._writer = None
            if closed is not None:
                closed.abort()  # what the refused batch wrote goes, now that no load runs
            self.log.rewind(start)
            failed.update(self._one_by_one(list(written.values())))
            later, self._written = list(self._written.values()), {}
            self._failed.update(self._one_by_one(later))
            end = self._start = self.log.mark()
        if not self.transactional:  # a transactional write committed under the log itself
            self.log.commit(end)
        self._fresh.difference_update(written)
        for event in pending:
            if event.iri in failed:
                self._reject(event.source, failed[event.iri], event.size)
                continue
            self.report.stored += 1
            self.report.restored += event.restored
            self.report.warned += bool(event.warnings)
            if self.keep_iris and event.iri:
                self.report.stored_iris.append(event.iri)
            self.listener(event)

    def _abandon(self, closing: _Closing) -> None:
        """The load stops: the batch being committed is cancelled if it has not started,
        else waited for, and its records are the log's committed head if it committed."""
        done, *_, end, writer = closing
        if done.cancel():
            if writer is not None:
                writer.abort()
            return
        try:
            done.result()
        except BaseException:  # noqa: BLE001 - refused: nothing of it is kept
            if writer is not None:
                writer.abort()
            return
        if not self.transactional:
            self.log.commit(end)

    @property
    def _pending_count(self) -> int:
        return len(self._pending) + len(self._chunk)

    def _isolate(self, graphs: list[ResourceGraph]) -> None:
        """The engine refused something the readers let through: write the graphs one at
        a time (transactional: each its own transaction; bulk: each into the batch), each
        sealed again at the head, and reject only those it refuses."""
        assert self._writer is not None
        failed = self._one_by_one(graphs, self._writer.write)
        self._failed.update(failed)
        self._written.update((g.iri, g) for g in graphs if g.iri not in failed)

    def _one_by_one(
        self,
        graphs: list[ResourceGraph],
        write: Callable[[list[ResourceGraph]], None] | None = None,
    ) -> dict[str, JobtrailError]:
        """Write each graph on its own (`write`, else a transaction of its own), sealing
        it again at the head; what the engine refused, by IRI."""
        failed: dict[str, JobtrailError] = {}
        for graph in graphs:
            fresh = [unsealed(graph)] if graph.iri in self._fresh else []
            try:
                with self.log.held():
                    if write is None:
                        with self.log.sealing(fresh):
                            self.store.add(traceindex.with_entries([graph]))
                    else:
                        self._sealed([graph], fresh, write)
            except (InputError, ValueError, UnicodeError) as e:
                failed[graph.iri] = InputError(f"the store refused this message: {e}")
        return failed

    def _duplicate(self, event: Event) -> None:
        event.outcome = "duplicate"
        self.report.duplicates += 1
        self.listener(event)

    def _reject(self, source: str, error: JobtrailError, size: int) -> None:
        self.report.rejected.append(Rejected(source, error))
        self.listener(Event(source, "rejected", size, error=error))


def _done() -> Future[None]:
    future: Future[None] = Future()
    future.set_result(None)
    return future


def warning_triples(m: str, warnings: list[Result]) -> list[Triple]:
    """Warnings kept with the message as SHACL validation results."""
    out: list[Triple] = []
    s = nt.iri(m)
    for i, w in enumerate(sorted(warnings, key=lambda w: (w.focus, w.path or "", w.message))):
        r = nt.iri(f"{m}#warning-{i}")
        out += [
            (s, nt.jt("validationWarning"), r),
            (r, nt.A, nt.iri(str(SH.ValidationResult))),
            (r, nt.iri(str(SH.resultSeverity)), nt.iri(w.severity)),
            (
                r,
                nt.iri(str(SH.focusNode)),
                w.focus if w.focus.startswith("_:") else nt.iri(w.focus),
            ),
            (r, nt.iri(str(SH.resultMessage)), nt.lit(w.message)),
        ]
        if w.path:
            out.append((r, nt.iri(str(SH.resultPath)), nt.iri(w.path)))
        if w.shape:
            out.append((r, nt.iri(str(SH.sourceShape)), nt.iri(w.shape)))
        if w.value is not None:
            out.append((r, nt.iri(str(SH.value)), w.value))
    return out
