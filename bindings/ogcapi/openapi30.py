"""`/ogcapi/api`: the binding's part of the server's OpenAPI description, as OpenAPI 3.0.

OGC API - Processes' `oas30` conformance class asks for an OpenAPI 3.0 definition
(`service-desc`, `application/vnd.oai.openapi+json;version=3.0`, which OWSLib's `api()`
looks for). The server describes itself in OpenAPI 3.1 (`web/openapi.describe`, at
`/openapi.json`); this takes the `/ogcapi` paths of that description and writes what 3.1 says
in 3.0's words: `const` as a one-value `enum`, a type list with `null` as `nullable`,
`examples` as `example`, and drops the JSON Schema keywords 3.0 does not have.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jobtrail.web.openapi import describe
from jobtrail.web.state import AppRequest
from starlette.responses import JSONResponse, Response

MEDIA = "application/vnd.oai.openapi+json;version=3.0"
DROPPED = frozenset({"$schema", "$id", "contentMediaType", "contentEncoding", "prefixItems"})
"""JSON Schema keywords a 3.0 Schema Object does not have."""


def _schema(value: Any) -> Any:
    """A 3.1 schema (or any part of the document under one) in 3.0's words."""
    if isinstance(value, list):
        return [_schema(v) for v in value]
    if not isinstance(value, Mapping):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key in DROPPED:
            continue
        if key == "const":
            out["enum"] = [item]
        elif key == "examples" and isinstance(item, list):
            if item:
                out["example"] = _schema(item[0])
        elif key == "type" and isinstance(item, list):
            kinds = [k for k in item if k != "null"]
            out["type"] = kinds[0] if len(kinds) == 1 else "string"
            if "null" in item:
                out["nullable"] = True
        else:
            out[key] = _schema(item)
    return out


def _refs(value: Any, found: set[str]) -> None:
    if isinstance(value, Mapping):
        ref = value.get("$ref")
        if isinstance(ref, str):
            found.add(ref)
        for item in value.values():
            _refs(item, found)
    elif isinstance(value, list):
        for item in value:
            _refs(item, found)


def document(full: Mapping[str, Any]) -> dict[str, Any]:
    """The `/ogcapi` paths of the server's 3.1 description, and the components they use."""
    paths = {p: v for p, v in full["paths"].items() if p == "/ogcapi" or p.startswith("/ogcapi/")}
    components: dict[str, dict[str, Any]] = {}
    wanted: set[str] = set()
    _refs(paths, wanted)
    while True:  # the components the paths name, and those they name in turn
        more: set[str] = set()
        for ref in wanted:
            _, _, kind, name = ref.split("/", 3)
            part = full["components"].get(kind, {})
            if name in part and name not in components.get(kind, {}):
                components.setdefault(kind, {})[name] = part[name]
                _refs(part[name], more)
        if more <= wanted:
            break
        wanted |= more
    components["securitySchemes"] = dict(full["components"].get("securitySchemes", {}))
    info = {k: v for k, v in full["info"].items() if k != "license"}
    info["title"] = "jobtrail: OGC API - Processes"
    info["license"] = {"name": "MIT", "url": "https://opensource.org/license/mit"}
    return {
        "openapi": "3.0.3",
        "info": info,
        "servers": full["servers"],
        "paths": _schema(paths),
        "components": _schema(components),
    }


async def api(request: AppRequest) -> Response:
    """The OpenAPI 3.0 definition of the /ogcapi routes (oas30)."""
    app = request.app
    full = describe(
        app.routes,
        app.state.apis,
        base_url=request.state["engine"].config.base_url,
        styles=app.state.error_styles,
    )
    return JSONResponse(document(full), media_type=MEDIA, headers={"Cache-Control": "no-cache"})
