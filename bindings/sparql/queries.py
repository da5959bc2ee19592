"""Named queries over HTTP: /queries lists them, /queries/{name} runs one.

`GET /queries` answers JSON (default) or HTML: each query's name, description and
parameters. `GET /queries/{name}?param=value…` runs the query with the parameters
bound as typed terms (jobtrail.queries; never spliced into the text) and answers
SPARQL JSON (default), XML, CSV or TSV, or HTML: the query's page with its
description, its SPARQL, a form for its parameters (a plain GET form) and, once run,
the results as a table (at most sparql.ROW_CAP rows) with download links. A file
extension on the name (`/queries/stats.csv`, `.srj`, `.srx`, `.tsv`, `.html`) is an
explicit choice of format and overrides Accept; the download links use it.

The HTML page runs the query when the URL has a query string or the query needs no
parameter; otherwise it shows the form. An unknown query is 404 listing the names
there are; a bad parameter is 400 naming it (on the HTML page, shown above the
form). Queries run in the SPARQL endpoint's worker pool under the same time limit.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from functools import partial
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

import pyoxigraph as ox
from jobtrail.base.errors import InputError, JobtrailError, NotAcceptable
from jobtrail.bindings.sparql import endpoint as sparql
from jobtrail.bindings.sparql.catalogue import describe
from jobtrail.bindings.sparql.isolation import Job
from jobtrail.bindings.sparql.results import results_body, term_json
from jobtrail.queries import NamedQuery, Param, get_query, load_queries
from jobtrail.store import Store
from jobtrail.web import conneg, html, resources
from jobtrail.web.state import AppRequest
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

LIST_JSON = conneg.Format("json", "application/json", ".json", (), "JSON")
LIST_FORMATS: tuple[conneg.Format, ...] = (LIST_JSON, conneg.HTML)
RUN_FORMATS: tuple[conneg.Format, ...] = (*conneg.RESULT_FORMATS, conneg.HTML)


def routes() -> list[BaseRoute]:
    """The routes of this module, for api/app.py's list (before its catch-all route)."""
    return [
        Route("/queries", list_queries, methods=["GET", "HEAD"]),
        Route("/queries/{name}", run_query, methods=["GET", "HEAD"]),
    ]


def _config(request: AppRequest) -> Any:
    return request.state["engine"].config


# --- the list ---------------------------------------------------------------------------


async def list_queries(request: AppRequest) -> Response:
    """The named queries: name, description and parameters of each (JSON or HTML)."""
    fmt = conneg.negotiate(request.headers.get("accept"), LIST_FORMATS, LIST_JSON)
    queries = list(load_queries().values())
    if fmt is conneg.HTML:
        body = list_page(queries).encode("utf-8")
    else:
        base = _config(request).base_url
        doc = {"queries": [describe(q, base) for q in queries]}
        body = json.dumps(doc, ensure_ascii=False, indent=2).encode("utf-8")
    response = resources.respond(request, body, fmt, path="/queries", formats=())
    del response.headers["link"]
    return response


def _signature(p: Param) -> str:
    need = "required" if p.required else "optional"
    return f"<code>{escape(p.name)}</code> <span class=muted>({escape(p.type)}, {need})</span>"


def _in_editor(name: str) -> str:
    """The query editor's link to the named query's tab (`editor.py`)."""
    return "/sparql#named=" + quote(name, safe="")


def list_page(queries: list[NamedQuery]) -> str:
    rows = "".join(
        f"<tr><td>{html.link(f'/queries/{quote(q.name)}', q.name)}<br>"
        f"<small>{html.link(_in_editor(q.name), 'in the editor')}</small></td>"
        f"<td>{escape(q.description)}</td>"
        f"<td>{'<br>'.join(_signature(p) + ' — ' + escape(p.doc) for p in q.params)}</td></tr>"
        for q in queries
    )
    body = (
        "<h1>Named queries</h1><p>SPARQL queries for curators and auditors, with parameters. "
        "Each runs on its page, or as <code>/queries/NAME?param=value</code> in SPARQL JSON, "
        "XML, CSV or TSV (Accept, or the extension <code>.srj .srx .csv .tsv</code>), and "
        "from the command line: <code>jobtrail query NAME --param k=v</code>.</p>"
        "<table><tr><th>query</th><th>description</th><th>parameters</th></tr>"
        f"{rows}</table>"
    )
    return html.page("Named queries", body)


# --- running one ------------------------------------------------------------------------


async def run_query(request: AppRequest) -> Response:
    """Run a named query with the query string's parameters (SPARQL results or HTML)."""
    name, chosen = conneg.split_extension(request.path_params["name"])
    query = get_query(name)
    raw = _parameters(request)
    try:
        fmt = chosen or conneg.negotiate(
            request.headers.get("accept"), RUN_FORMATS, conneg.SPARQL_JSON
        )
    except NotAcceptable:
        query.bind(raw)  # a bad parameter is said first (400), then the format (406)
        raise
    if fmt is conneg.HTML:
        body = await _html(request, query, raw)
        status = 400 if isinstance(body, _Refused) else 200
        if status == 400:
            return Response(
                str(body), 400, {"Vary": "Accept"}, media_type=conneg.HTML.content_type()
            )
        response = resources.respond(
            request, body.encode("utf-8"), fmt, path="", formats=(), negotiated=chosen is None
        )
    else:
        bound = query.bind(raw)
        data = await _run(request, query, bound, fmt)
        assert isinstance(data, bytes)
        response = resources.respond(
            request, data, fmt, path="", formats=(), negotiated=chosen is None
        )
    del response.headers["link"]
    return response


def _parameters(request: AppRequest) -> dict[str, str]:
    raw: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        if key == "pass":  # a pass holder's credential (web/requests.caller_of), not a parameter
            continue
        if key in raw:
            raise InputError(
                f"parameter {key!r} is given twice; give it once", details={"parameter": key}
            )
        raw[key] = value
    return raw


class _Refused(str):
    """An HTML page answering a bad parameter (sent with status 400)."""


async def _html(request: AppRequest, query: NamedQuery, raw: dict[str, str]) -> str:
    run = bool(raw) or not any(p.required for p in query.params)
    error: JobtrailError | None = None
    results = ""
    if run:
        try:
            bound = query.bind(raw)
            table = await _run(request, query, bound, conneg.HTML)
            assert isinstance(table, str)
            results = table + _downloads(query, raw)
        except InputError as e:  # a parameter: say so above the form, keep what was typed
            error = e
    page = query_page(query, raw, results, error)
    return _Refused(page) if error is not None else page


async def _run(
    request: AppRequest,
    query: NamedQuery,
    bound: Mapping[str, ox.NamedNode | ox.Literal],
    fmt: conneg.Format,
) -> bytes | str:
    """The results in `fmt` (bytes), or for HTML the results table (str), under the time limit."""
    config = _config(request)
    arrived = request.state["engine"].log.committed.position
    store = await sparql.dataset(request, f"the named query {query.name!r}")
    if sparql.runtime(request).isolates(store):
        job = Job(
            "store",
            query.sparql,
            substitutions={k: term_json(v) for k, v in bound.items()},
            results=fmt.key,
            graph="html" if fmt is conneg.HTML else "turtle",
            cap=sparql.ROW_CAP,
            base=config.base_url,
        )
        answer = await sparql.isolated(request, store, job, arrived)
    else:
        answer = None
    if answer is not None:
        if fmt is not conneg.HTML:
            return answer.body
        names, rows, boolean = sparql.rows_of(answer)
        if boolean is not None:
            return f"<p>Answer: <b>{'true' if boolean else 'false'}</b></p>"
        return results_table(names, rows, config.base_url)
    work = partial(_answer, store, query, dict(bound), fmt, config.base_url, config.query_timeout)
    result: bytes | str = await sparql.within(request, config.query_timeout, work)
    return result


def _answer(
    store: Store,
    query: NamedQuery,
    bound: dict[str, ox.NamedNode | ox.Literal],
    fmt: conneg.Format,
    base: str,
    timeout: float,
    deadline: float,
    cancel: threading.Event,
) -> bytes | str:
    result = store.query(query.sparql, substitutions=dict(bound))
    if isinstance(result, ox.QueryTriples):  # a CONSTRUCT: Turtle, or a table of triples
        triples = sparql.take(result, deadline, cancel, timeout)
        if fmt is conneg.HTML:
            rows: list[list[Any]] = [[t.subject, t.predicate, t.object] for t in triples]
            return results_table(["subject", "predicate", "object"], rows, base)
        out = ox.serialize(triples, format=ox.RdfFormat.TURTLE)
        return out or b""
    if isinstance(result, ox.QueryBoolean):
        if fmt is conneg.HTML:
            return f"<p>Answer: <b>{'true' if bool(result) else 'false'}</b></p>"
        return results_body(fmt, boolean=bool(result))
    names = [v.value for v in result.variables]
    cap = sparql.ROW_CAP + 1 if fmt is conneg.HTML else None
    solutions = sparql.take(result, deadline, cancel, timeout, cap)
    if fmt is conneg.HTML:
        return results_table(names, [list(s) for s in solutions], base)
    return results_body(fmt, names=names, solutions=solutions)


# --- HTML -------------------------------------------------------------------------------


def results_table(names: list[str], rows: list[list[Any]], base: str) -> str:
    cap = sparql.ROW_CAP
    shown = rows[:cap]
    if len(rows) > cap:
        count = f"the first {cap:,} rows are shown (the cap of this page); the downloads have all"
    else:
        count = f"{len(shown):,} row{'s' if len(shown) != 1 else ''} (pages show at most {cap:,})"
    head = "".join(f"<th>{escape(n)}</th>" for n in names)
    cells = "".join(
        "<tr>" + "".join(f"<td>{'' if t is None else html.term(t, base)}</td>" for t in r) + "</tr>"
        for r in shown
    )
    return (
        f"<h2>Results</h2><p class=muted id=row-count>{count}</p>"
        f"<table class=results><tr>{head}</tr>{cells}</table>"
    )


def _downloads(query: NamedQuery, raw: dict[str, str]) -> str:
    given = urlencode([(k, v) for k, v in raw.items() if v.strip()])
    links = " ".join(
        html.link(
            f"/queries/{quote(query.name)}{f.extension}{'?' + given if given else ''}",
            f.label,
            attrs={"type": f.media_type, "download": ""},
        )
        for f in conneg.RESULT_FORMATS
        if f.extension
    )
    return f"<nav class=formats>Download: {links}</nav>"


def _field(query: NamedQuery, p: Param, value: str) -> str:
    example = query.examples.get(p.name, "")
    required = " required" if p.required else ""
    ident = f"param-{p.name}"
    if p.type == "boolean":
        options = "".join(
            f'<option value="{v}"{" selected" if value.lower() == v else ""}>{label}</option>'
            for v, label in (
                ("", "(any)" if not p.required else "choose"),
                ("true", "true"),
                ("false", "false"),
            )
        )
        control = f'<select id="{ident}" name="{escape(p.name)}"{required}>{options}</select>'
    else:
        kind = "number" if p.type == "integer" else "text"
        placeholder = f' placeholder="{escape(example)}"' if example else ""
        control = (
            f'<input id="{ident}" type={kind} name="{escape(p.name)}" '
            f'value="{escape(value)}" size=48{placeholder}{required}>'
        )
    need = "required" if p.required else "optional"
    return (
        f'<p><label for="{ident}"><code>{escape(p.name)}</code> '
        f"<span class=muted>({escape(p.type)}, {need})</span></label><br>{control} "
        f"<span class=muted>{escape(p.doc)}</span></p>"
    )


def query_page(
    query: NamedQuery, raw: dict[str, str], results: str, error: JobtrailError | None
) -> str:
    fields = "".join(_field(query, p, raw.get(p.name, "")) for p in query.params)
    if not query.params:
        fields = "<p class=muted>This query has no parameters.</p>"
    problem = ""
    if error is not None:
        problem = f"<div class=error role=alert><pre>{escape(error.describe())}</pre></div>"
    form = (
        f'<form method=get action="/queries/{quote(query.name)}" class=named-query>'
        f"{fields}<p><button type=submit>Run</button></p></form>"
    )
    given = [(k, v) for k, v in raw.items() if v.strip() and query.param(k) is not None]
    editor = html.link("/sparql#" + urlencode([("named", query.name), *given]), "query editor")
    body = (
        f'<p><a href="/queries">Named queries</a> · open it in the {editor}</p>'
        f"<h1>{escape(query.name)}</h1>"
        f"<p>{escape(query.description)}</p>{problem}{form}{results}"
        f"<h2>SPARQL</h2><pre>{escape(query.sparql)}</pre>"
    )
    return html.page(query.name, body)
