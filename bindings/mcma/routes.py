"""Today's MCMA job processor over HTTP (ebu/mcma-libraries), on the same jobs.

    POST /mcma/jobs                   a Job (jobProfileId, jobInput, timeout, deadline …)
                                      → 201 New, Location: /mcma/jobs/{id}; then started
    GET  /mcma/jobs                   QueryResults: ?status= ?from= ?to= ?sortOrder=asc|desc
                                      (oldest first unless desc) ?pageSize= ?pageStartToken=
                                      (the caller's and anonymous jobs; a curator's and the
                                      admin's: every job)
    GET  /mcma/jobs/{id}              any job in today's model (also GET {job}, Accept: JSON);
                                      `canonicalJob` links /jobs/{id}; PUT: an update
    DELETE /mcma/jobs/{id}            202 for a finished job; 409 while it runs
    POST …/{id}/cancel                202; 409 once the job has finished (its owner, the admin)
    POST …/{id}/restart               202, a new execution; 409 past its deadline
    GET  …/{id}/executions            QueryResults of JobExecution, one per attempt
    GET  …/{id}/executions/{n}        one (n from 1, or `latest`)
    POST …/{id}/executions/{n}/notifications   a service's Notification → 202
    GET  /mcma/job-profiles[/{name}]  the profiles (?name= filters), with their parameters

where … is /mcma/jobs (the ids of today's model) or /jobs (the canonical ones). The
model is `model.py`, the operations `today.py` over `processor.py`. Each request and
answer is stored as a hop of its job, as in the FIMS flow.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jobtrail.base.errors import Conflict, InputError, NotFound
from jobtrail.bindings.mcma.fims import (
    changer,
    job_document,
    json_response,
    processor_of,
    read_document,
    who,
)
from jobtrail.bindings.mcma.model import mcma_status, profile_document
from jobtrail.bindings.mcma.processor import Processor
from jobtrail.bindings.mcma.today import Today
from jobtrail.jobs.core import FINAL
from jobtrail.web.requests import (
    caller_of,
    int_param,
    read_body,
    received_bytes,
    viewer_of,
    visible_job,
)
from jobtrail.web.state import AppRequest
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.routing import BaseRoute, Route


def today_of(request: AppRequest) -> Today:
    processor = processor_of(request)
    assert isinstance(processor, Today)
    return processor


def _sent(processor: Processor, job_id: str, status: int, document: Any, what: str) -> None:
    processor.hop_response(job_id, status, document, f"sent: the answer to {what}")


async def create(request: AppRequest) -> Response:
    processor = today_of(request)
    doc, body = await read_document(request)
    caller = caller_of(request)
    request.state["engine"].accounts.require(caller)
    payer = request.state["engine"].accounts.payer(caller)

    def run() -> dict[str, Any]:
        job = processor.create_today(doc, owner=caller.name, by=caller.label, payer=payer)
        processor.hops.record(job.id, received_bytes(request, body), "received: POST /mcma/jobs")
        answer = processor.today(job)  # New: it starts once this answer is written
        _sent(processor, job.id, 201, answer, "POST /mcma/jobs")
        processor.begin(job.id, by=caller.label)
        return answer

    answer = await run_in_threadpool(run)
    return json_response(answer, 201, answer["id"])


async def listing(request: AppRequest) -> Response:
    if request.method == "POST":
        return await create(request)
    processor = today_of(request)
    viewer = viewer_of(request)  # a curator and the admin see every job
    q = request.query_params
    order = q.get("sortOrder", "asc").lower()
    if order not in ("asc", "desc"):
        raise InputError(f"sortOrder is asc or desc, not {order!r}")
    size = int_param(request, "pageSize", 100, 1, 1000)
    offset = int_param(request, "pageStartToken", 0, 0, 10**9)
    status = q.get("status") or None
    pages = await run_in_threadpool(
        lambda: processor.listing(
            owner=viewer.owner,
            anonymous=request.state["engine"].visibility.anonymous_jobs,
            everyone=viewer.sees_all,
            status_value=status,
            after=_instant(q.get("from"), "from"),
            before=_instant(q.get("to"), "to"),
            oldest_first=order == "asc",
            size=size,
            offset=offset,
        )
    )
    found, following = pages
    result: dict[str, Any] = {"results": found}
    if following is not None:
        result["nextPageStartToken"] = str(following)
    return json_response(result)


def _instant(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{name}={value!r} is not an ISO 8601 date and time") from None
    if when.tzinfo is None:
        raise InputError(f"{name}={value!r} has no time zone", hint="end it with Z")
    return when


async def one(request: AppRequest) -> Response:
    processor = processor_of(request)
    if request.method == "PUT":
        return await job_document(request, request.path_params["id"])
    if request.method == "DELETE":
        return await delete(request)
    job = await run_in_threadpool(visible_job, request, request.path_params["id"])
    return json_response(await run_in_threadpool(processor.today, job))


async def delete(request: AppRequest) -> Response:
    """A finished job is deleted (202); one still to run or running is not (409)."""
    processor = processor_of(request)
    job_id = request.path_params["id"]

    def run() -> None:
        job = visible_job(request, job_id, change=True)
        if job.phase not in FINAL:
            raise Conflict(
                f"cannot delete job {job_id} while it is {mcma_status(job)}",
                hint=f"cancel it first: POST {processor.today_iri(job_id)}/cancel",
                details={"phase": job.phase},
            )
        processor.jobs.delete(job_id, by=viewer_of(request).label, request={"mcma": "DELETE"})

    await run_in_threadpool(run)
    return Response(status_code=202)


async def cancel(request: AppRequest) -> Response:
    return await _command(request, "cancel")


async def restart(request: AppRequest) -> Response:
    return await _command(request, "restart")


async def _command(request: AppRequest, what: str) -> Response:
    processor = today_of(request)
    body = await read_body(request)  # its size and time limits
    job_id = request.path_params["id"]

    def run() -> dict[str, Any]:
        visible_job(request, job_id, change=True)  # a curator reads it, and is refused here
        by = viewer_of(request).label  # who acts: a caller, or the admin
        processor.hops.record(job_id, received_bytes(request, body), f"received: POST {what}")
        act = processor.cancel if what == "cancel" else processor.restart
        answer = processor.today(act(job_id, by=by))
        _sent(processor, job_id, 202, answer, f"POST {what}")
        return answer

    return json_response(await run_in_threadpool(run), 202)


async def executions(request: AppRequest) -> Response:
    processor = today_of(request)
    job = await run_in_threadpool(visible_job, request, request.path_params["id"])
    found = await run_in_threadpool(processor.executions, job)
    wanted = request.path_params.get("n")
    if wanted is None:
        return json_response({"results": found})
    if wanted == "latest" and found:
        return json_response(found[-1])
    if wanted.isdigit() and 1 <= int(wanted) <= len(found):
        return json_response(found[int(wanted) - 1])
    raise NotFound(
        f"job {job.id} has no execution {wanted}",
        hint=f"it has {len(found)}: 1 to {len(found)}, or latest" if found else "it has not run",
    )


async def notifications(request: AppRequest) -> Response:
    """A service's Notification about an execution it was assigned → 202."""
    processor = today_of(request)
    doc, body = await read_document(request)
    viewer, token = who(request)
    policy = request.state["engine"].visibility
    job_id, number = request.path_params["id"], request.path_params["n"]

    def run() -> None:
        _, by = changer(processor, policy, job_id, viewer, token, "notify about")
        processor.hops.record(job_id, received_bytes(request, body), "received: a Notification")
        processor.notification(job_id, number, doc, by)

    await run_in_threadpool(run)
    return Response(status_code=202)


async def profiles(request: AppRequest) -> Response:
    processor = processor_of(request)
    name = request.path_params.get("name")
    if name is None:
        wanted = request.query_params.get("name")  # MCMA's ResourceManager.query filter
        listed = [
            profile_document(s, processor.profile_iri(n))
            for n, s in processor.specs.items()
            if wanted is None or n == wanted
        ]
        return json_response({"results": listed})
    spec = processor.specs.get(name)
    if spec is None:
        raise NotFound(
            f"there is no job profile {name!r}", hint="GET /mcma/job-profiles lists them"
        )
    return json_response(profile_document(spec, processor.profile_iri(name)))


def routes() -> list[BaseRoute]:
    beneath = [
        Route(f"{jobs}/{{id}}/{path}", endpoint, methods=methods)
        for jobs in ("/mcma/jobs", "/jobs")
        for path, endpoint, methods in (
            ("cancel", cancel, ["POST"]),
            ("restart", restart, ["POST"]),
            ("executions", executions, ["GET", "HEAD"]),
            ("executions/{n}", executions, ["GET", "HEAD"]),
            ("executions/{n}/notifications", notifications, ["POST"]),
        )
    ]
    return [
        Route("/mcma/jobs", listing, methods=["GET", "HEAD", "POST"]),
        Route("/mcma/jobs/{id}", one, methods=["GET", "HEAD", "PUT", "DELETE"]),
        Route("/mcma/job-profiles", profiles, methods=["GET", "HEAD"]),
        Route("/mcma/job-profiles/{name}", profiles, methods=["GET", "HEAD"]),
        *beneath,
    ]
