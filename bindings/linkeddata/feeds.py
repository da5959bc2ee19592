"""GET /messages: the stored messages, newest first, as a paged Atom feed (RFC 4287, RFC 5005).

Atom is the default (the usual format of a list of entries); every RDF format and HTML are
offered by negotiation or extension (/messages.ttl, /messages.html …). Order:
jt:storedAt, then prov:generatedAtTime, both newest first, then the message IRI
(so the order is total and pages never overlap). Pages: `?page=N` (from 1) and
`?size=S` (default the `page_size` setting, at most MAX_SIZE); each page links
to the first, last, previous and next pages (in the feed and in the HTTP Link
header). Every page has the same atom:id, the feed's IRI, as RFC 5005 asks of
paged feeds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from urllib.parse import urlencode

import pyoxigraph as ox
from jobtrail.base.errors import NotFound
from jobtrail.base.terms import DCTERMS, JT, PROV, RDF
from jobtrail.bindings.linkeddata.documents import LABEL, _by_subject, _value
from jobtrail.bindings.linkeddata.facets import read_facets
from jobtrail.bindings.linkeddata.feed_html import to_html
from jobtrail.bindings.linkeddata.filters import Filters, fill, read, sparql
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
SUBCLASS = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#subClassOf")


@dataclass
class Item:
    """One message as the feed shows it."""

    iri: str
    stored: str | None
    generated: str | None
    types: list[str] = field(default_factory=list)
    producer: str | None = None
    producer_name: str | None = None
    references: list[str] = field(default_factory=list)
    request_line: str | None = None
    status_line: str | None = None
    warned: bool = False  # stored with validation warnings

    @property
    def specific(self) -> list[str]:
        """Its most specific jobtrail classes (`jt:TRE2022Message`, not `jt:TREMessage`)."""
        jt = [t for t in self.types if t.startswith(str(JT))]
        supers = {str(o.value) for t in jt for o in _objects_of(t)}
        return [t for t in jt if t not in supers] or jt

    @property
    def kind(self) -> str:
        """Labels of its most specific jobtrail classes (`TRE message (2022 structure)`)."""
        labels = sorted(
            _value(ox.NamedNode(t), LABEL) or t.rpartition("#")[2] for t in self.specific
        )
        return ", ".join(labels) or "Message"

    @property
    def title(self) -> str:
        parts = [self.kind]
        if self.producer_name:
            parts.append(f"from {self.producer_name}")
        if self.references:
            parts.append(", ".join(sorted(set(self.references))))
        if self.request_line:
            parts.append(self.request_line)
        if self.status_line:
            parts.append(self.status_line)
        return " — ".join(parts)

    @property
    def updated(self) -> str:
        return self.stored or self.generated or "1970-01-01T00:00:00Z"


def _objects_of(iri: str) -> list[ox.NamedNode]:
    return [
        t.object
        for t in _by_subject("vocab").get(ox.NamedNode(iri), ())
        if t.predicate == SUBCLASS and isinstance(t.object, ox.NamedNode)
    ]


@dataclass
class Page:
    base: str
    number: int
    size: int
    total: int
    newest: str | None
    items: list[Item]
    default_size: int

    filters: Filters = field(default_factory=Filters)

    @property
    def feed_iri(self) -> str:
        """The feed's IRI: the same for every page (RFC 5005); a filtered feed is another."""
        return self.base + "messages" + self.filters.query(sort=None, order=None)

    @property
    def last(self) -> int:
        return max(1, -(-self.total // self.size))

    def url(self, number: int, extension: str = "", **changes: str | None) -> str:
        """A page of this feed, its filters and order kept (or changed: `changes`)."""
        params: dict[str, str] = self.filters.params(**changes)
        if number != 1:
            params["page"] = str(number)
        if self.size != self.default_size:
            params["size"] = str(self.size)
        query = "?" + urlencode(params) if params else ""
        return f"{self.base}messages{extension}{query}"

    @property
    def title(self) -> str:
        described = self.filters.describe()
        return "jobtrail: stored messages" + (f" ({described})" if described else "")

    @property
    def order(self) -> str:
        """The order in words: `newest first`, `by producer (asc)`."""
        sort, order = self.filters.sort, self.filters.order
        if sort == "time":
            return "newest first" if order == "desc" else "oldest first"
        return f"by {sort}, " + ("A to Z" if order == "asc" else "Z to A")

    def paging(self) -> list[tuple[str, int]]:
        rels = [("first", 1), ("last", self.last)]
        if self.number > 1:
            rels.append(("previous", min(self.number - 1, self.last)))
        if self.number < self.last:
            rels.append(("next", self.number + 1))
        return rels


@cache
def _details() -> list[str]:
    """The queries of `feed-details.rq`: its prefixes before each."""
    prefixes, *queries = sparql("details").split("\n# ---\n")
    return [prefixes + "\n" + q for q in queries]


def _solutions(store: Store, sparql: str) -> ox.QuerySolutions:
    result = store.query(sparql)
    assert isinstance(result, ox.QuerySolutions)
    return result


def _text(row: ox.QuerySolution, name: str) -> str | None:
    value = row[name]
    return None if value is None else str(value.value)


def read_page(
    store: Store,
    base: str,
    number: int,
    size: int,
    default_size: int,
    hide: str = "",
    filters: Filters | None = None,
) -> Page:
    """One page of the feed; `hide`: a filter on `?m` leaving out what the reader may not
    see (`Policy.sparql_filter`); `filters`: the messages kept and their order."""
    filters = filters or Filters()
    summary = next(iter(_solutions(store, fill(sparql("summary"), filters, hide))))
    total = int(_text(summary, "n") or 0)
    newest = _text(summary, "newest")
    page_query = fill(
        sparql("page"),
        filters,
        hide,
        KEYS=filters.keys(),
        ORDER=filters.order_by(),
        LIMIT=str(size),
        OFFSET=str((number - 1) * size),
    )
    items = [
        Item(str(_text(row, "m")), _text(row, "stored"), _text(row, "generated"))
        for row in _solutions(store, page_query)
    ]
    by_iri = {i.iri: i for i in items}
    if items:
        values = " ".join(f"<{i.iri}>" for i in items)  # IRIs the store answered: valid
        rows = (
            row
            for query in _details()
            for row in _solutions(store, query.replace("#VALUES", values))
        )
        for row in rows:
            item = by_iri[str(_text(row, "m"))]
            if (t := _text(row, "type")) and t not in item.types:
                item.types.append(t)
            if p := _text(row, "producer"):
                item.producer = p
                name = [_text(row, k) for k in ("name", "process", "environment")]
                if name[0]:
                    item.producer_name = " / ".join(n or "-" for n in name)
            if (r := _text(row, "ref")) and r not in item.references:
                item.references.append(r)
            if m := _text(row, "method"):
                item.request_line = f"{m} {_text(row, 'uri') or ''}".strip()
            if c := _text(row, "code"):
                item.status_line = f"{c} {_text(row, 'reason') or ''}".strip()
            if _text(row, "warning"):
                item.warned = True
    return Page(base, number, size, total, newest, items, default_size, filters)


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
