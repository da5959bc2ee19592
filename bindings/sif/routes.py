"""SIF Infrastructure 3.2.1 functional services (the `jobs` object) over the job core.

    GET    /sif/jobs                               the services here, their phases and rights
    GET    /sif/jobs/{svc}s                        jobs (navigationPage, navigationPageSize);
                                                   HEAD: navigationCount; past the end: 204
    POST   /sif/jobs/{svc}s                        `jobs` → createResponse (bulk.py)
    PUT    /sif/jobs/{svc}s  methodOverride DELETE `deleteRequest` → deleteResponse (bulk.py)
    POST   /sif/jobs/{svc}s/{svc}                  a job document → 201, the created job
    GET    /sif/jobs/{svc}s/{id}                   job
    DELETE /sif/jobs/{svc}s/{id}                   → 204; its history stays
    PUT    /sif/jobs/{svc}s[/{id}]                 → 403: a job is changed through its phases
    GET|POST|PUT|DELETE /sif/jobs/{svc}s/{id}/{phase}
                                                   the phase's payload, as its rights allow
                                                   (QUERY, CREATE, UPDATE, DELETE) → 403 naming
                                                   the right otherwise
    GET    /sif/jobs/{svc}s/{id}/{phase}/states    states (statesRights QUERY)
    POST   /sif/jobs/{svc}s/{id}/{phase}/states/state
                                                   a new state (statesRights CREATE) → 201
    GET    /sif/jobs/{svc}s/{id}/{phase}/states/{state id}

Every route takes every method and answers the one meant (`methodOverride`,
`X-HTTP-Method-Override`: a POST read as GET, a PUT as DELETE; `protocol.py`), with the SIF
response headers; environments and sessions are `registration.py` and `environments.py`.
A SIF job is the job core's job: `Link: rel=canonical` names its IRI `/jobs/{id}`,
where it reads the same as Turtle, through UWS and through MCMA. Zone and context
matrix parameters (`;zoneId=…;contextId=…`) are accepted and ignored: this is one
zone. Documents are parsed with entities and network access off; a DOCTYPE is
refused before anything is stored. Every request that changes a job is a hop of it,
its bytes verbatim, with jobtrail's answer. A caller sees their own jobs and anonymous
ones, a curator and the admin every job; only its owner (anyone, for an anonymous job)
and the admin change one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from jobtrail.base.errors import Forbidden, InputError, NotFound
from jobtrail.bindings.sif import bulk, model, protocol, registration
from jobtrail.bindings.sif.documents import (
    job_element,
    parse,
    schema,
    state_element,
    text,
    to_bytes,
)
from jobtrail.bindings.sif.exchange import (
    ALL_METHODS,
    XML,
    caller,
    collection_of,
    endpoint,
    hop,
    job_of,
    record,
    refuse_method,
    respond,
    sif_of,
)
from jobtrail.bindings.sif.model import NS, Outcome, Record, Service
from jobtrail.jobs.core import Job
from jobtrail.web import html
from jobtrail.web.requests import read_body, viewer_of
from jobtrail.web.state import AppRequest
from lxml import etree
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.routing import BaseRoute, Route


def _page(request: AppRequest, name: str, default: int) -> int:
    raw = request.headers.get(name) or request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InputError(f"{name} is a whole number, not {raw!r}") from None
    if value < 1:
        raise InputError(f"{name} counts from 1, not {value}")
    return value


# --- endpoints -----------------------------------------------------------------------------


async def services(request: AppRequest) -> Response:
    """The SIF functional services here, each with its phases and their rights."""
    base = request.state["engine"].config.base_url
    rows = []
    for s in sif_of(request).services.values():
        phases = "".join(
            f"<li><b>{escape(p.name)}</b>{' (required)' if p.required else ''}: rights "
            f"{escape(', '.join(f'{k}={v}' for k, v in p.rights))}; states "
            f"{escape(', '.join(f'{k}={v}' for k, v in p.states_rights))}</li>"
            for p in s.phases
        )
        url = f"{base}sif/jobs/{s.collection}"
        rows.append(
            f"<h2>{html.link(url, s.collection)}</h2>"
            f"<p>{escape(s.description)}</p><p>Create a job: POST a <code>job</code> document "
            f"to <code>{escape(url)}/{escape(s.name)}</code>.</p><ul>{phases}</ul>"
        )
    body = (
        "<h1>SIF 3.2.1 functional services</h1><p>Jobs in the <code>jobs</code> object of "
        f"the namespace <code>{NS}</code>; each is also a job at <code>/jobs/{{id}}</code>."
        f"</p>{''.join(rows)}"
    )
    return Response(html.page("SIF functional services", body), media_type="text/html")


@endpoint
async def collection(request: AppRequest) -> Response:
    """The service's jobs: read (GET, HEAD), created (POST `jobs`) or deleted (a PUT with
    methodOverride DELETE and a `deleteRequest`) several at a time; never updated (403)."""
    service = collection_of(request)
    method = protocol.method_of(request)
    if method == "POST":
        return await bulk.create(request, service)
    if method == "DELETE":
        return await bulk.delete(request, service)
    if method == "PUT":
        raise Forbidden(
            f"{service.collection} jobs are not updated",
            hint="change a job through its phases: PUT …/{id}/{phase}, or POST "
            "…/{id}/{phase}/states/state",
        )
    return await _listing(request, service, head=method == "HEAD")


async def _listing(request: AppRequest, service: Service, *, head: bool) -> Response:
    """The service's jobs the caller may see, oldest first, a page at a time; a page past
    the end is 204. HEAD says how many there are (navigationCount)."""
    asked = any(
        n in request.headers or n in request.query_params
        for n in ("navigationPage", "navigationPageSize")
    )
    size = min(
        _page(request, "navigationPageSize", 10**9), request.state["engine"].config.uws_max_list
    )
    page = _page(request, "navigationPage", 1)
    viewer = viewer_of(request)  # a curator and the admin see every job
    sif = sif_of(request)

    jobs = request.state["engine"].jobs
    owner, everyone = viewer.owner, viewer.sees_all
    anonymous = request.state["engine"].visibility.anonymous_jobs
    profiles = [service.name]

    def listing() -> tuple[list[tuple[Job, Record]], int]:
        total = jobs.count(owner=owner, anonymous=anonymous, everyone=everyone, profiles=profiles)
        if head or (page - 1) * size >= total:
            return [], total
        found = jobs.list(
            owner=owner,
            anonymous=anonymous,
            everyone=everyone,
            profiles=profiles,
            oldest_first=True,
            limit=size,
            offset=(page - 1) * size,
        )
        return [(j, sif.read(j)) for j in found], total

    shown, total = await run_in_threadpool(listing)
    last = max(1, math.ceil(total / size))
    headers = {"navigationCount": str(total)} if head or asked else {}
    if asked:
        headers |= {
            "navigationPage": str(page),
            "navigationPageSize": str(size),
            "navigationLastPage": str(last),
        }
    if page > last:
        return respond(request, None, 204, headers=headers)
    root = etree.Element(f"{{{NS}}}jobs", nsmap={None: NS})
    for job, kept in shown:
        job_element(root, job, kept)
    return respond(request, to_bytes(root), 200, headers=headers)


@endpoint
async def item(request: AppRequest) -> Response:
    """POST to /{svc}s/{svc}: a new job. GET or DELETE /{svc}s/{id}: that job; PUT: 403."""
    service = collection_of(request)
    method = protocol.method_of(request)
    if method == "PUT":
        raise Forbidden(
            "a SIF job is not updated",
            hint="change it through its phases: PUT …/{id}/{phase}, or POST "
            "…/{id}/{phase}/states/state",
        )
    if method == "POST":
        if request.path_params["item"] != service.name:
            raise InputError(
                f"a job is created by POSTing to {service.collection}/{service.name}",
                hint=f"POST the job document to /sif/jobs/{service.collection}/{service.name}",
            )
        return await _create(request, service)
    deleting = method == "DELETE"
    job, kept = await job_of(request, service, request.path_params["item"], deleting)
    if deleting:
        by = viewer_of(request).label
        await run_in_threadpool(
            lambda: request.state["engine"].jobs.delete(job.id, by=by, request=record(request))
        )
        response = respond(request, None, 204, job)
        await hop(request, job.id, b"", response)
        return response
    return respond(request, to_bytes(job_element(None, job, kept)), 200, job)


async def _create(request: AppRequest, service: Service) -> Response:
    accounts = request.state["engine"].accounts
    who = caller(request)
    accounts.require(who)
    body = await read_body(request)
    root = parse(body, "job", "job document")
    sif = sif_of(request)
    given_id = root.get("id") if request.headers.get("mustUseAdvisory") == "true" else None
    outcome = await run_in_threadpool(
        lambda: sif.create(
            service,
            **bulk.job_fields(root),
            owner=who.name,
            request=record(request),
            job_id=given_id,
            payer=accounts.payer(who),
        )
    )
    job = outcome.job
    location = f"{request.state['engine'].config.base_url}sif/jobs/{service.collection}/{job.id}"
    response = respond(
        request, to_bytes(job_element(None, job, outcome.record)), 201, job, {"Location": location}
    )
    await hop(request, job.id, body, response)
    return response


@endpoint
async def phase(request: AppRequest) -> Response:
    """A phase's payload: QUERY (GET), CREATE (POST), UPDATE (PUT), DELETE, as its rights allow
    (a POST with methodOverride GET reads it; a PUT with methodOverride DELETE deletes it)."""
    service = collection_of(request)
    operation = model.OPERATIONS[protocol.method_of(request)]
    changes = operation != "QUERY"
    job, kept = await job_of(request, service, request.path_params["id"], changes)
    name = request.path_params["phase"]
    current = kept.phase(name)
    if operation == "QUERY":
        current.require("QUERY")
        if current.payload is None:
            return respond(request, None, 204, job)
        shown = current.media_type or XML
        return respond(request, current.payload.encode("utf-8"), 200, job, media_type=shown)
    current.require(operation)  # before the body is read or anything stored
    body: bytes = b""
    payload: str | None = None
    media: str | None = None
    if operation != "DELETE":  # a deleting PUT's body, if any, is not the payload
        body = await read_body(request)
        payload, media = _phase_payload(request, body)
    by = viewer_of(request).label
    outcome = await run_in_threadpool(
        lambda: sif_of(request).set_payload(
            job,
            name,
            operation=operation,
            payload=payload,
            media_type=media,
            by=by,
            request=record(request, phase=name),
        )
    )
    if operation == "DELETE":
        response = respond(request, None, 204, outcome.job)
    else:
        status = 201 if operation == "CREATE" else 200
        response = respond(request, body, status, outcome.job, media_type=media or XML)
    await hop(request, job.id, body, response)
    return response


def _phase_payload(request: AppRequest, body: bytes) -> tuple[str, str]:
    media = request.headers.get("content-type", XML).split(";")[0].strip() or XML
    try:
        decoded = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"the payload is not UTF-8 ({e})") from None
    if media.endswith(("/xml", "+xml")):
        parse(body, None, "phase payload")  # well-formed, no DOCTYPE
    return decoded, media


@endpoint
async def states(request: AppRequest) -> Response:
    """A phase's states (statesRights QUERY)."""
    if protocol.method_of(request) not in ("GET", "HEAD"):
        raise refuse_method(request, "GET (or a POST with methodOverride GET)", "a phase's states")
    service = collection_of(request)
    job, kept = await job_of(request, service, request.path_params["id"])
    current = kept.phase(request.path_params["phase"])
    current.require("QUERY", on_states=True)
    root = etree.Element(f"{{{NS}}}states", nsmap={None: NS})
    for s in current.states:
        state_element(root, s)
    return respond(request, to_bytes(root), 200, job)


@endpoint
async def state(request: AppRequest) -> Response:
    """POST …/states/state: a new state of the phase (statesRights CREATE); GET one state."""
    method = protocol.method_of(request)
    if method not in ("GET", "HEAD", "POST"):
        raise refuse_method(request, "GET, POST (…/states/state)", "a phase's state")
    service = collection_of(request)
    creating = method == "POST"
    job, kept = await job_of(request, service, request.path_params["id"], creating)
    name = request.path_params["phase"]
    current = kept.phase(name)
    if not creating:
        current.require("QUERY", on_states=True)
        for s in current.states:
            if s.id == request.path_params["state"]:
                return respond(request, to_bytes(state_element(None, s)), 200, job)
        raise NotFound(f"phase {name!r} has no state {request.path_params['state']}")
    if request.path_params["state"] != "state":
        raise InputError("a state is created by POSTing to …/states/state")
    current.require("CREATE", on_states=True)
    body = await read_body(request)
    root = parse(body, "state", "state document")
    by = viewer_of(request).label
    outcome: Outcome = await run_in_threadpool(
        lambda: sif_of(request).add_state(
            job,
            name,
            type=text(root, "type") or "",
            description=text(root, "description"),
            by=by,
            request=record(request, phase=name),
        )
    )
    assert outcome.state is not None
    location = f"{request.url}".rsplit("/", 1)[0] + f"/{outcome.state.id}"
    response = respond(
        request,
        to_bytes(state_element(None, outcome.state)),
        201,
        outcome.job,
        {"Location": location},
    )
    await hop(request, job.id, body, response)
    return response


def routes() -> list[BaseRoute]:
    prefix = "/sif/jobs/{collection}"
    return [
        Route("/sif/jobs", services, methods=["GET", "HEAD"]),
        Route(prefix, collection, methods=ALL_METHODS),
        Route(f"{prefix}/{{item}}", item, methods=ALL_METHODS),
        Route(f"{prefix}/{{id}}/{{phase}}", phase, methods=ALL_METHODS),
        Route(f"{prefix}/{{id}}/{{phase}}/states", states, methods=ALL_METHODS),
        Route(f"{prefix}/{{id}}/{{phase}}/states/{{state}}", state, methods=ALL_METHODS),
        *registration.routes(),
    ]


__all__: Sequence[str] = ["parse", "routes", "schema"]
