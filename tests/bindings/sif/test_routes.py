"""The SIF 3.2.1 binding against a real `jobtrail serve` on loopback.

Every XML document the server sends under /sif/ is validated against the jobs
object's schema (bindings/sif) by a response hook; the job is then read by
clients nobody here wrote: rdflib dereferencing its canonical IRI, pyvo's UWS
parser, SPARQLWrapper for its hops.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import httpx
import pytest
import rdflib
from lxml import etree
from pyvo.io.uws import parse_job
from SPARQLWrapper import JSON, SPARQLWrapper

from tests.bindings.jobservice.test_jobs import basic
from tests.conftest import ADMIN_TOKEN, job_server

NS = "http://www.sifassociation.org/infrastructure/3.2.1"
N = {"s": NS}
SEED = Path(__file__).parents[2] / "data" / "seeds" / "sif-3.2.1-jobs.txt"
JT = "https://w3id.org/jobtrail/vocab#"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
"""SPARQL sees the whole store: once it holds someone's job, only the admin (or a curator) asks."""

PAYLOAD = (
    '<consignment xmlns="urn:example:tdr" ref="TDR-2021-GW3">'
    "<files>3</files><note>a &amp; b</note></consignment>"
)


@cache
def schema() -> etree.XMLSchema:
    """The official SIF 3.2.1 infrastructure schemas, vendored (bindings/sif/xsd, Apache 2.0,
    from Access4Learning/sif3-framework-dotnet): every document the server sends is checked."""
    entry = files("jobtrail.bindings.sif") / "xsd" / "Collections.xsd"
    return etree.XMLSchema(etree.parse(str(entry)))


def job_document(
    name: str = "Transfer", timeout: str | None = "P1D", phase: str = "package"
) -> bytes:
    timeout_element = f"<timeout>{timeout}</timeout>" if timeout else ""
    return (
        f'<job xmlns="{NS}"><name>{name}</name><description>Transfer TDR-2021-GW3</description>'
        f"{timeout_element}<initialization><phaseName>{phase}</phaseName>"
        f"<payload>{PAYLOAD}</payload></initialization></job>"
    ).encode()


def state_document(kind: str, description: str = "") -> bytes:
    inner = f"<type>{kind}</type><description>{description}</description>"
    return f'<state xmlns="{NS}">{inner}</state>'.encode()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("sif")
    with job_server(root / "data", root / "files") as base:
        yield base


@pytest.fixture
def client(served: str) -> Iterator[httpx.Client]:
    def validate(response: httpx.Response) -> None:
        response.read()
        kind = response.headers.get("content-type", "")
        if response.url.path.startswith("/sif/") and kind.startswith("application/xml"):
            root = etree.fromstring(response.content)
            if etree.QName(root).namespace == NS:
                assert schema().validate(root), schema().error_log

    with httpx.Client(
        base_url=served,
        headers={"Content-Type": "application/xml"},
        event_hooks={"response": [validate]},
    ) as c:
        yield c


def create(client: httpx.Client, body: bytes | None = None, **headers: str) -> etree._Element:
    r = client.post("/sif/jobs/Transfers/Transfer", content=body or job_document(), headers=headers)
    assert r.status_code == 201, r.text
    return etree.fromstring(r.content)


def post_state(client: httpx.Client, job_id: str, phase: str, kind: str, why: str = "") -> Any:
    r = client.post(
        f"/sif/jobs/Transfers/{job_id}/{phase}/states/state", content=state_document(kind, why)
    )
    assert r.status_code == 201, r.text
    return r


def text(element: etree._Element, path: str) -> str:
    found = element.findtext(path, namespaces=N)
    assert found is not None, path
    return found


def path_of(element: etree._Element) -> str:
    names = [etree.QName(e).localname for e in [*element.iterancestors()][::-1] + [element]]
    return "/".join(names)


def test_create_follow_complete_and_every_view_agrees(client: httpx.Client, served: str) -> None:
    body = job_document()
    r = client.post("/sif/jobs/Transfers/Transfer", content=body)
    assert r.status_code == 201, r.text
    job = etree.fromstring(r.content)
    job_id = job.get("id")
    assert job_id and re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", job_id
    )
    canonical = f"{served.rstrip('/')}/jobs/{job_id}"
    assert r.headers["Location"].endswith(f"/sif/jobs/Transfers/{job_id}")
    assert f"<{canonical}>" in r.headers["Link"]
    assert text(job, "s:state") == "NOTSTARTED"
    assert text(job, "s:created") and text(job, "s:lastModified")
    phases = job.findall("s:phases/s:phase", N)
    assert [text(p, "s:name") for p in phases] == ["package", "validation", "ingest", "report"]
    assert {text(p, "s:states/s:state/s:type") for p in phases} == {"NOTSTARTED"}
    payload = job.find("s:initialization/s:payload", N)
    assert payload is not None
    assert etree.tostring(payload[0], method="c14n") == etree.tostring(
        etree.fromstring(PAYLOAD), method="c14n"
    )

    # the job follows its phases
    expected = [
        ("package", "INPROGRESS", "INPROGRESS", "EXECUTING"),
        ("package", "COMPLETED", "INPROGRESS", "EXECUTING"),
        ("validation", "COMPLETED", "INPROGRESS", "EXECUTING"),
        ("report", "PENDING", "INPROGRESS", "EXECUTING"),
        ("ingest", "COMPLETED", "COMPLETED", "COMPLETED"),  # report is not required
    ]
    for phase, kind, job_state, uws_phase in expected:
        made = etree.fromstring(post_state(client, job_id, phase, kind, f"{phase} {kind}").content)
        assert text(made, "s:type") == kind
        now = etree.fromstring(client.get(f"/sif/jobs/Transfers/{job_id}").content)
        assert text(now, "s:state") == job_state
        assert client.get(f"/uws/Transfer/{job_id}/phase").text == uws_phase
    states = etree.fromstring(client.get(f"/sif/jobs/Transfers/{job_id}/package/states").content)
    assert [t.text for t in states.iterfind("s:state/s:type", N)] == [
        "NOTSTARTED",
        "INPROGRESS",
        "COMPLETED",
    ]

    # linked data: rdflib dereferences the canonical IRI
    g = rdflib.Graph().parse(canonical)
    me = rdflib.URIRef(canonical)
    assert g.value(me, rdflib.URIRef(JT + "phase")) == rdflib.URIRef(
        "https://w3id.org/jobtrail/status/uws/COMPLETED"
    )
    assert str(g.value(me, rdflib.URIRef(JT + "statusValue"))) == "COMPLETED"
    named = {
        str(g.value(p, rdflib.URIRef(JT + "phaseName")))
        for p in g.objects(me, rdflib.URIRef(JT + "sifPhase"))
    }
    assert named == {"package", "validation", "ingest", "report"}
    # UWS, read by pyvo's parser
    uws = parse_job(io.BytesIO(client.get(f"/uws/Transfer/{job_id}").content))
    assert (uws.jobid, uws.phase) == (job_id, "COMPLETED")
    assert uws.creationtime is not None and uws.endtime is not None
    # MCMA's model of the same job
    mcma = client.get(f"/mcma/jobs/{job_id}", headers={"Accept": "application/json"}).json()
    assert mcma["status"] == "Completed"

    # the initialization payload is a hop of the job, its bytes verbatim
    sparql = SPARQLWrapper(f"{served.rstrip('/')}/sparql")
    sparql.setReturnFormat(JSON)
    sparql.addCustomHttpHeader("Authorization", ADMIN["Authorization"])
    sparql.setQuery(
        f"SELECT ?text WHERE {{ ?m <{JT}about> <{canonical}> ; <{JT}originalText> ?text }}"
    )
    texts = [b["text"]["value"] for b in sparql.queryAndConvert()["results"]["bindings"]]  # type: ignore[index]
    assert any(
        t.startswith("POST /sif/jobs/Transfers/Transfer") and t.endswith(body.decode())
        for t in texts
    )
    assert any(t.startswith("HTTP/1.1 201") for t in texts)


def test_the_document_has_the_seeds_structure(client: httpx.Client) -> None:
    """Every element of our job is where the seed's XML structure has it, in its order."""
    seed = SEED.read_text(encoding="utf-8")
    template = seed.split("XML Structure", 1)[1].split("Download", 1)[0].strip()
    seed_order = {path_of(e): i for i, e in enumerate(etree.fromstring(template.encode()).iter())}
    job_id = create(client).get("id")
    post_state(client, job_id, "validation", "FAILED", "checksum mismatch")
    listed = etree.fromstring(client.get("/sif/jobs/Transfers").content)
    mine = next(j for j in listed if j.get("id") == job_id)
    for element in mine.iter():
        here = path_of(element)
        if "/payload/" in here:
            continue  # the consumer's own XML
        assert here in seed_order, here
        children = [seed_order[path_of(c)] for c in element if "/payload/" not in path_of(c)]
        assert children == sorted(children), here
    assert text(mine, "s:state") == "FAILED"
    assert text(mine, "s:stateDescription") == "required phase validation failed: checksum mismatch"


def test_phase_payloads_follow_the_rights(client: httpx.Client) -> None:
    job_id = create(client).get("id")
    phase = f"/sif/jobs/Transfers/{job_id}"
    got = client.get(f"{phase}/package")
    assert got.status_code == 200 and etree.fromstring(got.content).get("ref") == "TDR-2021-GW3"
    refusals = [
        ("put", "validation", "UPDATE", "REJECTED"),
        ("delete", "package", "DELETE", "REJECTED"),
    ]
    for method, name, right, value in refusals:
        r = client.request(method.upper(), f"{phase}/{name}", content=b"<changed/>")
        assert r.status_code == 403, (method, name)
        error = etree.fromstring(r.content)
        assert text(error, "s:code") == "403"
        assert right in text(error, "s:message") and value in text(error, "s:message")
        assert r.headers["messageType"] == "ERROR"
    assert etree.fromstring(client.get(f"{phase}/package").content).get("ref") == "TDR-2021-GW3"
    # report allows everything
    assert client.get(f"{phase}/report").status_code == 204  # nothing sent yet
    made = client.post(f"{phase}/report", content=b'<report xmlns="urn:x">ok</report>')
    assert made.status_code == 201
    assert client.get(f"{phase}/report").content == b'<report xmlns="urn:x">ok</report>'
    changed = client.put(
        f"{phase}/report", content=b"all 3 files ingested", headers={"Content-Type": "text/plain"}
    )
    assert changed.status_code == 200
    again = client.get(f"{phase}/report")
    assert again.text == "all 3 files ingested" and again.headers["content-type"].startswith(
        "text/plain"
    )
    assert client.delete(f"{phase}/report").status_code == 204
    assert client.get(f"{phase}/report").status_code == 204
    # a payload that is not well-formed XML is refused, and the phase keeps what it had
    bad = client.put(f"{phase}/package", content=b"<unclosed>")
    assert bad.status_code == 400
    assert etree.fromstring(client.get(f"{phase}/package").content).get("ref") == "TDR-2021-GW3"


def test_states_follow_the_states_rights(tmp_path: Path) -> None:
    declared = (
        '{"services": [{"name": "Grading", "phases": [{"name": "marks", "required": true, '
        '"rights": {"QUERY": "APPROVED"}, "statesRights": {"QUERY": "APPROVED", '
        '"CREATE": "SUPPORTED"}}]}]}'
    )
    server = job_server(tmp_path / "data", tmp_path / "files", sif_services=declared)
    with (
        server as base,
        httpx.Client(base_url=base, headers={"Content-Type": "application/xml"}) as c,
    ):
        made = c.post(
            "/sif/jobs/Gradings/Grading",
            content=f'<job xmlns="{NS}"><name>Grading</name></job>'.encode(),
        )
        assert made.status_code == 201, made.text
        job_id = etree.fromstring(made.content).get("id")
        r = c.post(
            f"/sif/jobs/Gradings/{job_id}/marks/states/state",
            content=state_document("COMPLETED"),
        )
        assert r.status_code == 403
        assert "CREATE right on its states: it is SUPPORTED" in text(
            etree.fromstring(r.content), "s:message"
        )
        assert c.get(f"/uws/Grading/{job_id}/phase").text == "PENDING"
        assert c.get("/sif/jobs/Transfers").status_code == 404  # the file replaced the defaults


@pytest.mark.parametrize(
    ("body", "element", "says"),
    [
        (
            f'<job xmlns="{NS}"><description>d</description></job>',
            "description",
            "Expected is ( name )",
        ),
        (
            f'<job xmlns="{NS}"><name>Transfer</name><initialization><payload/><phaseName>package'
            "</phaseName></initialization></job>",
            "phaseName",
            "not expected",
        ),
        (job_document(timeout="one day"), "timeout", "duration"),
        (job_document(timeout="P"), "timeout", "duration"),
        (job_document(name="Grading"), "name", "not a job of the Transfer service"),
        (job_document(phase="upload"), "phaseName", "phase 'upload'"),
        (f'<jobs xmlns="{NS}"/>', "jobs", "not <job>"),
        (b'<job xmlns="urn:other"><name>Transfer</name></job>', "job", "in urn:other"),
        (f'<job xmlns="{NS}" id="not-a-uuid"><name>Transfer</name></job>', "job", "pattern"),
    ],
)
def test_a_malformed_job_is_refused_naming_the_element(
    client: httpx.Client, body: str | bytes, element: str, says: str
) -> None:
    before = len(etree.fromstring(client.get("/sif/jobs/Transfers").content))
    r = client.post(
        "/sif/jobs/Transfers/Transfer", content=body if isinstance(body, bytes) else body.encode()
    )
    assert r.status_code == 400, r.text
    error = etree.fromstring(r.content)
    assert text(error, "s:code") == "400"
    assert says in text(error, "s:message") + text(error, "s:description")
    assert f"'{element}'" in text(error, "s:message") or element in text(error, "s:description")
    assert len(etree.fromstring(client.get("/sif/jobs/Transfers").content)) == before


def test_xml_that_does_not_parse_names_the_line(client: httpx.Client) -> None:
    r = client.post("/sif/jobs/Transfers/Transfer", content=b"<job>\n<name>x</nam>\n</job>")
    assert r.status_code == 400
    assert "line 2" in text(etree.fromstring(r.content), "s:description")


BOMB = (
    b'<?xml version="1.0"?>\n<!DOCTYPE job [\n<!ENTITY a "'
    + b"a" * 40
    + b'">\n'
    + b"".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">\n'.encode() for i in range(9)
    )
    + b"]>\n"
    + f'<job xmlns="{NS}"><name>Transfer</name><description>&j;</description></job>'.encode()
)
XXE = (
    b'<?xml version="1.0"?>\n<!DOCTYPE job [<!ENTITY secret SYSTEM "file:///etc/passwd">]>\n'
    + f'<job xmlns="{NS}"><name>Transfer</name><description>&secret;</description></job>'.encode()
)


@pytest.mark.parametrize("body", [BOMB, XXE], ids=["billion-laughs", "external-entity"])
def test_entities_are_refused_without_expanding_them(client: httpx.Client, body: bytes) -> None:
    before = len(etree.fromstring(client.get("/sif/jobs/Transfers").content))
    started = time.monotonic()
    r = client.post("/sif/jobs/Transfers/Transfer", content=body)
    assert time.monotonic() - started < 2  # 10^10 expanded characters would take far longer
    assert r.status_code == 400
    assert "DOCTYPE is not allowed" in r.text
    assert "root:" not in r.text and len(r.content) < 2000
    assert len(etree.fromstring(client.get("/sif/jobs/Transfers").content)) == before
    # a phase payload gets the same treatment
    job_id = create(client).get("id")
    assert client.put(f"/sif/jobs/Transfers/{job_id}/package", content=body).status_code == 400


def test_timeout_removes_the_job(client: httpx.Client) -> None:
    job_id = create(client, job_document(timeout="PT1S")).get("id")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        r = client.get(f"/sif/jobs/Transfers/{job_id}")
        if r.status_code == 410:
            break
        time.sleep(0.2)
    assert r.status_code == 410, r.text
    assert client.get(f"/jobs/{job_id}").status_code == 410


def test_the_list_is_the_callers_and_pages(served: str) -> None:
    with httpx.Client(
        base_url=served, headers={"Content-Type": "application/xml", **basic("bob")}
    ) as bob:
        made = [create(bob).get("id") for _ in range(3)]
        every = [j.get("id") for j in etree.fromstring(bob.get("/sif/jobs/Transfers").content)]
        assert every[-3:] == made  # oldest first; anonymous jobs are everyone's
        size = str(len(every) - 1)
        first = bob.get(
            "/sif/jobs/Transfers", headers={"navigationPage": "1", "navigationPageSize": size}
        )
        second = bob.get(
            "/sif/jobs/Transfers", params={"navigationPage": "2", "navigationPageSize": size}
        )
        assert [j.get("id") for j in etree.fromstring(first.content)] == every[:-1]
        assert [j.get("id") for j in etree.fromstring(second.content)] == every[-1:]
        # every page names the real last page and the count (issue 19: it was only on the last)
        assert first.headers["navigationLastPage"] == second.headers["navigationLastPage"] == "2"
        assert first.headers["navigationCount"] == str(len(every))
        past = bob.get(
            "/sif/jobs/Transfers", headers={"navigationPage": "3", "navigationPageSize": size}
        )
        assert past.status_code == 204 and not past.content
        assert past.headers["navigationLastPage"] == "2"
        head = bob.head("/sif/jobs/Transfers")
        assert head.status_code == 200 and head.headers["navigationCount"] == str(len(every))
        assert head.headers["responseAction"] == "HEAD"
        assert bob.get("/sif/jobs/Transfers", headers={"navigationPage": "0"}).status_code == 400
    with httpx.Client(base_url=served, headers=basic("alice")) as alice:
        seen = [j.get("id") for j in etree.fromstring(alice.get("/sif/jobs/Transfers").content)]
        assert not set(made) & set(seen)
        assert alice.get(f"/sif/jobs/Transfers/{made[0]}").status_code == 403


def test_delete_keeps_the_history(client: httpx.Client) -> None:
    job_id = create(client).get("id")
    assert client.delete(f"/sif/jobs/Transfers/{job_id}").status_code == 204
    assert client.get(f"/sif/jobs/Transfers/{job_id}").status_code == 410
    query = (
        f"SELECT ?kind ?text WHERE {{ ?m <{JT}about> <{client.base_url}jobs/{job_id}> . "
        f"OPTIONAL {{ ?m <{JT}changeKind> ?kind }} OPTIONAL {{ ?m <{JT}originalText> ?text }} }}"
    )
    rows = client.get(
        "/sparql",
        params={"query": query},
        headers={"Accept": "application/sparql-results+json", **ADMIN},
    ).json()["results"]["bindings"]
    assert {r["kind"]["value"] for r in rows if "kind" in r} == {"created", "deleted"}
    assert any(r["text"]["value"].startswith(f"DELETE /sif/jobs/Transfers/{job_id}") for r in rows)


def test_uws_reads_sif_jobs_but_does_not_move_them(client: httpx.Client) -> None:
    job_id = create(client).get("id")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    made = client.post("/uws/Transfer", content=b"URL=http://h/x", headers=form)
    assert made.status_code == 403 and "/sif/jobs/Transfers" in made.text
    run = client.post(f"/uws/Transfer/{job_id}/phase", content=b"PHASE=RUN", headers=form)
    assert run.status_code == 403
    assert client.get(f"/uws/Transfer/{job_id}/phase").text == "PENDING"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/sif/jobs/Gradings", 404),
        ("/sif/jobs/Transfers;zoneId=school;contextId=current", 200),
        ("/sif/jobs/Transfers/00000000-0000-4000-8000-000000000000", 404),
    ],
)
def test_paths(client: httpx.Client, path: str, status: int) -> None:
    assert client.get(path).status_code == status


def test_an_unknown_phase_is_named(client: httpx.Client) -> None:
    job_id = create(client).get("id")
    r = client.get(f"/sif/jobs/Transfers/{job_id}/upload")
    assert r.status_code == 404
    assert "package, validation, ingest, report" in r.text


def test_the_services_page(client: httpx.Client) -> None:
    page = client.get("/sif/jobs", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "/sif/jobs/Transfers/Transfer" in page.text and "UPDATE=REJECTED" in page.text


def test_a_page_larger_than_the_servers_limit_is_cut_to_it(tmp_path: Path) -> None:
    server = job_server(tmp_path / "data", tmp_path / "files", uws_max_list="2")
    with (
        server as base,
        httpx.Client(base_url=base, headers={"Content-Type": "application/xml"}) as c,
    ):
        made = [create(c).get("id") for _ in range(3)]
        pages = [
            c.get("/sif/jobs/Transfers", params={"navigationPage": n, "navigationPageSize": 50})
            for n in (1, 2)
        ]
        assert [p.headers["navigationPageSize"] for p in pages] == ["2", "2"]
        shown = [j.get("id") for p in pages for j in etree.fromstring(p.content)]
        assert shown == made  # no job skipped between the pages
        assert pages[1].headers["navigationLastPage"] == "2"
