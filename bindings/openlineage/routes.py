"""OpenLineage in, Marquez's paths: `POST /api/v1/lineage` and Marquez's read API.

    POST /api/v1/lineage                           one event (as an OpenLineage client's
                                                   HttpTransport sends it), a JSON array of
                                                   events, or JSON Lines of them
    GET  /api/v1/lineage?nodeId=…&depth=…          the lineage graph around a job or dataset
    GET  /api/v1/namespaces                        every namespace of a job or dataset
    GET  /api/v1/namespaces/{ns}/jobs              its jobs, each with its latest run
    GET  /api/v1/namespaces/{ns}/jobs/{job}/runs   the job's runs, newest first
    GET  /api/v1/namespaces/{ns}/datasets          its datasets

A POST goes the way of `POST /messages` (`web/submit.py`: the same loader, producer
credential, body limit and seal): each event is stored verbatim as a message of its own.
Before anything is stored every event of the body is checked against the spec's schemas;
one that fails is a 400 naming its place and the schema's message, and nothing is stored.
The answer is Marquez's 201 (an event stored before: 200), its body what happened to each.
The reads answer what the caller may see (`Policy.sparql_filter`), in Marquez's JSON.
"""

from __future__ import annotations

import io
import json
import zlib
from collections.abc import Callable
from typing import Any

from jobtrail.base.errors import InputError, Location, NotFound, PayloadTooLarge
from jobtrail.bindings.openlineage import marquez
from jobtrail.ingest import openlineage
from jobtrail.ingest.message import Incoming
from jobtrail.ingest.sources import Unreadable, from_stream
from jobtrail.web.requests import int_param, read_body, submitter_of, viewer_of
from jobtrail.web.state import AppRequest
from jobtrail.web.submit import outcome, store
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

SOURCE = "POST /api/v1/lineage"
JSON_LINES = {"application/jsonl", "application/x-ndjson", "application/x-jsonlines"}


async def post(request: AppRequest) -> Response:
    """Store OpenLineage events: 201, 200 if every one was stored before, 400 for one invalid."""
    config = request.state["engine"].config
    submitter = submitter_of(request)  # before the body is read: 401/403 cost nothing
    body = _decoded(request, await read_body(request, config.max_body), config.max_body)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    items = await run_in_threadpool(_events, body, kind)
    events = await store(request, items, submitter)
    refused = next((e.error for e in events if e.error is not None), None)
    if refused is not None and len(events) == 1:
        raise refused  # its own status: 403 for a producer the credential may not name …
    results = [outcome(e) for e in events]
    stored = sum(e.outcome == "stored" for e in events)
    status = 422 if refused is not None else 201 if stored else 200
    summary = {
        "stored": stored,
        "duplicates": sum(e.outcome == "duplicate" for e in events),
        "rejected": sum(e.outcome == "rejected" for e in events),
        "events": results,
    }
    headers = {"Location": results[0]["message"]} if len(events) == 1 and stored else {}
    return JSONResponse(summary, status, headers)


def _decoded(request: AppRequest, body: bytes, limit: int | None) -> bytes:
    """The body, unzipped if the client sent it gzipped (HttpTransport's `compression`),
    within the same limit as the bytes on the wire."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("identity", ""):
        return body
    if encoding != "gzip":
        raise InputError(f"a body encoded as {encoding!r} cannot be read: send gzip or none")
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflate.decompress(body, (limit or 0) + 1 if limit else 0)
    except zlib.error as e:
        raise InputError(f"the gzip body does not inflate: {e}") from None
    if limit and len(data) > limit:
        raise PayloadTooLarge(f"the inflated body is over the limit of {limit:,} bytes")
    return data


def _events(body: bytes, kind: str) -> list[Incoming]:
    """The events of a body, each checked: one JSON object (kept as its bytes), an array of
    them or JSON Lines (each kept as its own line or element); InputError, before anything is
    stored, for a part that is not an OpenLineage event or fails the spec's schemas."""
    if kind in JSON_LINES:
        items: list[Incoming] = []
        for item in from_stream(io.BytesIO(body), SOURCE):
            if isinstance(item, Unreadable):
                raise item.error
            if isinstance(item, Incoming):
                items.append(item)
        docs = [(item, _parse(item.data, item.source)) for item in items]
    else:
        doc = _parse(body, SOURCE)
        if isinstance(doc, list):
            docs = list(zip(openlineage.elements(doc, SOURCE), doc, strict=True))
        else:
            docs = [(Incoming(body, SOURCE, "application/json"), doc)]
    if not docs:
        raise InputError("no event: the body holds none", location=Location(SOURCE))
    for item, doc in docs:
        if not openlineage.is_openlineage(doc):
            raise InputError(
                "not an OpenLineage event (no eventTime, or none of run, job and dataset)",
                location=Location(item.source),
                hint="post other messages to /messages",
            )
        openlineage.check(doc, item.source)
    return [item for item, _ in docs]


def _parse(data: bytes, source: str) -> Any:
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"the body is not JSON: {e}", location=Location(source)) from None


# --- Marquez's read API ---------------------------------------------------------------------


async def _lineage(request: AppRequest) -> marquez.Lineage:
    engine = request.state["engine"]
    hide = engine.visibility.sparql_filter(viewer_of(request))
    return await run_in_threadpool(marquez.load, engine.store, hide)


def _page(request: AppRequest, items: list[Any]) -> list[Any]:
    limit = int_param(request, "limit", 100, 0, 10_000)
    offset = int_param(request, "offset", 0, 0, 10**9)
    return items[offset : offset + limit]


async def namespaces(request: AppRequest) -> Response:
    """Every namespace of a job or dataset the caller may see (Marquez's NamespaceList)."""
    found = (await _lineage(request)).namespaces()
    found["namespaces"] = _page(request, found["namespaces"])
    return JSONResponse(found)


def _listed(
    request: AppRequest, name: str, items: list[Any], show: Callable[[Any], Any]
) -> Response:
    """A Marquez list: a page of `items` (each as `show` writes it) under `name`, and how many
    there are in all."""
    page = [show(item) for item in _page(request, items)]
    return JSONResponse({name: page, "totalCount": len(items)})


async def _in_namespace(request: AppRequest) -> tuple[marquez.Lineage, str]:
    """The state, and the namespace the path names: 404 when no job or dataset is in it."""
    namespace = request.path_params["namespace"]
    lineage = await _lineage(request)
    if namespace not in {ns for ns, _ in [*lineage.jobs, *lineage.datasets]}:
        raise NotFound(f"no namespace {namespace!r}", hint="see /api/v1/namespaces")
    return lineage, namespace


async def jobs(request: AppRequest) -> Response:
    """The namespace's jobs (Marquez's JobList), each with its latest run."""
    lineage, namespace = await _in_namespace(request)
    keys = sorted(k for k in lineage.jobs if k[0] == namespace)
    return _listed(request, "jobs", keys, lineage.job)


async def runs(request: AppRequest) -> Response:
    """The job's runs, newest first (Marquez's RunList)."""
    key = (request.path_params["namespace"], request.path_params["job"])
    lineage = await _lineage(request)
    if key not in lineage.jobs:
        raise NotFound(f"no job {key[1]!r} in namespace {key[0]!r}")
    return _listed(request, "runs", lineage.runs_of(key), marquez.Run.as_json)


async def datasets(request: AppRequest) -> Response:
    """The namespace's datasets (Marquez's DatasetList)."""
    lineage, namespace = await _in_namespace(request)
    keys = sorted(k for k in lineage.datasets if k[0] == namespace)
    return _listed(request, "datasets", keys, lineage.dataset)


async def graph(request: AppRequest) -> Response:
    """The lineage graph around `nodeId` (Marquez's LineageGraph), `depth` hops deep (20)."""
    node_id = request.query_params.get("nodeId", "").strip()
    if not node_id:
        raise InputError("which node? give nodeId=job:{namespace}:{name} or dataset:…")
    depth = int_param(request, "depth", 20, 0, 100)
    lineage = await _lineage(request)
    node = lineage.node(node_id)
    if node is None:
        raise NotFound(
            f"no job or dataset {node_id!r}",
            hint="a node id is job:{namespace}:{name} or dataset:{namespace}:{name}",
        )
    return JSONResponse(lineage.graph(node, depth))


def routes() -> list[BaseRoute]:
    return [
        Route("/api/v1/lineage", post, methods=["POST"]),
        Route("/api/v1/lineage", graph, methods=["GET"]),
        Route("/api/v1/namespaces", namespaces, methods=["GET"]),
        Route("/api/v1/namespaces/{namespace:path}/jobs", jobs, methods=["GET"]),
        Route("/api/v1/namespaces/{namespace:path}/jobs/{job:path}/runs", runs, methods=["GET"]),
        Route("/api/v1/namespaces/{namespace:path}/datasets", datasets, methods=["GET"]),
    ]


__all__ = ["routes"]
