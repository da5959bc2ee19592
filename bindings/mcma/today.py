"""Today's MCMA job processor (ebu/mcma-module-job-processor) over the FIMS-era one.

    POST /mcma/jobs       the Job is stored New (its tracker made when it has none), then
                          started: QUEUED, and its profile's service takes it — the worker
                          pool, or an external service sent a `JobAssignment` (`jobId`, the
                          execution's `…/notifications` endpoint, the tracker) at its
                          JobAssignment resource; the assignment's id is the execution's
                          `jobAssignmentId`. A job that does not fit its profile (unknown
                          profile, missing input) ends Failed: job-start-failure.
    POST {execution}/notifications   the service's Notification: its JobAssignment's status,
                          progress, jobOutput and error become the job's
    restart               any job (finished ones too: the usual retry) before its deadline:
                          a new execution; a queued job is canceled and queued again
    every status change   a Notification to the job's notificationEndpoint (outbox)

The FIMS-era flow (`processor.py`) keeps ProcessJob, StopJob and its callbacks.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from jobtrail.base.errors import Conflict, Gone, InputError, JobFailed, NotFound
from jobtrail.bindings.mcma import model
from jobtrail.bindings.mcma.model import JobStartFailure
from jobtrail.bindings.mcma.processor import Processor, Record, process_purpose
from jobtrail.bindings.mcma.services import Service
from jobtrail.jobs.accounts import Payer
from jobtrail.jobs.core import FINAL, SERVICE, Change, Job, Jobs
from jobtrail.jobs.executions import executions
from jobtrail.jobs.hops import Hops
from jobtrail.jobs.outbox import Call, OutboxConfig, call_id
from jobtrail.jobs.profiles import Profile
from jobtrail.web.binding import JobKind

_ASSIGNMENT = "JobAssignment"


class Today(Processor):
    """The processor with today's model: jobs, executions, assignments, notifications."""

    def __init__(
        self,
        jobs: Jobs,
        services: Mapping[str, Service],
        local_profiles: Mapping[str, Profile],
        outbox: OutboxConfig,
        *,
        hops: Hops | None = None,
        stop_grace: float = 30.0,
        kinds: Sequence[JobKind] = (),
    ) -> None:
        super().__init__(
            jobs, services, local_profiles, outbox, hops=hops, stop_grace=stop_grace, kinds=kinds
        )
        self._failing: dict[str, JobFailed] = {}  # created, about to fail at their start

    def runs_elsewhere(self, job: Job) -> bool:
        return job.id in self._failing or super().runs_elsewhere(job)

    # --- create and start -------------------------------------------------------------

    def create_today(
        self, document: dict[str, Any], *, owner: str | None, by: str, payer: Payer | None = None
    ) -> Job:
        """Today's `Job` (POST /mcma/jobs), stored New; `begin` starts it."""
        asked = model.read_job(document, self.specs, self.jobs.clock())
        if asked.notify is not None:
            self.check_endpoint(asked.notify, "notificationEndpoint")
        kept = {k: v for k, v in document.items() if k not in ("id", "status", "dateCreated")}
        if not isinstance(kept.get("tracker"), dict):  # as today's job processor makes one
            label = f"{asked.kind} with JobProfile {asked.profile}"
            kept["tracker"] = {"@type": "McmaTracker", "id": str(uuid.uuid4()), "label": label}
        duration = asked.execution_duration
        if not duration:  # MCMA's default timeout, within this server's maximum
            most = self.jobs.max_execution_duration
            duration = min(model.DEFAULT_TIMEOUT, most) if most else model.DEFAULT_TIMEOUT
        job_id = str(uuid.uuid4())
        record = Record(document=kept, dialect="mcma", notify=asked.notify)
        if asked.failure is not None:
            self._failing[job_id] = asked.failure
        return self.jobs.create(
            profile=asked.profile,
            input=asked.input,
            owner=owner,
            parameters=asked.parameters,
            execution_duration=duration,
            request={"mcma": "Job", "by": by},
            also=[self._graph(job_id, record)],
            job_id=job_id,
            status_value="New",
            priority=asked.priority,
            due=asked.due,
            payer=payer,
        )

    def begin(self, job_id: str, *, by: str) -> None:
        """Start a job made by `create_today`: queued and assigned, or Failed at its start."""
        failure = self._failing.get(job_id)
        try:
            self.start_job(job_id, None, None, by)
            if failure is not None:
                self.jobs.set_phase(
                    job_id,
                    "ERROR",
                    by=SERVICE,
                    expect=("QUEUED",),
                    status_value="Failed",
                    error=failure,
                    request={"mcma": "job-start-failure"},
                )
                return
        finally:
            self._failing.pop(job_id, None)
        self.dispatch(job_id)

    def dispatch(self, job_id: str, attempt: int = 1) -> None:
        """Send the execution's JobAssignment to the job's external service (a FIMS-era job:
        its ProcessJob)."""
        record = self.record(job_id)
        if record.dialect != "mcma":
            super().dispatch(job_id, attempt)
            return
        service = self.services.get(record.service or "")
        if service is None:
            return  # the worker pool took it when it was queued
        iri = self.today_iri(job_id)
        assignment = {
            "@type": _ASSIGNMENT,
            "jobId": iri,
            "notificationEndpoint": {
                "@type": "NotificationEndpoint",
                "httpEndpoint": f"{iri}/executions/{attempt}/notifications",
            },
            "tracker": record.document.get("tracker"),
        }
        purpose = f"{_ASSIGNMENT} #{attempt}"
        self.outbox.send(job_id, purpose, service.assignments_url, assignment, configured=True)

    # --- restart ----------------------------------------------------------------------

    def restart(self, job_id: str, *, by: str) -> Job:
        """A new execution from the job's input, whatever its status; 409 past its deadline.
        A queued job is canceled and queued again; a finished one runs again."""
        job = self.jobs.get(job_id)
        record = self.record(job_id)
        if job.due is not None and job.due <= self.jobs.clock():
            raise Conflict(
                f"cannot restart job {job_id}: its deadline {model.iso(job.due)} passed",
                hint="create a new job with a later deadline",
            )
        if job.phase in ("ARCHIVED", "UNKNOWN"):
            raise Conflict(
                f"cannot restart job {job_id}: it is {job.phase}, its results are gone",
                hint="create a new job with the same input",
                details={"phase": job.phase},
            )
        fresh = replace(record, report=None, progress=None)
        if job.phase in ("PENDING", "HELD"):
            self.start_job(job_id, record.success, record.failure, by)
        else:
            if job.phase == "QUEUED":
                self.jobs.set_phase(
                    job_id,
                    "ABORTED",
                    by=by,
                    expect=("QUEUED",),
                    status_value="Canceled" if record.dialect == "mcma" else "CANCELED",
                    request={"mcma": "restart"},
                )
            self.jobs.set_phase(
                job_id,
                "QUEUED",
                by=by,
                status_value="QUEUED",
                also=[self._graph(job_id, fresh)],
                request={"mcma": "restart"},
                rerun=True,
            )
        restarted = self.jobs.get(job_id)
        if job_id in self._external:  # its service gets the new execution
            self.dispatch(job_id, len(executions(self.jobs, restarted)))
        return restarted

    # --- the service's notifications ----------------------------------------------------

    def notification(self, job_id: str, number: str, document: Mapping[str, Any], by: str) -> Job:
        """A service's Notification about execution `number`: its content's status,
        progress, output and error become the job's. Ignored (the job unchanged) for an
        execution that is not the latest or has finished, as today's job processor does."""
        job = self.jobs.get(job_id)
        runs = executions(self.jobs, job)
        if not number.isdigit() or not 1 <= int(number) <= len(runs):
            raise NotFound(
                f"job {job_id} has no execution {number}",
                hint=f"it has {len(runs)}" if runs else "it has not run",
            )
        record = self.record(job_id)
        assigned = record.assignments.get(number)
        source = document.get("source")
        if assigned is not None and source != assigned:
            raise InputError(
                f"unexpected notification from {source!r}: execution {number} is assigned "
                f"to {assigned}",
                hint='send the JobAssignment\'s id as "source"',
            )
        content = document.get("content")
        if not isinstance(content, dict):
            raise InputError(
                "a Notification carries the JobAssignment as its content",
                hint='{"@type": "Notification", "source": …, "content": {"status": "Running"}}',
            )
        if not runs[int(number) - 1].latest or job.phase in FINAL:
            return job
        update = {
            k: content[k] for k in ("status", "progress", "jobOutput", "error") if k in content
        }
        if "status" in update:
            model.spelled(str(update["status"]))  # InputError naming the statuses
        return self.put(job_id, update, by=by)

    # --- told -------------------------------------------------------------------------

    def _changed(self, change: Change) -> None:
        job = change.job
        if job is None:
            return
        try:
            record = self.record(job.id)
        except (NotFound, Gone):
            return
        if record.dialect != "mcma":
            super()._changed(change)
            return
        if change.kind != "phase" or record.notify is None:
            return
        threading.Thread(target=self._notify, args=(job, record), daemon=True).start()

    def _notify(self, job: Job, record: Record) -> None:
        """Every status change: a Notification to the job's notificationEndpoint."""
        if record.notify is None:
            return
        body = {"@type": "Notification", "source": self.today_iri(job.id)}
        body["content"] = self.today(job, record)  # type: ignore[assignment]
        self.outbox.send(job.id, f"notification #{job.sequence}", record.notify, body)

    def callback(self, job_id: str, *, delay: float = 0.0) -> None:
        job = self.jobs.get(job_id)
        record = self.record(job_id)
        if record.dialect != "mcma":
            super().callback(job_id, delay=delay)
        else:  # owed since a restart: the last change's notification, once
            self._notify(job, record)

    def _settled(self, call: Call) -> None:
        if not call.purpose.startswith(_ASSIGNMENT):
            super()._settled(call)
            return
        number = call.purpose.rsplit("#", 1)[-1]
        try:
            job = self.jobs.get(call.job_id)
        except (NotFound, Gone):  # deleted meanwhile
            return
        if len(executions(self.jobs, job)) != int(number) or job.phase in FINAL:
            return  # a later execution took over, or the job ended meanwhile
        if call.state == "delivered":
            assigned = _assignment_id(call.answer) or self.outbox.iri(call.id)
            record = self.record(job.id)
            record = replace(record, assignments={**record.assignments, number: assigned})
            self.jobs.store.apply(replace=[self._graph(job.id, record)])
            return
        self.jobs.set_phase(
            job.id,
            "ERROR",
            by=SERVICE,
            status_value="Failed",
            error=JobStartFailure(
                f"failed to post the JobAssignment to {call.url}: {call.problem}",
                hint="see /mcma/services; the job can be restarted",
            ),
            request={"mcma": "JobAssignment failed", "status": call.status},
        )

    # --- reading -----------------------------------------------------------------------

    def executions(self, job: Job) -> list[dict[str, Any]]:
        """One JobExecution per attempt (`/mcma/jobs/{id}/executions/{n}`)."""
        record = self.record(job.id)
        out = []
        for execution in executions(self.jobs, job):
            out.append(
                model.execution_document(
                    job,
                    execution,
                    iri=self.today_iri(job.id),
                    progress=record.progress,
                    output=self._output(job, record),
                    assignment=record.assignments.get(str(execution.number))
                    or self._process_call(job, record, execution.number),
                )
            )
        return out

    def _process_call(self, job: Job, record: Record, number: int) -> str | None:
        """A FIMS-era job's execution: the ProcessJob sent to its service (an outbox call)."""
        if record.dialect != "fims" or (record.service or "") not in self.services:
            return None
        return self.outbox.iri(call_id(job.id, process_purpose(number)))

    def listing(
        self,
        *,
        owner: str | None,
        anonymous: bool,
        everyone: bool,
        status_value: str | None,
        after: datetime | None,
        before: datetime | None,
        oldest_first: bool,
        size: int,
        offset: int,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """A page of jobs in today's model, and the offset of the next page (None: the last).

        `status_value` selects the jobs that show that status: their phase is
        read from the vocabulary, then each job's own status is compared. The jobs are
        `owner`'s (and anonymous ones if `anonymous`), or `everyone`'s.
        """
        phases: list[str] = []
        if status_value is not None:
            wanted = model.spelled(status_value)
            phases = sorted({model.phase_of(wanted)} | model.phases_showing(wanted))
        found: list[dict[str, Any]] = []
        while True:
            batch = self.jobs.list(
                owner=owner,
                anonymous=anonymous,
                everyone=everyone,
                phases=phases,
                after=after,
                before=before,
                oldest_first=oldest_first,
                limit=size + 1,
                offset=offset,
            )
            for job in batch:
                offset += 1
                document = self.today(job)
                if status_value is None or document["status"] == wanted:
                    found.append(document)
                    if len(found) > size:
                        return found[:size], offset - 1
            if len(batch) <= size:
                return found, None


def _assignment_id(answer: bytes) -> str | None:
    """The id of the JobAssignment a service answered with (its body's `id`)."""
    try:
        document = json.loads(answer)
    except ValueError:
        return None
    found = document.get("id") if isinstance(document, dict) else None
    return found if isinstance(found, str) and found else None
