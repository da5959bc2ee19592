"""The application's state: its settings, the store and the job engine, typed for every route.

`create_app` (server/app.py) opens everything in its lifespan and hands Starlette one
`AppState`; a route reads it as `request.state["engine"].jobs` with `request: AppRequest`, so
mypy knows what each entry is. Nothing here is opened at import time.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict

from jobtrail.ingest.seal import Log
from jobtrail.jobs.accounts import Accounts
from jobtrail.jobs.core import Job, Jobs
from jobtrail.jobs.fetch import FetchPolicy
from jobtrail.jobs.hops import Hops
from jobtrail.jobs.profiles import Profile
from jobtrail.jobs.public import PublicCopy
from jobtrail.jobs.visibility import Policy
from jobtrail.jobs.waits import Waits
from jobtrail.jobs.workers import Workers
from jobtrail.store import Store
from jobtrail.store.watchdog import WriteWatchdog
from jobtrail.web import conneg
from starlette.requests import Request
from starlette.responses import Response


@dataclass(frozen=True)
class Config:
    """The server's settings (every one is described in server/settings.py)."""

    store: str
    base_url: str = "http://127.0.0.1:8000/"
    query_timeout: float = 30.0  # seconds a SPARQL query may run
    query_workers: int = 4  # query processes; 0: clients' queries run in server threads
    query_memory: int = 1024  # MiB a query process may use; 0: no limit
    query_result_limit: int = 128  # MiB a query's results may take; 0: no limit
    sparql_federation: str | None = None  # endpoints SERVICE and LOAD may reach: URL,…
    admin_token: str | None = None  # SPARQL updates need it; None: updates refused
    producers: str | None = None  # POST /messages credentials: TOKEN:Name|Name2,TOKEN2:*
    max_body: int = 10_000_000  # bytes of a request body
    body_timeout: float = 30.0  # seconds a request body may take to arrive; 0: no limit
    page_size: int = 50  # entries per page of a feed (/messages)
    cache_size: int = 10_000  # renditions of immutable resources kept in memory; 0: none
    job_workers: int = 2
    lease_ttl: float = 15.0  # seconds a lease in a shared engine lasts unrenewed
    change_poll: float = 0.25  # seconds between looks for other processes' changes
    files: str = "jobtrail-files"
    key_file: str = ""  # "": beside the store (see key_path in server/app.py)
    log_key_file: str = ""  # "": beside the store (ingest/checkpoint.key_path)
    checkpoint_every: float = 60.0  # seconds between scheduled checkpoints; 0: on demand only
    default_profile: str = "DocumentToText"
    execution_duration: int = 600
    max_execution_duration: int = 86400  # longest a job may ask for; 0: no maximum
    results_ttl: int = 7 * 86400
    retry_after: int = 1
    fetch_max_bytes: int = 100_000_000
    fetch_timeout: float = 60.0
    unpack_max_bytes: int = 1_000_000_000  # most an archive a job opens unpacks to
    unpack_max_members: int = 10_000  # most members such an archive holds
    fetch_allow_private: bool = False
    file_roots: str = ""
    users: str | None = None
    passes: str | None = None
    anonymous: bool = True
    curators: str | None = None  # users who read everything: name,…
    read_login: bool = False  # every read needs credentials
    public_copy: str = ""  # where the public copy is kept; "": the default place; "off"
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
        """The server's part of the resolved settings (server/settings.py)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


@dataclass(frozen=True)
class JobKind:
    """A kind of job a binding creates, whose work is done elsewhere; created at `home`."""

    name: str
    home: str  # a path under the base URL, e.g. sif/jobs/Transfers


@dataclass(frozen=True)
class Engine:
    """The job engine's parts, made once per server, that a binding builds on."""

    config: Config
    store: Store
    log: Log
    jobs: Jobs
    hops: Hops
    accounts: Accounts
    profiles: Mapping[str, Profile]
    policy: FetchPolicy
    waits: Waits
    visibility: Policy  # who may see what: every read asks it
    public: PublicCopy | None = None  # what anyone may read, for their SPARQL queries
    kinds: Sequence[JobKind] = ()  # what the bindings create besides the profiles


class Runtime:
    """What a binding runs while the server runs; each method's default does nothing."""

    def start(self) -> None:
        """Called once the engine is open, before the worker pool starts."""

    def stop(self) -> None:
        """Called when the server stops, after the worker pool has stopped."""

    def runs_elsewhere(self, job: Job) -> bool:
        """True for a job whose work this binding has handed to another party."""
        return False


JobHandler = Callable[[Request[Any], str], Awaitable[Response | None]]
"""Answers a request about the job with this id, or None to leave it to the job service."""

JobViews = Callable[[Request[Any], Job], Sequence[tuple[str, str]]]
"""A binding's views of a job a caller may see: (label, absolute URL) pairs, none when the
binding does not show this job. Reads no store: the job page calls every binding's."""


@dataclass(frozen=True)
class Rendition:
    """A resource's body in one format, when it was modified, and the owners of the jobs it
    is about (`Policy.owners_of`: empty for provenance), so that a kept body is shown only
    to whom the visibility policy allows."""

    body: bytes
    modified: datetime | None
    owners: frozenset[str | None]


class Renditions:
    """Bodies of immutable resources already written, by (IRI, format); least recently used go.

    Messages are named by the hash of their bytes and producers are written once,
    so what such a graph says never changes: its Turtle need not be read and
    written again for every request (Oxigraph resolves every term of a graph
    on each read). Only RDF formats are kept: an HTML page also lists incoming
    links, which grow. `clear()` is called when an update goes through this server.
    """

    def __init__(self, size: int, immutable: tuple[str, ...]):
        self.size = size
        self.immutable = immutable
        self._entries: OrderedDict[tuple[str, str], Rendition] = OrderedDict()

    def get(self, iri: str, fmt: conneg.Format) -> Rendition | None:
        entry = self._entries.get((iri, fmt.key))
        if entry is not None:
            self._entries.move_to_end((iri, fmt.key))
        return entry

    def put(self, iri: str, fmt: conneg.Format, rendition: Rendition) -> None:
        if self.size <= 0 or fmt is conneg.HTML or not iri.startswith(self.immutable):
            return
        self._entries[(iri, fmt.key)] = rendition
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()


class AppState(TypedDict):
    """What every request sees as `request.state`: `request.state["engine"].jobs` and so on."""

    engine: Engine
    workers: Workers
    renditions: Renditions
    runtimes: Mapping[str, Runtime]  # each binding's own, by the binding's name
    watchdog: WriteWatchdog  # does a write still complete? (`/health`)
    ingest: threading.Lock  # POST /messages: one load at a time
    job_methods: Mapping[str, Sequence[tuple[str, JobHandler]]]
    """What bindings add to `/jobs/{id}`, by method: (binding name, handler), in turn."""
    job_views: Sequence[tuple[str, JobViews]]
    """Each binding's views of a job (binding name, views), for the job page's links."""


AppRequest = Request[AppState]
