"""The linked-data job service at /jobs: jobs posted as document URLs, results as OAI-ORE."""

from __future__ import annotations

from jobtrail.bindings.jobservice import api, routes
from jobtrail.web.binding import Binding

BINDING = Binding(
    name="jobservice",
    api=api.API,
    routes=routes.routes,
    links=(
        ("/jobs", "jobs: POST a document's URL to start one; your jobs (Atom, RDF, HTML)"),
        ("/profiles", "what a job can do here (and what cannot run, and why)"),
    ),
)
