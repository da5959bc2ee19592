"""MCMA: the FIMS-era job processor flow (/mcma/Job, StartJob, StopJob) and today's model
(/mcma/jobs, job profiles, executions, cancel and restart), over the job core."""

from __future__ import annotations

import re
from collections.abc import Sequence

from jobtrail.bindings.mcma import api, fims, routes
from jobtrail.bindings.mcma.services import parse_services
from jobtrail.bindings.mcma.today import Today
from jobtrail.jobs.core import Job
from jobtrail.jobs.outbox import OutboxConfig
from jobtrail.web import conneg, errors
from jobtrail.web.binding import Binding, ErrorStyle
from jobtrail.web.state import AppRequest, Engine
from starlette.routing import BaseRoute


def _routes() -> Sequence[BaseRoute]:
    return [*fims.routes(), *routes.routes()]


def start(engine: Engine) -> Today:
    config = engine.config
    return Today(
        engine.jobs,
        parse_services(config.mcma_services),
        engine.profiles,
        OutboxConfig(
            retry_base=config.mcma_retry_base,
            retry_max=config.mcma_retry_max,
            give_up_after=config.mcma_give_up_after,
            allow_private=config.fetch_allow_private,  # for endpoints clients give
        ),
        hops=engine.hops,
        stop_grace=config.mcma_stop_grace,
        kinds=engine.kinds,  # other bindings' kinds of job: their profiles are listed
    )


def job_views(request: AppRequest, job: Job) -> Sequence[tuple[str, str]]:
    """Every job reads in today's MCMA model, with its executions."""
    at = f"{request.state['engine'].config.base_url}mcma/jobs/{job.id}"
    return [("MCMA", at), ("MCMA executions", f"{at}/executions")]


BINDING = Binding(
    name="mcma",
    api=api.API,
    routes=_routes,
    side_graphs=("mcma",),  # the client's document, callback endpoints, service assigned
    start=start,
    errors=(
        ErrorStyle(  # JSON APIs: their clients get problem+json unless they ask otherwise
            re.compile(r"^/mcma/|^/jobs/[^/]+/(cancel|restart|executions)(/|$)"),
            (errors.PROBLEM, conneg.HTML, errors.TEXT),
        ),
    ),
    job_methods={"GET": fims.on_job, "HEAD": fims.on_job, "PUT": fims.on_job},
    job_views=job_views,
)
