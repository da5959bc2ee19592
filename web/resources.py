"""Dereferencing: every IRI minted under the base URL answers with its resource's description.

A resource is the named graph named by its IRI. The path's extension is an
explicit choice of format; otherwise the Accept header decides (Turtle when it
does not say). Responses carry an ETag (a hash of the body) and, where the
resource says when it was stored or modified, Last-Modified; a matching
If-None-Match gets 304.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

import pyoxigraph as ox
from jobtrail.base import nt
from jobtrail.base.errors import NotFound
from jobtrail.base.terms import DCTERMS, JT
from jobtrail.store import Store
from jobtrail.web import conneg, html, render
from jobtrail.web.labels import labels
from jobtrail.web.requests import viewer_of
from jobtrail.web.state import AppRequest, Rendition, Renditions
from starlette.responses import Response

FORMATS: tuple[conneg.Format, ...] = (*conneg.RDF_FORMATS, conneg.HTML)
_WHEN = (ox.NamedNode(str(JT.storedAt)), ox.NamedNode(str(DCTERMS.modified)))

_INCOMING = "SELECT DISTINCT ?s ?p ?g ?o WHERE { GRAPH ?g { ?s ?p ?o } } LIMIT 400"


def describe(
    request: AppRequest,
    store: Store,
    iri: str,
    *,
    path: str,
    chosen: conneg.Format | None,
    formats: tuple[conneg.Format, ...] = FORMATS,
    default: conneg.Format = conneg.TURTLE,
) -> Response:
    """The response for a resource's graph in the negotiated (or chosen) format."""
    if nt.checked_iri(iri) is None:  # a path with `<`, `"` or a space: nothing is stored there
        raise NotFound(
            f"nothing is stored at {path!r}: it makes no valid IRI",
            hint='an IRI holds no space, <, >, ", {, }, |, \\, ^ or `',
        )
    fmt = chosen or conneg.negotiate(request.headers.get("accept"), formats, default)
    viewer = viewer_of(request)
    policy = request.state["engine"].visibility
    cache: Renditions | None = getattr(request.state, "renditions", None)
    kept = cache.get(iri, fmt) if cache is not None else None
    if kept is not None and store.exists(iri):  # still there: what it says cannot have changed
        if not policy.may_see(viewer, kept.owners):
            raise policy.refuse(viewer, iri)
    else:
        kept = _render(request, store, iri, path, fmt, formats)
        if cache is not None:
            cache.put(iri, fmt, kept)
    return respond(
        request,
        kept.body,
        fmt,
        path=path,
        formats=formats,
        modified=kept.modified,
        negotiated=chosen is None,
    )


def _render(
    request: AppRequest,
    store: Store,
    iri: str,
    path: str,
    fmt: conneg.Format,
    formats: tuple[conneg.Format, ...],
) -> Rendition:
    """The graph in `fmt`, once the visibility policy lets the caller see it (401/403 else);
    an HTML page's incoming links only from graphs the caller may read, and its IRIs by
    their labels (`web/labels.py`: one query, within what the caller may read)."""
    base: str = request.state["engine"].config.base_url
    triples = store.read(iri)
    if not triples:
        raise NotFound(f"nothing is stored at {iri}", hint="see / for what this server holds")
    viewer = viewer_of(request)
    policy = request.state["engine"].visibility
    owners = policy.owners_of(iri, triples)
    if not policy.may_see(viewer, owners):
        raise policy.refuse(viewer, iri)
    if fmt is conneg.HTML:
        rows = store.query(_INCOMING, substitutions={"o": ox.NamedNode(iri)})
        readable: dict[str, bool] = {}
        incoming = []
        for row in rows:  # type: ignore[union-attr]
            g = row["g"].value
            if g not in readable:
                readable[g] = policy.may_read(viewer, g)
            if readable[g] and (row["s"], row["p"]) not in incoming:
                incoming.append((row["s"], row["p"]))
        names = labels(store, policy, viewer, base, html.iris_of(triples, incoming))
        body = html.resource(iri, path, triples, incoming, base, formats, labels=names).encode()
    else:
        body = render.rdf(triples, fmt, graph=iri, base=base)
    return Rendition(body, _modified(triples, iri), owners)


def respond(
    request: AppRequest,
    body: bytes,
    fmt: conneg.Format,
    *,
    path: str,
    formats: tuple[conneg.Format, ...],
    modified: datetime | None = None,
    negotiated: bool = True,
) -> Response:
    etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
    headers = {"ETag": etag, "Link": _links(path, formats)}
    if negotiated:
        headers["Vary"] = "Accept"
        if fmt.extension:  # RFC 9110 §8.7: where this very representation is
            headers["Content-Location"] = f"{path}{fmt.extension}"
    if modified is not None:
        headers["Last-Modified"] = format_datetime(modified, usegmt=True)
    if _not_modified(request, etag, modified):
        return Response(status_code=304, headers=headers)
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(body))
        return Response(status_code=200, headers=headers, media_type=fmt.content_type())
    return Response(body, 200, headers, media_type=fmt.content_type())


def _links(path: str, formats: tuple[conneg.Format, ...]) -> str:
    return ", ".join(
        f'<{path}{f.extension}>; rel="alternate"; type="{f.media_type}"'
        for f in formats
        if f.extension
    )


def _not_modified(request: AppRequest, etag: str, modified: datetime | None) -> bool:
    match = request.headers.get("if-none-match")
    if match is not None:
        return match.strip() == "*" or etag in [
            m.strip().removeprefix("W/") for m in match.split(",")
        ]
    since = request.headers.get("if-modified-since")
    if since and modified is not None:
        try:
            return modified.replace(microsecond=0) <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


def _modified(triples: list[ox.Triple], iri: str) -> datetime | None:
    """When the resource says it was stored or modified (to the second, as HTTP dates are)."""
    subject = ox.NamedNode(iri)
    for t in triples:
        if t.subject == subject and t.predicate in _WHEN and isinstance(t.object, ox.Literal):
            value = re.sub(r"(\.\d{6})\d+", r"\1", t.object.value)  # Python keeps microseconds
            try:
                when = datetime.fromisoformat(value)
            except ValueError:
                return None
            return when if when.tzinfo else when.replace(tzinfo=UTC)
    return None
