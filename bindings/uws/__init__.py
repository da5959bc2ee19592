"""IVOA UWS 1.1 (REC-20161024): job lists, one per profile, over the job core."""

from __future__ import annotations

from collections.abc import Sequence

from jobtrail.bindings.uws import api, routes
from jobtrail.jobs.core import Job
from jobtrail.web.binding import Binding
from jobtrail.web.state import AppRequest


def job_views(request: AppRequest, job: Job) -> Sequence[tuple[str, str]]:
    """The job in each UWS list of its profile."""
    base = request.state["engine"].config.base_url
    lists = routes.lists_of(request).lists.values()
    return [
        (f"UWS ({j.name})", f"{base}uws/{j.name}/{job.id}")
        for j in lists
        if j.profile == job.profile
    ]


BINDING = Binding(
    name="uws",
    api=api.API,
    routes=routes.routes,
    start=routes.start,
    job_views=job_views,
    links=(("/uws", "IVOA UWS 1.1 job lists, one per profile (for pyvo and other UWS clients)"),),
)
