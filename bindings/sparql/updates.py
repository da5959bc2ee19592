"""SPARQL 1.1 Update for the administrator, at /sparql and /update, and what every client's
text passes before it runs: the check of `SERVICE` and `LOAD` (`federation.py`).

An update runs in the server, on the store itself (a write cannot run over a snapshot),
as one transaction, with the endpoint's URL as its base IRI and the protocol's
`using-graph-uri` / `using-named-graph-uri` written into it (`texts.py`). After it, the
kept renditions and the visibility policy's knowledge of owners are forgotten: an update
may rewrite anything.
"""

from __future__ import annotations

from functools import partial

from jobtrail.base.errors import QueryError
from jobtrail.bindings.sparql import federation
from jobtrail.bindings.sparql.texts import base_prefix, using, with_caret
from jobtrail.web.requests import authorise
from jobtrail.web.state import AppRequest
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response


async def federated(request: AppRequest, text: str) -> None:
    """Refuse a SERVICE or LOAD that reaches an endpoint not allowed (`federation.py`)."""
    lowered = text.lower()
    if "service" in lowered or "load" in lowered:
        config = request.state["engine"].config
        check = partial(federation.check, text, config.sparql_federation)
        await run_in_threadpool(check, config.fetch_allow_private)


async def run_update(
    request: AppRequest, text: str, graphs: list[str], named: list[str]
) -> Response:
    """Run the admin's update `text` with the protocol's dataset (`using-graph-uri`:
    `graphs`, `using-named-graph-uri`: `named`); 204."""
    authorise(request)
    await federated(request, text)
    rewritten = using(text, graphs, named)
    prefix = base_prefix(request.state["engine"].config.base_url)
    try:
        await run_in_threadpool(request.state["engine"].store.update, prefix + rewritten)
    except QueryError as e:
        raise with_caret(e, rewritten, len(prefix)) from e
    changed(request)
    return Response(status_code=204)


def changed(request: AppRequest) -> None:
    """After a write by the admin: forget the kept renditions, and who owns what."""
    request.state["renditions"].clear()
    request.state["engine"].visibility.forget()
