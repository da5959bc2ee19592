"""A job's versions: its state after each change, folded from its change records.

Every change to a job is a sealed `jt:JobChange` message (`jobs/core.py` `_message`) saying
its sequence, when, by whom, the phase before and after, and the error it recorded. Version
`n` of a job is its state after change `n`: the fold of records 1 … n. What the records say
is exact: the phase, the sequence, when it was created, modified, started and ended, its
error. What they do not say comes from the job's state as it is now, and only where it cannot
have differed: its profile, owner, price and priority never change; its input, parameters,
run id, execution duration, destruction and quote are the current ones for a version after
their last `updated` change, and not known (`Version.unknown`) for an earlier one; its
results for a version at or after the change that made them. The last version of a job that
exists is its current state exactly. A deleted job's records outlive it: its versions are
those before the deletion, with what the records say.

`timeline` reads the records in one query (the job page's `history.rq`); the TimeGate, the
mementos and the TimeMap (`memento.py`) are built on it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from jobtrail.bindings.jobservice import page
from jobtrail.jobs.core import FINAL, Job, JobError
from jobtrail.store import Store

SETTABLE = frozenset(
    {"input", "parameters", "run_id", "execution_duration", "destruction", "quote"}
)
"""What `Jobs.update` may change while a job is PENDING or HELD; its records do not say to what."""
UNRECORDED = frozenset({"profile", "price", "paid_bytes", "priority", "due", "status_value"})
"""What only a job's state holds: not known of a deleted job."""


@dataclass(frozen=True)
class Version:
    """The job after one change."""

    number: int  # the change's sequence: 1 is the creation
    at: datetime  # when the change was made
    job: Job  # the state after it
    record: page.Record  # the change record
    unknown: frozenset[str] = frozenset()  # Job fields its records do not say

    @property
    def second(self) -> datetime:
        """Its time at HTTP's resolution (`Memento-Datetime`, `Accept-Datetime`)."""
        return self.at.replace(microsecond=0)


@dataclass(frozen=True)
class Timeline:
    """Every version of one job, first first, and its deletion if it was deleted."""

    job_id: str
    iri: str
    versions: tuple[Version, ...]
    records: tuple[page.Record, ...]
    deleted: page.Record | None = None

    def as_of(self, when: datetime) -> Version | None:
        """The version current at `when` (to the second: a change made within the second
        asked for counts); None before the job was created. The caller checks `deleted`."""
        found = None
        for version in self.versions:
            if version.second <= when:
                found = version
        return found

    def number(self, n: int) -> Version | None:
        return next((v for v in self.versions if v.number == n), None)

    def neighbours(self, version: Version) -> tuple[Version | None, Version | None]:
        """The versions before and after it (None at either end)."""
        at = self.versions.index(version)
        before = self.versions[at - 1] if at > 0 else None
        after = self.versions[at + 1] if at + 1 < len(self.versions) else None
        return before, after


def timeline(store: Store, job_id: str, iri: str, current: Job | None) -> Timeline:
    """The job's versions from its change records; `current`: its state, None once deleted."""
    records = tuple(page.history(store, iri))
    ends = [r for r in records if r.kind in ("deleted", "destroyed")]
    deleted = ends[0] if ends else None
    living = [r for r in records if deleted is None or r.sequence < deleted.sequence]
    last_update = max((r.sequence for r in living if r.kind == "updated"), default=0)
    made = max((r.sequence for r in living if r.target == "COMPLETED"), default=None)
    versions: list[Version] = []
    state: Job | None = None
    for record in living:
        state = _first(job_id, iri, record, current) if state is None else _fold(state, record)
        unknown = frozenset() if current is not None else UNRECORDED | SETTABLE
        if record.sequence < last_update:
            unknown |= SETTABLE
        results = None
        if current is not None and current.results and made is not None:
            results = current.results if record.sequence >= made else None
        job = replace(state, results=results)
        if current is not None and record is living[-1] and record.sequence == current.sequence:
            job, unknown = current, frozenset()  # the last version is the state as it is
        versions.append(Version(record.sequence, record.at, job, record, unknown))
    return Timeline(job_id, iri, tuple(versions), records, deleted)


def _first(job_id: str, iri: str, record: page.Record, current: Job | None) -> Job:
    """The job as its first record made it: what never changes from its state now."""
    owner = None if record.by == "anonymous" else record.by
    base = current or Job(
        id=job_id, iri=iri, phase="UNKNOWN", profile="", created=record.at, modified=record.at
    )
    if current is None:
        base = replace(base, owner=owner)
    return replace(
        base,
        phase=record.target or "UNKNOWN",
        created=record.at,
        modified=record.at,
        sequence=record.sequence,
        started=None,
        ended=None,
        error=_error(record, None),
        results=None,
        status_value=None,
    )


def _fold(job: Job, record: page.Record) -> Job:
    """The job after one more change, as `Jobs.set_phase` and `Jobs.update` made it."""
    phase = record.target or job.phase
    new = replace(job, phase=phase, modified=record.at, sequence=record.sequence)
    if record.kind != "phase":
        return new
    previous = record.source or job.phase
    if phase == "QUEUED":  # requeued, or a finished job run again: a new execution
        new = replace(new, started=None)
        if previous in FINAL:
            new = replace(new, ended=None, error=None)
    if phase == "EXECUTING" and new.started is None:
        new = replace(new, started=record.at)
    if phase in FINAL and phase != "ARCHIVED" and new.ended is None:
        new = replace(new, ended=record.at)
    return replace(new, error=_error(record, new.error))


def _error(record: page.Record, before: JobError | None) -> JobError | None:
    if record.failure is None:
        return before
    return JobError(*record.failure)


__all__ = ["SETTABLE", "Timeline", "Version", "timeline"]
