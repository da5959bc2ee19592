"""How a job reads in MCMA: today's model (ebu/mcma-libraries) and FIMS 1.3's AmeJob.

Both are views of the job core's job; nothing here is stored. Status values
come from the job's canonical phase through the vocabulary's schemes
(`vocab/status.ttl`): a status its client or service wrote is shown when it
stands for the job's phase (MCMA "Scheduled" for a QUEUED job), in the
spelling of the dialect asked for; otherwise the phase's usual status is.

Today's model: a `Job` names its `jobProfileId` and carries `jobInput`; its
`JobProfile` lists the input parameters a job must have and those it may
have; `status`, `progress` (0–100), `jobOutput`, `error` (RFC 7807 problem
details), `timeout` (minutes, from the start of an execution) and `deadline`;
one `JobExecution` per attempt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jobtrail.base import errors, nt
from jobtrail.base.errors import InputError, JobFailed
from jobtrail.jobs.core import PRIORITIES, Job
from jobtrail.jobs.executions import Execution
from jobtrail.vocab import status

MCMA_STATUS = {
    "PENDING": "New",
    "HELD": "New",
    "QUEUED": "Queued",
    "EXECUTING": "Running",
    "SUSPENDED": "Pending",
    "COMPLETED": "Completed",
    "ERROR": "Failed",
    "ABORTED": "Canceled",
    "ARCHIVED": "Completed",
    "UNKNOWN": "Failed",
}
"""Today's MCMA status a job shows for its phase when nobody wrote one that fits."""

FIMS_STATUS = {
    "PENDING": "NEW",
    "HELD": "NEW",
    "QUEUED": "QUEUED",
    "EXECUTING": "RUNNING",
    "SUSPENDED": "PAUSED",
    "COMPLETED": "COMPLETED",
    "ERROR": "FAILED",
    "ABORTED": "CANCELED",
    "ARCHIVED": "CLEANED",
    "UNKNOWN": "UNKNOWN",
}
"""The FIMS status a job shows for its phase when its client wrote none that fits."""

CONTEXT = "https://w3id.org/jobtrail/context/mcma"
"""Every key of both models maps to a term (undeclared ones through its @vocab)."""

INPUT_FILE = "inputFile"
"""The input parameter every built-in profile needs: the file to work on (a Locator)."""

_PROBLEMS = "https://w3id.org/jobtrail/problems/"


def phase_of(value: str) -> str:
    """The UWS phase a FIMS or MCMA status stands for (FIMS spelling first, then MCMA's)."""
    try:
        return status.canonical("fims", value)
    except InputError:
        return status.canonical("mcma", value)


def mcma_status(job: Job) -> str:
    """The job's status in today's spelling (New, Queued, Running, Completed …)."""
    written = job.status_value
    if written is not None:
        for token in status.tokens("mcma"):
            same = token.casefold() == written.casefold()
            if same and status.canonical("mcma", token) == job.phase:
                return token
    if _timed_out(job.phase, job.error is not None):
        return "Failed"
    return MCMA_STATUS.get(job.phase, "Failed")


def _timed_out(phase: str, has_error: bool) -> bool:
    """ABORTED by the service with its reason (the job's time ran out: the job core aborts
    it, as UWS says): in MCMA and FIMS a job past its timeout has failed, not been canceled."""
    return phase == "ABORTED" and has_error


def spelled(value: str) -> str:
    """An MCMA status in its own spelling (`running` → Running); InputError naming the valid."""
    status.concept("mcma", value)  # raises, listing the tokens
    return next(t for t in status.tokens("mcma") if t.casefold() == value.casefold())


def phases_showing(token: str) -> set[str]:
    """The phases whose usual MCMA status is `token` (SUSPENDED shows Pending)."""
    return {phase for phase, shown in MCMA_STATUS.items() if shown == token}


def fims_status(job: Job) -> str:
    """The job's status as the FIMS-era flow writes it (NEW, QUEUED, RUNNING …)."""
    written = job.status_value
    if written is not None:
        try:
            if phase_of(written) == job.phase:
                return written
        except InputError:
            pass
    if _timed_out(job.phase, job.error is not None):
        return "FAILED"
    return FIMS_STATUS.get(job.phase, "UNKNOWN")


def problem(job: Job) -> dict[str, Any] | None:
    """The job's error as RFC 7807 problem details (None when it has none)."""
    if job.error is None:
        return None
    kind = getattr(errors, job.error.type, errors.JobFailed)
    title = str(getattr(kind, "title", "Job failed"))
    out = {
        "type": f"{_PROBLEMS}{job.error.type}",
        "title": title,
        "detail": job.error.message,
        "instance": job.iri,
    }
    if job.error.hint:
        out["hint"] = job.error.hint
    return out


# --- job profiles ----------------------------------------------------------------------


@dataclass(frozen=True)
class ProfileSpec:
    """A job profile as MCMA describes it: which jobInput keys a job must and may carry."""

    name: str
    inputs: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    descriptions: Mapping[str, str] = field(default_factory=dict)


def profile_document(spec: ProfileSpec, iri: str) -> dict[str, Any]:
    def params(names: tuple[str, ...]) -> list[dict[str, str]]:
        return [
            {
                "@type": "JobParameter",
                "parameterName": n,
                "parameterType": "Locator" if n == INPUT_FILE else "string",
                **({"description": spec.descriptions[n]} if n in spec.descriptions else {}),
            }
            for n in names
        ]

    return {
        "@type": "JobProfile",
        "id": iri,
        "name": spec.name,
        "inputParameters": params(spec.inputs),
        "optionalInputParameters": params(spec.optional),
        "outputParameters": params(spec.outputs),
    }


# --- today's Job, in ---------------------------------------------------------------------


@dataclass(frozen=True)
class JobRequest:
    """What a client's `Job` document asks for, checked against its profile."""

    kind: str  # its @type: Job, AmeJob, QAJob …
    profile: str
    input: str | None
    parameters: dict[str, Any]
    execution_duration: int  # seconds (MCMA timeout is in minutes)
    due: datetime | None
    priority: str | None
    notify: str | None


def read_job(
    document: Mapping[str, Any], profiles: Mapping[str, ProfileSpec], now: datetime
) -> JobRequest:
    """Today's `Job` → what to create; InputError naming the first thing wrong."""
    kind = document.get("@type") or document.get("type")
    if not isinstance(kind, str) or not kind.endswith("Job"):
        raise InputError("an MCMA job has an @type ending in Job", hint='"@type": "AmeJob"')
    profile_id = document.get("jobProfileId")
    if not isinstance(profile_id, str) or not profile_id:
        raise InputError(
            "the job names no jobProfileId",
            hint='"jobProfileId": "<a URL of /mcma/job-profiles>"',
        )
    name = profile_id.rstrip("/").rsplit("/", 1)[-1]
    spec = profiles.get(name)
    if spec is None:
        raise InputError(
            f"no service takes jobs of profile {profile_id!r}",
            hint="profiles here: " + ", ".join(sorted(profiles)),
            details={"jobProfileId": profile_id},
        )
    job_input = document.get("jobInput")
    if not isinstance(job_input, dict):
        raise InputError("Job is missing jobInput", hint='"jobInput": {"inputFile": {"url": …}}')
    for required in spec.inputs:
        if required not in job_input:
            raise InputError(
                f"jobInput misses required input parameter '{required}'",
                hint=f"profile {name} needs: " + ", ".join(spec.inputs),
                details={"parameter": required, "jobProfileId": profile_id},
            )
    locator = _url(job_input.get(INPUT_FILE))
    if INPUT_FILE in job_input and locator is None:
        raise InputError(
            f"jobInput.{INPUT_FILE} is not a locator",
            hint='"inputFile": {"@type": "Locator", "url": "https://…"}',
        )
    parameters = {k: v for k, v in job_input.items() if k not in (INPUT_FILE, "@type")}
    return JobRequest(
        kind=kind,
        profile=name,
        input=locator,
        parameters=parameters,
        execution_duration=_timeout(document.get("timeout")),
        due=_deadline(document.get("deadline"), now),
        priority=priority(document.get("priority")),
        notify=_url(document.get("notificationEndpoint")),
    )


def priority(value: Any) -> str | None:
    """A FIMS 1.3 priority in any case (None: none given)."""
    if value is None:
        return None
    if not isinstance(value, str) or value.lower() not in PRIORITIES:
        raise InputError(f"priority {value!r} is not one of " + ", ".join(PRIORITIES))
    return value.lower()


def progress_value(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise InputError(f"progress {value!r} is not a number from 0 to 100")
    return round(value)


def service_error(value: Any) -> JobFailed:
    """A service's error (RFC 7807 problem details, or text) as the job's error."""
    if isinstance(value, dict):
        title = str(value.get("title") or "the service reported a failure")
        detail = value.get("detail")
        return JobFailed(f"{title}: {detail}" if detail else title)
    return JobFailed(str(value) if value else "the service reported a failure")


def _url(value: Any) -> str | None:
    """The URL of a Locator (`url`, `httpEndpoint`, `locator`), or of a plain string."""
    if isinstance(value, dict):
        for key in ("url", "httpEndpoint", "locator"):
            if isinstance(value.get(key), str):
                value = value[key]
                break
    if isinstance(value, str) and nt.checked_iri(value) is not None:
        return value
    return None


def _timeout(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise InputError(f"timeout {value!r} is not a number of minutes > 0")
    return max(1, round(value * 60))


def _deadline(value: Any, now: datetime) -> datetime | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"deadline {value!r} is not an ISO 8601 date and time") from None
    if when.tzinfo is None:
        raise InputError(f"deadline {value!r} has no time zone", hint="end it with Z")
    if when <= now:
        raise InputError(f"deadline {value!r} is in the past")
    return when


# --- today's Job and JobExecution, out ------------------------------------------------------


def job_document(
    job: Job,
    *,
    profile_iri: str,
    kept: Mapping[str, Any],
    progress: int | None,
    output: Mapping[str, Any],
) -> dict[str, Any]:
    """The job in today's model; `kept`: its client's document (every key it sent)."""
    out: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": kept.get("@type") or kept.get("type") or "Job",
        "id": job.iri,
    }
    out.update({k: v for k, v in kept.items() if k not in _TODAY_MANAGED})
    out["jobProfileId"] = profile_iri
    out["jobInput"] = kept.get("jobInput") or _input_of(job)
    out["status"] = mcma_status(job)
    out["progress"] = 100 if job.phase == "COMPLETED" else progress
    out["jobOutput"] = dict(output)
    if (error := problem(job)) is not None:
        out["error"] = error
    if job.execution_duration and "timeout" not in out:  # the client's own value, if it gave one
        out["timeout"] = round(job.execution_duration / 60, 3)
    if job.due is not None and "deadline" not in out:
        out["deadline"] = iso(job.due)
    if job.priority is not None and "priority" not in out:
        out["priority"] = job.priority
    out["dateCreated"] = iso(job.created)
    out["dateModified"] = iso(job.modified)
    return {k: v for k, v in out.items() if v is not None}


def execution_document(
    job: Job,
    execution: Execution,
    *,
    progress: int | None,
    output: Mapping[str, Any],
    assignment: str | None,
) -> dict[str, Any]:
    if execution.latest:
        state = mcma_status(job)
    elif execution.superseded:
        state = "Canceled"
    elif _timed_out(execution.phase, execution.error is not None):
        state = "Failed"
    else:
        state = MCMA_STATUS.get(execution.phase, "Failed")
    out: dict[str, Any] = {
        "@type": "JobExecution",
        "id": f"{job.iri}/executions/{execution.number}",
        "jobAssignmentId": assignment,
        "status": state,
        "progress": 100 if state == "Completed" else (progress if execution.latest else None),
        "jobOutput": dict(output) if execution.latest else {},
        "actualStartDate": iso(execution.started) if execution.started else None,
        "actualEndDate": iso(execution.ended) if execution.ended else None,
        "actualDuration": execution.duration_ms,
        "dateCreated": iso(execution.queued),
        "dateModified": iso(execution.ended or execution.started or execution.queued),
    }
    if execution.latest and (error := problem(job)) is not None:
        out["error"] = error
    elif execution.error is not None:
        out["error"] = {
            "type": f"{_PROBLEMS}{execution.error.get('type', 'JobFailed')}",
            "title": "Job failed",
            "detail": execution.error.get("message", ""),
            "instance": out["id"],
        }
    elif execution.superseded:
        out["error"] = {
            "type": f"{_PROBLEMS}ExecutionSuperseded",
            "title": "A later execution took over",
            "detail": execution.reason or "",
            "instance": out["id"],
        }
    return {k: v for k, v in out.items() if v is not None}


_TODAY_MANAGED = frozenset(
    {
        "@context", "@type", "type", "id", "status", "jobStatus", "progress", "jobOutput", "error",
        "dateCreated", "dateModified", "jobProfileId", "jobInput",
    }
)  # fmt: skip


def _input_of(job: Job) -> dict[str, Any]:
    """jobInput for a job made through another binding: its input file and parameters."""
    out: dict[str, Any] = {}
    if job.input is not None:
        out[INPUT_FILE] = {"@type": "Locator", "url": job.input}
    out.update(job.parameters)
    return out


def iso(value: datetime) -> str:
    text: str = value.isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


__all__ = [
    "FIMS_STATUS",
    "INPUT_FILE",
    "MCMA_STATUS",
    "JobRequest",
    "ProfileSpec",
    "execution_document",
    "fims_status",
    "iso",
    "job_document",
    "mcma_status",
    "phase_of",
    "priority",
    "problem",
    "phases_showing",
    "profile_document",
    "progress_value",
    "read_job",
    "service_error",
    "spelled",
]
