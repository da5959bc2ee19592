"""The worker pool: runs QUEUED jobs through their profiles, and keeps time for every job.

A fixed number of threads take job ids from a queue that the job core feeds
(any change that leaves a job QUEUED puts it there); nothing polls the
store. The queue is ordered by the jobs' FIMS priority (immediate first, a
job without one counts as medium), then by when they were queued. Each
worker moves its job to EXECUTING, fetches the input, runs the profile in a
run directory of its own and stores the results and the final phase in one transaction. A job
aborted or timed out meanwhile is left as it is and what the worker made is
thrown away.

The keeper thread enforces time: a job past its execution duration is
ABORTED at its deadline, its error (TimeLimitExceeded) saying why, as UWS 1.1
§2.1.4 says the service should — an external program it runs is killed then
too, a pure-Python extraction finishes in its thread and its result is
dropped —, a job not ended by its `due` time (MCMA's deadline) becomes ERROR,
and a job past its destruction time is deleted with its files. Both are kept
in heaps in memory, filled from the store when the pool starts and from the job
core's changes afterwards.

When the pool starts it takes over what a stopped server left: EXECUTING jobs
go back to QUEUED (their work is redone from the input) and every QUEUED job
is queued.

On a store other processes write too (a remote engine, `Store.shared`) every pool
queues every QUEUED job it hears of (its own process's changes and the others',
`jobs/follow.py`) and whichever worker is free first claims it: a worker holds the
job's run lease (`run:{id}`, `store/leases.py`) for as long as it runs it, and moves
it to EXECUTING under the log's lease, expecting QUEUED, so one process runs it and
the others find it taken. An EXECUTING job whose run lease has expired — the process
running it was killed or cut off — is taken over: queued again by the keeper of any
process (at start and every time to live), its work redone from the input.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import queue
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from jobtrail.base.errors import (
    Conflict,
    Gone,
    JobFailed,
    NotFound,
    TimeLimitExceeded,
)
from jobtrail.jobs import results
from jobtrail.jobs.core import FINAL, PRIORITIES, SERVICE, Change, Job, Jobs
from jobtrail.jobs.fetch import FetchPolicy, fetch, fetch_small
from jobtrail.jobs.profiles import Outcome, Profile, Work

log = logging.getLogger("jobtrail.workers")

_STOP = "\0stop"
ADOPT_AFTER = 1.0
"""Seconds a job another process queued is left to it before this process's workers may take
it (a shared store): enough for an idle process to start it, short beside any job's run."""
_RANK = {name: rank for rank, name in enumerate(PRIORITIES)}


@dataclass(frozen=True)
class PoolConfig:
    size: int = 2  # worker threads
    files: Path = Path("jobtrail-files")  # result files, one directory per job
    policy: FetchPolicy = FetchPolicy()
    results_ttl: float = 7 * 86400.0  # seconds results are kept after the job ends
    creator: str = "jobtrail"  # dcterms:creator of every aggregation


@dataclass(frozen=True)
class Progress:
    """How far a run this process is doing has come: a percentage and what it is doing."""

    percent: int
    stage: str


FETCHED, RUNNING, STORING = 50, 60, 95
"""The percentage a run has reached once its input is fetched (the fetch counts from 0 to
here by bytes, when the source says its size), while its profile runs, and while its
results are stored."""


def _fetching(received: int, declared: int | None) -> Progress:
    if declared:
        done = min(received, declared)
        return Progress(
            FETCHED * done // declared, f"fetching the input: {done:,} of {declared:,} bytes"
        )
    return Progress(0, f"fetching the input: {received:,} bytes so far")


def _ending(error: JobFailed | None) -> str:
    """The phase a run ends in: ABORTED when its execution duration ran out (the work
    itself noticed it, UWS 1.1 §2.1.4), ERROR when it failed, COMPLETED otherwise."""
    if error is None:
        return "COMPLETED"
    return "ABORTED" if isinstance(error, TimeLimitExceeded) else "ERROR"


class Workers:
    def __init__(
        self,
        jobs: Jobs,
        profiles: Mapping[str, Profile],
        config: PoolConfig,
        *,
        elsewhere: Callable[[Job], bool] = lambda job: False,
    ):
        self.jobs = jobs
        self.profiles = profiles
        self.config = config
        self._queue: queue.PriorityQueue[tuple[int, int, str]] = queue.PriorityQueue()
        self._threads: list[threading.Thread] = []
        self._timers: list[tuple[datetime, int, str, str]] = []  # (when, n, kind, job id)
        self._counter = itertools.count()
        self._keeper_wake = threading.Condition()
        self._stopping = False
        self._me = f"{os.getpid()}-{uuid.uuid4().hex[:6]}"  # run directories are this process's
        self._progress: dict[str, Progress] = {}  # the runs of this process, by job id
        self.elsewhere = elsewhere
        """Whether another party runs the job (an MCMA service, SIF parties): the pool neither
        runs nor requeues it."""
        jobs.listen(self._changed)

    # --- life ------------------------------------------------------------------

    def start(self) -> None:
        self.config.files.mkdir(parents=True, exist_ok=True)
        leases = self.jobs.log.leases
        running = leases.live("run:") if leases is not None else {}  # other processes' runs
        for left in self.config.files.glob(".run-*"):  # runs a stopped server left unfinished
            if not any(left.name.startswith(f".run-{name[4:]}.") for name in running):
                shutil.rmtree(left, ignore_errors=True)
        self._recover()
        for i in range(self.config.size):
            t = threading.Thread(target=self._work, name=f"jobtrail-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        keeper = threading.Thread(target=self._keep, name="jobtrail-keeper", daemon=True)
        keeper.start()
        self._threads.append(keeper)

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping = True
        for _ in range(self.config.size):
            self._queue.put((-1, next(self._counter), _STOP))
        with self._keeper_wake:
            self._keeper_wake.notify_all()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))

    def _recover(self) -> None:
        if self.jobs.log.leases is not None:
            self._take_over()  # other processes may be running theirs: only the orphans
        else:
            for job_id in self.jobs.ids(["EXECUTING"]):
                if self.elsewhere(self.jobs.get(job_id)):
                    continue
                self.jobs.set_phase(
                    job_id,
                    "QUEUED",
                    request={"reason": "the server stopped while the job was executing; requeued"},
                )
        for job_id in self.jobs.ids(["QUEUED"]):
            queued = self.jobs.get(job_id)
            if not self.elsewhere(queued):
                self._enqueue(queued)
        for job_id in self.jobs.ids():
            self._schedule(self.jobs.get(job_id))

    def _take_over(self) -> list[str]:
        """Queue again the EXECUTING jobs no live process runs (a shared store); their ids."""
        leases = self.jobs.log.leases
        assert leases is not None
        running = leases.live("run:")
        taken = []
        for job_id in self.jobs.ids(["EXECUTING"]):
            if f"run:{job_id}" in running:
                continue
            try:
                with self.jobs.log.held():  # a run starting meanwhile holds its lease first
                    if f"run:{job_id}" in leases.live(f"run:{job_id}"):
                        continue
                    job = self.jobs.get(job_id)
                    if job.phase != "EXECUTING" or self.elsewhere(job):
                        continue
                    self.jobs.set_phase(
                        job_id,
                        "QUEUED",
                        expect=("EXECUTING",),
                        request={
                            "reason": "the process running it stopped (its run lease ran "
                            f"out); requeued by {leases.token}"
                        },
                    )
                    taken.append(job_id)
            except (NotFound, Gone, Conflict):
                continue
        return taken

    # --- the job core tells us -------------------------------------------------

    def _changed(self, change: Change) -> None:
        job = change.job
        if job is None:
            return
        if job.phase == "QUEUED" and change.previous != "QUEUED" and not self.elsewhere(job):
            if change.elsewhere:  # the process that queued it runs it, unless it is too busy
                self._adopt_later(job)
            else:
                self._enqueue(job)
        self._schedule(job)

    def _adopt_later(self, job: Job) -> None:
        """Queue here a job another process queued, if it is still QUEUED `ADOPT_AFTER` s on:
        its own process is busy or gone. Until then it stays with the process that queued it,
        whose threads change it one after another under one claim of the log's lease."""
        when = self.jobs.clock() + timedelta(seconds=ADOPT_AFTER)
        with self._keeper_wake:
            heapq.heappush(self._timers, (when, next(self._counter), "adopt", job.id))
            self._keeper_wake.notify_all()

    def _adopt(self, job_id: str) -> None:
        job = self.jobs.get(job_id)
        if job.phase == "QUEUED" and not self.elsewhere(job):
            self._enqueue(job)

    def _enqueue(self, job: Job) -> None:
        rank = _RANK.get(job.priority or "medium", _RANK["medium"])
        self._queue.put((rank, next(self._counter), job.id))

    def _schedule(self, job: Job) -> None:
        entries = []
        if job.destruction is not None:
            entries.append((job.destruction, "destroy"))
        deadline = job.deadline()
        if job.phase == "EXECUTING" and deadline is not None:
            entries.append((deadline, "expire"))
        if job.due is not None and job.phase not in FINAL:
            entries.append((job.due, "due"))
        if not entries:
            return
        with self._keeper_wake:
            for when, kind in entries:
                heapq.heappush(self._timers, (when, next(self._counter), kind, job.id))
            self._keeper_wake.notify_all()

    # --- keeping time ----------------------------------------------------------

    def _keep(self) -> None:
        leases = self.jobs.log.leases
        look = time.monotonic() + (leases.ttl if leases is not None else 0.0)
        while not self._stopping:
            if leases is not None and time.monotonic() >= look:
                look = time.monotonic() + leases.ttl
                try:
                    self._take_over()
                except Exception:
                    log.exception("taking over jobs whose process stopped")
            with self._keeper_wake:
                now = self.jobs.clock()
                due = []
                while self._timers and self._timers[0][0] <= now:
                    due.append(heapq.heappop(self._timers))
                if not due:
                    wait = (self._timers[0][0] - now).total_seconds() if self._timers else 60.0
                    if leases is not None:
                        wait = min(wait, max(look - time.monotonic(), 0.0))
                    self._keeper_wake.wait(min(max(wait, 0.01), 60.0))
                    continue
            for _, _, kind, job_id in due:
                act = {
                    "expire": self._expire,
                    "due": self._overdue,
                    "destroy": self._destroy,
                    "adopt": self._adopt,
                }
                try:
                    act[kind](job_id)
                except (NotFound, Gone, Conflict):
                    pass  # deleted, finished or changed meanwhile: nothing left to do
                except Exception:
                    log.exception("could not %s job %s", kind, job_id)

    def _expire(self, job_id: str) -> None:
        job = self.jobs.get(job_id)
        deadline = job.deadline()
        if job.phase != "EXECUTING" or deadline is None or deadline > self.jobs.clock():
            return
        self.jobs.set_phase(
            job_id,
            "ABORTED",  # UWS 1.1 §2.1.4: aborted, as a client's ABORT would; the error says why
            expect=("EXECUTING",),
            error=TimeLimitExceeded(
                f"the job ran past its execution duration of {job.execution_duration} s",
                hint="create it again with a longer executionDuration",
            ),
        )

    def _overdue(self, job_id: str) -> None:
        job = self.jobs.get(job_id)
        if job.due is None or job.phase in FINAL or job.due > self.jobs.clock():
            return
        self.jobs.set_phase(
            job_id,
            "ERROR",
            expect=(job.phase,),
            error=TimeLimitExceeded(
                f"the job missed its deadline of {job.due.isoformat()}",
                hint="create it again with a later deadline",
            ),
        )

    def _destroy(self, job_id: str) -> None:
        job = self.jobs.get(job_id)
        if job.destruction is None or job.destruction > self.jobs.clock():
            return  # its destruction time was moved
        self.jobs.delete(job_id, by=SERVICE, kind="destroyed")
        results.remove(self.config.files, job_id)

    # --- working ---------------------------------------------------------------

    def _work(self) -> None:
        while True:
            _, _, job_id = self._queue.get()
            if job_id == _STOP:
                return
            try:
                self.run(job_id)
            except Exception:
                log.exception("job %s: the worker failed", job_id)

    def run(self, job_id: str) -> None:
        """Run one QUEUED job to its end (or leave it, if it is no longer QUEUED)."""
        leases = self.jobs.log.leases
        lease = leases.try_hold(f"run:{job_id}") if leases is not None else None
        if leases is not None and lease is None:
            return  # another process runs it
        try:
            self._run(job_id)
        finally:
            if leases is not None and lease is not None:
                leases.release(lease)

    def progress(self, job_id: str) -> Progress | None:
        """How far this process's run of the job has come (None: no run of it here)."""
        return self._progress.get(job_id)

    def _note(self, job_id: str, progress: Progress) -> None:
        self._progress[job_id] = progress

    def _run(self, job_id: str) -> None:
        self._note(job_id, Progress(0, "starting"))
        try:
            self._run_once(job_id)
        finally:
            self._progress.pop(job_id, None)

    def _run_once(self, job_id: str) -> None:
        try:
            job = self.jobs.set_phase(job_id, "EXECUTING", expect=("QUEUED",))
        except (NotFound, Gone, Conflict):
            return  # aborted, deleted or taken meanwhile
        # each run writes its own directory, moved into place only as the run's end commits
        # (once the job core has allowed it, holding the job): a run left behind by a restart
        # or an abort cannot touch a newer one's files
        output = self.config.files / f".run-{job_id}.{self._me}-{next(self._counter)}"
        shutil.rmtree(output, ignore_errors=True)
        output.mkdir(parents=True)
        outcome: Outcome | None = None
        error: JobFailed | None = None
        try:
            outcome = self._do(job, output)
            error = outcome.failure
        except JobFailed as e:
            error = e
        except Exception as e:
            log.exception("job %s: profile %s failed unexpectedly", job_id, job.profile)
            error = JobFailed(f"the {job.profile} profile failed unexpectedly: {e}")
        self._finish(job, outcome, error, output)

    def _do(self, job: Job, output: Path) -> Outcome:
        profile = self.profiles.get(job.profile)
        if profile is None:
            raise JobFailed(f"there is no profile {job.profile!r} on this server")
        reason = profile.unavailable()
        if reason:
            raise JobFailed(f"the {profile.name} profile is unavailable here: {reason}")
        source = self.jobs.input_of(job)  # with its credentials, from the vault
        if job.input is None or source is None:
            raise JobFailed("the job has no input to work on")
        parameters = self.jobs.parameters_of(job)  # with their secrets, from the vault
        profile.check_parameters(parameters)
        deadline = job.deadline()
        left = (deadline - self.jobs.clock()).total_seconds() if deadline else None
        policy = self.config.policy
        with tempfile.TemporaryDirectory(prefix=f"jobtrail-{job.id}-") as scratch:
            fetched = fetch(
                source,
                Path(scratch) / "input",
                policy,
                paid=job.paid_bytes,
                progress=lambda got, of: self._note(job.id, _fetching(got, of)),
            )
            self._note(job.id, Progress(RUNNING, f"running the {profile.name} profile"))
            work = Work(
                job_iri=job.iri,
                input_url=job.input,
                input_path=fetched.path,
                media_type=fetched.media_type,
                parameters=parameters,
                output_dir=output,
                results_iri=self.jobs.results_iri(job.id),
                deadline=time.monotonic() + left if left is not None else None,
                fetch_small=lambda url: fetch_small(url, policy),
            )
            work.remaining()  # the fetch may have used up the time
            return profile.run(work)

    def _finish(
        self, job: Job, outcome: Outcome | None, error: JobFailed | None, output: Path
    ) -> None:
        if self._stopping:
            shutil.rmtree(output, ignore_errors=True)
            return  # the server is stopping: the job stays EXECUTING and is requeued on start
        aggregation = None
        self._note(job.id, Progress(STORING, "storing the results"))
        if outcome is not None and (outcome.files or outcome.triples):
            now = self.jobs.clock()
            aggregation = results.aggregation(
                job,
                outcome,
                results_iri=self.jobs.results_iri(job.id),
                output_dir=output,
                creator=f"{self.config.creator} {job.profile} - {self.jobs.base}",
                created=now,
                expires=job.destruction or now + timedelta(seconds=self.config.results_ttl),
            )

        placed: list[bool] = []

        def place() -> None:  # the files in place before anyone can read that the job ended
            results.remove(self.config.files, job.id)
            output.rename(results.job_dir(self.config.files, job.id))
            placed.append(True)

        try:
            self.jobs.set_phase(
                job.id,
                _ending(error),
                expect=("EXECUTING",),
                expect_started=job.started,
                error=error,
                results=aggregation,
                committing=place if aggregation is not None else None,
            )
        except (NotFound, Gone, Conflict):
            shutil.rmtree(output, ignore_errors=True)  # aborted, timed out, restarted or deleted
            return
        except BaseException:
            if placed:  # the end did not commit: the files it put in place go with it
                results.remove(self.config.files, job.id)
            shutil.rmtree(output, ignore_errors=True)
            raise
        if aggregation is None:
            shutil.rmtree(output, ignore_errors=True)
