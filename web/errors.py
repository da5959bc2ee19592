"""One handler renders every error: problem+json, HTML for browsers, plain text otherwise.

A binding may declare a default of its own for its paths (`ErrorStyle` in
web/binding.py): MCMA's JSON APIs answer problem+json, SIF writes its `error`
document. The app keeps those declarations in `app.state.error_styles`.

The error classes (and the status each stands for) are in jobtrail.base.errors;
nothing here decides a status. A stack trace is never shown: an unexpected
exception is logged and answered with a plain 500 — but for an `OSError` saying
the disk is full, answered as `StoreFull` (507) naming the file's disk.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING, Any

from jobtrail.base.errors import JobtrailError, StoreNotReady
from jobtrail.store import space
from jobtrail.web import conneg, html
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

if TYPE_CHECKING:
    from jobtrail.web.binding import ErrorStyle

log = logging.getLogger("jobtrail")

PROBLEM = conneg.Format("problem", "application/problem+json", None, ("application/json",))
TEXT = conneg.Format("text", "text/plain", None)
FORMATS = (PROBLEM, conneg.HTML, TEXT)


def _style(request: Request[Any]) -> ErrorStyle | None:
    styles: Sequence[ErrorStyle] = getattr(request.app.state, "error_styles", ())
    return next((s for s in styles if s.paths.match(request.url.path)), None)


def render(request: Request[Any], error: JobtrailError) -> Response:
    """The error in the format the client accepts; the path's own default, else text."""
    style = _style(request) if "app" in request.scope else None
    if style is not None:
        formats, default = (
            (*style.formats, *(f for f in FORMATS if f not in style.formats)),
            (style.formats[0]),
        )
    else:
        formats = FORMATS
        default = PROBLEM if "json" in request.headers.get("content-type", "") else TEXT
    try:
        fmt = conneg.negotiate(request.headers.get("accept"), formats, default)
    except JobtrailError:
        fmt = TEXT
    headers = {"Vary": "Accept"}
    if error.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="jobtrail"'
    if isinstance(error, StoreNotReady):
        headers["Retry-After"] = str(error.retry_after)
    if style is not None and style.write is not None and fmt not in FORMATS:
        body, more = style.write(request, error)
        return Response(body, error.status, {**headers, **more}, media_type=fmt.media_type)
    if fmt is PROBLEM:
        body_text = json.dumps(
            {**error.problem(), "instance": str(request.url)}, ensure_ascii=False
        )
        return Response(body_text, error.status, headers, media_type="application/problem+json")
    if fmt is conneg.HTML:
        return Response(_page(error), error.status, headers, media_type="text/html; charset=utf-8")
    return Response(
        error.describe() + "\n", error.status, headers, media_type="text/plain; charset=utf-8"
    )


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
    if space.is_full(exc):  # a file beside the store (the vault, job files): 507 all the same
        where = getattr(exc, "filename", None) or _store_path(request)
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return render(request, space.full_error(where, exc))
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return render(request, JobtrailError("an unexpected error happened; it has been logged"))


def _store_path(request: Request[Any]) -> str | None:
    try:
        store = request.state["engine"].store
    except (AttributeError, KeyError, TypeError):
        return None
    path = getattr(store, "path", None)
    return str(path) if path is not None else None
