"""OpenAPI declarations of the linked-data routes (web/openapi.py): the home page,
dereferencing, the message feed and `POST /messages`, traces, the vocabulary, the shapes, the
JSON-LD contexts, the indexes (producers, references, UUIDs) and search."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from jobtrail.bindings.linkeddata import documents, feeds, indexes, producers, trace
from jobtrail.web import conneg
from jobtrail.web.openapi import (
    ANYONE,
    NOT_MODIFIED,
    PAGE,
    RDF,
    READ_ERRORS,
    SIZE,
    SUBMITTER,
    Api,
    Body,
    Operation,
    Param,
    Reply,
    ok,
    ref,
    see_other,
)

_TNA_ID = "https://nationalarchives.gov.uk/da-transform/tre/schemas/"

_FLAG: dict[str, Any] = {"type": "string", "enum": ["1", "0"]}
FILTERS = (
    Param("producer", "a producer's name (`TRE`) or IRI"),
    Param("kind", "a message class: its name (`TREMessage`, `Request`), `jt:…`, or an IRI"),
    Param("since", "stored from: `2022`, `2022-08`, `2022-08-04` or a date and time"),
    Param("until", "stored until (inclusive): the same forms"),
    Param("warnings", "`1`: stored with validation warnings; `0`: without", schema=_FLAG),
    Param("errors", "`1`: reporting an error (TRE parameters, HTTP status ≥ 400)", schema=_FLAG),
    Param("reference", "stating this consignment reference (or it prefixed: `TRE-…`)"),
    Param("uuid", "carrying this UUID (bare or `urn:uuid:…`)"),
    Param(
        "q", "a piece of a reference or UUID, any case", schema={"type": "string", "maxLength": 200}
    ),
    Param("sort", "the order", schema={"type": "string", "enum": ["time", "producer", "kind"]}),
    Param(
        "order",
        "newest (or A) first: `desc` for time, `asc` else",
        schema={"type": "string", "enum": ["asc", "desc"]},
    ),
)
"""The /messages filters and order (bindings/linkeddata/filters.py)."""


def tna_schemas() -> dict[str, dict[str, Any]]:
    """TNA's message schemas, vendored by the ingest layer (`ingest/tna_schemas/`), named
    `tna-{file}`, their references to one another made local."""
    folder = resources.files("jobtrail.ingest") / "tna_schemas"
    out: dict[str, dict[str, Any]] = {}
    for item in sorted(folder.iterdir(), key=lambda f: f.name):
        if item.name.endswith(".json"):
            text = item.read_text(encoding="utf-8")
            text = text.replace(f'"{_TNA_ID}', '"#/components/schemas/tna-')
            document = json.loads(text)
            document.pop("$id", None)
            document.pop("$schema", None)
            out["tna-" + item.name.removesuffix(".json")] = document
    return out


_SCHEMAS = tna_schemas()
_OUTCOME = {
    "type": "object",
    "properties": {
        "source": {"type": "string"},
        "outcome": {"enum": ["stored", "duplicate", "rejected"]},
        "message": {"type": "string", "format": "uri", "description": "the message's IRI"},
        "warnings": {"type": "array", "items": {"type": "object"}},
        "notes": {"type": "array", "items": {"type": "string"}},
        "error": ref("Problem"),
    },
}
_SCHEMAS["MessageOutcome"] = _OUTCOME
_SCHEMAS["MessagesOutcome"] = {
    "type": "object",
    "properties": {
        "stored": {"type": "integer"},
        "duplicates": {"type": "integer"},
        "rejected": {"type": "integer"},
        "messages": {"type": "array", "items": ref("MessageOutcome")},
    },
}
_MESSAGE = {
    "description": "A TRE message (one of TNA's schemas; findings are warnings, not refusals) "
    "or FIMS/MCMA JSON-LD",
    "anyOf": [*(ref(name) for name in sorted(_SCHEMAS) if name.startswith("tna-")), {}],
}

_EXT = Param(
    "ext",
    "a format's extension: " + ", ".join(f.extension or "" for f in documents.FORMATS),
    where="path",
)

_INDEX_EXT = Param("ext", "`json` or `html` (`/producers`: an RDF extension too)", where="path")


def _index(name: str, what: str) -> dict[tuple[str, str], Operation]:
    formats = indexes.INDEXES[name].formats
    paged = "Paged (`page`, `size`; a page past the last is 404, `Link` names the others); "
    seen = "what the caller may see (jobs/visibility.py)."
    return {
        ("GET", f"/{name}"): Operation(
            description=paged + seen,
            params=(PAGE, SIZE),
            replies=(ok(what, formats, headers=("Link", "ETag")), NOT_MODIFIED),
            errors=(*READ_ERRORS, 400, 404),
            security=ANYONE,
        ),
        ("GET", f"/{name}.{{ext}}"): Operation(
            f"The {name} in the format of an extension",
            params=(_INDEX_EXT, PAGE, SIZE),
            replies=(ok(what, formats, headers=("Link", "ETag")),),
            errors=(400, 401, 403, 404),
            security=ANYONE,
        ),
    }


_BROWSE: dict[tuple[str, str], Operation] = {
    ("GET", "/"): Operation(
        description="Counts (messages, with warnings, producers, jobs by phase) and the latest "
        "messages, as the caller may see them; a search box. With `read_login` on, an "
        "anonymous caller gets the way in only.",
        replies=(ok("the home page", indexes.FORMATS),),
        errors=(401, 406),
        security=ANYONE,
    ),
    ("GET", "/index.{ext}"): Operation(
        "The home page's counts in the format of an extension (`.json`, `.html`)",
        params=(_INDEX_EXT,),
        replies=(ok("the counts and the latest messages", indexes.FORMATS),),
        errors=(401, 403, 404),
        security=ANYONE,
    ),
    **_index("producers", "every producer, its label, messages, first and last seen"),
    **_index("references", "every reference stated, its messages, trace, first and last seen"),
    **_index("uuids", "every UUID carried, its messages, trace, first and last seen"),
    ("GET", "/search"): Operation(
        description="References, UUIDs and producers holding `q` (case-insensitive), by kind; "
        "a reference or UUID typed exactly is 303 to its trace.",
        params=(Param("q", f"the text, at most {indexes.MAX_Q} characters"),),
        replies=(ok("the matches", indexes.FORMATS), see_other("the trace of an exact key")),
        errors=(*READ_ERRORS, 400, 404),
        security=ANYONE,
    ),
    ("GET", "/search.{ext}"): Operation(
        "The matches in the format of an extension (`.json`, `.html`)",
        params=(_INDEX_EXT, Param("q", f"the text, at most {indexes.MAX_Q} characters")),
        replies=(ok("the matches", indexes.FORMATS), see_other("the trace of an exact key")),
        errors=(400, 401, 403, 404),
        security=ANYONE,
    ),
}

_PRODUCER = Param("rest", "the producer's path below `/producers/`", where="path")
_MEMENTO: dict[tuple[str, str], Operation] = {
    ("GET", "/producers/{rest:path}/versions/{name}"): Operation(
        "A Memento: the producer as of one of the messages it made",
        description="Its description and that message (`{name}`: the message's SHA-256), with "
        "`Memento-Datetime` (when the message was made) and `Link` (original, timegate, "
        "timemap, first/last/prev/next memento). Every RDF format by `Accept` or extension; "
        "HTML. Only messages the caller may read are versions.",
        params=(_PRODUCER, Param("name", "the message's SHA-256 (`.ttl` …)", where="path")),
        replies=(ok("the version", producers.FORMATS, headers=("Memento-Datetime", "Link")),),
        errors=(*READ_ERRORS, 400, 404),
        security=ANYONE,
    ),
    ("GET", "/producers/{rest:path}/timemap"): Operation(
        "The producer's TimeMap: a version for each message it made (RFC 7089 §5)",
        description=f"{producers.PAGE} versions a page (`?page=`; `Link` rel next/prev).",
        params=(_PRODUCER, PAGE),
        replies=(ok("its versions", producers.TIMEMAP_FORMATS, headers=("Link",)),),
        errors=(*READ_ERRORS, 400, 404),
        security=ANYONE,
    ),
    ("GET", "/producers/{rest:path}/timemap.{ext}"): Operation(
        "The producer's TimeMap in a format named: `.link`, `.json` or `.html`",
        params=(_PRODUCER, Param("ext", "link, json or html", where="path"), PAGE),
        replies=(ok("its versions", producers.TIMEMAP_FORMATS, headers=("Link",)),),
        errors=(401, 403, 400, 404),
        security=ANYONE,
    ),
}

API = Api(
    {
        **_BROWSE,
        **_MEMENTO,
        ("GET", "/{path:path}"): Operation(
            "The description of any resource minted under the base URL",
            "Messages (`/messages/{sha256}`), producers (`/producers/…`), jobs' graphs, "
            "anything stored under the base URL: every RDF syntax by `Accept` or an extension "
            "(`.ttl .jsonld .rdf .n3 .nt .nq .trig .html`), with `ETag`, `Last-Modified`, "
            "`Link: rel=alternate` and `Content-Location`. Another spelling of the path is "
            "`301` to the one minted. A producer (`/producers/…`) asked with `Accept-Datetime` "
            "is its own Memento TimeGate: `302` to its version current then (the last message "
            "it made by then that the caller may read), `404` before its first.",
            params=(
                Param("path", "the resource's path below the base URL", where="path"),
                Param(
                    "Accept-Datetime",
                    "an RFC 1123 date: a producer as of then (Memento)",
                    where="header",
                ),
            ),
            replies=(
                ok("its description", RDF, headers=("ETag", "Link", "Content-Location")),
                Reply(301, "to the path as minted", headers=("Location",)),
                Reply(302, "a producer as of Accept-Datetime", headers=("Location", "Link")),
                NOT_MODIFIED,
            ),
            errors=(*READ_ERRORS, 400, 404),
            security=ANYONE,
        ),
        ("GET", "/contexts/{name}"): Operation(
            params=(Param("name", "`jobtrail` and the others the server uses", where="path"),),
            replies=(ok("the context", ("application/ld+json",)),),
            errors=(404,),
        ),
        ("GET", "/trace"): Operation(
            description="The search box and the keys the newest messages the caller may see "
            "state; `?key=` answers 303 to that key's trace (a message IRI: to its row).",
            params=(Param("key", "a UUID, urn:uuid:…, reference, job id or message IRI"),),
            replies=(ok("the recent keys", trace.INDEX_FORMATS), see_other("the key's trace")),
            errors=(400, 404, 406),
            security=ANYONE,
        ),
        ("GET", "/trace.{ext}"): Operation(
            "The recent keys in the format of an extension (`.json`, `.html`)",
            params=(_EXT,),
            replies=(ok("the recent keys", trace.INDEX_FORMATS),),
            errors=(404,),
            security=ANYONE,
        ),
        ("GET", "/trace/{key:path}"): Operation(
            description="Every hop of the chain a UUID, reference or job id belongs to, in "
            "order; the format by `Accept` or an extension (`.json .provjson .html .svg .ttl "
            ".jsonld .rdf .nt`). Hops of jobs the caller may not see are left out.",
            params=(Param("key", "a UUID, a reference or a job id", where="path"),),
            replies=(ok("the chain", trace.FORMATS, headers=("ETag", "Link")), NOT_MODIFIED),
            errors=(*READ_ERRORS, 404),
            security=ANYONE,
        ),
        ("GET", "/vocab"): Operation(
            replies=(ok("the ontology and status schemes", documents.FORMATS),),
            errors=(406,),
        ),
        ("GET", "/vocab.{ext}"): Operation(
            "The vocabulary in the format of an extension",
            params=(_EXT,),
            replies=(ok("the ontology and status schemes", documents.FORMATS),),
            errors=(404,),
        ),
        ("GET", "/vocab/{term:path}"): Operation(
            params=(Param("term", "a term, a status scheme or a concept", where="path"),),
            replies=(ok("its description", documents.FORMATS),),
            errors=(404, 406),
        ),
        ("GET", "/shapes"): Operation(
            replies=(ok("the shapes", documents.FORMATS),),
            errors=(406,),
        ),
        ("GET", "/shapes.{ext}"): Operation(
            "The SHACL shapes in the format of an extension",
            params=(_EXT,),
            replies=(ok("the shapes", documents.FORMATS),),
            errors=(404,),
        ),
        ("GET", "/messages"): Operation(
            description="Paged with RFC 5005 links; what the caller may see (jobs/visibility.py); "
            "filtered and sorted (an unknown or bad parameter: 400). HTML adds facet counts.",
            params=(PAGE, SIZE, *FILTERS),
            replies=(ok("a page of messages", feeds.FORMATS, headers=("Link", "ETag")),),
            errors=(*READ_ERRORS, 400),
            security=ANYONE,
        ),
        ("GET", "/messages.{ext}"): Operation(
            "The message feed in the format of an extension",
            params=(
                Param("ext", "`atom` or an RDF or HTML extension", where="path"),
                PAGE,
                SIZE,
                *FILTERS,
            ),
            replies=(ok("a page of messages", feeds.FORMATS, headers=("Link",)),),
            errors=(400, 401, 403, 404),
            security=ANYONE,
        ),
        ("POST", "/messages"): Operation(
            description="One message — TRE JSON (checked against TNA's schemas: findings are "
            "warnings), FIMS/MCMA JSON-LD, `message/http`, any RDF syntax (its Content-Type, "
            "else its first bytes, says which) — or JSON Lines, one message a line. A credential "
            "speaks for the producers it names: another's message is `403`.",
            body=Body(
                (
                    "application/json",
                    conneg.JSONLD,
                    "message/http",
                    *conneg.RDF_FORMATS[:1],
                    *conneg.RDF_FORMATS[2:],
                    "application/jsonl",
                    "application/x-ndjson",
                ),
                schema=_MESSAGE,
            ),
            replies=(
                Reply(
                    201,
                    "stored (for JSON Lines: some stored); the body lists shape warnings",
                    ("application/json",),
                    {"anyOf": [ref("MessageOutcome"), ref("MessagesOutcome")]},
                    ("Location",),
                ),
                Reply(
                    200,
                    "these bytes were stored before: nothing new",
                    ("application/json",),
                    {"anyOf": [ref("MessageOutcome"), ref("MessagesOutcome")]},
                ),
                Reply(
                    422,
                    "the shapes reject it: the SHACL report (JSON Lines: the lines rejected)",
                    ("application/problem+json", "application/json"),
                ),
            ),
            errors=(400, 401, 403, 415, 503, 507),
            security=SUBMITTER,
        ),
    },
    _SCHEMAS,
)
