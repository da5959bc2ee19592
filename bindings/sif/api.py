"""OpenAPI declarations of the SIF 3.2.1 routes (web/openapi.py). Every route under /sif/
takes every method and answers the one meant (`methodOverride`, `X-HTTP-Method-Override`);
each method is declared, those a resource refuses as the refusal they get. Errors are SIF
`error` documents unless the client asks for problem+json, HTML or text."""

from __future__ import annotations

from jobtrail.web import conneg
from jobtrail.web.openapi import ANYONE, INTEGER, Api, Body, Operation, Param, Reply, ok

_XML = "application/xml"
_COLLECTION = Param("collection", "the service's collection (`Transfers`)", where="path")
_ID = Param("id", "the job's id (a UUID)", where="path")
_PHASE = Param("phase", "a phase of the service (`package`, `validation` …)", where="path")
_HEADERS = (
    Param(
        "methodOverride",
        "the method meant: a POST read as GET, a PUT as DELETE",
        where="header",
        schema={"enum": ["GET", "DELETE"]},
    ),
    Param(
        "X-HTTP-Method-Override",
        "as methodOverride",
        where="header",
        schema={"enum": ["GET", "DELETE"]},
    ),
    Param("requestId", "echoed in the answer (1 to 256 visible ASCII characters)", where="header"),
)
_SIF_HEADERS = ("messageType", "timestamp", "messageId", "responseAction", "relativeServicePath")
_WHO = ("", "user", "pass", "adminToken", "sifSession")
_ERRORS = (400, 401, 403, 404, 410)
_DOCUMENT = Body((_XML, "text/xml"), "a SIF 3.2.1 document (no DOCTYPE), valid against its schema")


def _ok(status: int, what: str, media: tuple[str, ...] = (_XML,)) -> Reply:
    return Reply(status, what, media, headers=_SIF_HEADERS)


def _refused(status: int, why: str) -> Operation:
    return Operation(f"Refused ({status}): {why}", params=_HEADERS, errors=(status,), security=_WHO)


def _op(
    summary: str,
    replies: tuple[Reply, ...],
    *,
    body: Body | None = None,
    params: tuple[Param, ...] = (),
    errors: tuple[int, ...] = _ERRORS,
) -> Operation:
    return Operation(
        summary,
        params=(*params, *_HEADERS),
        body=body,
        replies=replies,
        errors=errors,
        security=_WHO,
    )


_JOBS = "/sif/jobs/{collection}"
_ITEM = f"{_JOBS}/{{item}}"
_PHASES = f"{_JOBS}/{{id}}/{{phase}}"
_STATES = f"{_PHASES}/states"
_STATE = f"{_STATES}/{{state}}"
_ENV = "/sif/environments/{id}"
_PAGING = (
    Param("navigationPage", "the page, from 1 (also as a header)", schema=INTEGER),
    Param("navigationPageSize", "jobs a page (also as a header)", schema=INTEGER),
)
_ITEM_PARAM = Param("item", "the service's name (POST: a new job) or a job's id", where="path")
_STATE_PARAM = Param("state", "`state` (POST: a new state) or a state's id", where="path")
_PAYLOAD = Body((_XML, "text/xml", "text/plain"), "the phase's payload (any XML, or text)")

API = Api(
    {
        ("GET", "/sif/jobs"): Operation(
            replies=(ok("the services, their phases and rights", (conneg.HTML,)),),
            security=ANYONE,
        ),
        ("GET", _JOBS): _op(
            "The service's jobs the caller may see, oldest first, a page at a time",
            (
                _ok(200, "`jobs`"),
                Reply(
                    204,
                    "a page past the last (HEAD: navigationCount only)",
                    headers=("navigationCount", "navigationLastPage"),
                ),
            ),
            params=(_COLLECTION, *_PAGING),
        ),
        ("POST", _JOBS): _op(
            "Create several jobs: a `jobs` document → `createResponse`",
            (_ok(200, "`createResponse`: each job's id and status"),),
            body=_DOCUMENT,
            params=(
                _COLLECTION,
                Param("mustUseAdvisory", "`true`: keep the documents' ids", where="header"),
            ),
        ),
        ("PUT", _JOBS): _op(
            "With methodOverride DELETE: delete jobs (`deleteRequest` → `deleteResponse`); "
            "otherwise 403 (jobs are changed through their phases)",
            (_ok(200, "`deleteResponse`: each job's status"),),
            body=_DOCUMENT,
            params=(_COLLECTION,),
        ),
        ("DELETE", _JOBS): _op(
            "Delete several jobs: a `deleteRequest` → `deleteResponse`",
            (_ok(200, "`deleteResponse`"),),
            body=_DOCUMENT,
            params=(_COLLECTION,),
        ),
        ("GET", _ITEM): _op("A job", (_ok(200, "the `job`"),), params=(_COLLECTION, _ITEM_PARAM)),
        ("POST", _ITEM): _op(
            "Create a job: POST a `job` document to /{svc}s/{svc} → 201, NOTSTARTED",
            (_ok(201, "the created job (Location; Link: canonical)"),),
            body=_DOCUMENT,
            params=(
                _COLLECTION,
                _ITEM_PARAM,
                Param("mustUseAdvisory", "`true`: keep the document's id", where="header"),
            ),
            errors=(400, 401, 402, 403, 404, 409, 503, 507),
        ),
        ("PUT", _ITEM): _refused(403, "a job is changed through its phases and states"),
        ("DELETE", _ITEM): _op(
            "Delete a job → 204; its history stays (410 afterwards)",
            (_ok(204, "deleted", ()),),
            params=(_COLLECTION, _ITEM_PARAM),
        ),
        **{
            (method, _PHASES): _op(
                f"A phase's payload: {right} (as the phase's rights allow; 403 naming the "
                "right otherwise)",
                replies,
                body=_PAYLOAD if method in ("POST", "PUT") else None,
                params=(_COLLECTION, _ID, _PHASE),
                errors=(*_ERRORS, 409),
            )
            for method, right, replies in (
                (
                    "GET",
                    "QUERY",
                    (_ok(200, "the payload", (_XML, "text/plain")), _ok(204, "no payload", ())),
                ),
                (
                    "POST",
                    "CREATE",
                    (
                        _ok(201, "created", (_XML, "text/plain")),
                        _ok(200, "the payload (methodOverride GET)"),
                    ),
                ),
                (
                    "PUT",
                    "UPDATE",
                    (
                        _ok(200, "updated", (_XML, "text/plain")),
                        _ok(204, "updated (or deleted: methodOverride DELETE)", ()),
                    ),
                ),
                ("DELETE", "DELETE", (_ok(204, "deleted", ()),)),
            )
        },
        ("GET", _STATES): _op(
            "A phase's states (statesRights QUERY)",
            (_ok(200, "`states`"),),
            params=(_COLLECTION, _ID, _PHASE),
        ),
        ("POST", _STATES): _op(
            "With methodOverride GET: the phase's states; otherwise 405",
            (_ok(200, "`states`"),),
            params=(_COLLECTION, _ID, _PHASE),
            errors=(*_ERRORS, 405),
        ),
        ("PUT", _STATES): _refused(405, "a phase's states are read (GET)"),
        ("DELETE", _STATES): _refused(405, "a phase's states are read (GET)"),
        ("GET", _STATE): _op(
            "One state of a phase",
            (_ok(200, "the `state`"),),
            params=(_COLLECTION, _ID, _PHASE, _STATE_PARAM),
        ),
        ("POST", _STATE): _op(
            "A new state of a phase: POST a `state` to …/states/state → 201 (statesRights CREATE)",
            (_ok(201, "the new state"),),
            body=_DOCUMENT,
            params=(_COLLECTION, _ID, _PHASE, _STATE_PARAM),
            errors=(*_ERRORS, 409),
        ),
        ("PUT", _STATE): _refused(405, "a state is never changed: post a new one"),
        ("DELETE", _STATE): _refused(405, "a state is never deleted"),
        ("GET", _ENV): _op(
            "An environment (its owner or the admin; 404 to others)",
            (_ok(200, "the `environment`"),),
            params=(Param("id", "the environment's id", where="path"),),
        ),
        ("POST", _ENV): _op(
            "Register: POST an `environment` to …/environments/environment, signed as a user "
            "→ 201 with its sessionToken",
            (_ok(201, "the environment, with sessionToken and infrastructureServices"),),
            body=_DOCUMENT,
            params=(Param("id", "`environment`", where="path"),),
        ),
        ("PUT", _ENV): _refused(405, "an environment is registered (POST) or deleted"),
        ("DELETE", _ENV): _op(
            "End the session → 204",
            (_ok(204, "deleted", ()),),
            params=(Param("id", "the environment's id", where="path"),),
        ),
    },
    security={
        "sifSession": {
            "type": "http",
            "scheme": "SIF_HMACSHA256",
            "description": "SIF_HMACSHA256 base64(applicationKey or sessionToken:base64("
            "HMAC-SHA-256(secret, key:timestamp))) with the `timestamp` header; HTTP Basic "
            "base64(sessionToken:secret) works too. The applicationKey is a user's name, the "
            "secret its password.",
        }
    },
)
