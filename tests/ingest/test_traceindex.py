"""The trace index: written with every message, the same hops as the messages' graphs give,
rebuilt from a dump, and a stale entry is a finding of `jobtrail verify`."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from jobtrail.ingest import traceindex
from jobtrail.ingest.load import Loader
from jobtrail.ingest.seal import Log
from jobtrail.ingest.sources import from_paths
from jobtrail.jobs.core import Jobs
from jobtrail.jobs.hops import Hops, request_bytes, response_bytes
from jobtrail.queries.trace import trace
from jobtrail.store import ResourceGraph, Store
from jobtrail.store.oxigraph import OxigraphStore

from tests.conftest import EXAMPLES_DIR, tna_examples

BASE = "http://s/"
JT = "https://w3id.org/jobtrail/vocab#"
JOBTRAIL = [sys.executable, "-m", "jobtrail.cli"]


def fill(store: Store) -> str:
    """The examples, TNA's examples and a job with its HTTP hops; the job's id."""
    paths = [str(EXAMPLES_DIR), *map(str, tna_examples())]
    assert Loader(store, base=BASE).load(from_paths(paths)).rejected == []
    jobs = Jobs(store, BASE, log=Log(store))
    job = jobs.create(profile="Fixity", input="http://h/x")
    jobs.set_phase(job.id, "QUEUED")
    hops = Hops(jobs)
    hops.record(job.id, request_bytes("POST", f"{BASE}jobs", b"{}"), "test")
    hops.record(job.id, response_bytes(201, b'{"ok": true}'), "test")
    return job.id


def keys(store: Store) -> list[str]:
    """Every UUID, reference and execution id a stored message states."""
    query = f"""SELECT DISTINCT ?k WHERE {{
      {{ ?m <{JT}carriesUUID> ?k }} UNION {{ ?m <{JT}parameterSet>/<{JT}reference> ?k }}
      UNION {{ ?m <{JT}executionId> ?k }} UNION {{ ?m <{JT}parentExecutionId> ?k }} }}"""
    return sorted(row["k"].value for row in store.query(query))  # type: ignore[union-attr]


def traces(store: Store, found: list[str]) -> dict[str, object]:
    return {k: trace(store, k).as_json() for k in found}


def without_index(store: Store) -> None:
    """The store as an earlier release left it: no entries, no marker."""
    for g in [g for g in store.graphs() if traceindex.is_index(g)]:
        store.delete(g)


@pytest.fixture
def store() -> Iterator[Store]:
    with OxigraphStore(None) as s:
        yield s


def test_every_writer_writes_the_entry_and_a_trace_reads_the_same_hops(store: Store) -> None:
    job_id = fill(store)
    assert traceindex.complete(store)
    assert list(traceindex.stale(store)) == []
    found = keys(store)
    assert len(found) > 20 and f"urn:uuid:{job_id}" in found
    indexed = traces(store, found)
    job_trace = trace(store, job_id)
    assert [h.kind for h in job_trace.hops].count("HTTPMessage") == 2  # the hops' entries
    without_index(store)
    assert not traceindex.complete(store)
    assert traces(store, found) == indexed  # the messages' own graphs: the same hops
    assert traceindex.reindex(store) > 20
    assert traceindex.complete(store) and list(traceindex.stale(store)) == []
    assert traces(store, found) == indexed


def test_a_stale_entry_is_named(store: Store) -> None:
    fill(store)
    victim = next(m for m in traceindex.messages(store) if store.exists(traceindex.index_iri(m)))
    entry = traceindex.index_iri(victim)
    held = [(str(t.subject), str(t.predicate), str(t.object)) for t in store.read(entry)]
    hop = f"<{traceindex.HOP}>"
    changed = [(s, p, '"{}"' if p == hop else o) for s, p, o in held]  # what a trace shows
    store.replace(ResourceGraph(entry, changed))
    ((iri, problem),) = list(traceindex.stale(store))
    assert iri == victim and "not what its triples give" in problem
    store.delete(entry)
    ((iri, problem),) = list(traceindex.stale(store))
    assert iri == victim and "no trace index entry" in problem
    orphan = "http://s/messages/none"
    store.add([ResourceGraph(traceindex.index_iri(orphan), held)])
    assert [i for i, _ in traceindex.stale(store)] == [victim, orphan]
    traceindex.reindex(store)
    assert list(traceindex.stale(store)) == []


def test_a_dump_is_indexed_again_and_a_stale_entry_fails_verify(tmp_path: Path) -> None:
    data, copy, dump = tmp_path / "data", tmp_path / "copy", tmp_path / "dump.nq"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*JOBTRAIL, *args], capture_output=True, text=True, cwd=tmp_path)

    assert run("load", str(EXAMPLES_DIR), "--store", str(data), "--silent").returncode == 0
    ok = run("verify", "--store", str(data))
    assert ok.returncode == 0 and "every trace index entry matches its message" in ok.stdout
    with OxigraphStore(data) as store:
        found = keys(store)
        before = traces(store, found)
        victim = next(m for m in traceindex.messages(store) if store.exists(m + "#trace"))
        entry = traceindex.index_iri(victim)
        held = [(str(t.subject), str(t.predicate), str(t.object)) for t in store.read(entry)]
        # a dump whose entry says something else: the load writes it again from the message
        store.replace(ResourceGraph(entry, held[:-1]))
    bad = run("verify", "--store", str(data))
    assert bad.returncode == 1 and victim in bad.stderr and "trace index entry" in bad.stderr
    assert run("export", "--store", str(data), "-o", str(dump)).returncode == 0
    loaded = run("load", str(dump), "--store", str(copy))
    assert loaded.returncode == 0, loaded.stderr
    again = run("verify", "--store", str(copy))
    assert again.returncode == 0 and "every trace index entry matches" in again.stdout
    with OxigraphStore(copy) as store:
        assert traces(store, found) == before
    assert run("reindex", "--store", str(data)).returncode == 0
    assert run("verify", "--store", str(data)).returncode == 0


def test_a_store_an_earlier_release_wrote_traces_and_is_reindexed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with OxigraphStore(data) as store:
        fill(store)
        found = keys(store)
        before = traces(store, found)
        without_index(store)
    # a server (or load) opening it does not mark it: its messages have no entries yet
    with OxigraphStore(data) as store:
        assert not traceindex.settle(store)
        assert list(traceindex.stale(store)) == []
        assert traces(store, found) == before
    old = subprocess.run(
        [*JOBTRAIL, "verify", "--store", str(data)], capture_output=True, text=True
    )
    assert old.returncode == 0 and "no trace index: `jobtrail reindex`" in old.stdout
    done = subprocess.run(
        [*JOBTRAIL, "reindex", "--store", str(data)], capture_output=True, text=True
    )
    assert done.returncode == 0 and "trace index entries of" in done.stderr
    with OxigraphStore(data) as store:
        assert traceindex.complete(store) and list(traceindex.stale(store)) == []
        assert traces(store, found) == before
