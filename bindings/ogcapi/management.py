"""OGC API - Processes - Part 4: Job Management (draft) over the job core: a job created
without starting it, started later, its inputs and its provenance.

    POST /ogcapi/jobs                     a new job, `created` (the job core's PENDING) → 201
    POST /ogcapi/jobs/{jobId}/results     start it (→ accepted); one started already: as it is
    GET  /ogcapi/jobs/{jobId}/inputs      the inputs it was given (secrets redacted, as stored)
    GET  /ogcapi/jobs/{jobId}/prov        its provenance: the trace of its id (every hop, phase
                                          change and producer), PROV-JSON by default; PROV-O
                                          as JSON-LD, Turtle, RDF/XML or N-Triples by Accept/f

The provenance is the one `/trace/{id}` computes (`queries/trace.py`, `queries/provenance.py`),
with the hops the caller may not see left out, as there.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from jobtrail.base.errors import Conflict, InputError
from jobtrail.bindings.ogcapi import documents as docs
from jobtrail.bindings.ogcapi import outputs
from jobtrail.bindings.ogcapi import routes as part1
from jobtrail.bindings.ogcapi.documents import NoSuchProcess
from jobtrail.jobs.profiles import Profile
from jobtrail.queries import provenance
from jobtrail.queries.trace import trace
from jobtrail.web import conneg, render
from jobtrail.web.requests import read_body, viewer_of, visible_hops
from jobtrail.web.state import AppRequest
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

PROV_JSON = conneg.Format(
    "json",
    "application/json",
    None,
    ("application/prov+json", "application/vnd.prov+json"),
    "PROV-JSON",
)
"""PROV-JSON, the default; Part 4 names it by `application/json`."""
PROV_FORMATS = (PROV_JSON, conneg.JSONLD, conneg.TURTLE, conneg.RDFXML, conneg.NTRIPLES)


class Locked(Conflict):
    ogc_type = "http://www.opengis.net/def/exceptions/ogcapi-processes-4/1.0/locked"


def _process_of(request: AppRequest, doc: Mapping[str, Any]) -> Profile:
    """The process a create request names (`process`: its URL or id)."""
    named = doc.get("process")
    if not isinstance(named, str) or not named.strip():
        raise InputError(
            "a job is created for a process: give process (its URL or id)",
            hint=f"e.g. {part1._base(request)}ogcapi/processes/Fixity",
        )
    name = named.strip().rstrip("/").rsplit("/", 1)[-1]
    profiles: Mapping[str, Profile] = request.state["engine"].profiles
    if name not in profiles:
        raise NoSuchProcess(
            f"there is no process {name!r}", hint="processes: " + ", ".join(profiles)
        )
    return profiles[name]


async def create(request: AppRequest) -> Response:
    """A new job in status `created`: it waits for POST …/results to start it."""
    doc = part1.json_object(await read_body(request), "the job", "process and inputs")
    profile = _process_of(request, doc)
    asked = part1.execute_request(profile, doc)
    job = await part1.new_job(request, profile, asked, "PENDING", str(uuid.uuid4()))
    return part1.created(request, job)


async def start(request: AppRequest) -> Response:
    """Start a created job (200, its statusInfo); one started already is answered as it is;
    one that has ended cannot start again (409, Part 4's `locked`)."""
    found = await run_in_threadpool(part1.job_for, request, True)
    code = docs.status_of(found)
    if code in ("accepted", "running"):
        return docs.respond(
            request, f"Job {found.id}", docs.status_info(part1._base(request), found)
        )
    if code != "created":
        raise Locked(
            f"job {found.id} is {code}: it cannot be started again",
            hint="execute the process again for a new job",
        )
    part1.runs_here(request, found)
    by = viewer_of(request).label
    engine = request.state["engine"]
    started = await run_in_threadpool(
        lambda: engine.jobs.set_phase(
            found.id, "QUEUED", by=by, request=part1.record(request, found.profile)
        )
    )
    return docs.respond(request, f"Job {found.id}", docs.status_info(part1._base(request), started))


async def inputs(request: AppRequest) -> Response:
    """The inputs the job was given, as stored (a secret's value redacted)."""
    found = await run_in_threadpool(part1.job_for, request)
    given: dict[str, Any] = {}
    if found.input is not None:
        given[docs.INPUT] = {"href": found.input}
    given.update({k: str(v) for k, v in found.parameters.items()})
    href = f"{part1._base(request)}ogcapi/jobs/{found.id}/inputs"
    store = request.state["engine"].jobs.store
    kept = await run_in_threadpool(lambda: outputs.kept(store.read(outputs.side_graph(found))))
    asked_outputs = {name: outputs.asked(w) for name, w in kept.items()} or {
        name: {"transmissionMode": "reference"} for name in docs.OUTPUTS
    }
    document = {
        "inputs": given,
        "outputs": asked_outputs,
        "links": [
            docs.link(href, "self", "application/json", "the job's inputs"),
            docs.link(
                f"{part1._base(request)}ogcapi/jobs/{found.id}", "up", "application/json", "the job"
            ),
        ],
    }
    return docs.respond(
        request,
        f"Inputs of job {found.id}",
        document,
        headers={"Link": f'<{found.iri}>; rel="canonical"'},
    )


def _prov_format(request: AppRequest) -> conneg.Format:
    asked = request.query_params.get("f")
    if asked is not None:
        for fmt in PROV_FORMATS:
            if asked.lower() in (fmt.key, (fmt.extension or "").lstrip(".")):
                return fmt
        raise InputError(
            f"f={asked!r} is not a provenance format here",
            hint="f=json (PROV-JSON), jsonld, ttl, rdf or nt",
        )
    return conneg.negotiate(request.headers.get("accept"), PROV_FORMATS, PROV_JSON)


async def prov(request: AppRequest) -> Response:
    """The job's provenance: the trace of its id as PROV-JSON, or PROV-O by negotiation."""
    found = await run_in_threadpool(part1.job_for, request)
    fmt = _prov_format(request)
    keep = visible_hops(request)
    store = request.state["engine"].store
    chain = await run_in_threadpool(lambda: trace(store, found.id, keep=keep))
    base = part1._base(request)
    model = provenance.of(chain, f"{base}ogcapi/jobs/{found.id}/prov", base)
    if fmt is PROV_JSON:
        body = provenance.json_bytes(model)
    else:
        body = render.rdf(provenance.triples(model), fmt, base=base)
    headers = {"Vary": "Accept", "Link": f'<{found.iri}>; rel="canonical"'}
    return Response(body, 200, headers, media_type=fmt.content_type())


def routes() -> list[BaseRoute]:
    return [
        Route("/ogcapi/jobs", create, methods=["POST"]),
        Route("/ogcapi/jobs/{jobId}/results", start, methods=["POST"]),
        Route("/ogcapi/jobs/{jobId}/inputs", inputs, methods=["GET", "HEAD"]),
        Route("/ogcapi/jobs/{jobId}/prov", prov, methods=["GET", "HEAD"]),
    ]
