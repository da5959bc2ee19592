"""TNA's published schemas against TRE messages, through the real loader and store.

Each mutation of one of TNA's own example messages breaks what TNA's schema says
(checked here independently with `jsonschema` on the vendored schema, or the Avro
record for the 2023 structure); the loader stores the message all the same, with
each finding kept as a warning beside it, like the shapes' warnings.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from jobtrail.ingest.load import Loader
from jobtrail.ingest.message import Incoming
from jobtrail.queries.trace import trace
from jobtrail.store import Store

from tests.conftest import TNA, tna_examples

BASE = "http://127.0.0.1:8000/"
SCHEMAS = Path(str(resources.files("jobtrail.ingest") / "tna_schemas"))
V2022 = TNA / "json-examples" / "tdr-to-tre-example.json"  # a bagit-available event
V2023 = TNA / "json-examples-new-schema" / "bag-available.json"

Mutation = Callable[[dict[str, Any]], None]


def _set(path: tuple[str, ...], value: object) -> Mutation:
    def change(doc: dict[str, Any]) -> None:
        for key in path[:-1]:
            doc = doc[key]
        doc[path[-1]] = value

    return change


def _drop(path: tuple[str, ...]) -> Mutation:
    def change(doc: dict[str, Any]) -> None:
        for key in path[:-1]:
            doc = doc[key]
        del doc[path[-1]]

    return change


def _upper_uuid(doc: dict[str, Any]) -> None:
    doc["UUIDs"][0]["TDR-UUID"] = doc["UUIDs"][0]["TDR-UUID"].upper()


MUTATIONS_2022: dict[str, tuple[Mutation, str]] = {
    "enum-type": (_set(("producer", "type"), "Judgment"), "is not one of"),
    "no-parameters": (_drop(("parameters",)), "'parameters' is a required property"),
    "extra-property": (_set(("extra",), 1), "Additional properties are not allowed"),
    "string-timestamp": (_set(("timestamp",), "1661155064"), "is not of type 'integer'"),
    "uppercase-uuid": (_upper_uuid, "does not match"),
}
MUTATIONS_2023: dict[str, tuple[Mutation, str]] = {
    "no-s3Bucket": (_drop(("parameters", "s3Bucket")), "'s3Bucket' is a required property"),
    "enum-consignment": (_set(("parameters", "consignmentType"), "court"), "is not one of"),
    "enum-producer": (_set(("properties", "producer"), "tdr"), "is not one of"),
    "no-parameters": (_drop(("parameters",)), "'parameters' is a required property"),
    "extra-property": (
        _set(("parameters", "bucket"), "x"),
        "Additional properties are not allowed",
    ),
    "number-timestamp": (_set(("properties", "timestamp"), 1680087612280), "is not of type"),
}


def _mutated(path: Path, mutation: Mutation, n: int) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text())
    doc = copy.deepcopy(doc)
    mutation(doc)
    if "version" in doc:
        doc["version"] = f"{doc['version']}+{n}"  # each message its own bytes
    return doc


def _warnings(store: Store, message: str) -> list[str]:
    rows = store.query(
        "PREFIX jt: <https://w3id.org/jobtrail/vocab#>\n"
        "PREFIX sh: <http://www.w3.org/ns/shacl#>\n"
        f"SELECT ?text WHERE {{ GRAPH <{message}> {{ <{message}> jt:validationWarning ?w . "
        "?w sh:resultMessage ?text ; sh:resultSeverity sh:Warning } }"
    )
    return [row["text"].value for row in rows]  # type: ignore[union-attr]


def _load(store: Store, docs: list[dict[str, Any]]) -> list[str]:
    loader = Loader(store, base=BASE, keep_iris=True)
    items = [
        Incoming(json.dumps(d).encode(), f"mutation-{i}.json", "application/json")
        for i, d in enumerate(docs)
    ]
    report = loader.load(items)
    assert report.rejected == [], [r.error for r in report.rejected]
    assert report.stored == len(docs)
    return report.stored_iris


def test_tnas_examples_raise_no_schema_finding(store: Store) -> None:
    """The published examples meet the published schemas (but the one TNA's README notes)."""
    examples = [p for p in tna_examples() if "da/documents" not in str(p)]
    docs = [json.loads(p.read_text()) for p in examples]
    for path, iri in zip(examples, _load(store, docs), strict=True):
        found = [w for w in _warnings(store, iri) if w.startswith("TNA's")]
        if path.name == "validate-bagit-bagit-validated.json":
            assert len(found) == 1 and "validated-files" in found[0]  # example ≠ schema
        else:
            assert found == [], (path.name, found)


@pytest.mark.parametrize("name", list(MUTATIONS_2022))
def test_a_2022_message_the_schema_rejects_is_stored_with_warnings(store: Store, name: str) -> None:
    mutation, says = MUTATIONS_2022[name]
    doc = _mutated(V2022, mutation, 1)
    # independently: TNA's JSON Schema, by jsonschema, with its $ref to tre-event
    event = json.loads((SCHEMAS / "bagit-available.json").read_text())
    base = json.loads((SCHEMAS / "tre-event.json").read_text())
    from referencing import Registry, Resource

    registry = Registry().with_resources(  # type: ignore[var-annotated]
        [(s["$id"], Resource.from_contents(s)) for s in (event, base)]
    )
    errors = list(jsonschema.Draft202012Validator(event, registry=registry).iter_errors(doc))
    assert errors, f"{name}: the mutation does not break TNA's schema"
    (iri,) = _load(store, [doc])
    found = [w for w in _warnings(store, iri) if w.startswith("TNA's JSON Schema")]
    assert len(found) == len(errors), found
    assert any(says in w for w in found), found


@pytest.mark.parametrize("name", list(MUTATIONS_2023))
def test_a_2023_message_the_avro_schema_rejects_is_stored_with_warnings(
    store: Store, name: str
) -> None:
    mutation, says = MUTATIONS_2023[name]
    doc = _mutated(V2023, mutation, 2)
    (iri,) = _load(store, [doc])
    found = [w for w in _warnings(store, iri) if w.startswith("TNA's schema")]
    assert found and any(says in w for w in found), found
    assert all("BagAvailable" in w for w in found)


def test_a_hop_whose_uuid_is_not_a_uuid_stays_traceable(store: Store) -> None:
    """Its own chain: the reference is its own, so only the UUID key can find it."""
    doc = _mutated(V2022, _set(("UUIDs",), [{"TDR-UUID": "not-a-uuid-at-all"}]), 3)
    doc["parameters"]["bagit-available"]["reference"] = "TDR-NOT-A-UUID"
    upper = _mutated(V2022, _upper_uuid, 4)
    upper["parameters"]["bagit-available"]["reference"] = "TDR-SHOUTING"
    bad, shouting = _load(store, [doc, upper])
    assert any("does not match" in w for w in _warnings(store, bad))
    assert [h.iri for h in trace(store, "not-a-uuid-at-all").hops] == [bad]
    key = upper["UUIDs"][0]["TDR-UUID"]
    assert [h.iri for h in trace(store, key).hops] == [shouting]
    assert any("does not match" in w for w in _warnings(store, shouting))
