"""One handler renders every error: problem+json, HTML for browsers, plain text otherwise.

Under /sif/ an error is a SIF 3.2.1 `error` document by default (the infrastructure
namespace: code, scope, message, description), as SIF consumers read them.

The error classes (and the status each stands for) are in jobtrail.store.errors;
nothing here decides a status. A stack trace is never shown: an unexpected
exception is logged and answered with a plain 500.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from html import escape

from jobtrail.store.errors import JobtrailError
from lxml import etree
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from . import conneg, html

log = logging.getLogger("jobtrail")

PROBLEM = conneg.Format("problem", "application/problem+json", None, ("application/json",))
TEXT = conneg.Format("text", "text/plain", None)
SIF_ERROR = conneg.Format("sif", "application/xml", None, ("text/xml",))
_FORMATS = (PROBLEM, conneg.HTML, TEXT)
_SIF_FORMATS = (SIF_ERROR, *_FORMATS)
SIF_NS = "http://www.sifassociation.org/infrastructure/3.2.1"


_JSON_APIS = re.compile(r"^/mcma/|^/jobs/[^/]+/(cancel|restart|executions)(/|$)")
"""Paths of JSON APIs (MCMA): their clients get problem+json unless they ask otherwise."""


def _default(request: Request) -> conneg.Format:
    """Plain text for people, unless the client spoke JSON or called a JSON or SIF API."""
    if request.url.path.startswith("/sif/"):
        return SIF_ERROR
    if "json" in request.headers.get("content-type", "") or _JSON_APIS.match(request.url.path):
        return PROBLEM
    return TEXT


def render(request: Request, error: JobtrailError) -> Response:
    default = _default(request)
    formats = _SIF_FORMATS if default is SIF_ERROR else _FORMATS
    try:
        fmt = conneg.negotiate(request.headers.get("accept"), formats, default)
    except JobtrailError:
        fmt = TEXT
    headers = {"Vary": "Accept"}
    if error.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="jobtrail"'
    if fmt is SIF_ERROR:
        headers["messageType"] = "ERROR"
        return Response(_sif(request, error), error.status, headers, media_type="application/xml")
    if fmt is PROBLEM:
        body = json.dumps({**error.problem(), "instance": str(request.url)}, ensure_ascii=False)
        return Response(body, error.status, headers, media_type="application/problem+json")
    if fmt is conneg.HTML:
        return Response(_page(error), error.status, headers, media_type="text/html; charset=utf-8")
    return Response(
        error.describe() + "\n", error.status, headers, media_type="text/plain; charset=utf-8"
    )


def _sif(request: Request, error: JobtrailError) -> bytes:
    root = etree.Element(f"{{{SIF_NS}}}error", nsmap={None: SIF_NS}, id=str(uuid.uuid4()))
    parts = [
        ("code", str(error.status)),
        ("scope", f"{request.method} {request.url.path}"[:80]),
        ("message", error.message[:1024]),
    ]
    more = [f"at {error.location}"] if error.location else []
    more += [f"hint: {error.hint}"] if error.hint else []
    more += [f"{k}: {v}" for k, v in error.details.items()]
    if more:
        parts.append(("description", "; ".join(more)))
    for name, text in parts:
        etree.SubElement(root, f"{{{SIF_NS}}}{name}").text = text
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _page(error: JobtrailError) -> str:
    title = f"{error.status} {error.title}"
    body = f"<h1>{escape(title)}</h1><pre>{escape(error.describe())}</pre>"
    return html.page(title, body)


async def jobtrail_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, JobtrailError)
    return render(request, exc)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    error = JobtrailError(exc.detail or "error")
    error.status = exc.status_code
    error.title = exc.detail or "error"
    response = render(request, error)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return render(request, JobtrailError("an unexpected error happened; it has been logged"))
