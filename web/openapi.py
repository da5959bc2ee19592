"""The OpenAPI 3.1 description of the server, built from its routes and their declarations.

A binding declares its operations as data beside its routes (`bindings/<name>/api.py`): an
`Api`, a mapping from (method, path) — the path as its Starlette route spells it,
`/uws/{list}/{id}` or `/trace/{key:path}` — to an `Operation` (summary, parameters, body,
answers, the error statuses, who may call). The `Binding` carries it (`Binding.api`) and
`describe` turns every route of the app into the description `/openapi.json` serves:

- a path's converters become plain templates (`{key:path}` → `{key}`, its parameter saying it
  may hold `/`), path parameters are found from the template;
- `HEAD` is described from `GET` (the same answers, without bodies);
- each error status answers RFC 9457 problem details (`web/errors.py`, the one renderer),
  or HTML or text by negotiation, or the binding's own error format for its paths;
- the security schemes are the server's credentials (`web/requests.py`): the admin token,
  producer credentials (both Bearer), users (HTTP Basic) and passes (`?pass=`).

A route without a declaration is still described (its docstring's first line), marked
`x-undeclared`; `undeclared` lists them, and a test fails on any.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from jobtrail.web import conneg
from starlette.routing import BaseRoute, Mount, Route


class ErrorStyle(Protocol):
    """What `describe` reads of a binding's `ErrorStyle` (web/binding.py)."""

    @property
    def paths(self) -> re.Pattern[str]: ...

    @property
    def formats(self) -> tuple[conneg.Format, ...]: ...


__all__ = [
    "ADMIN",
    "ANYONE",
    "CALLER",
    "SUBMITTER",
    "Api",
    "Body",
    "Operation",
    "Param",
    "Reply",
    "describe",
    "ref",
    "template",
    "undeclared",
]

Media = str | conneg.Format
"""A media type, or a conneg format (its media type is taken)."""

STRING: Mapping[str, Any] = {"type": "string"}
INTEGER: Mapping[str, Any] = {"type": "integer"}


@dataclass(frozen=True)
class Param:
    """A query, header or path parameter."""

    name: str
    description: str = ""
    where: str = "query"
    schema: Mapping[str, Any] = field(default_factory=lambda: STRING)
    required: bool = False


@dataclass(frozen=True)
class Body:
    """A request body: the media types taken, and a schema for the JSON ones."""

    media: tuple[Media, ...]
    description: str = ""
    schema: Mapping[str, Any] | None = None
    """For every JSON media type (and form fields, for a form)."""
    required: bool = True


@dataclass(frozen=True)
class Reply:
    """One answer of an operation that is not an error."""

    status: int
    description: str
    media: tuple[Media, ...] = ()
    schema: Mapping[str, Any] | None = None
    """For the JSON media types."""
    headers: tuple[str, ...] = ()
    """Names of response headers worth saying (Location, Retry-After …)."""


@dataclass(frozen=True)
class Operation:
    summary: str = ""
    """One line; empty: the first line of the endpoint's docstring."""
    description: str = ""
    params: tuple[Param, ...] = ()
    body: Body | None = None
    replies: tuple[Reply, ...] = ()
    errors: tuple[int, ...] = ()
    """Statuses answered as errors (problem details, a page or text)."""
    security: tuple[str, ...] = ()
    """Names from SECURITY_SCHEMES, any one of which is taken; "" for none at all."""


@dataclass(frozen=True)
class Api:
    """A binding's declarations: operations by (METHOD, path as the route spells it), and the
    named schemas they refer to (`ref(name)`, in components/schemas)."""

    operations: Mapping[tuple[str, str], Operation] = field(default_factory=dict)
    schemas: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    security: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Security schemes of its own, besides the server's (SECURITY_SCHEMES)."""


ANYONE = ("", "user", "pass", "producer", "adminToken")
"""Anyone may call; credentials widen what is seen (jobs/visibility.py)."""
CALLER = ("", "user", "pass")
"""Anyone may call (when `anonymous` is on); a user's or a pass's job is theirs."""
ADMIN = ("adminToken",)
SUBMITTER = ("producer", "adminToken")

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "adminToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "The server's `admin_token`, as `Authorization: Bearer <token>` (or "
        "HTTP Basic with any user name and the token as password).",
    },
    "producer": {
        "type": "http",
        "scheme": "bearer",
        "description": "A producer credential (the `producers` setting): posts messages "
        "for the producers it names, reads what they posted.",
    },
    "user": {
        "type": "http",
        "scheme": "basic",
        "description": "A user (the `users` setting, name:password); a curator (`curators`) "
        "reads every job. Under /sif/ a SIF session token stands for its user.",
    },
    "pass": {
        "type": "apiKey",
        "in": "query",
        "name": "pass",
        "description": "A pass (the `passes` setting): its jobs are paid from its credit.",
    },
}

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details, as web/errors.py writes them.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string", "format": "uri"},
        "hint": {"type": "string", "description": "what to do about it"},
        "location": {"type": "string", "description": "where in the input"},
    },
    "additionalProperties": True,
}

TITLES: dict[int, str] = {
    400: "Bad request: the input or a parameter cannot be read (the detail names it)",
    401: "Unauthorized: a credential is needed (WWW-Authenticate)",
    402: "Payment required: the pass has not enough credit",
    403: "Forbidden: the credential is not enough, or the protocol refuses the change",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable: none of the formats asked for; the answer lists those available",
    408: "Request timeout: the body did not arrive within body_timeout",
    409: "Conflict: the job's state does not allow it",
    410: "Gone: it was deleted",
    413: "Request body too large (max_body)",
    415: "Unsupported media type",
    422: "Unprocessable: shapes or the work rejected it",
    424: "Failed dependency: the job's input could not be fetched",
    500: "Unexpected error (logged; never a stack trace), or the query engine died",
    502: "The remote store failed",
    503: "Unavailable: a time limit, or the store not ready (Retry-After)",
    507: "Insufficient storage: the disk is full, or a query's results or memory too large",
}

ERROR_MEDIA = ("application/problem+json", "text/html", "text/plain")
"""The formats web/errors.py writes every error in (its FORMATS; a test keeps them equal: this
module is below `web/binding.py`, which errors.py reads its styles from)."""
PROBLEM_MEDIA = ERROR_MEDIA[0]

_CONVERTER = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+))?}")
_JSON = re.compile(r"json")
_FORM = "application/x-www-form-urlencoded"


def template(path: str) -> str:
    """`/trace/{key:path}` → `/trace/{key}`: an OpenAPI path template."""
    return _CONVERTER.sub(lambda m: "{" + m.group(1) + "}", path)


def _path_params(path: str, declared: Sequence[Param]) -> list[dict[str, Any]]:
    named = {p.name: p for p in declared if p.where == "path"}
    out = []
    for m in _CONVERTER.finditer(path):
        name, converter = m.group(1), m.group(2)
        given = named.get(name)
        schema: Mapping[str, Any] = INTEGER if converter == "int" else STRING
        text = given.description if given is not None else ""
        if converter == "path":
            text = (text + " " if text else "") + "(may hold `/`: the rest of the path)"
        out.append(
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": dict(given.schema if given is not None else schema),
                **({"description": text} if text else {}),
            }
        )
    return out


def _media_type(m: Media) -> str:
    return m.media_type if isinstance(m, conneg.Format) else m


def _content(media: Iterable[Media], schema: Mapping[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in media:
        kind = _media_type(m)
        json_like = bool(_JSON.search(kind)) or kind in (_FORM, "multipart/form-data")
        out[kind] = {"schema": dict(schema)} if schema is not None and json_like else {}
    return out


def _error_media(path: str, styles: Sequence[ErrorStyle]) -> tuple[str, ...] | None:
    """The error formats at a path whose binding has its own (`ErrorStyle`), else None."""
    for style in styles:
        if style.paths.match(path):
            kinds = [f.media_type for f in style.formats]
            kinds += [kind for kind in ERROR_MEDIA if kind not in kinds]
            return tuple(kinds)
    return None


def _error(status: int, media: tuple[str, ...] | None) -> dict[str, Any]:
    if media is None:
        return {"$ref": f"#/components/responses/Problem{status}"}
    content: dict[str, Any] = {}
    for kind in media:
        problem = kind == PROBLEM_MEDIA
        content[kind] = {"schema": {"$ref": "#/components/schemas/Problem"}} if problem else {}
    return {"description": TITLES.get(status, "Error"), "content": content}


def _operation(
    method: str,
    path: str,
    op: Operation,
    endpoint_doc: str,
    *,
    tag: str,
    styles: Sequence[ErrorStyle],
) -> dict[str, Any]:
    summary = op.summary or (endpoint_doc.strip().splitlines() or [""])[0].strip()
    out: dict[str, Any] = {
        "operationId": _operation_id(method, path),
        "summary": summary or f"{method} {template(path)}",
        "tags": [tag],
    }
    if op.description:
        out["description"] = op.description
    params = _path_params(path, op.params)
    params += [
        {
            "name": p.name,
            "in": p.where,
            "required": p.required,
            "schema": dict(p.schema),
            **({"description": p.description} if p.description else {}),
        }
        for p in op.params
        if p.where != "path"
    ]
    if params:
        out["parameters"] = params
    head = method == "HEAD"
    if op.body is not None and not head:
        out["requestBody"] = {
            "required": op.body.required,
            "content": _content(op.body.media, op.body.schema),
            **({"description": op.body.description} if op.body.description else {}),
        }
    responses: dict[str, Any] = {}
    for reply in op.replies:
        answer: dict[str, Any] = {"description": reply.description}
        if reply.media and not head:
            answer["content"] = _content(reply.media, reply.schema)
        if reply.headers:
            answer["headers"] = {h: {"schema": {"type": "string"}} for h in reply.headers}
        responses[str(reply.status)] = answer
    statuses = set(op.errors)
    if op.body is not None and not head:
        statuses |= {408, 413}  # web/requests.read_body, web/middleware.BodyLimit
    media = _error_media(path, styles)
    for status in sorted(statuses):
        responses.setdefault(str(status), _error(status, media))
    if not responses:
        responses["200"] = {"description": "OK"}
    out["responses"] = responses
    if op.security:
        out["security"] = [{name: []} if name else {} for name in op.security]
    return out


def _operation_id(method: str, path: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", template(path)) or ["root"]
    return method.lower() + "_" + "_".join(words)


def _walk(routes: Sequence[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str, Any]]:
    """(method, path, endpoint) of every route, a mount's as `{mount}/{path:path}`."""
    for route in routes:
        if isinstance(route, Route):
            for method in sorted(route.methods or ()):
                yield method, prefix + route.path, route.endpoint
        elif isinstance(route, Mount):
            inner = route.routes
            if inner:
                yield from _walk(inner, prefix + route.path)
            else:
                yield "GET", prefix + route.path + "/{path:path}", route.app
                yield "HEAD", prefix + route.path + "/{path:path}", route.app


def _merged(apis: Mapping[str, Api]) -> tuple[dict[tuple[str, str], Operation], dict[Any, str]]:
    operations: dict[tuple[str, str], Operation] = {}
    tags: dict[Any, str] = {}
    for tag, api in apis.items():
        for key, op in api.operations.items():
            operations[key] = op
            tags[key] = tag
    return operations, tags


def undeclared(routes: Sequence[BaseRoute], apis: Mapping[str, Api]) -> list[tuple[str, str]]:
    """The (path, method) of every route without a declaration (HEAD goes with GET)."""
    operations, _ = _merged(apis)
    out = []
    for method, path, _endpoint in _walk(routes):
        if ("GET" if method == "HEAD" else method, path) not in operations:
            out.append((path, method))
    return out


def describe(
    routes: Sequence[BaseRoute],
    apis: Mapping[str, Api],
    *,
    base_url: str,
    styles: Sequence[ErrorStyle] = (),
    version: str = "0.1.0",
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of these routes, declared by `apis` (by binding name: the
    operations' tags). `styles`: the bindings' `ErrorStyle`s (their paths' error formats)."""
    operations, tags = _merged(apis)
    paths: dict[str, dict[str, Any]] = {}
    for method, path, endpoint in _walk(routes):
        key = ("GET" if method == "HEAD" else method, path)
        declared = operations.get(key)
        op = declared if declared is not None else Operation()
        doc = getattr(endpoint, "__doc__", None) or ""
        described = _operation(method, path, op, doc, tag=tags.get(key, "server"), styles=styles)
        if declared is None:
            described["x-undeclared"] = True
        paths.setdefault(template(path), {})[method.lower()] = described
    schemas = {name: dict(value) for api in apis.values() for name, value in api.schemas.items()}
    schemes = {name: dict(v) for api in apis.values() for name, v in api.security.items()}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "jobtrail",
            "version": version,
            "description": "A linked-data job repository and provenance store. Every resource "
            "minted under the base URL dereferences, its format chosen by `Accept` or an "
            "extension (`.ttl .jsonld .rdf .n3 .nt .nq .trig .html`). Errors are RFC 9457 "
            "problem details for JSON clients, a page for browsers, text otherwise.",
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [{"url": base_url.rstrip("/") or "/"}],
        "paths": paths,
        "components": {
            "schemas": {"Problem": PROBLEM_SCHEMA, **schemas},
            "responses": {
                f"Problem{status}": _error(status, ERROR_MEDIA) for status in sorted(TITLES)
            },
            "securitySchemes": {**SECURITY_SCHEMES, **schemes},
        },
    }


def ref(name: str) -> dict[str, Any]:
    """A reference to a schema an `Api` names."""
    return {"$ref": f"#/components/schemas/{name}"}


RDF: tuple[Media, ...] = (*conneg.RDF_FORMATS, conneg.HTML)
"""A described resource: every RDF syntax, and HTML for people."""
RESULTS: tuple[Media, ...] = (*conneg.RESULT_FORMATS, *conneg.RDF_FORMATS, conneg.HTML)
"""A SPARQL query's answer: results formats (SELECT, ASK), RDF (CONSTRUCT, DESCRIBE), HTML."""

READ_ERRORS = (401, 403, 406)
"""What a negotiated read may answer besides its own: no credential where one is needed (the
`read_login` setting), a credential that does not check, no format the client accepts."""


def ok(description: str, media: tuple[Media, ...] = (), **more: Any) -> Reply:
    """A 200 answer."""
    return Reply(200, description, media, **more)


def see_other(description: str) -> Reply:
    return Reply(303, description, headers=("Location",))


NOT_MODIFIED = Reply(304, "Not modified: the `ETag` matches `If-None-Match`")
PAGE = Param("page", "the page, from 1 (RFC 5005 links name the others)", schema=INTEGER)
SIZE = Param("size", "entries a page", schema=INTEGER)
