"""The FIMS/MCMA Job Processor and Job Repository, over the job core.

An MCMA job is a job of the core: its phase is the core's, its FIMS/MCMA
status the vocabulary's reading of that phase (`vocab/status.ttl`), or the
status its client wrote when that maps to the same phase. What only MCMA says
about it — the document the client sent (every key kept), the StartJob and
its callback endpoints, the service assigned, the service's report — lives in
the graph `{job}/mcma`, replaced with each change.

The flow of the seed (`000_…`), with jobtrail as Processor and Repository:

    POST /mcma/Job           → job PENDING (NEW)
    POST /mcma/StartJob      → job QUEUED, `startJob` set; then ProcessJob goes to the
                               service registered for the profile (through the outbox),
                               or the built-in profile runs it in the worker pool
    the service answers 2xx  → EXECUTING (RUNNING); it never does → ERROR (FAILED)
    PUT {job}                → the service's report and status (only the owner or the
                               service assigned may PUT; only legal transitions)
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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from jobtrail.ingest import nt
from jobtrail.store import ResourceGraph
from jobtrail.store.errors import Conflict, InputError, JobFailed, NotFound
from jobtrail.vocab import status

from .core import FINAL, SERVICE, Change, Job, Jobs
from .hops import Hops, json_body, request_bytes, response_bytes
from .outbox import Call, Outbox, OutboxConfig

CONTEXT = "https://w3id.org/jobtrail/context/mcma"
INTERNAL = "internal: job processor → job repository"
INTERNAL_ANSWER = "internal: job repository → job processor"
LOCAL = "jobtrail"
"""The name of the built-in service: the worker pool, running the built-in profiles."""

FIMS_STATUS = {
    "PENDING": "NEW",
    "HELD": "NEW",
    "QUEUED": "QUEUED",
    "EXECUTING": "RUNNING",
    "SUSPENDED": "PAUSED",
    "COMPLETED": "COMPLETED",
    "ERROR": "FAILED",
    "ABORTED": "CANCELED",
    "ARCHIVED": "CLEANED",
    "UNKNOWN": "UNKNOWN",
}
"""The FIMS status a job shows for its phase when its client wrote none that fits."""

_MANAGED = ("@context", "id", "jobStatus", "dateCreated", "dateModified", "startJob", "report")
_J = "https://w3id.org/jobtrail/vocab#"


@dataclass(frozen=True)
class Service:
    name: str
    url: str  # where ProcessJob is POSTed
    profiles: tuple[str, ...]
    token: str | None = None  # the bearer token its PUTs and StopJobs carry

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "url": self.url, "profiles": list(self.profiles)}


def parse_services(setting: str | None) -> dict[str, Service]:
    """`mcma_services`: a JSON list of {"name", "url", "profiles", "token"?}."""
    if not setting:
        return {}
    try:
        items = json.loads(setting)
        services = [
            Service(
                str(i["name"]),
                str(i["url"]),
                tuple(str(p) for p in i["profiles"]),
                str(i["token"]) if i.get("token") else None,
            )
            for i in items
        ]
    except (ValueError, TypeError, KeyError) as e:
        raise InputError(
            f"mcma_services is not a list of services: {e}",
            hint='[{"name": "ame", "url": "http://h/ProcessJob", "profiles": ["Fixity"]}]',
        ) from None
    for s in services:
        if nt.checked_iri(s.url) is None or s.name == LOCAL:
            raise InputError(f"service {s.name!r}: needs an absolute URL and a name not {LOCAL!r}")
    return {s.name: s for s in services}


def status_of(value: str) -> str:
    """The UWS phase a FIMS or MCMA status stands for (FIMS spelling first, then MCMA's)."""
    try:
        return status.canonical("fims", value)
    except InputError:
        return status.canonical("mcma", value)


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


class Processor:
    def __init__(
        self,
        jobs: Jobs,
        services: Mapping[str, Service],
        local_profiles: Iterable[str],
        outbox: OutboxConfig,
        *,
        stop_grace: float = 30.0,
    ) -> None:
        self.jobs = jobs
        self.stop_grace = stop_grace
        self.services = dict(services)
        self.local_profiles = frozenset(local_profiles)
        self.hops = Hops(jobs)
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
        """Whether an external service runs this job (the worker pool leaves it alone)."""
        return job.id in self._external

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
        external = {p for s in self.services.values() for p in s.profiles}
        return sorted(self.local_profiles | external)

    # --- the record ------------------------------------------------------------------

    def record(self, job_id: str) -> Record:
        triples = self.jobs.store.read(self.record_iri(job_id))
        values = {t.predicate.value.rsplit("#", 1)[-1]: str(t.object.value) for t in triples}  # type: ignore[union-attr]
        return Record(
            document=json.loads(values.get("mcmaDocument", "{}")),
            start_job=values.get("startCommand"),
            success=values.get("successEndpoint"),
            failure=values.get("failureEndpoint"),
            service=values.get("assignedService"),
            report=json.loads(values["serviceReport"]) if "serviceReport" in values else None,
            stop_cause=values.get("stopCause"),
            stop_job=values.get("stopCommand"),
        )

    def _graph(self, job_id: str, record: Record) -> ResourceGraph:
        s = nt.iri(self.record_iri(job_id))
        t = [
            (s, nt.A, nt.jt("McmaRecord")),
            (s, nt.jt("about"), nt.iri(self.jobs.iri(job_id))),
            (s, nt.jt("mcmaDocument"), nt.json_lit(record.document)),
        ]
        optional = {
            "startCommand": nt.iri(record.start_job) if record.start_job else None,
            "successEndpoint": nt.iri(record.success) if record.success else None,
            "failureEndpoint": nt.iri(record.failure) if record.failure else None,
            "assignedService": nt.lit(record.service) if record.service else None,
            "serviceReport": nt.json_lit(record.report) if record.report is not None else None,
            "stopCause": nt.lit(record.stop_cause) if record.stop_cause else None,
            "stopCommand": nt.iri(record.stop_job) if record.stop_job else None,
        }
        t += [(s, nt.jt(k), v) for k, v in optional.items() if v is not None]
        return ResourceGraph(self.record_iri(job_id), t)

    # --- documents --------------------------------------------------------------------

    def document(self, job: Job, record: Record | None = None) -> dict[str, Any]:
        """The job as MCMA JSON-LD: the client's document, with what the repository adds."""
        record = record if record is not None else self.record(job.id)
        out: dict[str, Any] = {"@context": CONTEXT, "id": job.iri}
        out.update({k: v for k, v in record.document.items() if k not in _MANAGED})
        out["jobStatus"] = self.status_value(job)
        if record.start_job:
            out["startJob"] = record.start_job
        if record.report is not None:
            out["report"] = record.report
        if job.error is not None:
            out["error"] = {
                "type": f"{_J}{job.error.type}",
                "title": job.error.message,
                **({"detail": job.error.hint} if job.error.hint else {}),
            }
        out["dateCreated"] = _iso(job.created)
        out["dateModified"] = _iso(job.modified)
        return out

    def status_value(self, job: Job) -> str:
        written = job.status_value
        if written is not None:
            try:
                if status_of(written) == job.phase:
                    return written
            except InputError:
                pass
        return FIMS_STATUS.get(job.phase, "UNKNOWN")

    def command(self, kind: str, command_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "@context": CONTEXT,
            "id": self.command_iri(kind, command_id),
            "type": kind,
            **fields,
        }

    # --- the flow ---------------------------------------------------------------------

    def create(self, document: dict[str, Any], *, owner: str | None, by: str) -> Job:
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
        if status_value is not None and status_of(str(status_value)) != "PENDING":
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
        )
        return job

    def start_job(self, job_id: str, success: str | None, failure: str | None, by: str) -> str:
        """StartJob: the job QUEUED, then sent on to its service; the StartJob's IRI."""
        for url in (success, failure):
            if url is not None and nt.checked_iri(url) is None:
                raise InputError(f"asyncEndpoint {url!r} is not an absolute URL")
        job = self.jobs.get(job_id)
        if job.phase not in ("PENDING", "HELD"):
            raise Conflict(
                f"job {job_id} is {self.status_value(job)}: it was started already",
                details={"phase": job.phase, "jobStatus": self.status_value(job)},
            )
        record = self.record(job_id)
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

    def dispatch(self, job_id: str) -> None:
        """Send ProcessJob to the job's external service (after StartJob's answer is out)."""
        record = self.record(job_id)
        service = self.services.get(record.service or "")
        if service is None:
            return  # the worker pool took it when it was queued
        document = {"@context": CONTEXT, "type": "ProcessJob", "job": self.jobs.iri(job_id)}
        self.outbox.send(job_id, "ProcessJob", service.url, document)

    def may_put(self, job_id: str, caller: str | None, token: str | None) -> bool:
        """The job's owner, or the service assigned to it (by its token, if it has one)."""
        job = self.jobs.get(job_id)
        record = self.record(job_id)
        service = self.services.get(record.service or "")
        if service is not None and service.token is not None and token == service.token:
            return True
        return job.owner is None or caller == job.owner

    def put(self, job_id: str, document: Mapping[str, Any], *, by: str) -> Job:
        """The service's (or owner's) update: its report, and a status along legal steps."""
        job = self.jobs.get(job_id)
        record = self.record(job_id)
        if "report" in document:
            record = replace(record, report=document["report"])
        kept = {k: v for k, v in document.items() if k not in _MANAGED}
        record = replace(record, document={**record.document, **kept})
        written = document.get("jobStatus")
        target = status_of(str(written)) if written is not None else job.phase
        request = {"mcma": "PUT", "jobStatus": written}
        if target == job.phase:  # a report, or the same status in another spelling
            self.jobs.store.apply(replace=[self._graph(job_id, record)])
            return job
        steps = [target]
        if job.phase == "QUEUED" and target in FINAL and job.id in self._external:
            steps = ["EXECUTING", target]  # the service's answer to ProcessJob is still on its way
        for step in steps:
            job = self.jobs.set_phase(
                job_id,
                step,
                by=by,
                status_value=str(written) if step == target else "RUNNING",
                also=[self._graph(job_id, record)],
                request=request,
            )
        return job

    def stop_job(self, job_id: str, cause: str, stop_job: str, *, by: str) -> Job:
        """StopJob: the job's final status; then the orchestrator's callback."""
        target = status_of(cause)
        if target not in FINAL:
            raise InputError(
                f"stopJobCause {cause!r} is not a final status",
                hint="COMPLETED, FAILED or CANCELED",
            )
        job = self.jobs.get(job_id)
        record = replace(self.record(job_id), stop_cause=cause, stop_job=stop_job)
        if job.phase != target:
            steps = ["EXECUTING", target] if job.phase == "QUEUED" else [target]
            for step in steps:
                job = self.jobs.set_phase(
                    job_id,
                    step,
                    by=by,
                    status_value=cause if step == target else "RUNNING",
                    also=[self._graph(job_id, record)],
                    request={"mcma": "StopJob", "stopJobCause": cause},
                )
        else:
            self.jobs.store.apply(replace=[self._graph(job_id, record)])
        return job

    def callback(self, job_id: str, *, delay: float = 0.0) -> None:
        """Call the orchestrator's success or failure endpoint, once (after `delay` seconds)."""
        job = self.jobs.get(job_id)
        record = self.record(job_id)
        url = record.success if job.phase == "COMPLETED" else record.failure
        if url is None:
            return
        purpose = "success" if job.phase == "COMPLETED" else "failure"
        self.outbox.send(job_id, purpose, url, {"job": job.iri}, delay=delay)

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
        with contextlib.suppress(NotFound):  # deleted meanwhile: nobody left to tell
            self.callback(job_id, delay=delay)

    def _settled(self, call: Call) -> None:
        if call.purpose != "ProcessJob":
            return
        try:
            job = self.jobs.get(call.job_id)
        except NotFound:
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
            except NotFound:
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


def _iso(value: Any) -> str:
    text: str = value.isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")
