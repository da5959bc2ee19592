"""Request plumbing every route shares: bodies, callers, credentials, parameters, jobs seen.

Nothing here knows a protocol: a binding reads its body with `read_body`, learns who is
calling with `caller_of` (who owns what it makes) and `viewer_of` (who reads: the role the
visibility policy in `jobs/visibility.py` decides by), and fetches a job the caller may see
with `visible_job` (or change, with `change=True`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
from collections.abc import Callable

from jobtrail.base.errors import (
    Forbidden,
    Gone,
    InputError,
    PayloadTooLarge,
    RequestTimeout,
    Unauthorized,
)
from jobtrail.jobs.accounts import ADMIN_SUBMITTER, Caller, Submitter
from jobtrail.jobs.core import Job
from jobtrail.jobs.hops import request_bytes
from jobtrail.jobs.visibility import ANONYMOUS_VIEWER, Role, Viewer
from jobtrail.queries.trace import Hop
from jobtrail.web.state import AppRequest


async def read_body(request: AppRequest, limit: int | None = None) -> bytes:
    """The body, refused with 413 as soon as it is known to be over `limit` bytes, and with
    408 when it has not all come within the server's `body_timeout` seconds (a slow client).

    The limit defaults to the server's `max_body`.
    """
    config = request.state["engine"].config
    if limit is None:
        limit = config.max_body
    declared = request.headers.get("content-length", "")
    size, chunks = int(declared) if declared.isdigit() else 0, []
    if size <= limit:
        size = 0
        try:
            async with asyncio.timeout(config.body_timeout or None):
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > limit:
                        break
                    chunks.append(chunk)
        except TimeoutError:
            raise RequestTimeout(
                f"the request body did not arrive within {config.body_timeout:g} seconds "
                f"({size:,} bytes came)",
                hint="the limit is the setting body_timeout (--body-timeout)",
                details={"limit": config.body_timeout, "setting": "body_timeout"},
            ) from None
    if size > limit:
        raise PayloadTooLarge(
            f"the request body is over the limit of {limit:,} bytes",
            hint="the limit is the setting max_body (--max-body, JOBTRAIL_MAX_BODY)",
        )
    return b"".join(chunks)


def received_bytes(request: AppRequest, body: bytes) -> bytes:
    """The request as it arrived, as an HTTP message for a hop. `Hops.record` redacts it as it
    stores it (`redact.message`): credentials (`Authorization`, `?pass=`, a URL's password,
    secret form or JSON fields) become `REDACTED`, and a `Jobtrail-Redacted` header names them.
    """
    headers = [
        (k, v) for k, v in request.headers.items() if k.lower() not in ("host", "content-length")
    ]
    return request_bytes(request.method, str(request.url), body, headers)


def int_param(request: AppRequest, name: str, default: int, low: int, high: int) -> int:
    """A whole-number query parameter within [low, high]; 400 naming it otherwise."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InputError(f"{name} must be a whole number, not {raw!r}") from None
    if not low <= value <= high:
        raise InputError(f"{name} must be between {low} and {high}, not {value}")
    return value


def authorise(request: AppRequest) -> None:
    """Admit the server's administrator (the `admin_token`, Bearer or Basic); 401/403 else."""
    token = request.state["engine"].config.admin_token
    if not token:
        raise Forbidden(
            "SPARQL updates are switched off on this server",
            hint="to enable them, set an admin token (JOBTRAIL_ADMIN_TOKEN, admin_token in "
            "jobtrail.toml, or --admin-token) and send it as Authorization: Bearer <token>",
        )
    given = _token(request)
    if given is None:
        raise Unauthorized(
            "a SPARQL update needs the admin token",
            hint="send Authorization: Bearer <token>, or HTTP Basic with any "
            "user name and the token as password",
        )
    if not hmac.compare_digest(given.encode(), token.encode()):
        raise Forbidden("the credential given is not this server's admin token")


def _token(request: AppRequest) -> str | None:
    """The token a request carries: Bearer, or a Basic password; None without either."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value.strip(), validate=True).decode().partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            return ""
    return None


def submitter_of(request: AppRequest) -> Submitter:
    """Who posts messages: a producer credential (the `producers` setting) or the admin
    token, as Bearer (or a Basic password); 401 without one, 403 for one not known here."""
    engine = request.state["engine"]
    admin = engine.config.admin_token
    if not engine.accounts.producers and not admin:
        raise Forbidden(
            "posting messages is switched off on this server: it has no producer credentials",
            hint="set producers (JOBTRAIL_PRODUCERS, producers in jobtrail.toml, or "
            "--producers) as TOKEN:Name|Name2,TOKEN2:*",
        )
    given = _token(request)
    if given is None:
        raise Unauthorized(
            "posting messages needs a producer credential",
            hint="send Authorization: Bearer <producer token> (or the admin token)",
        )
    found = engine.accounts.producer(given)
    # as bytes: compare_digest refuses str with characters outside ASCII (a 500)
    is_admin = bool(admin) and hmac.compare_digest(given.encode(), (admin or "").encode())
    if is_admin:
        return ADMIN_SUBMITTER
    if found is None:
        raise Forbidden("the credential given is not a producer credential of this server")
    return found


def caller_of(request: AppRequest) -> Caller:
    """Who is calling: a user (HTTP Basic), a pass (`?pass=`), or anonymous."""
    return request.state["engine"].accounts.identify(
        request.headers.get("authorization"), request.query_params.get("pass")
    )


def viewer_of(request: AppRequest) -> Viewer:
    """Who reads (`jobs/visibility.py`): the admin token (Bearer or a Basic password), a
    producer credential (Bearer), a user (a curator if named in `curators`), a pass, or
    anonymous; 403 for credentials that do not check. A Bearer token this server does not
    know is some binding's own (an MCMA service's): it reads as anonymous."""
    found = request.scope.get("jobtrail.viewer")
    if isinstance(found, Viewer):
        return found
    engine = request.state["engine"]
    admin = engine.config.admin_token
    given = _token(request)
    scheme = request.headers.get("authorization", "").partition(" ")[0].lower()
    viewer: Viewer
    if admin and given is not None and hmac.compare_digest(given.encode(), admin.encode()):
        viewer = Viewer(Role.ADMIN, "admin")
    elif scheme == "bearer" and given is not None:
        producer = engine.accounts.producer(given)
        viewer = Viewer(Role.PRODUCER, producer.label) if producer else ANONYMOUS_VIEWER
    else:
        caller = caller_of(request)
        if caller.name is None:
            viewer = ANONYMOUS_VIEWER
        elif caller.pass_token is not None:
            viewer = Viewer(Role.PASS, caller.name)
        elif caller.name in engine.visibility.curators:
            viewer = Viewer(Role.CURATOR, caller.name)
        else:
            viewer = Viewer(Role.USER, caller.name)
    request.scope["jobtrail.viewer"] = viewer
    return viewer


def visible_job(request: AppRequest, job_id: str, *, change: bool = False) -> Job:
    """The job, if the caller may see it (`change`: may change it): 404/410 when there is
    none, 401 (anonymous) or 403 when it is not theirs to read or change."""
    engine = request.state["engine"]
    viewer = viewer_of(request)
    policy = engine.visibility
    try:
        job = engine.jobs.get(job_id)
    except Gone:  # deleted: that it was is for those who could see it
        if not policy.may_see(viewer, policy.job_owners(engine.jobs.iri(job_id))):
            raise policy.refuse(viewer, f"job {job_id}") from None
        raise
    if change and not policy.may_change(viewer, job.owner):
        if viewer.role is Role.CURATOR and policy.may_see(viewer, {job.owner}):
            raise Forbidden(
                f"job {job_id} belongs to someone else: a curator reads it, and only its "
                "owner or the administrator changes it",
            )
        raise policy.refuse(viewer, f"job {job_id}")
    if not policy.may_see(viewer, {job.owner}):
        raise policy.refuse(viewer, f"job {job_id}")
    return job


def visible_hops(request: AppRequest) -> Callable[[Hop], bool] | None:
    """Which hops of a trace the caller may see (None: all): a hop of a job they may not
    see is left out (`/trace`, an OGC job's provenance)."""
    viewer = viewer_of(request)
    if viewer.sees_all:
        return None
    policy = request.state["engine"].visibility

    def keep(hop: Hop) -> bool:
        return policy.may_see(viewer, policy.owners_of_jobs(hop.about))

    return keep
