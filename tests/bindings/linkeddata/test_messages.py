"""POST /messages on a real server: hops stored, duplicates said, violations reported."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import EXAMPLES_DIR, PRODUCER, jobtrail_server, tna_examples

SEED = sorted((EXAMPLES_DIR / "tre-enhanced-messages").glob("*.json"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with jobtrail_server(tmp_path_factory.mktemp("post-messages") / "data") as base:
        yield base


@pytest.fixture
def client(server: str) -> Iterator[httpx.Client]:
    # POST /messages needs a producer credential; every request here may carry it
    with httpx.Client(base_url=server, timeout=10, headers=PRODUCER) as c:
        yield c


def unique(path: Path, n: int) -> bytes:
    doc = json.loads(path.read_text())
    doc["timestamp"] = str(1700000000 + n)
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    "name, content_type",
    [
        ("tna", "application/json"),
        ("turtle", "text/turtle"),
        ("jsonld", "application/ld+json"),
    ],
)
def test_a_message_is_stored_once_and_says_so(
    client: httpx.Client, name: str, content_type: str
) -> None:
    body = {
        "tna": tna_examples()[0].read_bytes(),
        "turtle": b'<urn:x:hop> <http://www.w3.org/2000/01/rdf-schema#label> "a hop" .\n',
        "jsonld": json.dumps(
            {
                "@context": "https://job-processor/context/default",
                "type": "StopJob",
                "id": "https://job-processor/StopJob/1",
                "job": "https://job-processor/Job/1",
                "stopJobCause": "COMPLETED",
            }
        ).encode(),
    }[name]
    first = client.post("/messages", content=body, headers={"Content-Type": content_type})
    assert first.status_code in (200, 201), first.text  # the examples may hold it already
    iri = first.headers["Location"]
    assert first.json()["message"] == iri
    again = client.post("/messages", content=body, headers={"Content-Type": content_type})
    assert again.status_code == 200 and again.headers["Location"] == iri
    assert "stored before" in again.json()["note"]
    assert client.get(iri, headers={"Accept": "text/turtle"}).status_code == 200


def test_warnings_are_returned_and_kept(client: httpx.Client) -> None:
    answer = client.post("/messages", content=unique(SEED[2], 1))  # a not-quite-UUID
    assert answer.status_code == 201
    warnings = [w["message"] for w in answer.json()["warnings"]]
    (shape,) = [w for w in warnings if not w.startswith("TNA's")]
    assert "UUID" in shape
    # and what TNA's published JSON Schema says of the seed's message, kept beside it
    schema = [w for w in warnings if w.startswith("TNA's JSON Schema tre-event")]
    assert any("'event-name' is a required property" in w for w in schema)
    assert any("is not of type 'integer'" in w for w in schema)  # a string timestamp
    kept = client.get(answer.headers["Location"], headers={"Accept": "text/turtle"}).text
    assert "validationWarning" in kept and "is not of type 'integer'" in kept


@pytest.mark.parametrize(
    "change, words",
    [
        ({"UUIDs": []}, "UUID"),
        ({"timestamp": "yesterday"}, "time"),
        ({"producer": None}, "producer"),
    ],
)
def test_a_violation_is_422_with_the_shacl_report_and_nothing_is_stored(
    client: httpx.Client, change: dict[str, object], words: str
) -> None:
    doc = json.loads(SEED[0].read_text())
    doc.update(change)
    doc = {k: v for k, v in doc.items() if v is not None}
    before = client.get("/messages", headers={"Accept": "text/turtle"}, params={"size": 1}).text
    answer = client.post("/messages", json=doc, headers={"Accept": "application/problem+json"})
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["violations"] and words.lower() in json.dumps(problem).lower()
    after = client.get("/messages", headers={"Accept": "text/turtle"}, params={"size": 1}).text
    assert before == after


def test_json_lines_store_the_good_and_report_the_bad(client: httpx.Client) -> None:
    good = [unique(p, 100 + i) for i, p in enumerate(SEED[:3])]
    bad = json.dumps({"version": "1.0.0", "timestamp": "1", "UUIDs": []}).encode()
    body = b"\n".join([good[0], bad, good[1], b"{not json", good[2]]) + b"\n"
    answer = client.post(
        "/messages", content=body, headers={"Content-Type": "application/x-ndjson"}
    )
    assert answer.status_code == 422
    summary = answer.json()
    assert (summary["stored"], summary["rejected"]) == (3, 2)
    rejected = [m["source"] for m in summary["messages"] if m["outcome"] == "rejected"]
    assert rejected == ["POST /messages:2", "POST /messages:4"]
    for m in summary["messages"]:
        if m["outcome"] == "stored":
            assert client.get(m["message"], headers={"Accept": "text/turtle"}).status_code == 200


def test_posted_messages_trace_and_verify(client: httpx.Client, server: str) -> None:
    """A hop posted over HTTP joins its chain and the store-wide log."""
    doc = json.loads(SEED[5].read_text())
    doc["timestamp"] = "1800000000"
    doc["parameters"]["TRE"]["number-of-retries"] = "3"
    assert client.post("/messages", json=doc).status_code == 201
    chain = client.get("/trace/TDR-2021-GW3").json()["hops"]
    assert any(h["retries"] == 3 for h in chain)
