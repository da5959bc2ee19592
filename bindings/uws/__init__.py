"""IVOA UWS 1.1 (REC-20161024): job lists, one per profile, over the job core."""

from __future__ import annotations

from jobtrail.bindings.uws import api, routes
from jobtrail.web.binding import Binding

BINDING = Binding(
    name="uws",
    api=api.API,
    routes=routes.routes,
    start=routes.start,
    links=(("/uws", "IVOA UWS 1.1 job lists, one per profile (for pyvo and other UWS clients)"),),
)
