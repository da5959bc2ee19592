"""OpenAPI declarations of the MCMA routes (web/openapi.py): the FIMS-era job processor flow
(`/mcma/Job`, StartJob, StopJob) and today's model (`/mcma/jobs`, job profiles, executions;
cancel, restart and executions also under the canonical `/jobs/{id}`). Errors of these JSON
APIs are problem+json unless the client asks otherwise (the binding's `ErrorStyle`)."""

from __future__ import annotations

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

_JSON = ("application/json",)
_DOCUMENT = Body(("application/json", conneg.JSONLD), schema={"type": "object"})
_ID = Param("id", "the job's id (the same at /mcma/jobs, /mcma/Job and /jobs)", where="path")
_N = Param("n", "an execution, from 1, or `latest`", where="path")
_CHANGERS = ("", "user", "pass", "adminToken")
_SERVICE = ("", "user", "pass", "adminToken", "serviceToken")
_TODAY_JOB = {
    "type": "object",
    "required": ["@type", "jobProfileId"],
    "description": "A Job of today's MCMA (ebu/mcma-libraries): any @type ending in Job",
    "properties": {
        "@type": {"type": "string", "pattern": "Job$"},
        "jobProfileId": {"type": "string", "format": "uri"},
        "jobInput": {"type": "object"},
        "timeout": {"type": "integer", "description": "minutes from each execution's start"},
        "deadline": {"type": "string", "format": "date-time"},
        "priority": {"type": "string"},
        "notificationEndpoint": {
            "type": "object",
            "properties": {"httpEndpoint": {"type": "string", "format": "uri"}},
        },
        "tracker": {"type": "object"},
    },
}
_RESULTS = {"type": "object", "properties": {"results": {"type": "array", "items": {}}}}


def _job_parts(prefix: str) -> dict[tuple[str, str], Operation]:
    job = f"{prefix}/{{id}}"
    return {
        ("POST", f"{job}/cancel"): Operation(
            "Cancel a job (MCMA) → 202, Canceled; 409 once it has finished",
            params=(_ID,),
            replies=(Reply(202, "the job, Canceled", _JSON, {"type": "object"}),),
            errors=(401, 403, 404, 409, 410),
            security=_CHANGERS,
        ),
        ("POST", f"{job}/restart"): Operation(
            "Run a job again from its input (MCMA) → 202; 409 past its deadline",
            params=(_ID,),
            replies=(Reply(202, "the job, queued again", _JSON, {"type": "object"}),),
            errors=(401, 403, 404, 409, 410),
            security=_CHANGERS,
        ),
        ("GET", f"{job}/executions"): Operation(
            "A job's executions (MCMA JobExecution), one per attempt",
            params=(_ID,),
            replies=(ok('`{"results": [JobExecution …]}`', _JSON, schema=_RESULTS),),
            errors=(401, 403, 404, 410),
            security=ANYONE,
        ),
        ("GET", f"{job}/executions/{{n}}"): Operation(
            "One execution of a job (MCMA JobExecution)",
            params=(_ID, _N),
            replies=(ok("the JobExecution", _JSON, schema={"type": "object"}),),
            errors=(401, 403, 404, 410),
            security=ANYONE,
        ),
        ("POST", f"{job}/executions/{{n}}/notifications"): Operation(
            description="`source`: the JobAssignment's id, `content`: the JobAssignment with "
            "`status`, `progress`, `jobOutput`, `error`; ignored (still 202) for an execution "
            "that is not the latest or has finished.",
            params=(_ID, Param("n", "the execution", where="path")),
            body=_DOCUMENT,
            replies=(Reply(202, "taken"),),
            errors=(400, 401, 403, 404, 409, 410),
            security=_SERVICE,
        ),
    }


API = Api(
    {
        ("POST", "/mcma/Job"): Operation(
            "Create a FIMS-era job (an AmeJob or any …Job) → 201, jobStatus NEW",
            body=_DOCUMENT,
            replies=(Reply(201, "the job, with its id", _JSON, {"type": "object"}, ("Location",)),),
            errors=(400, 401, 402, 403, 404, 415, 503, 507),
            security=CALLER,
        ),
        ("GET", "/mcma/Job/{id}"): Operation(
            "A FIMS-era job's document",
            params=(_ID,),
            replies=(ok("the job", (*_JSON, conneg.JSONLD), schema={"type": "object"}),),
            errors=(401, 403, 404, 406, 410),
            security=ANYONE,
        ),
        ("PUT", "/mcma/Job/{id}"): Operation(
            "A service's or owner's update of a FIMS-era job (status, report)",
            params=(_ID,),
            body=_DOCUMENT,
            replies=(ok("the job as updated", _JSON, schema={"type": "object"}),),
            errors=(400, 401, 403, 404, 409, 410),
            security=_SERVICE,
        ),
        ("POST", "/mcma/StartJob"): Operation(
            "Start a FIMS-era job (`job`, `asyncEndpoint.success/failure`) → 201, QUEUED",
            body=_DOCUMENT,
            replies=(Reply(201, "the StartJob, with the job", _JSON, {"type": "object"}),),
            errors=(400, 401, 403, 404, 409, 410),
            security=_CHANGERS,
        ),
        ("POST", "/mcma/StopJob"): Operation(
            "A service ends a FIMS-era job (`stopJobCause`); the orchestrator is called back",
            body=_DOCUMENT,
            replies=(ok("the StopJob, with the job", _JSON, schema={"type": "object"}),),
            errors=(400, 401, 403, 404, 409, 410),
            security=_SERVICE,
        ),
        ("GET", "/mcma/services"): Operation(
            replies=(ok("the registry", _JSON, schema=_RESULTS),),
        ),
        ("GET", "/mcma/jobs"): Operation(
            "Jobs in today's MCMA model, with filters and pages",
            params=(
                Param("status", "a status (any case)"),
                Param("from", "created at or after (ISO 8601 with a zone)"),
                Param("to", "created before (ISO 8601 with a zone)"),
                Param(
                    "sortOrder",
                    "`asc` (oldest first, the default) or `desc`",
                    schema={"enum": ["asc", "desc"]},
                ),
                Param("pageSize", "jobs a page (100)", schema=INTEGER),
                Param("pageStartToken", "from `nextPageStartToken`"),
            ),
            replies=(
                ok(
                    '`{"results": […], "nextPageStartToken"?}`',
                    _JSON,
                    schema={
                        "type": "object",
                        "properties": {
                            "results": {"type": "array", "items": {}},
                            "nextPageStartToken": {"type": "string"},
                        },
                    },
                ),
            ),
            errors=(400, 401, 403),
            security=ANYONE,
        ),
        ("POST", "/mcma/jobs"): Operation(
            "Create a job in today's MCMA model → 201, status New; then it is started",
            body=Body(("application/json", conneg.JSONLD), schema=ref("McmaJob")),
            replies=(Reply(201, "the job", _JSON, {"type": "object"}, ("Location",)),),
            errors=(400, 401, 402, 403, 415, 503, 507),
            security=CALLER,
        ),
        ("GET", "/mcma/jobs/{id}"): Operation(
            "Any job, made through any binding, in today's MCMA model",
            params=(_ID,),
            replies=(ok("the job", _JSON, schema={"type": "object"}),),
            errors=(401, 403, 404, 410),
            security=ANYONE,
        ),
        ("PUT", "/mcma/jobs/{id}"): Operation(
            "A service's or owner's update: status, progress (0–100), jobOutput, error",
            params=(_ID,),
            body=_DOCUMENT,
            replies=(ok("the job as updated", _JSON, schema={"type": "object"}),),
            errors=(400, 401, 403, 404, 409, 410),
            security=_SERVICE,
        ),
        ("DELETE", "/mcma/jobs/{id}"): Operation(
            "Delete a finished job → 202; 409 while it is New, Queued or Running",
            params=(_ID,),
            replies=(Reply(202, "deleted"),),
            errors=(401, 403, 404, 409, 410),
            security=_CHANGERS,
        ),
        ("GET", "/mcma/job-profiles"): Operation(
            "The job profiles (MCMA JobProfile), their input and output parameters",
            params=(Param("name", "only this profile"),),
            replies=(ok('`{"results": [JobProfile …]}`', _JSON, schema=_RESULTS),),
        ),
        ("GET", "/mcma/job-profiles/{name}"): Operation(
            "One job profile (MCMA JobProfile)",
            params=(Param("name", "the profile", where="path"),),
            replies=(ok("the JobProfile", _JSON, schema={"type": "object"}),),
            errors=(404,),
        ),
        **_job_parts("/mcma/jobs"),
        **_job_parts("/jobs"),
    },
    {"McmaJob": _TODAY_JOB},
    {
        "serviceToken": {
            "type": "http",
            "scheme": "bearer",
            "description": "The `token` of the external service running the job "
            "(`mcma_services`): only it changes such a job.",
        }
    },
)
