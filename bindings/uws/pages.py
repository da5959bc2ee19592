"""The UWS documents for a browser: a job list and a job as HTML pages, by negotiation.

A UWS client (pyvo sends `Accept: */*`, others `application/xml` or nothing) gets the
XML documents of `documents.py`, as before. A client that prefers `text/html` to XML —
every browser: `text/html,…,application/xml;q=0.9,…` — gets these pages: the same facts
(phase, times, parameters, results, the error), links to each job, to the job's own page
at its canonical IRI (`/jobs/{id}`), and buttons for what a job's owner may do (run,
abort, delete: plain same-origin form POSTs, which answer 303 back to the page).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from html import escape
from urllib.parse import urlencode

from jobtrail.base.errors import NotAcceptable
from jobtrail.bindings.uws.documents import (
    XML,
    JobList,
    ended_with_error,
    files_of,
    job_url,
    list_url,
    parameters_of,
)
from jobtrail.bindings.uws.params import iso
from jobtrail.jobs.core import ACTIVE, PHASES, Job
from jobtrail.web import conneg, html
from jobtrail.web.state import AppRequest
from starlette.responses import Response

UWS_XML = conneg.Format("xml", XML, ".xml", ("text/xml",), "UWS XML")
OFFERED = (UWS_XML, conneg.HTML)
VARY = {"Vary": "Accept"}


def wants_html(request: AppRequest) -> bool:
    """The client prefers HTML to the UWS XML (a browser); anything else gets the XML,
    whatever its Accept says, as UWS clients always did."""
    try:
        chosen = conneg.negotiate(request.headers.get("accept"), OFFERED, UWS_XML)
    except NotAcceptable:
        return False
    return chosen is conneg.HTML


def answer(page: str, job: Job | None = None) -> Response:
    headers = dict(VARY)
    if job is not None:
        headers["Link"] = f'<{job.iri}>; rel="canonical"'
    return Response(page, media_type=conneg.HTML.content_type(), headers=headers)


def _when(value: datetime | None) -> str:
    return escape(iso(value)) if value is not None else "<span class=muted>—</span>"


def _phase(phase: str) -> str:
    return f'<b class="phase phase-{escape(phase.lower())}">{escape(phase)}</b>'


def _button(action: str, name: str, value: str, label: str) -> str:
    return (
        f'<form method=post action="{escape(html.by_path(action))}" class=uws-action>'
        f'<input type=hidden name="{escape(name)}" value="{escape(value)}">'
        f"<button type=submit>{escape(label)}</button></form>"
    )


def job_page(request: AppRequest, job_list: JobList, job: Job) -> str:
    """One job as a page: its phase first, then its values, parameters, results, error."""
    here = job_url(request, job_list, job)
    credential = request.query_params.get("pass")  # a pass holder's, kept for the buttons
    act = f"{here}?{urlencode({'pass': credential})}" if credential else here
    rows = [
        ("phase", _phase(job.phase)),
        ("job's page", html.link(job.iri)),
        ("run id", escape(job.run_id) if job.run_id else "<span class=muted>—</span>"),
        ("owner", escape(job.owner) if job.owner else "<span class=muted>anonymous</span>"),
        ("created", _when(job.created)),
        ("started", _when(job.started)),
        ("ended", _when(job.ended)),
        (
            "execution duration",
            f"{job.execution_duration:,} s" if job.execution_duration else "unlimited",
        ),
        ("destruction", _when(job.destruction)),
    ]
    facts = "".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in rows)
    params = "".join(
        f"<tr><td><code>{escape(k)}</code></td><td>{html.link(v) if k == 'URL' else escape(v)}"
        "</td></tr>"
        for k, v in parameters_of(job)
    )
    files = "".join(
        f"<li>{html.link(f.iri, f.name)}"
        + (f" <span class=muted>{escape(f.media_type)}</span>" if f.media_type else "")
        + (f" <span class=muted>{f.size:,} bytes</span>" if f.size is not None else "")
        + "</li>"
        for f in files_of(request)
    )
    error = ""
    if ended_with_error(job) and job.error is not None:
        hint = f"<p>{escape(job.error.hint)}</p>" if job.error.hint else ""
        error = (
            f"<h2>Error</h2><div class=error role=alert><p>{escape(job.error.message)}</p>"
            f"{hint}</div>"
        )
    actions = []
    if job.phase == "PENDING":
        actions.append(_button(act, "PHASE", "RUN", "Run"))
    if job.phase in ACTIVE:
        actions.append(_button(act, "PHASE", "ABORT", "Abort"))
    actions.append(_button(act, "ACTION", "DELETE", "Delete"))
    body = (
        f"<p>{html.link(list_url(request, job_list), f'UWS list {job_list.name}')}</p>"
        f"<h1>UWS job {escape(job.id)}</h1>"
        f"<table class=uws-job>{facts}</table>"
        "<h2>Parameters</h2>"
        + (
            f"<table><tr><th>name</th><th>value</th></tr>{params}</table>"
            if params
            else "<p class=muted>none</p>"
        )
        + "<h2>Results</h2>"
        + (f"<ul class=results>{files}</ul>" if files else "<p class=muted>none yet</p>")
        + error
        + f"<h2>Actions</h2><div class=uws-actions>{''.join(actions)}</div>"
        + "<p class=muted>This page is for people; UWS clients get the UWS 1.1 XML document "
        "at the same URL (<code>Accept: application/xml</code>).</p>"
    )
    return html.page(f"UWS job {job.id}", body)


def jobs_page(
    request: AppRequest, job_list: JobList, found: Sequence[Job], chosen: Collection[str] = ()
) -> str:
    """A job list as a page: each job with its phase, a filter by phase (`chosen`: the
    phases asked for)."""
    rows = "".join(
        f"<tr><td>{html.link(job_url(request, job_list, j), j.id)}</td><td>{_phase(j.phase)}</td>"
        f"<td>{escape(j.run_id or '')}</td><td>{escape(j.owner or '')}</td>"
        f"<td>{_when(j.created)}</td><td>{html.link(j.iri, 'job page')}</td></tr>"
        for j in found
    )
    listed = list_url(request, job_list)
    boxes = "".join(
        f'<label><input type=checkbox name=PHASE value="{p}"'
        f"{' checked' if p in chosen else ''}> {p}</label> "
        for p in PHASES
    )
    body = (
        f"<p>{html.link('/uws', 'UWS job lists')}</p>"
        f"<h1>UWS job list {escape(job_list.name)}</h1>"
        f"<p>Jobs of the profile <code>{escape(job_list.profile)}</code> that you may see.</p>"
        f'<form method=get action="{escape(html.by_path(listed))}" class=uws-filter>'
        f"<p>{boxes}<button type=submit>Filter</button></p></form>"
        + (
            "<table class=uws-jobs><tr><th>job</th><th>phase</th><th>run id</th><th>owner</th>"
            f"<th>created</th><th></th></tr>{rows}</table>"
            if rows
            else "<p class=muted>No jobs.</p>"
        )
        + "<p class=muted>This page is for people; UWS clients get the UWS 1.1 XML document "
        "at the same URL (<code>Accept: application/xml</code>).</p>"
    )
    return html.page(f"UWS job list {job_list.name}", body)
