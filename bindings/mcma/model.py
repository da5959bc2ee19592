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
from jobtrail.jobs.core import FINAL, PRIORITIES, Job
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
_MCMA_PROBLEMS = "uri://mcma.ebu.ch/rfc7807/job-processor/"

DEFAULT_TIMEOUT = 60 * 60
"""Seconds a today's-model job may run when its client gives no timeout (MCMA's 60 minutes)."""


class JobStartFailure(JobFailed):
    """Today's job could not start: its profile or input does not fit (MCMA job-start-failure)."""

    title = "Failed to start job"


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


def problem(job: Job, *, today: bool = False) -> dict[str, Any] | None:
    """The job's error as RFC 7807 problem details (None when it has none); `today`: with
    MCMA's type URIs where it has one (start failure, timeout, deadline)."""
    if job.error is None:
        return None
    kind = getattr(errors, job.error.type, errors.JobFailed)
    title = str(getattr(kind, "title", "Job failed"))
    out = {
        "type": (today and mcma_problem_type(job.error.type, job.error.message))
        or f"{_PROBLEMS}{job.error.type}",
        "title": "Failed to start job" if job.error.type == "JobStartFailure" else title,
        "detail": job.error.message,
        "instance": job.iri,
    }
    if job.error.hint:
        out["hint"] = job.error.hint
    return out


def mcma_problem_type(kind: str, message: str) -> str | None:
    """MCMA's problem type URI for an error of the job core, if it has one."""
    if kind == "JobStartFailure":
        return f"{_MCMA_PROBLEMS}job-start-failure"
    if kind == "TimeLimitExceeded":  # the core's two limits: its deadline, its duration
        passed = "deadline" if "deadline" in message else "timeout"
        return f"{_MCMA_PROBLEMS}job-{passed}-passed"
    return None


# --- job profiles ----------------------------------------------------------------------


@dataclass(frozen=True)
class ProfileSpec:
    """A job profile as MCMA describes it: which jobInput keys a job must and may carry."""

    name: str
    inputs: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    descriptions: Mapping[str, str] = field(default_factory=dict)
    types: Mapping[str, str] = field(default_factory=dict)  # parameterType by name
    home: str | None = None  # a kind of job another binding makes: where (a path)


def profile_document(spec: ProfileSpec, iri: str) -> dict[str, Any]:
    def params(names: tuple[str, ...]) -> list[dict[str, str]]:
        return [
            {
                "@type": "JobParameter",
                "parameterName": n,
                "parameterType": spec.types.get(n, "string"),
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
        **({"note": f"jobs of this profile are created at {spec.home}"} if spec.home else {}),
    }


# --- today's Job, in ---------------------------------------------------------------------


@dataclass(frozen=True)
class JobRequest:
    """What a client's `Job` document asks for, checked against its profile."""

    kind: str  # its @type: Job, AmeJob, QAJob …
    profile: str  # a name: one of the profiles, unless `failure` says it is not
    input: str | None
    parameters: dict[str, Any]
    execution_duration: int  # seconds (MCMA timeout is in minutes)
    due: datetime | None
    priority: str | None
    notify: str | None
    failure: JobStartFailure | None = None  # why it cannot start: the job ends Failed


def read_job(
    document: Mapping[str, Any], profiles: Mapping[str, ProfileSpec], now: datetime
) -> JobRequest:
    """Today's `Job` → what to create; InputError (400) naming the first thing malformed.
    What does not fit its profile is the request's `failure`: the job is made, and fails."""
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
    job_input = document.get("jobInput")
    failure = _start_failure(profile_id, name, profiles, job_input)
    url = _url(job_input.get(INPUT_FILE)) if isinstance(job_input, dict) else None
    parameters = {}
    if isinstance(job_input, dict):
        parameters = {k: v for k, v in job_input.items() if k not in (INPUT_FILE, "@type")}
    return JobRequest(
        kind=kind,
        profile=name,
        input=url,
        parameters=parameters,
        execution_duration=_timeout(document.get("timeout")),  # 0: none given
        due=_deadline(document.get("deadline"), now),
        priority=priority(document.get("priority")),
        notify=_url(document.get("notificationEndpoint")),
        failure=failure,
    )


def _start_failure(
    profile_id: str, name: str, profiles: Mapping[str, ProfileSpec], job_input: Any
) -> JobStartFailure | None:
    """Why a job cannot start (MCMA checks this when it starts the job, not when it takes
    it): an unknown profile, a profile whose jobs are made elsewhere, a missing input."""
    spec = profiles.get(name)
    if spec is None:
        return JobStartFailure(
            f"no service takes jobs of profile {profile_id!r}",
            hint="profiles here: " + ", ".join(sorted(profiles)),
        )
    if spec.home is not None:
        return JobStartFailure(
            f"jobs of profile {name!r} are not run through MCMA",
            hint=f"create them at {spec.home}",
        )
    if not isinstance(job_input, dict):
        return JobStartFailure("Job is missing jobInput", hint='"jobInput": {"inputFile": …}')
    for required in spec.inputs:
        if required not in job_input:
            return JobStartFailure(
                f"jobInput misses required input parameter '{required}'",
                hint=f"profile {name} needs: " + ", ".join(spec.inputs),
            )
    if INPUT_FILE in job_input and _url(job_input[INPUT_FILE]) is None:
        return JobStartFailure(
            f"jobInput.{INPUT_FILE} is not a locator",
            hint='"inputFile": {"@type": "Locator", "url": "https://…"}',
        )
    return None


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
    iri: str,
    profile_iri: str,
    kept: Mapping[str, Any],
    progress: int | None,
    output: Mapping[str, Any],
) -> dict[str, Any]:
    """The job in today's model; `kept`: its client's document (every key it sent)."""
    out: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": kept.get("@type") or kept.get("type") or "Job",
        "id": iri,
        "canonicalJob": job.iri,  # the same job in jobtrail's own model
    }
    out.update({k: v for k, v in kept.items() if k not in _TODAY_MANAGED})
    out["jobProfileId"] = profile_iri
    out["jobInput"] = bag(kept.get("jobInput") or _input_of(job))
    out["status"] = mcma_status(job)
    out["progress"] = 100 if job.phase == "COMPLETED" else progress
    out["jobOutput"] = bag(output)
    if (error := problem(job, today=True)) is not None:
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


def bag(values: Mapping[str, Any]) -> dict[str, Any]:
    """A JobParameterBag: the parameters, typed as MCMA types them."""
    return {"@type": "JobParameterBag", **{k: v for k, v in values.items() if k != "@type"}}


def locator(url: str) -> dict[str, str]:
    return {"@type": "Locator", "url": url}


def execution_document(
    job: Job,
    execution: Execution,
    *,
    iri: str,
    progress: int | None,
    output: Mapping[str, Any],
    assignment: str | None,
) -> dict[str, Any]:
    cut_short = execution.superseded and execution.phase not in FINAL  # by a restart
    if execution.latest:
        state = mcma_status(job)
    elif cut_short:
        state = "Canceled"
    elif _timed_out(execution.phase, execution.error is not None):
        state = "Failed"
    else:
        state = MCMA_STATUS.get(execution.phase, "Failed")
    out: dict[str, Any] = {
        "@type": "JobExecution",
        "id": f"{iri}/executions/{execution.number}",
        "jobAssignmentId": assignment,
        "status": state,
        "progress": 100 if state == "Completed" else (progress if execution.latest else None),
        "jobOutput": bag(output if execution.latest else {}),
        "actualStartDate": iso(execution.started) if execution.started else None,
        "actualEndDate": iso(execution.ended) if execution.ended else None,
        "actualDuration": execution.duration_ms if execution.ended else None,
        "dateCreated": iso(execution.queued),
        "dateModified": iso(execution.ended or execution.started or execution.queued),
    }
    if execution.latest and (error := problem(job, today=True)) is not None:
        out["error"] = error
    elif execution.error is not None:
        kind, message = execution.error.get("type", "JobFailed"), execution.error.get("message", "")
        out["error"] = {
            "type": mcma_problem_type(kind, message) or f"{_PROBLEMS}{kind}",
            "title": "Job failed",
            "detail": execution.error.get("message", ""),
            "instance": out["id"],
        }
    elif cut_short:
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
        out[INPUT_FILE] = locator(job.input)
    out.update(job.parameters)
    return out


def iso(value: datetime) -> str:
    text: str = value.isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


__all__ = [
    "FIMS_STATUS",
    "INPUT_FILE",
    "MCMA_STATUS",
    "DEFAULT_TIMEOUT",
    "JobRequest",
    "JobStartFailure",
    "bag",
    "locator",
    "mcma_problem_type",
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
