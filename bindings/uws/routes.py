"""IVOA UWS 1.1 (REST binding) over the job core: `/uws/{list}/…`.

    GET  /uws                          the job lists here, each bound to a profile
    GET  /uws/{list}                   uws:jobs, filtered by PHASE (repeatable), AFTER, LAST
    POST /uws/{list}                   a new job from the parameters → 303 to it
                                       (PENDING; PHASE=RUN starts it at once)
    GET  /uws/{list}/{id}              uws:job; WAIT=n[&PHASE=p] blocks until the phase changes
    POST /uws/{list}/{id}              ACTION=DELETE, or any of PHASE, RUNID, EXECUTIONDURATION,
                                       DESTRUCTION and job parameters → 303 to the job
    DELETE /uws/{list}/{id}            → 303 to the list
    GET|POST /uws/{list}/{id}/{what}   phase, runid, owner, quote, executionduration,
                                       destruction, creationTime, startTime, endTime,
                                       error, results, parameters
    GET  /uws/{list}/{id}/results/{r}  → 303 to the result file at the job's canonical IRI
    GET|POST /uws/{list}/{id}/parameters/{name}

A UWS job is the job core's job: its IRI stays `/jobs/{id}`, named by every
document here (`jobInfo`, `Link: rel=canonical`), and it reads the same at
`/jobs/{id}` and in SPARQL. A list holds the jobs of its profile (a curator and the
admin see everyone's; a curator changes only their own). The job's input is its `URL`
parameter. Names of parameters are case-insensitive (UWS 1.1 §2.2.3, as in DALI);
values are kept as sent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from jobtrail.base.errors import Conflict, Forbidden, InputError, NotFound
from jobtrail.base.xmltext import carried, check_field
from jobtrail.jobs import results as result_files
from jobtrail.jobs.core import FINAL, PHASES, Change, Job
from jobtrail.jobs.profiles import Profile
from jobtrail.jobs.waits import Waits
from jobtrail.web import html
from jobtrail.web.binding import Runtime
from jobtrail.web.requests import caller_of, read_body, viewer_of, visible_job
from jobtrail.web.state import AppRequest, Engine, JobKind
from lxml import etree
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

UWS_NS = "http://www.ivoa.net/xml/UWS/v1.0"
XLINK_NS = "http://www.w3.org/1999/xlink"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
JT_NS = "https://w3id.org/jobtrail/vocab#"
NSMAP = {"uws": UWS_NS, "xlink": XLINK_NS, "xsi": XSI_NS}
XML = "application/xml"

BLOCKING = frozenset({"PENDING", "QUEUED", "EXECUTING"})
"""The phases in which a WAIT blocks (UWS 1.1 §2.2.1.1)."""

ACTIONS = {"RUN": "QUEUED", "ABORT": "ABORTED", "SUSPEND": "SUSPENDED", "ARCHIVE": "ARCHIVED"}
CONTROL = frozenset({"phase", "action", "runid", "executionduration", "destruction", "pass"})
INPUT = "url"


@dataclass(frozen=True)
class JobList:
    name: str
    profile: str


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


class Params:
    """A request's parameters (query string and form body), names case-insensitive."""

    def __init__(self, pairs: Sequence[tuple[str, str]]):
        self.pairs = list(pairs)

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.pairs if k.lower() == name]

    def one(self, name: str) -> str | None:
        values = self.all(name)
        if len(values) > 1 and len(set(values)) > 1:
            raise InputError(f"{name.upper()} is given {len(values)} times with different values")
        return values[0] if values else None

    def job_parameters(self) -> list[tuple[str, str]]:
        return [(k, v) for k, v in self.pairs if k.lower() not in CONTROL]


async def params_of(request: AppRequest) -> Params:
    pairs = list(request.query_params.multi_items())
    if request.method == "POST":
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "multipart/form-data":
            form = await request.form()
            pairs += [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
        else:
            body = await read_body(request)
            if body and kind not in ("", "application/x-www-form-urlencoded"):
                raise InputError(
                    f"UWS parameters come as a form, not {kind}",
                    hint="POST application/x-www-form-urlencoded, e.g. PHASE=RUN",
                )
            try:
                pairs += parse_qsl(body.decode("utf-8"), keep_blank_values=True)
            except UnicodeDecodeError as e:
                raise InputError(f"the form is not UTF-8 ({e})") from e
    for name, value in pairs:  # every one may end up in a UWS document: XML 1.0
        check_field(name.upper() if name.lower() in CONTROL else name, value)
        check_field("parameter name", name)
    return Params(pairs)


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
    job = visible_job(request, request.path_params["id"], change=change)
    if job.profile != job_list.profile:
        raise NotFound(
            f"job {job.id} is not in the list {job_list.name}",
            hint=f"it is a {job.profile} job: {job.iri}",
        )
    return job_list, job


def _base(request: AppRequest) -> str:
    base: str = request.state["engine"].config.base_url
    return base


def list_url(request: AppRequest, job_list: JobList) -> str:
    return f"{_base(request)}uws/{job_list.name}"


def job_url(request: AppRequest, job_list: JobList, job: Job) -> str:
    return f"{list_url(request, job_list)}/{job.id}"


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


# --- values ----------------------------------------------------------------------------


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _when(text: str, name: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            f"{name} is an ISO 8601 time, not {text!r}", hint="e.g. 2030-01-01T00:00:00Z"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _seconds(text: str, name: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise InputError(f"{name} is a whole number of seconds, not {text!r}") from None
    if value < 0:
        raise InputError(f"{name} is ≥ 0 (0: unlimited), not {value}")
    if value > XS_INT_MAX:  # UWS writes it as an xs:int
        raise InputError(
            f"{name} is at most {XS_INT_MAX:,} seconds (an xs:int), not {value:,}",
            details={"limit": XS_INT_MAX},
        )
    return value


XS_INT_MAX = 2**31 - 1


def _text(value: object) -> str:
    return value if isinstance(value, str) else str(value)


def parameters_of(job: Job) -> list[tuple[str, str]]:
    shown = [(INPUT.upper(), job.input)] if job.input else []
    return shown + [(k, _text(v)) for k, v in sorted(job.parameters.items())]


def _named(profile: Profile | None, pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Job parameters under the profile's own spelling of each name (case-insensitive)."""
    spelled = {s.name.lower(): s.name for s in (profile.parameters if profile else ())}
    return {spelled.get(k.lower(), k): v for k, v in pairs}


# --- documents -------------------------------------------------------------------------


def _el(parent: etree._Element, name: str, text: str | None = None, **attrs: str) -> Any:
    # a job another binding made may hold what XML cannot carry: U+FFFD in its place
    e = etree.SubElement(parent, f"{{{UWS_NS}}}{name}", {k: carried(v) for k, v in attrs.items()})
    if text is not None:
        e.text = carried(text)
    return e


def _nil(parent: etree._Element, name: str, value: str | None) -> None:
    e = _el(parent, name, value)
    if value is None:
        e.set(f"{{{XSI_NS}}}nil", "true")


def _xml(root: etree._Element) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def job_document(request: AppRequest, job_list: JobList, job: Job) -> bytes:
    root = etree.Element(f"{{{UWS_NS}}}job", nsmap=NSMAP, version="1.1")
    _el(root, "jobId", job.id)
    if job.run_id is not None:
        _el(root, "runId", job.run_id)
    _nil(root, "ownerId", job.owner)
    _el(root, "phase", job.phase)
    _nil(root, "quote", iso(job.quote) if job.quote else None)
    _el(root, "creationTime", iso(job.created))
    _nil(root, "startTime", iso(job.started) if job.started else None)
    _nil(root, "endTime", iso(job.ended) if job.ended else None)
    _el(root, "executionDuration", str(job.execution_duration))
    _nil(root, "destruction", iso(job.destruction) if job.destruction else None)
    root.append(_parameters(job))
    root.append(_results(request, job_list, job))
    if job.phase == "ERROR" and job.error is not None:
        summary = _el(root, "errorSummary", type=_error_type(job), hasDetail="true")
        _el(summary, "message", job.error.message)
    info = etree.SubElement(root, f"{{{UWS_NS}}}jobInfo", nsmap={"jt": JT_NS})
    for name, value in (("canonical", job.iri), ("profile", job.profile), ("list", job_list.name)):
        etree.SubElement(info, f"{{{JT_NS}}}{name}").text = carried(value)
    return _xml(root)


def _parameters(job: Job) -> etree._Element:
    root = etree.Element(f"{{{UWS_NS}}}parameters", nsmap=NSMAP)
    for name, value in parameters_of(job):
        _el(root, "parameter", value, id=name)
    return root


def _results(request: AppRequest, job_list: JobList, job: Job) -> etree._Element:
    root = etree.Element(f"{{{UWS_NS}}}results", nsmap=NSMAP)
    for f in _files(request):
        attrs = {f"{{{XLINK_NS}}}type": "simple", f"{{{XLINK_NS}}}href": f.iri}
        if f.size is not None:
            attrs["size"] = str(f.size)
        if f.media_type:
            attrs["mime-type"] = f.media_type
        _el(root, "result", id=f.name, **attrs)
    return root


def _error_type(job: Job) -> str:
    """`transient` when trying again may succeed (the input was unavailable, time ran out)."""
    assert job.error is not None
    return "transient" if job.error.type in ("InputUnavailable", "TimeLimitExceeded") else "fatal"


def jobs_document(request: AppRequest, job_list: JobList, found: Sequence[Job]) -> bytes:
    root = etree.Element(f"{{{UWS_NS}}}jobs", nsmap=NSMAP, version="1.1")
    for job in found:
        ref = _el(
            root,
            "jobref",
            id=job.id,
            **{
                f"{{{XLINK_NS}}}type": "simple",
                f"{{{XLINK_NS}}}href": job_url(request, job_list, job),
            },
        )
        _el(ref, "phase", job.phase)
        if job.run_id is not None:
            _el(ref, "runId", job.run_id)
        _nil(ref, "ownerId", job.owner)
        _el(ref, "creationTime", iso(job.created))
    return _xml(root)


def _respond(body: bytes, job: Job | None = None, media_type: str = XML) -> Response:
    headers = {"Link": f'<{job.iri}>; rel="canonical"'} if job is not None else {}
    return Response(body, media_type=media_type, headers=headers)


_FILES = "jobtrail.uws.files"  # the request's scope key for the files read


async def _with_files(request: AppRequest, job: Job) -> None:
    """Read the job's result files into the request, for the documents that list them."""
    if job.results is None:
        request.scope[_FILES] = []
        return
    store = request.state["engine"].jobs.store
    # An embedded read takes ~0.1 ms; through the threadpool a woken waiter would queue
    # behind the writers finishing jobs, which is most of its wake-up latency.
    if store.in_process:
        triples = store.read(job.results)
    else:
        triples = await run_in_threadpool(store.read, job.results)
    request.scope[_FILES] = result_files.listed(triples, job.results)


def _files(request: AppRequest) -> list[result_files.Listed]:
    """The result files `_with_files` read for this request (none if it did not)."""
    files: list[result_files.Listed] = request.scope.get(_FILES, [])
    return files


# --- the lists ----------------------------------------------------------------------------


async def lists(request: AppRequest) -> Response:
    """The UWS job lists of this server, each bound to a job profile."""
    found = lists_of(request).lists
    kinds = lists_of(request).kinds
    base = _base(request)
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
    params = await params_of(request)
    if request.method == "POST":
        return await _create(request, the_list, params)
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
    limit = request.state["engine"].config.uws_max_list
    if last is not None:
        limit = _seconds(last, "LAST")
        if limit == 0:
            raise InputError("LAST is a number of jobs greater than 0")
    viewer = viewer_of(request)  # a curator and the admin see every job
    found = await run_in_threadpool(
        lambda: request.state["engine"].jobs.list(
            owner=viewer.owner,
            anonymous=request.state["engine"].visibility.anonymous_jobs,
            everyone=viewer.sees_all,
            phases=phases,
            profiles=[the_list.profile],
            after=_when(after, "AFTER") if after is not None else None,
            limit=limit,
        )
    )
    return _respond(jobs_document(request, the_list, found))


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
    duration = params.one("executionduration")
    destruction = params.one("destruction")
    run_id = params.one("runid")
    start = (params.one("phase") or "").upper()
    if start not in ("", "RUN"):
        raise InputError(f"a job is created PENDING, or started with PHASE=RUN, not {start}")
    jobs = request.state["engine"].jobs
    now = jobs.clock()
    job = await run_in_threadpool(
        lambda: jobs.create(
            profile=the_list.profile,
            input=url.strip() if url else None,
            owner=caller.name,
            run_id=run_id,
            parameters=given,
            execution_duration=_seconds(duration, "EXECUTIONDURATION")
            if duration is not None
            else config.execution_duration,
            destruction=_when(destruction, "DESTRUCTION")
            if destruction is not None
            else now + timedelta(seconds=config.results_ttl),
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
    await _with_files(request, found)
    return _respond(job_document(request, the_list, found), found)


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
        if change.job is None:  # deleted meanwhile: answer as a GET now would
            return await run_in_threadpool(request.state["engine"].jobs.get, found.id)
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
            hint=f"create and change them at {_base(request)}{kind.home}; "
            "UWS reads them and can delete them",
        )


async def _change(request: AppRequest, found: Job, params: Params) -> Job:
    """Apply the writable values a POST to the job names, then its PHASE."""
    _run_here(request, found.profile)
    jobs = request.state["engine"].jobs
    by = viewer_of(request).label  # who acts: a caller, or the admin
    record = _record(request, params)
    fields: dict[str, Any] = {}
    if (run_id := params.one("runid")) is not None:
        fields["run_id"] = run_id
    if (duration := params.one("executionduration")) is not None:
        fields["execution_duration"] = _seconds(duration, "EXECUTIONDURATION")
    if (destruction := params.one("destruction")) is not None:
        fields["destruction"] = _when(destruction, "DESTRUCTION")
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
    if (phase := params.one("phase")) is not None:
        found = await _phase(request, found, phase.upper(), by, record)
    return found


async def _phase(request: AppRequest, found: Job, action: str, by: str, record: Any) -> Job:
    if action not in ACTIONS:
        raise InputError(
            f"PHASE={action} is not something a client can ask",
            hint="PHASE=RUN, ABORT, SUSPEND or ARCHIVE",
        )
    target = ACTIONS[action]
    if action == "RUN" and found.phase in ("QUEUED", "EXECUTING"):
        return found  # running already: asking again changes nothing
    if action == "ARCHIVE" and found.phase not in FINAL - {"ARCHIVED"}:
        raise Forbidden(
            f"job {found.id} is {found.phase}: only a finished job can be archived",
            hint="ABORT it first, or wait until it ends",
            details={"phase": found.phase},
        )
    jobs = request.state["engine"].jobs
    with _allowed():
        changed = await run_in_threadpool(
            lambda: jobs.set_phase(found.id, target, by=by, request=record)
        )
    if target == "ARCHIVED":
        await run_in_threadpool(
            result_files.remove, request.state["workers"].config.files, found.id
        )
    return changed


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
    "executionduration": lambda j: str(j.execution_duration),
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
        return _respond(PLAIN[what](found).encode(), found, "text/plain; charset=utf-8")
    if what == "error":
        if found.phase != "ERROR" or found.error is None:
            raise NotFound(f"job {found.id} is {found.phase}: it has no error")
        detail = found.error.message + (f"\n{found.error.hint}" if found.error.hint else "")
        return _respond(f"{detail}\n".encode(), found, "text/plain; charset=utf-8")
    if what == "results":
        await _with_files(request, found)
        return _respond(_xml(_results(request, the_list, found)), found)
    if what == "parameters":
        return _respond(_xml(_parameters(found)), found)
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
    await _with_files(request, found)
    name = request.path_params["name"]
    for f in _files(request):
        if f.name == name:
            return _see(f.iri, found)
    raise NotFound(f"job {found.id} has no result {name!r}", hint=f"see {found.iri}/results")


async def parameter(request: AppRequest) -> Response:
    """One parameter's value (text/plain); POST changes it while the job is PENDING."""
    name = request.path_params["name"]
    params = await params_of(request)
    the_list, found = await run_in_threadpool(_job, request, request.method == "POST")
    if request.method == "POST":
        value = params.one(name.lower()) or params.one("value")
        if value is None:
            raise InputError(f"POST {name}=… (or VALUE=…) to change it")
        changed = await _change(request, found, Params([(name, value)]))
        return _see(job_url(request, the_list, changed), changed)
    for key, value in parameters_of(found):
        if key.lower() == name.lower():
            return _respond(value.encode(), found, "text/plain; charset=utf-8")
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
