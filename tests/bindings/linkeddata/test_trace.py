"""/trace/{key} and `jobtrail trace` on a real server and store holding the seed's messages.

Read by clients nobody here wrote: the `prov` package for PROV-O, rdflib for
JSON-LD, lxml for the SVG.
"""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest
import rdflib
from lxml import etree
from prov.model import (
    ProvActivity,
    ProvAssociation,
    ProvAttribution,
    ProvCommunication,
    ProvDocument,
    ProvGeneration,
    ProvInfluence,
    ProvUsage,
)

from tests.bindings.jobservice.test_jobs import docx_bytes, wait_done
from tests.conftest import EXAMPLES_DIR, DocumentServer

KEY = "TDR-2021-GW3"
PROV = rdflib.Namespace("http://www.w3.org/ns/prov#")


@pytest.fixture
def client(served: str) -> httpx.Client:
    return httpx.Client(base_url=served, timeout=10)


def test_json_lists_every_hop_in_order(client: httpx.Client) -> None:
    answer = client.get(f"/trace/{KEY}")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    doc = answer.json()
    processes = [h["producer"]["process"] for h in doc["hops"]]
    assert processes == [
        "consignment-export",
        "receive-and-validate-bag",
        "consignment-export",
        "dri-sip-export",
        "caselaw-export",
        "caselaw-retry",
    ]
    assert doc["hops"][1]["errors"] == ["validation failed", "xxxx....."]
    assert doc["hops"][1]["informedBy"] == [doc["hops"][0]["message"]]


def test_prov_o_in_turtle_is_read_by_the_prov_package(client: httpx.Client) -> None:
    answer = client.get(f"/trace/{KEY}", headers={"Accept": "text/turtle"})
    assert answer.status_code == 200
    document = ProvDocument.deserialize(content=answer.text, format="rdf", rdf_format="turtle")
    records = document.get_records()
    generations = [r for r in records if isinstance(r, ProvGeneration)]
    informed = [r for r in records if isinstance(r, ProvCommunication)]
    assert len(generations) == 6
    assert len(informed) == 6  # #2←#1, #3←#2, #4←#3, #5←#3, #6←#4, #6←#5


def test_prov_o_in_json_ld(client: httpx.Client) -> None:
    answer = client.get(f"/trace/{KEY}.jsonld")
    graph = rdflib.Graph().parse(data=answer.text, format="json-ld")
    assert len(set(graph.subjects(rdflib.RDF.type, PROV.Activity))) == 6
    assert len(set(graph.subjects(rdflib.RDF.type, PROV.SoftwareAgent))) == 5


def _kinds(document: ProvDocument) -> dict[type, int]:
    counts: dict[type, int] = {}
    for record in document.get_records():
        counts[type(record)] = counts.get(type(record), 0) + 1
    return counts


def _every_activity_has_a_start_and_an_end(document: ProvDocument) -> None:
    activities = [r for r in document.get_records() if isinstance(r, ProvActivity)]
    assert activities
    for activity in activities:
        start, end = activity.get_startTime(), activity.get_endTime()
        assert start is not None, f"{activity.identifier} has no start"
        if end is not None:
            assert start <= end, activity.identifier


def test_prov_json_of_a_chain_is_read_by_the_prov_package(client: httpx.Client) -> None:
    """PROV-JSON (the W3C member submission) says what PROV-O says; every run starts and ends."""
    answer = client.get(f"/trace/{KEY}.provjson")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/prov+json")
    from_json = ProvDocument.deserialize(content=answer.text, format="json")
    turtle = client.get(f"/trace/{KEY}", headers={"Accept": "text/turtle"}).text
    from_rdf = ProvDocument.deserialize(content=turtle, format="rdf", rdf_format="turtle")
    kinds = _kinds(from_json)
    assert kinds[ProvGeneration] == 6 and kinds[ProvCommunication] == 6
    assert kinds[ProvUsage] == 6 and kinds[ProvAssociation] == 6
    assert kinds[ProvAttribution] == 6
    for kind in (ProvGeneration, ProvCommunication, ProvUsage, ProvAssociation, ProvActivity):
        assert kinds[kind] == _kinds(from_rdf)[kind], kind
    _every_activity_has_a_start_and_an_end(from_json)
    _every_activity_has_a_start_and_an_end(from_rdf)
    provn = from_json.get_provn()  # the prov package renders it
    assert provn.count("wasInformedBy(") == 6


def test_a_jobs_own_trace_is_complete_prov(jobs_served: str, documents: DocumentServer) -> None:
    """A job's hops: each run informed by the one before, associated with the service and
    whoever changed the job, each hop influenced by the job's own activity."""
    url = documents.put(
        "/prov.docx",
        docx_bytes("Traced", "Provenance"),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    )
    with httpx.Client(base_url=jobs_served, timeout=10) as c:
        job = c.post("/jobs", content=url, headers={"Content-Type": "text/plain"}).text
        assert wait_done(c, job).status_code == 303
        job_id = job.rsplit("/", 1)[-1]
        hops = c.get(f"/trace/{job_id}").json()["hops"]
        turtle = c.get(f"/trace/{job_id}", headers={"Accept": "text/turtle"}).text
        provjson = c.get(f"/trace/{job_id}.provjson").text
    assert len(hops) >= 3  # created, and the phases it went through
    for document in (
        ProvDocument.deserialize(content=turtle, format="rdf", rdf_format="turtle"),
        ProvDocument.deserialize(content=provjson, format="json"),
    ):
        kinds = _kinds(document)
        assert kinds[ProvCommunication] == len(hops) - 1  # each hop after the first
        assert kinds[ProvGeneration] == len(hops)
        assert kinds.get(ProvAssociation, 0) >= len(hops)  # the service, and who changed it
        influences = [r for r in document.get_records() if isinstance(r, ProvInfluence)]
        assert {str(r.formal_attributes[1][1].uri) for r in influences} == {job}
        _every_activity_has_a_start_and_an_end(document)
        jobs = [
            r
            for r in document.get_records()
            if isinstance(r, ProvActivity) and str(r.identifier.uri) == job
        ]
        assert len(jobs) == 1 and jobs[0].get_startTime() is not None


def test_the_html_timeline_and_the_svg_graph(client: httpx.Client) -> None:
    page = client.get(f"/trace/{KEY}", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "receive-and-validate-bag" in page.text
    assert page.text.count('<tr id="hop-') == 6
    svg = client.get(f"/trace/{KEY}.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    root = etree.fromstring(svg.content)
    ns = {"s": "http://www.w3.org/2000/svg"}
    assert len(root.findall(".//s:rect", ns)) == 6
    assert len(root.findall(".//s:line[@marker-end]", ns)) == 6


def test_an_unknown_key_is_404(client: httpx.Client) -> None:
    answer = client.get("/trace/TDR-0000-NOPE", headers={"Accept": "application/problem+json"})
    assert answer.status_code == 404 and "TDR-0000-NOPE" in answer.json()["detail"]


def test_the_command_line_trace(served: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    store = tmp_path_factory.mktemp("cli-trace") / "data"
    jobtrail = [sys.executable, "-m", "jobtrail.cli"]
    examples = str(EXAMPLES_DIR)
    subprocess.run([*jobtrail, "load", examples, "--store", str(store), "--silent"], check=True)
    table = subprocess.run(
        [*jobtrail, "trace", KEY, "--store", str(store)], capture_output=True, text=True
    )
    assert table.returncode == 0, table.stderr
    assert "6 hops" in table.stdout and "error: validation failed" in table.stdout
    out = subprocess.run(
        [*jobtrail, "trace", KEY, "--store", str(store), "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert len(json.loads(out)["hops"]) == 6
    missing = subprocess.run(
        [*jobtrail, "trace", "NOPE-1", "--store", str(store)], capture_output=True, text=True
    )
    assert missing.returncode != 0 and "NOPE-1" in missing.stderr
