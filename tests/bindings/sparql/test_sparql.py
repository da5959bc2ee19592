"""The SPARQL 1.1 Protocol at /sparql and /update, against real `jobtrail serve` processes.

SPARQLWrapper (a client nobody here wrote) checks the protocol and every result
format; httpx checks each status code, the dataset parameters, the limits,
CORS and the HTML pages.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import time
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
import rdflib
from SPARQLWrapper import (
    CSV,
    JSON,
    JSONLD,
    POST,
    POSTDIRECTLY,
    RDFXML,
    TSV,
    TURTLE,
    XML,
    SPARQLWrapper,
)
from SPARQLWrapper.SPARQLExceptions import QueryBadFormed

from tests.conftest import ADMIN_TOKEN

PRODUCERS = """PREFIX jt: <https://w3id.org/jobtrail/vocab#>
SELECT ?producer ?name WHERE { ?producer jt:producerName ?name } ORDER BY ?producer"""
CONSTRUCT = """PREFIX jt: <https://w3id.org/jobtrail/vocab#>
CONSTRUCT { ?p jt:producerName ?n } WHERE { ?p jt:producerName ?n }"""
SLOW_ROWS = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
SLOW_AGGREGATE = (
    'SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f FILTER(CONCAT(STR(?c), STR(?f)) != "") }'
)


def endpoint(base: str) -> str:
    return base + "sparql"


def wrapper(base: str, fmt: str, query: str = PRODUCERS, post: bool = False) -> SPARQLWrapper:
    sw = SPARQLWrapper(endpoint(base))
    sw.setQuery(query)
    sw.setReturnFormat(fmt)
    if post:
        sw.setMethod(POST)
    return sw


def get(base: str, query: str, accept: str | None = None, **params: Any) -> httpx.Response:
    headers = {"Accept": accept} if accept else {}
    return httpx.get(endpoint(base), params={"query": query, **params}, headers=headers, timeout=30)


def producers(base: str) -> list[str]:
    rows = get(base, PRODUCERS).json()["results"]["bindings"]
    return [r["producer"]["value"] for r in rows]


# --- SPARQLWrapper: the protocol and the result formats -----------------------------


@pytest.mark.parametrize("post", [False, True], ids=["GET", "POST-form"])
def test_select_json(served: str, post: bool) -> None:
    result = wrapper(served, JSON, post=post).queryAndConvert()
    assert isinstance(result, dict)
    assert result["head"]["vars"] == ["producer", "name"]
    rows = result["results"]["bindings"]
    assert rows and all(r["producer"]["type"] == "uri" for r in rows)
    assert [r["producer"]["value"] for r in rows] == producers(served)


def test_select_post_directly(served: str) -> None:
    sw = wrapper(served, JSON, post=True)
    sw.setRequestMethod(POSTDIRECTLY)  # application/sparql-query body
    result = sw.queryAndConvert()
    assert isinstance(result, dict)
    assert [r["producer"]["value"] for r in result["results"]["bindings"]] == producers(served)


def test_select_xml(served: str) -> None:
    doc = wrapper(served, XML).queryAndConvert()
    ns = "{http://www.w3.org/2005/sparql-results#}"
    uris = [e.firstChild.data for e in doc.getElementsByTagName("uri")]  # type: ignore[union-attr]
    assert uris == producers(served)
    assert ns  # the document is SPARQL XML: it parsed as XML with <uri> bindings


@pytest.mark.parametrize("fmt,delimiter", [(CSV, ","), (TSV, "\t")])
def test_select_csv_tsv(served: str, fmt: str, delimiter: str) -> None:
    raw = wrapper(served, fmt).queryAndConvert()
    text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    header = [h.lstrip("?") for h in rows[0]]
    assert header == ["producer", "name"]
    values = [r[0].strip("<>") for r in rows[1:] if r]
    assert values == producers(served)


def test_ask(served: str) -> None:
    yes = wrapper(served, JSON, "ASK { ?s ?p ?o }").queryAndConvert()
    no = wrapper(served, JSON, "ASK { <urn:x:none> ?p ?o }").queryAndConvert()
    assert yes["boolean"] is True and no["boolean"] is False  # type: ignore[index]


@pytest.mark.parametrize("fmt", [TURTLE, RDFXML, JSONLD])
def test_construct_parsed_by_rdflib(served: str, fmt: str) -> None:
    graph = wrapper(served, fmt, CONSTRUCT).queryAndConvert()
    if not isinstance(graph, rdflib.Graph):  # SPARQLWrapper returns raw bytes for some formats
        graph = rdflib.Graph().parse(data=graph, format={TURTLE: "turtle"}.get(fmt, fmt))
    subjects = sorted(str(s) for s in graph.subjects())
    assert subjects == producers(served)


def test_construct_ntriples(served: str) -> None:
    sw = wrapper(served, TURTLE, CONSTRUCT)
    sw.setOnlyConneg(True)
    sw.addCustomHttpHeader("Accept", "application/n-triples")
    response = sw.query().response
    assert response.headers["content-type"].startswith("application/n-triples")
    graph = rdflib.Graph().parse(data=response.read(), format="nt")
    assert sorted(str(s) for s in graph.subjects()) == producers(served)


def test_malformed_query_has_caret(served: str) -> None:
    bad = "SELECT ?s\nWHERE { ?s ?p }"
    with pytest.raises(QueryBadFormed) as caught:
        wrapper(served, JSON, bad).queryAndConvert()
    message = str(caught.value)
    assert "line 2" in message
    assert "WHERE { ?s ?p }" in message
    lines = get(served, bad, "text/plain").text.splitlines()
    text_line = lines.index("WHERE { ?s ?p }")
    caret = lines[text_line + 1]
    column = get(served, bad, "application/problem+json").json()["column"]  # the parser's
    assert caret.strip() == "^" and len(caret) == column <= len(lines[text_line]) + 1


# --- httpx: statuses, dataset, limits ------------------------------------------------


def test_problem_json_and_html_errors_show_the_caret(served: str) -> None:
    problem = get(served, "SELECT * WHERE { ?s ?p }", "application/problem+json")
    assert problem.status_code == 400
    body = problem.json()
    assert body["line"] == 1 and "^" in body["detail"] and "^" in body["excerpt"]
    page = get(served, "SELECT * WHERE { ?s ?p }", "text/html")
    assert page.status_code == 400 and "^" in page.text


def test_missing_query_is_400(served: str) -> None:
    response = httpx.get(endpoint(served), headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert "no query given" in response.text


def test_default_graph_uri_restricts_to_one_graph(served: str) -> None:
    total = int(get(served, "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }", "text/csv").text.split()[1])
    graph = get(served, "SELECT ?g { GRAPH ?g { ?s ?p ?o } } LIMIT 1").json()
    g = graph["results"]["bindings"][0]["g"]["value"]
    in_graph = get(served, f"SELECT (COUNT(*) AS ?n) {{ GRAPH <{g}> {{ ?s ?p ?o }} }}", "text/csv")
    expected = int(in_graph.text.split()[1])
    restricted = get(
        served, "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }", "text/csv", **{"default-graph-uri": g}
    )
    assert int(restricted.text.split()[1]) == expected < total


def test_named_graph_uri(served: str) -> None:
    all_graphs = get(served, "SELECT DISTINCT ?g { GRAPH ?g { ?s ?p ?o } }").json()
    names = [b["g"]["value"] for b in all_graphs["results"]["bindings"]]
    assert len(names) > 2
    chosen = names[:2]
    response = httpx.get(
        endpoint(served),
        params=[("query", "SELECT DISTINCT ?g { GRAPH ?g { ?s ?p ?o } }")]
        + [("named-graph-uri", g) for g in chosen],
    )
    found = {b["g"]["value"] for b in response.json()["results"]["bindings"]}
    assert found == set(chosen)


def test_not_acceptable(served: str) -> None:
    assert get(served, PRODUCERS, "image/png").status_code == 406
    assert get(served, CONSTRUCT, "text/csv").status_code == 406
    assert get(served, PRODUCERS, format="turtle").status_code == 406


def test_format_parameter(served: str) -> None:
    response = get(served, PRODUCERS, "application/json", format="csv")
    assert response.headers["content-type"].startswith("text/csv")
    response = get(served, CONSTRUCT, format="ntriples")
    assert response.headers["content-type"].startswith("application/n-triples")


def test_body_over_limit_is_413(sparql_admin_served: str) -> None:
    big = "SELECT * WHERE { ?s ?p ?o } #" + "x" * 5000
    response = httpx.post(
        endpoint(sparql_admin_served),
        content=big,
        headers={"Content-Type": "application/sparql-query"},
    )
    assert response.status_code == 413
    assert re.search(r"4,?096", response.text)

    def chunks() -> Any:  # no Content-Length: the streamed length is checked
        yield big.encode()

    streamed = httpx.post(
        endpoint(sparql_admin_served),
        content=chunks(),
        headers={"Content-Type": "application/sparql-query"},
    )
    assert streamed.status_code == 413


@pytest.mark.parametrize("query", [SLOW_ROWS, SLOW_AGGREGATE], ids=["rows", "aggregate"])
def test_timeout_is_503_at_the_deadline(sparql_admin_served: str, query: str) -> None:
    started = time.monotonic()
    response = get(sparql_admin_served, query)
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert "0.5 seconds" in response.text and "query_timeout" in response.text
    assert elapsed < 2.5
    assert get(sparql_admin_served, "ASK {}").status_code == 200  # still serving


# --- updates -----------------------------------------------------------------------

INSERT = "INSERT DATA { GRAPH <urn:x:test> { <urn:x:a> <urn:x:p> 'inserted' } }"


def test_update_refused_without_configured_token(served: str) -> None:
    response = httpx.post(
        endpoint(served),
        content=INSERT,
        headers={"Content-Type": "application/sparql-update", "Authorization": "Bearer x"},
    )
    assert response.status_code == 403
    assert "JOBTRAIL_ADMIN_TOKEN" in response.text


@pytest.mark.parametrize("path", ["sparql", "update"])
def test_update_needs_the_admin_token(sparql_admin_served: str, path: str) -> None:
    url = sparql_admin_served + path
    kind = {"Content-Type": "application/sparql-update"}
    none = httpx.post(url, content=INSERT, headers=kind)
    assert none.status_code == 401 and "WWW-Authenticate" in none.headers
    assert none.headers.get("access-control-allow-origin") is None
    wrong = httpx.post(url, content=INSERT, headers={**kind, "Authorization": "Bearer nope"})
    assert wrong.status_code == 403
    ok = httpx.post(url, content=INSERT, headers={**kind, "Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert ok.status_code == 204
    ask = "ASK { GRAPH <urn:x:test> { <urn:x:a> <urn:x:p> 'inserted' } }"
    assert get(sparql_admin_served, ask).json()["boolean"] is True
    basic = base64.b64encode(f"anyone:{ADMIN_TOKEN}".encode()).decode()
    form = httpx.post(
        url,
        data={"update": "DROP SILENT GRAPH <urn:x:test>"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert form.status_code == 204
    assert get(sparql_admin_served, ask).json()["boolean"] is False


def test_bad_update_has_caret(sparql_admin_served: str) -> None:
    response = httpx.post(
        sparql_admin_served + "update",
        content="INSERT DATA { <urn:x:a> }",
        headers={
            "Content-Type": "application/sparql-update",
            "Authorization": f"Bearer {ADMIN_TOKEN}",
            "Accept": "text/plain",
        },
    )
    assert response.status_code == 400 and "^" in response.text


def test_update_by_get_is_refused(served: str) -> None:
    response = httpx.get(endpoint(served), params={"update": INSERT})
    assert response.status_code == 400


# --- CORS ----------------------------------------------------------------------------


def test_cors(served: str) -> None:
    assert get(served, "ASK {}").headers["access-control-allow-origin"] == "*"
    posted = httpx.post(endpoint(served), data={"query": "ASK {}"})
    assert posted.headers["access-control-allow-origin"] == "*"
    bad = get(served, "ASK {")
    assert bad.status_code == 400 and bad.headers["access-control-allow-origin"] == "*"
    preflight = httpx.request(
        "OPTIONS",
        endpoint(served),
        headers={
            "Origin": "https://elsewhere.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "authorization" not in preflight.headers["access-control-allow-headers"].lower()


# --- HTML ------------------------------------------------------------------------------


class Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, str | None]] = []
        self.fields: list[str] = []
        self.scripts: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.forms.append(a)
        elif tag in ("textarea", "select", "input") and a.get("name"):
            self.fields.append(str(a["name"]))
        elif tag == "script":
            self.scripts.append(a.get("src"))


def test_query_page(served: str) -> None:
    response = httpx.get(endpoint(served), headers={"Accept": "text/html"})
    assert response.status_code == 200
    page = response.text
    parsed = Forms()
    parsed.feed(page)
    assert "/static/yasgui/4.6.2/yasgui.min.js" in parsed.scripts
    assert "/static/yasgui/jobtrail-yasgui.js" in parsed.scripts
    assert '<link rel=stylesheet href="/static/yasgui/4.6.2/yasgui.min.css">' in page
    found = re.search(r'<script type="application/json" id="yasgui-config">(.*?)</script>', page)
    assert found
    config = json.loads(found[1])
    assert config["endpoint"] == "/sparql"
    assert set(config) <= {"endpoint", "queries", "prefixes", "query"}
    # the named queries' tabs are built from what /queries says of them: one source
    listed = httpx.get(served + "queries", headers={"Accept": "application/json"}).json()
    assert config["queries"] == listed["queries"]
    assert not [u for u in re.findall(r"https?://[^\"'<> ]+", found[1]) if "sparql" in u]
    assert 'href="/sparql/form"' in page  # the plain form has its own page now
    assert 'href="/sparql#named=stats"' in page
    for f in (
        httpx.get(served + "static/yasgui/4.6.2/yasgui.min.js"),
        httpx.get(served + "static/yasgui/jobtrail-yasgui.js"),
    ):
        assert f.status_code == 200


def test_plain_form_returns_a_table(served: str) -> None:
    response = get(served, PRODUCERS, "text/html", format="html")
    assert response.status_code == 200
    page = response.text
    assert "<table class=results>" in page and "<th>producer</th>" in page
    for p in producers(served):
        assert p in page
    assert "row" in page
    links = re.findall(r'href="(/sparql\?[^"]+)"', page)
    kinds = {
        httpx.get(served.rstrip("/") + h.replace("&amp;", "&")).headers["content-type"]
        for h in links
    }
    assert {k.split(";")[0] for k in kinds} == {
        "application/sparql-results+json",
        "application/sparql-results+xml",
        "text/csv",
        "text/tab-separated-values",
    }


def test_html_row_cap(served: str) -> None:
    page = get(served, "SELECT * { ?s ?p ?o }", "text/html").text
    assert "the first 1,000 rows are shown" in page
    assert page.count("<tr>") == 1001  # header + 1,000 rows


def test_html_construct_and_ask(served: str) -> None:
    assert "<table class=results>" in get(served, CONSTRUCT, "text/html").text
    assert "<b>true</b>" in get(served, "ASK { ?s ?p ?o }", "text/html").text
