"""The FIMS/MCMA job flow over HTTP: jobtrail as Job Processor and Job Repository.

    POST /mcma/Job           an AmeJob (any …Job) → 201, Location: the job's canonical IRI
    GET  /mcma/Job/{id}      the job as MCMA JSON-LD (also GET {job} with Accept: …json)
    PUT  /mcma/Job/{id}      the service's or owner's update (also PUT {job})
    POST /mcma/StartJob      {job, asyncEndpoint} → 201; the job QUEUED, then sent on
    POST /mcma/StopJob       {job, stopJobCause} → 200; then the orchestrator is called back
    GET  /mcma/services      the service registry, in MCMA's shape: who takes which profiles

The flow's logic is in `processor.py`; this module reads requests, answers them,
and stores each exchange as hops, in the flow's order: what was received, the
in-process exchange with the repository, and the answer.
"""

from __future__ import annotations

import hmac
import json
import uuid
from typing import Any

from jobtrail.base.errors import Forbidden, InputError, NotFound, Unauthorized
from jobtrail.bindings.mcma.processor import INTERNAL, INTERNAL_ANSWER, Processor
from jobtrail.bindings.mcma.services import LOCAL, registry
from jobtrail.ingest.jsonparse import parse_json
from jobtrail.jobs.core import Job, uuid_iri
from jobtrail.jobs.visibility import Policy, Role, Viewer
from jobtrail.web.requests import caller_of, read_body, received_bytes, viewer_of, visible_job
from jobtrail.web.state import AppRequest
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

MEDIA = "application/json"


def processor_of(request: AppRequest) -> Processor:
    processor = request.state["runtimes"]["mcma"]
    assert isinstance(processor, Processor)
    return processor


async def read_document(request: AppRequest) -> tuple[dict[str, Any], bytes]:
    body = await read_body(request)
    doc, _ = parse_json(body, f"{request.method} {request.url.path}")
    if not isinstance(doc, dict):
        raise InputError("an MCMA message is a JSON object")
    return doc, body


def json_response(document: Any, status: int = 200, location: str | None = None) -> Response:
    headers = {"Location": location} if location else {}
    body = json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8")
    return Response(body, status, headers, media_type=MEDIA)


def _job_id(request: AppRequest, value: Any) -> str:
    """The id of a job named by its canonical IRI (or its /mcma/Job/{id} alias)."""
    if not isinstance(value, str) or not value:
        raise InputError('the message names no job: "job": "<the job\'s IRI>"')
    jobs = request.state["engine"].jobs
    alias = f"{jobs.base}mcma/Job/"
    job_id = jobs.id_of(value) or (value.removeprefix(alias) if value.startswith(alias) else None)
    if not job_id:
        raise NotFound(f"{value} is not a job of this server", hint=f"jobs are {jobs.base}jobs/…")
    return job_id


# --- POST /mcma/Job ---------------------------------------------------------------------


async def create(request: AppRequest) -> Response:
    processor = processor_of(request)
    doc, body = await read_document(request)
    caller = caller_of(request)
    request.state["engine"].accounts.require(caller)
    payer = request.state["engine"].accounts.payer(caller)
    job = await run_in_threadpool(
        lambda: processor.create(doc, owner=caller.name, by=caller.label, payer=payer)
    )
    answer = processor.document(job)

    def hops() -> None:
        stored = {**{k: v for k, v in doc.items() if k != "@context"}, "jobStatus": "NEW"}
        stored = {"@context": answer["@context"], **stored}
        processor.hops.record(job.id, received_bytes(request, body), "received: POST /mcma/Job")
        processor.hop_request(job.id, "POST", f"{processor.jobs.base}mcma/Job", stored, INTERNAL)
        processor.hop_response(job.id, 201, answer, INTERNAL_ANSWER, job.iri)
        processor.hop_response(job.id, 201, answer, "sent: the answer to POST /mcma/Job", job.iri)

    await run_in_threadpool(hops)
    return json_response(answer, 201, job.iri)


# --- GET/PUT a job ------------------------------------------------------------------------


async def job(request: AppRequest) -> Response:
    return await job_document(request, request.path_params["id"])


async def job_document(request: AppRequest, job_id: str) -> Response:
    """GET or PUT the MCMA document of a job (`/mcma/Job/{id}`, or the job's IRI)."""
    processor = processor_of(request)
    if request.method == "PUT":
        return await _put(request, processor, job_id)
    found = await run_in_threadpool(visible_job, request, job_id)
    document = await run_in_threadpool(processor.document, found)
    return json_response(document, 200)


async def _put(request: AppRequest, processor: Processor, job_id: str) -> Response:
    doc, body = await read_document(request)
    viewer, token = who(request)
    policy = request.state["engine"].visibility

    def put() -> Job:
        job, by = changer(processor, policy, job_id, viewer, token, "change")
        received = received_bytes(request, body)
        processor.hops.record(job_id, received, f"received: PUT {request.url.path}")
        updated = processor.put(job_id, doc, by=by)
        answer = processor.document(updated)
        processor.hop_request(job_id, "PUT", job.iri, answer, INTERNAL)
        processor.hop_response(job_id, 200, answer, INTERNAL_ANSWER)
        processor.hop_response(job_id, 200, answer, f"sent: the answer to PUT {request.url.path}")
        return updated

    updated = await run_in_threadpool(put)
    return json_response(await run_in_threadpool(processor.document, updated), 200)


def _bearer(request: AppRequest) -> str | None:
    value = request.headers.get("authorization", "")
    return value[7:].strip() if value.lower().startswith("bearer ") else None


def who(request: AppRequest) -> tuple[Viewer, str | None]:
    """Who sends a PUT or StopJob (`viewer_of`: a Bearer token this server does not know,
    a service's, reads as anonymous), and the Bearer token it carries, if any."""
    return viewer_of(request), _bearer(request)


def changer(
    processor: Processor,
    policy: Policy,
    job_id: str,
    viewer: Viewer,
    token: str | None,
    what: str,
) -> tuple[Job, str]:
    """The job, and who is changing it, if they may (PUT, StopJob); 401 (anonymous) or 403.

    A job run by a service with a token takes changes only with that token (as a Bearer
    token) or from the admin; any other job from whoever the visibility policy lets change
    it (`Policy.may_change`: its owner, anyone while it is anonymous and anonymous jobs
    are allowed, the admin; a curator reads it and changes only their own). A service's
    token authorises nothing but its own jobs.
    """
    job = processor.jobs.get(job_id)
    service = processor.runner(job)
    if service is None or service.token is None:
        if not policy.may_change(viewer, job.owner):
            refusal = Unauthorized if viewer.role is Role.ANONYMOUS else Forbidden
            curator = " (a curator reads it, and changes only their own jobs)"
            raise refusal(
                f"only the owner of job {job_id}, the service running it or the administrator "
                f"may {what} it{curator if viewer.role is Role.CURATOR else ''}",
                hint="send the owner's credentials, or the service's token as a Bearer token",
            )
    elif viewer.role is not Role.ADMIN and not (
        token is not None and hmac.compare_digest(token.encode(), service.token.encode())
    ):
        said = "a wrong token" if token is not None else "no token"
        raise Forbidden(
            f"job {job_id} is run by service {service.name!r}: only a request with its "
            f"token may {what} it, and this one has {said}",
            hint=f"send service {service.name!r}'s token as Authorization: Bearer <token>",
        )
    return job, _by(processor, job, viewer)


def _by(processor: Processor, job: Job, viewer: Viewer) -> str:
    """Who a PUT or StopJob is from: the job's named owner, the admin, else the service
    running it (who acts, for the job's history: not a decision of who may)."""
    if job.owner is not None and viewer.owner == job.owner:
        return job.owner
    if viewer.role is Role.ADMIN:
        return viewer.name or "admin"
    service = processor.record(job.id).service
    return service if service and service != LOCAL else viewer.label


# --- POST /mcma/StartJob --------------------------------------------------------------------


async def start(request: AppRequest) -> Response:
    processor = processor_of(request)
    doc, body = await read_document(request)
    job_id = _job_id(request, doc.get("job"))
    endpoints = doc.get("asyncEndpoint") or {}
    if not isinstance(endpoints, dict):
        raise InputError('asyncEndpoint is {"success": URL, "failure": URL}')

    def run() -> dict[str, Any]:
        found = visible_job(request, job_id, change=True)  # a curator only reads it
        processor.check_endpoints(endpoints.get("success"), endpoints.get("failure"))
        jobs = processor.jobs
        by = viewer_of(request).label  # who acts: a caller, or the admin
        processor.hops.record(
            job_id, received_bytes(request, body), "received: POST /mcma/StartJob"
        )
        processor.hop_request(job_id, "GET", found.iri, None, INTERNAL)
        processor.hop_response(job_id, 200, processor.document(found), INTERNAL_ANSWER)
        start_job = processor.start_job(
            job_id, endpoints.get("success"), endpoints.get("failure"), by
        )
        fields = {"job": found.iri, "asyncEndpoint": endpoints}
        asked = processor.command("StartJob", "", fields)
        del asked["id"]
        processor.hop_request(job_id, "POST", f"{jobs.base}mcma/StartJob", asked, INTERNAL)
        queued_doc = processor.document(jobs.get(job_id))
        command = {
            **processor.command("StartJob", start_job.rsplit("/", 1)[-1], fields),
            "dateCreated": queued_doc["dateModified"],
            "dateModified": queued_doc["dateModified"],
        }
        processor.hop_response(job_id, 201, command, INTERNAL_ANSWER, start_job)
        processor.hop_request(job_id, "PUT", found.iri, queued_doc, INTERNAL)
        processor.hop_response(job_id, 200, queued_doc, INTERNAL_ANSWER)
        processor.hop_response(
            job_id, 201, command, "sent: the answer to POST /mcma/StartJob", start_job
        )
        processor.dispatch(job_id)
        return command

    command = await run_in_threadpool(run)
    return json_response(command, 201, command["id"])


# --- POST /mcma/StopJob ---------------------------------------------------------------------


async def stop(request: AppRequest) -> Response:
    processor = processor_of(request)
    doc, body = await read_document(request)
    job_id = _job_id(request, doc.get("job"))
    cause = doc.get("stopJobCause")
    if not isinstance(cause, str) or not cause:
        raise InputError('a StopJob says why: "stopJobCause": "COMPLETED" (or FAILED, CANCELED)')
    viewer, token = who(request)
    policy = request.state["engine"].visibility

    def run() -> dict[str, Any]:
        jobs = processor.jobs
        job, by = changer(processor, policy, job_id, viewer, token, "stop")
        processor.hops.record(job_id, received_bytes(request, body), "received: POST /mcma/StopJob")
        given = doc.get("id")
        tail = given.rstrip("/").rsplit("/", 1)[-1] if isinstance(given, str) else ""
        command_id = tail if uuid_iri(tail) is not None else str(uuid.uuid4())
        stop_job = processor.command_iri("StopJob", command_id)
        stopped = processor.stop_job(job_id, cause, stop_job, by=by)
        fields = {"job": job.iri, "stopJobCause": cause}
        asked = {k: v for k, v in processor.command("StopJob", "", fields).items() if k != "id"}
        processor.hop_request(job_id, "POST", f"{jobs.base}mcma/StopJob", asked, INTERNAL)
        when = processor.document(stopped)["dateModified"]
        command = {
            **processor.command("StopJob", stop_job.rsplit("/", 1)[-1], fields),
            "dateCreated": when,
            "dateModified": when,
        }
        processor.hop_response(job_id, 201, command, INTERNAL_ANSWER, stop_job)
        processor.hop_response(job_id, 200, command, "sent: the answer to POST /mcma/StopJob")
        processor.callback(job_id)
        return command

    return json_response(await run_in_threadpool(run), 200)


# --- the registry -----------------------------------------------------------------------------


async def services(request: AppRequest) -> Response:
    """The service registry in MCMA's shape: `{"results": [Service …]}` (`services.py`)."""
    processor = processor_of(request)
    listed = registry(
        processor.jobs.base,
        processor.services.values(),
        processor.local_profiles,
        processor.kinds,
        processor.profile_iri,
    )
    return json_response({"results": listed})


async def has_document(request: AppRequest, job_id: str) -> bool:
    """Whether the job was made through MCMA (so JSON clients get its MCMA document)."""
    processor = processor_of(request)
    return await run_in_threadpool(processor.jobs.store.exists, processor.record_iri(job_id))


async def on_job(request: AppRequest, job_id: str) -> Response | None:
    """The job's own IRI: a PUT is an MCMA update; a JSON client's GET of a job made through
    MCMA gets its MCMA document. Anything else is the job service's."""
    if request.method == "PUT" or (wants_document(request) and await has_document(request, job_id)):
        return await job_document(request, job_id)
    return None


def wants_document(request: AppRequest) -> bool:
    """A JSON client asking for a job: MCMA's document rather than the linked-data one."""
    accept = request.headers.get("accept", "").split(",")[0].split(";")[0].strip().lower()
    return accept in ("application/json", "application/ld+json")


def routes() -> list[BaseRoute]:
    return [
        Route("/mcma/Job", create, methods=["POST"]),
        Route("/mcma/Job/{id}", job, methods=["GET", "HEAD", "PUT"]),
        Route("/mcma/StartJob", start, methods=["POST"]),
        Route("/mcma/StopJob", stop, methods=["POST"]),
        Route("/mcma/services", services, methods=["GET", "HEAD"]),
    ]
