"""HTML pages for people: a page per resource, the home page, the site frame.

No templates engine and no outside assets: small functions that escape
everything they print.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

import pyoxigraph as ox
from jobtrail.base.terms import shorten
from jobtrail.base.xmltext import carried
from jobtrail.web import conneg


def page(title: str, body: str, *, head: str = "") -> str:
    """The site frame around `body`; characters HTML and XML cannot carry become U+FFFD."""
    return carried(
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} · jobtrail</title>"
        '<link rel=stylesheet href="/static/jobtrail.css">'
        f"{head}</head><body>"
        '<header class=site><a href="/"><b>jobtrail</b></a>'
        '<a href="/jobs">jobs</a><a href="/messages">messages</a>'
        '<a href="/sparql">SPARQL</a><a href="/queries">queries</a>'
        '<a href="/vocab">vocabulary</a><a href="/shapes">shapes</a></header>'
        f"<main>{body}</main></body></html>"
    )


short = shorten


def term(t: ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple, base: str) -> str:
    """A term as HTML: IRIs as links (local ones to this server), literals as text."""
    if isinstance(t, ox.NamedNode):
        href = t.value
        return f'<a href="{escape(href)}">{escape(short(t.value))}</a>'
    if isinstance(t, ox.Literal):
        text = escape(t.value)
        if "\n" in t.value or len(t.value) > 200:
            text = f"<pre>{text}</pre>"
        dt = t.datatype.value if t.datatype else ""
        suffix = ""
        if t.language:
            suffix = f" <span class=muted>@{escape(t.language)}</span>"
        elif dt and not dt.endswith("#string"):
            suffix = f" <span class=muted>{escape(short(dt))}</span>"
        return text + suffix
    return escape(str(t))


def alternates(path: str, formats: Iterable[conneg.Format]) -> tuple[str, str]:
    """`<link rel=alternate>` tags and a visible list of links, one per format."""
    links, visible = [], []
    for f in formats:
        if f.extension and f is not conneg.HTML:
            href = escape(f"{path}{f.extension}")
            links.append(f'<link rel=alternate type="{f.media_type}" href="{href}">')
            visible.append(f'<a href="{href}" type="{f.media_type}">{escape(f.label)}</a>')
    return "".join(links), "<nav class=formats>Also as: " + " ".join(visible) + "</nav>"


def resource(
    iri: str,
    path: str,
    triples: Sequence[ox.Triple],
    incoming: Sequence[tuple[ox.NamedNode | ox.BlankNode, ox.NamedNode]],
    base: str,
    formats: Iterable[conneg.Format],
) -> str:
    """Every property of every subject in the resource's graph, then what links to it."""
    head, nav = alternates(path, formats)
    by_subject: dict[str, list[ox.Triple]] = {}
    for t in triples:
        by_subject.setdefault(str(t.subject), []).append(t)
    main = f'<h1><a href="{escape(iri)}">{escape(iri)}</a></h1>{nav}'
    subjects = sorted(by_subject, key=lambda s: (s != f"<{iri}>", s))
    for s in subjects:
        rows = "".join(
            f"<tr><th>{term(t.predicate, base)}</th><td>{term(t.object, base)}</td></tr>"
            for t in sorted(by_subject[s], key=lambda t: (t.predicate.value, str(t.object)))
        )
        subject = by_subject[s][0].subject
        main += f"<h2>{term(subject, base)}</h2><table>{rows}</table>"
    if incoming:
        rows = "".join(
            f"<tr><td>{term(s, base)}</td><td>{term(p, base)}</td></tr>" for s, p in incoming
        )
        main += (
            f"<h2>Links to this resource</h2><table><tr><th>from</th><th>by</th></tr>{rows}</table>"
        )
    return page(iri, main, head=head)
