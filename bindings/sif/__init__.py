"""SIF 3.2.1 functional services: jobs with phases, states and rights, over the job core."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from jobtrail.base.errors import JobtrailError
from jobtrail.bindings.sif import api, protocol, routes
from jobtrail.bindings.sif.documents import error_element, to_bytes
from jobtrail.bindings.sif.environments import Environments
from jobtrail.bindings.sif.exchange import sif_of
from jobtrail.bindings.sif.model import Sif, load_services
from jobtrail.jobs.core import Job
from jobtrail.web import conneg
from jobtrail.web.binding import Binding, ErrorStyle
from jobtrail.web.state import AppRequest, Config, Engine, JobKind
from starlette.requests import Request

ERROR = conneg.Format("sif", "application/xml", None, ("text/xml",))


def error_document(request: Request[Any], error: JobtrailError) -> tuple[bytes, dict[str, str]]:
    """A SIF `error` (code, scope, message, description), with the SIF response headers."""
    root = error_element(None, error, f"{request.method} {request.url.path}")
    return to_bytes(root), protocol.headers(request, "ERROR")


def kinds(config: Config) -> list[JobKind]:
    return [
        JobKind(s.name, f"sif/jobs/{s.collection}")
        for s in load_services(config.sif_services).values()
    ]


def start(engine: Engine) -> Sif:
    environments = Environments(engine.jobs.store, engine.config.base_url, engine.accounts)
    services = load_services(engine.config.sif_services)
    return Sif(engine.jobs, services, engine.hops, environments)


def job_views(request: AppRequest, job: Job) -> Sequence[tuple[str, str]]:
    """A job of one of the SIF services, in its collection (SIF headers needed to read it)."""
    service = sif_of(request).services.get(job.profile)
    if service is None:
        return []
    base = request.state["engine"].config.base_url
    return [("SIF", f"{base}sif/jobs/{service.collection}/{job.id}")]


BINDING = Binding(
    name="sif",
    api=api.API,
    routes=routes.routes,
    side_graphs=("sif",),  # the phases, their states and rights
    start=start,
    kinds=kinds,
    job_views=job_views,
    errors=(ErrorStyle(re.compile(r"^/sif/"), (ERROR,), error_document),),
    links=(("/sif/jobs", "SIF 3.2.1 functional services: jobs with phases, states and rights"),),
)
