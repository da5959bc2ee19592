"""GET /messages: the stored messages, newest first, as a paged Atom feed (RFC 4287, RFC 5005).

Atom is the default (the usual format of a list of entries); every RDF format and HTML are
offered by negotiation or extension (/messages.ttl, /messages.html …), all taking the same
filters and order (`filters.py`; the HTML page adds facet counts, `facets.py`). Default order:
jt:storedAt, then prov:generatedAtTime, both newest first, then the message IRI
(so the order is total and pages never overlap). Pages: `?page=N` (from 1) and
`?size=S` (default the `page_size` setting, at most MAX_SIZE); each page links
to the first, last, previous and next pages (in the feed and in the HTTP Link
header), its filters kept. Every page has the same atom:id, the feed's IRI (with its
filters), as RFC 5005 asks of paged feeds."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pyoxigraph as ox
from jobtrail.base.errors import NotFound
from jobtrail.base.terms import DCTERMS, JT, PROV, RDF
from jobtrail.bindings.linkeddata.facets import read_facets
from jobtrail.bindings.linkeddata.feed_html import to_html
from jobtrail.bindings.linkeddata.feed_page import Item, Page, read_page
from jobtrail.bindings.linkeddata.filters import read
from jobtrail.bindings.linkeddata.messages import post
from jobtrail.store import Store
from jobtrail.web import atom, conneg, html, render
from jobtrail.web.requests import int_param, viewer_of
from jobtrail.web.resources import respond
from jobtrail.web.state import AppRequest
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

DEFAULT_SIZE = 50
MAX_SIZE = 1000
FORMATS: tuple[conneg.Format, ...] = (conneg.ATOM, *conneg.RDF_FORMATS, conneg.HTML)
IANA = "http://www.iana.org/assignments/relation/"


# ------------------------------------------------------------------ representations


def to_atom(page: Page) -> bytes:
    entries = []
    for item in page.items:
        links = [atom.Link(item.iri)]
        links += [
            atom.Link(f"{item.iri}{f.extension}", "alternate", f.media_type, f.label)
            for f in conneg.RDF_FORMATS  # not HTML: feed readers would take it for *the* link
            if f.extension
        ]
        authors = [atom.Person(item.producer_name, item.producer)] if item.producer_name else []
        entries.append(
            atom.Entry(
                id=item.iri,
                title=item.title,
                updated=item.updated,
                published=item.generated,
                links=links,
                authors=authors,
                categories=[atom.Category(t, label=html.short(t)) for t in sorted(item.types)],
            )
        )
    links = [atom.Link(page.url(page.number), "self", conneg.ATOM.media_type)]
    links += [atom.Link(page.url(n), rel, conneg.ATOM.media_type) for rel, n in page.paging()]
    links += [
        atom.Link(page.url(page.number, f.extension), "alternate", f.media_type, f.label)
        for f in FORMATS
        if f.extension and f is not conneg.ATOM
    ]
    feed = atom.Feed(
        id=page.feed_iri,
        title=page.title,
        subtitle=f"{page.total} messages, {page.order}; page {page.number} of {page.last}",
        updated=page.newest or datetime.now(UTC),
        links=links,
        authors=[atom.Person("jobtrail", page.base)],
        entries=entries,
    )
    return atom.write(feed)


def to_triples(page: Page) -> list[ox.Triple]:
    feed = ox.NamedNode(page.feed_iri)
    here = ox.NamedNode(page.url(page.number))
    rdf_type = ox.NamedNode(str(RDF.type))
    triples = [
        ox.Triple(feed, rdf_type, ox.NamedNode(str(PROV.Collection))),
        ox.Triple(feed, ox.NamedNode(str(DCTERMS.title)), ox.Literal(page.title)),
        ox.Triple(here, ox.NamedNode(str(DCTERMS.isPartOf)), feed),
    ]
    for rel, n in page.paging():
        triples.append(ox.Triple(here, ox.NamedNode(IANA + rel), ox.NamedNode(page.url(n))))
    xsd_datetime = ox.NamedNode("http://www.w3.org/2001/XMLSchema#dateTime")
    for item in page.items:
        m = ox.NamedNode(item.iri)
        triples.append(ox.Triple(feed, ox.NamedNode(str(PROV.hadMember)), m))
        triples.append(ox.Triple(m, ox.NamedNode(str(DCTERMS.title)), ox.Literal(item.title)))
        triples += [ox.Triple(m, rdf_type, ox.NamedNode(t)) for t in sorted(item.types)]
        if item.stored:
            triples.append(
                ox.Triple(
                    m,
                    ox.NamedNode(str(JT.storedAt)),
                    ox.Literal(item.stored, datatype=xsd_datetime),
                )
            )
        if item.generated:
            triples.append(
                ox.Triple(
                    m,
                    ox.NamedNode(str(PROV.generatedAtTime)),
                    ox.Literal(item.generated, datatype=xsd_datetime),
                )
            )
        if item.producer:
            triples.append(
                ox.Triple(m, ox.NamedNode(str(PROV.wasAttributedTo)), ox.NamedNode(item.producer))
            )
    return triples


# ------------------------------------------------------------------ the route


async def messages(request: AppRequest) -> Response:
    """The stored messages, newest first: a paged Atom feed (RDF and HTML by negotiation)."""
    path, chosen = conneg.split_extension(request.url.path)
    if path != "/messages":
        raise NotFound(
            f"no document at {request.url.path}",
            hint="the message list is offered as "
            + ", ".join(f"/messages{f.extension}" for f in FORMATS if f.extension),
        )
    # bad parameters first: a 400 naming them, whatever the format asked for
    filters = read(request.query_params, [k for k, _ in request.query_params.multi_items()])
    config = request.state["engine"].config
    default_size = int(getattr(config, "page_size", DEFAULT_SIZE))
    size = int_param(request, "size", default_size, 1, MAX_SIZE)
    number = int_param(request, "page", 1, 1, 10**9)
    fmt = chosen or conneg.negotiate(request.headers.get("accept"), FORMATS, conneg.ATOM)
    store: Store = request.state["engine"].store
    hide = request.state["engine"].visibility.sparql_filter(viewer_of(request))
    page = await run_in_threadpool(
        read_page, store, config.base_url, number, size, default_size, hide, filters
    )
    if number > page.last:
        raise NotFound(
            f"there is no page {number}: {page.total} messages make {page.last} page(s) of {size}",
            hint=f"the first page is {page.url(1)}",
        )
    if fmt is conneg.ATOM:
        body = to_atom(page)
    elif fmt is conneg.HTML:
        facets = await run_in_threadpool(read_facets, store, filters, hide, page.total)
        body = to_html(page, facets, FORMATS).encode("utf-8")
    else:
        body = render.rdf(to_triples(page), fmt, base=config.base_url)
    response = respond(
        request,
        body,
        fmt,
        path=path,
        formats=FORMATS,
        modified=_when(page.newest),
        negotiated=chosen is None,
    )
    ext = chosen.extension if chosen and chosen.extension else ""
    paging = ", ".join(f'<{page.url(n, ext)}>; rel="{rel}"' for rel, n in page.paging())
    response.headers["Link"] = response.headers["Link"] + ", " + paging
    return response


def _when(value: str | None) -> datetime | None:
    """An xsd:dateTime as a datetime (at most six fraction digits, as Python reads them)."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def routes() -> list[BaseRoute]:
    return [
        Route("/messages", messages, methods=["GET", "HEAD"]),
        Route("/messages", post, methods=["POST"]),
        Route("/messages.{ext}", messages, methods=["GET", "HEAD"]),
    ]


__all__ = ["Item", "Page", "read_page", "routes", "to_atom", "to_html", "to_triples"]
