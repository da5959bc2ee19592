"""Linked data: the home page; every stored resource dereferences; the message feed; traces;
the indexes (producers, references, UUIDs) and search; vocabulary."""

from __future__ import annotations

from collections.abc import Sequence

from jobtrail.bindings.linkeddata import (
    api,
    dereference,
    documents,
    feeds,
    home,
    indexes,
    producers,
    trace,
)
from jobtrail.jobs.core import Job
from jobtrail.web.binding import Binding
from jobtrail.web.state import AppRequest
from starlette.routing import BaseRoute, Route


def routes() -> Sequence[BaseRoute]:
    return [
        Route("/", home.home, methods=["GET", "HEAD"]),
        Route("/index.{ext}", home.home, methods=["GET", "HEAD"]),
        *indexes.routes(),
        *producers.routes(),
        Route("/contexts/{name}", dereference.context, methods=["GET", "HEAD"]),
        *trace.routes(),
        *documents.routes(),
        *feeds.routes(),
    ]


def job_views(request: AppRequest, job: Job) -> Sequence[tuple[str, str]]:
    """The trace of the job's id: its change records and every hop of every binding."""
    return [("trace", f"{request.state['engine'].config.base_url}trace/{job.id}")]


BINDING = Binding(
    name="linkeddata",
    api=api.API,
    routes=routes,
    job_views=job_views,
    fallback=Route("/{path:path}", dereference.dereference, methods=["GET", "HEAD"]),
    links=(
        ("/messages", "every stored message, newest first (Atom; RDF and HTML by negotiation)"),
        ("/trace", "trace the chain of hops of a package (any UUID, reference or message)"),
        ("/producers", "every producer, with its messages (HTML, JSON, RDF)"),
        ("/references", "every consignment or batch reference, linking to its trace"),
        ("/uuids", "every UUID the messages carry, linking to its trace"),
        ("/search?q=TDR", "search references, UUIDs and producers"),
        ("/vocab", "the jobtrail vocabulary"),
        ("/shapes", "the SHACL shapes"),
    ),
)
