"""Bulk loading: read, validate, deduplicate and store messages in batches.

One bad message never stops the good ones: it is reported (where, what,
why) and skipped, and nothing of it is stored. Messages are only reported
as stored once their batch is committed (see the store's journal), so a
crash loses nothing that was reported.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from jobtrail.shapes import Report, Result, validate
from jobtrail.store import ResourceGraph, Store, Triple
from jobtrail.store.errors import InputError, JobtrailError, ValidationFailed
from jobtrail.vocab.terms import SH

from . import nt
from .message import Incoming, Message
from .read import read_message
from .sources import Item, Unreadable

BULK_THRESHOLD = 100
"""Batches at least this large use the store's bulk path; smaller ones one transaction."""


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
        return ", ".join(parts) + f" in {self.seconds:.1f} s{rate}"


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
_InFlight = tuple["Future[None]", dict[str, tuple[Message, Event]], set[str], list[ResourceGraph]]


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
    ):
        self.store = store
        self.base = base
        self.validating = validating
        self.batch_size = batch_size
        self.listener = listener or (lambda event: None)
        self.keep_iris = keep_iris
        self.report = LoadReport()
        self._batch: dict[str, tuple[Message, Event]] = {}
        self._shared: dict[str, ResourceGraph] = {}
        self._stored_at = nt.now()
        self._in_flight: _InFlight | None = None

    def load(self, items: Iterable[Item]) -> LoadReport:
        """Read and validate on this thread while the previous batch is written on another.

        The store's engine does its work without holding the GIL, so reading
        batch n+1 overlaps with writing batch n; a batch's messages are reported
        only once its write has returned.
        """
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="jobtrail-writer") as writer:
            self._writer = writer
            for item in items:
                self._take(item)
                if len(self._batch) >= self.batch_size:
                    self._submit()
            self._submit()
            self._finish()
        self.report.seconds = time.perf_counter() - start
        return self.report

    def _take(self, item: Item) -> None:
        if isinstance(item, Unreadable):
            self._reject(item.source, item.error, item.size)
            return
        size = len(item.data) if isinstance(item, Incoming) else 0
        try:
            message = (
                item
                if isinstance(item, Message)
                else read_message(item, base=self.base, stored_at=self._stored_at)
            )
            report = validate(message.all_triples()) if self.validating else Report()
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
        if message.iri in self._batch:
            self._duplicate(event)
            return
        if report.warnings and not event.restored:
            # a graph from a dump is stored verbatim: its warnings are already in it
            message.graph.triples += warning_triples(message.iri, report.warnings)
        self._batch[message.iri] = (message, event)
        for graph in message.shared:
            self._shared.setdefault(graph.iri, graph)

    def _submit(self) -> None:
        """Start writing the current batch once the previous one is written."""
        self._finish()
        if not self._batch:
            return
        batch, self._batch = self._batch, {}
        shared, self._shared = self._shared, {}
        already = self.store.existing([*batch, *shared])
        graphs: list[ResourceGraph] = [
            m.graph for iri, (m, _) in batch.items() if iri not in already
        ]
        graphs += [g for iri, g in shared.items() if iri not in already]
        future = self._writer.submit(self.store.add, graphs, bulk=len(graphs) >= BULK_THRESHOLD)
        self._in_flight = (future, batch, already, graphs)

    def _finish(self) -> None:
        """Wait for the batch being written, then report its messages."""
        if self._in_flight is None:
            return
        future, batch, already, graphs = self._in_flight
        self._in_flight = None
        try:
            future.result()
        except (InputError, ValueError, UnicodeError):
            # The engine refused something the readers let through: find which
            # message it was by storing them one at a time, and reject only it.
            for iri, error in self._one_by_one(graphs).items():
                if iri in batch:
                    _, event = batch.pop(iri)
                    self._reject(event.source, error, event.size)
        for iri, (_, event) in batch.items():
            if iri in already:
                self._duplicate(event)
                continue
            self.report.stored += 1
            self.report.restored += event.restored
            self.report.warned += bool(event.warnings)
            if self.keep_iris:
                self.report.stored_iris.append(iri)
            self.listener(event)

    def _one_by_one(self, graphs: list[ResourceGraph]) -> dict[str, JobtrailError]:
        failed: dict[str, JobtrailError] = {}
        for graph in graphs:
            try:
                self.store.add([graph])
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
