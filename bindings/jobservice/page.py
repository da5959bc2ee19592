"""The job page: a job as the people at the screen read it (`GET /jobs/{id}` asking for HTML).

One page in every phase: its status (the phase's label and definition from the status
vocabulary, refreshing while the job runs), its input, profile and parameters, its times,
its owner, its results (each file with its size and SHA-256, from the ORE aggregation), its
error in full, its history (every change record: when, what, by whom), the actions the
caller may take (abort while it runs, delete: forms that POST to the job), and where else
it reads: each binding's view of it (`Binding.job_views`) and its resource map.
A deleted job's page is its history.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from importlib import resources
from typing import Any

import pyoxigraph as ox
from jobtrail.base import nt
from jobtrail.base.terms import DCTERMS, JT, ORE, SCHEMA
from jobtrail.jobs.core import Job
from jobtrail.jobs.executions import change_body
from jobtrail.store import Store
from jobtrail.vocab import status
from jobtrail.web import html

_HISTORY = (resources.files("jobtrail.bindings.jobservice") / "history.rq").read_text("utf-8")
ACTIONS = ("abort", "delete")
"""What the page's forms ask of a job (`action=` POSTed to the job's IRI)."""


@dataclass(frozen=True)
class Record:
    """One change of a job, as its change record says."""

    iri: str  # the record: a message
    sequence: int
    kind: str  # created, phase, updated, deleted, destroyed
    by: str
    at: datetime
    source: str | None = None  # the phase before
    target: str | None = None  # the phase after
    request: str | None = None  # what was asked, in short: "POST /jobs", "mcma: cancel"
    error: str | None = None
    failure: tuple[str, str] | None = None  # the error it recorded: (type, message)


@dataclass(frozen=True)
class ResultFile:
    iri: str
    title: str
    media_type: str | None
    size: int | None
    sha256: str | None

    @property
    def name(self) -> str:
        return self.iri.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Results:
    files: Sequence[ResultFile]
    summary: str | None = None
    expires: str | None = None


@dataclass(frozen=True)
class View:
    """What the job page shows of one job to one caller."""

    job: Job
    history: Sequence[Record]
    results: Results | None
    views: Sequence[tuple[str, str]]  # (label, URL): each binding's view, the trace
    may_change: bool  # the caller may abort or delete it
    refresh: int | None  # seconds: it runs, the page reloads itself
    profile_iri: str
    now: datetime
    credential: str = ""  # `pass=…` when the caller came with one: links here and forms carry it
    note: str = ""  # HTML under its status: a memento says which version it is (memento.py)
    unknown: frozenset[str] = frozenset()  # Job fields not known of this version (versions.py)

    def here(self, url: str) -> str:
        """A URL of this server, with the caller's `?pass=` when they came with one."""
        if not self.credential:
            return url
        return f"{url}{'&' if '?' in url else '?'}{self.credential}"


# --- reading ---------------------------------------------------------------------------


def history(store: Store, iri: str) -> list[Record]:
    """The job's change records, first first (they outlive the job)."""
    rows = store.query(_HISTORY.replace("#JOB", nt.iri(iri)))
    out = []
    for row in rows:  # type: ignore[union-attr]
        text = row["text"].value if row["text"] is not None else ""
        record = change_body(text)
        error = record.get("error")
        out.append(
            Record(
                iri=row["m"].value,
                sequence=int(row["seq"].value),
                kind=row["kind"].value,
                by=row["by"].value,
                at=_when(row["at"].value),
                source=_phase(row["from"]),
                target=_phase(row["to"]),
                request=_request(record.get("request")),
                error=(
                    f"{error.get('type', 'error')}: {error.get('message', '')}"
                    if isinstance(error, dict)
                    else None
                ),
                failure=(
                    (str(error.get("type", "JobFailed")), str(error.get("message", "")))
                    if isinstance(error, dict)
                    else None
                ),
            )
        )
    return out


def results(triples: Sequence[ox.Triple], aggregation: str) -> Results:
    """The files an aggregation aggregates, with what it says of each."""
    facts: dict[str, dict[str, str]] = {}
    aggregated: list[str] = []
    for t in triples:
        if isinstance(t.subject, ox.Triple) or isinstance(t.object, ox.Triple):
            continue
        facts.setdefault(t.subject.value, {}).setdefault(t.predicate.value, t.object.value)
        if t.subject.value == aggregation and t.predicate.value == f"{ORE}aggregates":
            aggregated.append(t.object.value)
    files = []
    for iri in sorted(aggregated):
        about = facts.get(iri, {})
        size = about.get(str(JT.byteSize))
        files.append(
            ResultFile(
                iri=iri,
                title=about.get(f"{DCTERMS}title") or iri.rsplit("/", 1)[-1],
                media_type=about.get(f"{DCTERMS}format"),
                size=int(size) if size is not None and size.isdigit() else None,
                sha256=about.get(str(JT.sha256)),
            )
        )
    mine = facts.get(aggregation, {})
    return Results(files, mine.get(f"{DCTERMS}description"), mine.get(f"{SCHEMA}expires"))


def _phase(term: Any) -> str | None:
    return str(term.value).rsplit("/", 1)[-1] if term is not None else None


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _request(request: Any) -> str | None:
    """What a change's request asked, in a few words."""
    if not isinstance(request, dict):
        return None
    if isinstance(request.get("method"), str) and isinstance(request.get("path"), str):
        asked = f"{request['method']} {request['path']}"
        action = request.get("action")
        return f"{asked} (action={action})" if isinstance(action, str) else asked
    said = [f"{k}: {v}" for k, v in sorted(request.items()) if isinstance(v, str | int | float)]
    return "; ".join(said)[:200] or None


# --- writing ---------------------------------------------------------------------------


def page(view: View) -> str:
    job = view.job
    label, definition = _status(job.phase)
    head = f'<meta http-equiv=refresh content="{view.refresh}">' if view.refresh else ""
    refreshing = (
        f" <span class=muted>(this page reloads every {view.refresh} s while the job runs)</span>"
        if view.refresh
        else ""
    )
    own = f" <span class=muted>({escape(job.status_value)})</span>" if job.status_value else ""
    body = (
        f"<h1>Job {escape(job.id)}</h1>"
        f'<p class="job-status phase-{escape(job.phase.lower())}"><b>{escape(label)}</b>{own}'
        f" — {escape(definition)}{refreshing}</p>"
        + view.note
        + _actions(view)
        + _about(view)
        + _error(job)
        + _results(view)
        + _history(view.history, view.here)
        + _elsewhere(view)
    )
    return html.page(f"Job {job.id}", f"<div class=job-page>{body}</div>", head=head)


def deleted_page(job_id: str, iri: str, records: Sequence[Record]) -> str:
    """A deleted job: its state and results are gone, its history is kept."""
    last = records[-1] if records else None
    when = f" on {_time(last.at)} by {escape(last.by)}" if last is not None else ""
    body = (
        f"<h1>Job {escape(job_id)}</h1>"
        f'<p class="job-status phase-deleted"><b>DELETED</b> — this job was deleted{when}: '
        "its state and results are gone; its history is kept.</p>"
        + _history(records)
        + f"<p class=muted>Its change records are the messages <code>jt:about</code> "
        f"{html.link(iri)}; it reads as it was at any time before its deletion: "
        f"{html.link(f'{iri}/timemap.html', 'every version')} (Memento).</p>"
    )
    return html.page(f"Job {job_id} (deleted)", f"<div class=job-page>{body}</div>")


def _status(phase: str) -> tuple[str, str]:
    try:
        return status.describe("uws", phase)
    except ValueError:  # InputError: not a UWS phase (never, for a stored job)
        return phase, ""


def _actions(view: View) -> str:
    if not view.may_change:
        return ""
    job = view.job
    target = view.here(job.iri)
    forms = ""
    if job.active:
        forms += _form(target, "abort", "Abort", "stop it: it ends ABORTED")
    forms += _form(target, "delete", "Delete", "remove it and its results; its history stays")
    return f"<section class=job-actions><h2>Actions</h2>{forms}</section>"


def _form(target: str, action: str, label: str, note: str) -> str:
    href = html.by_path(html.safe_href(target) or "")
    return (
        f'<form method=post action="{escape(href)}">'
        f'<input type=hidden name=action value="{action}">'
        f"<button type=submit name=do value={action}>{escape(label)}</button> "
        f"<span class=muted>{escape(note)}</span></form>"
    )


_UNRECORDED = "<span class=muted>not recorded for this version</span>"


def _about(view: View) -> str:
    job, unknown = view.job, view.unknown
    rows: list[tuple[str, str]] = [
        (
            "profile",
            _UNRECORDED
            if "profile" in unknown
            else html.link(view.here(view.profile_iri), job.profile),
        ),
        (
            "input",
            _UNRECORDED
            if "input" in unknown
            else html.link(job.input)
            if job.input
            else "<span class=muted>none</span>",
        ),
    ]
    if "parameters" in unknown:
        rows.append(("parameters", _UNRECORDED))
    elif job.parameters:
        rows.append(("parameters", _parameters(job)))
    rows.append(("owner", escape(job.owner or "anonymous (no owner)")))
    if job.run_id:
        rows.append(("run id", escape(job.run_id)))
    if job.priority:
        rows.append(("priority", escape(job.priority)))
    if job.price is not None:
        rows.append(("price", escape(f"{job.price:g}")))
    rows.append(("created", _time(job.created)))
    rows.append(
        ("started", _time(job.started) if job.started else "<span class=muted>not yet</span>")
    )
    if job.ended:
        rows.append(("ended", _time(job.ended)))
    if job.started:
        running = "" if job.ended else " so far"
        rows.append(
            ("duration", escape(_duration((job.ended or view.now) - job.started) + running))
        )
    limit = f"{job.execution_duration:,} s" if job.execution_duration else "unlimited"
    rows.append(("time allowed", _UNRECORDED if "execution_duration" in unknown else escape(limit)))
    if job.due:
        rows.append(("deadline", _time(job.due)))
    if job.destruction:
        rows.append(("results deleted after", _time(job.destruction)))
    table = "".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<h2>About</h2><table class=job-about>{table}</table>"


def _parameters(job: Job) -> str:
    rows = "".join(
        f"<tr><td><code>{escape(k)}</code></td><td><code>"
        f"{escape(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))}"
        "</code></td></tr>"
        for k, v in job.parameters.items()
    )
    return f"<table class=job-parameters>{rows}</table>"


def _error(job: Job) -> str:
    if job.error is None:
        return ""
    hint = f"<p>{escape(job.error.hint)}</p>" if job.error.hint else ""
    return (
        f"<section class=job-error><h2>Error: {escape(job.error.type)}</h2>"
        f"<pre>{escape(job.error.message)}</pre>{hint}</section>"
    )


def _results(view: View) -> str:
    job, found = view.job, view.results
    if found is None:
        if job.phase == "COMPLETED":
            return "<h2>Results</h2><p class=muted>This job made no result files here.</p>"
        return ""
    rows = "".join(
        f"<tr><td>{html.link(view.here(f.iri), f.name)}{_title(f)}</td>"
        f"<td>{escape(f.media_type or '?')}</td>"
        f"<td class=size>{escape(_size(f.size))}</td>"
        f"<td><code class=digest>{escape(f.sha256 or '')}</code></td></tr>"
        for f in found.files
    )
    summary = f"<p>{escape(found.summary)}</p>" if found.summary else ""
    expires = (
        f"<p class=muted>They are deleted after {_stamp(found.expires)}.</p>"
        if found.expires
        else ""
    )
    table = (
        "<table class=job-results><tr><th>file</th><th>type</th><th>size</th>"
        f"<th>SHA-256</th></tr>{rows}</table>"
        if rows
        else "<p class=muted>No result files.</p>"
    )
    described = html.link(view.here(f"{job.iri}.html"), "the resource map (OAI-ORE)")
    return f"<h2>Results</h2>{summary}{table}{expires}<p>As linked data: {described}.</p>"


def _title(f: ResultFile) -> str:
    return f"<br><span class=muted>{escape(f.title)}</span>" if f.title != f.name else ""


def _history(records: Sequence[Record], here: Callable[[str], str] = str) -> str:
    if not records:
        return ""
    rows = ""
    for r in records:
        what = escape(r.kind)
        if r.source and r.target:
            what += f": {escape(r.source)} → {escape(r.target)}"
        elif r.target:
            what += f": {escape(r.target)}"
        if r.request:
            what += f"<br><span class=muted>{escape(r.request)}</span>"
        if r.error:
            what += f"<pre>{escape(r.error)}</pre>"
        rows += (
            f"<tr><td>{_time(r.at)}</td><td>{what}</td><td>{escape(r.by)}</td>"
            f"<td>{html.link(here(r.iri), f'#{r.sequence}')}</td></tr>"
        )
    return (
        "<h2>History</h2><table class=job-history><tr><th>when</th><th>what</th><th>by</th>"
        f"<th>record</th></tr>{rows}</table>"
    )


def _elsewhere(view: View) -> str:
    return _links("Elsewhere", [(label, view.here(url)) for label, url in view.views])


def _links(title: str, views: Sequence[tuple[str, str]]) -> str:
    if not views:
        return ""
    items = "".join(f"<li>{html.link(url, label)}</li>" for label, url in views)
    return f"<h2>{escape(title)}</h2><ul class=job-views>{items}</ul>"


def show_time(when: datetime) -> str:
    """`when` as the page shows a time: a `<time>` to the second, in UTC."""
    return _time(when)


def _time(when: datetime) -> str:
    text = when.isoformat(timespec="seconds").replace("+00:00", "Z")
    return f'<time datetime="{escape(text)}">{escape(text.replace("T", " "))}</time>'


def _stamp(text: str) -> str:
    """A stored xsd:dateTime as `_time` shows it (as it is, if it does not read as one)."""
    try:
        return _time(_when(text))
    except ValueError:
        return escape(text)


def _duration(delta: timedelta) -> str:
    seconds = max(delta.total_seconds(), 0.0)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def _size(size: int | None) -> str:
    if size is None:
        return "?"
    if size < 1024:
        return f"{size:,} bytes"
    value, unit = size / 1024, "KiB"
    for bigger in ("MiB", "GiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.1f} {unit} ({size:,} bytes)"
