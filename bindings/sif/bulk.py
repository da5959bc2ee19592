"""Several SIF jobs at once: `jobs` POSTed to the plural (→ `createResponse`), and a
`deleteRequest` PUT to it with `methodOverride: DELETE` (→ `deleteResponse`).

Each job is created or deleted on its own, as one request would do it (its own transaction,
price, hops and history), and the answer is 200 with one `create` or `delete` per job:
`statusCode` 201 or 204, else the code and a SIF `error` saying why. Nothing is atomic across
the jobs of one request: those that could be are done, those that could not are reported.
"""

from __future__ import annotations

import functools
from typing import Any

from jobtrail.base.errors import InputError, JobtrailError, NotFound
from jobtrail.bindings.sif.documents import (
    child,
    el,
    error_element,
    inner_xml,
    parse,
    text,
    to_bytes,
    valid,
)
from jobtrail.bindings.sif.exchange import caller, hop, record, respond, sif_of
from jobtrail.bindings.sif.model import NS, Service
from jobtrail.web.requests import read_body, viewer_of, visible_job
from jobtrail.web.state import AppRequest
from lxml import etree
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response


def job_fields(root: etree._Element) -> dict[str, Any]:
    """What a `job` document asks for, as `Sif.create` takes it."""
    init = child(root, "initialization")
    payload = child(init, "payload") if init is not None else None
    return {
        "name": text(root, "name") or "",
        "description": text(root, "description"),
        "timeout": text(root, "timeout"),
        "init_phase": text(init, "phaseName") if init is not None else None,
        "init_payload": inner_xml(payload) if payload is not None else None,
    }


async def create(request: AppRequest, service: Service) -> Response:
    """`jobs` → 200 `createResponse`: each job's new id (and its `advisoryId`), or its error."""
    accounts = request.state["engine"].accounts
    who = caller(request)
    accounts.require(who)
    body = await read_body(request)
    root = parse(body, None, "jobs document")
    if root.tag != f"{{{NS}}}jobs":
        raise InputError(
            f"POST to {service.collection} creates several jobs from a <jobs> document, "
            f"not <{etree.QName(root).localname}>",
            hint=f"POST one <job> to /sif/jobs/{service.collection}/{service.name}",
            details={"element": etree.QName(root).localname},
        )
    advisory = request.headers.get("mustUseAdvisory") == "true"
    sif = sif_of(request)
    answer = etree.Element(f"{{{NS}}}createResponse", nsmap={None: NS})
    creates = el(answer, "creates")
    made = []
    for n, element in enumerate(root, start=1):
        if not isinstance(element.tag, str):
            continue  # comments, processing instructions
        given = element.get("id")
        row = el(creates, "create", **({"advisoryId": given} if given else {}))
        try:
            if element.tag != f"{{{NS}}}job":
                raise InputError(
                    f"item {n} of jobs is <{etree.QName(element).localname}>, not <job>",
                    details={"element": etree.QName(element).localname},
                )
            valid(element, f"jobs document, job {n}")
            fields = job_fields(element)
            outcome = await run_in_threadpool(
                functools.partial(
                    sif.create,
                    service,
                    **fields,
                    owner=who.name,
                    request=record(request, item=n),
                    job_id=given if advisory else None,
                    payer=accounts.payer(who),
                )
            )
        except JobtrailError as e:
            row.set("statusCode", str(e.status))
            error_element(row, e, f"create {service.name} {n}")
            continue
        row.set("id", outcome.job.id)
        row.set("statusCode", "201")
        made.append(outcome.job.id)
    if not made and not len(creates):
        raise InputError("the jobs document has no job in it", details={"element": "jobs"})
    response = respond(request, to_bytes(answer), 200)
    for job_id in made:
        await hop(request, job_id, body, response)
    return response


async def delete(request: AppRequest, service: Service) -> Response:
    """`deleteRequest` → 200 `deleteResponse`: 204 for each job deleted, else its error."""
    body = await read_body(request)
    root = parse(body, "deleteRequest", "deleteRequest document")
    ids = [d.get("id") or "" for d in root.iterfind(f"{{{NS}}}deletes/{{{NS}}}delete")]
    by = viewer_of(request).label
    jobs = request.state["engine"].jobs
    answer = etree.Element(f"{{{NS}}}deleteResponse", nsmap={None: NS})
    deletes = el(answer, "deletes")
    done = []
    for job_id in ids:
        row = el(deletes, "delete", id=job_id)
        try:

            def remove(job_id: str = job_id) -> None:
                job = visible_job(request, job_id, change=True)
                if job.profile != service.name:
                    raise NotFound(f"job {job_id} is not a {service.name} job")
                sif_of(request).read(job)
                jobs.delete(job.id, by=by, request=record(request))

            await run_in_threadpool(remove)
        except JobtrailError as e:
            row.set("statusCode", str(e.status))
            error_element(row, e, f"delete {service.name} {job_id}")
            continue
        row.set("statusCode", "204")
        done.append(job_id)
    response = respond(request, to_bytes(answer), 200)
    for job_id in done:
        await hop(request, job_id, body, response)
    return response


__all__ = ["create", "delete", "job_fields"]
