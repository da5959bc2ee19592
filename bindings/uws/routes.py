"""IVOA UWS 1.1 (REST binding) over the job core: `/uws/{list}/…`.

    GET  /uws                          the job lists here, each bound to a profile
    GET  /uws/{list}                   uws:jobs, filtered by PHASE (repeatable), AFTER, LAST;
                                       past `uws_max_list` jobs without LAST: 303 to LAST=
    POST /uws/{list}                   a new job from the parameters → 303 to it
                                       (PENDING; PHASE=RUN starts it at once); refused: 403
    GET  /uws/{list}/{id}              uws:job; WAIT=n[&PHASE=p] blocks until the phase changes
    POST /uws/{list}/{id}              ACTION=DELETE, or any of PHASE (RUN, ABORT), RUNID,
                                       EXECUTIONDURATION, DESTRUCTION and job parameters → 303
    DELETE /uws/{list}/{id}            → 303 to the list; the job is then 404 here
    GET|POST /uws/{list}/{id}/{what}   phase, runid, owner, quote, executionduration,
                                       destruction, creationTime, startTime, endTime,
                                       error, results, parameters
    GET  /uws/{list}/{id}/results/{r}  → 303 to the result file at the job's canonical IRI
    GET|POST /uws/{list}/{id}/parameters/{name}

A UWS job is the job core's job: its IRI stays `/jobs/{id}`, named by every
document here (`jobInfo`, `Link: rel=canonical`), and it reads the same at
`/jobs/{id}` and in SPARQL. A list holds the jobs of its profile (a curator and the
admin see everyone's; a curator changes only their own). The job's input is its `URL`
parameter. Parameters are read by `params.py`; the documents are written by
`documents.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from jobtrail.base.errors import Conflict, Forbidden, Gone, InputError, NotFound
from jobtrail.bindings.uws import pages
from jobtrail.bindings.uws.documents import (
    JobList,
    base_url,
    ended_with_error,
    files_of,
    job_document,
    job_url,
    jobs_document,
    list_url,
    parameters_element,
    parameters_of,
    respond,
    results_element,
    with_files,
    xml_bytes,
)
from jobtrail.bindings.uws.params import (
    CONTROL,
    INPUT,
    XS_INT_MAX,
    Params,
    after_shown,
    count,
    duration,
    iso,
    params_of,
    when,
)
from jobtrail.jobs import results as result_files
from jobtrail.jobs.core import PHASES, Change, Job
from jobtrail.jobs.profiles import Profile
from jobtrail.jobs.waits import Waits
from jobtrail.web import html
from jobtrail.web.binding import Runtime
from jobtrail.web.requests import caller_of, viewer_of, visible_job
from jobtrail.web.state import AppRequest, Engine, JobKind
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

BLOCKING = frozenset({"PENDING", "QUEUED", "EXECUTING"})
"""The phases in which a WAIT blocks (UWS 1.1 §2.2.1.1)."""

ACTIONS = {"RUN": "QUEUED", "ABORT": "ABORTED"}
"""What a client may ask of a job's phase (UWS 1.1 §2.2.3.5-6). SUSPENDED and ARCHIVED
are the service's to reach (§2.1.3): PHASE=SUSPEND and PHASE=ARCHIVE are refused."""


class Lists(Runtime):
    """The UWS job lists of this server, and the kinds of job other bindings create."""

    def __init__(self, lists: Mapping[str, JobList], kinds: Sequence[JobKind]):
        self.lists = dict(lists)
        self.kinds = {k.name: k for k in kinds}


def start(engine: Engine) -> Lists:
    names = [*engine.profiles, *(k.name for k in engine.kinds)]
    return Lists(job_lists(engine.config.uws_lists, names), engine.kinds)


def lists_of(request: AppRequest) -> Lists:
    found = request.state["runtimes"]["uws"]
    assert isinstance(found, Lists)
    return found


def job_lists(setting: str | None, profiles: Collection[str]) -> dict[str, JobList]:
    """The lists of the `uws_lists` setting (`name=Profile,…`); default: one per profile.

    `profiles` names the engine's profiles and the kinds of job other bindings create
    (SIF's services): their jobs read through UWS too, though they are moved elsewhere.
    """
    if not setting:
        return {p: JobList(p, p) for p in profiles}
    out = {}
    for item in setting.split(","):
        name, sep, profile = item.strip().partition("=")
        name, profile = name.strip(), profile.strip()
        if not sep or not name or "/" in name or not profile:
            raise InputError(
                f"uws_lists: {item.strip()!r} is not name=Profile", hint="e.g. fixity=Fixity"
            )
        if profile not in profiles:
            raise InputError(
                f"uws_lists: there is no profile {profile!r}",
                hint="profiles: " + ", ".join(sorted(profiles)),
            )
        out[name] = JobList(name, profile)
    return out


# --- requests --------------------------------------------------------------------------


def _list(request: AppRequest) -> JobList:
    lists = lists_of(request).lists
    name = request.path_params["list"]
    found = lists.get(name)
    if found is None:
        raise NotFound(f"there is no UWS job list {name!r}", hint="lists: " + ", ".join(lists))
    return found


def _job(request: AppRequest, change: bool = False) -> tuple[JobList, Job]:
    """The job of the path, if it is in the list and the caller may see it (`change`: may
    change it; a curator reads every job but changes only their own)."""
    job_list = _list(request)
    try:
        job = visible_job(request, request.path_params["id"], change=change)
    except Gone as e:
        raise _forgotten(request.path_params["id"], e) from None
    if job.profile != job_list.profile:
        raise NotFound(
            f"job {job.id} is not in the list {job_list.name}",
            hint=f"it is a {job.profile} job: {job.iri}",
        )
    return job_list, job


def _forgotten(job_id: str, gone: Gone) -> NotFound:
    """A deleted job is forgotten by the UWS service (UWS 1.1 §2.2.3.3): 404 here; its
    history stays at its canonical IRI (410 there)."""
    return NotFound(f"there is no job {job_id} here: it was deleted", hint=gone.hint)


@contextlib.contextmanager
def _creation() -> Iterator[None]:
    """A job the service will not create is a 403 (UWS 1.1 §2.2.3.1): a parameter or value
    it refuses. What is wrong with the request as HTTP (its type, size, time) keeps its
    status; the message and hint are the same either way."""
    try:
        yield
    except InputError as e:
        if e.status != 400:
            raise
        raise Forbidden(e.message, hint=e.hint, details=e.details) from e


def _record(request: AppRequest, params: Params) -> dict[str, Any]:
    """The request as the job's change message keeps it (without a pass token: a secret)."""
    return {
        "binding": "UWS 1.1",
        "method": request.method,
        "path": request.url.path,
        "parameters": [[k, v] for k, v in params.pairs if k.lower() != "pass"],
    }


@contextlib.contextmanager
def _allowed() -> Iterator[None]:
    """What the job core refuses in the job's current phase is a 403 in UWS (§2.2)."""
    try:
        yield
    except Conflict as e:
        raise Forbidden(e.message, hint=e.hint, details=e.details) from e


def _see(url: str, job: Job | None = None) -> Response:
    headers = {"Link": f'<{job.iri}>; rel="canonical"'} if job is not None else {}
    return RedirectResponse(url, status_code=303, headers=headers)


def _named(profile: Profile | None, pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Job parameters under the profile's own spelling of each name (case-insensitive)."""
    spelled = {s.name.lower(): s.name for s in (profile.parameters if profile else ())}
    return {spelled.get(k.lower(), k): v for k, v in pairs}


# --- the lists ----------------------------------------------------------------------------


async def lists(request: AppRequest) -> Response:
    """The UWS job lists of this server, each bound to a job profile."""
    found = lists_of(request).lists
    kinds = lists_of(request).kinds
    base = base_url(request)
    local = request.state["engine"].profiles
    rows = "".join(
        f"<tr><td>{html.link(f'{base}uws/{j.name}', j.name)}</td><td>"
        + html.link(
            base
            + (
                f"profiles/{j.profile}.html"
                if j.profile in local or j.profile not in kinds
                else kinds[j.profile].home
            ),
            j.profile,
        )
        + "</td></tr>"
        for j in found.values()
    )
    page = html.page(
        "UWS job lists",
        "<h1>UWS 1.1 job lists</h1><p>Each list runs jobs of one profile; POST "
        "<code>URL=</code> (the input) and the profile's parameters to a list to create a "
        "job, <code>PHASE=RUN</code> to start it.</p><table><tr><th>list</th><th>profile</th>"
        f"</tr>{rows}</table>",
    )
    return Response(page, media_type="text/html")


async def job_list(request: AppRequest) -> Response:
    """The list's jobs the caller may see (GET, filtered), or a new job (POST → 303)."""
    the_list = _list(request)
    if request.method == "POST":
        with _creation():
            return await _create(request, the_list, await params_of(request))
    params = await params_of(request, repeatable=frozenset({"phase"}))
    phases = [p.upper() for p in params.all("phase")]
    unknown = [p for p in phases if p not in PHASES]
    if unknown:
        raise InputError(
            f"PHASE={unknown[0]} is not a UWS phase", hint="one of " + ", ".join(PHASES)
        )
    if not phases:  # ARCHIVED jobs are listed only when asked for (UWS 1.1 §2.2.2.1)
        phases = [p for p in PHASES if p != "ARCHIVED"]
    after = params.one("after")
    last = params.one("last")
    most: int = request.state["engine"].config.uws_max_list
    asked = count(last, "LAST (a number of jobs)") if last is not None else None
    if asked == 0:
        raise InputError("LAST is a number of jobs greater than 0", hint=f"e.g. LAST={most}")
    if asked is not None and asked > most:
        return _see(_with_last(request, the_list, params, most))
    viewer = viewer_of(request)  # a curator and the admin see every job
    found = await run_in_threadpool(
        lambda: request.state["engine"].jobs.list(
            owner=viewer.owner,
            anonymous=request.state["engine"].visibility.anonymous_jobs,
            everyone=viewer.sees_all,
            phases=phases,
            profiles=[the_list.profile],
            # compared at the precision the documents show creation times (milliseconds)
            after=after_shown(when(after, "AFTER")) if after is not None else None,
            limit=asked if asked is not None else most + 1,
        )
    )
    if len(found) > most:  # all the jobs, as the spec says, are too many: its LAST= instead
        return _see(_with_last(request, the_list, params, most))
    if pages.wants_html(request):
        chosen = [p.upper() for p in params.all("phase")]
        return pages.answer(pages.jobs_page(request, the_list, found, chosen))
    return respond(jobs_document(request, the_list, found), vary=True)


def _with_last(request: AppRequest, the_list: JobList, params: Params, most: int) -> str:
    """The list's URL with the same filters and LAST=`most` (UWS 1.1 §2.2.2.1: a service
    whose list is too long redirects to one with LAST)."""
    kept = [(k, v) for k, v in params.pairs if k.lower() != "last"]
    return f"{list_url(request, the_list)}?{urlencode([*kept, ('LAST', str(most))])}"


async def _create(request: AppRequest, the_list: JobList, params: Params) -> Response:
    accounts = request.state["engine"].accounts
    caller = caller_of(request)
    accounts.require(caller)
    _run_here(request, the_list.profile)
    config = request.state["engine"].config
    profiles: Mapping[str, Profile] = request.state["engine"].profiles
    profile = profiles[the_list.profile]
    given = _named(profile, params.job_parameters())
    url = next((given.pop(k) for k in list(given) if k.lower() == INPUT), None)
    seconds = params.one("executionduration")
    destruction = params.one("destruction")
    run_id = params.one("runid")
    start = (params.one("phase") or "").upper()
    if start not in ("", "RUN"):
        raise InputError(f"a job is created PENDING, or started with PHASE=RUN, not {start}")
    if params.one("action") is not None:
        raise InputError("ACTION is for a job (ACTION=DELETE), not for creating one")
    jobs = request.state["engine"].jobs
    now = jobs.clock()
    execution_duration = (
        duration(seconds, config.max_execution_duration)
        if seconds is not None
        else config.execution_duration
    )
    destroy = when(destruction, "DESTRUCTION") if destruction is not None else None
    job = await run_in_threadpool(
        lambda: jobs.create(
            profile=the_list.profile,
            input=url.strip() if url else None,
            owner=caller.name,
            run_id=run_id,
            parameters=given,
            execution_duration=execution_duration,
            destruction=destroy or now + timedelta(seconds=config.results_ttl),
            phase="QUEUED" if start == "RUN" else "PENDING",
            request=_record(request, params),
            payer=accounts.payer(caller),
        )
    )
    return _see(job_url(request, the_list, job), job)


# --- a job ---------------------------------------------------------------------------------


async def job(request: AppRequest) -> Response:
    """The job (GET, blocking with WAIT), a change to it (POST → 303), or its deletion."""
    params = await params_of(request)
    wait = params.one("wait") if request.method in ("GET", "HEAD") else None
    waits: Waits = request.state["engine"].waits
    # registered before the job is read, so that no change can fall between the two
    future = waits.register(request.path_params["id"]) if wait is not None else None
    try:
        changes = request.method in ("POST", "DELETE")
        the_list, found = await run_in_threadpool(_job, request, changes)
    except BaseException:
        if future is not None:
            waits.discard(request.path_params["id"], future)
        raise
    if request.method == "DELETE":
        return await _delete(request, the_list, found, params)
    if request.method == "POST":
        action = (params.one("action") or "").upper()
        if action == "DELETE":
            return await _delete(request, the_list, found, params)
        if action:
            raise InputError(f"ACTION={action} is not a UWS action", hint="ACTION=DELETE")
        found = await _change(request, found, params)
        return _see(job_url(request, the_list, found), found)
    if wait is not None and future is not None:
        found = await _wait(request, found, wait, params.one("phase"), future)
    await with_files(request, found)
    if pages.wants_html(request):
        return pages.answer(pages.job_page(request, the_list, found), found)
    return respond(job_document(request, the_list, found), found, vary=True)


async def _wait(
    request: AppRequest, found: Job, wait: str, phase: str | None, future: asyncio.Future[Change]
) -> Job:
    """Block until the job leaves its phase, or the time runs out (UWS 1.1 §2.2.1.2).

    `future` was registered before `found` was read; a change that is not one
    of phase (a new destruction time) registers again and waits on.
    """
    waits: Waits = request.state["engine"].waits
    try:
        asked = int(wait)
    except ValueError:
        waits.discard(found.id, future)
        raise InputError(
            f"WAIT is a number of seconds (-1: as long as allowed), not {wait!r}"
        ) from None
    limit = float(request.state["engine"].config.uws_max_wait)
    seconds = limit if asked < 0 else min(float(asked), limit)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        if found.phase not in BLOCKING or (phase is not None and phase.upper() != found.phase):
            waits.discard(found.id, future)
            return found
        change = await waits.wait(found.id, future, deadline - loop.time())
        if change is None:
            return found
        if change.job is None:  # deleted meanwhile: answer as a GET now would (404)
            try:
                return await run_in_threadpool(request.state["engine"].jobs.get, found.id)
            except Gone as e:
                raise _forgotten(found.id, e) from None
        if change.job.phase != found.phase:
            return change.job
        future = waits.register(found.id)
        found = await run_in_threadpool(request.state["engine"].jobs.get, found.id)


def _run_here(request: AppRequest, profile: str) -> None:
    """Forbidden for jobs another binding makes and moves (SIF's): UWS reads them."""
    kind = lists_of(request).kinds.get(profile)
    if profile not in request.state["engine"].profiles and kind is not None:
        raise Forbidden(
            f"{profile} jobs are made and moved elsewhere: their phase is not UWS's to set",
            hint=f"create and change them at {base_url(request)}{kind.home}; "
            "UWS reads them and can delete them",
        )


async def _change(request: AppRequest, found: Job, params: Params) -> Job:
    """Apply the writable values a POST to the job names, then its PHASE."""
    _run_here(request, found.profile)
    jobs = request.state["engine"].jobs
    by = viewer_of(request).label  # who acts: a caller, or the admin
    record = _record(request, params)
    action = _action(params.one("phase"))  # checked before anything changes
    fields: dict[str, Any] = {}
    if (run_id := params.one("runid")) is not None:
        fields["run_id"] = run_id
    if (seconds := params.one("executionduration")) is not None:
        most = request.state["engine"].config.max_execution_duration
        fields["execution_duration"] = duration(seconds, most)
    if (destruction := params.one("destruction")) is not None:
        fields["destruction"] = when(destruction, "DESTRUCTION")
    given = params.job_parameters()
    if given:
        profiles: Mapping[str, Profile] = request.state["engine"].profiles
        named = _named(profiles.get(found.profile), given)
        url = next((named.pop(k) for k in list(named) if k.lower() == INPUT), None)
        if url is not None:
            fields["input"] = url.strip()
        if named:
            fields["parameters"] = {**found.parameters, **named}
    if fields:
        with _allowed():
            found = await run_in_threadpool(
                lambda: jobs.update(found.id, by=by, request=record, **fields)
            )
    if action is not None:
        found = await _phase(request, found, action, by, record)
    return found


def _action(phase: str | None) -> str | None:
    """The PHASE a client sent, if it is one a client may send: RUN or ABORT (UWS 1.1
    §2.2.3.5-6). The service suspends, resumes and archives jobs itself (§2.1.3)."""
    if phase is None:
        return None
    action = phase.strip().upper()
    if action in ("SUSPEND", "ARCHIVE"):
        raise InputError(
            f"PHASE={action} is not a client's to send: the service suspends, resumes and "
            "archives jobs itself (UWS 1.1 §2.1.3)",
            hint="PHASE=RUN or PHASE=ABORT",
        )
    if action not in ACTIONS:
        raise InputError(f"PHASE={action} is not something a client can ask", hint="RUN or ABORT")
    return action


async def _phase(request: AppRequest, found: Job, action: str, by: str, record: Any) -> Job:
    if action == "RUN" and found.phase in ("QUEUED", "EXECUTING"):
        return found  # running already: asking again changes nothing
    if action == "RUN" and found.phase == "SUSPENDED":
        raise Forbidden(
            f"job {found.id} is SUSPENDED: the service resumes it itself (UWS 1.1 §2.1.3)",
            hint="wait for it (WAIT=…), or PHASE=ABORT to end it",
            details={"phase": found.phase},
        )
    jobs = request.state["engine"].jobs
    with _allowed():
        return await run_in_threadpool(
            lambda: jobs.set_phase(found.id, ACTIONS[action], by=by, request=record)
        )


async def _delete(request: AppRequest, the_list: JobList, found: Job, params: Params) -> Response:
    by = viewer_of(request).label  # who acts: a caller, or the admin
    await run_in_threadpool(
        lambda: request.state["engine"].jobs.delete(
            found.id, by=by, request=_record(request, params)
        )
    )
    await run_in_threadpool(result_files.remove, request.state["workers"].config.files, found.id)
    return _see(list_url(request, the_list))


# --- a job's parts --------------------------------------------------------------------------

PLAIN: dict[str, Callable[[Job], str]] = {
    "phase": lambda j: j.phase,
    "runid": lambda j: j.run_id or "",
    "owner": lambda j: j.owner or "",
    "quote": lambda j: iso(j.quote) if j.quote else "",
    "executionduration": lambda j: str(min(j.execution_duration, XS_INT_MAX)),
    "destruction": lambda j: iso(j.destruction) if j.destruction else "",
    "creationTime": lambda j: iso(j.created),
    "startTime": lambda j: iso(j.started) if j.started else "",
    "endTime": lambda j: iso(j.ended) if j.ended else "",
}
WRITABLE = {"phase": "phase", "runid": "runid", "executionduration": "executionduration"}
WRITABLE["destruction"] = "destruction"


async def part(request: AppRequest) -> Response:
    """One of the job's values (text/plain), its error, results or parameters."""
    what = request.path_params["what"]
    params = await params_of(request)
    the_list, found = await run_in_threadpool(_job, request, request.method == "POST")
    if request.method == "POST":
        if what == "parameters":
            if not params.job_parameters():
                raise InputError("no parameters given", hint="POST name=value pairs")
        elif what not in WRITABLE:
            raise Forbidden(
                f"the {what} of a job cannot be changed",
                hint="writable: phase, runid, executionduration, destruction, parameters",
            )
        elif params.one(WRITABLE[what]) is None:
            raise InputError(f"POST {what.upper()}=… to change the {what}")
        changed = await _change(request, found, _only(params, what))
        return _see(job_url(request, the_list, changed), changed)
    if what in PLAIN:
        return respond(PLAIN[what](found).encode(), found, "text/plain; charset=utf-8")
    if what == "error":
        if not ended_with_error(found) or found.error is None:
            raise NotFound(f"job {found.id} is {found.phase}: it has no error")
        detail = found.error.message + (f"\n{found.error.hint}" if found.error.hint else "")
        return respond(f"{detail}\n".encode(), found, "text/plain; charset=utf-8")
    if what == "results":
        await with_files(request, found)
        return respond(xml_bytes(results_element(request, the_list, found)), found)
    if what == "parameters":
        return respond(xml_bytes(parameters_element(found)), found)
    raise NotFound(
        f"a UWS job has no {what!r}",
        hint="phase, runid, owner, quote, executionduration, destruction, creationTime, "
        "startTime, endTime, error, results, parameters",
    )


def _only(params: Params, what: str) -> Params:
    """The parameters a POST to a part may change: that part's value, or job parameters."""
    if what == "parameters":
        return Params(params.job_parameters())
    return Params([(k, v) for k, v in params.pairs if k.lower() == WRITABLE[what]])


async def result(request: AppRequest) -> Response:
    """A result by its id: 303 to the file at the job's canonical IRI."""
    _, found = await run_in_threadpool(_job, request)
    await with_files(request, found)
    name = request.path_params["name"]
    for f in files_of(request):
        if f.name == name:
            return _see(f.iri, found)
    raise NotFound(f"job {found.id} has no result {name!r}", hint=f"see {found.iri}/results")


async def parameter(request: AppRequest) -> Response:
    """One parameter's value (text/plain); POST changes it while the job is PENDING."""
    name = request.path_params["name"]
    params = await params_of(request)
    the_list, found = await run_in_threadpool(_job, request, request.method == "POST")
    if request.method == "POST":
        if name.lower() in CONTROL:  # PHASE, RUNID …: the job's own values, not parameters
            raise Forbidden(
                f"{name.upper()} is not a job parameter: it cannot be set here",
                hint=f"POST {name.upper()}=… to {job_url(request, the_list, found)}"
                + (f"/{name.lower()}" if name.lower() in WRITABLE else ""),
            )
        value = params.one(name.lower()) or params.one("value")
        if value is None:
            raise InputError(f"POST {name}=… (or VALUE=…) to change it")
        changed = await _change(request, found, Params([(name, value)]))
        return _see(job_url(request, the_list, changed), changed)
    for key, value in parameters_of(found):
        if key.lower() == name.lower():
            return respond(value.encode(), found, "text/plain; charset=utf-8")
    raise NotFound(f"job {found.id} has no parameter {name!r}", hint=f"see {found.iri}")


def routes() -> list[BaseRoute]:
    return [
        Route("/uws", lists, methods=["GET", "HEAD"]),
        Route("/uws/{list}", job_list, methods=["GET", "HEAD", "POST"]),
        Route("/uws/{list}/{id}", job, methods=["GET", "HEAD", "POST", "DELETE"]),
        Route("/uws/{list}/{id}/results/{name}", result, methods=["GET", "HEAD"]),
        Route("/uws/{list}/{id}/parameters/{name}", parameter, methods=["GET", "HEAD", "POST"]),
        Route("/uws/{list}/{id}/{what}", part, methods=["GET", "HEAD", "POST"]),
    ]
