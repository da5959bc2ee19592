"""The Starlette application: built by `create_app`, the store opened and closed in its lifespan."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import threading
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from jobtrail.ingest.jsonld import context_document, context_index
from jobtrail.ingest.seal import Log
from jobtrail.jobs.accounts import Accounts, parse_pairs
from jobtrail.jobs.builtin import builtin_profiles
from jobtrail.jobs.core import Jobs
from jobtrail.jobs.fetch import head
from jobtrail.jobs.mcma import Processor, parse_services
from jobtrail.jobs.outbox import OutboxConfig
from jobtrail.jobs.sif import Sif, load_services
from jobtrail.jobs.waits import Waits
from jobtrail.jobs.workers import PoolConfig, Workers
from jobtrail.store import Store, open_store
from jobtrail.store.errors import JobtrailError, NotFound
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from . import (
    conneg,
    documents,
    errors,
    feeds,
    html,
    jobs,
    mcma,
    mcma_jobs,
    queries,
    resources,
    sif,
    sparql,
    trace,
    uws,
)
from .middleware import BodyLimit, ReadOnlyCors
from .watchdog import WriteWatchdog


@dataclass(frozen=True)
class Config:
    store: str
    base_url: str = "http://127.0.0.1:8000/"
    query_timeout: float = 30.0  # seconds a SPARQL query may run
    admin_token: str | None = None  # SPARQL updates need it; None: updates refused
    max_body: int = 10_000_000  # bytes of a request body
    page_size: int = 50  # entries per page of a feed (/messages)
    cache_size: int = 10_000  # renditions of immutable resources kept in memory; 0: none
    job_workers: int = 2
    files: str = "jobtrail-files"
    default_profile: str = "DocumentToText"
    execution_duration: int = 600
    results_ttl: int = 7 * 86400
    retry_after: int = 1
    fetch_max_bytes: int = 100_000_000
    fetch_timeout: float = 60.0
    fetch_allow_private: bool = False
    file_roots: str = ""
    users: str | None = None
    passes: str | None = None
    anonymous: bool = True
    price_per_job: float = 0.0
    price_per_mb: float = 0.0
    uws_lists: str | None = None
    uws_max_wait: int = 60
    uws_max_list: int = 1000
    mcma_services: str | None = None
    mcma_retry_base: float = 0.5
    mcma_retry_max: float = 60.0
    mcma_give_up_after: float = 86400.0
    mcma_stop_grace: float = 30.0
    sif_services: str | None = None
    write_deadline: float = 30.0  # seconds a watchdog write may take before /health is 503

    @classmethod
    def from_settings(cls, values: Mapping[str, Any]) -> Config:
        """The server's part of the resolved settings (api/settings.py)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


def create_app(config: Config) -> Starlette:
    """A new application; nothing is opened until the server starts it (lifespan)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        store = open_store(config.store)
        pool = sparql.query_pool()
        workers: Workers | None = None
        processor: Processor | None = None
        watchdog = WriteWatchdog(store, config.write_deadline)
        try:
            renditions = resources.Renditions(
                config.cache_size,
                (f"{config.base_url}messages/", f"{config.base_url}producers/"),
            )
            service = _job_service(store, config)
            workers = service["workers"]
            processor = service["mcma"]
            await run_in_threadpool(processor.start)  # before the pool: it says which jobs
            await run_in_threadpool(workers.start)  # run elsewhere
            watchdog.start()
            yield {
                "watchdog": watchdog,
                "store": store,
                "config": config,
                "renditions": renditions,
                "query_pool": pool,
                **service,
            }
        finally:
            watchdog.stop()
            if workers is not None:
                await run_in_threadpool(workers.stop)
            if processor is not None:
                await run_in_threadpool(processor.stop)
            pool.shutdown(wait=False, cancel_futures=True)
            store.close()

    return Starlette(
        routes=routes(),
        lifespan=lifespan,
        middleware=[
            Middleware(ReadOnlyCors),
            Middleware(BodyLimit, max_body=config.max_body),
        ],
        exception_handlers={
            JobtrailError: errors.jobtrail_error,
            HTTPException: errors.http_error,
            Exception: errors.unexpected,
        },
    )


def _job_service(store: Store, config: Config) -> dict[str, Any]:
    """The job core, its workers and its accounts, for the app's state."""
    log = Log(store)  # one log head per process: loads and job changes both append to it
    the_jobs = Jobs(store, config.base_url, log=log)
    profiles = builtin_profiles()
    policy = jobs.policy_of(config)
    accounts = Accounts(
        store,
        config.base_url,
        users=parse_pairs(config.users, "users"),
        passes={k: float(v or 0) for k, v in parse_pairs(config.passes, "passes").items()},
        anonymous=config.anonymous,
        price_per_job=config.price_per_job,
        price_per_mb=config.price_per_mb,
        max_bytes=config.fetch_max_bytes,
        size_of=lambda url: head(url, policy).size,
    )
    workers = Workers(
        the_jobs,
        profiles,
        PoolConfig(size=config.job_workers, files=Path(config.files), policy=policy),
    )
    processor = Processor(
        the_jobs,
        parse_services(config.mcma_services),
        profiles,
        OutboxConfig(
            retry_base=config.mcma_retry_base,
            retry_max=config.mcma_retry_max,
            give_up_after=config.mcma_give_up_after,
        ),
        stop_grace=config.mcma_stop_grace,
    )
    functional = Sif(the_jobs, load_services(config.sif_services), processor.hops)
    workers.elsewhere = lambda job: processor.runs_elsewhere(job) or functional.runs_elsewhere(job)
    return {
        "mcma": processor,
        "sif": functional,
        "uws_lists": uws.job_lists(config.uws_lists, [*profiles, *functional.services]),
        "waits": Waits(the_jobs),
        "jobs": the_jobs,
        "workers": workers,
        "accounts": accounts,
        "profiles": profiles,
        "policy": policy,
        "log": log,
        "ingest": threading.Lock(),  # POST /messages: one load at a time
    }


def from_environment() -> Starlette:
    """The app for server worker processes: settings from the environment (see settings.py)."""
    import argparse
    import os

    from . import settings

    return create_app(Config.from_settings(settings.resolve(argparse.Namespace(), os.environ)))


def routes() -> list[BaseRoute]:
    return [
        Route("/", home, methods=["GET", "HEAD"]),
        Route("/health", health, methods=["GET", "HEAD"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/contexts/{name}", context, methods=["GET", "HEAD"]),
        Route("/sparql", sparql.sparql, methods=["GET", "HEAD", "POST", "OPTIONS"]),
        Route("/update", sparql.update, methods=["POST"]),
        *queries.routes(),
        *mcma.routes(),  # first: its PUT /jobs/{id} (GET and DELETE stay with jobs)
        *mcma_jobs.routes(),  # and /jobs/{id}/cancel, restart, executions
        *jobs.routes(),
        *uws.routes(),
        *sif.routes(),
        *trace.routes(),
        *documents.routes(),
        *feeds.routes(),
        Mount("/static", StaticFiles(packages=[("jobtrail.api", "static")]), name="static"),
        Route("/{path:path}", dereference, methods=["GET", "HEAD"]),
    ]


def store_of(request: Request) -> Store:
    store: Store = request.state.store
    return store


def config_of(request: Request) -> Config:
    config: Config = request.state.config
    return config


async def home(request: Request) -> Response:
    """The home page: what this server holds and where to go."""
    store = store_of(request)
    links = [
        ("/jobs", "jobs: POST a document's URL to start one; your jobs (Atom, RDF, HTML)"),
        ("/profiles", "what a job can do here (and what cannot run, and why)"),
        ("/uws", "IVOA UWS 1.1 job lists, one per profile (for pyvo and other UWS clients)"),
        ("/sif/jobs", "SIF 3.2.1 functional services: jobs with phases, states and rights"),
        ("/messages", "every stored message, newest first (Atom; RDF and HTML by negotiation)"),
        ("/trace/TDR-2021-GW3", "the chain of hops of a package (any UUID or reference)"),
        ("/sparql", "SPARQL endpoint and query page"),
        ("/queries", "named queries"),
        ("/vocab", "the jobtrail vocabulary"),
        ("/shapes", "the SHACL shapes"),
        ("/openapi.json", "OpenAPI description of every route"),
    ]
    items = "".join(
        f'<li><a href="{href}">{escape(href)}</a> — {escape(text)}</li>' for href, text in links
    )
    base = escape(config_of(request).base_url)
    body = (
        "<h1>jobtrail</h1><p>A linked-data job repository and provenance store, "
        f"serving the {escape(store.description)} under <code>{base}</code>.</p><ul>{items}</ul>"
    )
    return HTMLResponse(html.page("jobtrail", body))


async def health(request: Request) -> Response:
    """`ok` while the server answers and its writes complete; 503 saying why when they do not.

    Reads two numbers the write watchdog keeps (api/watchdog.py), so it stays the
    stack's ceiling for bench/http.py; `jobtrail serve` polls it to replace a stuck child.
    """
    watchdog: WriteWatchdog = request.state.watchdog
    problem = watchdog.stuck()
    if problem is not None:
        return PlainTextResponse(f"unhealthy: {problem}\n", 503, {"Retry-After": "5"})
    return PlainTextResponse("ok\n")


async def openapi(request: Request) -> Response:
    """This description, generated from the routes at request time."""
    paths: dict[str, Any] = {}
    for route in request.app.routes:
        if isinstance(route, Route):
            doc = (route.endpoint.__doc__ or "").strip().splitlines()
            summary = doc[0] if doc else route.name
            methods = sorted(m.lower() for m in (route.methods or ()) if m != "HEAD")
            paths[route.path] = {
                m: {"summary": summary, "responses": {"200": {"description": "OK"}}}
                for m in methods
            }
        elif isinstance(route, Mount):
            paths[route.path + "/{path}"] = {
                "get": {"summary": "static files", "responses": {"200": {"description": "OK"}}}
            }
    spec = {
        "openapi": "3.1.0",
        "info": {"title": "jobtrail", "version": "0.1.0"},
        "servers": [{"url": config_of(request).base_url}],
        "paths": paths,
    }
    return JSONResponse(spec)


async def context(request: Request) -> Response:
    """A JSON-LD context this server uses, served from its local copy."""
    name = request.path_params["name"].removesuffix(".jsonld")
    files_by_name = {v.removesuffix(".jsonld"): v for v in context_index().values()}
    if name not in files_by_name:
        raise NotFound(
            f"no context named {name!r}", hint="known: " + ", ".join(sorted(files_by_name))
        )
    body = json.dumps(context_document(files_by_name[name]), indent=2).encode()
    return Response(body, media_type="application/ld+json")


async def dereference(request: Request) -> Response:
    """The description of any resource minted under the base URL."""
    path, chosen = conneg.split_extension(request.url.path)
    iri = config_of(request).base_url + path.lstrip("/")
    return resources.describe(request, store_of(request), iri, path=path, chosen=chosen)
