"""Waiting for a job's change: woken from another thread, timed out, never left behind."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest
from jobtrail.jobs.core import Change, Jobs
from jobtrail.jobs.waits import Waits
from jobtrail.store import Store
from jobtrail.store.oxigraph import OxigraphStore


@pytest.fixture
def jobs() -> Iterator[Jobs]:
    store: Store
    with OxigraphStore(None) as store:
        yield Jobs(store, "http://s/")


def test_a_change_in_another_thread_wakes_the_waiter_at_once(jobs: Jobs) -> None:
    waits = Waits(jobs)
    job = jobs.create(profile="Fixity")

    async def scenario() -> tuple[object, float]:
        future = waits.register(job.id)
        changed_at: list[float] = []

        def change() -> None:
            time.sleep(0.2)
            changed_at.append(time.monotonic())
            jobs.set_phase(job.id, "QUEUED")

        threading.Thread(target=change).start()
        change = await waits.wait(job.id, future, 10)
        return change, time.monotonic() - changed_at[0]

    change, late = asyncio.run(scenario())
    assert isinstance(change, Change) and change.job is not None
    assert (change.job.phase, change.previous) == ("QUEUED", "PENDING")  # the job as it is now
    assert late < 0.1
    assert len(waits) == 0


def test_the_time_runs_out_when_nothing_changes(jobs: Jobs) -> None:
    waits = Waits(jobs)
    job = jobs.create(profile="Fixity")
    other = jobs.create(profile="Fixity")

    async def scenario() -> Change | None:
        future = waits.register(job.id)
        jobs.set_phase(other.id, "QUEUED")  # another job's change does not wake it
        return await waits.wait(job.id, future, 0.3)

    started = time.monotonic()
    assert asyncio.run(scenario()) is None
    assert 0.25 < time.monotonic() - started < 2
    assert len(waits) == 0


def test_many_waiters_on_one_job_all_wake(jobs: Jobs) -> None:
    waits = Waits(jobs)
    job = jobs.create(profile="Fixity")

    async def scenario() -> list[Change | None]:
        futures = [waits.register(job.id) for _ in range(50)]
        assert len(waits) == 50
        asyncio.get_running_loop().call_later(0.1, jobs.set_phase, job.id, "ABORTED")
        return await asyncio.gather(*(waits.wait(job.id, f, 5) for f in futures))

    changes = asyncio.run(scenario())
    assert len(changes) == 50 and all(c is not None and c.kind == "phase" for c in changes)
    assert len(waits) == 0
