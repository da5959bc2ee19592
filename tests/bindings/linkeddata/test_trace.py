"""/trace/{key} and `jobtrail trace` on a real server and store holding the seed's messages.

Read by clients nobody here wrote: the `prov` package for PROV-O, rdflib for
JSON-LD, lxml for the SVG.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import lxml.html
import pytest
import rdflib
from jobtrail.bindings.linkeddata import tracegraph
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
from tests.conftest import (
    CHROMIUM,
    EXAMPLES_DIR,
    PRODUCER,
    DocumentServer,
    headless_chromium,
    href_of,
    jobtrail_server,
)

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
    assert len(root.findall(".//s:rect[@class='hop']", SVG_NS)) == 6
    assert len(root.findall(".//s:polyline[@class='informed']", SVG_NS)) == 6
    _drawn_apart(root)


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


# --- the landing page, the search, and a long chain drawn -------------------------------------

SVG_NS = {"s": "http://www.w3.org/2000/svg"}
LONG = "TDR-2026-L50"
LANES = ("TDR", "TRE", "DRI", "Caselaw", "Access")
PROCESSES = {
    "TDR": "consignment-export",
    "TRE": "receive-and-validate-bag-with-a-rather-long-process-name",
    "DRI": "dri-sip-export",
    "Caselaw": "caselaw-export",
    "Access": "access-retry",
}


def long_chain(n: int = 50, reference: str = LONG, seed: int = 0) -> list[bytes]:
    """`n` TRE messages making one chain: each carries the UUIDs of those before it and adds
    one, hopping across five producers (right, left and within a lane); the last three branch
    off hop 10. Hop 7 reports errors and hop 12 was retried."""
    rng = random.Random(seed)
    uuids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(n)]
    bodies = []
    for k in range(n):
        lane = LANES[(k * 2) % len(LANES)] if k % 6 else LANES[((k - 1) * 2) % len(LANES)]
        carried = uuids[: k + 1] if k < n - 3 else [*uuids[:10], uuids[k]]
        params: dict[str, object] = {
            "reference": reference,
            "number-of-retries": "2" if k == 11 else "0",
        }
        if k == 6:
            params["errors"] = [{"error": "validation failed"}, {"error": "checksum mismatch"}]
        doc = {
            "version": "1.0.0",
            "timestamp": str(1700000000 + 60 * k),
            "UUIDs": [{f"{lane}-UUID": u} for u in carried],
            "producer": {
                "name": lane,
                "process": PROCESSES[lane],
                "type": "judgment",
                "environment": "INT",
            },
            "parameters": {lane: params},
        }
        bodies.append(json.dumps(doc).encode())
    return bodies


def post_all(base: str, bodies: list[bytes]) -> list[str]:
    with httpx.Client(base_url=base, timeout=30, headers=PRODUCER) as c:
        iris = []
        for body in bodies:
            r = c.post("/messages", content=body, headers={"Content-Type": "application/json"})
            assert r.status_code == 201, r.text[:2000]
            iris.append(r.headers["Location"])
    return iris


@pytest.fixture(scope="module")
def long_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with jobtrail_server(tmp_path_factory.mktemp("trace-long") / "data") as base:
        post_all(base, long_chain())
        yield base


def _segments(points: str) -> list[tuple[float, float, float, float]]:
    xy = [tuple(float(v) for v in p.split(",")) for p in points.split()]
    return [(a[0], a[1], b[0], b[1]) for a, b in itertools.pairwise(xy)]


def _crosses(segment: tuple[float, float, float, float], box: etree._Element) -> bool:
    """Whether an axis-parallel segment meets the rectangle (edges included)."""
    x1, y1, x2, y2 = segment
    rx, ry = float(box.get("x")), float(box.get("y"))
    rw, rh = float(box.get("width")), float(box.get("height"))
    assert x1 == x2 or y1 == y2, f"an arrow segment is not straight: {segment}"
    return (
        min(x1, x2) <= rx + rw
        and max(x1, x2) >= rx
        and min(y1, y2) <= ry + rh
        and max(y1, y2) >= ry
    )


def _drawn_apart(root: etree._Element) -> None:
    """No arrow passes through a box but its own two; it starts and ends on their edges."""
    boxes = {
        g.get("id"): g.find(".//s:rect[@class='hop']", SVG_NS)
        for g in root.iterfind(".//s:g", SVG_NS)
    }
    boxes = {k: v for k, v in boxes.items() if k and k.startswith("box-")}
    hop_rects = root.findall(".//s:rect[@class='hop']", SVG_NS)
    assert len(boxes) == len(hop_rects)
    for arrow in root.iterfind(".//s:polyline[@class='informed']", SVG_NS):
        ends = {arrow.get("data-from"), arrow.get("data-to")}
        assert ends <= boxes.keys()
        segments = _segments(arrow.get("points"))
        for name, box in boxes.items():
            for i, segment in enumerate(segments):
                if name in ends and i in (0, len(segments) - 1):
                    continue  # leaving or entering its own box
                assert not _crosses(segment, box), f"{arrow.get('points')} crosses {name}"
        first, last = segments[0], segments[-1]
        assert _crosses((first[0], first[1], first[0], first[1]), boxes[arrow.get("data-from")])
        assert _crosses((last[2], last[3], last[2], last[3]), boxes[arrow.get("data-to")])


def test_a_50_hop_svg_is_readable(long_served: str) -> None:
    with httpx.Client(base_url=long_served, timeout=30) as c:
        hops = c.get(f"/trace/{LONG}").json()["hops"]
        svg = c.get(f"/trace/{LONG}.svg")
    assert len(hops) == 50
    root = etree.fromstring(svg.content)
    assert root.get("viewBox") and len(root.get("viewBox").split()) == 4
    assert root.get("width") in (None, "100%") and root.get("height") is None
    _drawn_apart(root)
    arrows = root.findall(".//s:polyline[@class='informed']", SVG_NS)
    assert len(arrows) == sum(len(h["informedBy"]) for h in hops) == 49
    boxes = root.findall(".//s:g[@id]", SVG_NS)
    boxes = [g for g in boxes if g.get("id", "").startswith("box-")]
    assert len(boxes) == 50
    for g, hop in zip(sorted(boxes, key=lambda g: int(g.get("id")[4:])), hops, strict=True):
        title = g.findtext("s:title", namespaces=SVG_NS)
        assert hop["addedUUID"] in title and hop["message"] in title
        assert hop["producer"]["process"] in title
        width = float(g.find(".//s:rect", SVG_NS).get("width"))
        for text in g.iterfind(".//s:text", SVG_NS):
            assert len(text.text) * tracegraph.CHAR_W <= width - 12 + 0.1, text.text
    lanes = root.findall(".//s:g[@class='lane']", SVG_NS)
    assert len(lanes) == 5
    long_lane = next(g for g in lanes if "rather-long" in g.findtext("s:title", namespaces=SVG_NS))
    assert long_lane.findtext("s:text", namespaces=SVG_NS).endswith("…")  # cut, whole in title
    legend = root.find(".//s:g[@class='legend']", SVG_NS)
    assert legend is not None
    said = " ".join(t.text for t in legend.iterfind("s:text", SVG_NS))
    assert "errors" in said and "retried" in said and "informed" in said
    fills = {r.get("fill") for r in legend.iterfind("s:rect", SVG_NS)}
    assert {r.get("fill") for r in root.iterfind(".//s:rect[@class='hop']", SVG_NS)} <= fills
    failed = next(
        g for g in boxes if "validation failed" in g.findtext("s:title", namespaces=SVG_NS)
    )
    assert "failed" in failed.get("class")


def test_the_html_trace_links_uuids_producers_messages_and_hops(long_served: str) -> None:
    with httpx.Client(base_url=long_served, timeout=30) as c:
        hops = c.get(f"/trace/{LONG}").json()["hops"]
        page = c.get(f"/trace/{LONG}", headers={"Accept": "text/html"})
        assert page.status_code == 200
        doc = lxml.html.fromstring(page.text)
        hrefs = [a.get("href") for a in doc.iter("a")]
        ids = {e.get("id") for e in doc.iter() if e.get("id")}
        fragments = [h[1:] for h in hrefs if h.startswith("#")]
        assert {f"hop-{i}" for i in range(1, 51)} <= set(fragments)
        assert set(fragments) <= ids  # every fragment link lands on its section
        for hop in hops:
            assert href_of(hop["message"]) in hrefs
            assert href_of(hop["producer"]["iri"]) in hrefs
            assert f"/trace/{quote(hop['addedUUID'], safe='')}" in hrefs
        # the inline graph's boxes go to the rows
        svg = doc.xpath("//figure//*[local-name()='svg']")[0]
        box_links = [a.get("href") for a in svg.xpath(".//*[local-name()='a']")]
        assert box_links == [f"#hop-{i}" for i in range(1, 51)]
        # and they all resolve
        assert c.get(hops[3]["message"], headers={"Accept": "text/html"}).status_code == 200
        producer = c.get(hops[3]["producer"]["iri"], headers={"Accept": "text/html"})
        assert producer.status_code == 200 and hops[3]["producer"]["name"] in producer.text
        by_uuid = c.get(f"/trace/{quote(hops[20]['addedUUID'], safe='')}")
        assert by_uuid.status_code == 200 and len(by_uuid.json()["hops"]) == 50


def test_the_landing_page_searches_and_lists_recent_keys(long_served: str) -> None:
    with httpx.Client(base_url=long_served, timeout=30) as c:
        page = c.get("/trace", headers={"Accept": "text/html"})
        assert page.status_code == 200
        doc = lxml.html.fromstring(page.text)
        form = doc.xpath("//form[@action='/trace']")[0]
        assert form.get("method") == "get" and form.xpath(".//input[@name='key']")
        assert f"/trace/{LONG}" in [a.get("href") for a in doc.iter("a")]  # newest first
        recent = c.get("/trace.json").json()["recent"]
        assert recent[0]["key"] == LONG and recent[0]["trace"] == f"/trace/{LONG}"
        hops = c.get(f"/trace/{LONG}").json()["hops"]
        added = hops[0]["addedUUID"]
        for key, to in [
            (LONG, f"/trace/{LONG}"),
            (f"  {LONG} ", f"/trace/{LONG}"),
            (added, f"/trace/{quote(added, safe='')}"),
            (added.removeprefix("urn:uuid:"), f"/trace/{added.removeprefix('urn:uuid:')}"),
            (hops[9]["message"], f"/trace/{LONG}#hop-10"),  # a message's IRI: its own row
        ]:
            found = c.get("/trace", params={"key": key})
            assert found.status_code == 303, (key, found.text)
            assert found.headers["Location"] == to
        followed = c.get(
            f"/trace?key={LONG}", headers={"Accept": "text/html"}, follow_redirects=True
        )
        assert followed.status_code == 200 and followed.text.count('<tr id="hop-') == 50


def test_a_key_not_found_says_what_was_looked_for_and_what_is_close(long_served: str) -> None:
    with httpx.Client(base_url=long_served, timeout=30) as c:
        for url in ("/trace?key=TDR-2026-L51", "/trace/TDR-2026-L51"):
            page = c.get(url, headers={"Accept": "text/html"})
            assert page.status_code == 404
            doc = lxml.html.fromstring(page.text)
            assert "TDR-2026-L51" in doc.text_content()
            assert f"/trace/{LONG}" in [a.get("href") for a in doc.iter("a")]  # did you mean
            assert doc.xpath("//form[@action='/trace']//input[@name='key']/@value") == [
                "TDR-2026-L51"
            ]
        problem = c.get("/trace/TDR-2026-L51", headers={"Accept": "application/problem+json"})
        assert problem.status_code == 404 and LONG in problem.json()["closeMatches"]
        unknown = c.get("/trace", params={"key": "https://example.org/not-a-message"})
        assert unknown.status_code == 404


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")
def test_a_50_hop_trace_in_headless_chromium(long_served: str, tmp_path: Path) -> None:
    """The page as a person sees it; kept in $JOBTRAIL_SCREENSHOTS when that is set."""
    where = Path(os.environ.get("JOBTRAIL_SCREENSHOTS") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    shots = []
    for name, url in [
        ("trace-50-hops.png", f"{long_served}trace/{LONG}"),
        ("trace-50-hops-svg.png", f"{long_served}trace/{LONG}.svg"),
        ("trace-landing.png", f"{long_served}trace"),
    ]:
        shot = where / name
        result = subprocess.run(
            headless_chromium(
                tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,2400", url
            ),
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        assert shot.stat().st_size > 10_000
        shots.append(shot)
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)
