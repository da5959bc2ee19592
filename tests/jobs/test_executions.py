"""Executions are read from a job's history: one per time it was queued to run."""

from __future__ import annotations

from jobtrail.base.errors import JobFailed
from jobtrail.jobs.core import Jobs
from jobtrail.jobs.executions import executions
from jobtrail.store.oxigraph import OxigraphStore


def test_each_queueing_begins_an_execution_and_the_last_one_is_current() -> None:
    jobs = Jobs(OxigraphStore(None), "http://s/")
    job = jobs.create(profile="Fixity")
    assert executions(jobs, job) == []  # PENDING: it has not been asked to run
    jobs.set_phase(job.id, "QUEUED")
    jobs.set_phase(job.id, "EXECUTING")
    jobs.set_phase(job.id, "QUEUED", request={"reason": "the server stopped"})
    jobs.set_phase(job.id, "EXECUTING")
    done = jobs.set_phase(job.id, "ERROR", error=JobFailed("checksum mismatch"))
    first, second = executions(jobs, done)
    assert (first.number, first.superseded, first.reason) == (1, True, "the server stopped")
    assert first.started is not None and first.ended == second.queued
    assert (second.number, second.phase, second.latest) == (2, "ERROR", True)
    assert second.error == {"type": "JobFailed", "message": "checksum mismatch"}
    assert second.duration_ms >= 0 and second.ended == done.ended


def test_a_job_created_queued_has_its_first_execution_at_once() -> None:
    jobs = Jobs(OxigraphStore(None), "http://s/")
    job = jobs.create(profile="Fixity", phase="QUEUED")
    (only,) = executions(jobs, job)
    assert only.phase == "QUEUED" and only.started is None and only.duration_ms == 0
