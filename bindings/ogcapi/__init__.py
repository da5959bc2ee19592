"""OGC API - Processes - Part 1: Core 1.0 (OGC 18-062r2), `/ogcapi`: the job profiles as
processes, their jobs as statusInfo, over the job core; and Part 4 (Job Management, draft):
jobs created without starting, started, their inputs and provenance (`management.py`)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from jobtrail.bindings.ogcapi import api, documents, management, openapi30, routes
from jobtrail.bindings.ogcapi.callbacks import Callbacks
from jobtrail.jobs.core import Job
from jobtrail.web.binding import Binding, ErrorStyle
from jobtrail.web.state import AppRequest
from starlette.routing import BaseRoute, Route


def all_routes() -> list[BaseRoute]:
    """Part 1's routes and Part 4's (draft)."""
    return [
        *routes.routes(),
        *management.routes(),
        Route("/ogcapi/api", openapi30.api, methods=["GET", "HEAD"]),
    ]


def job_views(request: AppRequest, job: Job) -> Sequence[tuple[str, str]]:
    """Every job, as an OGC API - Processes statusInfo."""
    base = request.state["engine"].config.base_url
    return [("OGC API – Processes", f"{base}ogcapi/jobs/{job.id}")]


BINDING = Binding(
    name="ogcapi",
    api=api.API,
    routes=all_routes,
    side_graphs=("ogcapi",),  # the subscriber: where the client asked to be told
    start=Callbacks,
    job_views=job_views,
    errors=(
        ErrorStyle(re.compile(r"^/ogcapi(/|$)"), (documents.EXCEPTION,), documents.error_document),
    ),
    links=(("/ogcapi", "OGC API – Processes 1.0: the profiles as processes (for OWSLib …)"),),
)
