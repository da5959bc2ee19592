"""A job's executions: its attempts, read from its history.

An execution begins each time the job is queued to run — by its start, by a
restart, by a RUN after SUSPEND, by the requeue after a server stopped in the
middle of it — and lasts until the next one begins. Nothing is stored for
it: the job's `jt:JobChange` messages already say when each attempt was
queued, started and ended and how, so the executions are derived from them,
and every binding (MCMA's `/jobs/{id}/executions/{n}` first) reads the same
attempts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyoxigraph as ox
from jobtrail.base.terms import JT, PROV
from jobtrail.jobs.core import FINAL, Job, Jobs

_J = str(JT)


@dataclass(frozen=True)
class Execution:
    number: int  # 1, 2, …
    phase: str  # the last phase it reached; a superseded attempt keeps the phase it had
    queued: datetime
    started: datetime | None = None
    ended: datetime | None = None
    superseded: bool = False  # a later execution took over
    reason: str | None = None  # why it was superseded, or why it failed
    error: dict[str, Any] | None = None  # the error its end recorded: {type, message}
    latest: bool = False

    @property
    def duration_ms(self) -> int:
        if self.started is None or self.ended is None:
            return 0
        return int((self.ended - self.started).total_seconds() * 1000)


def executions(jobs: Jobs, job: Job) -> list[Execution]:
    """The job's executions, first first."""
    rows = jobs.store.query(
        f"SELECT ?job ?seq ?to ?at ?text WHERE {{ ?m <{_J}about> ?job ; <{_J}sequence> ?seq ; "
        f"<{_J}toPhase> ?to ; <{PROV}atTime> ?at "
        f"OPTIONAL {{ ?m <{_J}originalText> ?text }} }} ORDER BY ?seq",
        substitutions={"job": ox.NamedNode(job.iri)},
    )
    found: list[Execution] = []
    current: dict[str, Any] | None = None
    for row in rows:  # type: ignore[union-attr]
        phase = row["to"].value.rsplit("/", 1)[-1]
        at = datetime.fromisoformat(row["at"].value.replace("Z", "+00:00"))
        change = change_body(row["text"].value if row["text"] is not None else "")
        if phase == "QUEUED":
            if current is not None:
                found.append(_done(current, superseded=True, reason=_reason(change), at=at))
            current = {"number": len(found) + 1, "phase": phase, "queued": at}
            continue
        if current is None:
            continue  # before the first attempt (PENDING, HELD; ended before it ran)
        current["phase"] = phase
        if phase == "EXECUTING" and "started" not in current:
            current["started"] = at
        if phase in FINAL:
            current["ended"] = at
            current["error"] = change.get("error")
    if current is not None:
        found.append(_done(current, latest=True))
    return found


def _done(
    attempt: dict[str, Any],
    *,
    superseded: bool = False,
    reason: str | None = None,
    at: datetime | None = None,
    latest: bool = False,
) -> Execution:
    ended = attempt.get("ended") or (at if superseded else None)
    return Execution(
        number=attempt["number"],
        phase=attempt["phase"],
        queued=attempt["queued"],
        started=attempt.get("started"),
        ended=ended,
        superseded=superseded,
        reason=reason,
        error=attempt.get("error"),
        latest=latest,
    )


def _reason(change: dict[str, Any]) -> str:
    request = change.get("request")
    if isinstance(request, dict):
        for key in ("reason", "mcma", "uws"):
            if isinstance(request.get(key), str):
                return str(request[key])
    return f"queued again by {change.get('by', 'someone')}"


def change_body(text: str) -> dict[str, Any]:
    """The JSON object a change record keeps as its text; {} when it keeps none."""
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


__all__ = ["Execution", "change_body", "executions"]
