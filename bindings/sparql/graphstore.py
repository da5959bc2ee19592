"""The SPARQL 1.1 Graph Store HTTP Protocol at /store (as Oxigraph has it): one graph at a
time, named by `?graph=IRI` or `?default` (the store's own default graph).

- `GET` / `HEAD`: the graph in an RDF format (Turtle by default; N-Triples, RDF/XML,
  JSON-LD …); 404 for a graph that holds nothing. Who reads what follows the endpoint
  (`endpoint.dataset`): curators and the administrator read any graph of the whole store;
  everyone else reads the public copy (`jobs/public.py`), where the graphs of owners' jobs
  are not, so they answer 404 there as at /sparql they answer nothing. The graph is read
  by a query process over a snapshot, with the limits of a client's query.
- `PUT` (replace), `POST` (add to) and `DELETE` (drop): the administrator only (the admin
  token, as for updates). The body is a graph in Turtle, N-Triples, RDF/XML, JSON-LD or N3,
  its relative IRIs resolved against the graph's IRI. `PUT` and `POST` answer 201 when
  the graph did not exist (held nothing), 204 else; `DELETE` 204, or 404. Each is one
  transaction, and afterwards the kept renditions and the owners the visibility policy
  knows are forgotten, as after an update.
"""

from __future__ import annotations

import threading
from functools import partial

import pyoxigraph as ox
from jobtrail.base.errors import InputError, NotFound, UnsupportedFormat
from jobtrail.bindings.sparql import endpoint
from jobtrail.bindings.sparql.isolation import Job
from jobtrail.bindings.sparql.results import term_json
from jobtrail.bindings.sparql.texts import endpoint_iri
from jobtrail.bindings.sparql.updates import changed
from jobtrail.store import Store
from jobtrail.web import conneg, render, resources
from jobtrail.web.requests import authorise, read_body
from jobtrail.web.state import AppRequest
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

HINT = "name the graph: /store?graph=<absolute IRI>, or /store?default for the default graph"
_HAS = "ASK { GRAPH ?g { ?s ?p ?o } }"
_NAMED = "CONSTRUCT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }"
_DEFAULT = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }"


async def graph_store(request: AppRequest) -> Response:
    graph = target(request)
    if request.method in ("GET", "HEAD"):
        return await read(request, graph)
    authorise(request)
    if request.method == "DELETE":
        return await drop(request, graph)
    return await write(request, graph, replace=request.method == "PUT")


def target(request: AppRequest) -> str | None:
    """The graph a request names: its IRI, or None for the default graph; 400 otherwise."""
    params = request.query_params
    graphs = params.getlist("graph")
    if "default" in params and graphs:
        raise InputError("give either ?graph= or ?default, not both", hint=HINT)
    if "default" in params:
        return None
    if len(graphs) != 1:
        what = "no graph" if not graphs else f"{len(graphs)} graphs"
        raise InputError(f"{what} named; the Graph Store Protocol reads one at a time", hint=HINT)
    try:
        ox.NamedNode(graphs[0])
    except ValueError as e:
        raise InputError(f"graph={graphs[0]!r} is not an absolute IRI ({e})", hint=HINT) from e
    if ":" not in graphs[0]:
        raise InputError(f"graph={graphs[0]!r} is not an absolute IRI", hint=HINT)
    return graphs[0]


def _substitutions(graph: str) -> dict[str, ox.NamedNode | ox.Literal | ox.BlankNode]:
    return {"g": ox.NamedNode(graph)}


def holds(store: Store, graph: str) -> bool:
    """Whether the named graph holds anything."""
    return bool(store.query(_HAS, substitutions=_substitutions(graph)))


async def read(request: AppRequest, graph: str | None) -> Response:
    engine = request.state["engine"]
    config, arrived = engine.config, engine.log.committed.position
    op = endpoint.Operation(list(request.query_params.multi_items()))
    fmt = endpoint.choose(op, request, conneg.RDF_FORMATS, conneg.TURTLE, {"json": "jsonld"})
    store = await endpoint.dataset(request, "reading a graph")
    if graph is not None and not await run_in_threadpool(holds, store, graph):
        raise NotFound(
            f"no graph <{graph}> here, or it holds nothing you may read",
            hint="list the graphs with SELECT DISTINCT ?g { GRAPH ?g {} } at /sparql",
        )
    query = _DEFAULT if graph is None else _NAMED
    body: bytes | None = None
    if endpoint.runtime(request).isolates(store):
        job = Job(
            "store",
            query,
            union=False,
            substitutions={} if graph is None else {"g": term_json(ox.NamedNode(graph))},
            results=None,
            graph=fmt.key,
            base=config.base_url,
        )
        answer = await endpoint.isolated(request, store, job, arrived)
        body = answer.body if answer is not None else None
    if body is None:
        work = partial(_here, store, query, graph, fmt, config.base_url, config.query_timeout)
        body = await endpoint.within(request, config.query_timeout, work)
    response = resources.respond(request, body, fmt, path="/store", formats=())
    del response.headers["link"]
    response.headers["Vary"] = "Accept"
    return response


def _here(
    store: Store,
    query: str,
    graph: str | None,
    fmt: conneg.Format,
    base: str,
    timeout: float,
    deadline: float,
    cancel: threading.Event,
) -> bytes:
    """The graph read in the server (a store in memory or remote), in a worker thread."""
    result = store.query(
        query,
        substitutions=None if graph is None else _substitutions(graph),
        default_graph_union=False,
    )
    assert isinstance(result, ox.QueryTriples)
    triples = endpoint.take(result, deadline, cancel, timeout)
    return render.rdf(triples, fmt, base=base)


def parsed(body: bytes, media_type: str, base: str) -> list[ox.Triple]:
    """The triples of a request's body; 415 for a format that is not a graph's, 400 for
    a body that does not parse."""
    kind = media_type.partition(";")[0].strip().lower()
    fmt = ox.RdfFormat.from_media_type(kind) if kind else None
    if fmt is None or fmt.supports_datasets:
        raise UnsupportedFormat(
            f"a graph cannot be sent as {kind or 'a body without a Content-Type'}",
            hint="send text/turtle, application/n-triples, application/rdf+xml, "
            "application/ld+json or text/n3",
        )
    try:
        return [q.triple for q in ox.parse(body, format=fmt, base_iri=base)]
    except (SyntaxError, ValueError) as e:
        raise InputError(f"the body is not {fmt.name}: {e}") from e


async def write(request: AppRequest, graph: str | None, *, replace: bool) -> Response:
    engine = request.state["engine"]
    base = graph or endpoint_iri(engine.config.base_url) + "/store"
    triples = parsed(await read_body(request), request.headers.get("content-type", ""), base)
    data = (ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b"").decode("utf-8")
    if graph is None:
        text = ("DROP SILENT DEFAULT ;\n" if replace else "") + f"INSERT DATA {{\n{data}}}"
    else:
        text = (f"DROP SILENT GRAPH <{graph}> ;\n" if replace else "") + (
            f"INSERT DATA {{ GRAPH <{graph}> {{\n{data}}} }}"
        )
    store = engine.store
    new = graph is not None and not await run_in_threadpool(holds, store, graph)
    await run_in_threadpool(store.update, text)
    changed(request)
    return Response(status_code=201 if new and triples else 204)


async def drop(request: AppRequest, graph: str | None) -> Response:
    store = request.state["engine"].store
    if graph is not None and not await run_in_threadpool(holds, store, graph):
        raise NotFound(f"no graph <{graph}> here to delete, or it holds nothing")
    text = "DROP DEFAULT" if graph is None else f"DROP SILENT GRAPH <{graph}>"
    await run_in_threadpool(store.update, text)
    changed(request)
    return Response(status_code=204)
