"""OpenAPI declarations of the UWS 1.1 routes (web/openapi.py). Every UWS document is
`application/xml`, valid against the UWS 1.1 schema; values of a job are `text/plain`."""

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
    ok,
    see_other,
)

_XML = "application/xml"
_LIST = Param("list", "a job list (`/uws` names them: one per profile by default)", where="path")
_JOB = Param("id", "the job's id", where="path")
_FORM = ("application/x-www-form-urlencoded", "multipart/form-data")
_PARAMETERS = {
    "type": "object",
    "description": "UWS parameters (names case-insensitive) and the profile's own",
    "properties": {
        "URL": {"type": "string", "description": "the input"},
        "PHASE": {"enum": ["RUN", "ABORT"]},
        "ACTION": {"enum": ["DELETE"]},
        "RUNID": {"type": "string"},
        "EXECUTIONDURATION": {"type": "integer"},
        "DESTRUCTION": {"type": "string", "format": "date-time"},
    },
    "additionalProperties": {"type": "string"},
}
_CHANGE = Body(_FORM, "the parameters to set, and PHASE or ACTION", _PARAMETERS)
_WHO = ANYONE
_JOB_ERRORS = (400, 401, 403, 404)

API = Api(
    {
        ("GET", "/uws"): Operation(
            replies=(ok("the lists, and the profile of each", (conneg.HTML,)),)
        ),
        ("GET", "/uws/{list}"): Operation(
            description="More than `uws_max_list` jobs (without LAST, or with a larger one) is "
            "a 303 to the same filters with `LAST=uws_max_list`.",
            params=(
                _LIST,
                Param("PHASE", "only jobs in this phase (repeatable)"),
                Param("AFTER", "only jobs created after this time (ISO 8601)"),
                Param("LAST", "the newest n", schema=INTEGER),
            ),
            replies=(ok("`uws:jobs`", (_XML,)), see_other("the same filters with LAST")),
            errors=(400, 401, 403, 404),
            security=_WHO,
        ),
        ("POST", "/uws/{list}"): Operation(
            "Create a PENDING job from the parameters (PHASE=RUN starts it) → 303 to it",
            params=(_LIST,),
            body=Body(_FORM, "the job's parameters", _PARAMETERS),
            replies=(see_other("the new job"),),
            errors=(400, 401, 402, 403, 404, 503, 507),
            security=CALLER,
        ),
        ("GET", "/uws/{list}/{id}"): Operation(
            params=(
                _LIST,
                _JOB,
                Param(
                    "WAIT",
                    "block up to n seconds (-1: as long as allowed) while it is "
                    "PENDING, QUEUED or EXECUTING",
                    schema=INTEGER,
                ),
                Param("PHASE", "with WAIT: block only while in this phase"),
            ),
            replies=(ok("`uws:job`", (_XML,), headers=("Link",)),),
            errors=_JOB_ERRORS,
            security=_WHO,
        ),
        ("POST", "/uws/{list}/{id}"): Operation(
            params=(_LIST, _JOB),
            body=_CHANGE,
            replies=(see_other("the job (the list after ACTION=DELETE)"),),
            errors=(*_JOB_ERRORS, 409),
            security=_WHO,
        ),
        ("DELETE", "/uws/{list}/{id}"): Operation(
            "Delete the job → 303 to the list (its history stays at its canonical IRI)",
            params=(_LIST, _JOB),
            replies=(see_other("the list"),),
            errors=_JOB_ERRORS,
            security=_WHO,
        ),
        ("GET", "/uws/{list}/{id}/results/{name}"): Operation(
            params=(_LIST, _JOB, Param("name", "the result's id", where="path")),
            replies=(see_other("the result file at the job's canonical IRI"),),
            errors=_JOB_ERRORS,
            security=_WHO,
        ),
        ("GET", "/uws/{list}/{id}/parameters/{name}"): Operation(
            params=(_LIST, _JOB, Param("name", "the parameter", where="path")),
            replies=(ok("its value", ("text/plain",)),),
            errors=_JOB_ERRORS,
            security=_WHO,
        ),
        ("POST", "/uws/{list}/{id}/parameters/{name}"): Operation(
            "Set one parameter while the job is PENDING → 303 to the job",
            params=(_LIST, _JOB, Param("name", "the parameter", where="path")),
            body=Body(_FORM, "`VALUE=`, or the parameter by its name", _PARAMETERS),
            replies=(see_other("the job"),),
            errors=_JOB_ERRORS,
            security=_WHO,
        ),
        ("GET", "/uws/{list}/{id}/{what}"): Operation(
            description="`phase`, `runid`, `owner`, `quote`, `executionduration`, "
            "`destruction`, `creationTime`, `startTime`, `endTime` (`text/plain`, empty when "
            "not set); `error` (404 unless the job failed); `results`, `parameters` "
            "(`uws:results`, `uws:parameters`).",
            params=(
                _LIST,
                _JOB,
                Param(
                    "what",
                    "phase, runid, owner, quote, executionduration, destruction, "
                    "creationTime, startTime, endTime, error, results or parameters",
                    where="path",
                ),
            ),
            replies=(ok("the value, or the document", ("text/plain", _XML)),),
            errors=_JOB_ERRORS,
            security=_WHO,
        ),
        ("POST", "/uws/{list}/{id}/{what}"): Operation(
            "Change phase, runid, executionduration or destruction → 303 to the job",
            params=(
                _LIST,
                _JOB,
                Param("what", "phase, runid, executionduration or destruction", where="path"),
            ),
            body=_CHANGE,
            replies=(see_other("the job"),),
            errors=(*_JOB_ERRORS, 409),
            security=_WHO,
        ),
    }
)
