"""Which reader reads what: one entry point from bytes to a message graph."""

from __future__ import annotations

import json
from pathlib import PurePath
from typing import Any

from jobtrail.base import nt, redact
from jobtrail.base.errors import Location, UnsupportedFormat
from jobtrail.ingest import http, jsonld, openlineage, rdf, tna, tre
from jobtrail.ingest.jsonparse import parse_json
from jobtrail.ingest.message import Incoming, Message, envelope, message_iri
from jobtrail.shapes.report import Result
from jobtrail.store import ResourceGraph, Triple

JSON_TYPES = {"application/json", "application/ld+json", "text/json"}
HTTP_TYPE = "message/http"

EXTENSIONS: dict[str, str] = {
    ".json": "application/json",
    ".jsonld": "application/ld+json",
    ".http": HTTP_TYPE,
    **rdf.EXTENSIONS,
}


def media_type_of(incoming: Incoming) -> str:
    """The declared media type, else the file extension's, else a look at the bytes."""
    if incoming.media_type:
        return incoming.media_type.split(";")[0].strip().lower()
    suffix = PurePath(incoming.source.split(":", 1)[0]).suffix.lower()
    if suffix in EXTENSIONS:
        return EXTENSIONS[suffix]
    head = incoming.data.removeprefix(b"\xef\xbb\xbf").lstrip()[:1]  # a BOM: parse_json notes it
    if head in (b"{", b"["):
        return "application/json"
    if http.looks_like_http(incoming.data):
        return HTTP_TYPE
    raise UnsupportedFormat(
        "cannot tell what this is from its name or its first bytes",
        location=Location(incoming.source),
        hint="give the format, e.g. --format text/turtle; readable: "
        + ", ".join(sorted({*JSON_TYPES, HTTP_TYPE, *rdf.FORMATS})),
    )


def read_message(incoming: Incoming, *, base: str, stored_at: str) -> Message:
    """Read one message; raises an InputError subclass for what cannot be read at all."""
    media_type = media_type_of(incoming)
    notes: list[str] = []
    shared: list[ResourceGraph] = []
    warnings: list[Result] = []
    if media_type in JSON_TYPES:
        doc, notes = parse_json(incoming.data, incoming.source)
        if openlineage.is_openlineage(doc):
            incoming, doc = _openlineage(incoming, doc, notes)
        m = message_iri(base, incoming.sha256)
        kind, content = _json(doc, m, base, incoming.source, notes, shared, standalone=True)
        if kind in tre.SUPERCLASSES:
            warnings = tna.schema_warnings(doc, m)
        classes: tuple[str, ...] = (kind,)
    elif media_type == HTTP_TYPE:
        m = message_iri(base, incoming.sha256)
        classes, content = _http(incoming, m, base, notes, shared)
    else:
        m = message_iri(base, incoming.sha256)
        classes = ("RDFMessage",)
        content = rdf.triples(incoming.data, media_type, m, incoming.source)
    supers = {**tre.SUPERCLASSES, **openlineage.SUPERCLASSES}
    classes = tuple(dict.fromkeys(c for k in classes for c in (*supers.get(k, ()), k)))
    iri, triples = envelope(
        incoming,
        base=base,
        classes=classes,
        media_type=media_type,
        notes=notes,
        stored_at=stored_at,
    )
    graph = ResourceGraph(iri, triples + content)
    return Message(
        iri=iri,
        kind=classes[-1],
        graph=graph,
        notes=notes,
        source=incoming.source,
        shared=shared,
        warnings=warnings,
    )


def _json(
    doc: Any,
    m: str,
    base: str,
    source: str,
    notes: list[str],
    shared: list[ResourceGraph],
    *,
    standalone: bool,
) -> tuple[str, list[Triple]]:
    if jsonld.is_jsonld(doc):
        content, more, top = jsonld.triples(doc, m, source)
        notes += more
        if top and (term := nt.checked_iri(top)):
            content.append((nt.iri(m), nt.jt("about"), term))
        return "JSONLDMessage", content
    if openlineage.is_openlineage(doc):
        if not standalone:  # a file or a POST's body was checked as it was read
            notes += openlineage.check(doc, source)
        kind, content, producers = openlineage.triples(doc, m, base)
        shared += producers
        return kind, content
    if tre.is_tre(doc):
        kind, content, producers = tre.triples(doc, m, base)
        shared += producers
        return kind, content
    if standalone:
        raise UnsupportedFormat(
            "JSON that is neither JSON-LD (no @context) nor a TRE message "
            "(no UUIDs, producer or properties)",
            location=Location(source),
        )
    notes.append("body is JSON with no @context; its keys are kept as parameters")
    s = nt.iri(m)
    out: list[Triple] = []
    items = doc.items() if isinstance(doc, dict) else [("body", doc)]
    for i, (key, value) in enumerate(items):
        tre.parameter(out, s, f"{m}#body", i, key, value)
    return "HTTPMessage", out


def _openlineage(incoming: Incoming, doc: Any, notes: list[str]) -> tuple[Incoming, Any]:
    """An OpenLineage event with its secrets taken out before anything is kept of it: the
    bytes stored are then the event as redacted (said in a note), never the secret."""
    notes += openlineage.check(doc, incoming.source)  # an invalid one is never stored
    doc, found = openlineage.without_secrets(doc)
    if not found:
        return incoming, doc
    notes.append(f"secrets replaced by {redact.REDACTED} before storing: " + ", ".join(found))
    data = json.dumps(doc, ensure_ascii=False).encode("utf-8")
    return Incoming(data, incoming.source, incoming.media_type), doc


def _http(
    incoming: Incoming, m: str, base: str, notes: list[str], shared: list[ResourceGraph]
) -> tuple[tuple[str, ...], list[Triple]]:
    # head and body are split on bytes: the body is decoded only by a reader that reads
    # text, so a binary body (an image) leaves the hop readable, its bytes kept verbatim
    # by the envelope (as jt:originalBase64 when they are not UTF-8)
    start, headers, body, line = http.split(incoming.data, incoming.source)
    content = http.triples(start, headers, m, incoming.source, line)
    classes: tuple[str, ...] = ("HTTPMessage",)
    if not body.strip():
        return classes, content
    body_type = http.content_type(headers) or (
        "application/json" if body.lstrip()[:1] in (b"{", b"[") else None
    )
    where = f"{incoming.source} (body)"
    if body_type in JSON_TYPES:
        doc, more = parse_json(body, where)
        notes += more
        kind, extra = _json(doc, m, base, where, notes, shared, standalone=False)
        if kind != "HTTPMessage":
            classes += (kind,)
        return classes, content + extra
    if body_type in rdf.FORMATS:
        return classes + ("RDFMessage",), content + rdf.triples(body, body_type, m, where)
    notes.append(f"body of type {body_type or 'unknown'} is kept verbatim only")
    return classes, content
