"""The bulk loader, on every store backend: batches, duplicates, rejections, warnings."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from jobtrail.base.errors import InputError, MalformedInput, ValidationFailed
from jobtrail.ingest.load import Loader
from jobtrail.ingest.message import Incoming, Message
from jobtrail.ingest.sources import from_paths
from jobtrail.store import ResourceGraph, Store

BASE = "http://127.0.0.1:8000/"
JT = "https://w3id.org/jobtrail/vocab#"
EXAMPLES = Path(__file__).parents[2] / "examples"
TRE_SEED = EXAMPLES / "tre-enhanced-messages" / "01-tdr-export.json"


def tre(n: int, **changes: object) -> bytes:
    """A valid TRE message made unique by `n`, with top-level keys changed."""
    doc = json.loads(TRE_SEED.read_text())
    doc["timestamp"] = str(1659631669 + n)
    doc.update(changes)
    return json.dumps(doc).encode()


def ask(store: Store, query: str) -> bool:
    return bool(store.query("PREFIX jt: <https://w3id.org/jobtrail/vocab#>\n" + query))


def test_examples_load_on_every_backend(store: Store) -> None:
    report = Loader(store, base=BASE).load(from_paths([str(EXAMPLES)]))
    assert report.rejected == []
    assert report.stored == 31  # 6 TRE messages + 25 HTTP messages of the FIMS flow
    # every TRE hop of the seed: its timestamps are strings and it names no event-name, which
    # TNA's JSON Schema asks for (besides the shapes' not-quite-UUIDs and placeholder key)
    assert report.warned == 6
    assert ask(store, "ASK { ?m a jt:TREMessage ; jt:addedUUID ?u }")
    # producers live in graphs of their own, one per producer, not one per message
    assert ask(store, "ASK { GRAPH ?g { ?p a jt:Producer } FILTER(?g = ?p) }")
    assert not ask(store, "ASK { GRAPH ?m { ?m a jt:Message . ?p a jt:Producer } }")


def test_second_load_stores_nothing_again(store: Store) -> None:
    Loader(store, base=BASE).load(from_paths([str(EXAMPLES)]))
    before = store.count()
    again = Loader(store, base=BASE).load(from_paths([str(EXAMPLES)]))
    assert (again.stored, again.duplicates) == (0, 31)
    assert store.count() == before


def test_same_bytes_twice_in_one_batch_is_stored_once(store: Store) -> None:
    items = [Incoming(tre(1), "a.json"), Incoming(tre(1), "b.json")]
    report = Loader(store, base=BASE).load(items)
    assert (report.stored, report.duplicates) == (1, 1)


def test_bad_messages_are_rejected_and_the_good_ones_stored(store: Store) -> None:
    items = [
        Incoming(tre(1), "good-1.json"),
        Incoming(tre(2, UUIDs=[]), "no-uuids.json"),
        Incoming(b'{"version": "1.0.0", ', "truncated.json"),
        Incoming(tre(3, timestamp="yesterday"), "bad-time.json"),
        Incoming(tre(4), "good-2.json"),
    ]
    report = Loader(store, base=BASE).load(items)
    assert report.stored == 2
    rejected = {r.source: r.error for r in report.rejected}
    assert set(rejected) == {"no-uuids.json", "truncated.json", "bad-time.json"}
    assert isinstance(rejected["truncated.json"], MalformedInput)
    assert rejected["truncated.json"].location is not None
    assert rejected["truncated.json"].location.line == 1
    no_uuids = rejected["no-uuids.json"]
    assert isinstance(no_uuids, ValidationFailed)
    assert "carries no UUIDs" in no_uuids.describe()
    assert "timestamp" in rejected["bad-time.json"].describe()
    # nothing of a rejected message is in the store
    for data in (tre(2, UUIDs=[]), tre(3, timestamp="yesterday")):
        sha = Incoming(data, "x").sha256
        assert not ask(store, f'ASK {{ ?m jt:sha256 "{sha}" }}')
        assert not store.exists(f"{BASE}messages/{sha}")


def test_warnings_are_kept_with_the_message(store: Store) -> None:
    doc = json.loads(tre(1))  # TNA's schema finds things too: one message warned all the same
    doc["UUIDs"].append({"TRE-UUID": "0009885d-a1fc-46c0-a6c7-e454545454h4"})
    report = Loader(store, base=BASE).load([Incoming(json.dumps(doc).encode(), "w.json")])
    assert (report.stored, report.warned) == (1, 1)
    assert ask(
        store,
        """ASK { ?m jt:validationWarning ?w .
        ?w <http://www.w3.org/ns/shacl#resultSeverity> <http://www.w3.org/ns/shacl#Warning> ;
           <http://www.w3.org/ns/shacl#focusNode> <urn:uuid:0009885d-a1fc-46c0-a6c7-e454545454h4> ;
           <http://www.w3.org/ns/shacl#resultMessage> ?text .
        FILTER(CONTAINS(?text, "not a UUID")) }""",
    )


def test_bulk_batches(store: Store) -> None:
    """250 messages in batches of 120: two batches take the bulk path, one the transactional."""
    items = [Incoming(tre(n), f"m{n}.json") for n in range(250)]
    report = Loader(store, base=BASE, batch_size=120, keep_iris=True).load(items)
    assert report.stored == 250
    assert store.existing(report.stored_iris) == set(report.stored_iris)


def test_a_message_the_engine_refuses_is_rejected_alone(store: Store) -> None:
    """If the store refuses a batch, each message is retried alone and only the culprit fails."""
    bad = ResourceGraph(f"{BASE}messages/bad", [("<http://a>", "<http://b>", '"unterminated')])
    items = [
        Incoming(tre(1), "good-1.json"),
        Message(iri=bad.iri, kind="graph", graph=bad, source="bad.nq"),
        Incoming(tre(2), "good-2.json"),
    ]
    report = Loader(store, base=BASE, validating=False).load(items)
    assert report.stored == 2
    assert [r.source for r in report.rejected] == ["bad.nq"]
    assert isinstance(report.rejected[0].error, InputError)
    assert not store.exists(bad.iri)


@pytest.mark.parametrize("validating", [True, False])
def test_no_validate_stores_what_validation_would_reject(store: Store, validating: bool) -> None:
    report = Loader(store, base=BASE, validating=validating).load(
        [Incoming(tre(1, UUIDs=[]), "x.json")]
    )
    assert report.stored == (0 if validating else 1)


def test_a_load_that_stops_keeps_no_record_after_one_it_did_not_keep(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A chunk the engine refuses is written again one graph at a time into the same batch,
    never committed ahead of the batch's earlier chunks: a load stopped before its batch
    closes keeps none of them, and the log the store holds verifies (issue 18)."""
    from jobtrail.ingest import load
    from jobtrail.ingest.seal import verify
    from jobtrail.store.oxigraph import OxigraphStore

    monkeypatch.setattr(load, "CHUNK", 2)
    lone = '"\ud800"'  # a lone surrogate: no UTF-8 for it, the writer refuses the chunk
    bad = ResourceGraph(f"{BASE}messages/bad", [("<http://a>", "<http://b>", lone)])

    def items() -> Iterator[Incoming | Message]:
        yield from (Incoming(tre(n), f"m{n}.json") for n in range(2))  # the first chunk
        yield Incoming(tre(2), "m2.json")
        yield Message(iri=bad.iri, kind="graph", graph=bad, source="bad.nq")  # refused
        yield Incoming(tre(3), "m3.json")
        raise KeyboardInterrupt  # stopped before the batch closes

    with OxigraphStore(None) as store:
        loader = Loader(store, base=BASE, validating=False, batch_size=100)
        with pytest.raises(KeyboardInterrupt):
            loader.load(items())
        assert list(verify(store)) == []
        assert loader.log.position == 0
        report = Loader(store, base=BASE).load([Incoming(tre(n), f"m{n}.json") for n in range(4)])
        assert report.stored == 4 and list(verify(store)) == []


def test_a_batch_the_engine_refuses_is_sealed_again_with_the_batch_after_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The engine refuses a batch when it closes, while the next one is being written
    (sealed after it): that one is given up, both are stored again one record at a time,
    sealed again in order, and the log verifies with no position lost (issue 18)."""
    from jobtrail.ingest import load
    from jobtrail.ingest.seal import verify
    from jobtrail.store.oxigraph import OxigraphStore

    monkeypatch.setattr(load, "CHUNK", 2)
    bad = ResourceGraph(f"{BASE}messages/bad", [("<http://a>", "<http://b>", '"unterminated')])
    items: list[Incoming | Message] = [
        Incoming(tre(1), "m1.json"),
        Message(iri=bad.iri, kind="graph", graph=bad, source="bad.nq"),
        *(Incoming(tre(n), f"m{n}.json") for n in range(2, 8)),
    ]
    with OxigraphStore(None) as store:
        report = Loader(store, base=BASE, validating=False, batch_size=2).load(items)
        assert report.stored == 7 and [r.source for r in report.rejected] == ["bad.nq"]
        rows = store.query(f"SELECT ?n {{ ?m <{JT}logPosition> ?n }} ORDER BY ?n")
        assert [int(r["n"].value) for r in rows] == list(range(1, 8))  # type: ignore[union-attr]
        assert list(verify(store)) == []
