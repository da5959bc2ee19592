"""Changes other processes make to jobs, told to this process's listeners as its own are.

On a store several `jobtrail serve` processes share (a remote engine), a job created in one,
run by a second and waited on (UWS `WAIT`) in a third changes in each. The job core tells its
listeners — the workers' queue and timers, the waiters, the visibility policy's owners, the
MCMA callbacks — of the changes it makes itself; the follower tells them of the others'.

Every job change is a record sealed into the store's one log (`ingest/seal.py`), so the log
is the change sequence: every `interval` seconds the follower looks whether the log has grown
past the position it has read (one point read when nothing changed; O(log n) for n new
records, `Log.head_from`), reads which of the new records are job changes made by another
process (one query per 200), and tells each with the job as it is now. A change elsewhere is
seen here at most `interval` seconds (plus a query) after it committed: the default 0.25 s is
what a UWS `WAIT` on another process adds. Nothing runs on a store no other process writes.
"""

from __future__ import annotations

import logging
import threading

from jobtrail.base import nt
from jobtrail.base.errors import Gone, NotFound
from jobtrail.base.terms import JT
from jobtrail.ingest.seal import POSITION
from jobtrail.jobs.core import Change, Job, Jobs

log = logging.getLogger("jobtrail.follow")

_J = str(JT)
CHUNK = 200


class Follower:
    def __init__(self, jobs: Jobs, *, interval: float = 0.25) -> None:
        self.jobs = jobs
        self.interval = interval
        self.position = jobs.log.committed.position
        """The last log position read."""
        if jobs.log.mine is None:
            jobs.log.mine = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="jobtrail-follow", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except Exception:  # the engine is away: look again at the next beat
                log.exception("following other processes' changes")

    def poll(self) -> int:
        """Tell the changes other processes committed since the last look; how many."""
        head = self.jobs.log.head_from(self.position)
        if head == self.position:
            return 0
        mine = self.jobs.log.mine if self.jobs.log.mine is not None else set()
        new = range(self.position + 1, head + 1)
        theirs = [n for n in new if n not in mine]
        mine.difference_update(new)
        told = 0
        for start in range(0, len(theirs), CHUNK):
            for change in self._changes(theirs[start : start + CHUNK]):
                self.jobs.tell(change)
                told += 1
        self.position = head
        return told

    def _changes(self, positions: list[int]) -> list[Change]:
        values = " ".join(nt.integer(n) for n in positions)
        rows = self.jobs.store.query(
            f"SELECT ?n ?job ?kind ?from ?by WHERE {{ VALUES ?n {{ {values} }} "
            f"?m <{POSITION}> ?n ; <{_J}about> ?job ; <{_J}changeKind> ?kind "
            f"OPTIONAL {{ ?m <{_J}fromPhase> ?from }} OPTIONAL {{ ?m <{_J}changedBy> ?by }} }}"
        )
        found = sorted(
            ((int(r["n"].value), r) for r in rows),  # type: ignore[union-attr]
            key=lambda pair: pair[0],
        )
        changes = []
        for _, row in found:
            job_id = self.jobs.id_of(row["job"].value)
            if job_id is None:
                continue
            job: Job | None
            try:
                job = self.jobs.get(job_id)
            except (NotFound, Gone):
                job = None
            previous = row["from"].value.rpartition("/")[2] if row["from"] is not None else None
            by = row["by"].value if row["by"] is not None else None
            changes.append(Change(row["kind"].value, job, job_id, previous, by, elsewhere=True))
        return changes


__all__ = ["Follower"]
