"""The SPARQL 1.1 Protocol: queries at /sparql, updates at /sparql and /update.

Queries come by GET (`?query=`), by a POSTed form (`query=`) or as a POSTed
`application/sparql-query` body; `default-graph-uri` and `named-graph-uri`
(repeatable) choose the dataset, and with neither the default graph is the
union of all graphs. With only `named-graph-uri` the default graph is the
store's own (empty) default graph, as the protocol's dataset rules say.
SELECT/ASK answer in SPARQL JSON (default), XML, CSV or TSV, CONSTRUCT/DESCRIBE
in every RDF format (Turtle by default), and both as HTML for browsers; a
`format` parameter (`json`, `csv`, `turtle`, a media type …) overrides Accept.

Time limit (setting query_timeout). pyoxigraph 0.5 has no timeout or
cancellation for a query, so a query runs in a worker thread of a small pool
of its own and its results are taken one by one, checking the deadline between
rows; dropping the iterator stops the engine. Until the first row (ORDER BY,
GROUP BY, aggregates), the engine cannot be interrupted: the request is still
answered with 503 at the deadline, but that thread finishes the work in the
background and holds one of the pool's threads meanwhile. The engine releases
the GIL, so the event loop keeps serving. Results are built in memory before
they are sent, so a timeout is always a clean 503, never a truncated 200.

Updates need the admin token (setting admin_token) as `Authorization: Bearer`
or as the password of HTTP Basic; with no token configured they are refused.
CORS (`Access-Control-Allow-Origin: *`) is given to queries only.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from html import escape
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode

import pyoxigraph as ox
from jobtrail.base.errors import (
    JobtrailError,
    NotAcceptable,
    QueryError,
    QueryTimeout,
    StoreFull,
    StoreNotReady,
    UnsupportedFormat,
)
from jobtrail.bindings.sparql import description, editor, fastpath
from jobtrail.bindings.sparql.answers import Answers
from jobtrail.bindings.sparql.isolation import Answer, Job, QueryProcesses
from jobtrail.bindings.sparql.results import results_body
from jobtrail.bindings.sparql.texts import base_prefix, endpoint_iri, with_caret
from jobtrail.bindings.sparql.updates import federated, run_update
from jobtrail.store import Store
from jobtrail.store.oxigraph import OxigraphStore
from jobtrail.web import conneg, errors, html, render, resources
from jobtrail.web.binding import Runtime
from jobtrail.web.requests import read_body, viewer_of
from jobtrail.web.state import AppRequest, Engine
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

ROW_CAP = 1000
"""Rows (or triples) an HTML result page shows; the downloads have them all."""
QUERY_THREADS = 8
CORS = {"Access-Control-Allow-Origin": "*"}
RESULTS = (*conneg.RESULT_FORMATS, conneg.HTML)
GRAPHS = (*conneg.RDF_FORMATS, conneg.HTML)
BOOLEANS = (conneg.SPARQL_JSON, conneg.SPARQL_XML, conneg.HTML)
"""What an ASK answers in: CSV and TSV define no boolean."""
NO_BOOLEAN = "an ASK query answers true or false, which the CSV and TSV results formats cannot say"
_NAMES = {
    "srj": "json",
    "srx": "xml",
    "ttl": "turtle",
    "nt": "ntriples",
    "n-triples": "ntriples",
    "json-ld": "jsonld",
    "rdf": "rdfxml",
    "rdf+xml": "rdfxml",
    "nq": "nquads",
    "htm": "html",
}
_GRAPH_NAMES = {"json": "jsonld", "xml": "rdfxml"}  # what `format=json` means for a graph
_FORM = "application/x-www-form-urlencoded"
T = TypeVar("T")


@dataclass
class Operation:
    """A protocol request, read: all parameters (URL and form), the query or the update."""

    params: list[tuple[str, str]]
    query: str | None = None
    update: str | None = None

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.params if k == name]

    def one(self, name: str) -> str | None:
        values = self.all(name)
        if len(values) > 1:
            raise QueryError(f"{name} is given {len(values)} times; give it once")
        return values[0] if values else None


# --- routes ------------------------------------------------------------------


async def sparql(request: AppRequest) -> Response:
    """SPARQL 1.1 Protocol: queries (GET, POST) and updates (POST, admin only)."""
    if request.method == "OPTIONS":
        return preflight(request)
    op: Operation | None = None
    try:
        op = await read(request)
        if op.update is not None:
            if op.query is not None:
                raise QueryError("give either query or update, not both")
            return await run_update(request, op.update, *_using(op))
        response = await run_query(request, op)
    except JobtrailError as e:  # rendered as usual, but readable by cross-origin clients too
        if op is not None and op.update is not None:
            raise
        response = errors.render(request, e)
    response.headers.update(CORS)
    return response


async def update(request: AppRequest) -> Response:
    """SPARQL 1.1 Update (admin only): application/sparql-update or a form with update=."""
    op = await read(request)
    if op.update is None:
        raise QueryError(
            "no update given",
            hint="POST it as application/sparql-update "
            "or as form field update=; queries go to /sparql",
        )
    return await run_update(request, op.update, *_using(op))


def _using(op: Operation) -> tuple[list[str], list[str]]:
    return op.all("using-graph-uri"), op.all("using-named-graph-uri")


def preflight(request: AppRequest) -> Response:
    headers = {
        **CORS,
        "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Allow-Headers": "Accept, Content-Type",
        "Access-Control-Max-Age": "86400",
        "Allow": "GET, HEAD, POST, OPTIONS",
    }
    return Response(status_code=204, headers=headers)


# --- reading the request -------------------------------------------------------


async def read(request: AppRequest) -> Operation:
    op = Operation(list(request.query_params.multi_items()))
    if request.method == "POST":
        kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        body = await read_body(request)
        if kind == _FORM:
            op.params += parse_qsl(_text(body), keep_blank_values=True)
        elif kind == "application/sparql-query":
            op.query = _text(body)
        elif kind == "application/sparql-update":
            op.update = _text(body)
        else:
            raise UnsupportedFormat(
                f"a POST to this endpoint cannot be {kind or 'without a Content-Type'}",
                hint=f"send application/sparql-query, application/sparql-update or {_FORM}",
            )
    op.query = op.query if op.query is not None else op.one("query")
    if request.method == "POST":
        op.update = op.update if op.update is not None else op.one("update")
    elif op.all("update"):
        raise QueryError("an update must be POSTed", hint="POST it as application/sparql-update")
    return op


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise QueryError(f"the request body is not UTF-8 ({e})") from e


def choose(
    op: Operation,
    request: AppRequest,
    available: tuple[conneg.Format, ...],
    default: conneg.Format,
    names: dict[str, str] | None = None,
) -> conneg.Format:
    """`format=` (a key, an extension, a media type) if given, else the Accept header."""
    values = [p.strip().lower() for v in op.all("format") for p in v.split(",") if p.strip()]
    for value in values:
        key = (names or {}).get(value) or _NAMES.get(value, value)
        for f in available:
            if key == f.key or f.matches(value) or (f.extension and key == f.extension[1:]):
                return f
    if values:
        raise NotAcceptable(
            f"format={values[0]} is not available for this query",
            hint="available: " + ", ".join(f.key for f in available),
        )
    return conneg.negotiate(request.headers.get("accept"), available, default)


# --- queries -------------------------------------------------------------------


async def run_query(request: AppRequest, op: Operation) -> Response:
    if op.query is None or not op.query.strip():
        if request.method in ("GET", "HEAD") and _wants_html(op, request):
            engine = request.state["engine"]
            whole = await run_in_threadpool(engine.visibility.sees_whole_store, viewer_of(request))
            page = editor.query_page(engine.config.base_url, whole or engine.public is None)
            return Response(page, media_type=conneg.HTML.content_type())
        if request.method in ("GET", "HEAD") and not op.all("update"):
            described = _description(op, request)
            if described is not None:
                return described
        raise QueryError(
            "no query given",
            hint="pass the SPARQL text as ?query=…, as form field query=, "
            "or POST it as application/sparql-query",
        )
    engine = request.state["engine"]
    config, arrived = engine.config, engine.log.committed.position
    await federated(request, op.query)
    store = await dataset(request)
    answer: Answer | None = None
    prefix = base_prefix(config.base_url)
    quick = await point_lookup(request, op, store, arrived, prefix)
    if quick is not None:
        return _respond(request, *quick)
    if runtime(request).isolates(store):
        job = Job(
            "store",
            prefix + op.query,
            default=op.all("default-graph-uri"),
            named=op.all("named-graph-uri"),
            union=not op.all("named-graph-uri"),
            results=_key(op, request, RESULTS, conneg.SPARQL_JSON),
            boolean=_key(op, request, BOOLEANS, conneg.SPARQL_JSON),
            graph=_key(op, request, GRAPHS, conneg.TURTLE, _GRAPH_NAMES),
            cap=ROW_CAP,
            base=config.base_url,
        )
        answer = await isolated(request, store, job, arrived, len(prefix))
    if answer is not None:
        body, fmt = laid_out(answer, op, request)
    else:
        work = partial(answer_here, store, op, request, config.base_url)
        body, fmt = await within(request, config.query_timeout, work)
    return _respond(request, body, fmt)


def _respond(request: AppRequest, body: bytes, fmt: conneg.Format) -> Response:
    response = resources.respond(request, body, fmt, path="/sparql", formats=())
    del response.headers["link"]
    response.headers["Vary"] = "Accept"
    return response


async def point_lookup(
    request: AppRequest, op: Operation, store: Store, arrived: int, prefix: str
) -> tuple[bytes, conneg.Format] | None:
    """The answer of a point lookup run here (`fastpath.py`: one triple pattern about one
    subject, which can neither crash the engine nor run long), or None for every other
    query, which goes to a query process."""
    text = op.query or ""
    if (
        op.all("default-graph-uri")
        or op.all("named-graph-uri")
        or not runtime(request).isolates(store)
    ):
        return None
    found = fastpath.shape(text)
    if found is None:
        return None
    try:
        fmt = (
            boolean_format(op, request)
            if found.ask
            else choose(op, request, RESULTS, conneg.SPARQL_JSON)
        )
    except NotAcceptable:
        return None  # the query process's path says what is acceptable
    if fmt is conneg.HTML:
        return None
    assert isinstance(store, OxigraphStore)
    await caught_up(request, store, arrived)
    processes = runtime(request).processes
    assert processes is not None
    try:
        done = fastpath.answer(store, prefix, text, found, fmt, processes.limit)
    except QueryError as e:
        if type(e) is QueryError:  # the parser's: point at the place
            raise with_caret(e, text, len(prefix)) from e
        raise
    return None if done is None else (done[1], fmt)


def boolean_format(op: Operation, request: AppRequest) -> conneg.Format:
    """The format of an ASK's answer: SPARQL JSON or XML (or HTML); 406 naming them."""
    try:
        return choose(op, request, BOOLEANS, conneg.SPARQL_JSON)
    except NotAcceptable as e:
        raise NotAcceptable(
            f"{NO_BOOLEAN}; {e.message}",
            hint="ask for application/sparql-results+json or application/sparql-results+xml "
            "(format=json or format=xml)",
        ) from e


def _key(
    op: Operation,
    request: AppRequest,
    available: tuple[conneg.Format, ...],
    default: conneg.Format,
    names: dict[str, str] | None = None,
) -> str | None:
    """The key of the format chosen for one kind of result; None where none is acceptable
    (said only if the query turns out to be of that kind)."""
    try:
        return choose(op, request, available, default, names).key
    except NotAcceptable:
        return None


def runtime(request: AppRequest) -> QueryPool:
    pool = request.state["runtimes"]["sparql"]
    assert isinstance(pool, QueryPool)
    return pool


async def isolated(
    request: AppRequest, store: Store, job: Job, arrived: int, shift: int = 0
) -> Answer | None:
    """`job` in a query process, over a snapshot of `store` holding every write
    acknowledged before the request arrived (`arrived`: the log's position then); None when
    no snapshot can be taken (a full disk: the caller reads the store in the server, as
    `/health` says the disk is full and reads go on). `shift`: the length of the `BASE`
    put in front of the client's text (`texts.based`)."""
    timeout = request.state["engine"].config.query_timeout
    assert isinstance(store, OxigraphStore)
    if await caught_up(request, store, arrived):
        job.dataset = "public"
    pool = runtime(request)
    processes = pool.processes
    assert processes is not None
    writes = store.writes
    key = pool.answers.key(job, writes)
    kept = await pool.answers.get(key)
    if kept is not None:  # the same query since the store's last write: the same answer
        return kept
    running = pool.answers.running(key)
    try:
        answer = await processes.run(store, writes, job, timeout, timed_out(timeout))
        pool.answers.put(key, answer)
        return answer
    except StoreFull:
        return None
    except QueryError as e:
        if type(e) is QueryError:  # the parser's: point at the place
            raise with_caret(e, job.query[shift:], shift) from e
        raise
    finally:
        pool.answers.done(key, running)


async def caught_up(request: AppRequest, store: Store, arrived: int) -> bool:
    """Whether `store` is the public copy; if so, once it holds every record sealed before
    the request arrived (`arrived`: the log's position then); 503 if it does not in time."""
    engine = request.state["engine"]
    public = engine.public
    if public is None or store is not public.store:
        return False
    timeout = engine.config.query_timeout
    copied = public.copied >= arrived  # mostly so: no thread to wait in
    if not copied and not await run_in_threadpool(public.wait_for, arrived, timeout):
        done, total = public.progress()
        raise StoreNotReady(
            f"the public copy of the store is behind: {done:,} of {total:,} records "
            "looked at, and the records sealed before this request are not all in it",
            hint="try again in a moment",
        )
    return True


def laid_out(answer: Answer, op: Operation, request: AppRequest) -> tuple[bytes, conneg.Format]:
    """The body and format of a query process's answer; for HTML, the results page."""
    graph = answer.kind == "triples"
    if graph:
        fmt = choose(op, request, GRAPHS, conneg.TURTLE, _GRAPH_NAMES)
    elif answer.kind == "boolean":
        fmt = boolean_format(op, request)
    else:
        fmt = choose(op, request, RESULTS, conneg.SPARQL_JSON)
    if fmt is not conneg.HTML:
        return answer.body, fmt
    base = request.state["engine"].config.base_url
    names, rows, boolean = rows_of(answer)
    formats = GRAPHS if graph else RESULTS
    return results_page(op, names, rows, base, formats, boolean=boolean), fmt


def rows_of(answer: Answer) -> tuple[list[str], list[list[Any]], bool | None]:
    """The variables and rows (or the boolean) of an answer laid out for HTML (capped SPARQL
    JSON, or N-Triples for triples)."""
    if answer.kind == "triples":
        triples = ox.parse(answer.body, format=ox.RdfFormat.N_TRIPLES)
        return (
            ["subject", "predicate", "object"],
            [[t.subject, t.predicate, t.object] for t in triples],
            None,
        )
    parsed = ox.parse_query_results(answer.body, format=ox.QueryResultsFormat.JSON)
    if isinstance(parsed, ox.QueryBoolean):
        return [], [], bool(parsed)
    names = [v.value for v in parsed.variables]
    return names, [list(s) for s in parsed], None


async def dataset(request: AppRequest, what: str = "a SPARQL query") -> Store:
    """The store a caller's query runs over: the whole store for one who may see all of it
    (`Policy.sees_whole_store`), else the public copy (`jobs/public.py`); 503 while the copy
    catches up, 401/403 where there is none."""
    engine = request.state["engine"]
    viewer = viewer_of(request)
    policy = engine.visibility
    policy.check_reader(viewer)
    if policy.decided(viewer):  # no store to ask: not worth a thread
        whole = policy.sees_whole_store(viewer)
    else:
        whole = await run_in_threadpool(policy.sees_whole_store, viewer)
    if whole:
        return engine.store
    public = engine.public
    if public is None:
        policy.check_whole_store(viewer, what)  # refuses: nothing else to query
        return engine.store
    if not public.caught_up.is_set():
        done, total = public.progress()
        raise StoreNotReady(
            f"{what} here runs over the public copy of the store, which is being built: "
            f"{done:,} of {total:,} records looked at",
            hint="try again in a moment; curators and the administrator query the whole "
            "store meanwhile",
        )
    return public.store


def _description(op: Operation, request: AppRequest) -> Response | None:
    """The Service Description, in the RDF format asked for; None if none is acceptable (or
    only as plain `application/json`, which a SPARQL client asks for)."""
    try:
        fmt = choose(op, request, conneg.RDF_FORMATS, conneg.TURTLE, _GRAPH_NAMES)
    except NotAcceptable:
        return None
    accept = request.headers.get("accept", "")
    if fmt is conneg.JSONLD and not op.all("format") and "ld+json" not in accept:
        return None  # plain application/json: a SPARQL client that forgot its query
        return None
    config = request.state["engine"].config
    body = description.describe(endpoint_iri(config.base_url), config.sparql_federation, fmt)
    response = resources.respond(request, body, fmt, path="/sparql", formats=())
    del response.headers["link"]
    response.headers["Vary"] = "Accept"
    return response


def _wants_html(op: Operation, request: AppRequest) -> bool:
    try:
        return choose(op, request, RESULTS, conneg.SPARQL_JSON) is conneg.HTML
    except NotAcceptable:
        return False


class QueryPool(Runtime):
    """Where clients' queries run: the query processes (`isolation.py`) for an embedded
    store on disk, unless `query_workers` is 0; threads in the server otherwise (a store in
    memory, a remote store: its engine runs the query)."""

    def __init__(self, processes: QueryProcesses | None = None) -> None:
        self.pool = ThreadPoolExecutor(QUERY_THREADS, thread_name_prefix="sparql")
        self.processes = processes
        self.answers = Answers()

    def isolates(self, store: Store) -> bool:
        return (
            self.processes is not None
            and isinstance(store, OxigraphStore)
            and store.path is not None
            and not store.read_only
        )

    def stop(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        if self.processes is not None:
            self.processes.stop()


def query_pool(engine: Engine) -> QueryPool:
    config = engine.config
    store = engine.store
    if config.query_workers <= 0 or not isinstance(store, OxigraphStore) or store.path is None:
        return QueryPool()
    return QueryPool(
        QueryProcesses(config.query_workers, config.query_memory, config.query_result_limit)
    )


async def within(
    request: AppRequest, timeout: float, work: Callable[[float, threading.Event], T]
) -> T:
    """`work(deadline, cancel)` in the query pool, answered by the deadline whatever it does."""
    deadline, cancel = time.monotonic() + timeout, threading.Event()
    pool = request.state["runtimes"]["sparql"]
    assert isinstance(pool, QueryPool)
    future = asyncio.get_running_loop().run_in_executor(pool.pool, work, deadline, cancel)
    try:
        return await asyncio.wait_for(future, timeout + 0.2)
    except TimeoutError:
        cancel.set()  # the worker stops at its next row; one blocked in the engine finishes first
        raise timed_out(timeout) from None


def timed_out(timeout: float) -> QueryTimeout:
    return QueryTimeout(
        f"the query ran past this server's time limit of {timeout:g} seconds and was stopped",
        hint="make it cheaper (a LIMIT, more specific patterns), or raise the limit: setting "
        "query_timeout (--query-timeout, JOBTRAIL_QUERY_TIMEOUT, or jobtrail.toml)",
        details={"timeout_seconds": timeout},
    )


def take(
    items: Iterable[T],
    deadline: float,
    cancel: threading.Event,
    timeout: float,
    cap: int | None = None,
) -> list[T]:
    taken: list[T] = []
    for item in items:
        if cancel.is_set() or time.monotonic() > deadline:
            raise timed_out(timeout)
        taken.append(item)
        if cap is not None and len(taken) >= cap:
            break
    return taken


def answer_here(
    store: Store,
    op: Operation,
    request: AppRequest,
    base: str,
    deadline: float,
    cancel: threading.Event,
) -> tuple[bytes, conneg.Format]:
    """Run the query and write its results (in a worker thread)."""
    timeout = request.state["engine"].config.query_timeout
    text = op.query or ""
    prefix = base_prefix(base)
    defaults, named = op.all("default-graph-uri"), op.all("named-graph-uri")
    try:
        result = store.query(
            prefix + text,
            default_graphs=defaults or None,
            named_graphs=named or None,
            default_graph_union=not named,
        )
    except QueryError as e:
        raise with_caret(e, text, len(prefix)) from e
    if isinstance(result, ox.QueryTriples):
        fmt = choose(op, request, GRAPHS, conneg.TURTLE, _GRAPH_NAMES)
        cap = ROW_CAP + 1 if fmt is conneg.HTML else None
        triples = take(result, deadline, cancel, timeout, cap)
        if fmt is conneg.HTML:
            rows = [[t.subject, t.predicate, t.object] for t in triples]
            return results_page(op, ["subject", "predicate", "object"], rows, base, GRAPHS), fmt
        return render.rdf(triples, fmt, base=base), fmt
    if isinstance(result, ox.QueryBoolean):
        fmt = boolean_format(op, request)
        if fmt is conneg.HTML:
            return results_page(op, [], [], base, RESULTS, boolean=bool(result)), fmt
        return results_body(fmt, boolean=bool(result)), fmt
    fmt = choose(op, request, RESULTS, conneg.SPARQL_JSON)
    names = [v.value for v in result.variables]
    cap = ROW_CAP + 1 if fmt is conneg.HTML else None
    solutions = take(result, deadline, cancel, timeout, cap)
    if fmt is conneg.HTML:
        return results_page(op, names, [list(s) for s in solutions], base, RESULTS), fmt
    return results_body(fmt, names=names, solutions=solutions), fmt


# --- HTML ----------------------------------------------------------------------


def results_page(
    op: Operation,
    names: list[str],
    rows: list[list[Any]],
    base: str,
    formats: tuple[conneg.Format, ...],
    boolean: bool | None = None,
) -> bytes:
    graphs = [(k, v) for k, v in op.params if k in ("default-graph-uri", "named-graph-uri")]

    def href(f: conneg.Format) -> str:
        return "/sparql?" + urlencode([("query", op.query or ""), *graphs, ("format", f.key)])

    links = " ".join(
        html.link(href(f), f.label, attrs={"type": f.media_type})
        for f in formats
        if f is not conneg.HTML
    )
    if boolean is not None:
        table = f"<p>Answer: <b>{'true' if boolean else 'false'}</b></p>"
    else:
        shown = rows[:ROW_CAP]
        more = len(rows) > ROW_CAP
        cells = "".join(
            "<tr>"
            + "".join(f"<td>{'' if t is None else html.term(t, base)}</td>" for t in r)
            + "</tr>"
            for r in shown
        )
        head = "".join(f"<th>{escape(n)}</th>" for n in names)
        count = (
            f"the first {ROW_CAP:,} rows are shown; download the results for all of them"
            if more
            else f"{len(shown):,} row{'s' if len(shown) != 1 else ''}"
        )
        table = f"<p class=muted>{count}</p><table class=results><tr>{head}</tr>{cells}</table>"
    body = (
        f"<h1>SPARQL results</h1>{editor.form(op.query or '')}"
        f"<nav class=formats>Download: {links}</nav>{table}"
    )
    return html.page("SPARQL results", body).encode("utf-8")
