"""Tamper evidence: messages sealed into one log; `verify` names what changed behind its back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyoxigraph as ox
import pytest
from jobtrail.ingest.load import Loader
from jobtrail.ingest.seal import Log, content_digest, stored_digest, verify
from jobtrail.ingest.sources import from_paths
from jobtrail.jobs.core import Jobs
from jobtrail.store import ResourceGraph
from jobtrail.store.oxigraph import OxigraphStore

from tests.conftest import EXAMPLES_DIR, tna_examples

BASE = "http://s/"
JT = "https://w3id.org/jobtrail/vocab#"


def loaded(path: Path | None = None) -> OxigraphStore:
    store = OxigraphStore(path)
    paths = [str(EXAMPLES_DIR), *map(str, tna_examples())]
    assert Loader(store, base=BASE).load(from_paths(paths)).rejected == []
    return store


def positions(store: OxigraphStore) -> list[int]:
    rows = store.query(f"SELECT ?n WHERE {{ ?m <{JT}logPosition> ?n }} ORDER BY ?n")
    return [int(r["n"].value) for r in rows]  # type: ignore[union-attr]


def test_every_message_is_sealed_and_verifies() -> None:
    with loaded() as store:
        assert positions(store) == list(range(1, len(positions(store)) + 1))
        assert len(positions(store)) == 31 + len(tna_examples())
        assert list(verify(store)) == []


def test_the_digest_of_what_was_written_is_the_digest_of_what_is_read_back() -> None:
    """The canonical form survives Oxigraph's own normalisation of typed literals."""
    with OxigraphStore(None) as store:
        triples = [
            ("<http://s/m>", "<http://p/1>", '"01"^^<http://www.w3.org/2001/XMLSchema#integer>'),
            ("<http://s/m>", "<http://p/2>", '"1.50"^^<http://www.w3.org/2001/XMLSchema#decimal>'),
            ("<http://s/m>", "<http://p/3>", '"1"^^<http://www.w3.org/2001/XMLSchema#boolean>'),
            (
                "<http://s/m>",
                "<http://p/4>",
                '"2022-08-04T16:47:49.500+00:00"^^<http://www.w3.org/2001/XMLSchema#dateTime>',
            ),
            ("<http://s/m>", "<http://p/5>", '"caf\\u00e9 \\"q\\"\\n"'),
            ("<http://s/m>", "<http://p/6>", '"Hello"@EN'),
            ("_:b0", "<http://p/7>", '"x"'),
        ]
        store.add([ResourceGraph("http://s/m", triples)])
        assert stored_digest(store.read("http://s/m")) == content_digest(triples)


def tamper(store: OxigraphStore, message: str, predicate: str, value: str) -> None:
    """Change one triple of a message straight in the engine, behind jobtrail's back."""
    engine = store._store  # the pyoxigraph store itself
    g, s, p = ox.NamedNode(message), ox.NamedNode(message), ox.NamedNode(predicate)
    for quad in list(engine.quads_for_pattern(s, p, None, g)):
        engine.remove(quad)
    engine.add(ox.Quad(s, p, ox.Literal(value), g))


def message_at(store: OxigraphStore, n: int) -> str:
    rows = store.query(f"SELECT ?m ?n WHERE {{ ?m <{JT}logPosition> ?n }}")
    return next(r["m"].value for r in rows if int(r["n"].value) == n)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "predicate, value, problem",
    [
        (f"{JT}producerType", "not what it said", "not the ones it was stored with"),
        (f"{JT}originalText", "{}", "not the ones it was stored with"),
    ],
)
def test_an_edited_triple_is_named(predicate: str, value: str, problem: str) -> None:
    with loaded() as store:
        victim = message_at(store, 3)
        tamper(store, victim, predicate, value)
        (first, *_) = list(verify(store))
        assert first.message == victim and first.position == 3 and problem in first.problem


def test_a_removed_message_breaks_the_log() -> None:
    with loaded() as store:
        victim = message_at(store, 5)
        store.delete(victim)
        (first, *_) = list(verify(store))
        assert first.position == 6 and "jumps" in first.problem


def test_the_log_goes_on_across_loads_and_job_changes(tmp_path: Path) -> None:
    with loaded(tmp_path / "data") as store:
        before = len(positions(store))
    with OxigraphStore(tmp_path / "data") as store:
        jobs = Jobs(store, BASE, log=Log(store))
        job = jobs.create(profile="Fixity", input="http://h/x")
        jobs.set_phase(job.id, "QUEUED")
        assert positions(store) == list(range(1, before + 3))
        assert list(verify(store)) == []


def test_jobtrail_verify_on_the_command_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    jobtrail = [sys.executable, "-m", "jobtrail.cli"]
    subprocess.run(
        [*jobtrail, "load", str(EXAMPLES_DIR), "--store", str(data), "--silent"], check=True
    )
    ok = subprocess.run([*jobtrail, "verify", "--store", str(data)], capture_output=True, text=True)
    assert ok.returncode == 0 and "verified 31 messages" in ok.stdout
    with OxigraphStore(data) as store:
        victim = message_at(store, 7)
        tamper(store, victim, f"{JT}mediaType", "text/plain")
    bad = subprocess.run(
        [*jobtrail, "verify", "--store", str(data)], capture_output=True, text=True
    )
    assert bad.returncode == 1 and victim in bad.stderr and "#7" in bad.stderr
