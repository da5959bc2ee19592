"""OpenLineage in: `POST /api/v1/lineage` (Marquez's path, so an OpenLineage client's
HttpTransport pointed at this server works unchanged) and enough of Marquez's read API
(namespaces, jobs, runs, datasets, the lineage graph) for its users' scripts (routes.py)."""

from __future__ import annotations

from jobtrail.bindings.openlineage import api, routes
from jobtrail.web.binding import Binding

BINDING = Binding(
    name="openlineage",
    api=api.API,
    routes=routes.routes,
    links=(("/api/v1/namespaces", "OpenLineage: events in, Marquez's read API out"),),
)
