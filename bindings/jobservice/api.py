"""OpenAPI declarations of the linked-data job service (web/openapi.py): `/jobs`, a job, its
results, `/profiles` and `/credit`."""

from __future__ import annotations

from jobtrail.bindings.jobservice import memento
from jobtrail.bindings.jobservice.routes import FORMATS, JSON
from jobtrail.web import conneg
from jobtrail.web.openapi import (
    ADMIN,
    ANYONE,
    CALLER,
    PAGE,
    READ_ERRORS,
    SIZE,
    Api,
    Body,
    Operation,
    Param,
    Reply,
    ok,
    ref,
    see_other,
)

_JOB = Param(
    "id", "the job's id (a UUID); `{id}.atom`, `.ttl` … name its resource map", where="path"
)
_WHEN = Param(
    "Accept-Datetime",
    "an RFC 1123 date (`Tue, 01 Dec 2026 12:00:00 GMT`): the job as of then",
    where="header",
)
_N = Param(
    "n",
    "the version: the sequence of the change that made it, from 1 (`.ttl` … a format)",
    where="path",
)
_CREATE = {
    "type": "object",
    "required": ["url"],
    "properties": {
        "url": {"type": "string", "format": "uri", "description": "the document (http(s), file:)"},
        "profile": {"type": "string", "description": "the work (default DocumentToText)"},
        "parameters": {"type": "object", "description": "the profile's parameters"},
        "runId": {"type": "string"},
        "executionDuration": {"type": "integer", "description": "seconds"},
    },
}
_PROFILE_FORMATS = (JSON, conneg.HTML, *conneg.RDF_FORMATS)

API = Api(
    {
        ("GET", "/jobs"): Operation(
            params=(PAGE, SIZE, Param("pass", "a pass: its jobs")),
            replies=(ok("a page of the caller's jobs", FORMATS, headers=("Link",)),),
            errors=(*READ_ERRORS, 400),
            security=ANYONE,
        ),
        ("POST", "/jobs"): Operation(
            "Start a job on a document: its URL as the body (text, uri-list, form or JSON)",
            description="A pass's job is priced (`price_per_job`, `price_per_mb`) and debited "
            "as it is created: `402` when the credit is short.",
            params=(Param("profile", "the work (default DocumentToText; see /profiles)"),),
            body=Body(
                (
                    "text/plain",
                    "text/uri-list",
                    "application/x-www-form-urlencoded",
                    "application/json",
                ),
                schema=ref("JobRequest"),
            ),
            replies=(Reply(201, "the job's URI", ("text/plain",), headers=("Location",)),),
            errors=(400, 401, 402, 403, 404, 415, 503, 507),
            security=CALLER,
        ),
        ("GET", "/jobs/{id}"): Operation(
            description="202 with `Retry-After` while PENDING, QUEUED or EXECUTING; 303 to "
            "`/jobs/{id}.{ext}` (the OAI-ORE resource map, `ext` chosen by `Accept`) once "
            "COMPLETED; 424 when its input could not be fetched, 422 when the work failed or "
            "ran past its execution duration; 410 once deleted. An MCMA client asking for "
            "`application/json` gets the job in today's MCMA model. A browser (asking for HTML) "
            "gets the job page instead, 200 in every phase (reloading every `Retry-After` "
            "seconds while it runs), 410 with its history once deleted. With `Accept-Datetime` "
            "the job is its own Memento TimeGate (RFC 7089, 302 style): 302 to the version "
            "current then, 404 before the job existed, 410 after its deletion, 400 for a date "
            "that is not RFC 1123.",
            params=(_JOB, _WHEN),
            replies=(
                ok(
                    "the job's resource map (`{id}.{ext}`), a job without results, or (HTML) "
                    "the job page",
                    FORMATS,
                    headers=("Retry-After",),
                ),
                Reply(202, "still running: its description", FORMATS, headers=("Retry-After",)),
                see_other("complete: its resource map"),
                Reply(
                    302,
                    "asked with Accept-Datetime: the version current then",
                    headers=("Location", "Vary", "Link"),
                ),
                Reply(304, "not modified"),
            ),
            errors=(*READ_ERRORS, 400, 404, 410, 422, 424),
            security=ANYONE,
        ),
        ("PUT", "/jobs/{id}"): Operation(
            "An update by the binding that runs the job (MCMA: status, progress, output)",
            params=(_JOB,),
            body=Body(("application/json", conneg.JSONLD)),
            replies=(ok("the job as updated", ("application/json",)),),
            errors=(400, 401, 403, 404, 405, 409, 410),
            security=("", "user", "pass", "adminToken"),
        ),
        ("POST", "/jobs/{id}"): Operation(
            "The job page's buttons: abort the job (while it runs) or delete it",
            description="A form with `action=abort` or `action=delete`; its owner's and the "
            "admin's. A browser's form only from this server's own pages. 303 back to the job.",
            params=(_JOB, Param("pass", "a pass: its job")),
            body=Body(
                ("application/x-www-form-urlencoded",),
                schema={
                    "type": "object",
                    "required": ["action"],
                    "properties": {"action": {"type": "string", "enum": ["abort", "delete"]}},
                },
            ),
            replies=(see_other("done: the job page"),),
            errors=(400, 401, 403, 404, 409, 410, 413, 415),
            security=("", "user", "pass", "adminToken"),
        ),
        ("DELETE", "/jobs/{id}"): Operation(
            "Delete a job with its results; its history stays (a later GET is 410)",
            params=(_JOB,),
            replies=(ok("deleted", ("text/plain",)),),
            errors=(400, 401, 403, 404, 409, 410),
            security=("", "user", "pass", "adminToken"),
        ),
        ("GET", "/jobs/{id}/versions/{n}"): Operation(
            "A Memento: the job as it was after its change n",
            description="Its state then, folded from its change records (what they do not "
            "say is left out and named), with `Memento-Datetime` and `Link` (original, "
            "timegate, timemap, first/last/prev/next memento). `{n}.ttl`, `.jsonld`, `.nt` … "
            "name a format; HTML: the job page as it was. 410 for the deletion's number.",
            params=(_JOB, _N),
            replies=(
                ok("the version", memento.FORMATS, headers=("Memento-Datetime", "Link")),
                Reply(304, "not modified"),
            ),
            errors=(*READ_ERRORS, 400, 404, 410),
            security=ANYONE,
        ),
        ("GET", "/jobs/{id}/timemap"): Operation(
            "The job's TimeMap: every version (RFC 7089 §5)",
            params=(_JOB,),
            replies=(ok("every version", memento.TIMEMAP_FORMATS, headers=("Link",)),),
            errors=(*READ_ERRORS, 404),
            security=ANYONE,
        ),
        ("GET", "/jobs/{id}/timemap.{ext}"): Operation(
            "The job's TimeMap in a format named: `.link`, `.json` or `.html`",
            params=(_JOB, Param("ext", "link, json or html", where="path")),
            replies=(ok("every version", memento.TIMEMAP_FORMATS, headers=("Link",)),),
            errors=(401, 403, 404),
            security=ANYONE,
        ),
        ("GET", "/jobs/{id}/results"): Operation(
            params=(_JOB,),
            replies=(see_other("the resource map in the format asked for"),),
            errors=(*READ_ERRORS, 404, 410),
            security=ANYONE,
        ),
        ("GET", "/jobs/{id}/results/{name}"): Operation(
            params=(_JOB, Param("name", "the file's name", where="path")),
            replies=(ok("the file, with the media type its aggregation gives", ("*/*",)),),
            errors=(401, 403, 404, 410),
            security=ANYONE,
        ),
        ("GET", "/profiles"): Operation(
            replies=(ok("the profiles", _PROFILE_FORMATS),),
            errors=(406,),
        ),
        ("GET", "/profiles/{name}"): Operation(
            "One job profile: what it does, its parameters, whether it can run here",
            params=(
                Param("name", "the profile (`.json`, `.html`, an RDF extension)", where="path"),
            ),
            replies=(ok("the profile", _PROFILE_FORMATS),),
            errors=(404, 406),
        ),
        ("POST", "/credit"): Operation(
            body=Body(
                ("application/x-www-form-urlencoded", "application/json"),
                schema={
                    "type": "object",
                    "required": ["pass", "amount"],
                    "properties": {"pass": {"type": "string"}, "amount": {"type": "number"}},
                },
            ),
            replies=(
                ok(
                    "the pass's credit now",
                    ("application/json",),
                    schema={"type": "object", "properties": {"credit": {"type": "number"}}},
                ),
            ),
            errors=(400, 401, 403, 404),
            security=ADMIN,
        ),
    },
    {"JobRequest": _CREATE},
)
