"""What every SIF 3 request and response carries, whatever the resource.

Method override: SIF consumers send a read with a body as a POST with `methodOverride: GET`
(the .NET framework as `X-HTTP-Method-Override`), and a delete with a body as a PUT with
`methodOverride: DELETE`. Every route under `/sif/` answers the method meant (`method_of`);
any other override (a POST meant as a DELETE, two headers that disagree, a value that is no
method) is refused with 400 before anything is read or stored.

Response headers both frameworks read (`headers`): `messageType`, `timestamp`, `messageId`,
`responseAction` (QUERY, CREATE, UPDATE, DELETE, HEAD), `relativeServicePath` (the path below
the connector, without matrix parameters), `serviceType` (FUNCTIONAL under `/sif/jobs`), and
the request's `requestId` echoed — on errors too (`web.binding.ErrorStyle`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from jobtrail.base.errors import InputError
from starlette.requests import Request

OVERRIDES = ("methodOverride", "X-HTTP-Method-Override")
_MEANT = {
    "GET": "GET",
    "QUERY": "GET",
    "HEAD": "HEAD",
    "POST": "POST",
    "CREATE": "POST",
    "PUT": "PUT",
    "UPDATE": "PUT",
    "DELETE": "DELETE",
}
_ALLOWED = {("POST", "GET"), ("PUT", "DELETE")}
ACTIONS = {"GET": "QUERY", "HEAD": "HEAD", "POST": "CREATE", "PUT": "UPDATE", "DELETE": "DELETE"}
_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,256}")
_CONNECTORS = (("/sif/jobs", "FUNCTIONAL"), ("/sif", None))


def method_of(request: Request[Any]) -> str:
    """The method the request means: its own, or the one its override header names."""
    found = request.scope.get("sif.method")
    if isinstance(found, str):
        return found
    given = {name: request.headers[name].strip() for name in OVERRIDES if name in request.headers}
    method = request.method
    if given:
        values = {value.upper() for value in given.values()}
        if len(values) > 1:
            raise InputError(
                "methodOverride and X-HTTP-Method-Override disagree: "
                + ", ".join(f"{k}: {v}" for k, v in given.items()),
                hint="send one of them, or both with the same method",
                details={"header": "methodOverride"},
            )
        value = values.pop()
        meant = _MEANT.get(value)
        if meant is None:
            raise InputError(
                f"the method override {value!r} is not a method",
                hint="methodOverride: GET on a POST reads; methodOverride: DELETE on a PUT deletes",
                details={"header": "methodOverride"},
            )
        if meant != method and (method, meant) not in _ALLOWED:
            raise InputError(
                f"a {method} cannot stand for a {meant} here",
                hint="methodOverride: GET on a POST reads; methodOverride: DELETE on a PUT deletes",
                details={"header": "methodOverride"},
            )
        method = meant
    request_id = request.headers.get("requestId")
    if request_id is not None and not _REQUEST_ID.fullmatch(request_id):
        raise InputError(
            "requestId is 1 to 256 visible ASCII characters (a UUID, say)",
            details={"header": "requestId"},
        )
    request.scope["sif.method"] = method
    return method


def _tolerant_method(request: Request[Any]) -> str:
    try:
        return method_of(request)
    except InputError:  # the error being answered may be that one
        return request.method


def relative_path(path: str) -> tuple[str, str | None]:
    """The path below its connector (matrix parameters dropped), and the service type."""
    clean = "/".join(part.split(";", 1)[0] for part in path.split("/"))
    for prefix, service_type in _CONNECTORS:
        if clean == prefix or clean.startswith(prefix + "/"):
            return clean[len(prefix) :] or "/", service_type
    return clean, None


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def headers(request: Request[Any], message_type: str = "RESPONSE") -> dict[str, str]:
    """The SIF response headers of an answer to `request`."""
    path, service_type = relative_path(request.url.path)
    out = {
        "messageType": message_type,
        "timestamp": now_iso(),
        "messageId": str(uuid.uuid4()),
        "responseAction": ACTIONS.get(_tolerant_method(request), "QUERY"),
        "relativeServicePath": path,
    }
    if service_type:
        out["serviceType"] = service_type
    request_id = request.headers.get("requestId")
    if request_id is not None and _REQUEST_ID.fullmatch(request_id):
        out["requestId"] = request_id
    return out


def with_headers(request: Request[Any], more: Mapping[str, str] | None) -> dict[str, str]:
    return {**headers(request), **(more or {})}


__all__ = ["ACTIONS", "OVERRIDES", "headers", "method_of", "now_iso", "relative_path"]
