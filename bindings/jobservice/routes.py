"""The linked-data job service at /jobs: jobs posted as document URLs, results as OAI-ORE.

    POST /jobs                 the resource URL as body → 201, Location and body: the job URI
    GET  /jobs                 the caller's visible jobs (Atom; RDF and HTML by negotiation):
                               their own and anonymous ones; a curator's and the admin's: all
    GET  /jobs/{id}            202 while it runs, 303 to /jobs/{id}.{ext} once COMPLETED,
                               424 when its input was unavailable, 422 when it failed otherwise;
                               asked for in HTML: 200 with the job page in every phase
                               (page.py), 410 with its history once deleted
    POST /jobs/{id}            a form's action=abort or action=delete (the job page's buttons)
                               → 303 to the job page
    GET  /jobs/{id}.{ext}      the OAI-ORE resource map of its results (404 until complete)
    GET  /jobs/{id}/results    the aggregation: 303 to its resource map
    GET  /jobs/{id} with Accept-Datetime, /jobs/{id}/versions/{n}, /jobs/{id}/timemap:
                               the job as of any time (Memento: memento.py)
    GET  /jobs/{id}/results/f  a result file
    DELETE /jobs/{id}          off the queue, results removed, history kept (its owner or the
                               admin; a curator reads every job and changes none but theirs)
    GET  /profiles             what jobs can do here, and what cannot run and why
    POST /credit               add credit to a pass (admin token)

Every request may carry `?pass=`; HTTP Basic users are the other identity.
All the work is done by the job core (jobtrail.jobs.core): this module only
reads requests and writes responses.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from html import escape
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pyoxigraph as ox
from jobtrail.base import errors
from jobtrail.base.errors import (
    Conflict,
    Gone,
    InputError,
    MethodNotAllowed,
    NotAcceptable,
    NotFound,
)
from jobtrail.base.terms import DCTERMS, JT, RDFS
from jobtrail.bindings.jobservice import memento, ore, page
from jobtrail.ingest.jsonparse import parse_json
from jobtrail.jobs import results as result_files
from jobtrail.jobs.core import Job, Jobs
from jobtrail.jobs.profiles import Profile
from jobtrail.web import atom, conneg, html, render
from jobtrail.web.requests import (
    authorise,
    caller_of,
    int_param,
    read_body,
    viewer_of,
    visible_job,
)
from jobtrail.web.resources import respond
from jobtrail.web.state import AppRequest
from starlette.concurrency import run_in_threadpool
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import BaseRoute, Route

FORMATS = ore.DOCUMENT_FORMATS
JSON = conneg.Format("json", "application/json", ".json", (), "JSON")


# --- POST /jobs ---------------------------------------------------------------------


async def create(request: AppRequest) -> Response:
    """Accept a job: the URL of a document as the body (text, uri-list, form or JSON) → 201."""
    accounts = request.state["engine"].accounts
    caller = caller_of(request)
    accounts.require(caller)
    config = request.state["engine"].config
    fields, body = await _fields(request, config.max_body)
    url = str(fields.pop("url", "") or "").strip()
    if not url:
        raise InputError(
            "the request names no document",
            hint="POST the document's URL as the body (text/plain), or url= in a form or JSON",
        )
    named = fields.pop("profile", None) or request.query_params.get("profile")
    profile = _profile(request, str(named or config.default_profile))
    duration = _whole(
        fields.pop("executionDuration", config.execution_duration), "executionDuration"
    )
    run_id = fields.pop("runId", None)
    parameters = fields.pop("parameters", None) or {}
    if not isinstance(parameters, dict):
        raise InputError("parameters must be a JSON object of names and values")
    parameters = {**{k: v for k, v in fields.items() if k != "pass"}, **parameters}
    jobs = request.state["engine"].jobs
    now = jobs.clock()
    record = {  # the request as received: its body verbatim
        "method": "POST",
        "path": request.url.path,
        "query": {k: v for k, v in request.query_params.items() if k != "pass"},  # a secret
        "contentType": request.headers.get("content-type"),
        "body": body,
        "caller": caller.label,
    }

    def make() -> Job:
        # the price (a HEAD on the input) and the debit are part of the creation, off the loop
        return jobs.create(
            profile=profile.name,
            input=url,
            owner=caller.name,
            run_id=str(run_id) if run_id is not None else None,
            parameters=parameters,
            execution_duration=duration,
            destruction=now + timedelta(seconds=config.results_ttl),
            phase="QUEUED",
            request=record,
            payer=accounts.payer(caller),
        )

    job = await run_in_threadpool(make)
    return PlainTextResponse(
        job.iri,
        status_code=201,
        headers={"Location": job.iri, "Link": f'<{job.iri}>; rel="canonical"'},
        media_type="text/uri-list" if "uri-list" in request.headers.get("accept", "") else None,
    )


async def _fields(request: AppRequest, limit: int) -> tuple[dict[str, Any], str]:
    """The request's fields (url, profile, parameters …) and its body as text."""
    kind = request.headers.get("content-type", "text/plain").split(";")[0].strip().lower()
    body = await read_body(request, limit)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"the request body is not UTF-8 ({e})") from e
    if kind in ("application/json", "application/ld+json"):
        data, _ = parse_json(text, "the JSON body")  # the depth and number limits too
        if isinstance(data, str):
            return {"url": data}, text
        if not isinstance(data, dict):
            raise InputError('the JSON body is an object: {"url": "http://h/x.doc", …}')
        return dict(data), text
    if kind == "application/x-www-form-urlencoded":
        return dict(parse_qsl(text, keep_blank_values=True)), text
    if kind == "multipart/form-data":
        raise errors.UnsupportedFormat(
            "send the document's URL, not the document",
            hint="POST the URL as text/plain, text/uri-list, a urlencoded form or JSON",
        )
    lines = [line.strip() for line in text.splitlines()]
    urls = [line for line in lines if line and not line.startswith("#")]  # text/uri-list comments
    if len(urls) > 1:
        raise InputError(f"one document per job, and the body names {len(urls)}")
    return {"url": urls[0] if urls else ""}, text


def _profile(request: AppRequest, name: str) -> Profile:
    profiles: Mapping[str, Profile] = request.state["engine"].profiles
    profile = profiles.get(name)
    if profile is None:
        raise InputError(
            f"there is no profile {name!r} here", hint="profiles: " + ", ".join(sorted(profiles))
        )
    reason = profile.unavailable()
    if reason:
        raise InputError(f"the {name} profile cannot run on this server: {reason}")
    return profile


def _whole(value: Any, name: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} is a whole number of seconds, not {value!r}") from None
    if number < 0:
        raise InputError(f"{name} is ≥ 0 (0: unlimited), not {number}")
    return number


# --- GET /jobs/{id}[.ext] -------------------------------------------------------------


async def job(request: AppRequest) -> Response:
    """A job: 202 while it runs, 303 to its resource map once complete, 4xx if it failed.

    A job complete without results (a SIF job, whose work is done elsewhere) is described
    here with 200.
    """
    path, chosen = conneg.split_extension(request.url.path)
    job_id = path.rsplit("/", 1)[-1]
    if request.method not in ("GET", "HEAD", "DELETE"):
        answer = None if chosen is not None else await _from_bindings(request, job_id)
        if answer is None and request.method == "POST" and chosen is None:
            return await act(request, job_id)
        if answer is None:
            raise MethodNotAllowed(
                f"{request.method} is not allowed on a job",
                hint="GET, HEAD or DELETE it; POST action=abort or action=delete as a form"
                + "".join(f"; {m} it as {n}" for m, n in _methods(request)),
            )
        return answer
    if request.method == "DELETE":
        if chosen is not None:
            raise InputError("DELETE the job itself, not one of its documents", hint=path)
        return await delete(request, job_id)
    if chosen is None and "accept-datetime" in request.headers:
        return await memento.timegate(request, job_id)  # the job as of then (Memento)
    if chosen is None:
        answer = await _from_bindings(request, job_id)
        if answer is not None:
            return answer
        if _wants_page(request):
            return await _page(request, job_id, path)
    found = await run_in_threadpool(visible_job, request, job_id)
    if chosen is not None:
        return await _resource_map(request, found, chosen, path)
    # failed, or aborted by the service saying why (past its execution duration): the error,
    # rendered as the client accepts errors (problem+json, HTML, text)
    if found.phase in ("ERROR", "ABORTED") and found.error is not None:
        raise _failure(found)
    fmt = conneg.negotiate(request.headers.get("accept"), FORMATS, conneg.ATOM)
    if found.phase == "COMPLETED" and found.results is not None:
        target = f"{found.iri}{fmt.extension}"
        return PlainTextResponse(
            f"job {found.id} is complete: {target}\n",
            303,
            {
                "Location": target,
                "Vary": "Accept, Accept-Datetime",
                "Link": f'<{found.iri}>; rel="canonical", {memento.advertised(found.iri)}',
            },
        )
    state = await run_in_threadpool(_description, request.state["engine"].jobs, found)
    body = ore.job_document(
        found, state, fmt, path=path, base=request.state["engine"].config.base_url
    )
    response = respond(request, body, fmt, path=path, formats=FORMATS)
    if found.active:
        response.status_code = 202 if response.status_code == 200 else response.status_code
        response.headers["Retry-After"] = str(request.state["engine"].config.retry_after)
        # its resource maps are 404 until it completes: no link to them, no Content-Location
        response.headers["Link"] = f'<{found.iri}>; rel="canonical"'
        if "content-location" in response.headers:
            del response.headers["content-location"]
    else:
        response.headers["Link"] += f', <{found.iri}>; rel="canonical"'
    # the job is its own Memento TimeGate (memento.py): where its versions are
    response.headers["Link"] += f", {memento.advertised(found.iri)}"
    if "vary" in response.headers:
        response.headers["Vary"] = "Accept, Accept-Datetime"
    return response


def _wants_page(request: AppRequest) -> bool:
    """Does the client ask for HTML (a browser)? Then it gets the job page."""
    try:
        fmt = conneg.negotiate(request.headers.get("accept"), FORMATS, conneg.ATOM)
    except NotAcceptable:
        return False  # answered as before: the job's error, or 406
    return fmt is conneg.HTML


async def _page(request: AppRequest, job_id: str, path: str) -> Response:
    """The job page (page.py): 200 in every phase; 410 with its history once deleted."""
    engine = request.state["engine"]
    jobs = engine.jobs
    try:
        found = await run_in_threadpool(visible_job, request, job_id)
    except Gone:  # visible_job let the caller know it was: its history is theirs to read
        iri = jobs.iri(job_id)
        records = await run_in_threadpool(page.history, jobs.store, iri)
        gone = page.deleted_page(job_id, iri, records)
        return HTMLResponse(gone, 410, {"Link": f'<{iri}>; rel="canonical"'})

    def gather() -> tuple[list[page.Record], page.Results | None]:
        records = page.history(jobs.store, found.iri)
        if found.results is None:
            return records, None
        return records, page.results(jobs.store.read(found.results), found.results)

    records, results = await run_in_threadpool(gather)
    viewer = viewer_of(request)
    retry_after = engine.config.retry_after
    credential = request.query_params.get("pass")
    view = page.View(
        job=found,
        history=records,
        results=results,
        views=[v for _name, views in request.state["job_views"] for v in views(request, found)]
        + [("every version (Memento)", f"{memento.timemap_iri(found.iri)}.html")],
        may_change=engine.visibility.may_change(viewer, found.owner),
        refresh=max(retry_after, 1) if found.active else None,
        profile_iri=jobs.profile_iri(found.profile),
        now=jobs.clock(),
        credential=urlencode({"pass": credential}) if credential else "",
    )
    body = page.page(view).encode()
    response = respond(request, body, conneg.HTML, path=path, formats=FORMATS)
    if "content-location" in response.headers:  # {path}.html is the resource map, not this
        del response.headers["content-location"]
    canonical = f'<{found.iri}>; rel="canonical"'
    if found.results is None:  # its resource maps are 404 until it completes
        response.headers["Link"] = canonical
    else:
        response.headers["Link"] += f", {canonical}"
    if found.active:
        response.headers["Retry-After"] = str(retry_after)
    return response


async def _from_bindings(request: AppRequest, job_id: str) -> Response | None:
    """What a binding answers for this request on the job's IRI (e.g. an MCMA service's PUT)."""
    for _name, handler in request.state["job_methods"].get(request.method, ()):
        answer = await handler(request, job_id)
        if answer is not None:
            return answer
    return None


def _methods(request: AppRequest) -> list[tuple[str, str]]:
    return [
        (method, name)
        for method, handlers in request.state["job_methods"].items()
        for name, _ in handlers
        if method not in ("GET", "HEAD", "DELETE")
    ]


def _description(jobs: Jobs, job: Job) -> list[ox.Triple]:
    """The job's state with what its bindings keep beside it (a SIF job's phases)."""
    triples = list(jobs.store.read(job.iri))
    for part in sorted(jobs.parts):
        triples += jobs.store.read(f"{job.iri}/{part}")
    return triples


def _failure(job: Job) -> errors.JobFailed:
    assert job.error is not None
    kind = getattr(errors, job.error.type, errors.JobFailed)
    if not (isinstance(kind, type) and issubclass(kind, errors.JobFailed)):
        kind = errors.JobFailed
    return kind(
        f"job {job.id} failed: {job.error.message}",
        hint=job.error.hint,
        details={"job": job.iri, "phase": job.phase, "errorType": job.error.type},
    )


async def _resource_map(request: AppRequest, job: Job, fmt: conneg.Format, path: str) -> Response:
    if fmt not in FORMATS:
        raise NotFound(
            f"a job's documents are {', '.join(str(f.extension) for f in FORMATS)}",
            hint=f"{job.iri}.rdf, for example",
        )
    if job.results is None:
        raise NotFound(
            f"job {job.id} is {job.phase}: it has no results yet",
            hint=f"GET {job.iri} answers 303 to this document once the job is complete",
        )
    store = request.state["engine"].jobs.store
    aggregation = await run_in_threadpool(store.read, job.results)
    body = ore.resource_map(job, aggregation, fmt, base=request.state["engine"].config.base_url)
    response = respond(request, body, fmt, path=path, formats=FORMATS, negotiated=False)
    response.headers["Link"] += f', <{job.results}>; rel="{ore.ORE_DESCRIBES}"'
    return response


async def aggregation(request: AppRequest) -> Response:
    """The ORE aggregation of a job's results: 303 to its resource map in the format asked for."""
    found = await run_in_threadpool(visible_job, request, request.path_params["id"])
    if found.results is None:
        raise NotFound(f"job {found.id} is {found.phase}: it has no results yet")
    fmt = conneg.negotiate(request.headers.get("accept"), FORMATS, conneg.ATOM)
    target = f"{found.iri}{fmt.extension}"
    return PlainTextResponse(f"{target}\n", 303, {"Location": target, "Vary": "Accept"})


async def result_file(request: AppRequest) -> Response:
    """One file a job made, with the media type its aggregation gives it."""
    found = await run_in_threadpool(visible_job, request, request.path_params["id"])
    name = request.path_params["name"]
    path = result_files.file_path(request.state["workers"].config.files, found.id, name)
    if found.results is None or path is None:
        raise NotFound(f"job {found.id} has no result {name!r}", hint=f"see {found.iri}.html")
    iri = ox.NamedNode(f"{found.results}/{name}")
    media = "application/octet-stream"
    for t in request.state["engine"].jobs.store.read(found.results):
        if t.subject == iri and t.predicate.value == f"{DCTERMS}format":
            media = str(getattr(t.object, "value", media))
    return FileResponse(path, media_type=media, headers={"Link": f'<{found.results}>; rel="up"'})


# --- POST /jobs/{id}: the job page's forms ------------------------------------------------


async def act(request: AppRequest, job_id: str) -> Response:
    """A form's `action=abort` (while the job runs) or `action=delete`: the job page's buttons.
    Its owner's (or anyone's, for an anonymous job while those are allowed) and the admin's;
    a browser's form only from this server's own pages (`CrossSiteWrites`). → 303 to the job
    page (a deleted job's page is its history)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise errors.UnsupportedFormat(
            f"POST to a job is a form (application/x-www-form-urlencoded), not {kind or 'nothing'}",
            hint="action=abort or action=delete; or DELETE the job",
        )
    fields, _ = await _fields(request, 10_000)
    action = str(fields.get("action", "")).strip().lower()
    if action not in page.ACTIONS:
        raise InputError(
            f"action={action!r} is not something a job does here" if action else "no action given",
            hint="action=abort (while it runs) or action=delete",
        )
    found = await run_in_threadpool(lambda: visible_job(request, job_id, change=True))
    by = viewer_of(request).label
    record = {"method": "POST", "path": f"/jobs/{job_id}", "action": action}
    if action == "delete":
        await delete(request, job_id)
    else:
        if not found.active:
            raise Conflict(
                f"job {job_id} is {found.phase}: it has ended, there is nothing to abort",
                details={"phase": found.phase},
            )
        jobs = request.state["engine"].jobs
        await run_in_threadpool(
            lambda: jobs.set_phase(job_id, "ABORTED", by=by, expect=(found.phase,), request=record)
        )
    target = found.iri
    if "pass" in request.query_params:
        target += f"?{urlencode({'pass': request.query_params['pass']})}"
    return RedirectResponse(target, status_code=303)


# --- DELETE /jobs/{id} ------------------------------------------------------------------


async def delete(request: AppRequest, job_id: str) -> Response:
    """A change: its owner's (or anyone's, for an anonymous job while those are allowed)
    and the administrator's; a curator reads the job but is refused (403)."""
    found = await run_in_threadpool(lambda: visible_job(request, job_id, change=True))
    by = viewer_of(request).label  # who acts: the admin too
    record: dict[str, str] = {"method": request.method, "path": f"/jobs/{job_id}"}
    if request.method == "POST":
        record["action"] = "delete"
    await run_in_threadpool(request.state["engine"].jobs.delete, job_id, by=by, request=record)
    await run_in_threadpool(result_files.remove, request.state["workers"].config.files, job_id)
    return PlainTextResponse(
        f"job {job_id} is deleted with its results; its history is kept "
        f"(messages jt:about <{found.iri}>)\n"
    )


# --- GET /jobs ---------------------------------------------------------------------------


async def listing(request: AppRequest) -> Response:
    """The jobs the caller can see, newest first: Atom by default, RDF and HTML by negotiation."""
    path, chosen = conneg.split_extension(request.url.path)
    if request.method == "POST":
        return await create(request)
    fmt = chosen or conneg.negotiate(request.headers.get("accept"), FORMATS, conneg.ATOM)
    viewer = viewer_of(request)  # a curator and the admin see every job
    label = viewer.label
    config = request.state["engine"].config
    size = int_param(request, "size", config.page_size, 1, 1000)
    number = int_param(request, "page", 1, 1, 10**9)
    found = await run_in_threadpool(
        lambda: request.state["engine"].jobs.list(
            owner=viewer.owner,
            anonymous=request.state["engine"].visibility.anonymous_jobs,
            everyone=viewer.sees_all,
            limit=size + 1,
            offset=(number - 1) * size,
        )
    )
    more, found = len(found) > size, found[:size]
    here = f"{config.base_url}jobs"
    ext = chosen.extension if chosen and chosen.extension else ""
    query = f"&pass={request.query_params['pass']}" if "pass" in request.query_params else ""
    paging = [("first", 1)] + ([("prev", number - 1)] if number > 1 else [])
    paging += [("next", number + 1)] if more else []
    links = [atom.Link(f"{here}{ext}?page={n}&size={size}{query}", rel) for rel, n in paging]
    if fmt is conneg.ATOM:
        feed = atom.Feed(
            id=here,
            title=f"Jobs visible to {label}",
            updated=max((j.modified for j in found), default=request.state["engine"].jobs.clock()),
            entries=[ore.job_entry(j, []) for j in found],
            links=[atom.Link(here, "self"), *links],
            authors=[atom.Person("jobtrail")],
        )
        body = atom.write(feed)
    elif fmt is conneg.HTML:
        body = _list_page(found, label, links).encode()
    else:
        store = request.state["engine"].jobs.store
        triples = [
            ox.Triple(ox.NamedNode(here), ox.NamedNode(f"{RDFS}member"), ox.NamedNode(j.iri))
            for j in found
        ]
        for j in found:
            triples += store.read(j.iri)
        body = render.rdf(triples, fmt, base=config.base_url)
    response = respond(request, body, fmt, path=path, formats=FORMATS, negotiated=chosen is None)
    response.headers["Link"] += "".join(f', <{link.href}>; rel="{link.rel}"' for link in links)
    return response


def _list_page(found: list[Job], label: str, links: list[atom.Link]) -> str:
    rows = "".join(
        f"<tr><td>{html.link(j.iri, j.id)}</td>"
        f"<td>{escape(j.profile)}</td><td>{escape(j.phase)}</td>"
        f"<td>{escape(j.created.isoformat(timespec='seconds'))}</td>"
        f"<td>{escape(j.input or '')}</td></tr>"
        for j in found
    )
    nav = " ".join(html.link(link.href, link.rel) for link in links)
    body = (
        f"<h1>Jobs visible to {escape(label)}</h1>"
        "<p>POST a document's URL to <code>/jobs</code> to start one.</p>"
        "<table><tr><th>job</th><th>profile</th><th>phase</th><th>created</th><th>input</th></tr>"
        f"{rows}</table><nav>{nav}</nav>"
    )
    return html.page("Jobs", body)


# --- /profiles and /credit ------------------------------------------------------------------


def profile_triples(profiles: Mapping[str, Profile], base: str) -> list[ox.Triple]:
    out = []
    for p in profiles.values():
        s = ox.NamedNode(f"{base}profiles/{p.name}")
        out += [
            ox.Triple(s, ox.NamedNode(f"{RDFS}label"), ox.Literal(p.name)),
            ox.Triple(
                s,
                ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"),
                ox.NamedNode(str(JT.JobProfile)),
            ),
            ox.Triple(s, ox.NamedNode(f"{DCTERMS}title"), ox.Literal(p.title)),
            ox.Triple(s, ox.NamedNode(f"{DCTERMS}description"), ox.Literal(p.description)),
        ]
        for note in filter(None, [p.unavailable(), *p.limits()]):
            out.append(ox.Triple(s, ox.NamedNode(f"{RDFS}comment"), ox.Literal(note)))
    return out


def profile_json(p: Profile) -> dict[str, Any]:
    return {
        "name": p.name,
        "title": p.title,
        "description": p.description,
        "available": p.unavailable() is None,
        "unavailable": p.unavailable(),
        "limits": p.limits(),
        "parameters": [
            {"name": s.name, "required": s.required, "description": s.description}
            for s in p.parameters
        ],
    }


async def profiles(request: AppRequest) -> Response:
    """The job profiles of this server; those that cannot run here say why."""
    path, chosen = conneg.split_extension(request.url.path)
    all_profiles: Mapping[str, Profile] = request.state["engine"].profiles
    name = request.path_params.get("name")
    if name is not None:
        name = path.rsplit("/", 1)[-1]
        if name not in all_profiles:
            raise NotFound(f"no profile {name!r}", hint="see /profiles")
        shown = {name: all_profiles[name]}
    else:
        shown = dict(all_profiles)
    formats = (JSON, conneg.HTML, *conneg.RDF_FORMATS)
    fmt = chosen or conneg.negotiate(request.headers.get("accept"), formats, JSON)
    base = request.state["engine"].config.base_url
    if fmt is JSON:
        data: Any = [profile_json(p) for p in shown.values()]
        body = json.dumps(data[0] if name else data, indent=2).encode()
    elif fmt is conneg.HTML:
        body = _profiles_page(shown).encode()
    else:
        body = render.rdf(profile_triples(shown, base), fmt, base=base)
    return respond(request, body, fmt, path=path, formats=formats, negotiated=chosen is None)


def _profiles_page(shown: Mapping[str, Profile]) -> str:
    rows = ""
    for p in shown.values():
        reason = p.unavailable()
        state = f"<b>unavailable</b>: {escape(reason)}" if reason else "available"
        state += "".join(f"<br><i>but</i> {escape(limit)}" for limit in p.limits())
        params = ", ".join(
            f"<code>{escape(s.name)}</code>{'*' if s.required else ''}" for s in p.parameters
        )
        rows += (
            f"<tr><td>{html.link(f'/profiles/{p.name}.html', p.name)}</td>"
            f"<td>{escape(p.description)}</td><td>{params}</td><td>{state}</td></tr>"
        )
    body = (
        "<h1>Job profiles</h1><p>Name one with <code>profile=</code> when you POST a job "
        "(* marks a required parameter).</p><table><tr><th>profile</th><th>what it does</th>"
        f"<th>parameters</th><th>here</th></tr>{rows}</table>"
    )
    return html.page("Job profiles", body)


async def credit(request: AppRequest) -> Response:
    """Add credit to a pass (admin token): a form or JSON with pass= and amount=."""
    authorise(request)
    fields, _ = await _fields(request, 10_000)
    token, amount = str(fields.get("pass", "")), fields.get("amount")
    try:
        value = float(str(amount))
    except ValueError:
        raise InputError(f"amount is a number, not {amount!r}") from None
    left = await run_in_threadpool(request.state["engine"].accounts.credit, token, value)
    return Response(json.dumps({"credit": left}), media_type="application/json")


def routes() -> list[BaseRoute]:
    return [
        Route("/jobs", listing, methods=["GET", "HEAD", "POST"]),
        Route("/jobs/{id}/results", aggregation, methods=["GET", "HEAD"]),
        Route("/jobs/{id}/results/{name}", result_file, methods=["GET", "HEAD"]),
        Route("/jobs/{id}", job, methods=["GET", "HEAD", "DELETE", "PUT", "POST"]),
        Route("/jobs/{id}/versions/{n}", memento.memento, methods=["GET", "HEAD"]),
        Route("/jobs/{id}/timemap", memento.timemap, methods=["GET", "HEAD"]),
        Route("/jobs/{id}/timemap.{ext}", memento.timemap, methods=["GET", "HEAD"]),
        Route("/profiles", profiles, methods=["GET", "HEAD"]),
        Route("/profiles/{name}", profiles, methods=["GET", "HEAD"]),
        Route("/credit", credit, methods=["POST"]),
    ]
