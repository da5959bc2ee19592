"""The worker pool: queued jobs run, time limits and destruction are kept, restarts take over.

The pool runs real profiles on real files (file: inputs under a configured
root); `Pause` below is a profile of this test's own that sleeps, so a job can
be caught while it runs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from jobtrail.base.errors import Gone
from jobtrail.jobs.builtin import builtin_profiles
from jobtrail.jobs.core import Change, Job, Jobs
from jobtrail.jobs.fetch import FetchPolicy
from jobtrail.jobs.profiles import Outcome, Profile, ResultFile, Work
from jobtrail.jobs.workers import RUNNING, PoolConfig, Progress, Workers
from jobtrail.store import Store
from jobtrail.store.oxigraph import OxigraphStore

BASE = "http://s/"


class Pause(Profile):
    name = "Pause"
    title = "Pause"
    description = "sleeps for the parameter seconds, then copies its input"

    def run(self, work: Work) -> Outcome:
        time.sleep(float(work.parameters.get("seconds", 0)))
        (work.output_dir / "copy.txt").write_bytes(work.input_path.read_bytes())
        return Outcome(files=[ResultFile("copy.txt", "text/plain", rendition=True)])


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    folder = tmp_path / "inputs"
    folder.mkdir()
    (folder / "a.txt").write_text("some input\n")
    return folder


@pytest.fixture
def pool(tmp_path: Path, inputs: Path) -> Iterator[Callable[..., tuple[Jobs, Workers]]]:
    started: list[Workers] = []
    stores: list[Store] = []

    def make(store: Store | None = None, **config: object) -> tuple[Jobs, Workers]:
        store = store or OxigraphStore(None)
        stores.append(store)
        jobs = Jobs(store, BASE)
        profiles = {**builtin_profiles(), "Pause": Pause()}
        workers = Workers(
            jobs,
            profiles,
            PoolConfig(
                files=tmp_path / "files",
                policy=FetchPolicy(file_roots=(inputs,)),
                **config,  # type: ignore[arg-type]
            ),
        )
        workers.start()
        started.append(workers)
        return jobs, workers

    yield make
    for w in started:
        w.stop()


def until(jobs: Jobs, job_id: str, phases: set[str], seconds: float = 10) -> Job:
    deadline = time.monotonic() + seconds
    while True:
        job = jobs.get(job_id)
        if job.phase in phases:
            return job
        assert time.monotonic() < deadline, f"job still {job.phase}"
        time.sleep(0.01)


def test_a_queued_job_runs_and_its_results_are_aggregated(
    pool: Callable[..., tuple[Jobs, Workers]], inputs: Path, tmp_path: Path
) -> None:
    jobs, _ = pool()
    job = jobs.create(profile="Pause", input=(inputs / "a.txt").as_uri(), phase="QUEUED")
    done = until(jobs, job.id, {"COMPLETED", "ERROR"})
    assert done.phase == "COMPLETED", done.error
    assert done.results == jobs.results_iri(job.id)
    assert (tmp_path / "files" / job.id / "copy.txt").read_text() == "some input\n"
    described = {(t.predicate.value, t.object.value) for t in jobs.store.read(done.results)}
    assert ("http://www.openarchives.org/ore/terms/aggregates", f"{done.results}/copy.txt") in {
        (p, o) for p, o in described
    }


def test_whoever_hears_a_job_ended_finds_its_files_and_a_run_says_how_far_it_is(
    pool: Callable[..., tuple[Jobs, Workers]], inputs: Path, tmp_path: Path
) -> None:
    jobs, workers = pool()
    found: dict[str, bool] = {}

    def heard(change: Change) -> None:  # told in the worker's thread, as the job ends
        if change.job is not None and change.job.phase == "COMPLETED":
            found[change.job_id] = (tmp_path / "files" / change.job_id / "copy.txt").is_file()

    jobs.listen(heard)
    job = jobs.create(
        profile="Pause",
        input=(inputs / "a.txt").as_uri(),
        parameters={"seconds": "2"},
        phase="QUEUED",
    )
    stages: list[Progress | None] = []  # what the run said, each time it was asked
    deadline = time.monotonic() + 30
    while jobs.get(job.id).phase != "COMPLETED" and time.monotonic() < deadline:
        stages.append(workers.progress(job.id))
        time.sleep(0.01)
    assert Progress(RUNNING, "running the Pause profile") in stages, stages
    deadline = time.monotonic() + 5
    while (job.id not in found or workers.progress(job.id)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert found == {job.id: True}  # the files were in place before anyone was told
    assert workers.progress(job.id) is None  # no run of it here now


def test_a_pending_job_waits_until_it_is_queued(
    pool: Callable[..., tuple[Jobs, Workers]], inputs: Path
) -> None:
    jobs, _ = pool()
    job = jobs.create(profile="Pause", input=(inputs / "a.txt").as_uri())
    time.sleep(0.2)
    assert jobs.get(job.id).phase == "PENDING"
    jobs.set_phase(job.id, "QUEUED")
    assert until(jobs, job.id, {"COMPLETED"}).phase == "COMPLETED"


def test_the_execution_duration_aborts_a_job_at_its_deadline(
    pool: Callable[..., tuple[Jobs, Workers]], inputs: Path, tmp_path: Path
) -> None:
    jobs, _ = pool()
    job = jobs.create(
        profile="Pause",
        input=(inputs / "a.txt").as_uri(),
        parameters={"seconds": 1.5},
        execution_duration=1,
        phase="QUEUED",
    )
    start = time.monotonic()
    failed = until(jobs, job.id, {"ABORTED", "ERROR", "COMPLETED"})
    assert failed.phase == "ABORTED" and failed.error is not None  # UWS 1.1 §2.1.4
    assert failed.error.type == "TimeLimitExceeded" and "1 s" in failed.error.message
    assert time.monotonic() - start < 1.4  # at the deadline, not when the profile returns
    time.sleep(1.0)  # the profile has returned: what it made is dropped
    assert jobs.get(job.id).phase == "ABORTED" and jobs.get(job.id).results is None
    assert not (tmp_path / "files" / job.id).exists()


def test_an_aborted_job_keeps_its_phase_and_loses_what_the_worker_made(
    pool: Callable[..., tuple[Jobs, Workers]], inputs: Path
) -> None:
    jobs, _ = pool()
    job = jobs.create(
        profile="Pause",
        input=(inputs / "a.txt").as_uri(),
        parameters={"seconds": 0.5},
        phase="QUEUED",
    )
    until(jobs, job.id, {"EXECUTING"})
    jobs.set_phase(job.id, "ABORTED", by="alice")
    time.sleep(0.8)
    assert jobs.get(job.id).phase == "ABORTED" and jobs.get(job.id).results is None


def test_destruction_removes_the_job_and_its_files(
    pool: Callable[..., tuple[Jobs, Workers]], inputs: Path, tmp_path: Path
) -> None:
    """Past its destruction time the job is gone and so is its files' directory. The keeper
    deletes the job, then its files: the test waits for both, with a deadline generous enough
    for a busy machine, rather than for a fixed time."""
    jobs, _ = pool()
    job = jobs.create(profile="Pause", input=(inputs / "a.txt").as_uri(), phase="QUEUED")
    until(jobs, job.id, {"COMPLETED"}, seconds=30)
    files = tmp_path / "files" / job.id
    assert files.exists()
    # set once the job is done, so that a slow run cannot outlive its destruction time
    jobs.update(job.id, by="alice", destruction=jobs.clock() + timedelta(seconds=0.3))

    def destroyed() -> bool:
        try:
            jobs.get(job.id)
        except Gone:
            return not files.exists()
        return False

    deadline = time.monotonic() + 30
    while not destroyed():
        assert time.monotonic() < deadline, "the job or its files were not destroyed"
        time.sleep(0.02)
    assert not jobs.store.exists(jobs.results_iri(job.id))


def test_moving_the_destruction_time_later_keeps_the_job(
    pool: Callable[..., tuple[Jobs, Workers]], inputs: Path
) -> None:
    jobs, _ = pool()
    job = jobs.create(
        profile="Pause",
        input=(inputs / "a.txt").as_uri(),
        destruction=jobs.clock() + timedelta(seconds=0.3),
    )
    jobs.update(job.id, by="alice", destruction=jobs.clock() + timedelta(hours=1))
    time.sleep(0.6)
    assert jobs.get(job.id).phase == "PENDING"


def test_jobs_left_executing_by_a_stopped_server_are_requeued_on_start(
    pool: Callable[..., tuple[Jobs, Workers]], inputs: Path
) -> None:
    store = OxigraphStore(None)
    before = Jobs(store, BASE)  # a server that took the job and stopped
    job = before.create(profile="Pause", input=(inputs / "a.txt").as_uri(), phase="QUEUED")
    before.set_phase(job.id, "EXECUTING")
    jobs, _ = pool(store)
    done = until(jobs, job.id, {"COMPLETED", "ERROR"})
    assert done.phase == "COMPLETED"
    texts = [
        json.loads(row["t"].value)
        for row in store.query(  # type: ignore[union-attr]
            "SELECT ?t WHERE { ?m <https://w3id.org/jobtrail/vocab#originalText> ?t }"
        )
    ]
    requeued = [t for t in texts if t.get("job") == job.iri and t.get("to") == "QUEUED"]
    assert any("requeued" in t.get("request", {}).get("reason", "") for t in requeued)


def test_a_profile_that_cannot_work_on_the_input_ends_the_job_in_error(
    pool: Callable[..., tuple[Jobs, Workers]], inputs: Path, tmp_path: Path
) -> None:
    jobs, _ = pool()
    outside = tmp_path / "outside.txt"
    outside.write_text("not under a file root\n")
    refused = jobs.create(profile="Fixity", input=outside.as_uri(), phase="QUEUED")
    failed = until(jobs, refused.id, {"ERROR", "COMPLETED"})
    assert failed.phase == "ERROR" and failed.error is not None
    assert failed.error.type == "InputUnavailable"
    unknown = jobs.create(
        profile="NoSuchProfile", input=(inputs / "a.txt").as_uri(), phase="QUEUED"
    )
    failed = until(jobs, unknown.id, {"ERROR", "COMPLETED"})
    assert failed.error is not None and "NoSuchProfile" in failed.error.message


def test_the_queue_takes_the_most_urgent_priority_first(
    pool: Callable[..., tuple[Jobs, Workers]], inputs: Path
) -> None:
    store = OxigraphStore(None)
    before = Jobs(store, BASE)  # jobs queued while no pool ran, least urgent first
    url = (inputs / "a.txt").as_uri()
    made = {
        p: before.create(profile="Pause", input=url, phase="QUEUED", priority=p).id
        for p in ("low", None, "immediate", "high", "urgent")
    }
    jobs, _ = pool(store, size=1)
    started: list[str] = []
    jobs.listen(
        lambda c: started.append(c.job_id) if c.job and c.job.phase == "EXECUTING" else None
    )
    for job_id in made.values():
        until(jobs, job_id, {"COMPLETED"})
    names = {v: k for k, v in made.items()}
    # the first was taken before the listener was set; the rest keep priority order
    order = [names[j] for j in started]
    expected = ["immediate", "urgent", "high", None, "low"]
    assert order == expected[len(expected) - len(order) :]
    runs = sorted(made.values(), key=lambda j: jobs.get(j).started)  # type: ignore[arg-type, return-value]
    assert [names[j] for j in runs] == expected


@pytest.mark.parametrize("phase", ["PENDING", "QUEUED"])
def test_a_job_not_ended_by_its_deadline_ends_in_error(
    pool: Callable[..., tuple[Jobs, Workers]], inputs: Path, phase: str
) -> None:
    jobs, _ = pool()
    job = jobs.create(
        profile="Pause",
        input=(inputs / "a.txt").as_uri(),
        parameters={"seconds": 3},
        phase=phase,
        due=jobs.clock() + timedelta(seconds=0.5),
    )
    start = time.monotonic()
    failed = until(jobs, job.id, {"ERROR", "COMPLETED"})
    assert time.monotonic() - start < 2.5
    assert failed.phase == "ERROR" and failed.error is not None
    assert failed.error.type == "TimeLimitExceeded" and "deadline" in failed.error.message


def test_a_run_left_behind_by_a_restart_does_not_finish_the_new_run(
    pool: Callable[..., tuple[Jobs, Workers]], inputs: Path, tmp_path: Path
) -> None:
    jobs, _ = pool(size=2)
    job = jobs.create(profile="Pause", input=(inputs / "a.txt").as_uri(), parameters={"seconds": 1})
    jobs.set_phase(job.id, "QUEUED")
    first = until(jobs, job.id, {"EXECUTING"})
    time.sleep(0.3)
    jobs.set_phase(job.id, "QUEUED", request={"mcma": "restart"})  # the first run goes on
    second = until(jobs, job.id, {"EXECUTING"})
    assert second.started != first.started
    done = until(jobs, job.id, {"COMPLETED", "ERROR"})
    assert done.phase == "COMPLETED" and done.started == second.started
    assert done.ended is not None and done.ended - second.started >= timedelta(seconds=0.9)
    assert (tmp_path / "files" / job.id / "copy.txt").read_text() == "some input\n"
    assert not list((tmp_path / "files").glob(".run-*"))
