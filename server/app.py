"""The Starlette application: the one list of bindings, composed; state opened in lifespan.

`BINDINGS` is every protocol this server speaks, each a package under `bindings/`
exporting one `Binding` (web/binding.py). `create_app` builds the routes from their
declarations and, when the server starts, opens the store and the job engine, starts
each binding's runtime, then the worker pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import threading
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from jobtrail.base.errors import InputError, JobtrailError, StoreFull, StoreLocked
from jobtrail.bindings import (
    jobservice,
    linkeddata,
    mcma,
    ogcapi,
    openlineage,
    sif,
    sparql,
    uws,
)
from jobtrail.bindings import log as verifiable_log
from jobtrail.ingest import traceindex
from jobtrail.ingest.seal import Log
from jobtrail.jobs.accounts import Accounts, load_key, parse_pairs, parse_producers
from jobtrail.jobs.builtin import builtin_profiles
from jobtrail.jobs.core import Change, Job, Jobs
from jobtrail.jobs.fetch import FetchPolicy, head
from jobtrail.jobs.follow import Follower
from jobtrail.jobs.hops import Hops
from jobtrail.jobs.public import PublicCopy
from jobtrail.jobs.vault import Vault
from jobtrail.jobs.visibility import ANONYMOUS_LABEL, Policy
from jobtrail.jobs.waits import Waits
from jobtrail.jobs.workers import PoolConfig, Workers
from jobtrail.server import api
from jobtrail.store import Store, open_store
from jobtrail.store.watchdog import WriteWatchdog
from jobtrail.web import errors, html
from jobtrail.web.binding import Binding, JobHandler, Runtime
from jobtrail.web.middleware import (
    BodyLimit,
    CrossSiteWrites,
    HttpDetails,
    LinksByPath,
    ReadLogin,
    ReadOnlyCors,
    SecurityHeaders,
)
from jobtrail.web.openapi import describe
from jobtrail.web.state import AppRequest, AppState, Config, Engine, Renditions
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

BINDINGS: tuple[Binding, ...] = (
    sparql.BINDING,
    jobservice.BINDING,
    uws.BINDING,
    mcma.BINDING,
    sif.BINDING,
    ogcapi.BINDING,
    verifiable_log.BINDING,
    openlineage.BINDING,
    linkeddata.BINDING,
)
"""Every protocol this server speaks. Adding one: a package under bindings/, a line here."""

__all__ = ["BINDINGS", "Config", "create_app", "from_environment"]


class App(Starlette):
    """Starlette with `SecurityHeaders` outside everything, Starlette's own 500 answers too."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack())


def create_app(
    config: Config,
    bindings: Sequence[Binding] = BINDINGS,
    *,
    reopen: Callable[[str], None] | None = None,
) -> Starlette:
    """A new application; nothing is opened until the server starts it (lifespan).

    `reopen(reason)` is called when the store must be opened again (its disk was full and
    has room again: store/watchdog.py); `jobtrail serve` stops this server and starts another.
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[AppState]:
        store = open_store(config.store)
        runtimes: dict[str, Runtime] = {}
        workers: Workers | None = None
        watchdog = WriteWatchdog(store, config.write_deadline, reopen=reopen)
        engine: Engine | None = None
        follower: Follower | None = None
        try:
            engine = _engine(store, config, bindings)
            for b in bindings:
                if b.start is not None:
                    runtimes[b.name] = b.start(engine)
            workers = Workers(
                engine.jobs,
                engine.profiles,
                PoolConfig(size=config.job_workers, files=Path(config.files), policy=engine.policy),
                elsewhere=Elsewhere(list(runtimes.values())),
            )
            for runtime in runtimes.values():  # before the pool: they say which jobs
                await run_in_threadpool(runtime.start)  # run elsewhere
            await run_in_threadpool(workers.start)
            if store.shared:  # other processes' changes, told as this one's are
                follower = Follower(engine.jobs, interval=config.change_poll)
                follower.start()
            watchdog.start()
            yield AppState(
                engine=engine,
                workers=workers,
                renditions=Renditions(
                    config.cache_size,
                    (f"{config.base_url}messages/", f"{config.base_url}producers/"),
                ),
                runtimes=runtimes,
                job_methods=_job_methods(bindings),
                job_views=[(b.name, b.job_views) for b in bindings if b.job_views is not None],
                watchdog=watchdog,
                ingest=threading.Lock(),
            )
        finally:
            watchdog.stop()
            if follower is not None:
                await run_in_threadpool(follower.stop)
            public = engine.public if engine is not None else None
            if public is not None:
                await run_in_threadpool(public.stop)
                public.store.close()
            if workers is not None:
                await run_in_threadpool(workers.stop)
            for runtime in reversed(list(runtimes.values())):
                await run_in_threadpool(runtime.stop)
            if engine is not None:
                engine.log.close()
            try:
                store.close()
            except StoreFull as e:  # closed all the same; every write it acknowledged is kept
                logging.getLogger("jobtrail").warning("closing the store: %s", e)

    app = App(
        routes=routes(bindings),
        lifespan=lifespan,
        middleware=[
            Middleware(HttpDetails),
            Middleware(LinksByPath, base_url=config.base_url),
            Middleware(ReadOnlyCors),
            Middleware(BodyLimit, max_body=config.max_body),
            Middleware(CrossSiteWrites, base_url=config.base_url),
            Middleware(ReadLogin),
        ],
        exception_handlers={
            JobtrailError: errors.jobtrail_error,
            HTTPException: errors.http_error,
            Exception: errors.unexpected,
        },
    )
    app.state.error_styles = [style for b in bindings for style in b.errors]
    app.state.links = [link for b in bindings for link in b.links]
    app.state.apis = {b.name: b.api for b in bindings}
    return app


def _job_methods(bindings: Sequence[Binding]) -> dict[str, list[tuple[str, JobHandler]]]:
    out: dict[str, list[tuple[str, JobHandler]]] = {}
    for b in bindings:
        for method, handler in b.job_methods.items():
            out.setdefault(method, []).append((b.name, handler))
    return out


def _engine(store: Store, config: Config, bindings: Sequence[Binding]) -> Engine:
    """The job engine every binding builds on: the job core, its accounts, profiles, waits."""
    # one log head per process: loads and job changes both append to it; on a shared store
    # its lease makes it one head among every process
    log = Log(store, lease_ttl=config.lease_ttl)
    parts = [part for b in bindings for part in b.side_graphs]
    vault = Vault(Path(config.files) / ".vault")  # inputs' credentials, outside the dataset
    profiles = builtin_profiles(config.unpack_max_bytes, config.unpack_max_members)
    jobs = Jobs(
        store,
        config.base_url,
        log=log,
        parts=parts,
        vault=vault,
        max_execution_duration=config.max_execution_duration,
        secret_parameters=lambda name: (
            profiles[name].secret_parameters() if name in profiles else frozenset()
        ),
    )
    traceindex.settle(store)  # a store with no record yet: every hop has its trace entry
    policy = policy_of(config)
    users = parse_pairs(config.users, "users")
    visibility = Policy(
        store,
        config.base_url,
        anonymous_jobs=config.anonymous,
        read_login=config.read_login,
        curators=curators_of(config, users),
    )
    jobs.listen(_owners_to(visibility))
    public = None
    if users or config.passes or visibility.holds_private():
        public = _public_copy(store, config, log, visibility)
    return Engine(
        config=config,
        store=store,
        log=log,
        jobs=jobs,
        hops=Hops(jobs),
        accounts=Accounts(
            store,
            config.base_url,
            users=users,
            passes={k: float(v or 0) for k, v in parse_pairs(config.passes, "passes").items()},
            anonymous=config.anonymous,
            price_per_job=config.price_per_job,
            price_per_mb=config.price_per_mb,
            max_bytes=config.fetch_max_bytes,
            size_of=lambda url: head(url, policy).size,
            key=_key(config),
            producers=parse_producers(config.producers),
            lock=log.held() if store.shared else threading.Lock(),
        ),
        profiles=profiles,
        policy=policy,
        waits=Waits(jobs),
        visibility=visibility,
        public=public,
        kinds=tuple(k for b in bindings if b.kinds is not None for k in b.kinds(config)),
    )


def public_copy_path(config: Config) -> str | None:
    """Where the public copy is kept (`public_copy`): beside an embedded store
    (`jobtrail-data.public`), in memory for a store in memory, in the files directory for a
    remote store; None when the setting is `off`."""
    if config.public_copy == "off":
        return None
    if config.public_copy:
        return config.public_copy
    if config.store == "memory:":
        return "memory:"
    if "://" in config.store:
        return str(Path(config.files) / "public-copy")
    return str(Path(config.store).resolve()) + ".public"


def _public_copy(store: Store, config: Config, log: Log, visibility: Policy) -> PublicCopy | None:
    where = public_copy_path(config)
    if where is None:
        return None
    try:
        kept = open_store(where)
    except StoreLocked:  # another process over the same remote store keeps it there
        logging.getLogger("jobtrail").warning(
            "the public copy at %s is another process's: this one keeps its own in memory", where
        )
        kept = open_store("memory:")
    copy = PublicCopy(store, kept, log, visibility)
    copy.start()
    return copy


def curators_of(config: Config, users: Mapping[str, str]) -> list[str]:
    """The `curators` setting: names of users; one not among the users is refused."""
    names = [n.strip() for n in (config.curators or "").split(",") if n.strip()]
    unknown = [n for n in names if n not in users]
    if unknown:
        raise InputError(
            f"curators names {', '.join(unknown)}, who {'is' if len(unknown) == 1 else 'are'} "
            "not among the users",
            hint="a curator is a user: add them to users (name:password) too",
        )
    if ANONYMOUS_LABEL in users:
        raise InputError(
            f"a user may not be called {ANONYMOUS_LABEL!r}: it names jobs made without credentials",
            hint="choose another name for that user",
        )
    return names


def _owners_to(visibility: Policy) -> Callable[[Change], None]:
    """A job core listener telling the policy who owns each job made."""

    def listener(change: Change) -> None:
        if change.kind == "created" and change.job is not None:
            visibility.remember(change.job.iri, frozenset({change.job.owner}))

    return listener


class Elsewhere:
    """Whether any binding's runtime has handed the job to another party."""

    def __init__(self, runtimes: Sequence[Runtime]):
        self.runtimes = runtimes

    def __call__(self, job: Job) -> bool:
        return any(r.runs_elsewhere(job) for r in self.runtimes)


def _key(config: Config) -> bytes:
    where = key_path(config)
    return load_key(where) if where is not None else secrets.token_bytes(32)


def key_path(config: Config) -> Path | None:
    """The server's key file: the setting, else beside the store (`jobtrail-data.key`);
    a store in memory gets a key of its own process (None: nothing to keep)."""
    if config.key_file:
        return Path(config.key_file)
    if config.store == "memory:":
        return None
    if "://" in config.store:
        return Path("jobtrail-key")
    store = Path(config.store).resolve()
    return store.parent / f"{store.name}.key"


def policy_of(config: Config) -> FetchPolicy:
    """Where jobs may fetch their inputs from, and how much (settings fetch_*, file_roots)."""
    roots = tuple(Path(p).resolve() for p in str(config.file_roots or "").split(",") if p.strip())
    return FetchPolicy(
        max_bytes=config.fetch_max_bytes,
        timeout=config.fetch_timeout,
        allow_private=config.fetch_allow_private,
        file_roots=roots,
    )


def from_environment() -> Starlette:
    """The app for server worker processes: settings from the environment (see settings.py)."""
    import argparse
    import os

    from jobtrail.server import settings

    return create_app(Config.from_settings(settings.resolve(argparse.Namespace(), os.environ)))


def routes(bindings: Sequence[Binding] = BINDINGS) -> list[BaseRoute]:
    """The server's own routes (the home page is the linked-data binding's), every binding's,
    static files, then the fallback.

    No two routes may answer the same path and method, so their order never decides
    which one answers; only the fallback (dereferencing any path) comes last.
    """
    own: list[BaseRoute] = [
        Route("/health", health, methods=["GET", "HEAD"]),
        Route("/openapi.json", openapi, methods=["GET", "HEAD"]),
        Route("/openapi", openapi_page, methods=["GET", "HEAD"]),
    ]
    for b in bindings:
        own += b.routes()
    _check_disjoint(own)
    packages: list[str | tuple[str, str]] = [("jobtrail.web", "static")]
    packages += [(b.static, "static") for b in bindings if b.static is not None]
    own.append(Mount("/static", StaticFiles(packages=packages), name="static"))
    own += [b.fallback for b in bindings if b.fallback is not None]
    return own


def _check_disjoint(found: Sequence[BaseRoute]) -> None:
    seen: dict[tuple[str, str], str] = {}
    for route in found:
        if not isinstance(route, Route):
            continue
        for method in route.methods or ():
            key = (route.path, method)
            if key in seen:
                raise ValueError(f"{method} {route.path} is declared twice ({seen[key]})")
            seen[key] = route.name


async def health(request: AppRequest) -> Response:
    """`ok` while the server answers and its writes complete; 503 saying why when they do not.

    JSON: `{"status": "ok"}`, else 503 with `status` `disk-full` (`detail` names the disk and
    the store's path), `reopening`, `writes-stuck` or `write-failed`. It reads what the write
    watchdog keeps (store/watchdog.py), so it stays the stack's ceiling for bench/http_servers.py;
    `?deep=1` makes a real write first. `jobtrail serve` polls it to replace a stuck child.
    """
    watchdog = request.state["watchdog"]
    if request.query_params.get("deep") not in (None, "", "0", "false"):
        deadline = watchdog.deadline if watchdog.deadline > 0 else 30.0
        try:
            await asyncio.wait_for(run_in_threadpool(watchdog.check), deadline)
        except TimeoutError:
            return _health(503, "writes-stuck", f"a write has not completed within {deadline:g} s")
    state, problem = watchdog.state()
    if state == "ok":
        return _health(200, state)
    full = watchdog.full() if state == "disk-full" else None
    more = {"hint": full.hint, **full.details} if full is not None else {}
    return _health(503, state, problem, **more)


def _health(status: int, state: str, detail: str | None = None, **more: Any) -> Response:
    body: dict[str, Any] = {"status": state}
    if detail is not None:
        body["detail"] = detail
    body.update((k, v) for k, v in more.items() if v is not None)
    headers = {"Cache-Control": "no-store"}
    if status != 200:
        headers["Retry-After"] = "5"
    return JSONResponse(body, status, headers)


async def openapi(request: AppRequest) -> Response:
    """This OpenAPI 3.1 description, generated from the routes and their declarations."""
    app = request.app
    found = describe(
        app.routes,
        {"server": api.API, **app.state.apis},
        base_url=request.state["engine"].config.base_url,
        styles=app.state.error_styles,
    )
    return JSONResponse(found, headers={"Cache-Control": "no-cache"})


async def openapi_page(request: AppRequest) -> Response:
    """This description, to read and try: Swagger UI (vendored, web/static/swagger-ui/)."""
    head = (
        '<link rel="stylesheet" href="/static/swagger-ui/5.36.0/swagger-ui.css">'
        '<link rel="stylesheet" href="/static/swagger-ui/jobtrail-swagger.css">'
        '<script src="/static/swagger-ui/5.36.0/swagger-ui-bundle.js" defer></script>'
        '<script src="/static/swagger-ui/jobtrail-swagger.js" defer></script>'
    )
    body = (
        '<div id="swagger-ui" data-url="/openapi.json"><p>The API description is '
        f"{html.link('/openapi.json', 'at /openapi.json')}; this page reads it with "
        "Swagger UI, which needs JavaScript.</p></div>"
    )
    return HTMLResponse(html.page("jobtrail API", body, head=head))
