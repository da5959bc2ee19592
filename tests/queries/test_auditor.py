"""The auditor's named queries on the seed's TRE messages and TNA's examples of both structures.

Every answer asserted here was read off the messages themselves (examples/tre-enhanced-messages,
which are the seed's six messages verbatim, and TNA's json-examples and json-examples-new-schema).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest
from jobtrail.ingest.load import Loader
from jobtrail.ingest.message import Incoming
from jobtrail.ingest.sources import from_paths
from jobtrail.queries import get_query, load_queries
from jobtrail.store import Store
from jobtrail.store.oxigraph import OxigraphStore

TRE_EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "tre-enhanced-messages"
BASE = "http://127.0.0.1:8000/"
XSD = "http://www.w3.org/2001/XMLSchema#"
TDR_UUID = "0001d50d-a1fc-46c0-a6c7-ebc8309cfaf2"
ERRORS = {"validation failed", "xxxx....."}
AUDITOR = (
    "hops-of-reference",
    "retries",
    "errors-by-producer",
    "software-versions",
    "fixity-per-hop",
    "stuck-packages",
    "throughput-per-producer-per-day",
)
TRE_VERSIONS = {
    ("prod-tre", "0.1.2"),
    ("prod-tre-bagit-checksum-validation", "0.0.9"),
    ("prod-tre-files-checksum-validation", "0.0.7"),
    ("prod-tre-prepare-parser-input", "0.0.19"),
    ("prod-tre-editorial-integration", "0.0.20"),
    ("prod-tre-run-judgment-parser", "v0.7.12"),
    ("prod-tre-slack-alerts", "0.0.24"),
}


def load(store: Store, items: list[Any]) -> None:
    report = Loader(store, base=BASE).load(items)
    assert not report.rejected, report.rejected
    assert report.stored == len(items)


@pytest.fixture(scope="module")
def store(tna_example_paths: list[Path]) -> Iterator[Store]:
    """An in-memory store holding the seed's six TRE messages and TNA's thirteen examples."""
    s = OxigraphStore(None)
    seeds = list(from_paths([str(TRE_EXAMPLES)]))
    tna = list(from_paths([str(p) for p in tna_example_paths]))
    assert len(seeds) == 6 and len(tna) == 13
    load(s, seeds + tna)
    yield s
    s.close()


@pytest.fixture(scope="module")
def files(store: Store) -> dict[str, str]:
    """Each stored message's IRI -> the name of the file it was loaded from."""
    rows = store.query("SELECT ?m ?f { ?m <https://w3id.org/jobtrail/vocab#loadedFrom> ?f }")
    assert isinstance(rows, ox.QuerySolutions)
    return {row["m"].value: Path(row["f"].value).name for row in rows}


def run(store: Store, name: str, **params: str) -> list[dict[str, Any]]:
    """The rows of a named query as the API runs it (its SPARQL, its typed bindings), each as
    {variable: Python value}, None when unbound."""
    query = get_query(name)
    result = store.query(query.sparql, substitutions=query.bind(params))
    assert isinstance(result, ox.QuerySolutions)
    names = [v.value for v in result.variables]
    return [{n: value(row[n]) for n in names} for row in result]


def value(term: Any) -> Any:
    if term is None:
        return None
    if isinstance(term, ox.Literal):
        dt = term.datatype.value
        if dt == XSD + "integer":
            return int(term.value)
        if dt == XSD + "boolean":
            return term.value == "true"
        return term.value
    return term.value


def split(joined: str | None) -> set[str]:
    return set(joined.split(" | ")) if joined else set()


# --- the files, the data, every query --------------------------------------------------------


def test_the_examples_are_the_seed_messages_verbatim(seed004_messages: tuple[Any, ...]) -> None:
    files = sorted(TRE_EXAMPLES.glob("*.json"))
    assert [f.read_bytes() for f in files] == [b.data for b in seed004_messages]


def test_the_auditor_queries_are_there_with_their_parameters() -> None:
    queries = load_queries()
    params = {
        name: [(p.name, p.type, p.required) for p in queries[name].params] for name in AUDITOR
    }
    assert params == {
        "hops-of-reference": [("reference", "string", True)],
        "retries": [("reference", "string", False)],
        "errors-by-producer": [("producer", "string", False)],
        "software-versions": [("reference", "string", False), ("uuid", "uuid", False)],
        "fixity-per-hop": [("reference", "string", False)],
        "stuck-packages": [("reference", "string", False)],
        "throughput-per-producer-per-day": [("producer", "string", False)],
    }
    for name in AUDITOR:
        assert len(queries[name].description) > 100, name
        assert queries[name].examples, name


@pytest.mark.parametrize("name", AUDITOR)
def test_each_query_answers_with_its_example_and_store_wide(store: Store, name: str) -> None:
    query = get_query(name)
    rows = run(store, name, **query.examples)
    assert rows
    for param, given in query.examples.items():  # a bound parameter comes back in every row
        assert {r[param] for r in rows} == {given}
    if not any(p.required for p in query.params):
        assert len(run(store, name)) >= len(rows)


# --- hops of a reference, in order -----------------------------------------------------------


def test_hops_come_in_time_then_uuid_chain_order(store: Store, files: dict[str, str]) -> None:
    rows = run(store, "hops-of-reference", reference="TDR-2021-GW3")
    assert [files[r["message"]] for r in rows] == [
        "01-tdr-export.json",
        "02-tre-retry.json",
        "03-tdr-retry-response.json",
        "05-access-retry.json",
    ]
    assert {r["time"] for r in rows} == {"2022-08-04T16:47:49Z"}  # one time: the chain decides
    assert [r["uuids"] for r in rows] == [1, 2, 3, 5]


def test_hops_across_the_2022_and_2023_structures(store: Store, files: dict[str, str]) -> None:
    rows = run(store, "hops-of-reference", reference="TDR-1234-ABCD")
    assert [(files[r["message"]], r["producer"], r["uuids"]) for r in rows] == [
        ("tdr-to-tre-example.json", "TDR", 1),  # 2022-08-22
        ("bag-available.json", "TDR", 1),  # 2023-03-29, its execution id
        ("bag-validate.json", "TRE", 2),  # the same time, its parent's id and its own
    ]
    rows = run(store, "hops-of-reference", reference="ABC-1234-DEF")
    assert files[rows[-1]["message"]] == "dri-preingest-sip-error.json"
    assert rows[-1]["time"] == "2022-09-20T09:38:10.3684147Z"


# --- retries and their causes --------------------------------------------------------------


def test_retries_with_their_causes(store: Store, files: dict[str, str]) -> None:
    rows = run(store, "retries", reference="TDR-2021-GW3")
    found = [
        (
            r["position"],
            files[r["message"]],
            r["producer"],
            r["process"],
            r["retries"],
            r["causeFrom"],
            split(r["cause"]),
            files[r["previous"]],
        )
        for r in rows
    ]
    assert found == [
        (
            2,
            "02-tre-retry.json",
            "TRE",
            "receive-and-validate-bag",
            1,
            "this hop",
            ERRORS,
            "01-tdr-export.json",
        ),
        (
            3,
            "03-tdr-retry-response.json",
            "TDR",
            "consignment-export",
            1,
            "previous hop",
            ERRORS,
            "02-tre-retry.json",
        ),
        (
            4,
            "05-access-retry.json",
            "Access",
            "caselaw-retry",
            1,
            "this hop",
            ERRORS,
            "03-tdr-retry-response.json",
        ),
    ]
    # 03 reports nothing itself: its cause is what TRE's hop before it reported
    assert rows[1]["errors"] is None and split(rows[1]["previousErrors"]) == ERRORS
    assert rows[1]["previousProducer"] == "TRE"
    assert rows[0]["previousErrors"] is None  # TDR's first export reported no error
    assert rows[2]["stated"] == "TRE-TDR-2021-GW3"  # Access's hop states TRE's prefixed form


def test_retries_store_wide_are_those_of_the_one_package_that_retried(store: Store) -> None:
    every = run(store, "retries")
    assert {r["reference"] for r in every} == {"TDR-2021-GW3"}
    assert len(every) == 3
    assert run(store, "retries", reference="TRE-TDR-2022-FT5") == []  # it states 0 retries
    assert run(store, "retries", reference="TRE-TDR-2021-GW3") == []  # a prefixed form


# --- errors by producer ------------------------------------------------------------------------


def test_errors_by_producer_and_process(store: Store, files: dict[str, str]) -> None:
    rows = run(store, "errors-by-producer")
    found = [
        (
            r["producer"],
            r["process"],
            r["environment"],
            r["errors"],
            r["failing"],
            r["messages"],
            files[r["exampleMessage"]],
        )
        for r in rows
    ]
    assert found == [
        ("Access", "caselaw-retry", "INT", 2, 1, 1, "05-access-retry.json"),
        ("TRE", "receive-and-validate-bag", "INT", 2, 1, 1, "02-tre-retry.json"),
        ("TRE", "dev-tre-bagit-to-dri-sip", "dev", 1, 1, 2, "dri-preingest-sip-error.json"),
        (
            "TRE",
            "dev-tre-validate-bagit",
            "dev",
            1,
            1,
            2,
            "validate-bagit-bagit-validation-error.json",
        ),
    ]
    assert rows[0]["example"] == rows[1]["example"] == "validation failed"
    assert rows[2]["example"].startswith("Copy not allowed;")
    assert rows[3]["example"].startswith('Calculated checksum "foo" does not match')
    assert rows[3]["latest"] == "2022-08-24T11:26:57.609575Z"
    assert [r["process"] for r in run(store, "errors-by-producer", producer="Access")] == [
        "caselaw-retry"
    ]
    assert run(store, "errors-by-producer", producer="TDR") == []  # TDR reported no error


# --- software versions -------------------------------------------------------------------------


def test_software_versions_that_touched_a_package(store: Store, files: dict[str, str]) -> None:
    rows = run(store, "software-versions", reference="TRE-TDR-2022-FT5")
    by_hop: dict[tuple[str, str, str], set[tuple[str, str]]] = {}
    for r in rows:
        key = (files[r["message"]], r["producer"], r["process"])
        by_hop.setdefault(key, set()).add((r["software"], r["version"]))
    assert by_hop == {
        ("04-tre-to-access.json", "TRE", "caselaw-export"): TRE_VERSIONS,
        ("06-tre-to-dri-sip.json", "TRE", "dri-sip-export"): TRE_VERSIONS,
    }
    assert {r["uuid"] for r in rows} == {f"urn:uuid:{TDR_UUID}"}
    assert {r["position"] for r in rows} == {1, 2}


def test_software_versions_by_the_package_uuid(store: Store) -> None:
    by_uuid = run(store, "software-versions", uuid=TDR_UUID.upper())
    assert by_uuid == run(store, "software-versions", reference="TRE-TDR-2022-FT5")
    assert len(by_uuid) == 14
    assert run(store, "software-versions", uuid="9c6d25c1-c8c9-495a-be0b-91e7af7b2083") == []
    assert run(store, "software-versions", reference="TDR-2021-GW3") == []  # states none
    assert len(run(store, "software-versions")) == 14  # only TRE's hops state versions


# --- fixity at each hop --------------------------------------------------------------------


def test_fixity_at_each_hop(store: Store, files: dict[str, str]) -> None:
    rows = run(store, "fixity-per-hop", reference="TDR-2021-GW3")
    assert [(r["position"], files[r["message"]], r["verified"], r["method"]) for r in rows] == [
        (1, "01-tdr-export.json", True, "SHA256"),
        (2, "02-tre-retry.json", False, None),
        (3, "03-tdr-retry-response.json", True, "SHA256"),
        (4, "05-access-retry.json", False, None),
    ]
    sha = "https://presignedurldemo.s3.eu-west2.amazonaws.com/TDR-2021-GW3.tar.gz.sha256"
    assert rows[0]["checksum"].startswith(sha)


def test_fixity_across_structures_and_checksum_parameters(
    store: Store, files: dict[str, str]
) -> None:
    rows = run(store, "fixity-per-hop", reference="TDR-1234-ABCD")
    assert [
        (files[r["message"]], r["verified"], r["method"], r["checksumParameter"]) for r in rows
    ] == [
        ("tdr-to-tre-example.json", True, "sha256", None),
        ("bag-available.json", False, None, "s3BagSha256Key"),
        ("bag-validate.json", False, None, None),
    ]
    ft5 = run(store, "fixity-per-hop", reference="TRE-TDR-2022-FT5")
    assert [(r["verified"], r["checksumParameter"]) for r in ft5] == [(False, "s3-sha256-url")] * 2
    assert len(run(store, "fixity-per-hop")) == 18  # every hop that states a reference


# --- stuck packages ------------------------------------------------------------------------


def test_stuck_packages(store: Store, files: dict[str, str]) -> None:
    rows = run(store, "stuck-packages")
    assert [(r["reference"], r["hops"], files[r["message"]], r["producer"]) for r in rows] == [
        ("ABC-1234-DEF", 3, "dri-preingest-sip-error.json", "TRE"),
        ("TDR-2021-GW3", 4, "05-access-retry.json", "Access"),
    ]
    assert rows[0]["errors"].startswith("Copy not allowed;") and rows[0]["retries"] is None
    assert split(rows[1]["errors"]) == ERRORS and rows[1]["retries"] == 1
    assert len(run(store, "stuck-packages", reference="TDR-2021-GW3")) == 1
    assert run(store, "stuck-packages", reference="TDR-1234-ABCD") == []  # validated last
    assert run(store, "stuck-packages", reference="TRE-TDR-2022-FT5") == []  # no error


def access_retry(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((TRE_EXAMPLES / "05-access-retry.json").read_bytes())
    doc.update(changes)
    return doc


def with_hop(doc: dict[str, Any], source: str) -> Store:
    """A fresh store holding the seed's messages and one more hop."""
    s = OxigraphStore(None)
    seeds = list(from_paths([str(TRE_EXAMPLES)]))
    load(s, [*seeds, Incoming(json.dumps(doc).encode(), source, "application/json")])
    return s


def test_a_later_retry_unsticks_the_package_and_names_its_cause() -> None:
    uuids = access_retry()["UUIDs"] + [{"TRE-UUID": "0009885d-a1fc-46c0-a6c7-e45454549999"}]
    again = access_retry(
        UUIDs=uuids,
        producer={"name": "TRE", "process": "caselaw-export", "environment": "INT"},
        parameters={"TRE": {"number-of-retries": "2", "reference": "TDR-2021-GW3"}},
    )
    s = with_hop(again, "07-tre-retry-again.json")
    try:
        assert run(s, "stuck-packages") == []
        last = run(s, "retries", reference="TDR-2021-GW3")[-1]
        assert (last["position"], last["producer"], last["retries"]) == (5, "TRE", 2)
        assert (last["causeFrom"], split(last["cause"])) == ("previous hop", ERRORS)
        assert last["previousProducer"] == "Access"
    finally:
        s.close()


def test_a_retry_as_late_as_the_error_unsticks_it_a_later_error_does_not() -> None:
    uuids = access_retry()["UUIDs"][:4] + [{"TRE-UUID": "0009885d-a1fc-46c0-a6c7-e45454549999"}]
    tied = access_retry(  # the same time and chain length as Access's error, retried twice
        UUIDs=uuids,
        producer={"name": "TRE", "process": "caselaw-export", "environment": "INT"},
        parameters={"TRE": {"number-of-retries": "2", "reference": "TDR-2021-GW3"}},
    )
    s = with_hop(tied, "07-tre-tied-retry.json")
    try:
        assert run(s, "stuck-packages") == []
    finally:
        s.close()
    failed = access_retry(timestamp="1659631670")  # a second later, Access fails again
    failed["parameters"]["Access"]["errors"] = [{"error": "still failing"}]
    s = with_hop(failed, "07-access-fails-again.json")
    try:
        rows = run(s, "stuck-packages")
        assert [(r["reference"], r["hops"], r["errors"]) for r in rows] == [
            ("TDR-2021-GW3", 5, "still failing")
        ]
        assert rows[0]["time"] == "2022-08-04T16:47:50Z"
    finally:
        s.close()


# --- throughput ----------------------------------------------------------------------------


def test_throughput_per_producer_per_day(store: Store) -> None:
    rows = run(store, "throughput-per-producer-per-day")
    found = {
        (r["day"], r["producer"], r["process"], r["environment"]): (
            r["messages"],
            r["failed"],
            r["references"],
        )
        for r in rows
    }
    assert sum(m for m, _, _ in found.values()) == 19  # every message loaded
    assert found[("2022-08-04", "TDR", "consignment-export", "INT")] == (2, 0, 1)
    assert found[("2022-08-04", "TRE", "receive-and-validate-bag", "INT")] == (1, 1, 1)
    assert found[("2022-08-04", "Access", "caselaw-retry", "INT")] == (1, 1, 1)
    assert found[("2022-08-24", "TRE", "dev-tre-validate-bagit", "dev")] == (2, 1, 1)
    assert found[("2022-09-20", "TRE", "dev-tre-bagit-to-dri-sip", "dev")] == (2, 1, 2)
    assert found[("2023-03-29", "TRE", "tre-tf-module-drisip-create", None)] == (1, 0, 0)
    assert found[("2024-05-15", "DDT", "ddt-ayrmetadataload-process", None)] == (1, 0, 1)
    days = [r["day"] for r in rows]
    assert days == sorted(days) and days[0] == "2022-08-04"
    tre = run(store, "throughput-per-producer-per-day", producer="TRE")
    assert {r["producer"] for r in tre} == {"TRE"} and sum(r["messages"] for r in tre) == 12


def test_throughput_counts_the_utc_day() -> None:
    late = {
        "properties": {
            "messageType": "uk.gov.nationalarchives.example",
            "timestamp": "2022-08-04T23:30:00-02:00",  # 01:30 on the 5th, in UTC
            "function": "late-process",
            "producer": "LATE",
            "executionId": "late-1",
            "parentExecutionId": None,
        },
        "parameters": {"reference": "LATE-1"},
    }
    s = with_hop(late, "late.json")
    try:
        rows = run(s, "throughput-per-producer-per-day", producer="LATE")
        assert [(r["day"], r["process"], r["messages"]) for r in rows] == [
            ("2022-08-05", "late-process", 1)
        ]
    finally:
        s.close()
