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
from prov.model import ProvCommunication, ProvDocument, ProvGeneration

from tests.conftest import EXAMPLES_DIR

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
