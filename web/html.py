"""HTML pages for people: a page per resource, the home page, the site frame.

No templates engine and no outside assets: small functions that escape
everything they print.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from html import escape

import pyoxigraph as ox
from jobtrail.base.terms import shorten
from jobtrail.base.xmltext import carried
from jobtrail.web import conneg
from jobtrail.web.vocabpaths import local_href


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

# ------------------------------------------------------------------ links
#
# Every link on every page is made here. Only http(s) IRIs and references
# without a scheme (the relative paths and fragments this server makes) become
# an `href`; anything else (`javascript:`, `data:`, `vbscript:`, `file:`, `urn:`
# …) is shown as text, since a stored message or a SPARQL result may hold any IRI.

LINK_SCHEMES = frozenset({"http", "https"})
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
# browsers drop tabs and newlines anywhere in a URL and strip leading controls and
# spaces, so "java\tscript:" is javascript:; such a target is never a link
_UNSAFE_CHARS = re.compile(r"[\x00-\x20\x7f]")


def safe_href(target: str) -> str | None:
    """`target` if a browser may follow it (http, https, or no scheme), else None."""
    if not target or _UNSAFE_CHARS.search(target):
        return None
    scheme = _SCHEME.match(target)
    if scheme is None:
        return target  # a relative reference: a path, a query or a fragment
    return target if scheme.group()[:-1].lower() in LINK_SCHEMES else None


def link(
    target: str,
    text: str | None = None,
    *,
    inner: str | None = None,
    attrs: Mapping[str, str] | None = None,
) -> str:
    """`<a href=target>` with `text` (escaped here) or `inner` (HTML the caller escaped);
    when `target` is not safe to follow, the same content without the link."""
    content = inner if inner is not None else escape(text if text is not None else target)
    href = safe_href(target)
    if href is None:
        return f"<span class=iri>{content}</span>"
    extra = "".join(f' {k}="{escape(v)}"' for k, v in (attrs or {}).items())
    return f'<a href="{escape(href)}"{extra}>{content}</a>'


def term(t: ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple, base: str) -> str:
    """A term as HTML: IRIs as links (when safe to follow), literals as text."""
    if isinstance(t, ox.NamedNode):  # our own vocabulary's terms: described here
        return link(local_href(t.value), short(t.value))
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
            visible.append(link(f"{path}{f.extension}", f.label, attrs={"type": f.media_type}))
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
    main = f"<h1>{link(iri)}</h1>{nav}"
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
