"""Storing submitted messages: what `POST /messages` and `POST /api/v1/lineage` share.

The bytes go through the loader the command line uses, in its transactional mode (ordinary
transactions, one load at a time under `AppState["ingest"]`, never the bulk path, whose
flush beside the job core's transactions deadlocked every write), sealed into the log, each
message recording who submitted it (`jt:submittedBy`: the credential's keyed label, never
the token) and refused when it names a producer the credential may not speak for.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from jobtrail.ingest.load import Event, Loader
from jobtrail.ingest.sources import Item
from jobtrail.jobs.accounts import Submitter
from jobtrail.web.state import AppRequest
from starlette.concurrency import run_in_threadpool


async def store(request: AppRequest, items: Sequence[Item], submitter: Submitter) -> list[Event]:
    """Load `items` as `submitter` sent them: what happened to each, in order."""
    engine = request.state["engine"]
    events: list[Event] = []
    loader = Loader(
        engine.store,
        base=engine.config.base_url,
        batch_size=max(1, len(items)),
        listener=events.append,
        log=engine.log,
        transactional=True,  # never the bulk path (and its flush) beside the server's writes
        submitted_by=submitter.label,
        admit=lambda message: submitter.refusal(message.producer_names),
    )
    ingest: threading.Lock = request.state["ingest"]

    def load() -> None:
        # one load at a time: "stored before?", the seal and the write go together, so the
        # same bytes posted twice at once are stored (and sealed) once
        with ingest:
            loader.load(items)

    await run_in_threadpool(load)
    request.state["renditions"].clear()
    return events


def outcome(event: Event) -> dict[str, Any]:
    """What happened to one submitted message, as JSON."""
    out: dict[str, Any] = {"source": event.source, "outcome": event.outcome}
    if event.iri:
        out["message"] = event.iri
    if event.warnings:
        out["warnings"] = [
            {"focus": w.focus, "path": w.path, "message": w.message} for w in event.warnings
        ]
    if event.notes:
        out["notes"] = event.notes
    if event.error is not None:
        out["error"] = event.error.problem()
    return out


__all__ = ["outcome", "store"]
