"""Leases in the engine: mutual exclusion among the processes that share a remote store.

One `jobtrail serve` (or `load`) per embedded store is all there can be (the engine's
lock), so its locks are threading locks. A remote engine can be written by any number of
processes on any number of machines; what must happen once among them — sealing the next
record of the log, moving a QUEUED job to EXECUTING, sending an outbox call — happens under
a lease held in the engine itself, by the SPARQL 1.1 protocols alone:

    GRAPH <urn:jobtrail:leases> {
        <urn:jobtrail:lease:log> <urn:jobtrail:leases#claim> <urn:jobtrail:claim:…> .
        <urn:jobtrail:claim:…> <urn:jobtrail:leases#until> 1765120000000 ;   # epoch ms
                               <urn:jobtrail:leases#holder> "host/pid/…" .
    }

To take a lease a process (1) sends one update that removes the lease's expired claims and
inserts its own claim unless a live one exists, then (2) reads the lease's claims. It holds
the lease when its own claim is the only live one; when another live claim is there too it
withdraws its own and tries again after a short random pause. This needs no isolation from
the engine beyond "a read sees every update that completed before it began": if two
processes both held the lease, each read came after its own insert and saw no other claim,
so each insert completed after the other's read began, which cannot both be true. (Engines
that run the conditional insert atomically, as Oxigraph does, make the contested case rare;
the read is what makes it safe on any engine.) Two claimants that see each other both
withdraw, so neither holds it until one of them tries again: safe first, then live.

A held lease is renewed by the heartbeat thread every third of its time to live; a process
that stops renewing (killed, frozen, cut off) loses its leases when they expire, and another
takes over (a job it was running is queued again: `jobs/workers.py`). The processes' clocks
must agree to well within the time to live (NTP does: the default is 15 s).

The argument above holds only while a held claim stays visible as live to every reader, so:

- A renewal never rewrites a held claim's expiry in place: it adds the new expiry, and only
  once that update has completed removes the older ones (a claim is live while any of its
  expiries is to come). A DELETE/INSERT of the expiry in one update left, on an engine that
  does not show a transaction's changes all at once (Virtuoso), a moment when a reader could
  find the claim without an expiry, take it for gone and take the lease too.
- A holder does not write on a lease it may have lost: within `hold`, every update this
  thread sends through the store (`RemoteStore.fenced`) is refused (StoreLocked) once less
  than a third of the time to live is left on the claim (two renewals missed: the engine or
  this process too slow) or a renewal found the claim taken over.

Reentrant: a thread holding a lease may take it again (the log is held around a job's whole
change and again to seal it); the claim is released when the outermost hold ends. Threads of
one process queue on a local lock first, so the engine sees one claimant per process.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote, unquote

import pyoxigraph as ox
from jobtrail.base.errors import JobtrailError, StoreLocked
from jobtrail.store.base import Store

log = logging.getLogger("jobtrail.leases")

GRAPH = "urn:jobtrail:leases"
CLAIM = f"{GRAPH}#claim"
UNTIL = f"{GRAPH}#until"
HOLDER = f"{GRAPH}#holder"
_INTEGER = "http://www.w3.org/2001/XMLSchema#integer"
MAX_PAUSE = 0.01  # seconds between tries at most: a lease is mostly held for milliseconds
HANDOVERS = 32  # writes in a row one process makes under one claim while others may wait


def lease_iri(name: str) -> str:
    return f"urn:jobtrail:lease:{quote(name, safe='')}"


def _ms(value: int) -> str:
    return str(ox.Literal(str(value), datatype=ox.NamedNode(_INTEGER)))


@dataclass
class _Held:
    """A lease this process holds: its claim, its expiry, how deep the holding thread is."""

    name: str
    claim: str
    until: int
    depth: int = 1
    thread: int = 0
    handovers: int = 0  # times it went from one thread of this process to the next
    lost: bool = False  # a renewal found the claim gone (taken over)


class Leases:
    """Named leases in a shared engine, held by this process (`token` names it)."""

    def __init__(
        self,
        store: Store,
        *,
        ttl: float = 15.0,
        clock: Callable[[], float] = time.time,
        token: str | None = None,
    ) -> None:
        self.store = store
        self._write: Callable[[str], None] = getattr(store, "update_unfenced", store.update)
        """Updates of the lease protocol itself: not stopped by a fence of a lease held."""
        self.ttl = ttl
        self.clock = clock
        self.token = token or f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"
        """Who holds this process's claims (host, process id, a random part)."""
        self._local: dict[str, threading.RLock] = {}
        self._held: dict[str, _Held] = {}
        self._waiting: dict[str, int] = {}  # threads of this process waiting for each lease
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost: list[str] = []
        """Leases a renewal found taken over (the process was cut off past their time)."""

    def _now(self) -> int:
        return int(self.clock() * 1000)

    # --- life --------------------------------------------------------------------

    def start(self) -> None:
        """Start renewing held leases (a daemon thread)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._beat, name="jobtrail-leases", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None

    # --- holding ------------------------------------------------------------------

    @contextlib.contextmanager
    def hold(self, name: str, *, wait: float = 30.0) -> Iterator[bool]:
        """Hold the lease `name` for the block; StoreLocked when it stays taken for `wait` s.

        Yields whether the lease was taken in the engine for this block (False: this thread
        held it already, or another thread of this process handed it over without letting
        it go, so nobody else can have written meanwhile). A holder that ends while threads
        of its process wait for the same lease hands it to them, up to `HANDOVERS` times in a
        row, before it lets other processes have it: one claim for a run of writes."""
        with self._guard:
            local = self._local.setdefault(name, threading.RLock())
            self._waiting[name] = self._waiting.get(name, 0) + 1
        deadline = time.monotonic() + wait
        try:
            acquired = local.acquire(timeout=max(wait, 0.0))
        finally:
            with self._guard:
                self._waiting[name] -= 1
        if not acquired:
            raise self._busy(name, wait)
        me = threading.get_ident()
        try:
            held = self._held.get(name)
            fresh = False
            if held is not None and held.thread == me:
                held.depth += 1
            elif held is not None and held.depth == 0:  # handed over by a thread before
                held.thread, held.depth = me, 1
            else:
                claim = self._claim(name, deadline)
                if claim is None:
                    raise self._busy(name, wait)
                held, fresh = claim, True
                with self._guard:
                    self._held[name] = held
            try:
                fenced = getattr(self.store, "fenced", None)
                with fenced(lambda: self.check(held)) if fenced else contextlib.nullcontext():
                    yield fresh
            finally:
                held.depth -= 1
                if held.depth == 0:
                    with self._guard:
                        keep = self._waiting.get(name, 0) > 0 and held.handovers < HANDOVERS
                        if keep:
                            held.handovers += 1
                            held.thread = 0
                        else:
                            self._held.pop(name, None)
                    if not keep:
                        self._release(held)
        finally:
            local.release()

    def try_hold(self, name: str) -> _Held | None:
        """Take the lease `name` now if it is free (no waiting); `release` gives it back.
        For a lease kept beyond a block (a job's run): the heartbeat renews it meanwhile."""
        with self._guard:
            if name in self._held:
                return None
        held = self._claim(name, time.monotonic())
        if held is not None:
            held.thread = -1  # held by no thread in particular
            with self._guard:
                self._held[name] = held
        return held

    def release(self, held: _Held) -> None:
        with self._guard:
            self._held.pop(held.name, None)
        self._release(held)

    def check(self, held: _Held) -> None:
        """Raise StoreLocked when `held` may be lost: a renewal found it taken over, or less
        than a third of the time to live is left on it (two renewals missed). A write under
        a lease checks this first (the store's fence), so that a holder cut off long enough
        for another process to take the lease does not write after it."""
        left = held.until - self._now()
        if held.lost or left < self.ttl * 1000 / 3:
            why = "was taken over" if held.lost else f"had {max(left, 0) / 1000:g} s left"
            raise StoreLocked(
                f"the store's {held.name} lease {why} (time to live {self.ttl:g} s): this "
                "write is refused, so that two processes never write under one lease",
                hint="the engine or this process was too slow to renew the lease; try again",
            )

    def live(self, prefix: str = "") -> dict[str, str]:
        """The leases live now whose names start with `prefix`, and who holds each."""
        rows = self.store.query(
            f"SELECT ?l ?u ?h WHERE {{ GRAPH <{GRAPH}> {{ ?l <{CLAIM}> ?c . "
            f"?c <{UNTIL}> ?u ; <{HOLDER}> ?h }} }}",
            default_graph_union=False,
        )
        now, start = self._now(), lease_iri(prefix)
        out: dict[str, str] = {}
        for row in rows:  # type: ignore[union-attr]
            iri, until = row["l"].value, int(row["u"].value)
            if until >= now and iri.startswith(start):
                out[_name_of(iri)] = row["h"].value
        return out

    # --- the protocol -------------------------------------------------------------

    def _claim(self, name: str, deadline: float) -> _Held | None:
        lease = f"<{lease_iri(name)}>"
        pause = 0.002
        while True:
            claim = f"urn:jobtrail:claim:{uuid.uuid4()}"
            now = self._now()
            until = now + int(self.ttl * 1000)
            holder = ox.Literal(self.token)
            self._write(
                f"DELETE {{ GRAPH <{GRAPH}> {{ {lease} <{CLAIM}> ?c . ?c ?p ?o }} }}\n"
                f"WHERE {{ GRAPH <{GRAPH}> {{ {lease} <{CLAIM}> ?c . ?c ?p ?o "
                f"FILTER NOT EXISTS {{ ?c <{UNTIL}> ?u FILTER(?u >= {_ms(now)}) }} }} }} ;\n"
                f"INSERT {{ GRAPH <{GRAPH}> {{ {lease} <{CLAIM}> <{claim}> . "
                f"<{claim}> <{UNTIL}> {_ms(until)} ; <{HOLDER}> {holder} }} }}\n"
                f"WHERE {{ FILTER NOT EXISTS {{ GRAPH <{GRAPH}> {{ {lease} <{CLAIM}> ?o2 . "
                f"?o2 <{UNTIL}> ?u2 FILTER(?u2 >= {_ms(now)}) }} }} }}"
            )
            live = self._claims(lease, self._now())
            if live == {claim}:
                return _Held(name, claim, until, thread=threading.get_ident())
            if claim in live:  # another claimant got in too: both step back
                self._drop(lease, claim)
            if time.monotonic() >= deadline:
                return None
            time.sleep(min(pause * (0.5 + random.random()), max(deadline - time.monotonic(), 0)))
            pause = min(pause * 2, MAX_PAUSE)

    def _claims(self, lease: str, now: int) -> set[str]:
        rows = self.store.query(
            f"SELECT ?c ?u WHERE {{ GRAPH <{GRAPH}> {{ {lease} <{CLAIM}> ?c . "
            f"?c <{UNTIL}> ?u }} }}",
            default_graph_union=False,
        )
        return {row["c"].value for row in rows if int(row["u"].value) >= now}  # type: ignore[union-attr]

    def _drop(self, lease: str, claim: str) -> None:
        self._write(
            f"DELETE WHERE {{ GRAPH <{GRAPH}> {{ {lease} <{CLAIM}> <{claim}> . "
            f"<{claim}> ?p ?o }} }}"
        )

    def _release(self, held: _Held) -> None:
        try:
            self._drop(f"<{lease_iri(held.name)}>", held.claim)
        except JobtrailError:  # it expires by itself
            log.warning("could not release the lease %s; it expires by itself", held.name)

    def _busy(self, name: str, wait: float) -> StoreLocked:
        holders = ", ".join(sorted(set(self.live(name).values()))) or "another process"
        return StoreLocked(
            f"the store's {name} lease stayed taken for {wait:g} s (held by {holders})",
            hint="another jobtrail process is writing (a bulk load holds the log for its "
            "whole length); try again when it is done",
        )

    # --- renewing -------------------------------------------------------------------

    def _beat(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                self.renew()
            except Exception:  # the engine is away: try again at the next beat
                log.exception("renewing leases")

    def renew(self) -> None:
        """Push every held lease's expiry one time to live ahead; note the ones lost. A
        lease handed over to a thread that gave up waiting is let go."""
        with self._guard:
            orphans = [h for h in self._held.values() if h.depth == 0 and h.thread == 0]
        for h in orphans:
            local = self._local[h.name]
            if local.acquire(blocking=False):
                try:
                    if h.depth == 0 and h.thread == 0 and self._held.get(h.name) is h:
                        with self._guard:
                            self._held.pop(h.name, None)
                        self._release(h)
                finally:
                    local.release()
        with self._guard:
            held = list(self._held.values())
        if not held:
            return
        until = self._now() + int(self.ttl * 1000)
        claims = " ".join(f"<{h.claim}>" for h in held)
        # the new expiry first, beside the old one (only on a claim still there), then the
        # older ones out: a reader never finds a held claim without an expiry to come
        self._write(
            f"INSERT {{ GRAPH <{GRAPH}> {{ ?c <{UNTIL}> {_ms(until)} }} }}\n"
            f"WHERE {{ VALUES ?c {{ {claims} }} GRAPH <{GRAPH}> {{ ?l <{CLAIM}> ?c }} }}"
        )
        rows = self.store.query(
            f"SELECT ?c WHERE {{ VALUES ?c {{ {claims} }} "
            f"GRAPH <{GRAPH}> {{ ?l <{CLAIM}> ?c . ?c <{UNTIL}> {_ms(until)} }} }}",
            default_graph_union=False,
        )
        kept = {row["c"].value for row in rows}  # type: ignore[union-attr]
        if kept:
            self._write(
                f"DELETE {{ GRAPH <{GRAPH}> {{ ?c <{UNTIL}> ?u }} }}\n"
                f"WHERE {{ VALUES ?c {{ {' '.join(f'<{c}>' for c in sorted(kept))} }} "
                f"GRAPH <{GRAPH}> {{ ?c <{UNTIL}> ?u FILTER(?u < {_ms(until)}) }} }}"
            )
        for h in held:
            if h.claim in kept:
                h.until = until
            elif h.name in self._held:
                log.error("lease %s was taken over: this process was cut off too long", h.name)
                h.lost = True
                self.lost.append(h.name)


def _name_of(iri: str) -> str:
    return unquote(iri.removeprefix("urn:jobtrail:lease:"))


__all__ = ["GRAPH", "Leases", "lease_iri"]
