"""Bulk loads into `oxigraph serve` through the Graph Store Protocol (store/remote_bulk.py).

A batch is one streamed N-Quads POST: what it stores is what the embedded loader stores,
and a batch the engine refuses, an engine killed mid-batch, a loader killed mid-batch and
an aborted batch all leave none of it.
"""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pyoxigraph as ox
import pytest
from jobtrail.base import nt
from jobtrail.base.errors import MalformedInput, RemoteStoreError
from jobtrail.cli.main import main
from jobtrail.ingest import load
from jobtrail.ingest.load import Loader
from jobtrail.ingest.message import Incoming
from jobtrail.ingest.seal import verify
from jobtrail.ingest.sources import from_paths
from jobtrail.store import ResourceGraph, Store, remote_bulk
from jobtrail.store.base import BulkWriter
from jobtrail.store.oxigraph import OxigraphStore
from jobtrail.store.remote import RemoteStore
from jobtrail.store.remote_bulk import GspWriter

from tests.conftest import free_port, oxigraph_binary, wait_for
from tests.ingest.test_load import BASE, EXAMPLES, tre

ROOT = Path(__file__).resolve().parents[2]


def graphs(prefix: str, n: int) -> list[ResourceGraph]:
    """n graphs of 20 triples each, named under `prefix`."""
    out = []
    for i in range(n):
        g = f"http://example.org/{prefix}/{i}"
        triples = [
            (f"<{g}#s>", f"<http://example.org/p{k}>", nt.lit(f"{i}-{k}")) for k in range(20)
        ]
        out.append(ResourceGraph(g, triples))
    return out


def canonical(store: Store) -> list[str]:
    out = io.BytesIO()
    store.export(out)
    dataset = ox.Dataset(ox.parse(out.getvalue(), format=ox.RdfFormat.N_QUADS))
    dataset.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)
    return sorted(str(q) for q in dataset)


@pytest.fixture
def remote(oxigraph_server: str) -> Iterator[RemoteStore]:
    store = RemoteStore.from_url(oxigraph_server)
    store.update("DROP ALL")
    yield store
    store.close()


class Server:
    """An `oxigraph serve` of this test's own, to kill and start again on the same data."""

    def __init__(self, location: Path) -> None:
        binary = oxigraph_binary()
        if binary is None:
            pytest.skip("no `oxigraph` server binary (pip install oxigraph)")
        self.binary, self.location, self.port = binary, location, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.location.with_suffix(".log")
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                [
                    self.binary,
                    "serve",
                    "--location",
                    str(self.location),
                    "--bind",
                    f"127.0.0.1:{self.port}",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_for(
            self.process,
            f"{self.url}/query?query=ASK%7B%7D",
            "oxigraph server",
            lambda: log.read_text(errors="replace"),
        )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.process = None


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    s = Server(tmp_path / "engine")
    s.start()
    yield s
    if s.process is not None:
        s.process.terminate()
        s.process.wait()


def test_a_gsp_load_stores_what_the_embedded_load_stores(
    remote: RemoteStore, oxigraph_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The examples and 130 messages in batches of 40 sent in chunks of 15: the same quads
    (seals included), the same log, and `verify` finds nothing on the engine."""
    writer = remote.bulk_writer()
    assert isinstance(writer, GspWriter) and writer.params == {"no_transaction": ""}
    writer.abort()
    monkeypatch.setattr(load, "CHUNK", 15)
    stored_at = nt.now()  # both loads record the same time: their seals are then the same
    monkeypatch.setattr(nt, "now", lambda: stored_at)

    def items() -> Iterator[object]:
        yield from from_paths([str(EXAMPLES)])
        yield from (Incoming(tre(n), f"m{n}.json") for n in range(130))

    with OxigraphStore(tmp_path / "embedded") as embedded:
        reports = [
            Loader(store, base=BASE, batch_size=40).load(items())  # type: ignore[arg-type]
            for store in (embedded, remote)
        ]
        assert reports[0].stored == reports[1].stored == 161 and not reports[1].rejected
        assert canonical(remote) == canonical(embedded)
        assert list(verify(remote)) == []
    assert main(["verify", "--store", oxigraph_server]) == 0


def test_a_batch_the_engine_refuses_leaves_none_of_it(remote: RemoteStore) -> None:
    """The writer does not parse triples: the engine refuses the batch when the body ends,
    and none of the batch is stored, the graphs before the bad one included."""
    bad = ResourceGraph("http://example.org/bad", [("<http://a>", "<http://b>", '"unterminated')])
    writer = remote.bulk_writer()
    writer.write(graphs("before", 50))
    writer.write([bad])
    writer.write(graphs("after", 50))
    with pytest.raises(MalformedInput, match="refused the batch"):
        writer.close()
    writer.abort()
    assert remote.count() == 0
    remote.add(graphs("next", 3), bulk=True)  # the engine goes on
    assert remote.count() == 60


def test_abort_leaves_nothing(remote: RemoteStore) -> None:
    """Aborted while its body streams: the engine refuses the truncated batch, and the
    graphs are dropped besides; a batch closed before stays."""
    kept = remote.bulk_writer()
    kept.write(graphs("kept", 5))
    kept.close()
    writer = remote.bulk_writer()
    writer.write(graphs("a", 200))
    time.sleep(0.2)  # the engine has been reading
    writer.write(graphs("b", 200))
    writer.abort()
    assert remote.count() == 100
    assert remote.existing(g.iri for g in graphs("a", 200) + graphs("b", 200)) == set()


def test_a_malformed_graph_name_or_line_break_is_refused_before_sending(
    remote: RemoteStore,
) -> None:
    writer = remote.bulk_writer()
    with pytest.raises(MalformedInput, match="graph <http://x y>"):
        writer.write([ResourceGraph("http://x y", [("<http://a>", "<http://b>", "<http://c>")])])
    forged = ("<http://a>", "<http://b>", "<http://c> <http://evil> .\n<http://d>")
    with pytest.raises(MalformedInput, match="line break"):
        writer.write([*graphs("ok", 2), ResourceGraph("http://example.org/g", [forged])])
    carriage = ("<http://a>", "<http://b>", "<http://c> <http://evil> .\r<http://d>")
    with pytest.raises(MalformedInput, match="line break"):
        writer.write([ResourceGraph("http://example.org/g", [carriage])])
    writer.close()
    assert remote.count() == 0


def test_an_engine_killed_mid_batch_keeps_none_of_it(server: Server) -> None:
    """The engine dies while a batch streams: the load fails, and the engine started
    again on the same data holds nothing of that batch (and all of the one before)."""
    with RemoteStore.from_url(server.url, timeout=5) as store:
        first = store.bulk_writer()
        first.write(graphs("first", 10))
        first.close()
        writer = store.bulk_writer()
        writer.write(graphs("a", 500))
        time.sleep(0.3)
        server.kill()
        writer.write(graphs("b", 10))
        with pytest.raises(RemoteStoreError):
            writer.close()
        writer.abort()  # the drop cannot reach the engine either: nothing raised
    server.start()
    with RemoteStore.from_url(server.url) as store:
        assert store.count() == 200
        assert set(store.graphs()) == {g.iri for g in graphs("first", 10)}


LOADER_KILLED = """
import sys, time
from jobtrail.store.remote import RemoteStore
from tests.store.test_remote_bulk import graphs
store = RemoteStore.from_url(sys.argv[1])
store.bulk_writer().write(graphs("killed", 500))
print("written", flush=True)
time.sleep(60)
"""


def test_a_loader_killed_mid_batch_leaves_none_of_it(remote: RemoteStore) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", LOADER_KILLED, remote.query_url.removesuffix("/query")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline() == "written\n"
    time.sleep(0.3)  # the engine has read the quads
    process.send_signal(signal.SIGKILL)
    process.wait()
    time.sleep(1)  # what the engine would do with the cut body, it has done
    assert remote.count() == 0
    remote.add(graphs("next", 1), bulk=True)
    assert remote.count() == 20


def test_idle_loader_keeps_the_request_open(
    remote: RemoteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blank lines go out while no chunk comes (valid N-Quads): the batch is stored."""
    monkeypatch.setattr(remote_bulk, "KEEPALIVE", 0.05)
    writer = remote.bulk_writer()
    writer.write(graphs("a", 3))
    time.sleep(0.3)
    writer.write(graphs("b", 3))
    writer.close()
    assert remote.count() == 120


@pytest.mark.parametrize("path", ["gsp", "gsp-transaction", "sparql"])
def test_each_bulk_path_stores_the_batch(
    remote: RemoteStore, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    monkeypatch.setenv(remote_bulk.MODE_ENV, path)
    writer = remote.bulk_writer()
    if path == "sparql":
        assert type(writer) is BulkWriter
    else:
        assert isinstance(writer, GspWriter)
        assert writer.params == ({} if path == "gsp-transaction" else {"no_transaction": ""})
    writer.write(graphs("a", 4))
    writer.write(graphs("b", 4))
    writer.close()
    assert remote.count() == 160


def test_no_quads_endpoint_falls_back_to_updates(
    oxigraph_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with RemoteStore(f"{oxigraph_server}/query", f"{oxigraph_server}/update") as store:
        assert type(store.bulk_writer()) is BulkWriter  # no GSP endpoint
    # a GSP endpoint that does not take N-Quads: the SPARQL endpoint answers 415
    query = f"{oxigraph_server}/query"
    with RemoteStore(query, f"{oxigraph_server}/update", query) as store:
        assert type(store.bulk_writer()) is BulkWriter
    monkeypatch.setenv(remote_bulk.MODE_ENV, "fast")
    with (
        RemoteStore.from_url(oxigraph_server) as store,
        pytest.raises(RemoteStoreError, match="JOBTRAIL_REMOTE_BULK='fast'"),
    ):
        store.bulk_writer()
