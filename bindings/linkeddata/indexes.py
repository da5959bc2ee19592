"""The indexes people browse by: /producers, /references, /uuids, and /search?q= over them.

Each lists what the messages a reader may see hold (the visibility filter of `/messages`,
`Policy.sparql_filter`), with how many messages, and when the first and the last were
made; each entry links to its page: a producer's description, a reference's or a UUID's
trace (`/trace/{key}`) and the messages stating a reference (`/messages?reference=`).
HTML for people, JSON (`.json`, or `Accept: application/json`, the default) for programs,
and `/producers` in every RDF format (each a `prov:hadMember` of the index).
Paged like `/messages`: `?page=N` (from 1) and `?size=S` (default 50, at most 1000); a
page past the last is 404, and the HTTP Link header names the first, last, previous and
next pages.

`/search?q=` looks for the text (case-insensitive, at most MAX_Q characters) in the
references, the UUIDs and the producers' names, processes and environments, and lists
the matches by kind, the first MAX_RESULTS of each. A reference or a UUID typed exactly
(`urn:uuid:` or not) goes straight to its trace: 303 to `/trace/{key}`.

The SPARQL is in `queries/internal/browse-*.rq`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from html import escape
from importlib.resources import files
from typing import Any
from urllib.parse import quote, urlencode

import pyoxigraph as ox
from jobtrail.base import nt
from jobtrail.base.errors import InputError, NotFound
from jobtrail.queries.trace import UUID_RE
from jobtrail.store import Store
from jobtrail.web import conneg, html, render
from jobtrail.web.labels import moment
from jobtrail.web.requests import int_param, viewer_of
from jobtrail.web.resources import respond
from jobtrail.web.state import AppRequest
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

JSON = conneg.Format("json", "application/json", ".json", (), "JSON")
FORMATS: tuple[conneg.Format, ...] = (JSON, conneg.HTML)
DEFAULT_SIZE = 50
MAX_SIZE = 1000
MAX_PAGE = 10**6
MAX_Q = 200
"""The longest text /search looks for (a reference or a UUID is far shorter)."""
MAX_RESULTS = 50
"""The most matches of each kind /search lists."""


@cache
def sparql(name: str) -> str:
    """`queries/internal/browse-{name}.rq` without its comment lines (they name the markers)."""
    text = (files("jobtrail.queries") / "internal" / f"browse-{name}.rq").read_text("utf-8")
    return "\n".join(line for line in text.splitlines() if not line.startswith("#"))


def solutions(store: Store, query: str) -> list[dict[str, str]]:
    """The rows of a SELECT, each variable's value as text (unbound ones left out)."""
    result = store.query(query)
    assert isinstance(result, ox.QuerySolutions)
    names = [v.value for v in result.variables]
    return [{n: row[n].value for n in names if row[n] is not None} for row in result]


def trace_href(key: str) -> str:
    """Where `/trace` shows the chain of a UUID or a reference."""
    return "/trace/" + quote(key, safe=":")


def _counted(query: str) -> str:
    """The number of rows `query` (a SELECT after its PREFIX lines) answers."""
    head, select, body = query.partition("\nSELECT")
    body = re.sub(r"\bORDER BY[^\n{}]*\s*$", "", body.rstrip())
    return f"{head}\nSELECT (COUNT(*) AS ?total) WHERE {{ {{ SELECT{body} }} }}"


# ------------------------------------------------------------------ pages


@dataclass
class Page:
    """One page of an index."""

    path: str
    number: int
    size: int
    total: int
    rows: list[dict[str, str]]

    @property
    def last(self) -> int:
        return max(1, -(-self.total // self.size))

    def url(self, number: int, extension: str = "") -> str:
        params: dict[str, int] = {}
        if number != 1:
            params["page"] = number
        if self.size != DEFAULT_SIZE:
            params["size"] = self.size
        return f"{self.path}{extension}" + ("?" + urlencode(params) if params else "")

    def paging(self) -> list[tuple[str, int]]:
        rels = [("first", 1), ("last", self.last)]
        if self.number > 1:
            rels.append(("prev", min(self.number - 1, self.last)))
        if self.number < self.last:
            rels.append(("next", self.number + 1))
        return rels


def read_page(store: Store, name: str, hide: str, path: str, number: int, size: int) -> Page:
    query = sparql(name).replace("#HIDE", hide)
    total = int(solutions(store, _counted(query))[0].get("total", "0"))
    rows = solutions(store, f"{query} LIMIT {size} OFFSET {(number - 1) * size}")
    return Page(path, number, size, total, rows)


@dataclass(frozen=True)
class Index:
    """One index: its path, query, title, what it says, and how it shows a row."""

    name: str
    title: str
    intro: str
    columns: tuple[str, ...]
    cells: Callable[[dict[str, str], str], list[str]]  # a row's HTML cells (and base)
    item: Callable[[dict[str, str], str], dict[str, Any]]  # a row as JSON (and base)
    triples: Callable[[dict[str, str]], list[ox.Triple]] | None = None  # a row as RDF

    @property
    def formats(self) -> tuple[conneg.Format, ...]:
        return FORMATS + (conneg.RDF_FORMATS if self.triples is not None else ())


def _when(row: dict[str, str], key: str) -> str:
    return (
        f"<span title='{escape(row[key])}'>{escape(moment(row[key]))}</span>" if key in row else "—"
    )


def _n(value: str | None) -> str:
    return str(int(value)) if value else "0"


def _producer_label(row: dict[str, str]) -> str:
    parts = [row.get("name"), row.get("process"), row.get("environment")]
    return " / ".join(p for p in parts if p)


def _producer_cells(row: dict[str, str], base: str) -> list[str]:
    return [
        html.iri(row["agent"], label=_producer_label(row), base=base),
        _n(row.get("messages")),
        _when(row, "first"),
        _when(row, "last"),
    ]


def _producer_item(row: dict[str, str], base: str) -> dict[str, Any]:
    return {
        "producer": row["agent"],
        "label": _producer_label(row),
        "name": row.get("name"),
        "process": row.get("process"),
        "environment": row.get("environment"),
        "messages": int(_n(row.get("messages"))),
        "first": row.get("first"),
        "last": row.get("last"),
    }


_JT = "https://w3id.org/jobtrail/vocab#"
_PROV = "http://www.w3.org/ns/prov#"
_DCTERMS = "http://purl.org/dc/terms/"
_RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
_XSD = "http://www.w3.org/2001/XMLSchema#"


def _producer_triples(row: dict[str, str]) -> list[ox.Triple]:
    """A producer as its own description says it, with its label and what this index counts."""
    agent = ox.NamedNode(row["agent"])
    out = [
        ox.Triple(agent, _RDF_TYPE, ox.NamedNode(f"{_JT}Producer")),
        ox.Triple(
            agent,
            ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label"),
            ox.Literal(_producer_label(row)),
        ),
    ]
    for key, p in (
        ("name", "producerName"),
        ("process", "process"),
        ("environment", "environment"),
    ):
        if key in row:
            out.append(ox.Triple(agent, ox.NamedNode(f"{_JT}{p}"), ox.Literal(row[key])))
    return out


def _reference_cells(row: dict[str, str], base: str) -> list[str]:
    ref = row["reference"]
    messages = "/messages?" + urlencode({"reference": ref})
    return [
        html.link(trace_href(ref), ref) + " <span class=muted>(trace)</span>",
        html.link(messages, _n(row.get("messages"))),
        _when(row, "first"),
        _when(row, "last"),
    ]


def _reference_item(row: dict[str, str], base: str) -> dict[str, Any]:
    ref = row["reference"]
    return {
        "reference": ref,
        "messages": int(_n(row.get("messages"))),
        "first": row.get("first"),
        "last": row.get("last"),
        "trace": base.rstrip("/") + trace_href(ref),
        "messagesStating": base + "messages?" + urlencode({"reference": ref}),
    }


def _uuid_cells(row: dict[str, str], base: str) -> list[str]:
    added = int(_n(row.get("added")))
    return [
        html.iri(row["uuid"], base=base),
        _n(row.get("messages")),
        "yes" if added else "<span class=muted>no</span>",
        _when(row, "first"),
        _when(row, "last"),
    ]


def _uuid_item(row: dict[str, str], base: str) -> dict[str, Any]:
    return {
        "uuid": row["uuid"],
        "messages": int(_n(row.get("messages"))),
        "added": int(_n(row.get("added"))) > 0,
        "first": row.get("first"),
        "last": row.get("last"),
        "trace": base.rstrip("/") + trace_href(row["uuid"]),
    }


INDEXES: dict[str, Index] = {
    "producers": Index(
        "producers",
        "Producers",
        "Every producer described here: the software that made the messages, by name, "
        "process and environment, with how many of the messages you may see it made.",
        ("producer", "messages", "first seen", "last seen"),
        _producer_cells,
        _producer_item,
        _producer_triples,
    ),
    "references": Index(
        "references",
        "References",
        "The consignment and batch references the messages state; each links to its trace "
        "(the chain of hops across producers) and to the messages stating it.",
        ("reference", "messages", "first seen", "last seen"),
        _reference_cells,
        _reference_item,
    ),
    "uuids": Index(
        "uuids",
        "UUIDs",
        "The UUIDs the messages carry (a job's hops carry its id); each links to its trace. "
        "“added” says whether a stored message is the hop that added it.",
        ("UUID", "messages", "added", "first seen", "last seen"),
        _uuid_cells,
        _uuid_item,
    ),
}


def search_form(q: str = "") -> str:
    """The search box every browsing page shows (a GET form to /search)."""
    return (
        '<form class=search method=get action="/search" role=search>'
        "<label class=muted for=q>Search</label>"
        f'<input type=search id=q name=q value="{escape(q)}" maxlength={MAX_Q} '
        'placeholder="a reference, a UUID or a producer">'
        "<button type=submit>Search</button></form>"
    )


def index_html(index: Index, page: Page, base: str) -> str:
    head, nav = html.alternates(page.path, index.formats)
    numeric = {"messages", "added"}
    header = "".join(
        f"<th class={'n' if c in numeric else 'when' if 'seen' in c else 'key'}>{escape(c)}</th>"
        for c in index.columns
    )
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td class={'n' if c in numeric else 'when' if 'seen' in c else 'key'}>{cell}</td>"
            for c, cell in zip(index.columns, index.cells(row, base), strict=True)
        )
        + "</tr>"
        for row in page.rows
    )
    pager = " ".join(
        html.link(page.url(n, ".html"), rel, attrs={"rel": rel}) for rel, n in page.paging()
    )
    body = (
        f"<h1>{escape(index.title)}</h1>{nav}<p>{escape(index.intro)}</p>{search_form()}"
        f"<p>{page.total} in all. Page {page.number} of {page.last}.</p>"
        f"<table class=index><tr>{header}</tr>{rows}</table><nav class=pager>{pager}</nav>"
    )
    return html.page(index.title, body, head=head)


def index_json(index: Index, page: Page, base: str) -> bytes:
    root = base.rstrip("/")
    doc = {
        "total": page.total,
        "page": page.number,
        "pages": page.last,
        "size": page.size,
        **{rel: root + page.url(n, ".json") for rel, n in page.paging()},
        index.name: [index.item(row, base) for row in page.rows],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False).encode()


def index_triples(index: Index, page: Page, base: str) -> list[ox.Triple]:
    """The page's entries as RDF, each a member of the index (a `prov:Collection`)."""
    assert index.triples is not None
    whole = ox.NamedNode(base + index.name)
    out = [
        ox.Triple(whole, _RDF_TYPE, ox.NamedNode(f"{_PROV}Collection")),
        ox.Triple(whole, ox.NamedNode(f"{_DCTERMS}title"), ox.Literal(f"jobtrail: {index.title}")),
    ]
    for row in page.rows:
        triples = index.triples(row)
        if triples:
            out.append(ox.Triple(whole, ox.NamedNode(f"{_PROV}hadMember"), triples[0].subject))
            out += triples
    return out


def split(
    request: AppRequest, *expected: str, formats: tuple[conneg.Format, ...] = FORMATS
) -> tuple[str, conneg.Format | None]:
    """The path without its extension (one of `expected`), and the format its extension
    chooses (`.json`, `.html` …); 404 for any other path or extension."""
    path, chosen = request.url.path, None
    for f in formats:
        if f.extension and path.endswith(f.extension):
            path, chosen = path[: -len(f.extension)], f
            break
    if path not in expected:
        expected_ = expected[-1]
        raise NotFound(
            f"no document at {request.url.path}",
            hint=f"{expected_} is offered as "
            + ", ".join(f"{expected_}{f.extension}" for f in formats if f.extension),
        )
    return path, chosen


def _paging(response: Response, page: Page, chosen: conneg.Format | None) -> Response:
    ext = chosen.extension if chosen and chosen.extension else ""
    paging = ", ".join(f'<{page.url(n, ext)}>; rel="{rel}"' for rel, n in page.paging())
    response.headers["Link"] = response.headers["Link"] + ", " + paging
    return response


def route(name: str) -> Callable[[AppRequest], Any]:
    index = INDEXES[name]

    async def answer(request: AppRequest) -> Response:
        formats = index.formats
        path, chosen = split(request, f"/{name}", formats=formats)
        size = int_param(request, "size", DEFAULT_SIZE, 1, MAX_SIZE)
        number = int_param(request, "page", 1, 1, MAX_PAGE)
        fmt = chosen or conneg.negotiate(request.headers.get("accept"), formats, JSON)
        engine = request.state["engine"]
        hide = engine.visibility.sparql_filter(viewer_of(request))
        page = await run_in_threadpool(read_page, engine.store, name, hide, path, number, size)
        if number > page.last:
            raise NotFound(
                f"there is no page {number}: {page.total} make {page.last} page(s) of {size}",
                hint=f"the first page is {page.url(1)}",
            )
        base = engine.config.base_url
        if fmt is conneg.HTML:
            body = index_html(index, page, base).encode()
        elif fmt is JSON or index.triples is None:
            body = index_json(index, page, base)
        else:
            body = render.rdf(index_triples(index, page, base), fmt, base=base)
        response = respond(
            request, body, fmt, path=path, formats=formats, negotiated=chosen is None
        )
        return _paging(response, page, chosen)

    answer.__doc__ = f"{index.title}: {index.intro.split(':')[0].split(';')[0]} (paged)."
    answer.__name__ = f"{name}_index"
    return answer


# ------------------------------------------------------------------ /search

KINDS = (("reference", "References"), ("uuid", "UUIDs"), ("producer", "Producers"))


def find(
    store: Store, q: str, hide: str, limit: int = MAX_RESULTS
) -> dict[str, list[dict[str, str]]]:
    """What holds `q`, by kind: at most `limit` (+1, to tell there are more) of each."""
    found: dict[str, list[dict[str, str]]] = {k: [] for k, _ in KINDS}
    if not q:
        return found
    query = (
        sparql("search")
        .replace("#Q", nt.lit(q.lower()))
        .replace("#HIDE", hide)
        .replace("#LIMIT", str(limit + 1))
    )
    for row in solutions(store, query):
        found[row["kind"]].append(row)
    for rows in found.values():
        rows.sort(key=lambda r: r["value"])
    return found


def exact(q: str, found: dict[str, list[dict[str, str]]]) -> str | None:
    """The trace a query typed exactly names: a reference stated, a UUID carried."""
    wanted = {q}
    if UUID_RE.match(q):
        wanted.add(f"urn:uuid:{q.removeprefix('urn:uuid:').lower()}")
    for kind in ("reference", "uuid"):
        for row in found[kind]:
            if row["value"] in wanted:
                return row["value"]
    return None


def _search_labels(store: Store, rows: Sequence[dict[str, str]]) -> dict[str, str]:
    """Producers' names, processes and environments (producers are provenance)."""
    if not rows:
        return {}
    values = " ".join(str(ox.NamedNode(r["value"])) for r in rows)
    query = sparql("producer-names").replace("#VALUES", f"VALUES ?agent {{ {values} }}")
    return {row["agent"]: _producer_label(row) for row in solutions(store, query)}


def search_html(
    q: str, found: dict[str, list[dict[str, str]]], names: dict[str, str], base: str
) -> str:
    head, nav = html.alternates("/search", FORMATS)
    if q:  # the same search in the other formats
        asked = escape("?" + urlencode({"q": q}))
        head, nav = (x.replace('.json"', f'.json{asked}"') for x in (head, nav))
    sections = []
    for kind, title in KINDS:
        rows = found[kind]
        if not rows:
            continue
        more = len(rows) > MAX_RESULTS
        items = []
        for row in rows[:MAX_RESULTS]:
            value, n = row["value"], _n(row.get("messages"))
            if kind == "producer":
                shown = html.iri(value, label=names.get(value), base=base)
            elif kind == "uuid":
                shown = html.iri(value, base=base)
            else:
                shown = html.link(trace_href(value), value)
            many = "message" if n == "1" else "messages"
            items.append(f"<li>{shown} <span class=muted>({n} {many})</span></li>")
        note = f"<p class=muted>Only the first {MAX_RESULTS} are listed.</p>" if more else ""
        sections.append(
            f"<h2>{escape(title)} ({min(len(rows), MAX_RESULTS)}{'+' if more else ''})</h2>"
            f"<ul>{''.join(items)}</ul>{note}"
        )
    if not q:
        result = "<p>Type a reference (TDR-2021-GW3), a UUID or a producer's name.</p>"
    elif not sections:
        result = f"<p>Nothing you may see holds “{escape(q)}”.</p>"
    else:
        result = "".join(sections)
    body = f"<h1>Search</h1>{nav}{search_form(q)}{result}"
    title = f"Search: {q}" if q else "Search"
    return html.page(title, body, head=head)


def search_json(
    q: str, found: dict[str, list[dict[str, str]]], names: dict[str, str], base: str
) -> bytes:
    root = base.rstrip("/")
    doc: dict[str, Any] = {"q": q, "limit": MAX_RESULTS}
    for kind, _ in KINDS:
        items = []
        for row in found[kind][:MAX_RESULTS]:
            value = row["value"]
            item: dict[str, Any] = {kind: value, "messages": int(_n(row.get("messages")))}
            if kind == "producer":
                item["label"] = names.get(value)
            else:
                item["trace"] = root + trace_href(value)
            items.append(item)
        doc[f"{kind}s"] = items
        doc[f"more{kind.capitalize()}s"] = len(found[kind]) > MAX_RESULTS
    return json.dumps(doc, indent=2, ensure_ascii=False).encode()


async def search(request: AppRequest) -> Response:
    """Search references, UUIDs and producers; an exact reference or UUID: 303 to its trace."""
    path, chosen = split(request, "/search")
    q = (request.query_params.get("q") or "").strip()
    if len(q) > MAX_Q:
        raise InputError(
            f"q is {len(q):,} characters long: the longest searched for is {MAX_Q}",
            hint="a reference or a UUID is far shorter",
        )
    if any(ord(c) < 0x20 for c in q):
        raise InputError("q holds a control character", hint="search for printable text")
    fmt = chosen or conneg.negotiate(request.headers.get("accept"), FORMATS, JSON)
    engine = request.state["engine"]
    hide = engine.visibility.sparql_filter(viewer_of(request))
    store = engine.store
    found = await run_in_threadpool(find, store, q, hide)
    key = exact(q, found)
    if key is not None:
        return RedirectResponse(trace_href(key) + (chosen.extension or "" if chosen else ""), 303)
    names = await run_in_threadpool(_search_labels, store, found["producer"])
    base = engine.config.base_url
    if fmt is conneg.HTML:
        body = search_html(q, found, names, base).encode()
    else:
        body = search_json(q, found, names, base)
    return respond(request, body, fmt, path=path, formats=FORMATS, negotiated=chosen is None)


def routes() -> list[BaseRoute]:
    methods = ["GET", "HEAD"]
    out: list[BaseRoute] = []
    for name in INDEXES:
        out += [
            Route(f"/{name}", route(name), methods=methods),
            Route(f"/{name}.{{ext}}", route(name), methods=methods),
        ]
    out += [
        Route("/search", search, methods=methods),
        Route("/search.{ext}", search, methods=methods),
    ]
    return out


__all__ = ["FORMATS", "INDEXES", "find", "routes", "search", "search_form", "trace_href"]
