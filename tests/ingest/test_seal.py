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


# --- a record's triples are sealed as a set, as the store holds them ------------------------

M = "<http://s/m>"
P = "<http://p/about>"


def test_a_triple_listed_twice_is_digested_once() -> None:
    once = [(M, P, "<http://s/jobs/1>"), (M, "<http://p/n>", '"1"')]
    twice = [*once, (M, P, "<http://s/jobs/1>")]
    assert content_digest(twice) == content_digest(once)


def test_two_values_the_store_holds_as_one_are_digested_once() -> None:
    """`01` and `1` are one xsd:integer: the store holds one triple, the digest one line."""
    integer = "<http://www.w3.org/2001/XMLSchema#integer>"
    with OxigraphStore(None) as store:
        triples = [(M, "<http://p/n>", f'"01"^^{integer}'), (M, "<http://p/n>", f'"1"^^{integer}')]
        store.add([ResourceGraph("http://s/m", triples)])
        assert stored_digest(store.read("http://s/m")) == content_digest(triples)


def test_two_blank_nodes_stay_two_triples() -> None:
    """The set is taken before blank nodes lose their labels: `_:a p x` and `_:b p x` are
    two triples of the store, and two lines of the digest."""
    two = [("_:a", "<http://p/v>", '"x"'), ("_:b", "<http://p/v>", '"x"')]
    assert content_digest(two) != content_digest(two[:1])
    with OxigraphStore(None) as store:
        store.add([ResourceGraph("http://s/m", two)])
        assert stored_digest(store.read("http://s/m")) == content_digest(two)


def test_a_record_listing_a_triple_twice_verifies() -> None:
    """Every writer seals through the log: a record with a duplicate is sealed as stored."""
    with OxigraphStore(None) as store:
        log = Log(store)
        triples = [(M, P, "<http://s/jobs/1>"), (M, P, "<http://s/jobs/1>")]
        record = ResourceGraph("http://s/m", triples)
        with log.sealing([record]):
            store.add([record])
            assert len(record.triples) == 1 + 3 + 2  # one triple, the seal, its leaf (index, hash)
        assert list(verify(store)) == []


# --- sealing order: positions follow commits ---------------------------------------------


def test_a_write_that_fails_gives_its_position_back() -> None:
    with OxigraphStore(None) as store:
        log = Log(store)
        first = ResourceGraph("http://s/1", [("<http://s/1>", P, '"a"')])
        with log.sealing([first]):
            store.add([first])
        lost = ResourceGraph("http://s/2", [("<http://s/2>", P, '"b"')])
        with pytest.raises(RuntimeError), log.sealing([lost]):
            raise RuntimeError("the transaction failed")
        assert log.position == log.committed.position == 1
        second = ResourceGraph("http://s/3", [("<http://s/3>", P, '"c"')])
        with log.sealing([second]):
            store.add([second])
        assert positions(store) == [1, 2] and list(verify(store)) == []


def test_concurrent_writers_commit_in_log_order() -> None:
    """Each seal and its write are one critical section: many threads writing at once
    leave a gap-free chain, each record following the one committed before it."""
    import threading

    with OxigraphStore(None) as store:
        jobs = Jobs(store, BASE, log=Log(store))

        def work(k: int) -> None:
            for _ in range(10):
                job = jobs.create(profile="Fixity", input=f"http://h/{k}")
                jobs.set_phase(job.id, "QUEUED")

        threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert positions(store) == list(range(1, 161))
        assert list(verify(store)) == []


def test_a_hop_an_earlier_release_sealed_with_its_about_twice_verifies() -> None:
    """Earlier hop writers listed `jt:about` again and digested the list: the same set of
    triples, so no finding; any other change to such a hop still is one."""
    from jobtrail.ingest.seal import DIGEST, POSITION, PREVIOUS, chain, digest_of_lines

    about = f"<{JT}about>"
    triples = [(M, about, "<http://s/jobs/1>"), (M, "<http://p/n>", '"1"')]
    lines = [f"{s} {p} {o}" for s, p, o in [*triples, triples[0]]]
    sealed = chain("", digest_of_lines(lines))
    seal = [
        (M, f"<{POSITION}>", '"1"^^<http://www.w3.org/2001/XMLSchema#integer>'),
        (M, f"<{PREVIOUS}>", '""'),
        (M, f"<{DIGEST}>", f'"{sealed}"'),
    ]
    with OxigraphStore(None) as store:
        store.add([ResourceGraph("http://s/m", [*triples, *seal])])
        assert list(verify(store)) == []
        tamper(store, "http://s/m", "http://p/n", "2")
        (finding,) = list(verify(store))
        assert "not the ones it was stored with" in finding.problem
