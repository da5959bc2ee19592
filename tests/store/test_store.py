"""The Store contract, run against every backend (disk, memory, remote), plus
the embedded backend's locking and crash safety and the remote one's errors.
"""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest
from jobtrail.base.errors import (
    JobtrailError,
    MalformedInput,
    QueryError,
    RemoteStoreError,
    StoreLocked,
)
from jobtrail.store import open_store
from jobtrail.store.base import RDF_FORMATS, DumpFormat, ResourceGraph, Store
from jobtrail.store.oxigraph import JOURNAL, OxigraphStore
from jobtrail.store.remote import RemoteStore

from tests.conftest import emptied

EX = "http://example.org/"
P = f"<{EX}p>"
# quotes, a newline, braces and a comment sign: text that would break a query if spliced
TRICKY = 'say "hi" } }\nDROP ALL # \\u0022 é'


def iri(name: str) -> str:
    return f"{EX}{name}"


def lit(value: str, **kwargs: object) -> str:
    return str(ox.Literal(value, **kwargs))  # type: ignore[arg-type]


def g1() -> ResourceGraph:
    return ResourceGraph(
        iri("g1"),
        [
            (f"<{iri('s1')}>", P, lit(TRICKY)),
            (f"<{iri('s1')}>", P, lit("bonjour", language="fr")),
            (
                f"<{iri('s1')}>",
                f"<{EX}n>",
                lit("42", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")),
            ),
        ],
    )


def g2() -> ResourceGraph:
    return ResourceGraph(
        iri("g2"), [(f"<{iri('s2')}>", P, lit("say")), ("_:b1", P, f"<{iri('s2')}>")]
    )


def own_default_graph(store: Store) -> bool:
    """The store's default graph is a graph of its own, not the union of its named graphs
    (Virtuoso's, which has nothing of its own: a triple cannot be stored there)."""
    return not (isinstance(store, RemoteStore) and store.dialect.default_is_union)


def fill(store: Store) -> int:
    """g1 (3 triples), g2 (2, one blank node) and one triple in the default graph where it is
    a graph of its own; the number of quads."""
    store.add([g1(), g2()])
    if not own_default_graph(store):
        return 5
    store.update(f"INSERT DATA {{ <{iri('d')}> {P} <{iri('o')}> }}")
    return 6


def triples(graph: ResourceGraph) -> set[str]:
    return {str(q.triple) for q in ox.parse(graph.ntriples(), format=ox.RdfFormat.N_TRIPLES)}


def canonical(quads: object) -> list[str]:
    dataset = ox.Dataset(quads)  # type: ignore[arg-type]
    dataset.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)
    return sorted(str(q) for q in dataset)


def select(store: Store, sparql: str, **kwargs: Any) -> list[ox.QuerySolution]:
    result = store.query(sparql, **kwargs)
    assert isinstance(result, ox.QuerySolutions)
    return list(result)


def dump(store: Store, format: DumpFormat = "nquads") -> bytes:
    out = io.BytesIO()
    store.export(out, format)
    return out.getvalue()


def content(store: Store) -> list[str]:
    return canonical(ox.parse(dump(store), format=ox.RdfFormat.N_QUADS))


# --- resources ---------------------------------------------------------------


def test_add_then_read(store: Store) -> None:
    store.add([g1(), g2()])
    assert {str(t) for t in store.read(iri("g1"))} == triples(g1())
    assert len(store.read(iri("g2"))) == 2
    assert store.read(iri("missing")) == []


BAD_TERMS = {
    "unterminated": '"oops',
    "injection": f'"x" }} }} ; DROP ALL ; INSERT DATA {{ GRAPH <{EX}evil> {{ <{EX}a> <{EX}b> "y"',
}


@pytest.mark.parametrize("bulk", [False, True], ids=["transaction", "bulk"])
@pytest.mark.parametrize("bad", BAD_TERMS.values(), ids=BAD_TERMS.keys())
def test_add_is_all_or_nothing(store: Store, bad: str, bulk: bool) -> None:
    keep = ResourceGraph(iri("keep"), [(f"<{iri('k')}>", P, lit("k"))])
    store.add([keep])
    broken = ResourceGraph(iri("broken"), [(f"<{iri('x')}>", P, bad)])
    with pytest.raises(MalformedInput):
        store.add([g1(), broken, g2()], bulk=bulk)
    assert store.existing([iri("g1"), iri("broken"), iri("g2"), iri("evil")]) == set()
    assert list(store.graphs()) == [iri("keep")]
    assert store.count() == 1


def test_bad_graph_iri_is_refused(store: Store) -> None:
    store.add([g2()])
    evil = ResourceGraph(f"{EX}g> {{ }} }} ; DROP ALL ; INSERT DATA {{ GRAPH <{EX}h", g1().triples)
    with pytest.raises(MalformedInput):
        store.add([evil])
    with pytest.raises(MalformedInput):
        store.replace(evil)
    assert store.count() == 2


def test_replace_swaps_one_graph(store: Store) -> None:
    store.add([g1(), g2()])
    new = ResourceGraph(iri("g1"), [(f"<{iri('s9')}>", P, lit("new"))])
    store.replace(new)
    assert {str(t) for t in store.read(iri("g1"))} == triples(new)
    assert store.count(iri("g2")) == 2
    store.replace(ResourceGraph(iri("g3"), [(f"<{iri('s3')}>", P, lit("created"))]))
    assert store.exists(iri("g3"))
    with pytest.raises(MalformedInput):  # a failed replace leaves the old graph
        store.replace(ResourceGraph(iri("g1"), [(f"<{iri('s9')}>", P, '"oops')]))
    assert {str(t) for t in store.read(iri("g1"))} == triples(new)


def test_delete(store: Store) -> None:
    store.add([g1(), g2()])
    assert store.delete(iri("g1")) is True
    assert store.delete(iri("g1")) is False
    assert store.delete(iri("never")) is False
    assert list(store.graphs()) == [iri("g2")]


def test_existing(store: Store) -> None:
    store.add([g1(), g2()])
    many = [iri(f"other{i}") for i in range(1200)] + [iri("g2"), iri("g1"), iri("g1")]
    assert store.existing(many) == {iri("g1"), iri("g2")}
    assert store.existing([]) == set()
    assert store.exists(iri("g1")) and not store.exists(iri("other1"))


# --- SPARQL ------------------------------------------------------------------


def test_query_union_default_graph(store: Store) -> None:
    fill(store)
    rows = select(store, f"SELECT ?o WHERE {{ <{iri('s2')}> {P} ?o }}")
    assert [row["o"] for row in rows] == [ox.Literal("say")]
    assert bool(store.query(f"ASK {{ <{iri('s1')}> {P} ?o }}"))
    constructed = store.query(f"CONSTRUCT WHERE {{ <{iri('s1')}> ?p ?o }}")
    assert isinstance(constructed, ox.QueryTriples)
    assert {str(t) for t in constructed} == triples(g1())
    # without the union, the default graph is only the default graph (where there is one)
    alone = store.query(f"ASK {{ <{iri('s1')}> {P} ?o }}", default_graph_union=False)
    assert bool(alone) is not own_default_graph(store)
    if own_default_graph(store):
        assert bool(store.query(f"ASK {{ <{iri('d')}> {P} ?o }}", default_graph_union=False))


def test_query_graph_restrictions(store: Store) -> None:
    fill(store)
    rows = select(store, "SELECT ?s WHERE { ?s ?p ?o }", default_graphs=[iri("g2")])
    assert {str(row["s"]) for row in rows if isinstance(row["s"], ox.NamedNode)} == {
        f"<{iri('s2')}>"
    }
    rows = select(
        store,
        "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }",
        default_graph_union=False,
        named_graphs=[iri("g1")],
    )
    assert [row["g"] for row in rows] == [ox.NamedNode(iri("g1"))]


def test_query_substitutions(store: Store) -> None:
    quads = fill(store)
    query = f"SELECT ?s ?o WHERE {{ ?s {P} ?o }}"  # pyoxigraph binds projected variables only
    rows = select(store, query, substitutions={"o": ox.Literal(TRICKY)})
    assert [row["s"] for row in rows] == [ox.NamedNode(iri("s1"))]
    rows = select(store, query + " # a trailing comment", substitutions={"o": ox.Literal("say")})
    assert [row["s"] for row in rows] == [ox.NamedNode(iri("s2"))]
    rows = select(
        store,
        f"SELECT ?s ?o WHERE {{ ?s {P} ?o }} ORDER BY ?o",
        substitutions={"s": ox.NamedNode(iri("s2"))},
    )
    assert [row["o"] for row in rows] == [ox.Literal("say")]
    assert not bool(store.query(f"ASK {{ ?s {P} ?o }}", substitutions={"o": ox.Literal("nope")}))
    assert store.count() == quads  # nothing in TRICKY ran


def test_malformed_query(store: Store) -> None:
    with pytest.raises(QueryError) as error:
        store.query("SELECT ?s WHERE { ?s ?p }")
    # the place: line 1 and its column (Virtuoso: only the line)
    assert re.search(r"\b1:\d+|\bline 1\b", error.value.message), error.value.message


def test_update(store: Store) -> None:
    store.update(f"INSERT DATA {{ GRAPH <{iri('u')}> {{ <{iri('a')}> {P} 1 }} }}")
    assert store.count(iri("u")) == 1
    store.update(f"DELETE WHERE {{ GRAPH <{iri('u')}> {{ ?s ?p ?o }} }}")
    assert store.count(iri("u")) == 0
    with pytest.raises(QueryError):
        store.update("INSERT DATA { <a> <b> }")
    # one update request is one transaction: the failing DROP undoes the INSERT (Virtuoso
    # keeps what ran before an operation that fails as it runs: the README's engine table)
    with pytest.raises(JobtrailError, match="does not exist|has not been explicitly created"):
        store.update(
            f"INSERT DATA {{ GRAPH <{iri('t')}> {{ <{iri('a')}> {P} 1 }} }} ;\n"
            f"DROP GRAPH <{iri('no')}>"
        )
    atomic = not isinstance(store, RemoteStore) or store.dialect.atomic_updates
    assert store.exists(iri("t")) is not atomic
    # an update refused as it is read changes nothing, on every engine
    with pytest.raises(QueryError):
        store.update(f"DROP SILENT GRAPH <{iri('t')}> ;\nINSERT DATA {{ <a> <b> }}")
    assert store.exists(iri("t")) is not atomic


# --- whole store -------------------------------------------------------------


def test_count(store: Store) -> None:
    assert store.count() == 0
    quads = fill(store)
    assert store.count() == quads  # the default graph counts too, where it is one of its own
    assert (store.count(iri("g1")), store.count(iri("g2")), store.count(iri("none"))) == (3, 2, 0)


def test_graphs(store: Store) -> None:
    assert list(store.graphs()) == []
    fill(store)
    assert sorted(store.graphs()) == [iri("g1"), iri("g2")]


@pytest.mark.parametrize("format", ["nquads", "trig"])
def test_export_import_round_trip(store: Store, format: DumpFormat) -> None:
    quads = fill(store)
    expected = content(store)
    assert len(expected) == quads
    data = dump(store, format)
    assert canonical(ox.parse(data, format=RDF_FORMATS[format])) == expected
    emptied(store)
    store.import_(io.BytesIO(data), format)
    assert store.count() == quads
    assert content(store) == expected
    with OxigraphStore(None) as other:  # and into another backend
        other.import_(io.BytesIO(data), format)
        assert content(other) == expected


def test_import_malformed(store: Store) -> None:
    with pytest.raises(MalformedInput, match="line 2"):
        store.import_(io.BytesIO(f'<{EX}a> {P} <{EX}b> .\n<{EX}a> {P} "oops .\n'.encode()))


# --- embedded only -----------------------------------------------------------


def run_python(code: str, *args: str, **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-c", textwrap.dedent(code), *args], text=True, **kwargs
    )


def test_store_locked_by_another_process(tmp_path: Path) -> None:
    holder = run_python(
        """
        import sys
        from jobtrail.store.oxigraph import OxigraphStore
        store = OxigraphStore(sys.argv[1])
        print("ready", flush=True)
        sys.stdin.read()
        store.close()
        """,
        str(tmp_path / "data"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "ready\n"
        with pytest.raises(StoreLocked) as error:
            OxigraphStore(tmp_path / "data")
        assert "in use" in error.value.message and error.value.hint
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    OxigraphStore(tmp_path / "data").close()  # free again


def test_journal_drops_half_written_graph(tmp_path: Path) -> None:
    path = tmp_path / "data"
    store = OxigraphStore(path)
    store.add([g1()], bulk=True)
    store.close()
    half = ResourceGraph(iri("half"), [(f"<{iri(f's{i}')}>", P, lit(str(i))) for i in range(10)])
    raw = ox.Store(str(path))  # a crash after part of a bulk batch was written
    raw.bulk_load(ResourceGraph(half.iri, half.triples[:5]).nquads(), format=ox.RdfFormat.N_QUADS)
    raw.flush()
    del raw
    (path / JOURNAL).write_text(half.iri + "\n", encoding="utf-8")
    store = OxigraphStore(path)
    try:
        assert not store.exists(half.iri)
        assert store.count(iri("g1")) == 3
        assert not (path / JOURNAL).exists()
    finally:
        store.close()


GRAPHS, TRIPLES = 4, 2500


def test_kill_9_during_bulk_add(tmp_path: Path) -> None:
    path = tmp_path / "data"
    writer = run_python(
        """
        import sys
        from jobtrail.store.base import ResourceGraph
        from jobtrail.store.oxigraph import OxigraphStore
        path, ex, graphs, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        store = OxigraphStore(path)
        for n in range(100_000):
            batch = [
                ResourceGraph(
                    f"{ex}b{n}/g{k}",
                    [(f"<{ex}s{i}>", f"<{ex}p>", f'"{n} {k} {i}"') for i in range(size)],
                )
                for k in range(graphs)
            ]
            store.add(batch, bulk=True)
            print(f"stored {n}", flush=True)
        """,
        str(path),
        EX,
        str(GRAPHS),
        str(TRIPLES),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    reported: list[int] = []
    times: list[float] = []
    try:
        assert writer.stdout is not None
        while len(reported) < 6:
            line = writer.stdout.readline()
            assert line, writer.stderr.read() if writer.stderr else "writer died"
            reported.append(int(line.split()[1]))
            times.append(time.monotonic())
        # most of a batch is spent in bulk_load: aim for its middle
        time.sleep((times[-1] - times[1]) / (len(times) - 2) / 2)
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
    store = OxigraphStore(path)
    try:
        present = list(store.graphs())
        batches = {int(re.findall(r"b(\d+)/", g)[0]) for g in present}
        assert set(reported) <= batches
        assert len(present) == GRAPHS * len(batches)  # whole batches only
        for graph in present:
            assert store.count(graph) == TRIPLES, graph
    finally:
        store.close()


# --- remote only -------------------------------------------------------------


def test_unreachable_endpoint(unused_port: int) -> None:
    url = f"http://127.0.0.1:{unused_port}"
    with RemoteStore.from_url(url, timeout=5) as store:
        for call in (store.count, lambda: store.add([g1()])):
            with pytest.raises(RemoteStoreError) as error:
                call()
            assert f"{url}/" in error.value.message
            assert error.value.hint and "running" in error.value.hint


def test_endpoint_timeout() -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with (
            RemoteStore.from_url(url, timeout=0.3) as store,
            pytest.raises(RemoteStoreError) as error,
        ):
            store.count()
    assert error.value.message == f"{url}/query did not answer within 0.3s"


def test_endpoints_from_url() -> None:
    def urls(url: str) -> tuple[str, str, str | None]:
        store = RemoteStore.from_url(url)
        store.close()
        return store.query_url, store.update_url, store.gsp_url

    root = "http://h:7878"
    assert urls(root) == urls(root + "/") == (f"{root}/query", f"{root}/update", f"{root}/store")
    assert urls(f"{root}/x/query") == (f"{root}/x/query", f"{root}/x/update", f"{root}/x/store")
    assert urls(f"{root}/ds/sparql") == (f"{root}/ds/sparql", f"{root}/ds/update", None)
    assert urls(f"{root}/ds") == (f"{root}/ds",) * 3
    remote = open_store(root)
    assert isinstance(remote, RemoteStore)
    assert remote.description == f"remote SPARQL endpoint at {root}/query"
    remote.close()


def test_remote_without_graph_store_protocol(oxigraph_server: str) -> None:
    """Reads and exports fall back to CONSTRUCT when there is no GSP endpoint."""
    with RemoteStore(f"{oxigraph_server}/query", f"{oxigraph_server}/update") as store:
        store.update("DROP ALL")
        fill(store)
        assert {str(t) for t in store.read(iri("g1"))} == triples(g1())
        assert store.read(iri("missing")) == []
        assert len(content(store)) == 6


def test_remote_bulk_add_split_and_undone(
    oxigraph_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large bulk add goes in several requests; a failing one undoes the earlier ones."""
    monkeypatch.setattr("jobtrail.store.remote.MAX_UPDATE_BYTES", 300)
    with RemoteStore.from_url(oxigraph_server) as store:
        assert isinstance(store, RemoteStore)
        store.update("DROP ALL")
        sent: list[str] = []
        real_update = store._update

        def update(sparql: str) -> None:
            sent.append(sparql)
            real_update(sparql)

        monkeypatch.setattr(store, "_update", update)
        store.add([g1(), g2()], bulk=True)
        assert len(sent) == 2 and store.count() == 5

        def failing_third(sparql: str) -> None:
            update(sparql)
            if len(sent) == 4:
                raise RemoteStoreError("endpoint went away")

        sent.clear()
        monkeypatch.setattr(store, "_update", failing_third)
        graphs = [ResourceGraph(iri(f"x{i}"), g1().triples) for i in range(4)]
        with pytest.raises(RemoteStoreError):
            store.add(graphs, bulk=True)
        assert sent[-1].startswith("DROP SILENT GRAPH")
        assert store.existing(g.iri for g in graphs) == set() and store.count() == 5
