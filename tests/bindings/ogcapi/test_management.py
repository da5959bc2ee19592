"""OGC API - Processes - Part 4: Job Management (draft) against a real server: a job created
without starting, started, its inputs and its provenance (the trace of its id, PROV-JSON
read back by the `prov` package, PROV-O by negotiation)."""

from __future__ import annotations

import httpx
import pytest
import rdflib
from prov.model import ProvDocument

from tests.bindings.ogcapi.test_ogcapi import EXCEPTIONS, wait_status

PROV = "http://www.w3.org/ns/prov#"


def create(client: httpx.Client, process: str, inputs: dict[str, object]) -> httpx.Response:
    return client.post("/ogcapi/jobs", json={"process": process, "inputs": inputs})


def test_a_job_is_created_started_and_its_provenance_read(
    client: httpx.Client, inputs: dict[str, str], ogc_served: str
) -> None:
    made = create(
        client,
        f"{ogc_served}ogcapi/processes/Fixity",
        {"input": {"href": inputs["good"]}, "algorithm": "sha256"},
    )
    assert made.status_code == 201, made.text
    info = made.json()
    job_id = info["jobID"]
    assert info["status"] == "created"
    assert made.headers["location"] == f"{ogc_served}ogcapi/jobs/{job_id}"
    # it waits: created here, PENDING in UWS
    assert client.get(f"/ogcapi/jobs/{job_id}").json()["status"] == "created"
    assert httpx.get(f"{ogc_served}uws/Fixity/{job_id}/phase").text.strip() == "PENDING"
    listed = client.get("/ogcapi/jobs", params={"status": "created", "limit": 1000}).json()
    assert job_id in {j["jobID"] for j in listed["jobs"]}
    given = client.get(f"/ogcapi/jobs/{job_id}/inputs").json()
    assert given["inputs"] == {"input": {"href": inputs["good"]}, "algorithm": "sha256"}
    not_yet = client.get(f"/ogcapi/jobs/{job_id}/results")
    assert not_yet.status_code == 404 and not_yet.json()["type"] == EXCEPTIONS + "result-not-ready"
    # started by a POST to its results
    started = client.post(f"/ogcapi/jobs/{job_id}/results")
    assert started.status_code == 200, started.text
    assert started.json()["status"] in ("accepted", "running", "successful")
    assert wait_status(client, job_id)["status"] == "successful"
    again = client.post(f"/ogcapi/jobs/{job_id}/results")
    assert again.status_code == 409
    assert (
        again.json()["type"]
        == "http://www.opengis.net/def/exceptions/ogcapi-processes-4/1.0/locked"
    )
    assert "fixity.json" in client.get(f"/ogcapi/jobs/{job_id}/results").json()
    # its provenance: PROV-JSON by default (application/json), every phase change in it
    answer = client.get(f"/ogcapi/jobs/{job_id}/prov")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith(
        "application/json"
    )
    document = ProvDocument.deserialize(content=answer.text, format="json")
    activities = [r for r in document.get_records() if r.get_type().localpart == "Activity"]
    assert activities, answer.text[:500]
    assert job_id in answer.text
    explicit = client.get(f"/ogcapi/jobs/{job_id}/prov", headers={"Accept": "application/json"})
    assert explicit.json() == answer.json()
    trace = httpx.get(f"{ogc_served}trace/{job_id}.provjson").json()
    assert set(trace["activity"]) == set(answer.json()["activity"])  # the same as /trace's
    # PROV-O by negotiation and by f
    for accept, fmt in (
        ("text/turtle", "turtle"),
        ("application/ld+json", "json-ld"),
        ("application/rdf+xml", "xml"),
        ("application/n-triples", "nt"),
    ):
        rdf = client.get(f"/ogcapi/jobs/{job_id}/prov", headers={"Accept": accept})
        assert rdf.status_code == 200 and rdf.headers["content-type"].startswith(accept)
        graph = rdflib.Graph().parse(data=rdf.text, format=fmt)
        assert (None, rdflib.RDF.type, rdflib.URIRef(PROV + "Activity")) in graph
    by_f = client.get(f"/ogcapi/jobs/{job_id}/prov", params={"f": "ttl"})
    assert by_f.headers["content-type"].startswith("text/turtle")
    # and the job page links the OGC view of it
    page = httpx.get(
        f"{ogc_served}jobs/{job_id}", headers={"Accept": "text/html"}, follow_redirects=True
    ).text
    assert f"/ogcapi/jobs/{job_id}" in page


def test_the_inputs_keep_a_secret_redacted(client: httpx.Client, inputs: dict[str, str]) -> None:
    secret = inputs["good"].replace("http://", "http://reader:s3cret-pw@")
    made = create(client, "Fixity", {"input": secret}).json()
    given = client.get(f"/ogcapi/jobs/{made['jobID']}/inputs")
    assert "s3cret-pw" not in given.text and "REDACTED" in given.text
    assert "s3cret-pw" not in client.get(f"/ogcapi/jobs/{made['jobID']}/prov").text
    client.delete(f"/ogcapi/jobs/{made['jobID']}")  # dismissed before it ran
    assert client.get(f"/ogcapi/jobs/{made['jobID']}").json()["status"] == "dismissed"


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"inputs": {"input": "http://h/x"}}, 400, "give process"),
        ({"process": 3, "inputs": {}}, 400, "give process"),
        ({"process": "https://elsewhere.example/processes/Juggling"}, 404, "Juggling"),
        ({"process": "Fixity", "inputs": {"nope": "x", "input": "http://h/x"}}, 400, "nope"),
        ({"process": "Fixity", "inputs": {}}, 400, "needs the input(s) input"),
    ],
)
def test_a_bad_job_is_refused_naming_the_problem(
    client: httpx.Client, body: dict[str, object], status: int, says: str
) -> None:
    answer = client.post("/ogcapi/jobs", json=body)
    assert answer.status_code == status, answer.text
    assert says in answer.json()["detail"]


def test_the_provenance_formats_are_negotiated_or_refused(
    client: httpx.Client, inputs: dict[str, str]
) -> None:
    job_id = create(client, "Fixity", {"input": inputs["good"]}).json()["jobID"]
    assert client.get(f"/ogcapi/jobs/{job_id}/prov", params={"f": "pdf"}).status_code == 400
    refused = client.get(f"/ogcapi/jobs/{job_id}/prov", headers={"Accept": "image/png"})
    assert refused.status_code == 406
