"""Tracing a package's chain across producers, on the seed's messages and TNA's examples."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from jobtrail.base.errors import InputError, NotFound
from jobtrail.ingest.load import Loader
from jobtrail.ingest.message import Incoming
from jobtrail.ingest.sources import from_paths
from jobtrail.queries.trace import Trace, trace
from jobtrail.store import Store
from jobtrail.store.oxigraph import OxigraphStore

from tests.conftest import tna_examples

BASE = "http://s/"
ROOT = Path(__file__).resolve().parents[2]
SEED = sorted((ROOT / "examples" / "tre-enhanced-messages").glob("*.json"))


def load(store: Store, paths: list[Path]) -> None:
    report = Loader(store, base=BASE).load(from_paths([str(p) for p in paths]))
    assert report.rejected == []


@pytest.fixture
def store() -> Iterator[Store]:
    with OxigraphStore(None) as s:
        yield s


def steps(chain: Trace) -> list[tuple[str | None, str | None, int | None]]:
    return [(h.producer, h.process, h.retries) for h in chain.hops]


SEED_STEPS = [
    ("TDR", "consignment-export", 0),
    ("TRE", "receive-and-validate-bag", 1),
    ("TDR", "consignment-export", 1),
    ("TRE", "dri-sip-export", 0),
    ("TRE", "caselaw-export", 0),
    ("Access", "caselaw-retry", 1),
]


@pytest.mark.parametrize(
    "key",
    [
        "TDR-2021-GW3",  # the package's reference
        "TRE-TDR-2021-GW3",  # the reference as TRE restated it
        "0001d50d-a1fc-46c0-a6c7-ebc8309cfaf2",  # the first UUID
        "urn:uuid:0094551e-a1fc-46c0-a6c7-e45465455455",  # the last hop's UUID, as an IRI
        "0009885d-a1fc-46c0-a6c7-e454545454h4",  # one of the seed's not-quite-UUIDs
    ],
)
def test_the_seed_chain_from_any_of_its_keys(store: Store, key: str) -> None:
    load(store, SEED)
    chain = trace(store, key)
    assert steps(chain) == SEED_STEPS
    by_process = {h.process: h for h in chain.hops}
    assert by_process["receive-and-validate-bag"].errors == ["validation failed", "xxxx....."]
    retry = by_process["caselaw-retry"]
    assert retry.informed_by == sorted(
        [by_process["dri-sip-export"].iri, by_process["caselaw-export"].iri]
    )
    assert by_process["consignment-export"].informed_by in ([], [chain.hops[1].iri])
    assert chain.hops[0].informed_by == []
    assert {"TDR-2021-GW3", "TRE-TDR-2021-GW3"} <= chain.references


def test_hops_arriving_out_of_order_are_linked_the_same(store: Store) -> None:
    load(store, list(reversed(SEED)))
    with OxigraphStore(None) as in_order:
        load(in_order, SEED)
        expected = trace(in_order, "TDR-2021-GW3")
    chain = trace(store, "TDR-2021-GW3")
    assert steps(chain) == SEED_STEPS
    assert [h.informed_by for h in chain.hops] == [h.informed_by for h in expected.hops]


def _other_chain(tmp_path: Path) -> list[Path]:
    """The seed's chain again with every UUID and reference changed: an unrelated package."""
    out = []
    for path in SEED:
        text = path.read_text()
        text = re.sub(r"\b0\w{7}-", "1fffffff-", text)
        text = text.replace("GW3", "ZZ9").replace("FT5", "QQ1")
        other = tmp_path / path.name
        other.write_text(text)
        out.append(other)
    return out


def test_a_trace_never_shows_hops_of_another_chain(store: Store, tmp_path: Path) -> None:
    load(store, SEED + _other_chain(tmp_path))
    mine = trace(store, "TDR-2021-GW3")
    theirs = trace(store, "TDR-2021-ZZ9")
    assert len(mine.hops) == len(theirs.hops) == 6
    assert {h.iri for h in mine.hops}.isdisjoint({h.iri for h in theirs.hops})
    assert all(u.startswith("urn:uuid:1fffffff-") for u in theirs.uuids)


def test_a_retry_branch_belongs_to_the_chain(store: Store) -> None:
    load(store, SEED)
    doc = json.loads(SEED[1].read_text())  # TRE's hop, retried once more with a new error
    doc["timestamp"] = "1659631700"
    doc["parameters"]["TRE"]["number-of-retries"] = "2"
    retried = Incoming(json.dumps(doc).encode(), "retry.json")
    assert Loader(store, base=BASE).load([retried]).stored == 1
    chain = trace(store, "TDR-2021-GW3")
    assert len(chain.hops) == 7
    assert chain.hops[-1].retries == 2 and chain.hops[-1].process == "receive-and-validate-bag"


def test_2023_messages_chain_by_parent_execution_id(store: Store) -> None:
    load(store, [p for p in tna_examples() if "new-schema" in str(p)])
    chain = trace(store, "45be6508-b693-441d-a0d6-defb3f41c1fb")
    hops = {h.execution_id: h for h in chain.hops if h.execution_id}
    child = hops["3c1db304-090f-4b19-abfc-8618cc0e5875"]
    parent = hops["45be6508-b693-441d-a0d6-defb3f41c1fb"]
    assert child.parent_execution_id == parent.execution_id
    assert child.informed_by == [parent.iri]


def test_an_execution_id_that_is_not_a_uuid_is_a_key_too(store: Store) -> None:
    load(store, [p for p in tna_examples() if "new-schema" in str(p)])
    chain = trace(store, "executionId344")
    assert chain.hops and all(h.execution_id == "executionId344" for h in chain.hops)


def test_every_tna_example_traces(store: Store) -> None:
    """Each example is found by one of its own keys, and its trace holds it."""
    load(store, tna_examples())  # every example its schema accepts
    jt = "https://w3id.org/jobtrail/vocab#"
    rows = store.query(
        f"SELECT ?m (SAMPLE(?k) AS ?key) WHERE {{ ?m a <{jt}TREMessage> . "
        f"{{ ?m <{jt}carriesUUID> ?k }} UNION {{ ?m <{jt}executionId> ?k }} UNION "
        f"{{ ?m <{jt}parameterSet>/<{jt}reference> ?k }} }} GROUP BY ?m"
    )
    found = {row["m"].value: row["key"].value for row in rows}  # type: ignore[union-attr]
    assert len(found) == len(tna_examples())
    for message, key in found.items():
        assert message in {h.iri for h in trace(store, key).hops}, key


@pytest.mark.parametrize("key", ["TDR-0000-NOPE", "00000000-0000-0000-0000-000000000000"])
def test_an_unknown_key_is_not_found(store: Store, key: str) -> None:
    load(store, SEED)
    with pytest.raises(NotFound, match=key):
        trace(store, key)


def test_an_empty_key_is_refused(store: Store) -> None:
    with pytest.raises(InputError):
        trace(store, "  ")
