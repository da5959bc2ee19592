"""HTML pages for people: a page per resource, the home page, the site frame.

No templates engine and no outside assets: small functions that escape
everything they print.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from contextvars import ContextVar
from html import escape
from urllib.parse import quote, urlsplit

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
        '<a href="/vocab">vocabulary</a><a href="/shapes">shapes</a><a href="/producers.html">'
        'producers</a><a href="/references.html">references</a>'
        '<form class=site-search method=get action="/search" role=search>'
        '<input type=search name=q maxlength=200 placeholder="search" '
        'aria-label="search references, UUIDs and producers"></form></header>'
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


LINKS_UNDER: ContextVar[str] = ContextVar("jobtrail_links_under", default="")
"""The base URL whose IRIs the page being made links to by their path, with no scheme and
host (set for each request by `web/middleware.LinksByPath`): a store whose IRIs were minted
under `http://127.0.0.1:8000/` browses as well when the server answers at another port, host
or proxy. The full IRI stays on the page (`title`, `data-iri`, the heading)."""


def by_path(href: str) -> str:
    """`href` as a path when it is an IRI under this request's base (LINKS_UNDER)."""
    base = LINKS_UNDER.get()
    if base and href.startswith(base):
        return urlsplit(base).path + href[len(base) :]
    return href


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
    return f'<a href="{escape(by_path(href))}"{extra}>{content}</a>'


# ------------------------------------------------------------------ IRIs for people
#
# An IRI is shown by its label when the page has one (web/labels.py), else shortened:
# a prefixed name (`jt:Job`), a path under this server (`/messages/81e8b2c4…c6cb0dc1`),
# long segments cut in the middle. The full IRI is always the link's `title` (shown on
# hover) and its `data-iri` (to copy), and the link itself.

LONG_SEGMENT = 24
"""A path segment longer than this (a digest, a UUID) is shown cut in the middle."""
LONG_IRI = 64
"""An IRI still longer than this shows its host and its last two segments."""


def _cut(segment: str) -> str:
    return f"{segment[:8]}…{segment[-6:]}" if len(segment) > LONG_SEGMENT else segment


def short_iri(iri: str, base: str = "") -> str:
    """`iri` for people: a prefixed name, a path under `base`, long segments cut; at most
    about LONG_IRI characters. A `urn:uuid:` stays whole (people compare UUIDs by eye)."""
    prefixed = shorten(iri)
    if prefixed != iri or iri.startswith("urn:uuid:"):
        return prefixed
    head, rest = "", iri
    if base and iri.startswith(base):
        rest = "/" + iri[len(base) :]
    elif "://" in iri:
        scheme, _, after = iri.partition("://")
        host, slash, rest = after.partition("/")
        head, rest = f"{scheme}://{host}", slash + rest
    path, mark, tail = rest.partition("#" if "#" in rest else "?")
    segments = [_cut(s) for s in path.split("/")]
    shown = head + "/".join(segments) + (mark + _cut(tail) if mark else "")
    if len(shown) > LONG_IRI and len(segments) > 3:
        shown = head + "/…/" + "/".join(segments[-2:]) + (mark + _cut(tail) if mark else "")
    return shown


def iri(value: str, *, label: str | None = None, base: str = "", href: str | None = None) -> str:
    """An IRI as HTML: its label (or shortened form) linking to `href` (default: itself, or
    where this server describes it: a vocabulary term), the full IRI in `title` and
    `data-iri`; a UUID links to its trace; an IRI not safe to follow is text with the same
    attributes."""
    text = label if label else short_iri(value, base)
    if href is None and value.startswith("urn:uuid:"):
        href = "/trace/" + quote(value, safe=":")
    elif href is None:  # our own vocabulary's terms: described here
        href = local_href(value)
    hover = value if not label else f"{value}\n{short_iri(value, base)}"
    attrs = {"title": hover, "data-iri": value, "class": "iri"}
    target = href if href is not None else value
    if safe_href(target) is None:
        extra = "".join(f' {k}="{escape(v)}"' for k, v in attrs.items())
        return f"<span{extra}>{escape(text)}</span>"
    return link(target, text, attrs=attrs)


PLAIN_DATATYPES = frozenset(
    f"http://www.w3.org/2001/XMLSchema#{name}"
    for name in ("string", "dateTime", "dateTimeStamp", "date", "integer", "decimal", "boolean")
) | {"http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"}
"""Datatypes a reader sees from the value itself: not shown beside it. Others (rdf:JSON,
xsd:anyURI, xsd:hexBinary, a producer's own) are shown, muted."""


def term(
    t: ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple,
    base: str,
    *,
    labels: Mapping[str, str] | None = None,
) -> str:
    """A term as HTML: IRIs as links (when safe to follow) by their label in `labels`,
    else shortened (`iri`); literals as text, with a datatype only where it matters."""
    if isinstance(t, ox.NamedNode):
        return iri(t.value, label=(labels or {}).get(t.value), base=base)
    if isinstance(t, ox.Literal):
        text = escape(t.value)
        if "\n" in t.value or len(t.value) > 200:
            text = f"<pre>{text}</pre>"
        dt = t.datatype.value if t.datatype else ""
        suffix = ""
        if t.language:
            suffix = f" <span class=muted>@{escape(t.language)}</span>"
        elif dt and dt not in PLAIN_DATATYPES:
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
    *,
    labels: Mapping[str, str] | None = None,
) -> str:
    """Every property of every subject in the resource's graph, then what links to it;
    IRIs by their `labels` (web/labels.py), the resource's own IRI in full under its name."""
    head, nav = alternates(path, formats)
    labels = labels or {}
    by_subject: dict[str, list[ox.Triple]] = {}
    for t in triples:
        by_subject.setdefault(str(t.subject), []).append(t)
    name = labels.get(iri)
    main = (
        f"<h1>{escape(name or short_iri(iri, base))}</h1>"
        f"<p class=iri-full>{link(iri, inner=f'<code>{escape(iri)}</code>')}</p>{nav}"
    )
    subjects = sorted(by_subject, key=lambda s: (s != f"<{iri}>", s))
    for s in subjects:
        rows = "".join(
            f"<tr><th>{term(t.predicate, base, labels=labels)}</th>"
            f"<td>{term(t.object, base, labels=labels)}</td></tr>"
            for t in sorted(by_subject[s], key=lambda t: (t.predicate.value, str(t.object)))
        )
        subject = by_subject[s][0].subject
        main += (
            f"<h2>{term(subject, base, labels=labels)}</h2><table class=properties>{rows}</table>"
        )
    if incoming:
        rows = "".join(
            f"<tr><td>{term(s, base, labels=labels)}</td>"
            f"<td>{term(p, base, labels=labels)}</td></tr>"
            for s, p in incoming
        )
        main += (
            "<h2>Links to this resource</h2>"
            f"<table class=links><tr><th>from</th><th>by</th></tr>{rows}</table>"
        )
    return page(name or iri, main, head=head)


def iris_of(
    triples: Iterable[ox.Triple],
    incoming: Iterable[tuple[ox.NamedNode | ox.BlankNode, ox.NamedNode]] = (),
) -> list[str]:
    """Every IRI a resource page shows (to label them all with one query)."""
    found: dict[str, None] = {}
    for t in triples:
        for x in (t.subject, t.predicate, t.object):
            if isinstance(x, ox.NamedNode):
                found.setdefault(x.value, None)
    for s, p in incoming:
        for x in (s, p):
            if isinstance(x, ox.NamedNode):
                found.setdefault(x.value, None)
    return list(found)
