"""OpenAPI declarations of the OGC API - Processes routes (web/openapi.py). Every document
is JSON (HTML with `f=html` or an Accept preferring it); errors are the standard's JSON
exceptions (RFC 7807, with its `type` URIs: no-such-process, no-such-job, result-not-ready)."""

from __future__ import annotations

from typing import Any

from jobtrail.bindings.ogcapi.documents import JSON
from jobtrail.web import conneg
from jobtrail.web.openapi import (
    ANYONE,
    CALLER,
    INTEGER,
    Api,
    Body,
    Operation,
    Param,
    Reply,
    ok,
    ref,
)

_DOC = (JSON, conneg.HTML)
_F = Param("f", "the format: json (the default) or html")
_PROCESS = Param("id", "the process: a job profile (`/ogcapi/processes` lists them)", where="path")
_JOB = Param("jobId", "the job's id (the same as at /jobs/{id})", where="path")
_LINKS: dict[str, Any] = {"type": "array", "items": ref("OgcLink")}
_STATUS = {"enum": ["created", "accepted", "running", "successful", "failed", "dismissed"]}
_PROV = ("application/json", conneg.JSONLD, conneg.TURTLE, conneg.RDFXML, conneg.NTRIPLES)
_JOB_ERRORS = (400, 401, 403, 404)

SCHEMAS: dict[str, dict[str, Any]] = {
    "OgcLink": {
        "type": "object",
        "required": ["href"],
        "properties": {k: {"type": "string"} for k in ("href", "rel", "type", "title")},
    },
    "OgcStatusInfo": {
        "type": "object",
        "required": ["jobID", "status", "type"],
        "properties": {
            "jobID": {"type": "string"},
            "processID": {"type": "string"},
            "type": {"enum": ["process"]},
            "status": _STATUS,
            "message": {"type": "string"},
            "created": {"type": "string", "format": "date-time"},
            "started": {"type": "string", "format": "date-time"},
            "finished": {"type": "string", "format": "date-time"},
            "updated": {"type": "string", "format": "date-time"},
            "progress": {"type": "integer", "minimum": 0, "maximum": 100},
            "links": _LINKS,
        },
    },
    "OgcExecute": {
        "type": "object",
        "properties": {
            "inputs": {
                "type": "object",
                "description": 'by input id: a value, {"value": …} or {"href": URL}',
            },
            "outputs": {"type": "object"},
            "response": {"enum": ["document", "raw"]},
            "subscriber": {
                "type": "object",
                "description": "where to be told: the statusInfo when it starts, the results "
                "when it succeeds, the exception when it fails (through the outbox)",
                "properties": {
                    k: {"type": "string", "format": "uri"}
                    for k in ("successUri", "failedUri", "inProgressUri")
                },
                "additionalProperties": False,
            },
        },
    },
}

API = Api(
    {
        ("GET", "/ogcapi"): Operation(
            "The landing page: links to the API definition, conformance, processes and jobs "
            "(`/ogcapi/`, as OWSLib asks, is a 301 here)",
            params=(_F,),
            replies=(ok("the landing page", _DOC),),
            errors=(400, 406),
        ),
        ("GET", "/ogcapi/api"): Operation(
            "The OpenAPI 3.0 definition of these routes (the whole server's: /openapi.json, 3.1)",
            replies=(ok("OpenAPI 3.0", ("application/vnd.oai.openapi+json;version=3.0",)),),
        ),
        ("GET", "/ogcapi/conformance"): Operation(
            "The conformance classes of OGC API - Processes 1.0 implemented here",
            params=(_F,),
            replies=(ok("conformsTo", _DOC),),
            errors=(400, 406),
        ),
        ("GET", "/ogcapi/processes"): Operation(
            "Every job profile, as a process summary",
            params=(_F,),
            replies=(ok("processes and links", _DOC),),
            errors=(400, 406),
        ),
        ("GET", "/ogcapi/processes/{id}"): Operation(
            "The process description: inputs and outputs as JSON Schemas, jobControlOptions",
            params=(_PROCESS, _F),
            replies=(ok("the process", _DOC),),
            errors=(400, 404, 406),
        ),
        ("POST", "/ogcapi/processes/{id}/execution"): Operation(
            "Execute: a new job. `Prefer: respond-async` → 201 to its statusInfo; otherwise "
            "the results when it ends within uws_max_wait seconds, else 201 as well",
            params=(_PROCESS, Param("Prefer", "respond-async", where="header")),
            body=Body(("application/json",), "the execute request", ref("OgcExecute")),
            replies=(
                ok(
                    "the results document (or, response=raw, the one result file)",
                    (JSON,),
                    headers=("Location", "Link"),
                ),
                Reply(
                    201,
                    "the job's statusInfo",
                    (JSON,),
                    ref("OgcStatusInfo"),
                    headers=("Location", "Preference-Applied"),
                ),
            ),
            errors=(400, 401, 402, 403, 404, 413, 422, 424),
            security=CALLER,
        ),
        ("GET", "/ogcapi/jobs"): Operation(
            "The jobs the caller may see, newest first",
            params=(
                Param("type", "process (the only type here)"),
                Param("processID", "only jobs of these processes (repeatable, comma-separated)"),
                Param("status", "only jobs in these statuses (repeatable, comma-separated)"),
                Param("datetime", "created at this instant or within this interval (a/b, ..)"),
                Param("minDuration", "ran at least this many seconds", schema=INTEGER),
                Param("maxDuration", "ran at most this many seconds", schema=INTEGER),
                Param("limit", "jobs a page (1-1000, default 10)", schema=INTEGER),
                Param("offset", "jobs skipped (the `next` link sets it)", schema=INTEGER),
                _F,
            ),
            replies=(ok("jobs (statusInfo each) and links, `next` when there are more", _DOC),),
            errors=(400, 401, 403, 406),
            security=ANYONE,
        ),
        ("GET", "/ogcapi/jobs/{jobId}"): Operation(
            "The job's statusInfo",
            params=(_JOB, _F),
            replies=(ok("statusInfo", _DOC, schema=ref("OgcStatusInfo"), headers=("Link",)),),
            errors=(*_JOB_ERRORS, 406),
            security=ANYONE,
        ),
        ("DELETE", "/ogcapi/jobs/{jobId}"): Operation(
            "Dismiss: a job not ended is aborted; an ended one is deleted with its results",
            params=(_JOB,),
            replies=(ok("statusInfo, dismissed", _DOC, schema=ref("OgcStatusInfo")),),
            errors=(*_JOB_ERRORS, 409),
            security=ANYONE,
        ),
        ("GET", "/ogcapi/jobs/{jobId}/results"): Operation(
            "A successful job's outputs by reference; a failed job's exception",
            params=(_JOB, _F),
            replies=(ok("the results document", _DOC, headers=("Link",)),),
            errors=(*_JOB_ERRORS, 406, 422, 424),
            security=ANYONE,
        ),
        # Part 4: Job Management (draft)
        ("POST", "/ogcapi/jobs"): Operation(
            "Create a job without starting it (status created)",
            body=Body(
                ("application/json",), "process (its URL or id) and inputs", ref("OgcExecute")
            ),
            replies=(
                Reply(
                    201,
                    "the job's statusInfo",
                    (JSON,),
                    ref("OgcStatusInfo"),
                    headers=("Location", "Link"),
                ),
            ),
            errors=(400, 401, 402, 403, 404, 413),
            security=CALLER,
        ),
        ("POST", "/ogcapi/jobs/{jobId}/results"): Operation(
            "Start a created job (one started already: its statusInfo as it is)",
            params=(_JOB,),
            replies=(ok("statusInfo", (JSON,), schema=ref("OgcStatusInfo")),),
            errors=(*_JOB_ERRORS, 409),
            security=ANYONE,
        ),
        ("GET", "/ogcapi/jobs/{jobId}/inputs"): Operation(
            "The inputs the job was given (a secret's value redacted)",
            params=(_JOB, _F),
            replies=(ok("inputs, outputs and links", _DOC, headers=("Link",)),),
            errors=(*_JOB_ERRORS, 406),
            security=ANYONE,
        ),
        ("GET", "/ogcapi/jobs/{jobId}/prov"): Operation(
            "The job's provenance: PROV-JSON by default, PROV-O by Accept or f",
            params=(_JOB, Param("f", "json (PROV-JSON), jsonld, ttl, rdf or nt")),
            replies=(ok("the trace of the job's id, in PROV", _PROV, headers=("Link",)),),
            errors=(*_JOB_ERRORS, 406),
            security=ANYONE,
        ),
    },
    schemas=SCHEMAS,
)
