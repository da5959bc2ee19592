"""UWS 1.1 against a real server: pyvo drives the lifecycle, httpx checks every status.

Every XML document the server sends to the httpx client is validated against
the official UWS 1.1 schema (the `client` fixture, conftest.py) by a response hook, so
a test that reads a document has also checked it.
"""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import rdflib
from lxml import etree

from tests.bindings.jobservice.test_jobs import basic
from tests.bindings.uws.conftest import DATA
from tests.conftest import ADMIN_TOKEN, DocumentServer

pyvo_tap = pytest.importorskip("pyvo.dal.tap")
from pyvo.dal.exceptions import DALQueryError, DALServiceError  # noqa: E402

UWS = "{http://www.ivoa.net/xml/UWS/v1.0}"
XLINK = "{http://www.w3.org/1999/xlink}"
JT = rdflib.Namespace("https://w3id.org/jobtrail/vocab#")
SHA = hashlib.sha256(DATA).hexdigest()
SPARQL = {"Accept": "application/json", "Authorization": f"Bearer {ADMIN_TOKEN}"}
"""SPARQL sees the whole store: once it holds someone's job, only the admin (or a curator) asks."""


def create(client: httpx.Client, uws_list: str = "Fixity", **params: str) -> str:
    response = client.post(f"/uws/{uws_list}", data=params)
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(f"{client.base_url}uws/{uws_list}/")
    return location


def doc(client: httpx.Client, url: str, **params: str) -> etree._Element:
    response = client.get(url, params=params)
    assert response.status_code == 200, response.text
    return etree.fromstring(response.content)


def phase_of(client: httpx.Client, url: str) -> str:
    return client.get(f"{url}/phase").text


def wait_phase(client: httpx.Client, url: str, phases: set[str], seconds: float = 20) -> str:
    deadline = time.monotonic() + seconds
    while (phase := phase_of(client, url)) not in phases:
        assert time.monotonic() < deadline, f"{url} stayed {phase}"
        client.get(url, params={"WAIT": "2"})
    return phase


# --- pyvo drives the lifecycle ---------------------------------------------------------


def test_pyvo_runs_a_job_from_creation_to_deletion(
    client: httpx.Client, inputs: dict[str, str]
) -> None:
    url = create(client, URL=inputs["good"], expected=SHA, RUNID="pyvo-1")
    job = pyvo_tap.AsyncTAPJob(url)
    assert (job.phase, job.job_id, job.job.runid) == ("PENDING", url.rsplit("/", 1)[-1], "pyvo-1")
    assert job.uws_version == "1.1"
    job.execution_duration = 120
    assert job.execution_duration.sec == 120
    later = datetime.now(UTC) + timedelta(days=2)
    job.destruction = later
    assert abs((job.destruction.datetime.replace(tzinfo=UTC) - later).total_seconds()) < 1
    job.run().wait(timeout=20)
    assert job.phase == "COMPLETED"
    job.raise_if_error()
    assert [r.id_ for r in job.results] == ["fixity.json"]
    report = httpx.get(job.result_uris[0]).json()
    assert SHA in str(report)
    assert job.job.jobinfo is not None
    canonical = f"{client.base_url}jobs/{job.job_id}"
    job.delete()
    assert client.get(url).status_code == 404  # the UWS service forgets it (§2.2.3.3)
    assert client.get(canonical).status_code == 410  # its history stays at its IRI


def test_pyvo_sees_an_error_with_its_summary(client: httpx.Client, inputs: dict[str, str]) -> None:
    url = create(client, URL=inputs["good"], expected="0" * 64, PHASE="RUN")
    job = pyvo_tap.AsyncTAPJob(url)
    job.wait(timeout=20)
    assert job.phase == "ERROR"
    with pytest.raises(DALQueryError, match="SHA-256 mismatch"):
        job.raise_if_error()
    summary = doc(client, url).find(f"{UWS}errorSummary")
    assert summary is not None and summary.get("type") == "fatal"
    assert summary.get("hasDetail") == "true"
    detail = client.get(f"{url}/error")
    assert detail.status_code == 200 and "SHA-256 mismatch" in detail.text


def test_pyvo_aborts_a_running_job(
    client: httpx.Client, documents: DocumentServer, inputs: dict[str, str]
) -> None:
    slow = f"{inputs['good']}?delay=3"
    url = create(client, URL=slow, expected=SHA)
    job = pyvo_tap.AsyncTAPJob(url)
    job.run()
    # not pyvo's wait(phases={"EXECUTING"}): its WAIT=-1 blocks through EXECUTING (as the
    # spec says it should), and pyvo then polls a finished job for ever
    assert wait_phase(client, url, {"EXECUTING"}) == "EXECUTING"
    job.abort()
    assert job.phase == "ABORTED"
    with pytest.raises(DALQueryError):
        job.raise_if_error()
    time.sleep(3.5)  # the worker's fetch returns: its work is thrown away
    assert phase_of(client, url) == "ABORTED"
    assert doc(client, url).find(f"{UWS}results") is not None
    assert len(doc(client, url).find(f"{UWS}results")) == 0


def test_execution_duration_aborts_the_job_saying_why(
    client: httpx.Client, inputs: dict[str, str]
) -> None:
    """UWS 1.1 §2.1.4: past its execution duration the service "should automatically abort
    the job"; the error summary says why. pyvo's `wait` raises on an ABORTED job, whoever
    aborted it (its own rule: not a phase that leads to results)."""
    url = create(client, URL=f"{inputs['good']}?delay=4", expected=SHA, EXECUTIONDURATION="1")
    job = pyvo_tap.AsyncTAPJob(url)
    started = time.monotonic()
    with pytest.raises(DALServiceError, match="not active"):
        job.run().wait(timeout=20)
    assert job.phase == "ABORTED" and time.monotonic() - started < 3.5
    with pytest.raises(DALQueryError):
        job.raise_if_error()
    assert "execution duration" in job.job.errorsummary.message.content
    summary = doc(client, url).find(f"{UWS}errorSummary")
    assert summary is not None and summary.get("type") == "transient"


def test_destruction_removes_the_job(client: httpx.Client, inputs: dict[str, str]) -> None:
    url = create(client, URL=inputs["good"], expected=SHA)
    job = pyvo_tap.AsyncTAPJob(url)
    job.destruction = datetime.now(UTC) + timedelta(seconds=1)
    deadline = time.monotonic() + 10
    while client.get(url).status_code == 200:
        assert time.monotonic() < deadline, "the job outlived its destruction time"
        time.sleep(0.2)
    assert client.get(url).status_code == 404


# --- the documents ----------------------------------------------------------------------


def test_job_document_names_its_canonical_iri_which_agrees(
    client: httpx.Client, uws_served: str, inputs: dict[str, str]
) -> None:
    url = create(client, URL=inputs["good"], expected=SHA, PHASE="RUN")
    wait_phase(client, url, {"COMPLETED"})
    response = client.get(url)
    canonical = f"{uws_served}jobs/{url.rsplit('/', 1)[-1]}"
    assert f'<{canonical}>; rel="canonical"' in response.headers["link"]
    info = etree.fromstring(response.content).find(f"{UWS}jobInfo")
    assert info is not None and info[0].text == canonical
    assert client.get(canonical).status_code == 303  # the linked-data view: done, see the map
    query = f"SELECT ?phase WHERE {{ <{canonical}> <{JT.phase}> ?phase }}"
    rows = client.get("/sparql", params={"query": query}, headers=SPARQL)
    [phase] = [b["phase"]["value"] for b in rows.json()["results"]["bindings"]]
    assert phase.endswith("/COMPLETED")
    result = etree.fromstring(response.content).find(f"{UWS}results/{UWS}result")
    assert result is not None
    href = result.get(f"{XLINK}href")
    assert href == f"{canonical}/results/fixity.json"
    assert int(result.get("size") or 0) > 0 and result.get("mime-type") == "application/json"
    via_id = client.get(f"{url}/results/fixity.json")
    assert via_id.status_code == 303 and via_id.headers["location"] == href
    assert client.get(f"{url}/results/nothing").status_code == 404


@pytest.mark.parametrize(
    ("part", "expected"),
    [
        ("phase", "PENDING"),
        ("runid", "r-7"),
        ("owner", "alice"),
        ("quote", ""),
        ("executionduration", "77"),
        ("startTime", ""),
        ("endTime", ""),
        ("parameters/expected", SHA),
        ("parameters/EXPECTED", SHA),
    ],
)
def test_each_value_is_plain_text(
    client: httpx.Client, inputs: dict[str, str], part: str, expected: str
) -> None:
    alice = basic("alice")
    response = client.post(
        "/uws/Fixity",
        data={"URL": inputs["good"], "Expected": SHA, "runId": "r-7", "executionDuration": "77"},
        headers=alice,
    )
    url = response.headers["location"]
    value = client.get(f"{url}/{part}", headers=alice)
    assert value.status_code == 200 and value.headers["content-type"].startswith("text/plain")
    assert value.text == expected


def test_times_are_iso_8601_utc(client: httpx.Client, inputs: dict[str, str]) -> None:
    url = create(client, URL=inputs["good"], expected=SHA)
    for part in ("creationTime", "destruction"):
        text = client.get(f"{url}/{part}").text
        assert text.endswith("Z")
        assert datetime.fromisoformat(text).tzinfo is not None


# --- changing a job: what the spec allows, and what it refuses ------------------------------


def test_parameters_change_while_pending_and_are_refused_afterwards(
    client: httpx.Client, inputs: dict[str, str]
) -> None:
    url = create(client, URL=inputs["good"])
    assert client.post(f"{url}/parameters", data={"EXPECTED": "0" * 64}).status_code == 303
    assert client.get(f"{url}/parameters/expected").text == "0" * 64
    answer = client.post(f"{url}/parameters/expected", data={"expected": SHA})
    assert answer.status_code == 303 and answer.headers["location"] == url
    params = doc(client, url, **{}).find(f"{UWS}parameters")
    assert params is not None
    assert {p.get("id"): p.text for p in params} == {"URL": inputs["good"], "expected": SHA}
    client.post(f"{url}/phase", data={"PHASE": "RUN"})
    wait_phase(client, url, {"COMPLETED"})
    refused = client.post(f"{url}/parameters", data={"expected": "1" * 64})
    assert refused.status_code == 403 and "PENDING" in refused.text
    assert (
        client.post(f"{url}/executionduration", data={"EXECUTIONDURATION": "5"}).status_code == 403
    )
    assert client.get(f"{url}/parameters/expected").text == SHA


@pytest.mark.parametrize(
    ("part", "data", "status"),
    [
        ("executionduration", {"EXECUTIONDURATION": "-1"}, 400),
        ("executionduration", {"EXECUTIONDURATION": "soon"}, 400),
        ("destruction", {"DESTRUCTION": "tomorrow"}, 400),
        ("phase", {"PHASE": "FLY"}, 400),
        ("phase", {"PHASE": "ARCHIVE"}, 400),  # the service's to do (§2.1.3), not a client's
        ("phase", {"PHASE": "SUSPEND"}, 400),
        ("owner", {"OWNER": "mallory"}, 403),
        ("quote", {"QUOTE": "2030-01-01T00:00:00Z"}, 403),
        ("phase", {}, 400),
        ("nothing", {"X": "1"}, 403),
    ],
)
def test_bad_changes_are_refused_and_change_nothing(
    client: httpx.Client, inputs: dict[str, str], part: str, data: dict[str, str], status: int
) -> None:
    url = create(client, URL=inputs["good"], expected=SHA)
    before = client.get(url).content
    answer = client.post(f"{url}/{part}", data=data)
    assert answer.status_code == status, answer.text
    assert client.get(url).content == before


def test_writable_values_answer_303_to_the_job(
    client: httpx.Client, inputs: dict[str, str]
) -> None:
    url = create(client, URL=inputs["good"], expected=SHA)
    when = "2031-02-03T04:05:06.000Z"
    for part, data, value in [
        ("runid", {"RUNID": "renamed"}, "renamed"),
        ("executionduration", {"EXECUTIONDURATION": "30"}, "30"),
        ("destruction", {"DESTRUCTION": when}, when),
    ]:
        answer = client.post(f"{url}/{part}", data=data)
        assert (answer.status_code, answer.headers["location"]) == (303, url)
        assert client.get(f"{url}/{part}").text == value
    # POSTing to the job itself sets the same values
    assert client.post(url, data={"RUNID": "again", "EXECUTIONDURATION": "31"}).status_code == 303
    job = doc(client, url)
    assert job.findtext(f"{UWS}runId") == "again"
    assert job.findtext(f"{UWS}executionDuration") == "31"


def test_phase_actions_follow_the_state_machine(
    client: httpx.Client, inputs: dict[str, str]
) -> None:
    url = create(client, URL=inputs["good"], expected=SHA)
    assert client.post(f"{url}/phase", data={"PHASE": "ABORT"}).status_code == 303
    assert phase_of(client, url) == "ABORTED"
    refused = client.post(f"{url}/phase", data={"PHASE": "RUN"})
    assert refused.status_code == 403 and "ABORTED" in refused.text
    assert client.post(f"{url}/phase", data={"PHASE": "ABORT"}).status_code == 403


def test_run_at_creation_and_run_twice(client: httpx.Client, inputs: dict[str, str]) -> None:
    url = create(client, URL=inputs["good"], expected=SHA, phase="run")
    assert phase_of(client, url) in ("QUEUED", "EXECUTING", "COMPLETED")
    wait_phase(client, url, {"COMPLETED"})
    pending = create(client, URL=f"{inputs['good']}?delay=1", expected=SHA)
    assert client.post(f"{pending}/phase", data={"PHASE": "RUN"}).status_code == 303
    assert client.post(f"{pending}/phase", data={"PHASE": "RUN"}).status_code == 303
    wait_phase(client, pending, {"COMPLETED"})


def test_a_job_without_its_input_ends_in_error_saying_so(client: httpx.Client) -> None:
    url = create(client, expected=SHA, PHASE="RUN")
    wait_phase(client, url, {"ERROR"})
    assert "no input" in client.get(f"{url}/error").text


def test_delete_and_action_delete_answer_303_to_the_list(
    client: httpx.Client, uws_served: str, inputs: dict[str, str]
) -> None:
    for how in ("DELETE", "ACTION"):
        url = create(client, URL=inputs["good"], expected=SHA)
        if how == "DELETE":
            answer = client.delete(url)
        else:
            answer = client.post(url, data={"ACTION": "DELETE"})
        assert (answer.status_code, answer.headers["location"]) == (303, f"{uws_served}uws/Fixity")
        assert client.get(url).status_code == 404
    assert client.post(create(client), data={"ACTION": "EXPLODE"}).status_code == 400


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/uws/NoSuchList", 404),
        ("/uws/Fixity/no-such-job", 404),
        ("/uws/Fixity/{id}/nothing", 404),
        ("/uws/Fixity/{id}/error", 404),
        ("/uws/Fixity/{id}/parameters/nothing", 404),
        ("/uws/DocumentToText/{id}", 404),  # a Fixity job is not in that list
        ("/uws/Fixity?PHASE=BOGUS", 400),
        ("/uws/Fixity?LAST=0", 400),
        ("/uws/Fixity?AFTER=yesterday", 400),
        ("/uws/Fixity/{id}?WAIT=soon", 400),
    ],
)
def test_not_found_and_bad_requests(
    client: httpx.Client, inputs: dict[str, str], path: str, status: int
) -> None:
    job_id = create(client, URL=inputs["good"]).rsplit("/", 1)[-1]
    assert client.get(path.replace("{id}", job_id)).status_code == status


# --- the list -----------------------------------------------------------------------------


def refs(client: httpx.Client, **params: Any) -> list[tuple[str, str]]:
    jobs = doc(client, "/uws/Fixity", **params)
    assert jobs.get("version") == "1.1"
    return [(r.get("id") or "", r.findtext(f"{UWS}phase") or "") for r in jobs]


def test_list_filters_by_phase_after_and_last(client: httpx.Client, inputs: dict[str, str]) -> None:
    start = datetime.now(UTC)
    made = [create(client, URL=inputs["good"], expected=SHA).rsplit("/", 1)[-1] for _ in range(3)]
    aborted = create(client, URL=inputs["good"])
    client.post(f"{aborted}/phase", data={"PHASE": "ABORT"})
    aborted_id = aborted.rsplit("/", 1)[-1]
    since = refs(client, AFTER=start.isoformat())
    assert [i for i, _ in since] == [aborted_id, *reversed(made)]  # newest first
    assert [i for i, _ in refs(client, AFTER=start.isoformat(), LAST="2")] == [
        aborted_id,
        made[-1],
    ]
    pending = refs(client, AFTER=start.isoformat(), PHASE="PENDING")
    assert {i for i, _ in pending} == set(made)
    both = refs(client, params=None, AFTER=start.isoformat(), PHASE=["PENDING", "ABORTED"])
    assert {i for i, _ in both} == {*made, aborted_id}
    assert refs(client, AFTER=start.isoformat(), PHASE="ARCHIVED") == []


def test_list_is_scoped_to_the_owner(client: httpx.Client, inputs: dict[str, str]) -> None:
    alice, bob = basic("alice"), basic("bob")
    mine = client.post("/uws/Fixity", data={"URL": inputs["good"]}, headers=alice)
    url = mine.headers["location"]
    job_id = url.rsplit("/", 1)[-1]
    seen_by_alice = doc_ids(client, alice)
    assert job_id in seen_by_alice
    assert job_id not in doc_ids(client, bob)
    assert client.get(url, headers=bob).status_code == 403
    assert client.post(f"{url}/phase", data={"PHASE": "RUN"}, headers=bob).status_code == 403
    assert client.get(f"{url}/owner", headers=alice).text == "alice"
    ref = [
        r
        for r in etree.fromstring(client.get("/uws/Fixity", headers=alice).content)
        if r.get("id") == job_id
    ]
    assert ref[0].findtext(f"{UWS}ownerId") == "alice"
    paid = client.post("/uws/Fixity", data={"URL": inputs["good"]}, params={"pass": "rich-pass"})
    assert paid.status_code == 303  # priced by the job core like a job of /jobs
    paid_job = client.get(paid.headers["location"], params={"pass": "rich-pass"})
    assert paid_job.status_code == 200 and "rich-pass" not in paid_job.text


def doc_ids(client: httpx.Client, headers: dict[str, str]) -> set[str]:
    response = client.get("/uws/Fixity", headers=headers)
    return {r.get("id") or "" for r in etree.fromstring(response.content)}


# --- blocking ------------------------------------------------------------------------------


def test_wait_returns_as_soon_as_the_phase_changes(
    client: httpx.Client, uws_served: str, inputs: dict[str, str]
) -> None:
    """A WAIT blocks while the phase stays PENDING and returns, with the new phase, because the
    phase changed: after the change was asked for and well before the server's longest wait
    (5 s here), so not by timing out. The bound is generous, for a busy machine."""
    url = create(client, URL=inputs["good"], expected=SHA)
    seen: dict[str, Any] = {}

    def waiter() -> None:
        with httpx.Client() as other:
            response = other.get(url, params={"WAIT": "30"})
            seen["returned"] = time.monotonic()
            seen["phase"] = etree.fromstring(response.content).findtext(f"{UWS}phase")

    thread = threading.Thread(target=waiter)
    thread.start()
    time.sleep(0.5)
    assert "phase" not in seen  # still blocked: PENDING has not changed
    changed = time.monotonic()
    client.post(f"{url}/phase", data={"PHASE": "RUN"})
    thread.join(30)
    assert not thread.is_alive(), "the WAIT did not return"
    assert seen["phase"] != "PENDING"
    assert changed < seen["returned"] < changed + 3.0


@pytest.mark.parametrize(
    ("params", "at_most"),
    [
        ({"WAIT": "1"}, 1.9),  # nothing changes: back after about a second
        ({"WAIT": "-1"}, 6.0),  # as long as the server allows (5 s here)
        ({"WAIT": "30", "PHASE": "QUEUED"}, 0.5),  # not QUEUED: at once
    ],
)
def test_wait_times_out_or_returns_at_once(
    client: httpx.Client, inputs: dict[str, str], params: dict[str, str], at_most: float
) -> None:
    url = create(client, URL=inputs["good"], expected=SHA)
    started = time.monotonic()
    assert doc(client, url, **params).findtext(f"{UWS}phase") == "PENDING"
    took = time.monotonic() - started
    assert took < at_most
    if params.get("PHASE") is None:
        assert took > at_most - 1.2


def test_wait_on_a_finished_job_returns_at_once(
    client: httpx.Client, inputs: dict[str, str]
) -> None:
    url = create(client, URL=inputs["good"], expected=SHA, PHASE="RUN")
    wait_phase(client, url, {"COMPLETED"})
    started = time.monotonic()
    doc(client, url, WAIT="30")
    assert time.monotonic() - started < 0.5


def test_every_change_is_a_hop_of_the_job(
    client: httpx.Client, uws_served: str, inputs: dict[str, str]
) -> None:
    url = create(client, URL=inputs["good"], expected=SHA)
    client.post(f"{url}/runid", data={"RUNID": "hop"})
    client.post(f"{url}/phase", data={"PHASE": "RUN"})
    wait_phase(client, url, {"COMPLETED"})
    canonical = f"{uws_served}jobs/{url.rsplit('/', 1)[-1]}"
    query = (
        "PREFIX jt: <https://w3id.org/jobtrail/vocab#> SELECT ?kind ?by WHERE { "
        f"?m jt:about <{canonical}> ; jt:changeKind ?kind ; jt:sequence ?n ; jt:changedBy ?by }} "
        "ORDER BY ?n"
    )
    rows = client.get("/sparql", params={"query": query}, headers=SPARQL)
    kinds = [b["kind"]["value"] for b in rows.json()["results"]["bindings"]]
    assert kinds == ["created", "updated", "phase", "phase", "phase"]
