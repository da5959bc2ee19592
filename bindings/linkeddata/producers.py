"""A producer as of any time (Memento, RFC 7089): its history is the messages it made.

    GET /producers/{…} with Accept-Datetime     the TimeGate: 302 to the version current then
    GET /producers/{…}/versions/{message}[.ext] a memento: the producer as of the message it
                                                made (its description, and that message)
    GET /producers/{…}/timemap[.link|.json|.html]  the TimeMap, 1,000 versions a page

A producer's state changes each time it makes a message, so each message it made is a
version of it, named by the message (`{producer}/versions/{sha256}`: the same for every
reader, where a count would differ with what each may see). Only the messages the reader may
see count (`Policy.sparql_filter`, as `/producers` counts them); a message's time is when it
was made, else when it was stored. Every read is a query with a LIMIT over the producer's
messages, so a producer of millions answers without listing them (the TimeMap in pages).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from html import escape
from importlib.resources import files
from typing import Any

import pyoxigraph as ox
from jobtrail.base import nt
from jobtrail.base.errors import InputError, NotFound
from jobtrail.base.terms import DCTERMS, JT, PROV
from jobtrail.store import Store
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
from jobtrail.web.requests import int_param, viewer_of
from jobtrail.web.resources import respond
from jobtrail.web.state import AppRequest
from starlette.concurrency import run_in_threadpool
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
PAGE = 1000
"""Versions a TimeMap page lists."""
_FIRST = "ORDER BY ?t STR(?m) LIMIT 1"
_LAST = "ORDER BY DESC(?t) DESC(STR(?m)) LIMIT 1"


@cache
def _sparql() -> str:
    text = (files("jobtrail.queries") / "internal" / "producer-versions.rq").read_text("utf-8")
    return "\n".join(line for line in text.splitlines() if not line.startswith("# "))


def _when(value: datetime) -> str:
    return nt.datetime_lit(value)


@dataclass(frozen=True)
class Producer:
    """A producer the reader may see, and what it takes to ask for its messages."""

    iri: str
    triples: list[ox.Triple]
    prefix: str  # the messages' IRIs: {base}messages/
    hide: str  # the visibility filter over ?m
    store: Store

    def versions(self, where: str = "", order: str = _FIRST) -> list[Memento]:
        """Its messages (as versions) meeting `where`, in `order` (with its LIMIT)."""
        text = (
            _sparql()
            .replace("#PRODUCER", f"<{self.iri}>")
            .replace("#HIDE", self.hide)
            .replace("#WHERE", f"&& STRSTARTS(STR(?m), {nt.lit(self.prefix)}) {where}")
            .replace("#ORDER", order)
        )
        return [self.version(m, t) for m, t in _rows(self.store, text)]

    def version(self, message: str, at: datetime) -> Memento:
        return Memento(f"{self.iri}/versions/{message.removeprefix(self.prefix)}", at)

    def message(self, version: Memento) -> str:
        return self.prefix + version.uri.rsplit("/", 1)[-1]

    def around(self, v: Memento) -> tuple[Memento | None, Memento | None]:
        """The versions just before and after `v` (by time, then message IRI)."""
        t, m = _when(v.at), nt.lit(self.message(v))
        before = self.versions(f"&& (?t < {t} || (?t = {t} && STR(?m) < {m}))", _LAST)
        after = self.versions(f"&& (?t > {t} || (?t = {t} && STR(?m) > {m}))", _FIRST)
        return (before[0] if before else None), (after[0] if after else None)


def _rows(store: Store, text: str) -> list[tuple[str, datetime]]:
    result = store.query(text)
    assert isinstance(result, ox.QuerySolutions)
    out = []
    for row in result:
        value = row["t"].value
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
        out.append((row["m"].value, at))
    return out


def _producer(request: AppRequest, path: str) -> Producer:
    """The producer at `path`, if it is one and the reader may see it (401/403 else)."""
    engine = request.state["engine"]
    base = engine.config.base_url
    iri = base + path.lstrip("/")
    if nt.checked_iri(iri) is None:
        raise NotFound(f"nothing is stored at {path!r}: it makes no valid IRI")
    triples = engine.store.read(iri)
    kind = ox.Triple(ox.NamedNode(iri), ox.NamedNode(RDF_TYPE), ox.NamedNode(f"{JT}Producer"))
    if kind not in triples:
        raise NotFound(
            f"there is no producer at {path}",
            hint="see /producers; a job's versions are at /jobs/{id}/timemap",
        )
    viewer = viewer_of(request)
    policy = engine.visibility
    if not policy.may_see(viewer, policy.owners_of(iri, triples)):
        raise policy.refuse(viewer, iri)
    hide = policy.sparql_filter(viewer)
    return Producer(iri, triples, f"{base}messages/", hide, engine.store)


def _ends(p: Producer) -> tuple[Memento, Memento]:
    first, last = p.versions(order=_FIRST), p.versions(order=_LAST)
    if not first or not last:
        raise NotFound(
            f"{p.iri} made no message you may read: it has no versions",
            hint="its versions are the messages it made",
        )
    return first[0], last[0]


def _timemap_iri(p: Producer) -> str:
    return f"{p.iri}/timemap"


def _links(p: Producer, first: Memento, last: Memento, v: Memento | None) -> str:
    before, after = p.around(v) if v is not None else (None, None)
    return link_header(p.iri, _timemap_iri(p), first, last, memento=v, prev=before, next=after)


# --- the TimeGate ---------------------------------------------------------------------------


async def timegate(request: AppRequest, path: str) -> Response:
    """`GET /producers/{…}` with Accept-Datetime: 302 to its version current then."""
    when = accept_datetime(request)
    assert when is not None

    def find() -> tuple[Producer, Memento, Memento, Memento | None]:
        p = _producer(request, path)
        first, last = _ends(p)
        until = _when(when + timedelta(seconds=1))  # to the second: one made in it counts
        found = p.versions(f"&& ?t < {until}", _LAST)
        return p, first, last, (found[0] if found else None)

    p, first, last, chosen = await run_in_threadpool(find)
    if chosen is None:
        raise NotFound(
            f"{p.iri} had made no message you may read by {http_date(when)}: its first "
            f"was made at {http_date(first.at)}",
            hint=f"ask for a later time; its versions: {_timemap_iri(p)}",
            details={"first": http_date(first.at)},
        )
    links = await run_in_threadpool(_links, p, first, last, chosen)
    return PlainTextResponse(
        f"{p.iri} as of {http_date(when)}: {chosen.uri}\n",
        302,
        {"Location": chosen.uri, "Vary": "accept-datetime", "Link": links},
    )


# --- a memento ---------------------------------------------------------------------------------


async def memento(request: AppRequest) -> Response:
    """The producer as of one of its messages: its description and that message."""
    path, chosen = conneg.split_extension(request.url.path)
    producer_path, _, name = path.rpartition("/versions/")
    if not name or "/" in name or nt.checked_iri(f"http://h/{name}") is None:
        raise InputError(f"a producer's version is named by a message, not {name[:40]!r}")
    if chosen is not None and chosen not in FORMATS:
        raise NotFound(f"a version is offered as {', '.join(str(f.extension) for f in FORMATS)}")

    def find() -> tuple[Producer, Memento, Memento, Memento, str]:
        p = _producer(request, producer_path)
        found = p.versions(f"&& ?m = <{p.prefix}{name}>", _FIRST)
        if not found:
            raise NotFound(
                f"{p.iri} has no version {name}: no message you may read of that name is its",
                hint=f"its versions: {_timemap_iri(p)}",
            )
        first, last = _ends(p)
        return p, first, last, found[0], _links(p, first, last, found[0])

    p, first, last, v, links = await run_in_threadpool(find)
    fmt = chosen or conneg.negotiate(request.headers.get("accept"), FORMATS, conneg.TURTLE)
    base = request.state["engine"].config.base_url
    triples = _triples(p, v)
    if fmt is conneg.HTML:
        body = _page(p, v, triples, base).encode()
    else:
        body = render.rdf(triples, fmt, base=base)
    response = respond(
        request, body, fmt, path=path, formats=FORMATS, modified=v.at, negotiated=chosen is None
    )
    response.headers["Memento-Datetime"] = http_date(v.at)
    response.headers["Link"] = f"{links}, {response.headers['Link']}"
    return response


def _triples(p: Producer, v: Memento) -> list[ox.Triple]:
    m, r, message = ox.NamedNode(v.uri), ox.NamedNode(p.iri), ox.NamedNode(p.message(v))
    at = ox.Literal(v.at.isoformat().replace("+00:00", "Z"), datatype=ox.NamedNode(nt.XSD_DATETIME))
    return [
        *p.triples,
        ox.Triple(m, ox.NamedNode(RDF_TYPE), ox.NamedNode(f"{PROV}Entity")),
        ox.Triple(m, ox.NamedNode(f"{PROV}specializationOf"), r),
        ox.Triple(m, ox.NamedNode(f"{DCTERMS}isVersionOf"), r),
        ox.Triple(m, ox.NamedNode(f"{PROV}generatedAtTime"), at),
        ox.Triple(m, ox.NamedNode(f"{PROV}wasDerivedFrom"), message),
        ox.Triple(message, ox.NamedNode(f"{PROV}wasAttributedTo"), r),
    ]


def _page(p: Producer, v: Memento, triples: list[ox.Triple], base: str) -> str:
    rows = "".join(
        f"<tr><th>{html.term(t.predicate, base)}</th><td>{html.term(t.object, base)}</td></tr>"
        for t in sorted(p.triples, key=lambda t: (t.predicate.value, str(t.object)))
        if t.subject == ox.NamedNode(p.iri)
    )
    body = (
        f"<h1>{escape(html.short_iri(p.iri, base))} as of {escape(http_date(v.at))}</h1>"
        f"<p class=memento>The producer as it was when it made "
        f"{html.link(p.message(v))} (Memento): "
        f"{html.link(p.iri, 'the producer now')} · "
        f"{html.link(f'{_timemap_iri(p)}.html', 'every version')}</p>"
        f"<table class=properties>{rows}</table>"
    )
    return html.page(f"{p.iri} as of {http_date(v.at)}", body)


# --- the TimeMap -----------------------------------------------------------------------------


async def timemap(request: AppRequest) -> Response:
    """Every version, a page of PAGE at a time (`?page=`): link format, JSON or HTML."""
    path = request.url.path
    chosen = next((f for f in TIMEMAP_FORMATS if path.endswith(str(f.extension))), None)
    if chosen is not None:
        path = path[: -len(str(chosen.extension))]
    elif "ext" in request.path_params:
        raise NotFound(
            f"a TimeMap is offered as {', '.join(str(f.extension) for f in TIMEMAP_FORMATS)}"
        )
    number = int_param(request, "page", 1, 1, 10**9)

    def find() -> tuple[Producer, Memento, Memento, list[Memento]]:
        p = _producer(request, path.removesuffix("/timemap"))
        first, last = _ends(p)
        window = f"LIMIT {PAGE + 1} OFFSET {(number - 1) * PAGE}"
        listed = p.versions(order=f"ORDER BY ?t STR(?m) {window}")
        return p, first, last, listed

    p, first, last, listed = await run_in_threadpool(find)
    if number > 1 and not listed:
        raise NotFound(f"there is no page {number} of {_timemap_iri(p)}")
    more, listed = len(listed) > PAGE, listed[:PAGE]
    fmt = chosen or conneg.negotiate(request.headers.get("accept"), TIMEMAP_FORMATS, LINK_FORMAT)
    here = _timemap_iri(p)
    pages = [("prev", number - 1)] if number > 1 else []
    pages += [("next", number + 1)] if more else []
    paging = [
        f'<{here}?page={n}>; rel="{rel}"; type="{LINK_FORMAT.media_type}"' for rel, n in pages
    ]
    if fmt is JSON:
        data: dict[str, Any] = {
            "original_uri": p.iri,
            "timegate_uri": p.iri,
            "timemap_uri": {"link_format": here, "json_format": f"{here}.json"},
            "mementos": {
                "first": {"uri": first.uri, "datetime": http_date(first.at)},
                "last": {"uri": last.uri, "datetime": http_date(last.at)},
                "list": [
                    {"uri": m.uri, "datetime": http_date(m.at), "message": p.message(m)}
                    for m in listed
                ],
            },
            "pages": {rel: f"{here}.json?page={n}" for rel, n in pages},
        }
        body = json.dumps(data, indent=2).encode()
    elif fmt is conneg.HTML:
        body = _timemap_page(p, listed, pages, request.state["engine"].config.base_url).encode()
    else:
        body = link_format(p.iri, here, listed, first, last, more=paging).encode()
    response = respond(
        request, body, fmt, path=path, formats=TIMEMAP_FORMATS, negotiated=chosen is None
    )
    response.headers["Link"] = ", ".join(
        [f'<{p.iri}>; rel="original timegate"', *paging, response.headers["Link"]]
    )
    return response


def _timemap_page(
    p: Producer, listed: list[Memento], pages: list[tuple[str, int]], base: str
) -> str:
    rows = "".join(
        f"<tr><td>{html.link(m.uri, http_date(m.at))}</td>"
        f"<td>{html.link(p.message(m), html.short_iri(p.message(m), base))}</td></tr>"
        for m in listed
    )
    nav = " ".join(html.link(f"{_timemap_iri(p)}.html?page={n}", rel) for rel, n in pages)
    body = (
        f"<h1>Versions of {escape(html.short_iri(p.iri, base))}</h1>"
        f"<p>{html.link(p.iri, 'The producer')} as of each message it made that you may read "
        "(its TimeMap, RFC 7089). Ask the producer itself with an <code>Accept-Datetime</code> "
        "header for the version current at a time.</p>"
        "<table class=producer-versions><tr><th>version</th><th>its message</th></tr>"
        f"{rows}</table><nav>{nav}</nav>"
    )
    return html.page(f"Versions of {p.iri}", body)


def routes() -> list[BaseRoute]:
    methods = ["GET", "HEAD"]
    return [
        Route("/producers/{rest:path}/versions/{name}", memento, methods=methods),
        Route("/producers/{rest:path}/timemap", timemap, methods=methods),
        Route("/producers/{rest:path}/timemap.{ext}", timemap, methods=methods),
    ]


__all__ = ["FORMATS", "TIMEMAP_FORMATS", "memento", "routes", "timegate", "timemap"]
