"""SPARQL 1.1: the protocol endpoint (and its service description), updates for the
administrator, the Graph Store Protocol, and named queries."""

from __future__ import annotations

from collections.abc import Sequence

from jobtrail.bindings.sparql import api, editor, endpoint, graphstore, queries
from jobtrail.web.binding import Binding
from starlette.routing import BaseRoute, Route


def routes() -> Sequence[BaseRoute]:
    return [
        Route("/sparql", endpoint.sparql, methods=["GET", "HEAD", "POST", "OPTIONS"]),
        Route("/sparql/form", editor.form_route, methods=["GET", "HEAD"]),
        Route("/update", endpoint.update, methods=["POST"]),
        Route("/store", graphstore.graph_store, methods=["GET", "HEAD", "PUT", "POST", "DELETE"]),
        *queries.routes(),
    ]


BINDING = Binding(
    name="sparql",
    api=api.API,
    routes=routes,
    start=endpoint.query_pool,
    static="jobtrail.bindings.sparql",
    links=(
        ("/sparql", "SPARQL endpoint and query page"),
        ("/queries", "named queries"),
    ),
)
