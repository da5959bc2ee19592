"""Every IRI minted under the base URL dereferences; the JSON-LD contexts this server uses."""

from __future__ import annotations

import json

from jobtrail.base.errors import NotFound
from jobtrail.base.segments import canonical_path
from jobtrail.bindings.linkeddata import producers
from jobtrail.ingest.jsonld import context_document, context_index
from jobtrail.store import origin
from jobtrail.web import conneg, resources
from jobtrail.web.state import AppRequest
from starlette.responses import RedirectResponse, Response


async def context(request: AppRequest) -> Response:
    """A JSON-LD context this server uses, served from its local copy."""
    name = request.path_params["name"].removesuffix(".jsonld")
    files_by_name = {v.removesuffix(".jsonld"): v for v in context_index().values()}
    if name not in files_by_name:
        raise NotFound(
            f"no context named {name!r}", hint="known: " + ", ".join(sorted(files_by_name))
        )
    body = json.dumps(context_document(files_by_name[name]), indent=2).encode()
    return Response(body, media_type="application/ld+json")


async def dereference(request: AppRequest) -> Response:
    """The description of any resource minted under the base URL.

    The path is read as the client sent it (its raw bytes, never decoded: an encoded `/` stays
    inside its segment, a space or `<` stays encoded) and spelled by the rule every minted IRI
    follows (`base/segments.py`); another spelling of it is redirected (301) to that one."""
    raw: bytes = request.scope.get("raw_path") or request.url.path.encode()
    canonical = canonical_path(raw.split(b"?", 1)[0])
    if canonical.encode() != raw.split(b"?", 1)[0]:
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(canonical + query, 301)
    path, chosen = conneg.split_extension(canonical)
    if chosen is None and "accept-datetime" in request.headers and path.startswith("/producers/"):
        return await producers.timegate(request, path)  # a producer as of then (Memento)
    engine = request.state["engine"]
    iri = engine.config.base_url + path.lstrip("/")
    try:
        return resources.describe(request, engine.store, iri, path=path, chosen=chosen)
    except NotFound as e:
        held = origin.recorded(engine.store)
        if held is None or held == engine.config.base_url:
            raise
        raise NotFound(
            f"{e.message}: this server's base URL is {engine.config.base_url}, but the "
            f"store holds IRIs minted under {held}",
            hint=f"serve the store with --base-url {held} (or with no --base-url)",
            details={"base_url": engine.config.base_url, "store_base_url": held},
        ) from e
