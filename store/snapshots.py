"""Read-only copies of an embedded store, for query processes to open.

Oxigraph 0.5 lets one process write a store; another may open it read-only only
while nobody writes it (`ox.Store.read_only`: undefined behaviour otherwise), and it
has no secondary instance that follows the writer. So a query process reads a
*snapshot*: an engine checkpoint (`OxigraphStore.snapshot`) in a folder of its own,
which hard-links the engine's immutable files and costs a few milliseconds.

Freshness. The store counts the writes it completed (`OxigraphStore.writes`); every
snapshot records how many it holds at least. `fresh(needed)` hands out the newest
snapshot if it holds `needed` writes, else takes a new one. A caller reads `writes`
when its request arrives and asks for a snapshot holding that many, so it sees every
write acknowledged before it arrived. Callers arriving together share one new
snapshot: the first takes it under the lock while the others wait for the lock and
find it fresh enough.

Lifetime. A snapshot is `held` from when it is handed out until the caller releases it
(a query process holds the one it has open); the newest one is kept, older ones are
removed once nobody holds them, and every folder left over from
an earlier run is removed when the snapshots are opened.
"""

from __future__ import annotations

import itertools
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

from jobtrail.store.oxigraph import OxigraphStore


@dataclass(eq=False)
class Snapshot:
    """One read-only copy: where it is, and how many of the store's writes it holds."""

    path: Path
    writes: int
    held: int = field(default=0, repr=False)
    """Query processes that have it open."""


class Snapshots:
    """The snapshots of one store, kept in `root` (emptied when opened)."""

    def __init__(self, store: OxigraphStore, root: Path) -> None:
        self.store = store
        self.root = root
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        self._lock = threading.Lock()  # one snapshot taken at a time
        self._books = threading.Lock()  # the counts below
        self._names = itertools.count(1)
        self._newest: Snapshot | None = None
        self._old: list[Snapshot] = []

    def newest(self, needed: int) -> Snapshot | None:
        """The newest snapshot, held (see `release`), if it holds at least `needed` writes;
        else None. It never waits."""
        with self._books:
            newest = self._newest
            if newest is None or newest.writes < needed:
                return None
            newest.held += 1
            return newest

    def fresh(self, needed: int) -> Snapshot:
        """A snapshot holding at least `needed` writes (the newest, or a new one), held: the
        caller releases it (`release`) once no process reads it."""
        if (newest := self.newest(needed)) is not None:
            return newest
        with self._lock:
            if (newest := self.newest(needed)) is not None:
                return newest  # taken while this caller waited for the lock
            path = self.root / str(next(self._names))
            snapshot = Snapshot(path, self.store.snapshot(path), held=1)
            with self._books:
                if self._newest is not None:
                    self._old.append(self._newest)
                self._newest = snapshot
                gone = self._unheld()
        self._remove(gone)
        return snapshot

    def release(self, snapshot: Snapshot) -> None:
        with self._books:
            snapshot.held -= 1
            gone = self._unheld()
        self._remove(gone)

    def _unheld(self) -> list[Snapshot]:
        gone = [s for s in self._old if s.held <= 0]
        self._old = [s for s in self._old if s.held > 0]
        return gone

    @staticmethod
    def _remove(gone: list[Snapshot]) -> None:
        for snapshot in gone:
            shutil.rmtree(snapshot.path, ignore_errors=True)

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
