"""Every job as of any time: Memento (RFC 7089) over a job's versions (`versions.py`).

    GET /jobs/{id}  with Accept-Datetime   the TimeGate: 302 to the version current then
                                           (Vary: accept-datetime; Link: original, timemap,
                                           first/last/prev/next memento); 404 before the job
                                           existed, 410 after it was deleted
    GET /jobs/{id}/versions/{n}[.ext]      a memento: the job after its change n (Turtle,
                                           JSON-LD, N-Triples, RDF/XML …; HTML: the job page
                                           as it was), with Memento-Datetime and Link
    GET /jobs/{id}/timemap[.link|.json|.html]  the TimeMap: every version (application/
                                           link-format by default, RFC 7089 §5)

The job's IRI is its own TimeGate, negotiating in the 302 style (RFC 7089 §4.1.1, Pattern
1.1): each version keeps a URI of its own that never changes what it says (a citation can
name it, a cache keep it), and the job's IRI keeps its 202/303/424 answers to requests
without Accept-Datetime, which a 200-style answer could not combine with. Who may see a
job sees its versions, no one else (`visible_job`); a deleted job's versions stay its
readers'.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from html import escape
from typing import Any
from urllib.parse import urlencode

import pyoxigraph as ox
from jobtrail.base import nt
from jobtrail.base.errors import Gone, InputError, NotFound
from jobtrail.base.terms import DCTERMS, PROV, RDFS
from jobtrail.bindings.jobservice import page, versions
from jobtrail.bindings.jobservice.versions import Timeline, Version
from jobtrail.jobs.core import to_triples
from jobtrail.web import conneg, html, render
from jobtrail.web.memento import (
    JSON,
    LINK_FORMAT,
    TIMEMAP_FORMATS,
    Memento,
    accept_datetime,
    http_date,
    link_format,
    link_header,
)
from jobtrail.web.memento import (
    MEMENTO_FORMATS as FORMATS,
)
from jobtrail.web.requests import visible_job
from jobtrail.web.resources import respond
from jobtrail.web.state import AppRequest
from starlette.concurrency import run_in_threadpool
from starlette.responses import PlainTextResponse, Response

_VERSION = re.compile(r"[1-9][0-9]{0,17}")


def version_iri(iri: str, number: int) -> str:
    return f"{iri}/versions/{number}"


def timemap_iri(iri: str) -> str:
    return f"{iri}/timemap"


def advertised(iri: str) -> str:
    """What the job's own answers link to: itself as its TimeGate, and its TimeMap."""
    return (
        f'<{iri}>; rel="original timegate", '
        f'<{timemap_iri(iri)}>; rel="timemap"; type="{LINK_FORMAT.media_type}"'
    )


def _timeline(request: AppRequest, job_id: str) -> Timeline:
    """The job's versions, if the caller may see the job (404/401/403 as for the job)."""
    jobs = request.state["engine"].jobs
    try:
        current = visible_job(request, job_id)
    except Gone:  # deleted: visible_job let through those who could see it
        current = None
    found = versions.timeline(jobs.store, job_id, jobs.iri(job_id), current)
    if not found.versions:
        raise NotFound(f"job {job_id} has no change records: no version of it is kept")
    return found


def _with_pass(request: AppRequest, url: str) -> str:
    credential = request.query_params.get("pass")
    return f"{url}?{urlencode({'pass': credential})}" if credential else url


# --- the TimeGate: GET /jobs/{id} with Accept-Datetime --------------------------------


async def timegate(request: AppRequest, job_id: str) -> Response:
    """302 to the version of the job current at the Accept-Datetime asked for."""
    when = accept_datetime(request)
    assert when is not None
    found = await run_in_threadpool(_timeline, request, job_id)
    asked = http_date(when)
    if found.deleted is not None and found.deleted.at.replace(microsecond=0) <= when:
        raise Gone(
            f"job {job_id} was deleted at {http_date(found.deleted.at)}, before {asked}",
            hint=f"ask for an earlier time; its versions: {timemap_iri(found.iri)}",
            details={"deleted": http_date(found.deleted.at)},
        )
    version = found.as_of(when)
    if version is None:
        first = found.versions[0]
        raise NotFound(
            f"job {job_id} did not exist yet at {asked}: it was created at {http_date(first.at)}",
            hint=f"ask for a later time; its versions: {timemap_iri(found.iri)}",
            details={"first": http_date(first.at)},
        )
    target = version_iri(found.iri, version.number)
    return PlainTextResponse(
        f"job {job_id} as of {asked}: {target}\n",
        302,
        {
            "Location": _with_pass(request, target),
            "Vary": "accept-datetime",
            "Link": _links(found, version),
        },
    )


def _m(found: Timeline, version: Version) -> Memento:
    return Memento(version_iri(found.iri, version.number), version.at)


def _links(found: Timeline, version: Version | None) -> str:
    """The Link header of a TimeGate's answer or of a memento (`version`)."""
    first, last = found.versions[0], found.versions[-1]
    before, after = found.neighbours(version) if version is not None else (None, None)
    return link_header(
        found.iri,
        timemap_iri(found.iri),
        _m(found, first),
        _m(found, last),
        memento=_m(found, version) if version is not None else None,
        prev=_m(found, before) if before is not None else None,
        next=_m(found, after) if after is not None else None,
    )


# --- a memento: GET /jobs/{id}/versions/{n} -----------------------------------------------


def _number(text: str) -> int:
    if not _VERSION.fullmatch(text):
        shown = text if len(text) <= 40 else f"{text[:40]}…"
        raise InputError(
            f"a job's version is a whole number from 1, not {shown!r}",
            hint="its TimeMap lists them: /jobs/{id}/timemap",
        )
    return int(text)


async def memento(request: AppRequest) -> Response:
    """The job as it was after its change n: its state then, in the format asked for."""
    path, chosen = conneg.split_extension(request.url.path)
    job_id = request.path_params["id"]
    number = _number(path.rsplit("/", 1)[-1])
    if chosen is not None and chosen not in FORMATS:
        raise NotFound(
            f"a job's version is offered as {', '.join(str(f.extension) for f in FORMATS)}",
            hint=f"{path}.ttl, for example",
        )
    found = await run_in_threadpool(_timeline, request, job_id)
    version = found.number(number)
    if version is None:
        if found.deleted is not None and number >= found.deleted.sequence:
            raise Gone(
                f"job {job_id} was deleted by its change {found.deleted.sequence}, at "
                f"{http_date(found.deleted.at)}: it has no version {number}",
                hint=f"its versions: {timemap_iri(found.iri)}",
            )
        raise NotFound(
            f"job {job_id} has no version {number}: its versions are "
            f"{found.versions[0].number} to {found.versions[-1].number}",
            hint=f"its versions: {timemap_iri(found.iri)}",
        )
    fmt = chosen or conneg.negotiate(request.headers.get("accept"), FORMATS, conneg.TURTLE)
    engine = request.state["engine"]
    base = engine.config.base_url
    if fmt is conneg.HTML:
        body = (await run_in_threadpool(_page, request, found, version)).encode()
    else:
        body = render.rdf(_triples(found, version, engine.jobs.profile_iri), fmt, base=base)
    response = respond(
        request,
        body,
        fmt,
        path=path,
        formats=FORMATS,
        modified=version.at,
        negotiated=chosen is None,
    )
    response.headers["Memento-Datetime"] = http_date(version.at)
    response.headers["Link"] = f"{_links(found, version)}, {response.headers['Link']}"
    return response


_EMPTY: dict[str, Any] = {
    "input": None,
    "parameters": {},
    "run_id": None,
    "destruction": None,
    "quote": None,
    "price": None,
    "paid_bytes": None,
    "priority": None,
    "due": None,
    "status_value": None,
}


def _triples(
    found: Timeline, version: Version, profile_iri: Callable[[str], str]
) -> list[ox.Triple]:
    """The job's state in that version (what is not known of it left out), and the memento
    itself: a version of the job, derived from its change record."""
    blanks = {k: v for k, v in _EMPTY.items() if k in version.unknown}
    job = replace(version.job, **blanks)
    profile = profile_iri(job.profile)
    lines = to_triples(job, profile)
    leave = set()
    if "profile" in version.unknown:
        leave |= {nt.jt("jobProfile")}
    if "execution_duration" in version.unknown:
        leave |= {nt.jt("executionDuration")}
    kept = [
        t
        for t in lines
        if t[1] not in leave and not ("profile" in version.unknown and t[0] == nt.iri(profile))
    ]
    m = nt.iri(version_iri(found.iri, version.number))
    r = nt.iri(found.iri)
    kept += [
        (m, nt.A, nt.iri(f"{PROV}Entity")),
        (m, nt.iri(f"{PROV}specializationOf"), r),
        (m, nt.iri(f"{DCTERMS}isVersionOf"), r),
        (m, nt.iri(f"{PROV}generatedAtTime"), nt.datetime_lit(version.at)),
        (m, nt.iri(f"{PROV}wasDerivedFrom"), nt.iri(version.record.iri)),
        (m, nt.jt("sequence"), nt.integer(version.number)),
    ]
    if version.unknown:
        said = ", ".join(sorted(version.unknown))
        kept.append((m, nt.iri(f"{RDFS}comment"), nt.lit(f"not recorded for this version: {said}")))
    data = "".join(f"{s} {p} {o} .\n" for s, p, o in kept).encode()
    return [q.triple for q in ox.parse(data, format=ox.RdfFormat.N_TRIPLES)]


def _page(request: AppRequest, found: Timeline, version: Version) -> str:
    """The job page as it was: its state then, its history until then, no actions."""
    jobs = request.state["engine"].jobs
    credential = request.query_params.get("pass")
    after = found.neighbours(version)[1]
    view = page.View(
        job=version.job,
        history=[r for r in found.records if r.sequence <= version.number],
        results=(
            page.results(jobs.store.read(version.job.results), version.job.results)
            if version.job.results
            else None
        ),
        views=[],
        may_change=False,
        refresh=None,
        profile_iri=jobs.profile_iri(version.job.profile),
        now=after.at if after is not None else jobs.clock(),  # how long it ran by the next
        credential=urlencode({"pass": credential}) if credential else "",
        note=_note(found, version, lambda url: _with_pass(request, url)),
        unknown=version.unknown,
    )
    return page.page(view)


def _note(found: Timeline, version: Version, here: Callable[[str], str]) -> str:
    before, after = found.neighbours(version)
    steps = [
        html.link(here(version_iri(found.iri, v.number)), label)
        for v, label in ((before, "← previous version"), (after, "next version →"))
        if v is not None
    ]
    now = "the job now" if found.deleted is None else "the job (deleted since)"
    steps += [
        html.link(here(found.iri), now),
        html.link(here(f"{timemap_iri(found.iri)}.html"), "every version"),
    ]
    return (
        f"<p class=memento>Version {version.number} of {len(found.versions)}: the job as "
        f"it was from {page.show_time(version.at)}"
        + (f" until {page.show_time(after.at)}" if after is not None else "")
        + f" (Memento). {' · '.join(steps)}</p>"
    )


# --- the TimeMap: GET /jobs/{id}/timemap -----------------------------------------------------


async def timemap(request: AppRequest) -> Response:
    """Every version of the job: link format (RFC 7089 §5), JSON or HTML."""
    path, chosen = _timemap_extension(request.url.path)
    job_id = request.path_params["id"]
    if chosen is None and "ext" in request.path_params:
        raise NotFound(
            f"a TimeMap is offered as {', '.join(str(f.extension) for f in TIMEMAP_FORMATS)}",
            hint=f"{timemap_iri(path.rsplit('/', 1)[0])}.link, for example",
        )
    found = await run_in_threadpool(_timeline, request, job_id)
    fmt = chosen or conneg.negotiate(request.headers.get("accept"), TIMEMAP_FORMATS, LINK_FORMAT)
    if fmt is JSON:
        body = json.dumps(_json(found), indent=2).encode()
    elif fmt is conneg.HTML:
        body = _timemap_page(found, lambda url: _with_pass(request, url)).encode()
    else:
        body = _link_format(found).encode()
    response = respond(
        request, body, fmt, path=path, formats=TIMEMAP_FORMATS, negotiated=chosen is None
    )
    response.headers["Link"] = f'<{found.iri}>; rel="original timegate", {response.headers["Link"]}'
    return response


def _timemap_extension(path: str) -> tuple[str, conneg.Format | None]:
    for fmt in TIMEMAP_FORMATS:
        if fmt.extension and path.endswith(fmt.extension):
            return path[: -len(fmt.extension)], fmt
    return path, None


def _link_format(found: Timeline) -> str:
    """RFC 7089 §5.1: the original, the TimeMap itself, the TimeGate, every version."""
    every = [_m(found, v) for v in found.versions]
    return link_format(found.iri, timemap_iri(found.iri), every, every[0], every[-1])


def _json(found: Timeline) -> dict[str, Any]:
    listed = [
        {
            "uri": version_iri(found.iri, v.number),
            "datetime": http_date(v.at),
            "at": v.at.isoformat().replace("+00:00", "Z"),
            "version": v.number,
            "change": v.record.kind,
            "phase": v.job.phase,
            "by": v.record.by,
            "record": v.record.iri,
        }
        for v in found.versions
    ]
    return {
        "original_uri": found.iri,
        "timegate_uri": found.iri,
        "timemap_uri": {
            "link_format": timemap_iri(found.iri),
            "json_format": f"{timemap_iri(found.iri)}.json",
            "html": f"{timemap_iri(found.iri)}.html",
        },
        "mementos": {
            "first": {"uri": listed[0]["uri"], "datetime": listed[0]["datetime"]},
            "last": {"uri": listed[-1]["uri"], "datetime": listed[-1]["datetime"]},
            "list": listed,
        },
        "deleted": http_date(found.deleted.at) if found.deleted is not None else None,
    }


def _timemap_page(found: Timeline, here: Callable[[str], str]) -> str:
    rows = "".join(
        f"<tr><td>{html.link(here(version_iri(found.iri, v.number)), f'version {v.number}')}"
        f"</td><td>{page.show_time(v.at)}</td><td>{escape(v.record.kind)}</td>"
        f"<td>{escape(v.job.phase)}</td><td>{escape(v.record.by)}</td></tr>"
        for v in found.versions
    )
    gone = (
        f"<p>It was deleted at {page.show_time(found.deleted.at)} by "
        f"{escape(found.deleted.by)}.</p>"
        if found.deleted is not None
        else ""
    )
    body = (
        f"<h1>Versions of job {escape(found.job_id)}</h1>"
        f"<p>Every state {html.link(here(found.iri), 'the job')} was in, one for each of its "
        "changes (its TimeMap, RFC 7089). Ask the job itself with an "
        "<code>Accept-Datetime</code> header for the version current at a time.</p>"
        f"{gone}<table class=job-versions><tr><th>version</th><th>from</th><th>change</th>"
        f"<th>phase</th><th>by</th></tr>{rows}</table>"
    )
    return html.page(f"Versions of job {found.job_id}", body)


__all__ = ["FORMATS", "TIMEMAP_FORMATS", "advertised", "memento", "timegate", "timemap"]
