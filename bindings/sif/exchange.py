"""One SIF exchange: who calls, the method meant, the job asked for, the answer and its hops.

Every SIF endpoint runs through `endpoint`: the method override and `requestId` are checked
(`protocol.method_of`), a SIF session or SIF_HMACSHA256 signature is taken as the user it
stands for (`environments.Environments.sign_in`), and every answer carries the SIF response
headers (`protocol.headers`).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from jobtrail.base.errors import MethodNotAllowed, NotFound
from jobtrail.bindings.sif import protocol
from jobtrail.bindings.sif.model import Record, Service, Sif
from jobtrail.jobs.accounts import Caller
from jobtrail.jobs.core import Job
from jobtrail.jobs.hops import response_bytes
from jobtrail.web.requests import caller_of, received_bytes, visible_job
from jobtrail.web.state import AppRequest
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

XML = "application/xml"
BINDING = "SIF 3.2.1"
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE"]
"""Every SIF route takes them all: which one is meant is the override's to say."""

Handler = Callable[[AppRequest], Awaitable[Response]]


def sif_of(request: AppRequest) -> Sif:
    sif = request.state["runtimes"]["sif"]
    assert isinstance(sif, Sif)
    return sif


def endpoint(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def run(request: AppRequest) -> Response:
        protocol.method_of(request)
        environments = sif_of(request).environments
        if environments is not None:
            await run_in_threadpool(environments.sign_in, request)
        return await handler(request)

    return run


def refuse_method(request: AppRequest, allowed: str, what: str) -> MethodNotAllowed:
    return MethodNotAllowed(
        f"{what} does not take {protocol.method_of(request)}",
        hint=f"it takes {allowed}",
        details={"allowed": allowed},
    )


def caller(request: AppRequest) -> Caller:
    """Who creates: the user of a SIF session, else a user, a pass or anonymous."""
    found = request.scope.get("sif.caller")
    return found if isinstance(found, Caller) else caller_of(request)


def respond(
    request: AppRequest,
    body: bytes | None,
    status: int,
    job: Job | None = None,
    headers: dict[str, str] | None = None,
    media_type: str = XML,
) -> Response:
    out = protocol.headers(request)
    out.update(headers or {})
    if job is not None:
        out["Link"] = f'<{job.iri}>; rel="canonical"'
    return Response(body, status, out, media_type=media_type if body is not None else None)


def collection_of(request: AppRequest) -> Service:
    name = request.path_params["collection"].split(";", 1)[0]  # matrix parameters
    return sif_of(request).service(name)


async def job_of(
    request: AppRequest, service: Service, job_id: str, change: bool = False
) -> tuple[Job, Record]:
    """The job and its SIF record, if the caller may see it (`change`: may change it; a
    curator reads every job but changes only their own)."""
    job = await run_in_threadpool(lambda: visible_job(request, job_id, change=change))
    if job.profile != service.name:
        raise NotFound(
            f"job {job.id} is not a {service.name} job",
            hint=f"it is a {job.profile} job: {job.iri}",
        )
    record = await run_in_threadpool(sif_of(request).read, job)
    return job, record


def record(request: AppRequest, **more: Any) -> dict[str, Any]:
    """The request as the job's change message keeps it (its body is in the hop)."""
    meant = protocol.method_of(request)
    return {
        "binding": BINDING,
        "method": request.method,
        **({"methodOverride": meant} if meant != request.method else {}),
        "path": request.url.path,
        "contentType": request.headers.get("content-type"),
        **more,
    }


async def hop(request: AppRequest, job_id: str, body: bytes, response: Response) -> None:
    """The exchange as two hops of the job: the request verbatim, then the answer."""
    hops = sif_of(request).hops
    what = f"SIF {request.method} {request.url.path}"
    sent = received_bytes(request, body)
    answer = response_bytes(
        response.status_code,
        bytes(response.body) if response.body else None,
        [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"],
    )
    await run_in_threadpool(hops.record, job_id, sent, f"received: {what}")
    await run_in_threadpool(hops.record, job_id, answer, f"answered: {what}")


__all__ = [
    "ALL_METHODS",
    "XML",
    "caller",
    "collection_of",
    "endpoint",
    "hop",
    "job_of",
    "record",
    "refuse_method",
    "respond",
    "sif_of",
]
