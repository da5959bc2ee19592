"""The JSON documents of OGC API - Processes - Part 1: Core 1.0 (OGC 18-062r2), and their
HTML renditions: the landing page, conformance, process descriptions, statusInfo, job
lists, results and exceptions.

A job's `status` is read from the vocabulary's OGC scheme (`vocab/status.ttl`): each OGC
status token stands for one UWS phase (`jt:canonicalPhase`); the job core's phases no OGC
token stands for (PENDING, HELD, SUSPENDED, ARCHIVED, UNKNOWN) take the nearest one.
A process is a job profile: its inputs are the job's input (`input`, a URL) and the
profile's declared parameters (`jobs/profiles.py`), one source of truth.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from html import escape
from typing import Any

from jobtrail.base.errors import JobtrailError, NotFound
from jobtrail.jobs.core import Job
from jobtrail.jobs.profiles import Profile
from jobtrail.jobs.workers import Progress
from jobtrail.vocab import status
from jobtrail.web import conneg, html
from starlette.requests import Request
from starlette.responses import Response

JSON = conneg.Format("json", "application/json", None, (), "JSON")
EXCEPTION = conneg.Format("ogc-exception", "application/json", None, (), "OGC exception")
FORMATS = (JSON, conneg.HTML)

SPEC = "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/"
CONFORMANCE = tuple(
    SPEC + name
    for name in (
        "core",
        "ogc-process-description",
        "json",
        "html",
        "oas30",
        "job-list",
        "callback",
        "dismiss",
    )
)
PART4 = "https://www.opengis.net/spec/ogcapi-processes-4/1.0/conf/"
CONFORMANCE += (PART4 + "job-management", PART4 + "provenance")
"""The conformance classes of Part 1 this binding implements, and of Part 4
(draft: its test suite names its class with https)."""

EXCEPTIONS = "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/"
REL_RESULTS = "http://www.opengis.net/def/rel/ogc/1.0/results"
REL_PROCESSES = "http://www.opengis.net/def/rel/ogc/1.0/processes"
REL_JOBS = "http://www.opengis.net/def/rel/ogc/1.0/job-list"
REL_CONFORMANCE = "http://www.opengis.net/def/rel/ogc/1.0/conformance"
REL_EXECUTE = "http://www.opengis.net/def/rel/ogc/1.0/execute"
REL_DESCRIPTION = "http://www.opengis.net/def/rel/ogc/1.0/process-desc"

INPUT = "input"
"""The name of the job's input (its URL) among a process's inputs."""
VERSION = "1.0.0"


class NoSuchProcess(NotFound):
    ogc_type = EXCEPTIONS + "no-such-process"


class NoSuchJob(NotFound):
    ogc_type = EXCEPTIONS + "no-such-job"


class ResultNotReady(NotFound):
    ogc_type = EXCEPTIONS + "result-not-ready"


def exception(error: JobtrailError, instance: str | None = None) -> dict[str, Any]:
    """The standard's exception document (RFC 7807 with its `type` URIs where it has one)."""
    body = error.problem()
    body["type"] = getattr(error, "ogc_type", body["type"])
    if instance is not None:
        body["instance"] = instance
    return body


def error_document(request: Request[Any], error: JobtrailError) -> tuple[bytes, dict[str, str]]:
    """An error under /ogcapi/ as the standard's JSON exception (ErrorStyle.write)."""
    body = json.dumps(exception(error, str(request.url)), ensure_ascii=False)
    return body.encode(), {}


# --- status -------------------------------------------------------------------------------

_NEAREST = {
    "PENDING": "accepted",
    "HELD": "accepted",
    "UNKNOWN": "accepted",
    "SUSPENDED": "running",
    "ARCHIVED": "successful",
}
"""Phases no OGC status stands for, and the nearest one (UWS's PENDING: not started yet)."""


@cache
def _by_phase() -> dict[str, str]:
    found = {status.canonical("ogcapi", t): t for t in status.tokens("ogcapi")}
    return {**_NEAREST, **found}


def status_of(job: Job) -> str:
    """The job's OGC status code, read through the vocabulary's OGC scheme."""
    return _by_phase()[job.phase]


def phases_of(code: str) -> list[str]:
    """The job core's phases that read as the OGC status `code` (InputError for another)."""
    status.concept("ogcapi", code)  # refuses a code the standard does not have, naming them
    return sorted(p for p, c in _by_phase().items() if c == code)


def iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- documents ----------------------------------------------------------------------------


def link(
    href: str, rel: str, media: str | None = "application/json", title: str | None = None
) -> dict[str, str]:
    out = {"href": href, "rel": rel}
    if media:
        out["type"] = media
    if title:
        out["title"] = title
    return out


def _self(href: str, title: str) -> list[dict[str, str]]:
    """This document's `self` link (JSON) and its `alternate` (HTML)."""
    sep = "&" if "?" in href else "?"
    return [
        link(f"{href}{sep}f=json", "self", "application/json", title),
        link(f"{href}{sep}f=html", "alternate", "text/html", f"{title} (HTML)"),
    ]


def landing(base: str) -> dict[str, Any]:
    api = f"{base}ogcapi"
    return {
        "title": "jobtrail: OGC API - Processes",
        "description": "The job profiles of this server as OGC API - Processes 1.0 processes; "
        "every job is the same job as at /jobs/{id}, in UWS, MCMA and SPARQL.",
        "links": [
            *_self(api, "this landing page"),
            link(
                f"{api}/api",
                "service-desc",
                "application/vnd.oai.openapi+json;version=3.0",
                "the API definition (OpenAPI 3.0)",
            ),
            link(
                f"{base}openapi.json",
                "service-desc",
                "application/vnd.oai.openapi+json;version=3.1",
                "the whole server's API definition (OpenAPI 3.1)",
            ),
            link(f"{base}openapi", "service-doc", "text/html", "the API documentation"),
            link(f"{api}/conformance", "conformance", "application/json", "conformance classes"),
            link(f"{api}/conformance", REL_CONFORMANCE, "application/json", "conformance classes"),
            link(f"{api}/processes", REL_PROCESSES, "application/json", "the processes"),
            link(f"{api}/jobs", REL_JOBS, "application/json", "the jobs"),
        ],
    }


def conformance() -> dict[str, Any]:
    return {"conformsTo": list(CONFORMANCE)}


def input_descriptions(profile: Profile) -> dict[str, Any]:
    """The process's inputs, derived from the profile's declared parameters."""
    out: dict[str, Any] = {
        INPUT: {
            "title": "input",
            "description": 'the URL of the file the job works on (a link {"href": URL} '
            "or the URL as a string)",
            "minOccurs": 1,
            "maxOccurs": 1,
            "schema": {"type": "string", "format": "uri"},
        }
    }
    for spec in profile.parameters:
        schema: dict[str, Any] = {"type": "string"}
        if spec.secret:
            schema["writeOnly"] = True  # never stored: redacted in the dataset
        out[spec.name] = {
            "title": spec.name,
            "description": spec.description,
            "minOccurs": 1 if spec.required else 0,
            "maxOccurs": 1,
            "schema": schema,
        }
    return out


OUTPUTS = {
    "results": {
        "title": "results",
        "description": "the job's results: an OAI-ORE aggregation of the files the job made, "
        "each also an output of its own, named by its file name; by value in Turtle, JSON-LD, "
        "RDF/XML or N-Triples (format.mediaType)",
        "schema": {"type": "string", "format": "uri", "contentMediaType": "text/turtle"},
    }
}


def process_summary(base: str, profile: Profile) -> dict[str, Any]:
    href = f"{base}ogcapi/processes/{profile.name}"
    return {
        "id": profile.name,
        "title": profile.title,
        "description": profile.description,
        "version": VERSION,
        "jobControlOptions": ["async-execute", "sync-execute", "dismiss"],
        "outputTransmission": ["value", "reference"],
        "links": [
            link(href, "self", "application/json", profile.title),
            link(f"{href}?f=html", "alternate", "text/html", f"{profile.title} (HTML)"),
            link(href, REL_DESCRIPTION, "application/json", profile.title),
            link(
                f"{base}profiles/{profile.name}.html", "describedby", "text/html", "the job profile"
            ),
        ],
    }


def process(base: str, profile: Profile) -> dict[str, Any]:
    out = process_summary(base, profile)
    out["links"].append(
        link(
            f"{base}ogcapi/processes/{profile.name}/execution",
            REL_EXECUTE,
            "application/json",
            "execute (POST)",
        )
    )
    out["inputs"] = input_descriptions(profile)
    out["outputs"] = OUTPUTS
    return out


def process_list(base: str, profiles: Mapping[str, Profile]) -> dict[str, Any]:
    return {
        "processes": [process_summary(base, p) for p in profiles.values()],
        "links": _self(f"{base}ogcapi/processes", "the processes"),
    }


def status_info(base: str, job: Job, progress: Progress | None = None) -> dict[str, Any]:
    """A job's statusInfo; `progress`: how far its run has come, when this process runs it
    (a running job run by another process has no `progress`: the standard makes it optional)."""
    code = status_of(job)
    href = f"{base}ogcapi/jobs/{job.id}"
    out: dict[str, Any] = {
        "processID": job.profile,
        "type": "process",
        "jobID": job.id,
        "status": code,
        "created": iso(job.created),
        "updated": iso(job.modified),
    }
    if job.started is not None:
        out["started"] = iso(job.started)
    if job.ended is not None:
        out["finished"] = iso(job.ended)
    if code in ("successful", "failed", "dismissed"):
        out["progress"] = 100
    elif code == "accepted":
        out["progress"] = 0
    elif code == "running" and progress is not None:
        out["progress"] = progress.percent
    _, definition = status.describe("ogcapi", code)
    out["message"] = job.error.message if job.error is not None else definition
    if code == "running" and progress is not None:
        out["message"] = f"{definition} Now {progress.stage}."
    if job.error is not None:
        out["exception"] = {
            "type": f"https://w3id.org/jobtrail/problems/{job.error.type}",
            "title": job.error.type,
            "detail": job.error.message,
            **({"hint": job.error.hint} if job.error.hint else {}),
        }
    links = [
        *_self(href, f"job {job.id}"),
        link(job.iri, "canonical", None, "the job itself (linked data)"),
        link(f"{base}ogcapi/jobs", "up", "application/json", "the jobs"),
        link(
            f"{base}ogcapi/processes/{job.profile}",
            REL_DESCRIPTION,
            "application/json",
            job.profile,
        ),
    ]
    if code in ("successful", "failed"):
        links.append(link(f"{href}/results", REL_RESULTS, "application/json", "the results"))
    out["links"] = links
    return out


def job_list(
    base: str,
    found: Sequence[Job],
    next_href: str | None,
    self_href: str,
    progress: Callable[[str], Progress | None] = lambda job_id: None,
) -> dict[str, Any]:
    links = _self(self_href, "the jobs")
    if next_href is not None:
        links.append(link(next_href, "next", "application/json", "the next jobs"))
    return {"jobs": [status_info(base, j, progress(j.id)) for j in found], "links": links}


def failure_document(job: Job) -> dict[str, Any] | None:
    """A failed (or dismissed) job's exception, as its statusInfo's `exception` says it."""
    if job.error is None:
        return None
    out: dict[str, Any] = {
        "type": f"https://w3id.org/jobtrail/problems/{job.error.type}",
        "title": job.error.type,
        "detail": job.error.message,
        "jobID": job.id,
    }
    if job.error.hint:
        out["hint"] = job.error.hint
    return out


# --- HTML ---------------------------------------------------------------------------------


def wants(request: Request[Any]) -> conneg.Format:
    """JSON or HTML: `?f=json|html` first, then Accept (JSON for */* and no Accept)."""
    asked = request.query_params.get("f")
    if asked is not None:
        for fmt in FORMATS:
            if asked.lower() == fmt.key:
                return fmt
        from jobtrail.base.errors import InputError

        raise InputError(f"f={asked!r} is not a format here", hint="f=json or f=html")
    return conneg.negotiate(request.headers.get("accept"), FORMATS, JSON)


def _value(value: Any) -> str:
    if isinstance(value, Mapping):
        if "href" in value and isinstance(value["href"], str):
            text = value.get("title") or value["href"]
            extra = (
                f" <small>({escape(str(value.get('rel', '')))})</small>" if "rel" in value else ""
            )
            return html.link(value["href"], str(text)) + extra
        rows = "".join(f"<dt>{escape(str(k))}</dt><dd>{_value(v)}</dd>" for k, v in value.items())
        return f"<dl>{rows}</dl>"
    if isinstance(value, list):
        return "<ul>" + "".join(f"<li>{_value(v)}</li>" for v in value) + "</ul>"
    return escape(str(value))


def page(title: str, document: Mapping[str, Any]) -> str:
    """A document for people: the same content as the JSON, its links followable."""
    return html.page(title, f"<h1>{escape(title)}</h1><div class=ogcapi>{_value(document)}</div>")


def respond(
    request: Request[Any],
    title: str,
    document: Mapping[str, Any],
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    fmt = wants(request)
    more = {"Vary": "Accept", **(headers or {})}
    if fmt is conneg.HTML:
        return Response(page(title, document), status_code, more, media_type="text/html")
    body = json.dumps(document, ensure_ascii=False)
    return Response(body, status_code, more, media_type="application/json")
