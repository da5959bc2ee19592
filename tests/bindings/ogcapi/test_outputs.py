"""Outputs by value and by reference (OGC API - Processes 1.0, the execute request's
`outputs`): against a real server, every results document validated against the standard's
`results.yaml` by the `client` fixture; the base64 encoding of a binary file over the
document builder itself (no built-in profile makes a binary file). And a running job's
`progress`, between 0 and 100 while its input comes in."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from datetime import UTC, datetime

import httpx
import pytest
import rdflib
from jobtrail.bindings.ogcapi import outputs
from jobtrail.jobs import results as result_files
from jobtrail.jobs.core import Job

from tests.bindings.ogcapi.conftest import DATA
from tests.bindings.ogcapi.test_ogcapi import ASYNC, wait_status
from tests.conftest import DocumentServer

ORE = "http://www.openarchives.org/ore/terms/"


def run(
    client: httpx.Client, inputs: dict[str, str], wanted: dict[str, object], **headers: str
) -> httpx.Response:
    return client.post(
        "/ogcapi/processes/Fixity/execution",
        json={"inputs": {"input": inputs["good"], "algorithm": "sha256"}, "outputs": wanted},
        headers=headers,
    )


def test_a_file_asked_by_value_comes_inline_and_only_what_was_asked(
    client: httpx.Client, inputs: dict[str, str]
) -> None:
    answer = run(client, inputs, {"fixity.json": {"transmissionMode": "value"}})
    assert answer.status_code == 200, answer.text
    document = answer.json()
    assert set(document) == {"fixity.json"}  # the aggregation was not asked for
    given = document["fixity.json"]
    assert given["mediaType"] == "application/json" and "encoding" not in given
    fixity = json.loads(given["value"])  # the file's own text
    assert hashlib.sha256(DATA).hexdigest() in json.dumps(fixity)
    # the same bytes as the file by reference
    job_id = answer.headers["location"].rsplit("/", 1)[-1]
    assert httpx.get(f"{client.base_url}jobs/{job_id}/results/fixity.json").json() == fixity


def test_the_aggregation_by_value_in_the_syntax_asked(
    client: httpx.Client, inputs: dict[str, str]
) -> None:
    for media_type, syntax in (("application/ld+json", "json-ld"), (None, "turtle")):
        fmt = {"format": {"mediaType": media_type}} if media_type else {}
        answer = run(
            client, inputs, {"results": fmt, "fixity.json": {"transmissionMode": "reference"}}
        )
        assert answer.status_code == 200, answer.text
        document = answer.json()
        assert document["fixity.json"]["href"].endswith("/fixity.json")  # by reference
        given = document["results"]
        assert given["mediaType"] == (media_type or "text/turtle")
        graph = rdflib.Graph().parse(data=given["value"], format=syntax)
        aggregated = {str(o) for o in graph.objects(None, rdflib.URIRef(ORE + "aggregates"))}
        assert document["fixity.json"]["href"] in aggregated


def test_an_asynchronous_job_keeps_what_was_asked_for_its_results(
    client: httpx.Client, inputs: dict[str, str]
) -> None:
    made = run(client, inputs, {"fixity.json": {}}, **ASYNC)  # no mode: value, the default
    assert made.status_code == 201, made.text
    job_id = made.json()["jobID"]
    assert wait_status(client, job_id)["status"] == "successful"
    document = client.get(f"/ogcapi/jobs/{job_id}/results").json()
    assert set(document) == {"fixity.json"} and "value" in document["fixity.json"]
    # without outputs: everything by reference, as before
    plain = client.post(
        "/ogcapi/processes/Fixity/execution", json={"inputs": {"input": inputs["good"]}}
    ).json()
    assert {"results", "fixity.json"} <= set(plain)
    assert all("href" in v and "value" not in v for v in plain.values())


def test_part4_inputs_say_the_outputs_asked_for(
    client: httpx.Client, inputs: dict[str, str]
) -> None:
    made = client.post(
        "/ogcapi/jobs",
        json={
            "process": "Fixity",
            "inputs": {"input": inputs["good"]},
            "outputs": {"results": {"transmissionMode": "reference"}},
        },
    )
    assert made.status_code == 201, made.text
    given = client.get(f"/ogcapi/jobs/{made.json()['jobID']}/inputs").json()
    assert given["outputs"] == {"results": {"transmissionMode": "reference"}}


@pytest.mark.parametrize(
    ("wanted", "says"),
    [
        ({"results": {"transmissionMode": "inline"}}, "transmissionMode is value or reference"),
        ({"results": {"format": {"mediaType": "image/png"}}}, "not a syntax"),
        ({"../etc/passwd": {}}, "no output"),
        ({"results": "value"}, "is an object"),
        ([], "outputs is an object"),
    ],
)
def test_a_bad_outputs_member_is_a_400_naming_it(
    client: httpx.Client, inputs: dict[str, str], wanted: object, says: str
) -> None:
    before = client.get("/ogcapi/jobs", params={"limit": 1000}).json()["jobs"]
    answer = run(client, inputs, wanted)  # type: ignore[arg-type]
    assert answer.status_code == 400 and says in answer.json()["detail"], answer.text
    after = client.get("/ogcapi/jobs", params={"limit": 1000}).json()["jobs"]
    assert len(after) == len(before)  # no job made


def _job() -> Job:
    now = datetime.now(UTC)
    return Job(
        id="j",
        iri="http://h/jobs/j",
        profile="P",
        phase="COMPLETED",
        owner=None,
        input=None,
        parameters={},
        created=now,
        modified=now,
        results="http://h/jobs/j/results",
    )


def test_a_binary_file_by_value_is_base64_and_a_large_one_by_reference() -> None:
    blob = bytes(range(256))
    files = [
        result_files.Listed("a.bin", "http://h/jobs/j/results/a.bin", "image/png", len(blob)),
        result_files.Listed("b.txt", "http://h/jobs/j/results/b.txt", "text/plain", 3),
        result_files.Listed(
            "big.bin", "http://h/jobs/j/results/big.bin", None, outputs.INLINE_MAX + 1
        ),
    ]
    read = {"a.bin": blob, "b.txt": b"\xff\xfe!"}  # text that is not UTF-8: base64 too
    wanted = {n: outputs.Wanted("value") for n in ("a.bin", "b.txt", "big.bin", "gone.txt")}
    document = outputs.document(
        _job(), files, wanted, aggregation=list, read=read.get, base="http://h/"
    )
    assert document["a.bin"] == {
        "value": base64.b64encode(blob).decode(),
        "mediaType": "image/png",
        "encoding": "base64",
    }
    assert base64.b64decode(document["b.txt"]["value"]) == b"\xff\xfe!"
    assert document["big.bin"]["href"].endswith("/big.bin")
    assert "by reference" in document["big.bin"]["title"]
    assert "gone.txt" not in document  # the job made no such file


# --- progress -----------------------------------------------------------------------------


def test_a_running_job_says_how_far_it_has_come(
    client: httpx.Client, documents: DocumentServer
) -> None:
    size = 512 * 1024
    url = documents.put("/ogc/large.bin", b"x" * size, "application/octet-stream")
    made = client.post(
        "/ogcapi/processes/Fixity/execution",
        json={"inputs": {"input": f"{url}?trickle=4"}},
        headers=ASYNC,
    )
    assert made.status_code == 201, made.text
    assert made.json()["progress"] == 0
    job_id = made.json()["jobID"]
    deadline = time.monotonic() + 20
    seen: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        info = client.get(f"/ogcapi/jobs/{job_id}").json()
        if info["status"] != "accepted":
            seen.append(info)
        if info["status"] == "successful":
            break
        time.sleep(0.1)
    midway = [i for i in seen if i["status"] == "running" and 0 < i.get("progress", 0) < 100]
    assert midway, seen  # half the input came, the rest not yet: a figure between
    assert "fetching the input" in str(midway[0]["message"]), midway[0]
    assert f"of {size:,} bytes" in str(midway[0]["message"])
    listed = client.get("/ogcapi/jobs", params={"limit": 1000}).json()["jobs"]
    assert seen[-1]["status"] == "successful" and seen[-1]["progress"] == 100
    assert any(j["jobID"] == job_id for j in listed)
