"""The `/messages` page for people: a faceted browser of the stored messages.

A form for the text filters, the active filters (each with a link removing it), the facets
(each value a link adding it as a filter, with its count), the table (its time, producer and
kind headers sort it) and the pager. Every link keeps the other filters and the order.
"""

from __future__ import annotations

from html import escape

from jobtrail.bindings.linkeddata.facets import Facet, Value
from jobtrail.bindings.linkeddata.feed_page import Item, Page
from jobtrail.bindings.linkeddata.filters import FILTERS, kinds
from jobtrail.web import conneg, html

LABELS = {
    "producer": "producer",
    "kind": "kind",
    "since": "since",
    "until": "until",
    "warnings": "warnings",
    "errors": "errors",
    "reference": "reference",
    "uuid": "UUID",
    "q": "search",
}
_TEXT_FIELDS = (
    ("q", "search", "a piece of a reference or UUID"),
    ("reference", "reference", "TDR-2021-GW3"),
    ("uuid", "UUID", "0001d50d-a1fc-46c0-a6c7-ebc8309cfaf2"),
    ("since", "stored since", "2022-08-04"),
    ("until", "stored until", "2022-08"),
)
_COLUMNS = (("time", "stored"), ("", "message"), ("kind", "kind"), ("producer", "producer"))


def _shown(name: str, value: str) -> str:
    """A filter's value as people read it."""
    if name == "kind" and (kind := next((k for k in kinds().values() if k.name == value), None)):
        return kind.label
    if name in ("warnings", "errors"):
        return {"warnings": ("with warnings", "none"), "errors": ("reporting one", "none")}[name][
            value != "1"
        ]
    return value


def form(page: Page) -> str:
    """The text filters, as a GET form keeping the other filters and the order."""
    active = page.filters.active
    fields = "".join(
        f'<label>{escape(label)} <input name={name} value="{escape(active.get(name, ""))}"'
        f' placeholder="{escape(example)}" maxlength=500></label>'
        for name, label, example in _TEXT_FIELDS
    )
    texts = {name for name, _, _ in _TEXT_FIELDS}
    hidden = "".join(
        f'<input type=hidden name={k} value="{escape(v)}">'
        for k, v in page.filters.params().items()
        if k not in texts
    )
    if page.size != page.default_size:
        hidden += f'<input type=hidden name=size value="{page.size}">'
    return (
        f'<form class=filters method=get action="{escape(html.by_path(page.base))}messages.html">'
        f"{fields}{hidden}<button>Filter</button></form>"
    )


def active(page: Page) -> str:
    """The active filters, each with a link that removes it, and one removing them all."""
    given = page.filters.active
    if not given:
        return ""
    chips = " ".join(
        "<span class=chip>"
        f"{escape(LABELS[k])}: <b>{escape(_shown(k, v))}</b> "
        + html.link(
            page.url(1, ".html", **{k: None}),
            "×",
            attrs={"title": f"remove the filter {k}", "class": "remove"},
        )
        + "</span>"
        for k, v in given.items()
    )
    clear = html.link(
        page.url(1, ".html", **dict.fromkeys(FILTERS)),
        "clear all filters",
        attrs={"class": "clear"},
    )
    return f"<p class=active-filters>Filtered by {chips} {clear}</p>"


def _value_link(page: Page, facet: Facet, value: Value) -> str:
    current = page.filters.active
    if facet.name == "since":
        chosen = current.get("since") == value.value and current.get("until") == value.value
        target = {"since": value.value, "until": value.value}
        undo: dict[str, str | None] = {"since": None, "until": None}
    else:
        chosen = current.get(facet.name) == value.value
        target = {facet.name: value.value}
        undo = {facet.name: None}
    count = f" <span class=count>{value.count:,}</span>"
    if chosen:
        remove = html.link(page.url(1, ".html", **undo), "×", attrs={"title": "remove this filter"})
        return f"<li class=chosen><b>{escape(value.label)}</b>{count} {remove}</li>"
    if value.count == 0:
        return f"<li class=empty>{escape(value.label)}{count}</li>"
    return f"<li>{html.link(page.url(1, '.html', **target), value.label)}{count}</li>"


def facet(page: Page, f: Facet) -> str:
    items = "".join(_value_link(page, f, v) for v in f.values)
    if not items:
        items = "<li class=empty>none</li>"
    more = f"<li class=muted>and {f.more:,} more</li>" if f.more else ""
    return f"<section class=facet><h2>{escape(f.title)}</h2><ul>{items}{more}</ul></section>"


def _header(page: Page, key: str, label: str) -> str:
    if not key:
        return f"<th>{escape(label)}</th>"
    filters = page.filters
    if filters.sort == key:
        order = "asc" if filters.order == "desc" else "desc"
        arrow = " ▼" if filters.order == "desc" else " ▲"
        sort = "descending" if filters.order == "desc" else "ascending"
        target = page.url(1, ".html", sort=key, order=order)
        return (
            f'<th aria-sort="{sort}">'
            + html.link(target, label + arrow, attrs={"title": f"sort {order}ending"})
            + "</th>"
        )
    default = "desc" if key == "time" else "asc"
    target = page.url(1, ".html", sort=key, order=default)
    return "<th>" + html.link(target, label, attrs={"title": f"sort by {label}"}) + "</th>"


def _row(page: Page, item: Item) -> str:
    known = kinds()
    specific = sorted((known[t] for t in item.specific if t in known), key=lambda k: k.label)
    kind_links = ", ".join(html.link(page.url(1, ".html", kind=k.name), k.label) for k in specific)
    producer = (
        html.link(page.url(1, ".html", producer=item.producer), item.producer_name or item.producer)
        if item.producer
        else ""
    )
    warned = ""
    if item.warned:
        warned = ' <span class=flag title="stored with validation warnings">⚠</span>'

    return (
        f'<tr><td><time datetime="{escape(item.updated)}" title="{escape(item.updated)}">'
        f"{escape(item.updated[:19].replace('T', ' '))}</time></td>"
        f"<td>{html.link(item.iri, item.title)}{warned}</td>"
        f"<td>{kind_links or escape(item.kind)}</td>"
        f"<td>{producer}</td></tr>"
    )


def alternates(page: Page, formats: tuple[conneg.Format, ...]) -> tuple[str, str]:
    """`<link rel=alternate>` tags and the visible list: this page in every other format,
    its filters and order kept."""
    links, visible = [], []
    for f in formats:
        if f.extension and f is not conneg.HTML:
            href = page.url(page.number, f.extension)
            tag = f'<link rel=alternate type="{f.media_type}" href="{escape(html.by_path(href))}">'
            links.append(tag)
            visible.append(html.link(href, f.label, attrs={"type": f.media_type}))
    return "".join(links), "<nav class=formats>Also as: " + " ".join(visible) + "</nav>"


def to_html(page: Page, facets: list[Facet], formats: tuple[conneg.Format, ...]) -> str:
    head, nav = alternates(page, formats)
    headers = "".join(_header(page, key, label) for key, label in _COLUMNS)
    rows = "".join(_row(page, item) for item in page.items)
    if not page.items:
        rows = "<tr><td colspan=4>No message is kept by these filters.</td></tr>"
    pager = " ".join(
        html.link(page.url(n, ".html"), rel, attrs={"rel": rel}) for rel, n in page.paging()
    )
    what = "messages" if page.total != 1 else "message"
    sidebar = "".join(facet(page, f) for f in facets)
    body = (
        f"<h1>Stored messages</h1>{nav}{form(page)}{active(page)}"
        "<div class=facets-layout>"
        f"<aside class=facets>{sidebar}</aside>"
        "<section class=results>"
        f"<p>{page.total:,} {what}, {page.order}. Page {page.number} of {page.last}. "
        f"Subscribe: {html.link(page.url(1, '.atom'), 'Atom feed')}.</p>"
        f"<table class=messages><tr>{headers}</tr>{rows}</table>"
        f"<nav class=pager>{pager}</nav>"
        "</section></div>"
    )
    return html.page("messages", body, head=head)


__all__ = ["to_html"]
