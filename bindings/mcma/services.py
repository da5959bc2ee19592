"""The services MCMA jobs go to, and the registry that lists them in MCMA's shape.

`mcma_services` (a setting) names the external services: each takes the jobs of
some profiles. A FIMS-era job is sent a `ProcessJob` at the service's `url`; a job
of today's model a `JobAssignment` at its `jobAssignments` resource (or at `url`
when it names none). The built-in profiles are the `jobtrail` service: the
worker pool. Kinds of job other bindings create (SIF's services, `Engine.kinds`)
are listed too, so their profiles resolve here, but their jobs are created where
the kind lives.

`GET /mcma/services` answers `{"results": [Service …]}` as ebu/mcma-libraries'
`ResourceManager` reads a service registry: each `Service` has its `resources`
(`ResourceEndpoint`s: a resource type and the URL that serves it) and the ids of
the job profiles it takes, so a client configured with only `{base}mcma` finds
the job processor (`Job` at `/mcma/jobs`) and the profiles.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jobtrail.base import nt
from jobtrail.base.errors import InputError
from jobtrail.bindings.mcma.model import INPUT_FILE, ProfileSpec
from jobtrail.jobs.profiles import Profile
from jobtrail.web.binding import JobKind

LOCAL = "jobtrail"
"""The name of the built-in service: the worker pool, running the built-in profiles."""

JOB_TYPES = (
    "Job", "AIJob", "AmeJob", "CaptureJob", "DistributionJob", "QAJob", "StorageJob",
    "TransformJob", "WorkflowJob",
)  # fmt: skip
"""MCMA's job types: a client creates each at the resource of its @type (all /mcma/jobs)."""

PROCESSOR = "jobtrail job processor"
"""The name of the service that takes today's `Job`s: this server's /mcma/jobs."""


@dataclass(frozen=True)
class Service:
    name: str
    url: str  # where ProcessJob is POSTed (and JobAssignment, when jobAssignments is unset)
    profiles: tuple[str, ...]
    token: str | None = None  # the bearer token its PUTs, StopJobs and notifications carry
    inputs: tuple[str, ...] = ()  # jobInput keys its jobs must have
    optional: tuple[str, ...] = ()  # and those they may have
    job_assignments: str | None = None  # its JobAssignment resource (today's model)
    types: Mapping[str, str] = field(default_factory=dict)  # parameterType by name
    job_type: str | None = None  # the @type of job it takes (MCMA's Service.jobType)

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "url": self.url, "profiles": list(self.profiles)}

    @property
    def assignments_url(self) -> str:
        return self.job_assignments or self.url


def parse_services(setting: str | None) -> dict[str, Service]:
    """`mcma_services`: a JSON list of {"name", "url", "profiles", "token"?, "jobAssignments"?,
    "jobType"?, "inputParameters"?, "optionalInputParameters"?}; a parameter is a name or
    a `JobParameter` ({"parameterName", "parameterType"?})."""
    if not setting:
        return {}
    try:
        items = json.loads(setting)
        if not isinstance(items, list):
            raise TypeError("it is not a JSON list")
        services = [_service(i) for i in items]
    except (ValueError, TypeError, KeyError) as e:
        raise InputError(
            f"mcma_services is not a list of services: {e}",
            hint='[{"name": "ame", "url": "http://h/ProcessJob", "profiles": ["Fixity"]}]',
        ) from None
    for s in services:
        urls = [s.url, *([s.job_assignments] if s.job_assignments else [])]
        if any(nt.checked_iri(u) is None for u in urls) or s.name in (LOCAL, PROCESSOR):
            raise InputError(
                f"service {s.name!r}: needs absolute URLs and a name not {LOCAL!r}",
                hint="url and jobAssignments are absolute http(s) URLs",
            )
    return {s.name: s for s in services}


def _service(item: Mapping[str, Any]) -> Service:
    name = str(item["name"])
    types: dict[str, str] = {}
    inputs = _parameters(name, "inputParameters", item.get("inputParameters", ()), types)
    optional = _parameters(
        name, "optionalInputParameters", item.get("optionalInputParameters", ()), types
    )
    return Service(
        name,
        str(item["url"]),
        tuple(str(p) for p in item["profiles"]),
        str(item["token"]) if item.get("token") else None,
        inputs,
        optional,
        str(item["jobAssignments"]) if item.get("jobAssignments") else None,
        types,
        str(item["jobType"]) if item.get("jobType") else None,
    )


def _parameters(service: str, key: str, items: Any, types: dict[str, str]) -> tuple[str, ...]:
    """Parameter names, from names or JobParameter objects; their types into `types`."""
    if not isinstance(items, list | tuple):
        raise TypeError(f"service {service!r}: {key} is not a list")
    names = []
    for item in items:
        if isinstance(item, str) and item:
            names.append(item)
        elif isinstance(item, dict) and isinstance(item.get("parameterName"), str):
            names.append(item["parameterName"])
            if isinstance(item.get("parameterType"), str):
                types[item["parameterName"]] = item["parameterType"]
        else:
            raise TypeError(
                f"service {service!r}: {key} has {json.dumps(item)}, neither a name nor a "
                'JobParameter {"parameterName": …, "parameterType": …}'
            )
    return tuple(names)


def specs(
    local: Mapping[str, Profile], services: Iterable[Service], kinds: Sequence[JobKind] = ()
) -> dict[str, ProfileSpec]:
    """What each profile's jobs must carry: built-in ones from their parameters, a
    service's from its settings; another binding's kinds with where they are made."""
    found = {k.name: ProfileSpec(k.name, home=k.home) for k in kinds}
    for name, profile in local.items():
        required = tuple(p.name for p in profile.parameters if p.required)
        found[name] = ProfileSpec(
            name,
            inputs=(INPUT_FILE, *required),
            optional=tuple(p.name for p in profile.parameters if not p.required),
            outputs=("results",),
            descriptions={p.name: p.description for p in profile.parameters},
            types={INPUT_FILE: "Locator", "results": "Locator"},
        )
    for service in services:
        for name in service.profiles:
            found[name] = ProfileSpec(
                name, inputs=service.inputs, optional=service.optional, types=service.types
            )
    return found


def registry(
    base: str,
    services: Iterable[Service],
    local: Iterable[str],
    kinds: Sequence[JobKind],
    profile_iri: Any,
) -> list[dict[str, Any]]:
    """The registry's `Service`s: the job processor, the worker pool, each external
    service and each kind of job another binding makes (`profile_iri(name)`: a profile's id)."""

    def endpoint(kind: str, url: str) -> dict[str, str]:
        return {"@type": "ResourceEndpoint", "resourceType": kind, "httpEndpoint": url}

    def entry(
        name: str, resources: list[dict[str, str]], profiles: Iterable[str]
    ) -> dict[str, Any]:
        return {
            "@type": "Service",
            "id": f"{base}mcma/services/{name.replace(' ', '-')}",
            "name": name,
            "resources": resources,
            "jobProfileIds": [profile_iri(p) for p in profiles],
        }

    processor = entry(
        PROCESSOR,
        [
            *(endpoint(kind, f"{base}mcma/jobs") for kind in JOB_TYPES),
            endpoint("JobProfile", f"{base}mcma/job-profiles"),
            endpoint("Service", f"{base}mcma/services"),
        ],
        (),
    )
    del processor["jobProfileIds"]  # it takes every profile: the jobs go on from there
    listed = [processor, {**entry(LOCAL, [], sorted(local)), "note": "the worker pool"}]
    for s in services:
        item = entry(s.name, [endpoint("JobAssignment", s.assignments_url)], s.profiles)
        listed.append({**item, **({"jobType": s.job_type} if s.job_type else {}), "url": s.url})
    for k in kinds:
        item = entry(k.name, [endpoint("JobKind", f"{base}{k.home}")], (k.name,))
        listed.append({**item, "note": f"its jobs are created at {base}{k.home}"})
    return listed
