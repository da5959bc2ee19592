"""Every job as of any time (Memento, RFC 7089) against a real server.

A job runs through its phases (its input is served slowly, so it stays EXECUTING over whole
seconds); asked for with Accept-Datetime at times between its changes, the job's IRI (its own
TimeGate) redirects to the version current then, whose state says the phase it was in. The
TimeMap lists every version; the official `memento-client` finds the right memento; a deleted
job answers for the times it existed. Without Accept-Datetime the job answers as before.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import httpx
import lxml.html
import pytest
import rdflib
from memento_client import MementoClient

from tests.conftest import ADMIN_TOKEN, JOB_USERS, DocumentServer, job_server

JT = rdflib.Namespace("https://w3id.org/jobtrail/vocab#")
UWS = "https://w3id.org/jobtrail/status/uws/"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def basic(user: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{JOB_USERS[user]}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


ALICE = basic("alice")


def http_date(when: datetime) -> str:
    return format_datetime(when.astimezone(UTC).replace(microsecond=0), usegmt=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("memento")
    with job_server(root / "data", root / "files") as base:
        yield base


@pytest.fixture
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=20) as c:
        yield c


def run(client: httpx.Client, url: str) -> str:
    """A Fixity job of alice's on `url`, run to its end; its IRI."""
    created = client.post(
        "/jobs",
        content=f"url={url}&profile=Fixity",
        headers={"Content-Type": "application/x-www-form-urlencoded", **ALICE},
    )
    assert created.status_code == 201, created.text
    job = created.text
    deadline = time.monotonic() + 30
    while client.get(job, headers={"Accept": "text/turtle", **ALICE}).status_code == 202:
        assert time.monotonic() < deadline, f"{job} still runs"
        time.sleep(0.1)
    return job


@pytest.fixture(scope="module")
def slow_job(server: str, documents: DocumentServer) -> str:
    """A job that stayed EXECUTING for 2.5 s: QUEUED, EXECUTING, COMPLETED."""
    url = documents.put("/memento.txt", b"as of any time\n", "text/plain")
    with httpx.Client(base_url=server, timeout=20) as c:
        return run(c, f"{url}?delay=2.5")


def timemap(client: httpx.Client, job: str, who: dict[str, str] = ALICE) -> dict[str, Any]:
    answer = client.get(f"{job}/timemap.json", headers=who)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def as_of(client: httpx.Client, job: str, when: str) -> httpx.Response:
    return client.get(job, headers={"Accept-Datetime": when, **ALICE})


def state(client: httpx.Client, memento: str) -> rdflib.Graph:
    answer = client.get(memento, headers={"Accept": "text/turtle", **ALICE})
    assert answer.status_code == 200, answer.text
    return rdflib.Graph().parse(data=answer.text, format="turtle")


def phase(graph: rdflib.Graph, job: str) -> str:
    return str(graph.value(rdflib.URIRef(job), JT.phase)).removeprefix(UWS)


def test_the_timemap_lists_every_version(client: httpx.Client, slow_job: str) -> None:
    listed = timemap(client, slow_job)["mementos"]["list"]
    assert [v["phase"] for v in listed] == ["QUEUED", "EXECUTING", "COMPLETED"]
    assert [v["version"] for v in listed] == [1, 2, 3]
    assert [v["uri"] for v in listed] == [f"{slow_job}/versions/{n}" for n in (1, 2, 3)]
    link = client.get(f"{slow_job}/timemap", headers=ALICE)
    assert link.status_code == 200
    assert link.headers["content-type"].startswith("application/link-format")
    entries = [e.strip() for e in link.text.split(",\n")]
    assert entries[0] == f'<{slow_job}>; rel="original"'
    assert entries[1].startswith(f'<{slow_job}/timemap>; rel="self"')
    assert entries[2] == f'<{slow_job}>; rel="timegate"'
    assert entries[3].startswith(f'<{slow_job}/versions/1>; rel="first memento"; datetime=')
    assert entries[4].startswith(f'<{slow_job}/versions/2>; rel="memento"; datetime=')
    assert entries[5].startswith(f'<{slow_job}/versions/3>; rel="last memento"; datetime=')
    page = client.get(f"{slow_job}/timemap", headers={"Accept": BROWSER, **ALICE})
    rows = lxml.html.fromstring(page.text).xpath("//table[@class='job-versions']//tr[td]")
    assert len(rows) == 3


def test_the_job_as_of_times_between_its_changes(client: httpx.Client, slow_job: str) -> None:
    listed = timemap(client, slow_job)["mementos"]["list"]
    started = parsedate_to_datetime(listed[1]["datetime"])
    ended = parsedate_to_datetime(listed[2]["datetime"])
    assert ended - started >= timedelta(seconds=2)
    for when, expected, version in (
        (started + timedelta(seconds=1), "EXECUTING", 2),
        (ended, "COMPLETED", 3),
        (ended + timedelta(days=400), "COMPLETED", 3),
    ):
        gate = as_of(client, slow_job, http_date(when))
        assert gate.status_code == 302, gate.text
        assert gate.headers["location"] == f"{slow_job}/versions/{version}"
        assert "accept-datetime" in gate.headers["vary"].lower()
        links = gate.headers["link"]
        assert f'<{slow_job}>; rel="original timegate"' in links
        assert f'<{slow_job}/timemap>; rel="timemap"' in links
        assert f'<{slow_job}/versions/1>; rel="first ' in links  # first (prev) memento
        memento = client.get(gate.headers["location"], headers={"Accept": "text/turtle", **ALICE})
        assert memento.status_code == 200
        assert memento.headers["memento-datetime"] == listed[version - 1]["datetime"]
        assert f'<{slow_job}>; rel="original timegate"' in memento.headers["link"]
        graph = rdflib.Graph().parse(data=memento.text, format="turtle")
        assert phase(graph, slow_job) == expected
        assert int(graph.value(rdflib.URIRef(slow_job), JT.sequence)) == version
    executing = state(client, f"{slow_job}/versions/2")
    prov = rdflib.Namespace("http://www.w3.org/ns/prov#")
    job = rdflib.URIRef(slow_job)
    assert executing.value(job, prov.startedAtTime) is not None
    assert executing.value(job, prov.endedAtTime) is None  # not yet, then
    assert executing.value(job, JT.result) is None
    assert state(client, f"{slow_job}/versions/3").value(job, JT.result) is not None
    memento = rdflib.URIRef(f"{slow_job}/versions/2")
    assert (memento, prov.specializationOf, job) in executing


def test_before_the_job_existed_is_404(client: httpx.Client, slow_job: str) -> None:
    first = parsedate_to_datetime(timemap(client, slow_job)["mementos"]["first"]["datetime"])
    answer = as_of(client, slow_job, http_date(first - timedelta(seconds=1)))
    assert answer.status_code == 404
    assert "did not exist yet" in answer.text and "created at" in answer.text


@pytest.mark.parametrize(
    "bad",
    ["yesterday", "2026-12-01T12:00:00Z", "Tue, 01 Dec 2026 12:00:00 CET", "Tue, 31 Feb 2026 1"],
)
def test_a_malformed_accept_datetime_is_400(client: httpx.Client, slow_job: str, bad: str) -> None:
    answer = as_of(client, slow_job, bad)
    assert answer.status_code == 400
    assert "RFC 1123" in answer.text


def test_without_accept_datetime_the_job_answers_as_before(
    client: httpx.Client, slow_job: str
) -> None:
    answer = client.get(slow_job, headers={"Accept": "text/turtle", **ALICE})
    assert answer.status_code == 303
    assert "memento-datetime" not in answer.headers
    # where its versions are: itself as the TimeGate, and its TimeMap
    assert f'<{slow_job}>; rel="original timegate"' in answer.headers["link"]
    assert f'<{slow_job}/timemap>; rel="timemap"' in answer.headers["link"]
    assert answer.headers["vary"] == "Accept, Accept-Datetime"
    page = client.get(slow_job, headers={"Accept": BROWSER, **ALICE})
    assert page.status_code == 200
    (versions,) = lxml.html.fromstring(page.text).xpath(
        "//ul[contains(@class, 'job-views')]//a[contains(., 'every version')]/@href"
    )
    assert client.get(versions, headers=ALICE).status_code == 200


def test_every_format_of_a_memento(client: httpx.Client, slow_job: str) -> None:
    version = f"{slow_job}/versions/2"
    for ext, media, fmt in (
        (".ttl", "text/turtle", "turtle"),
        (".jsonld", "application/ld+json", "json-ld"),
        (".nt", "application/n-triples", "nt"),
        (".rdf", "application/rdf+xml", "xml"),
    ):
        answer = client.get(f"{version}{ext}", headers=ALICE)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith(media)
        graph = rdflib.Graph().parse(data=answer.text, format=fmt)
        assert phase(graph, slow_job) == "EXECUTING"
        negotiated = client.get(version, headers={"Accept": media, **ALICE})
        assert negotiated.headers["content-type"].startswith(media)
    page = client.get(version, headers={"Accept": BROWSER, **ALICE})
    assert page.status_code == 200
    dom = lxml.html.fromstring(page.text)
    assert "EXECUTING" in dom.xpath("string(//*[contains(@class, 'job-status')])")
    assert "Version 2 of 3" in dom.xpath("string(//p[@class='memento'])")
    assert not dom.xpath("//form[@method='post']")  # no actions on the past
    assert len(dom.xpath("//table[contains(@class, 'job-history')]//tr[td]")) == 2


def test_a_version_number_that_is_not_one(client: httpx.Client, slow_job: str) -> None:
    assert client.get(f"{slow_job}/versions/0", headers=ALICE).status_code == 400
    assert client.get(f"{slow_job}/versions/two", headers=ALICE).status_code == 400
    missing = client.get(f"{slow_job}/versions/9", headers=ALICE)
    assert missing.status_code == 404
    assert "versions are 1 to 3" in missing.text


def test_the_memento_client_finds_the_right_memento(slow_job: str) -> None:
    listed = timemap(httpx.Client(), slow_job)["mementos"]["list"]
    started = parsedate_to_datetime(listed[1]["datetime"])
    with MementoClient(timegate_uri="", check_native_timegate=True) as mc:
        mc.session.headers.update(ALICE)
        info = mc.get_memento_info(slow_job, (started + timedelta(seconds=1)).replace(tzinfo=None))
    assert info["timegate_uri"] == slow_job
    closest = info["mementos"]["closest"]
    assert closest["uri"] == [f"{slow_job}/versions/2"]
    assert closest["http_status_code"] == 200
    assert closest["datetime"] == started.replace(tzinfo=None)
    assert info["mementos"]["first"]["uri"] == [f"{slow_job}/versions/1"]
    assert info["mementos"]["last"]["uri"] == [f"{slow_job}/versions/3"]
    assert info["mementos"]["next"]["uri"] == [f"{slow_job}/versions/3"]


def test_a_deleted_job_answers_for_the_times_it_existed(
    client: httpx.Client, documents: DocumentServer
) -> None:
    url = documents.put("/memento-gone.txt", b"soon gone\n", "text/plain")
    job = run(client, url)
    time.sleep(1.1)  # its deletion in a later second than its end
    assert client.delete(job, headers=ALICE).status_code == 200
    listed = timemap(client, job)["mementos"]["list"]
    assert listed[-1]["phase"] == "COMPLETED"
    assert timemap(client, job)["deleted"] is not None
    ended = parsedate_to_datetime(listed[-1]["datetime"])
    gate = as_of(client, job, http_date(ended))
    assert gate.status_code == 302
    last = gate.headers["location"]
    assert phase(state(client, last), job) == "COMPLETED"
    after = as_of(client, job, http_date(datetime.now(UTC) + timedelta(seconds=5)))
    assert after.status_code == 410
    assert "was deleted at" in after.text
    deletion = len(listed) + 1
    assert client.get(f"{job}/versions/{deletion}", headers=ALICE).status_code == 410
    # its readers only: anonymous gets what it gets for the job
    assert client.get(f"{job}/timemap").status_code == client.get(job).status_code


def test_the_named_query_job_as_of(client: httpx.Client, slow_job: str) -> None:
    listed = timemap(client, slow_job)["mementos"]["list"]
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Accept": "application/sparql-results+json"}

    def asked(when: str) -> list[dict[str, Any]]:
        answer = client.get(
            "/queries/job-as-of", params={"job": slow_job, "asOf": when}, headers=admin
        )
        assert answer.status_code == 200, answer.text
        return list(answer.json()["results"]["bindings"])

    for version in listed:
        (row,) = asked(version["at"])  # at its exact time: that version
        assert row["phase"]["value"] == version["phase"]
        assert int(row["version"]["value"]) == version["version"]
        assert row["record"]["value"] == version["record"]
        assert row["deleted"]["value"] == "false"
    (running,) = asked(listed[1]["at"])
    assert "started" in running and "ended" not in running
    (done,) = asked(listed[2]["at"])
    assert datetime.fromisoformat(done["ended"]["value"]) == datetime.fromisoformat(listed[2]["at"])
    first = parsedate_to_datetime(listed[0]["datetime"]) - timedelta(seconds=1)
    assert asked(first.isoformat().replace("+00:00", "Z")) == []  # it did not exist yet


def test_each_version_is_the_state_the_job_had(
    client: httpx.Client, documents: DocumentServer
) -> None:
    """The fold checked against the job's own state graph, read after each change (a UWS
    job: created PENDING, its run id changed, then run): the version after the last update
    and the last version are that state exactly; the first lacks only what the update changed
    (and says so)."""
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    def state_now(job: str) -> rdflib.Graph:
        query = f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{job}> {{ ?s ?p ?o }} }}"
        answer = client.get(
            "/sparql", params={"query": query}, headers={"Accept": "application/n-triples", **admin}
        )
        assert answer.status_code == 200, answer.text
        return rdflib.Graph().parse(data=answer.text, format="nt")

    def version(job: str, n: int) -> rdflib.Graph:
        graph = state(client, f"{job}/versions/{n}")
        for triple in list(graph.triples((rdflib.URIRef(f"{job}/versions/{n}"), None, None))):
            graph.remove(triple)
        return graph

    def same(a: rdflib.Graph, b: rdflib.Graph) -> None:
        assert set(a) == set(b), (sorted(set(a) - set(b)), sorted(set(b) - set(a)))

    url = documents.put("/memento-uws.txt", b"uws\n", "text/plain")
    made = client.post("/uws/Fixity", data={"URL": url, "RUNID": "first"}, headers=ALICE)
    assert made.status_code == 303, made.text
    uws = made.headers["location"]
    described = client.get(uws, headers=ALICE)
    job = described.headers["link"].split(">")[0].lstrip("<")
    created = state_now(job)
    assert client.post(uws, data={"RUNID": "second"}, headers=ALICE).status_code == 303
    updated = state_now(job)
    assert client.post(uws, data={"PHASE": "RUN"}, headers=ALICE).status_code == 303
    deadline = time.monotonic() + 30
    while client.get(job, headers={"Accept": "text/turtle", **ALICE}).status_code == 202:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    ended = state_now(job)
    listed = timemap(client, job)["mementos"]["list"]
    assert [v["change"] for v in listed[:2]] == ["created", "updated"]
    assert listed[-1]["phase"] == "COMPLETED"
    same(version(job, 2), updated)
    same(version(job, len(listed)), ended)
    first = version(job, 1)
    run_id = rdflib.URIRef(f"{JT}runId")
    assert (rdflib.URIRef(job), run_id, rdflib.Literal("first")) in created
    assert first.value(rdflib.URIRef(job), run_id) is None  # changed since: not known
    settable = {JT.runId, JT.parameter, JT.executionDuration, JT.destruction, JT.quote}
    settable |= {rdflib.URIRef("http://www.w3.org/ns/prov#used")}
    known = {
        t for t in created if t[1] not in settable and not str(t[0]).startswith(f"{job}#parameter")
    }
    same(first, known)
    comment = state(client, f"{job}/versions/1").value(
        rdflib.URIRef(f"{job}/versions/1"), rdflib.RDFS.comment
    )
    assert "run_id" in str(comment)
