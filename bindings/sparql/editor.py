"""The pages a person queries from: YASGUI at `/sparql`, the plain form at `/sparql/form`.

`/sparql` (a browser's GET without a query) is the vendored YASGUI
(`static/yasgui/`, started by `jobtrail-yasgui.js`), configured by a JSON data block: the
endpoint, the named queries with their parameters (`catalogue.describe`, as `/queries`
says them), the prefixes for autocompletion, the first tab's query. Beside it, the named
queries as links (`/sparql#named=NAME`), each opening a tab with a form for its
parameters; a "copy link" control; a link to the plain form.

`/sparql/form` is the same endpoint without JavaScript: a textarea and a format, sent by a
plain GET (or POST, for a long query) form to `/sparql`, whose results page repeats the
form (`form`). `?query=` fills it in.
"""

from __future__ import annotations

import json
from html import escape
from urllib.parse import quote

from jobtrail.base.errors import InputError
from jobtrail.base.terms import PREFIXES
from jobtrail.bindings.sparql.catalogue import describe
from jobtrail.queries import load_queries
from jobtrail.web import conneg, html
from jobtrail.web.requests import viewer_of
from jobtrail.web.state import AppRequest
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

YASGUI = "/static/yasgui/4.6.2"
STARTER = "SELECT * WHERE { ?s ?p ?o } LIMIT 10"
"""The query of the first tab, and of the plain form (after the prologue)."""
FORM_PATH = "/sparql/form"


def prologue() -> str:
    """A PREFIX line for every prefix the server knows, for the plain form's query."""
    return "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in sorted(PREFIXES.items()))


def form(query: str, chosen: str = "html") -> str:
    """The plain query form: a GET to /sparql (a second button POSTs, for a long query)."""
    options = "".join(
        f'<option value="{f.key}"{" selected" if f.key == chosen else ""}>'
        f"{escape(f.label if f is not conneg.HTML else 'HTML table')}</option>"
        for f in (conneg.HTML, *conneg.RESULT_FORMATS, *conneg.RDF_FORMATS)
    )
    return (
        '<form method=get action="/sparql" class=sparql>'
        f'<p><textarea name=query rows=12 cols=100 aria-label="SPARQL query">{escape(query)}'
        "</textarea></p><p><label>Results as <select name=format>"
        f"{options}</select></label> <button type=submit>Run query</button> "
        "<button type=submit formmethod=post>Run query (POST, for a long one)</button></p></form>"
    )


def _scope(whole: bool) -> str:
    return (
        "<p>The SPARQL 1.1 endpoint of this server is <code>/sparql</code>; the default graph "
        "is the union of all graphs"
        + (
            ".</p>"
            if whole
            else " of the <strong>public copy</strong>: every record anyone may read "
            "(provenance, and the records of anonymous jobs), not the jobs of any owner, "
            "your own included. Curators and the administrator query the whole store.</p>"
        )
    )


def query_page(base: str, whole: bool = True) -> str:
    """The YASGUI page; `whole`: the caller's queries run over the whole store (else over
    the public copy, which the page says)."""
    queries = list(load_queries().values())
    config = {
        "endpoint": "/sparql",
        "queries": [describe(q, base) for q in queries],
        "prefixes": PREFIXES,
        "query": STARTER,
    }
    config_json = json.dumps(config, ensure_ascii=False).replace("<", "\\u003c")
    named = "".join(
        f"<li>{html.link('/sparql#named=' + quote(q.name, safe=''), q.name)} "
        f"<span class=muted>{escape(q.description)}</span></li>"
        for q in queries
    )
    body = (
        f"<h1>SPARQL</h1>{_scope(whole)}"
        f"<p>{html.link(FORM_PATH, 'Plain form')} (no JavaScript) · "
        f"{html.link('/queries', 'named queries')} · tabs and edits are kept in this browser</p>"
        "<noscript><p>This editor needs JavaScript: use the "
        f"{html.link(FORM_PATH, 'plain form')}.</p></noscript>"
        "<details class=named-queries><summary>Open a named query in a tab</summary>"
        f"<ul>{named}</ul></details>"
        "<p class=share hidden><button type=button id=share-button>Copy link to this tab</button> "
        '<input id=share-link readonly size=70 aria-label="Link to this tab" hidden> '
        "<span id=share-status role=status></span></p>"
        '<div id="yasgui"></div>'
        f'<script type="application/json" id="yasgui-config">{config_json}</script>'
        f'<script src="{YASGUI}/yasgui.min.js"></script>'
        '<script src="/static/yasgui/jobtrail-yasgui.js"></script>'
    )
    head = (
        f'<link rel=stylesheet href="{YASGUI}/yasgui.min.css">'
        '<link rel=stylesheet href="/static/yasgui/jobtrail-yasgui.css">'
    )
    return html.page("SPARQL", body, head=head)


def form_page(query: str | None, whole: bool = True) -> str:
    """The plain form, filled with `query` (else the prologue and a starter query)."""
    text = query if query is not None else prologue() + "\n" + STARTER
    body = (
        f"<p>{html.link('/sparql', 'Query editor')}</p><h1>SPARQL: plain form</h1>"
        f"{_scope(whole)}<p>This form needs no JavaScript: it sends the query to "
        "<code>/sparql</code>, whose answer in HTML is a table of the first 1,000 rows with "
        f"download links in every format.</p>{form(text)}"
    )
    return html.page("SPARQL form", body)


async def form_route(request: AppRequest) -> Response:
    """`GET /sparql/form[?query=…]`: the plain form (HTML whatever the Accept)."""
    given = request.query_params.getlist("query")
    if len(given) > 1:
        raise InputError(f"query is given {len(given)} times; give it once")
    unknown = sorted(set(request.query_params) - {"query", "pass"})  # pass: a credential
    if unknown:
        raise InputError(
            f"the plain form takes no parameter {unknown[0]!r}",
            hint="only query= (the text to fill in); the form sends it to /sparql",
        )
    engine = request.state["engine"]
    whole = await run_in_threadpool(engine.visibility.sees_whole_store, viewer_of(request))
    page = form_page(given[0] if given else None, whole or engine.public is None)
    return Response(page, media_type=conneg.HTML.content_type())
