"""OGC API - Processes - Part 1: Core 1.0 over the job core: `/ogcapi/…`.

    GET    /ogcapi                                the landing page (JSON; HTML by f= or Accept);
                                                  /ogcapi/ redirects here, as every path's slash
    GET    /ogcapi/conformance                    the conformance classes implemented
    GET    /ogcapi/processes                      every job profile as a process
    GET    /ogcapi/processes/{id}                 its description: inputs, outputs (JSON Schema)
    POST   /ogcapi/processes/{id}/execution       a new job: Prefer: respond-async → 201 to it;
                                                  otherwise waited for (up to uws_max_wait s)
    GET    /ogcapi/jobs                           the jobs the caller may see (filters, paging)
    GET    /ogcapi/jobs/{jobId}                   its statusInfo
    DELETE /ogcapi/jobs/{jobId}                   dismiss: a running job is aborted, a finished
                                                  one deleted with its results
    GET    /ogcapi/jobs/{jobId}/results           its outputs, by value or by reference as
                                                  the request asked (`outputs.py`)

An OGC job is the job core's job: its IRI stays `/jobs/{id}` (linked from every statusInfo,
`Link: rel=canonical`), and it reads the same there, in UWS, MCMA and SPARQL. Jobs are
created through `Jobs.create` with the caller's pass, like every binding's: the same owner
rules, prices and limits.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from jobtrail.base import errors
from jobtrail.base.errors import Forbidden, Gone, InputError, JobFailed, JobtrailError, NotFound
from jobtrail.bindings.ogcapi import documents as docs
from jobtrail.bindings.ogcapi import outputs
from jobtrail.bindings.ogcapi.callbacks import callbacks_of, subscriber_of
from jobtrail.bindings.ogcapi.documents import NoSuchJob, NoSuchProcess, ResultNotReady
from jobtrail.jobs import results as result_files
from jobtrail.jobs.core import FINAL, Job
from jobtrail.jobs.profiles import Profile
from jobtrail.store import ResourceGraph
from jobtrail.web.requests import caller_of, int_param, read_body, viewer_of, visible_job
from jobtrail.web.state import AppRequest
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

BINDING_NAME = "OGC API - Processes 1.0"
MOST_LISTED = 1000
"""The largest `limit` of a job list."""
SCANNED = 10_000
"""How many jobs a list with duration filters looks through (they are not in SPARQL)."""


def _base(request: AppRequest) -> str:
    base: str = request.state["engine"].config.base_url
    return base


def _profile(request: AppRequest) -> Profile:
    profiles: Mapping[str, Profile] = request.state["engine"].profiles
    name = request.path_params["id"]
    found = profiles.get(name)
    if found is None:
        raise NoSuchProcess(
            f"there is no process {name!r}", hint="processes: " + ", ".join(profiles)
        )
    return found


def job_for(request: AppRequest, change: bool = False) -> Job:
    job_id = request.path_params["jobId"]
    try:
        return visible_job(request, job_id, change=change)
    except Gone as e:
        raise NoSuchJob(f"there is no job {job_id} here: it was dismissed", hint=e.hint) from None
    except NotFound as e:
        raise NoSuchJob(e.message, hint=e.hint) from None


def record(request: AppRequest, process: str) -> dict[str, Any]:
    """The request as the job's change message keeps it (the inputs are the job's own
    parameters, secrets redacted there; a pass token never)."""
    return {
        "binding": BINDING_NAME,
        "method": request.method,
        "path": request.url.path,
        "process": process,
    }


# --- the service ------------------------------------------------------------------------------


async def landing(request: AppRequest) -> Response:
    """The landing page: links to the API, conformance, processes and jobs."""
    return docs.respond(request, "OGC API - Processes", docs.landing(_base(request)))


async def conformance(request: AppRequest) -> Response:
    """The conformance classes implemented."""
    return docs.respond(request, "Conformance", docs.conformance())


async def processes(request: AppRequest) -> Response:
    """Every job profile, as a process summary."""
    profiles: Mapping[str, Profile] = request.state["engine"].profiles
    return docs.respond(request, "Processes", docs.process_list(_base(request), profiles))


async def process(request: AppRequest) -> Response:
    """A job profile as a process description: inputs and outputs as JSON Schemas."""
    found = _profile(request)
    return docs.respond(request, f"Process {found.name}", docs.process(_base(request), found))


# --- execution ----------------------------------------------------------------------------------


def _scalar(name: str, value: Any) -> str:
    """An input's value as a job parameter: a string, number or boolean, a qualified value
    (`{"value": …}`) or a link (`{"href": …}`)."""
    if isinstance(value, Mapping):
        if isinstance(value.get("href"), str):
            return str(value["href"])
        if "value" in value:
            return _scalar(name, value["value"])
        raise InputError(
            f"input {name!r} is an object without href or value",
            hint='give a string, {"value": …} or {"href": URL}',
        )
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise InputError(
        f"input {name!r} takes one value, not {type(value).__name__}",
        hint="every input of these processes occurs once",
    )


@dataclass(frozen=True)
class Execute:
    """What an execute request (or a Part 4 job) asks for."""

    input: str | None
    parameters: dict[str, str]
    response: str
    subscriber: dict[str, str]
    outputs: dict[str, outputs.Wanted]


def json_object(body: bytes, what: str, holds: str) -> dict[str, Any]:
    """A request body that is a JSON object (an empty body: `{}`); InputError otherwise,
    naming `what` the body is and what it `holds`."""
    try:
        doc = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError(f"{what} is not JSON: {e}") from None
    if not isinstance(doc, dict):
        raise InputError(f"{what} is a JSON object with {holds}")
    return doc


def execute_request(profile: Profile, doc: Mapping[str, Any]) -> Execute:
    """The input URL, the parameters, the response asked (`document` or `raw`), the
    subscriber and the outputs of an execute request (`json_object`); InputError naming
    what is wrong."""
    response = doc.get("response", "document")
    if response not in ("document", "raw"):
        raise InputError(f"response is document or raw, not {response!r}")
    wanted = outputs.selection_of(doc)
    inputs = doc.get("inputs", {})
    if not isinstance(inputs, dict):
        raise InputError("inputs is an object, by input id")
    known = docs.input_descriptions(profile)
    unknown = [k for k in inputs if k not in known]
    if unknown:
        raise InputError(
            f"process {profile.name} has no input {unknown[0]!r}",
            hint="inputs: " + ", ".join(known),
        )
    values = {k: _scalar(k, v) for k, v in inputs.items()}
    missing = [k for k, d in known.items() if d["minOccurs"] > 0 and k not in values]
    if missing:
        raise InputError(
            f"process {profile.name} needs the input(s) {', '.join(missing)}",
            hint="; ".join(f"{k}: {known[k]['description']}" for k in missing),
        )
    url = values.pop(docs.INPUT, None)
    return Execute(
        (url.strip() if url else None), values, str(response), subscriber_of(doc), wanted
    )


def _beside(request: AppRequest, job_id: str, asked: Execute) -> list[ResourceGraph]:
    """What the binding keeps beside a new job (`{job}/ogcapi`): its subscriber and the
    outputs asked for, in one graph; nothing when the request named neither."""
    iri = f"{request.state['engine'].jobs.iri(job_id)}/ogcapi"
    graph = (
        callbacks_of(request).graph(job_id, asked.subscriber)
        if asked.subscriber
        else ResourceGraph(iri, [])
    )
    graph.triples.extend(outputs.triples(iri, asked.outputs))
    return [graph] if graph.triples else []


async def new_job(
    request: AppRequest, profile: Profile, asked: Execute, phase: str, job_id: str
) -> Job:
    """A job of the process as the request asks, created through the job core with the
    caller's pass (QUEUED to run now, PENDING for Part 4's `created`)."""
    engine = request.state["engine"]
    config, jobs, accounts = engine.config, engine.jobs, engine.accounts
    caller = caller_of(request)
    accounts.require(caller)
    also = _beside(request, job_id, asked)
    return await run_in_threadpool(
        lambda: jobs.create(
            job_id=job_id,
            profile=profile.name,
            input=asked.input,
            owner=caller.name,
            parameters=asked.parameters,
            execution_duration=config.execution_duration,
            destruction=jobs.clock() + timedelta(seconds=config.results_ttl),
            phase=phase,
            request=record(request, profile.name),
            payer=accounts.payer(caller),
            also=also,
        )
    )


def created(request: AppRequest, job: Job, *, asynchronous: bool = False) -> Response:
    """201 with the new job's statusInfo, `Location` to it."""
    headers = {
        "Location": f"{_base(request)}ogcapi/jobs/{job.id}",
        "Link": f'<{job.iri}>; rel="canonical"',
    }
    if asynchronous:
        headers["Preference-Applied"] = "respond-async"
    return docs.respond(
        request,
        f"Job {job.id}",
        docs.status_info(_base(request), job),
        status_code=201,
        headers=headers,
    )


async def execution(request: AppRequest) -> Response:
    """A new job of the process: 201 to its statusInfo when asked to respond asynchronously,
    or when it has not ended within `uws_max_wait` seconds; its results when it has."""
    profile = _profile(request)
    body = json_object(await read_body(request), "the execute request", "inputs")
    asked = execute_request(profile, body)
    engine = request.state["engine"]
    asynchronous = "respond-async" in request.headers.get("prefer", "").lower()
    job_id = str(uuid.uuid4())
    future = None if asynchronous else engine.waits.register(job_id)  # before it can change
    try:
        job = await new_job(request, profile, asked, "QUEUED", job_id)
    except BaseException:
        if future is not None:
            engine.waits.discard(job_id, future)
        raise
    if future is not None:
        job = await _ended(request, job, future, float(engine.config.uws_max_wait))
    if job.phase not in FINAL:
        return created(request, job, asynchronous=asynchronous)
    return await _outcome(request, job, asked.response)


async def _ended(request: AppRequest, job: Job, future: Any, seconds: float) -> Job:
    """The job once it has ended, or as it is when `seconds` have passed (`future`: registered
    before the job was created, so that no change falls between)."""
    waits = request.state["engine"].waits
    jobs = request.state["engine"].jobs
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while job.phase not in FINAL:
        change = await waits.wait(job.id, future, deadline - loop.time())  # discards it
        if change is None:
            return await run_in_threadpool(jobs.get, job.id)
        if change.job is None:  # dismissed meanwhile
            return job
        job = change.job
        if job.phase not in FINAL:
            future = waits.register(job.id)
            job = await run_in_threadpool(jobs.get, job.id)
    waits.discard(job.id, future)
    return job


def _failure(job: Job) -> JobtrailError:
    """A failed job's error as the error it was (its class and status), for an exception."""
    assert job.error is not None
    kind = getattr(errors, job.error.type, None)
    cls = kind if isinstance(kind, type) and issubclass(kind, JobFailed) else JobFailed
    return cls(job.error.message, hint=job.error.hint, details={"jobID": job.id})


async def _outcome(request: AppRequest, job: Job, response: str) -> Response:
    """A job that ended during a synchronous execution: its results (200), or its exception."""
    headers = {
        "Link": f'<{job.iri}>; rel="canonical"',
        "Location": f"{_base(request)}ogcapi/jobs/{job.id}",
    }
    if docs.status_of(job) == "failed" and job.error is not None:
        raise _failure(job)
    if docs.status_of(job) != "successful":
        raise ResultNotReady(f"job {job.id} ended {docs.status_of(job)}: it has no results")
    files = await _files(request, job)
    if response == "raw" and len(files) == 1:
        path = result_files.file_path(request.state["workers"].config.files, job.id, files[0].name)
        if path is not None:
            body = await run_in_threadpool(path.read_bytes)
            return Response(body, 200, headers, media_type=files[0].media_type)
    return docs.respond(
        request, f"Results of job {job.id}", await results_document(request, job), headers=headers
    )


async def results_document(request: AppRequest, job: Job) -> dict[str, Any]:
    """The job's results document, by value or by reference as its request asked."""
    engine = request.state["engine"]
    files = request.state["workers"].config.files
    return await run_in_threadpool(
        outputs.results_of, engine.jobs.store, files, job, _base(request)
    )


async def _files(request: AppRequest, job: Job) -> list[result_files.Listed]:
    if job.results is None:
        return []
    store = request.state["engine"].jobs.store
    triples = await run_in_threadpool(store.read, job.results)
    return result_files.listed(triples, job.results)


# --- jobs ---------------------------------------------------------------------------------------


def _many(request: AppRequest, name: str) -> list[str]:
    """A repeatable query parameter, each value possibly a comma-separated list."""
    return [
        v.strip() for raw in request.query_params.getlist(name) for v in raw.split(",") if v.strip()
    ]


def _instant(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            f"datetime: {text!r} is not an RFC 3339 date-time",
            hint="e.g. 2026-01-01T00:00:00Z, or an interval a/b with .. for an open end",
        ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def interval(text: str) -> tuple[datetime | None, datetime | None]:
    """`datetime`'s bounds, inclusive: an instant, or `a/b` with `..` (or nothing) open."""
    tick = timedelta(microseconds=1)
    if text.strip() in ("", ".."):
        return None, None
    if "/" not in text:
        at = _instant(text)
        return at - tick, at + tick
    start, _, end = text.partition("/")
    low = None if start.strip() in ("", "..") else _instant(start) - tick
    high = None if end.strip() in ("", "..") else _instant(end) + tick
    return low, high


def _seconds(request: AppRequest, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    return int_param(request, name, 0, 0, 10**9)


def _duration(job: Job, now: datetime) -> float | None:
    if job.started is None:
        return None
    return ((job.ended or now) - job.started).total_seconds()


async def job_list(request: AppRequest) -> Response:
    """The jobs the caller may see, newest first, filtered; `limit` a page, `next` the rest."""
    engine = request.state["engine"]
    types = _many(request, "type")
    if any(t != "process" for t in types):
        raise InputError(f"type={types[0]!r}: the jobs here are of type process")
    processes = _many(request, "processID")
    phases = sorted({p for code in _many(request, "status") for p in docs.phases_of(code)})
    low, high = interval(request.query_params.get("datetime", "..") or "..")
    least, most = _seconds(request, "minDuration"), _seconds(request, "maxDuration")
    limit = int_param(request, "limit", 10, 1, MOST_LISTED)
    offset = int_param(request, "offset", 0, 0, 10**9)
    viewer = viewer_of(request)
    by_duration = least is not None or most is not None

    def read() -> list[Job]:
        return engine.jobs.list(
            owner=viewer.owner,
            anonymous=engine.visibility.anonymous_jobs,
            everyone=viewer.sees_all,
            phases=phases,
            profiles=processes,
            after=low,
            before=high,
            limit=SCANNED if by_duration else limit + 1,
            offset=0 if by_duration else offset,
        )

    found = await run_in_threadpool(read)
    if by_duration:
        now = engine.jobs.clock()
        kept = []
        for job in found:
            took = _duration(job, now)
            if took is None or (least is not None and took < least):
                continue
            if most is not None and took > most:
                continue
            kept.append(job)
        found = kept[offset:]
    more = len(found) > limit
    found = found[:limit]
    here = f"{_base(request)}ogcapi/jobs"
    kept_params = [
        (k, v) for k, v in request.query_params.multi_items() if k not in ("offset", "f")
    ]
    self_href = f"{here}?{urlencode(kept_params)}" if kept_params else here
    next_href = (
        f"{here}?{urlencode([*kept_params, ('offset', str(offset + limit)), ('f', 'json')])}"
        if more
        else None
    )
    progress = request.state["workers"].progress
    listed = docs.job_list(_base(request), found, next_href, self_href, progress)
    return docs.respond(request, "Jobs", listed)


async def job(request: AppRequest) -> Response:
    """The job's statusInfo (GET), or its dismissal (DELETE)."""
    if request.method == "DELETE":
        return await _dismiss(request)
    found = await run_in_threadpool(job_for, request)
    progress = request.state["workers"].progress(found.id)
    return docs.respond(
        request,
        f"Job {found.id}",
        docs.status_info(_base(request), found, progress),
        headers={"Link": f'<{found.iri}>; rel="canonical"'},
    )


def runs_here(request: AppRequest, found: Job) -> None:
    """Forbidden for a job another binding makes and moves (SIF's): read here, not moved."""
    if found.profile not in request.state["engine"].profiles:
        raise Forbidden(
            f"{found.profile} jobs are made and moved elsewhere: their status is not OGC's to set",
            hint=f"see {found.iri}",
        )


async def _dismiss(request: AppRequest) -> Response:
    """A job still to end is aborted (dismissed); one that has ended is deleted with its
    result files (its history stays at its canonical IRI: 410 there)."""
    found = await run_in_threadpool(job_for, request, True)
    engine = request.state["engine"]
    by = viewer_of(request).label
    kept = record(request, found.profile)
    if found.active:
        runs_here(request, found)
        changed = await run_in_threadpool(
            lambda: engine.jobs.set_phase(found.id, "ABORTED", by=by, request=kept)
        )
        return docs.respond(request, f"Job {found.id}", docs.status_info(_base(request), changed))
    await run_in_threadpool(lambda: engine.jobs.delete(found.id, by=by, request=kept))
    await run_in_threadpool(result_files.remove, request.state["workers"].config.files, found.id)
    dismissed = docs.status_info(_base(request), found)
    dismissed["status"] = "dismissed"
    dismissed["message"] = "dismissed: the job and its results were deleted"
    dismissed["links"] = [docs.link(found.iri, "canonical", None, "the job's history (410)")]
    return docs.respond(request, f"Job {found.id}", dismissed)


async def job_results(request: AppRequest) -> Response:
    """A successful job's outputs, each by reference; a failed job's exception."""
    found = await run_in_threadpool(job_for, request)
    code = docs.status_of(found)
    if code == "failed" and found.error is not None:
        raise _failure(found)
    if code != "successful":
        raise ResultNotReady(
            f"job {found.id} is {code}: it has no results"
            + (" yet" if code in ("accepted", "running") else ""),
            hint=f"see {_base(request)}ogcapi/jobs/{found.id}",
        )
    return docs.respond(
        request,
        f"Results of job {found.id}",
        await results_document(request, found),
        headers={"Link": f'<{found.iri}>; rel="canonical"'},
    )


def routes() -> list[BaseRoute]:
    return [
        Route("/ogcapi", landing, methods=["GET", "HEAD"]),
        Route("/ogcapi/conformance", conformance, methods=["GET", "HEAD"]),
        Route("/ogcapi/processes", processes, methods=["GET", "HEAD"]),
        Route("/ogcapi/processes/{id}", process, methods=["GET", "HEAD"]),
        Route("/ogcapi/processes/{id}/execution", execution, methods=["POST"]),
        Route("/ogcapi/jobs", job_list, methods=["GET", "HEAD"]),
        Route("/ogcapi/jobs/{jobId}", job, methods=["GET", "HEAD", "DELETE"]),
        Route("/ogcapi/jobs/{jobId}/results", job_results, methods=["GET", "HEAD"]),
    ]
