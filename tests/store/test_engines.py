"""jobtrail over the SPARQL engines it is tested against for real — Oxigraph server and
Virtuoso (`oxigraph_server`, `virtuoso_server` in tests/conftest.py), each shared by the
session — and over an engine without the union default graph: Oxigraph server spoken to as
Jena without `tdb2:unionDefaultGraph` (`#engine=jena`: no union parameter), which is what
Fuseki does unless its dataset is configured.

Per engine, one `jobtrail serve` over the examples (module scope): `stats` and the named
queries answering as the embedded store does for the same load, a job's whole life and its
trace, a dereference, the SPARQL endpoint. The first tests read the store as loaded; the ones
after change it.
"""

from __future__ import annotations

import collections
import io
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyoxigraph as ox
import pytest
import rdflib
from jobtrail.base.errors import JobtrailError, RemoteStoreError, StoreError
from jobtrail.queries import load_queries
from jobtrail.store import engines
from jobtrail.store.base import ResourceGraph
from jobtrail.store.oxigraph import OxigraphStore
from jobtrail.store.remote import RemoteStore

from tests.bindings.jobservice.test_jobs import ORE, docx_bytes, wait_done
from tests.conftest import (
    ADMIN_TOKEN,
    EXAMPLES_DIR,
    DocumentServer,
    emptied,
    free_port,
    job_server,
    oxigraph_binary,
    virtuoso,
    wait_for,
)

JOBTRAIL = [sys.executable, "-m", "jobtrail.cli"]
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
KEY = "TDR-2021-GW3"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def jobtrail(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*JOBTRAIL, *args], capture_output=True, text=True, timeout=300)


def figures(stats: str) -> str:
    """`jobtrail stats` without its first line (which names the store)."""
    return stats.split("\n", 1)[1]


class Served:
    def __init__(self, url: str, base: str, stats: str) -> None:
        self.url, self.base, self.stats = url, base, stats


@pytest.fixture(scope="module", params=["oxigraph", "virtuoso"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """A `jobtrail serve` for jobs over the engine, emptied and loaded with the examples; and
    `jobtrail stats` of the engine as loaded (before the server writes anything)."""
    url = request.getfixturevalue(f"{request.param}_server")
    with RemoteStore.from_url(url) as store:
        emptied(store)
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    loaded = jobtrail("load", str(EXAMPLES_DIR), "--store", url, "--base-url", base, "--silent")
    assert loaded.returncode == 0, loaded.stderr
    stats = jobtrail("stats", "--store", url)
    assert stats.returncode == 0, stats.stderr
    root = tmp_path_factory.mktemp(f"engine-{request.param}")
    with job_server(url, root / "files", port=port) as served_at:  # type: ignore[arg-type]
        assert served_at == base
        yield Served(url, base, stats.stdout)


@pytest.fixture(scope="module")
def embedded(served: Served, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An embedded store holding the same load as the engine (the same base URL)."""
    data = str(tmp_path_factory.mktemp("embedded") / "data")
    loaded = jobtrail("load", str(EXAMPLES_DIR), "--store", data, "--base-url", served.base)
    assert loaded.returncode == 0, loaded.stderr
    return data


# --- the store as loaded ------------------------------------------------------------------


def test_stats_count_as_the_embedded_store_does(served: Served, embedded: str) -> None:
    figures_there = jobtrail("stats", "--store", embedded).stdout
    assert re.search(r"^messages +31$", figures_there, re.M)
    assert figures(served.stats) == figures(figures_there)


VIRTUOSO_WRONG = {  # the rest answer as on Oxigraph
    "errors-by-producer": "a second row: subqueries joined on an aggregate's alias",
    "fixity-per-hop": "refused: SQ156 internal optimized compiler error (Bad dfe)",
    "messages-carrying-uuid": "booleans answered as 0 and 1",
    "retries": "refused: SQ156 internal optimized compiler error (Bad dfe)",
    "software-versions": "refused: SQ156 internal optimized compiler error (Bad dfe)",
    "throughput-per-producer-per-day": "refused: no ADJUST function",
}
"""The named queries Virtuoso 7.2.5 answers wrongly or refuses (README, SPARQL engines)."""


def rows(result: object) -> collections.Counter[str]:
    """A query's answer as comparable text: its rows (GROUP_CONCAT's parts, in no set order,
    sorted), or its boolean."""
    if isinstance(result, ox.QueryBoolean):
        return collections.Counter([str(bool(result))])
    assert isinstance(result, ox.QuerySolutions)
    names = [v.value for v in result.variables]

    def text(term: object) -> str:
        if isinstance(term, ox.Literal):
            return f"{' | '.join(sorted(term.value.split(' | ')))}^^{term.datatype}"
        return str(term)

    return collections.Counter(str([text(row[n]) for n in names]) for row in result)


def test_the_named_queries_answer_as_on_the_embedded_store(
    served: Served, embedded: str, request: pytest.FixtureRequest
) -> None:
    wrong = VIRTUOSO_WRONG if "virtuoso" in request.node.callspec.id else {}
    answered, differ = [], []
    with RemoteStore.from_url(served.url) as remote, OxigraphStore(embedded) as local:
        for query in load_queries().values():
            bound = query.bind(query.examples)
            expected = rows(local.query(query.sparql, substitutions=bound or None))
            try:
                got = rows(remote.query(query.sparql, substitutions=bound or None))
            except JobtrailError:
                got = None
            (answered if got == expected else differ).append(query.name)
    assert sorted(differ) == sorted(wrong), answered


def test_a_trace_and_a_dereference(served: Served) -> None:
    with httpx.Client(base_url=served.base, timeout=30) as client:
        trace = client.get(f"/trace/{KEY}")
        assert trace.status_code == 200, trace.text
        hops = trace.json()["hops"]
        assert len(hops) == 6 and hops[1]["errors"] == ["validation failed", "xxxx....."]
        message = hops[0]["message"]
        turtle = client.get(message, headers={"Accept": "text/turtle"})
        assert turtle.status_code == 200, turtle.text
        assert turtle.headers["content-type"].startswith("text/turtle")
        assert "consignment-export" in client.get(hops[0]["producer"]["iri"]).text
        assert client.get("/messages", headers={"Accept": "text/html"}).status_code == 200
        references = client.get("/references", headers={"Accept": "application/json"}).json()
        counts = {r["reference"]: r["messages"] for r in references["references"]}
        assert counts == {"TDR-2021-GW3": 3, "TRE-TDR-2021-GW3": 1, "TRE-TDR-2022-FT5": 2}


def test_the_sparql_endpoint(served: Served) -> None:
    count = "SELECT (COUNT(DISTINCT ?m) AS ?n) { ?m a <https://w3id.org/jobtrail/vocab#Message> }"
    with httpx.Client(base_url=served.base, timeout=30, headers=ADMIN) as client:
        answer = client.get("/sparql", params={"query": count})
        assert answer.status_code == 200, answer.text
        assert int(answer.json()["results"]["bindings"][0]["n"]["value"]) >= 31
        ask = client.get("/sparql", params={"query": "ASK { ?s a ?o }"})
        assert ask.json()["boolean"] is True
        nothing = client.get("/sparql", params={"query": "ASK { ?s a <urn:nothing> }"})
        assert nothing.json()["boolean"] is False
        graph = client.get(
            "/sparql",
            params={"query": "CONSTRUCT WHERE { ?m <https://w3id.org/jobtrail/vocab#sha256> ?h }"},
            headers={"Accept": "application/n-triples"},
        )
        assert graph.status_code == 200 and graph.text.count("\n") >= 31
        bad = client.get("/sparql", params={"query": "SELECT ?s WHERE { ?s ?p }"})
        assert bad.status_code == 400


def test_a_query_the_engine_refuses_is_a_400(
    served: Served, request: pytest.FixtureRequest
) -> None:
    """Virtuoso refuses some of the named queries (its compiler): a 400 quoting it, not a 502."""
    query = load_queries()["software-versions"]
    path = f"{served.base}queries/{query.name}"
    answer = httpx.get(path, params=query.examples, headers=ADMIN, timeout=60)
    if "virtuoso" in request.node.callspec.id:
        assert answer.status_code == 400 and "Virtuoso 37000" in answer.text, answer.text
    else:
        assert answer.status_code == 200, answer.text


# --- changes --------------------------------------------------------------------------------


def test_a_jobs_whole_life(served: Served, documents: DocumentServer) -> None:
    url = documents.put("/engine.docx", docx_bytes("Over an engine", "Engine"), DOCX)
    with httpx.Client(base_url=served.base, timeout=30) as client:
        created = client.post("/jobs", content=url, headers={"Content-Type": "text/plain"})
        assert created.status_code == 201, created.text
        job = created.text
        done = wait_done(client, job, seconds=60, headers={"Accept": "text/turtle"})
        assert done.status_code == 303, done.text
        resource_map = rdflib.Graph().parse(data=client.get(done.headers["Location"]).text)
        (text_file,) = resource_map.objects(rdflib.URIRef(f"{job}/results"), ORE.aggregates)
        converted = client.get(str(text_file))
        assert converted.status_code == 200 and "Over an engine" in converted.text
        hops = client.get(f"/trace/{job.rsplit('/', 1)[-1]}").json()["hops"]
        assert len(hops) >= 3  # created, and the phases it went through
        assert "COMPLETED" in client.get(job, headers={"Accept": "text/html"}).text


# --- an engine without the union default graph ---------------------------------------------


def test_an_engine_without_the_union_default_graph_is_refused(oxigraph_server: str) -> None:
    """Jena without `tdb2:unionDefaultGraph` finds nothing in a query without GRAPH: the store
    says so at its first request, naming the setting, whether the engine holds data or not."""
    with RemoteStore.from_url(oxigraph_server) as store:
        emptied(store)
        assert store.dialect.union_param == "union-default-graph"
    as_jena = f"{oxigraph_server}#engine=jena"
    with RemoteStore.from_url(as_jena) as empty:  # checked by writing a triple, then removed
        with pytest.raises(StoreError) as error:
            empty.count()
        assert "union default graph" in error.value.message
        assert error.value.hint and "tdb2:unionDefaultGraph true" in error.value.hint
    with RemoteStore.from_url(oxigraph_server) as store:
        assert list(store.graphs()) == []  # the check's own graph is gone
        store.add([ResourceGraph("http://example.org/g", [("<urn:a>", "<urn:b>", "<urn:c>")])])
    with RemoteStore.from_url(as_jena) as holding, pytest.raises(StoreError):
        holding.query("ASK { ?s ?p ?o }")
    served = jobtrail("serve", "--store", as_jena, "--port", str(free_port()))
    assert served.returncode != 0
    assert "does not give the union default graph" in served.stderr, served.stderr
    assert "tdb2:unionDefaultGraph true" in served.stderr


def test_processes_opening_an_empty_store_at_once_all_pass_the_check(oxigraph_server: str) -> None:
    """Each process checks the union at its first request, on an empty store by writing a
    triple and removing it: another's triple, removed as it is read, is no evidence."""
    with RemoteStore.from_url(oxigraph_server) as store:
        emptied(store)
    errors: list[BaseException] = []

    def first_request() -> None:
        try:
            with RemoteStore.from_url(oxigraph_server) as store:
                store.count()
        except BaseException as e:  # reported below
            errors.append(e)

    for _ in range(3):
        threads = [threading.Thread(target=first_request) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not errors
    with RemoteStore.from_url(oxigraph_server) as store:
        assert list(store.graphs()) == []  # every check's triple is gone


def test_an_engine_configured_with_the_union_default_graph(tmp_path: Path) -> None:
    """Jena with `tdb2:unionDefaultGraph true` (here Oxigraph server started with
    `--union-default-graph`, spoken to as Jena, and as itself): found at the first request,
    and `stats` counts each quad once (it counted the default graph and the named graphs:
    twice)."""
    binary = oxigraph_binary()
    if binary is None:
        pytest.skip("no `oxigraph` server binary (pip install oxigraph)")
    port = free_port()
    log = tmp_path / "server.log"
    command = [binary, "serve", "--location", str(tmp_path / "data"), "--union-default-graph"]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [*command, "--bind", f"127.0.0.1:{port}"], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(process, f"{url}/query?query=ASK%7B%7D", "oxigraph", log.read_text)
        as_jena = f"{url}#engine=jena"
        loaded = jobtrail("load", str(EXAMPLES_DIR), "--store", as_jena, "--silent")
        assert loaded.returncode == 0, loaded.stderr
        for spoken in (as_jena, url):
            with RemoteStore.from_url(spoken) as store:
                assert store.dialect.default_is_union and store.dialect.union_param is None
        as_jena_stats, as_oxigraph_stats = (jobtrail("stats", "--store", u) for u in (as_jena, url))
        assert re.search(r"^messages +31$", as_jena_stats.stdout, re.M), as_jena_stats.stderr
        assert figures(as_jena_stats.stdout) == figures(as_oxigraph_stats.stdout)
        embedded = str(tmp_path / "embedded")
        assert jobtrail("load", str(EXAMPLES_DIR), "--store", embedded, "--silent").returncode == 0
        quads = re.search(r"^quads +[\d,]+$", jobtrail("stats", "--store", embedded).stdout, re.M)
        assert quads and quads.group(0) in as_jena_stats.stdout.splitlines()  # as embedded
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_an_engine_whose_default_graph_is_the_union(virtuoso_server: str) -> None:
    """Virtuoso's default graph is the union already (as Jena's when configured): no union
    parameter, nothing counted twice, and no default graph of its own to write to."""
    with RemoteStore.from_url(virtuoso_server) as store:
        emptied(store)
        assert store.dialect.default_is_union and store.dialect.union_param is None
        store.add([ResourceGraph("http://example.org/g", [("<urn:a>", "<urn:b>", "<urn:c>")])])
        assert store.count() == 1 and list(store.graphs()) == ["http://example.org/g"]
        with pytest.raises(StoreError, match="no default graph of its own"):
            store.import_(io.BytesIO(b"<urn:a> <urn:b> <urn:d> .\n"))
        emptied(store)


@pytest.mark.parametrize("bulk", [False, True], ids=["transaction", "bulk"])
def test_many_graphs_with_blank_nodes_in_one_add(virtuoso_server: str, bulk: bool) -> None:
    """Virtuoso takes a blank node only in an `INSERT {…} WHERE {}` of one graph, and refuses
    a request of some 500 operations: 450 such graphs go in requests it takes."""
    ex = "http://example.org/"
    graphs = [ResourceGraph(f"{ex}b{i}", [("_:x", "<urn:p>", f'"{i}"')]) for i in range(450)]
    with RemoteStore.from_url(virtuoso_server) as store:
        emptied(store)
        store.add(graphs, bulk=bulk)
        assert store.count() == 450 and len(store.existing(g.iri for g in graphs)) == 450
        store.apply(delete=[g.iri for g in graphs[:300]])
        assert store.count() == 150
        emptied(store)


def test_an_answer_the_engine_cut_short_is_an_error(tmp_path: Path) -> None:
    """Virtuoso cuts every answer at ResultSetMaxRows (10,000 in Debian's virtuoso.ini) and
    says so in a header: the store stops, naming the setting, rather than read a part."""
    with virtuoso(tmp_path, max_rows=5) as url, RemoteStore.from_url(url) as store:
        with pytest.raises(RemoteStoreError, match="cut its answer at 5 rows") as error:
            store.query("SELECT * { ?s ?p ?o }")
        assert error.value.hint and "ResultSetMaxRows" in error.value.hint
        assert len(list(store.query("SELECT * { ?s ?p ?o } LIMIT 3"))) == 3  # type: ignore[arg-type]


def test_the_engine_is_found_from_a_server_root(virtuoso_server: str) -> None:
    root = virtuoso_server.removesuffix("/sparql")
    with RemoteStore.from_url(root) as store:
        assert store.dialect.name == "Virtuoso"
        assert (store.query_url, store.update_url) == (virtuoso_server, virtuoso_server)
        assert store.gsp_url == f"{root}/sparql-graph-crud"
        assert bool(store.query("ASK {}"))
    with pytest.raises(Exception, match="#engine="):
        RemoteStore.from_url(f"{root}#engine=mysql")


@pytest.mark.parametrize(
    ("text", "form"),
    [
        ("SELECT * {}", "SELECT"),
        ("  prefix a: <http://x#>\nBASE <http://y/> # ASK me\n ask {}", "ASK"),
        ("# CONSTRUCT\nPREFIX : <urn:x#> DESCRIBE <urn:a>", "DESCRIBE"),
        ("DEFINE input:inference 'x' CONSTRUCT WHERE { ?s ?p ?o }", "CONSTRUCT"),
        ("INSERT DATA {}", None),
    ],
)
def test_the_query_form(text: str, form: str | None) -> None:
    assert engines.query_form(text)[0] == form
