"""The home page: what this server holds, as the visitor may see it, and where to go.

Counts (messages, those stored with warnings, producers, jobs by phase) and the latest
messages are those the visitor may see: the visibility filter of `/messages` over the
messages (`Policy.sparql_filter`) and the policy's job filter over the jobs
(`Policy.job_filter`), so an anonymous visitor counts only public things. The search box
is a GET form to `/search`. No filesystem path shows; the administrator sees which store
this is. HTML for people; JSON (`Accept: application/json`, or `/index.json`) says the
same counts. Where every read needs a login (`read_login`), an anonymous visitor sees no
count and no message: only the way in and what the server offers (`/index.json`: 401).

The SPARQL is in `queries/internal/browse-{counts,jobs,latest}.rq`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html import escape
from typing import Any

from jobtrail.bindings.linkeddata.indexes import FORMATS, search_form, solutions, sparql, split
from jobtrail.jobs.visibility import Policy, Role, Viewer
from jobtrail.store import Store
from jobtrail.web import conneg, html
from jobtrail.web.labels import labels, moment, vocab_label
from jobtrail.web.requests import viewer_of
from jobtrail.web.resources import respond
from jobtrail.web.state import AppRequest
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

LATEST = 8
"""How many of the latest messages the home page shows."""


@dataclass
class Hop:
    iri: str
    stored: str | None
    generated: str | None
    agent: str | None


@dataclass
class Summary:
    """What the home page says, as the visitor may see it."""

    messages: int = 0
    warnings: int = 0
    producers: int = 0
    jobs: dict[str, int] = field(default_factory=dict)  # phase IRI → count
    latest: list[Hop] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    queries: bool = False  # may the visitor run the named queries (the whole store)?

    @property
    def total_jobs(self) -> int:
        return sum(self.jobs.values())

    def as_json(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "messagesWithWarnings": self.warnings,
            "producers": self.producers,
            "jobs": self.total_jobs,
            "jobsByPhase": {
                vocab_label(p) or p.rpartition("/")[2]: n for p, n in sorted(self.jobs.items())
            },
            "latest": [
                {
                    "message": h.iri,
                    "label": self.labels.get(h.iri),
                    "producer": h.agent,
                    "producerLabel": self.labels.get(h.agent or ""),
                    "time": h.generated or h.stored,
                }
                for h in self.latest
            ],
        }


def summary(store: Store, policy: Policy, viewer: Viewer, base: str) -> Summary:
    """The counts and the latest messages, within what `viewer` may see."""
    hide = policy.sparql_filter(viewer)
    out = Summary()
    for row in solutions(store, sparql("counts").replace("#HIDE", hide)):
        setattr(out, row["what"], int(row.get("n", "0")))
    jobs = sparql("jobs").replace("#JOBS", policy.job_filter(viewer))
    out.jobs = {row["phase"]: int(row["n"]) for row in solutions(store, jobs)}
    latest = sparql("latest").replace("#HIDE", hide).replace("#LIMIT", str(LATEST))
    for row in solutions(store, latest):
        if out.latest and out.latest[-1].iri == row["m"]:
            continue  # a message attributed twice: once is enough here
        out.latest.append(Hop(row["m"], row.get("stored"), row.get("generated"), row.get("agent")))
    iris = [h.iri for h in out.latest] + [h.agent for h in out.latest if h.agent]
    out.labels = labels(store, policy, viewer, base, iris)
    out.queries = policy.sees_whole_store(viewer)
    return out


def _count(label: str, n: int, href: str | None = None) -> str:
    value = html.link(href, f"{n:,}") if href else f"{n:,}"
    return f"<div><dt>{escape(label)}</dt><dd>{value}</dd></div>"


def page(s: Summary, links: list[tuple[str, str]], base: str, store: str | None) -> str:
    counts = [
        _count("messages", s.messages, "/messages.html"),
        _count("with warnings", s.warnings, "/queries/warnings" if s.queries else None),
        _count("producers", s.producers, "/producers.html"),
        _count("jobs", s.total_jobs, "/jobs"),
    ]
    counts += [
        _count(f"jobs {vocab_label(p) or p.rpartition('/')[2]}", n)
        for p, n in sorted(s.jobs.items())
    ]
    rows = "".join(
        f"<tr><td class=when>{escape(moment(h.generated or h.stored or ''))}</td>"
        f"<td>{html.iri(h.iri, label=s.labels.get(h.iri), base=base)}</td>"
        f"<td>{html.iri(h.agent, label=s.labels.get(h.agent), base=base) if h.agent else '—'}</td>"
        "</tr>"
        for h in s.latest
    )
    latest = (
        "<table class=latest><tr><th class=when>time</th><th>message</th><th>producer</th></tr>"
        f"{rows}</table>"
        if rows
        else "<p class=muted>No message you may see is stored yet.</p>"
    )
    items = "".join(f"<li>{html.link(href)} — {escape(text)}</li>" for href, text in links)
    where = f" It serves the {escape(store)}." if store else ""
    body = (
        "<h1>jobtrail</h1><p>A linked-data job repository and provenance store: the messages "
        f"producers send as a package moves, and the jobs run on it.{where}</p>"
        f"{search_form()}<dl class=counts>{''.join(counts)}</dl>"
        "<p>Browse: "
        + " · ".join(
            html.link(h, t)
            for h, t in (
                ("/messages.html", "messages"),
                ("/producers.html", "producers"),
                ("/references.html", "references"),
                ("/uuids.html", "UUIDs"),
                ("/jobs", "jobs"),
            )
        )
        + f"</p><h2>Latest messages</h2>{latest}<h2>Everything this server offers</h2>"
        f"<ul>{items}</ul>"
    )
    return html.page("jobtrail", body)


def login_page(links: list[tuple[str, str]]) -> str:
    """The home page where every read needs a login (`read_login`): no count, no message."""
    items = "".join(f"<li>{html.link(href)} — {escape(text)}</li>" for href, text in links)
    body = (
        "<h1>jobtrail</h1><p>A linked-data job repository and provenance store. Reading here "
        "needs a login: HTTP Basic credentials, <code>?pass=</code> or a Bearer token.</p>"
        f"<h2>Everything this server offers</h2><ul>{items}</ul>"
    )
    return html.page("jobtrail", body)


async def home(request: AppRequest) -> Response:
    """The home page: what this server holds (as the visitor may see it) and where to go."""
    _, chosen = split(request, "/", "/index")
    fmt = chosen or conneg.negotiate(request.headers.get("accept"), FORMATS, conneg.HTML)
    engine = request.state["engine"]
    viewer = viewer_of(request)
    base = engine.config.base_url
    links = [
        *request.app.state.links,
        ("/openapi", "the API: every route, its parameters and answers (Swagger UI)"),
        ("/openapi.json", "OpenAPI description of every route"),
    ]
    if viewer.role is Role.ANONYMOUS and engine.visibility.read_login:
        if fmt is not conneg.HTML:  # the counts are a read like any other
            engine.visibility.check_reader(viewer)
        return respond(request, login_page(links).encode(), fmt, path="/index", formats=FORMATS)
    s = await run_in_threadpool(summary, engine.store, engine.visibility, viewer, base)
    if fmt is conneg.HTML:
        store = engine.store.description if viewer.role is Role.ADMIN else None
        body = page(s, links, base, store).encode()
    else:
        body = json.dumps(s.as_json(), indent=2, ensure_ascii=False).encode()
    return respond(request, body, fmt, path="/index", formats=FORMATS, negotiated=chosen is None)
