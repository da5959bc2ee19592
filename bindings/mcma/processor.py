"""The FIMS/MCMA Job Processor and Job Repository, over the job core.

An MCMA job is a job of the core: its phase is the core's, its FIMS/MCMA
status the vocabulary's reading of that phase (`vocab/status.ttl`), or the
status its client wrote when that maps to the same phase. What only MCMA says
about it — the document the client sent (every key kept), the StartJob and
its callback endpoints, the service assigned, the service's report — lives in
the graph `{job}/mcma`, replaced with each change.

The FIMS-era flow (EBU/AMWA FIMS 1.3 with MCMA's job repository), with jobtrail as
Processor and Repository:

    POST /mcma/Job           → job PENDING (NEW)
    POST /mcma/StartJob      → job QUEUED, `startJob` set; then ProcessJob goes to the
                               service registered for the profile (through the outbox),
                               or the built-in profile runs it in the worker pool
    the service answers 2xx  → EXECUTING (RUNNING); it never does → ERROR (FAILED)
    PUT {job}                → the service's report and status (only legal transitions;
                               who may PUT or StopJob is `fims.py`'s to decide)
    POST /mcma/StopJob       → the final status; then the orchestrator's success or
                               failure endpoint is called with {"job": …} (outbox)

A job run by an external service gets its callback when its StopJob arrives,
or `stop_grace` seconds after the service PUT a final status if no StopJob
follows; any other end (the worker pool, a timeout, a cancel, a service that
never accepted) calls back at once. Every step is a hop (jobs/hops.py).
"""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from jobtrail.base import nt, redact
from jobtrail.base.errors import Conflict, Gone, InputError, JobFailed, NotFound
from jobtrail.bindings.mcma import model as model
from jobtrail.bindings.mcma.model import CONTEXT, phase_of
from jobtrail.bindings.mcma.services import LOCAL, Service, specs
from jobtrail.jobs import egress
from jobtrail.jobs.accounts import Payer
from jobtrail.jobs.core import FINAL, SERVICE, Change, Job, Jobs
from jobtrail.jobs.hops import Hops, json_body, request_bytes, response_bytes
from jobtrail.jobs.outbox import Call, Outbox, OutboxConfig
from jobtrail.jobs.profiles import Profile
from jobtrail.store import ResourceGraph
from jobtrail.web.binding import JobKind, Runtime

INTERNAL = "internal: job processor → job repository"
INTERNAL_ANSWER = "internal: job repository → job processor"

_MANAGED = ("@context", "id", "jobStatus", "dateCreated", "dateModified", "startJob", "report")
_J = "https://w3id.org/jobtrail/vocab#"


@dataclass
class Record:
    """What only MCMA says about a job: the graph `{job}/mcma`."""

    document: dict[str, Any] = field(default_factory=dict)
    start_job: str | None = None
    success: str | None = None
    failure: str | None = None
    service: str | None = None
    report: Any = None
    stop_cause: str | None = None
    stop_job: str | None = None
    dialect: str = "fims"  # fims: FIMS 1.3's AmeJob of /mcma/Job; mcma: today's Job
    notify: str | None = None  # today's notificationEndpoint
    progress: int | None = None
    assignments: dict[str, str] = field(default_factory=dict)  # execution → JobAssignment id


class Processor(Runtime):
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
        self.jobs = jobs
        self.stop_grace = stop_grace
        self.services = dict(services)
        self.local_profiles = frozenset(local_profiles)
        self.kinds = tuple(kinds)  # kinds of job other bindings make (SIF's services)
        self.specs = specs(local_profiles, self.services.values(), kinds)
        self.hops = hops if hops is not None else Hops(jobs)
        self.outbox = Outbox(jobs, self.hops, outbox, self._settled)
        self._external: set[str] = set()  # ids of jobs an external service runs
        self._lock = threading.Lock()
        jobs.listen(self._changed)

    # --- life ------------------------------------------------------------------

    def start(self) -> None:
        rows = self.jobs.store.query(
            f"SELECT ?g ?service WHERE {{ GRAPH ?g {{ ?g <{_J}assignedService> ?service }} }}"
        )
        for row in rows:  # type: ignore[union-attr]
            if row["service"].value != LOCAL:
                self._external.add(row["g"].value.removesuffix("/mcma").rsplit("/", 1)[-1])
        self.outbox.start()
        self._resume_callbacks()

    def stop(self) -> None:
        self.outbox.stop()

    def runs_elsewhere(self, job: Job) -> bool:
        """Whether an external service runs this job (the worker pool leaves it alone). On a
        store other processes share, a job one of them assigned is known by its record."""
        if job.id in self._external:
            return True
        if self.jobs.store.shared:
            service = self.record(job.id).service
            if service is not None and service != LOCAL:
                self._external.add(job.id)
                return True
        return False

    # --- names -------------------------------------------------------------------

    def record_iri(self, job_id: str) -> str:
        return f"{self.jobs.iri(job_id)}/mcma"

    def command_iri(self, kind: str, command_id: str) -> str:
        return f"{self.jobs.base}mcma/{kind}/{command_id}"

    def service_for(self, profile: str) -> Service | None:
        """The external service registered for a profile; None: the worker pool runs it."""
        for s in self.services.values():
            if profile in s.profiles:
                return s
        return None

    def profiles(self) -> list[str]:
        return sorted(self.specs)

    def today_iri(self, job_id: str) -> str:
        """The job's id in today's model: under the jobs endpoint its clients use."""
        return f"{self.jobs.base}mcma/jobs/{job_id}"

    def profile_iri(self, name: str) -> str:
        return f"{self.jobs.base}mcma/job-profiles/{name}"

    # --- the record ------------------------------------------------------------------

    def record(self, job_id: str) -> Record:
        triples = self.jobs.store.read(self.record_iri(job_id))
        if not triples:
            return Record(dialect="mcma")  # made through another binding: today's model shows it
        values = {t.predicate.value.rsplit("#", 1)[-1]: str(t.object.value) for t in triples}  # type: ignore[union-attr]
        return Record(
            document=json.loads(values.get("mcmaDocument", "{}")),
            start_job=values.get("startCommand"),
            success=self._endpoint(job_id, "successEndpoint", values),
            failure=self._endpoint(job_id, "failureEndpoint", values),
            service=values.get("assignedService"),
            report=json.loads(values["serviceReport"]) if "serviceReport" in values else None,
            stop_cause=values.get("stopCause"),
            stop_job=values.get("stopCommand"),
            dialect=values.get("mcmaDialect", "fims"),
            notify=self._endpoint(job_id, "notificationEndpoint", values),
            progress=int(values["progress"]) if "progress" in values else None,
            assignments=json.loads(values.get("jobAssignments", "{}")),
        )

    def _endpoint(self, job_id: str, name: str, values: Mapping[str, str]) -> str | None:
        """A callback URL of the record: as stored, or from the vault where the stored one
        had its credentials redacted."""
        stored = values.get(name)
        if stored is None or redact.REDACTED not in stored:
            return stored
        return self.jobs.vault.get(f"{job_id}.{name}") or stored

    def _stored_endpoint(self, job_id: str, name: str, url: str | None) -> str | None:
        """A callback URL as the record stores it: its credentials redacted, the real URL
        in the vault for the outbox (`jobs/vault.py`)."""
        if url is None:
            return None
        stored, found = redact.text(url)
        if found:
            self.jobs.vault.put(f"{job_id}.{name}", url)
        return nt.iri(stored)

    def _graph(self, job_id: str, record: Record) -> ResourceGraph:
        s = nt.iri(self.record_iri(job_id))
        t = [
            (s, nt.A, nt.jt("McmaRecord")),
            (s, nt.jt("about"), nt.iri(self.jobs.iri(job_id))),
            (s, nt.jt("mcmaDocument"), nt.json_lit(redact.structure(record.document)[0])),
        ]
        optional = {
            "startCommand": nt.iri(record.start_job) if record.start_job else None,
            "successEndpoint": self._stored_endpoint(job_id, "successEndpoint", record.success),
            "failureEndpoint": self._stored_endpoint(job_id, "failureEndpoint", record.failure),
            "assignedService": nt.lit(record.service) if record.service else None,
            "serviceReport": (
                nt.json_lit(redact.structure(record.report)[0])
                if record.report is not None
                else None
            ),
            "stopCause": nt.lit(record.stop_cause) if record.stop_cause else None,
            "stopCommand": nt.iri(record.stop_job) if record.stop_job else None,
            "mcmaDialect": nt.lit(record.dialect),
            "notificationEndpoint": self._stored_endpoint(
                job_id, "notificationEndpoint", record.notify
            ),
            "progress": nt.integer(record.progress) if record.progress is not None else None,
            "jobAssignments": nt.json_lit(record.assignments) if record.assignments else None,
        }
        t += [(s, nt.jt(k), v) for k, v in optional.items() if v is not None]
        return ResourceGraph(self.record_iri(job_id), t)

    # --- documents --------------------------------------------------------------------

    def document(self, job: Job, record: Record | None = None) -> dict[str, Any]:
        """The job in the MCMA its client used (the FIMS-era one, or today's)."""
        record = record if record is not None else self.record(job.id)
        if record.dialect == "mcma":
            return self.today(job, record)
        out: dict[str, Any] = {"@context": CONTEXT, "id": job.iri}
        out.update({k: v for k, v in record.document.items() if k not in _MANAGED})
        out["jobStatus"] = model.fims_status(job)
        if record.start_job:
            out["startJob"] = record.start_job
        if record.report is not None:
            out["report"] = record.report
        if (problem := model.problem(job)) is not None:
            out["error"] = problem
        out["dateCreated"] = model.iso(job.created)
        out["dateModified"] = model.iso(job.modified)
        return out

    def today(self, job: Job, record: Record | None = None) -> dict[str, Any]:
        """Any job (made through any binding) in today's MCMA model."""
        record = record if record is not None else self.record(job.id)
        kept = record.document if record.dialect == "mcma" else {}
        return model.job_document(
            job,
            iri=self.today_iri(job.id),
            profile_iri=self.profile_iri(job.profile),
            kept=kept,
            progress=record.progress,
            output=self._output(job, record),
        )

    def _output(self, job: Job, record: Record) -> dict[str, Any]:
        out = dict(record.report) if isinstance(record.report, dict) else {}
        if job.results:
            out["results"] = model.locator(job.results)
        return out

    def command(self, kind: str, command_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "@context": CONTEXT,
            "id": self.command_iri(kind, command_id),
            "type": kind,
            **fields,
        }

    # --- the flow ---------------------------------------------------------------------

    def create(
        self, document: dict[str, Any], *, owner: str | None, by: str, payer: Payer | None = None
    ) -> Job:
        """A job from an `AmeJob` (any `…Job`) document; NEW."""
        kind = document.get("type") or document.get("@type")
        if not isinstance(kind, str) or not kind.endswith("Job"):
            raise InputError("an MCMA job has a type ending in Job", hint='"type": "AmeJob"')
        profile = document.get("jobProfile")
        label = profile.get("label") if isinstance(profile, dict) else profile
        if not isinstance(label, str) or not label:
            raise InputError('the job names no jobProfile: "jobProfile": {"label": "…"}')
        if label not in self.local_profiles and self.service_for(label) is None:
            raise InputError(
                f"no service takes jobs of profile {label!r}",
                hint="profiles here: " + ", ".join(self.profiles()),
                details={"jobProfile": label},
            )
        resource = document.get("hasRelatedResource")
        locator = resource.get("locator") if isinstance(resource, dict) else None
        if locator is not None and not isinstance(locator, str):
            raise InputError("hasRelatedResource.locator is a URL")
        parameters = {k: document[k] for k in ("outputFile",) if k in document}
        status_value = document.get("jobStatus")
        if status_value is not None and phase_of(str(status_value)) != "PENDING":
            raise InputError(f"a new job is NEW, not {status_value}")
        kept = {k: v for k, v in document.items() if k not in _MANAGED}
        job_id = str(uuid.uuid4())
        job = self.jobs.create(
            profile=label,
            input=locator,
            owner=owner,
            parameters=parameters,
            request={"mcma": "Job", "by": by},
            also=[self._graph(job_id, Record(document=kept))],
            job_id=job_id,
            status_value=str(status_value) if status_value is not None else None,
            priority=model.priority(document.get("priority")),
            payer=payer,
        )
        return job

    def start_job(self, job_id: str, success: str | None, failure: str | None, by: str) -> str:
        """StartJob: the job QUEUED, then sent on to its service; the StartJob's IRI."""
        self.check_endpoints(success, failure)
        job = self.jobs.get(job_id)
        record = self.record(job_id)
        if job.phase not in ("PENDING", "HELD"):
            shown = self.status_label(job, record)
            raise Conflict(
                f"job {job_id} is {shown}: it was started already",
                details={"phase": job.phase, "jobStatus": shown},
            )
        service = self.service_for(job.profile)
        start_job = self.command_iri("StartJob", str(uuid.uuid4()))
        record = replace(
            record,
            start_job=start_job,
            success=success,
            failure=failure,
            service=service.name if service else LOCAL,
        )
        if service is not None:
            with self._lock:
                self._external.add(job_id)
        self.jobs.set_phase(
            job_id,
            "QUEUED",
            by=by,
            status_value="QUEUED",
            also=[self._graph(job_id, record)],
            request={"mcma": "StartJob", "startJob": start_job},
        )
        return start_job

    def check_endpoints(self, success: Any, failure: Any) -> None:
        """StartJob's asyncEndpoint: absolute URLs the egress policy allows; else 400."""
        for url in (success, failure):
            if url is not None and (not isinstance(url, str) or nt.checked_iri(url) is None):
                raise InputError(f"asyncEndpoint {url!r} is not an absolute URL")
            if url is not None:
                self.check_endpoint(url, "asyncEndpoint")

    def check_endpoint(self, url: str, what: str) -> None:
        """A client-given endpoint the egress policy refuses, where that can be known now
        (an IP literal, a name resolving to a private address): InputError (400) naming
        the rule. Otherwise it is checked again at each connection."""
        refusal = egress.refusal(url, self.outbox.config.allow_private, self.outbox.config.timeout)
        if refusal is not None:
            raise InputError(
                f"{what} refused: {refusal}",
                hint="give an endpoint on a public address",
                details={what: url, "rule": egress.RULE},
            )

    def dispatch(self, job_id: str, attempt: int = 1) -> None:
        """Send ProcessJob to the job's external service (after StartJob's answer is out)."""
        record = self.record(job_id)
        service = self.services.get(record.service or "")
        if service is None:
            return  # the worker pool took it when it was queued
        document = {"@context": CONTEXT, "type": "ProcessJob", "job": self.jobs.iri(job_id)}
        purpose = process_purpose(attempt)
        self.outbox.send(job_id, purpose, service.url, document, configured=True)

    def cancel(self, job_id: str, *, by: str) -> Job:
        """MCMA cancel: the job ABORTED (Canceled); 409 once it has finished."""
        job, record = self._unfinished(job_id, "cancel", "only an unfinished job can be canceled")
        return self.jobs.set_phase(
            job_id,
            "ABORTED",
            by=by,
            expect=(job.phase,),
            status_value="CANCELED" if record.dialect == "fims" else "Canceled",
            request={"mcma": "cancel"},
        )

    def runner(self, job: Job) -> Service | None:
        """The external service that runs the job: the one assigned at StartJob, else the
        one registered for its profile (which will be)."""
        record = self.record(job.id)
        if record.service is not None:
            return self.services.get(record.service)
        return self.service_for(job.profile)

    def put(self, job_id: str, document: Mapping[str, Any], *, by: str) -> Job:
        """The service's (or owner's) update: report, progress, a status along legal steps."""
        job = self.jobs.get(job_id)
        record = self.record(job_id)
        if "report" in document:
            record = replace(record, report=document["report"])
        if isinstance(document.get("jobOutput"), dict) and record.dialect == "mcma":
            record = replace(record, report=document["jobOutput"])
        if "progress" in document:
            record = replace(record, progress=model.progress_value(document["progress"]))
        kept = {k: v for k, v in document.items() if k not in _MANAGED}
        if record.dialect == "fims":
            record = replace(record, document={**record.document, **kept})
        written = document.get("jobStatus") or document.get("status")
        target = phase_of(str(written)) if written is not None else job.phase
        error = model.service_error(document.get("error")) if target == "ERROR" else None
        request = {"mcma": "PUT", "jobStatus": written}
        return self._move(job, target, str(written or ""), record, by, request, error)

    def stop_job(self, job_id: str, cause: str, stop_job: str, *, by: str) -> Job:
        """StopJob: the job's final status; then the orchestrator's callback."""
        target = phase_of(cause)
        if target not in FINAL:
            raise InputError(
                f"stopJobCause {cause!r} is not a final status",
                hint="COMPLETED, FAILED or CANCELED",
            )
        job = self.jobs.get(job_id)
        record = replace(self.record(job_id), stop_cause=cause, stop_job=stop_job)
        request = {"mcma": "StopJob", "stopJobCause": cause}
        return self._move(job, target, cause, record, by, request)

    def _move(
        self,
        job: Job,
        target: str,
        written: str,
        record: Record,
        by: str,
        request: Mapping[str, Any],
        error: JobFailed | None = None,
    ) -> Job:
        """The job to `target` with its record; through EXECUTING if the service ran it
        while the answer to its ProcessJob is still on its way (a final status while QUEUED)."""
        if target == job.phase:  # a report, or the same status in another spelling
            self.jobs.store.apply(replace=[self._graph(job.id, record)])
            return job
        steps = [target]
        if job.phase == "QUEUED" and target in FINAL and job.id in self._external:
            steps = ["EXECUTING", target]
        for step in steps:
            job = self.jobs.set_phase(
                job.id,
                step,
                by=by,
                status_value=written if step == target else "RUNNING",
                error=error if step == target else None,
                also=[self._graph(job.id, record)],
                request=request,
            )
        return job

    def callback(self, job_id: str, *, delay: float = 0.0) -> None:
        """Call the orchestrator's success or failure endpoint (or today's notification
        endpoint), once, after `delay` seconds."""
        job = self.jobs.get(job_id)
        record = self.record(job_id)
        if record.notify is not None:
            body = {"@type": "Notification", "source": job.iri, "content": self.today(job, record)}
            self.outbox.send(job_id, "notification", record.notify, body, delay=delay)
            return
        url = record.success if job.phase == "COMPLETED" else record.failure
        if url is None:
            return
        purpose = "success" if job.phase == "COMPLETED" else "failure"
        self.outbox.send(job_id, purpose, url, {"job": job.iri}, delay=delay)

    def status_label(self, job: Job, record: Record) -> str:
        return model.mcma_status(job) if record.dialect == "mcma" else model.fims_status(job)

    def _unfinished(self, job_id: str, what: str, hint: str) -> tuple[Job, Record]:
        """The job and its record; Conflict (409) once the job has finished."""
        job = self.jobs.get(job_id)
        record = self.record(job_id)
        if job.phase in FINAL:
            shown = self.status_label(job, record)
            raise Conflict(
                f"cannot {what} job {job_id}: it has finished ({shown})",
                hint=hint,
                details={"phase": job.phase},
            )
        return job, record

    # --- told -----------------------------------------------------------------------

    def _changed(self, change: Change) -> None:
        job = change.job
        if job is None or job.phase not in FINAL or change.previous in FINAL:
            return
        if job.phase == "ARCHIVED":
            return
        record = self.record(job.id)
        if record.start_job is None:
            return  # not started through MCMA: nobody to call back
        delay = 0.0
        if job.id in self._external and record.stop_cause is None and change.by == record.service:
            delay = self.stop_grace  # its service said so in a PUT: its StopJob should follow
        threading.Thread(target=self._callback_quietly, args=(job.id, delay), daemon=True).start()

    def _callback_quietly(self, job_id: str, delay: float) -> None:
        with contextlib.suppress(NotFound, Gone):  # deleted meanwhile: nobody left to tell
            self.callback(job_id, delay=delay)

    def _settled(self, call: Call) -> None:
        if not call.purpose.startswith("ProcessJob"):
            return
        try:
            job = self.jobs.get(call.job_id)
        except (NotFound, Gone):  # deleted (or destroyed) meanwhile
            return
        if call.state == "delivered":
            if job.phase == "QUEUED":
                running = self.jobs.set_phase(
                    call.job_id,
                    "EXECUTING",
                    by=SERVICE,
                    status_value="RUNNING",
                    request={"mcma": "ProcessJob accepted", "status": call.status},
                )
                document = self.document(running)
                self.hop_request(job.id, "PUT", job.iri, document, INTERNAL)
                self.hop_response(job.id, 200, document, INTERNAL_ANSWER)
            return
        if job.phase in FINAL:
            return
        self.jobs.set_phase(
            call.job_id,
            "ERROR",
            by=SERVICE,
            status_value="FAILED",
            error=JobFailed(
                f"the service at {call.url} never accepted the job: {call.problem}",
                hint="see /mcma/services; the job can be created and started again",
            ),
            request={"mcma": "ProcessJob failed", "status": call.status},
        )

    def _resume_callbacks(self) -> None:
        """Callbacks a stopped server owed: finished MCMA jobs with none in the outbox."""
        rows = self.jobs.store.query(
            f"SELECT ?g WHERE {{ GRAPH ?g {{ ?g a <{_J}McmaRecord> ; <{_J}startCommand> ?s }} }}"
        )
        for row in rows:  # type: ignore[union-attr]
            job_id = row["g"].value.removesuffix("/mcma").rsplit("/", 1)[-1]
            try:
                job = self.jobs.get(job_id)
            except (NotFound, Gone):  # a record left by a job deleted before it went too
                continue
            if job.phase not in FINAL or job.phase == "ARCHIVED":
                continue
            record = self.record(job_id)
            waiting = job_id in self._external and record.stop_cause is None
            self.callback(job_id, delay=self.stop_grace if waiting else 0.0)

    # --- hops -------------------------------------------------------------------------

    def hop_request(self, job_id: str, method: str, url: str, document: Any, source: str) -> None:
        body = json_body(document) if document is not None else None
        self.hops.record(job_id, request_bytes(method, url, body, _role(source)), source)

    def hop_response(
        self,
        job_id: str,
        status_code: int,
        document: Any,
        source: str,
        location: str | None = None,
    ) -> None:
        headers = [("Location", location)] if location else []
        headers += _role(source)
        self.hops.record(job_id, response_bytes(status_code, json_body(document), headers), source)


def _role(source: str) -> list[tuple[str, str]]:
    """In-process exchanges say so in a header: their bytes differ from what is sent out."""
    if source.startswith("internal: "):
        return [("X-Jobtrail-Internal", source.removeprefix("internal: "))]
    return []


def process_purpose(attempt: int) -> str:
    """The outbox purpose of an execution's ProcessJob: one call per attempt."""
    return "ProcessJob" if attempt <= 1 else f"ProcessJob #{attempt}"
