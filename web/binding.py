"""What a binding declares to the app, and what it runs while the server runs.

A binding is one package under `bindings/` speaking one protocol over the job core
(the linked-data job service, UWS, MCMA, SIF) or over the store (linked data,
SPARQL). Its `__init__.py` exports one `Binding`:

- `routes`: its routes (no two bindings answer the same path and method);
- `side_graphs`: the graphs it keeps beside a job (`{job}/{name}`), dropped with the job;
- `start`: builds its `Runtime` from the engine when the server starts;
- `kinds`: the kinds of job it creates besides the engine's profiles (SIF's services);
- `errors`: how errors under its paths are written by default;
- `static`: a package whose `static/` folder is served under /static;
- `links`: what the home page says about it;
- `fallback`: a route tried after all others (one binding has it: dereferencing);
- `api`: its routes' OpenAPI declarations (`web/openapi.py`);
- `job_views`: where it shows a job (UWS's `/uws/{list}/{id}` …), for the job page's links.

`server/app.py` holds the one list of bindings. Adding a binding is one package and one
line in that list. A binding imports the floor (`jobtrail.web`) and the engine
(`jobtrail.jobs`), never another binding: what one binding offers the others (jobs
that run elsewhere, job kinds created elsewhere, another representation of a job)
goes through its `Runtime`, which the others see only as this interface.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from jobtrail.base.errors import JobtrailError
from jobtrail.web import conneg
from jobtrail.web.openapi import Api
from jobtrail.web.state import Config, Engine, JobHandler, JobKind, JobViews, Runtime
from starlette.requests import Request
from starlette.routing import BaseRoute

__all__ = ["Binding", "ErrorStyle", "JobHandler", "JobKind", "JobViews", "Runtime"]


@dataclass(frozen=True)
class ErrorStyle:
    """Errors under `paths` are written in `formats[0]` unless the client asks for another.

    `write` writes a format of the binding's own (not problem+json, HTML or text).
    """

    paths: re.Pattern[str]
    formats: tuple[conneg.Format, ...]
    write: Callable[[Request[Any], JobtrailError], tuple[bytes, dict[str, str]]] | None = None


@dataclass(frozen=True)
class Binding:
    name: str
    routes: Callable[[], Sequence[BaseRoute]]
    side_graphs: tuple[str, ...] = ()
    start: Callable[[Engine], Runtime] | None = None
    errors: tuple[ErrorStyle, ...] = ()
    static: str | None = None
    links: tuple[tuple[str, str], ...] = ()
    fallback: BaseRoute | None = None
    """A route tried after every binding's routes (dereferencing: any path at all)."""
    kinds: Callable[[Config], Sequence[JobKind]] | None = None
    """Kinds of job this binding creates besides the engine's profiles; other views list them
    (the app gathers them from the settings into `Engine.kinds` before anything starts)."""
    job_methods: dict[str, JobHandler] = field(default_factory=dict)
    """Handlers this binding adds to the job's own IRI, `/jobs/{id}`, by method: tried in
    turn before the job service answers (GET: another representation; PUT: an update)."""
    api: Api = field(default_factory=Api)
    """Its routes' OpenAPI declarations (web/openapi.py), usually from its `api.py`."""
    job_views: JobViews | None = None
    """Where this binding shows a job: (label, URL) pairs for the job page (`/jobs/{id}` in
    HTML) to link to, e.g. UWS's `/uws/{list}/{id}`; the page never calls another binding."""
