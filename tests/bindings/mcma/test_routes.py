"""Today's MCMA job processor (ebu/mcma-libraries' model) against a real jobtrail on loopback.

The jobs run in jobtrail's worker pool (Fixity) on inputs from a real document
server, or are sent to a real peer registered as the service for `Transcode`;
notifications go to a real peer that records them. The same jobs are then
read through the other bindings.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.bindings.mcma.test_fims import SPARQL, Orchestrator, peer, wait_until
from tests.conftest import DocumentServer, free_port, job_server

JT = "https://w3id.org/jobtrail/vocab#"
DATA = b"today's MCMA input\n"
FINAL = {"Completed", "Failed", "Canceled"}


@dataclass
class Processor:
    base: str
    notified: Orchestrator  # records notifications
    notify_url: str
    service: Orchestrator  # the Transcode service: accepts ProcessJob (204), does nothing
    input_url: str
    slow_url: str  # answers after 4 s: a job that is still running when the test acts


@pytest.fixture(scope="module")
def mcma(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Processor]:
    root = tmp_path_factory.mktemp("mcma-jobs")
    documents = DocumentServer()
    notified, service = Orchestrator(), Orchestrator()
    notify_port, service_port = free_port(), free_port()
    services = [
        {
            "name": "transcoder",
            "url": f"http://127.0.0.1:{service_port}/ProcessJob",
            "profiles": ["Transcode"],
            "inputParameters": ["inputFile", "targetFormat"],
            "optionalInputParameters": ["bitrate"],
        }
    ]
    with (
        peer(notified.app(), notify_port),
        peer(service.app(), service_port),
        job_server(
            root / "data",
            root / "files",
            mcma_services=json.dumps(services),
            mcma_retry_base="0.2",
            job_workers="2",
        ) as base,
    ):
        yield Processor(
            base,
            notified,
            f"http://127.0.0.1:{notify_port}/notify",
            service,
            documents.put("/today/input.txt", DATA, "text/plain"),
            documents.put("/today/slow.txt", DATA, "text/plain") + "?delay=4",
        )
    documents.close()


def fixity(p: Processor, url: str | None = None, **more: Any) -> dict[str, Any]:
    return {
        "@type": "QAJob",
        "jobProfileId": f"{p.base}mcma/job-profiles/Fixity",
        "jobInput": {
            "inputFile": {"@type": "Locator", "url": url or p.input_url},
            "algorithm": "sha256",
            "expected": hashlib.sha256(DATA).hexdigest(),
        },
        **more,
    }


def post(p: Processor, job: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{p.base}mcma/jobs", json=job, timeout=10)


def get(url: str) -> dict[str, Any]:
    answer = httpx.get(url, headers={"Accept": "application/json"}, timeout=10)
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()
    return data


def until_status(job: str, wanted: set[str], seconds: float = 15) -> dict[str, Any]:
    wait_until(lambda: get(f"{job}/executions/latest")["status"] in wanted, seconds)
    return get(job)


def test_a_job_runs_to_completed_with_progress_output_and_a_notification(
    mcma: Processor,
) -> None:
    created = post(mcma, fixity(mcma, notificationEndpoint={"httpEndpoint": mcma.notify_url}))
    assert created.status_code == 201, created.text
    job = created.json()
    assert created.headers["location"] == job["id"] and job["id"].startswith(f"{mcma.base}jobs/")
    assert job["@type"] == "QAJob" and job["status"] in {"Queued", "Running", "Completed"}
    assert job["jobProfileId"] == f"{mcma.base}mcma/job-profiles/Fixity"
    done = until_status(job["id"], FINAL)
    assert done["status"] == "Completed" and done["progress"] == 100
    assert done["jobOutput"]["results"] == f"{job['id']}/results"
    assert done["jobInput"] == fixity(mcma)["jobInput"]
    wait_until(lambda: any(c[1]["source"] == job["id"] for c in mcma.notified.calls))
    note = next(c[1] for c in mcma.notified.calls if c[1]["source"] == job["id"])
    assert note["@type"] == "Notification" and note["content"]["status"] == "Completed"
    runs = get(f"{job['id']}/executions")["results"]
    assert [r["status"] for r in runs] == ["Completed"]
    assert runs[0]["id"] == f"{job['id']}/executions/1" and runs[0]["actualDuration"] >= 0
    assert runs[0]["actualStartDate"] <= runs[0]["actualEndDate"]


def test_the_same_job_reads_the_same_in_every_binding(mcma: Processor) -> None:
    job = post(mcma, fixity(mcma)).json()["id"]
    until_status(job, FINAL)
    query = f"SELECT ?phase ?value WHERE {{ GRAPH <{job}> {{ <{job}> <{JT}phase> ?phase "
    query += f"OPTIONAL {{ <{job}> <{JT}statusValue> ?value }} }} }}"
    rows = httpx.get(
        f"{mcma.base}sparql",
        params={"query": query},
        headers=SPARQL,
    ).json()["results"]["bindings"]
    assert rows[0]["phase"]["value"].endswith("/uws/COMPLETED")
    assert "value" not in rows[0]  # QUEUED was written by StartJob, and no longer applies
    job_id = job.rsplit("/", 1)[-1]
    uws = httpx.get(f"{mcma.base}uws/Fixity/{job_id}/phase")
    assert uws.status_code == 200 and uws.text.strip() == "COMPLETED"
    # and a job made by the linked-data service reads in today's model too
    other = httpx.post(f"{mcma.base}jobs", data={"url": mcma.input_url, "profile": "Fixity"})
    assert other.status_code in (201, 202), other.text
    other_iri = other.headers["location"]
    wait_until(lambda: get(f"{other_iri}/executions/latest")["status"] in FINAL)
    mirrored = get(f"{mcma.base}mcma/jobs/{other_iri.rsplit('/', 1)[-1]}")
    assert mirrored["id"] == other_iri and mirrored["status"] == "Completed"
    assert mirrored["jobInput"]["inputFile"]["url"] == mcma.input_url
    assert mirrored["jobProfileId"] == f"{mcma.base}mcma/job-profiles/Fixity"


@pytest.mark.parametrize(
    "change, says",
    [
        ({"jobInput": None}, "Job is missing jobInput"),
        (
            {"jobInput": {"algorithm": "md5"}},
            "jobInput misses required input parameter 'inputFile'",
        ),
        ({"jobInput": {"inputFile": "not a url"}}, "jobInput.inputFile is not a locator"),
        ({"jobProfileId": "http://x/job-profiles/Juggling"}, "Juggling"),
        ({"jobProfileId": None}, "jobProfileId"),
        ({"@type": "Thing"}, "@type ending in Job"),
        ({"timeout": -5}, "timeout"),
        ({"deadline": "2001-01-01T00:00:00Z"}, "deadline '2001-01-01T00:00:00Z' is in the past"),
        ({"deadline": "tomorrow"}, "ISO 8601"),
        ({"priority": "whenever"}, "priority 'whenever' is not one of immediate"),
    ],
)
def test_a_bad_job_is_refused_naming_what_is_wrong(
    mcma: Processor, change: dict[str, Any], says: str
) -> None:
    job = {**fixity(mcma), **change}
    job = {k: v for k, v in job.items() if v is not None}
    answer = post(mcma, job)
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert says in answer.json()["detail"]


def test_a_service_profile_refuses_a_job_missing_one_of_its_declared_inputs(
    mcma: Processor,
) -> None:
    job = {
        "@type": "TransformJob",
        "jobProfileId": "Transcode",
        "jobInput": {"inputFile": {"url": mcma.input_url}, "bitrate": 128},
    }
    answer = post(mcma, job)
    assert answer.status_code == 400
    assert answer.json()["detail"] == "jobInput misses required input parameter 'targetFormat'"
    assert answer.json()["parameter"] == "targetFormat"


def test_job_profiles_list_their_input_and_output_parameters(mcma: Processor) -> None:
    listed = get(f"{mcma.base}mcma/job-profiles")["results"]
    by_name = {p["name"]: p for p in listed}
    fixity_profile = by_name["Fixity"]
    assert [p["parameterName"] for p in fixity_profile["inputParameters"]] == ["inputFile"]
    assert {p["parameterName"] for p in fixity_profile["optionalInputParameters"]} == {
        "algorithm",
        "expected",
        "checksumUrl",
    }
    assert [p["parameterName"] for p in by_name["Transcode"]["inputParameters"]] == [
        "inputFile",
        "targetFormat",
    ]
    one = get(fixity_profile["id"])
    assert one == fixity_profile
    assert httpx.get(f"{mcma.base}mcma/job-profiles/Juggling").status_code == 404


def test_cancel_then_cancel_again_and_restart_are_refused_once_finished(mcma: Processor) -> None:
    job = post(mcma, fixity(mcma, url=mcma.slow_url)).json()["id"]
    canceled = httpx.post(f"{job}/cancel", timeout=10)
    assert canceled.status_code == 202 and canceled.json()["status"] == "Canceled"
    again = httpx.post(f"{job}/cancel", timeout=10)
    assert again.status_code == 409 and "it has finished (Canceled)" in again.json()["detail"]
    restart = httpx.post(f"{job}/restart", timeout=10)
    assert restart.status_code == 409 and "has finished" in restart.json()["detail"]
    time.sleep(4.5)  # the worker's fetch returns: what it made is dropped
    assert get(job)["status"] == "Canceled"


def test_restarting_a_running_job_starts_a_second_execution(mcma: Processor) -> None:
    job = post(mcma, fixity(mcma, url=mcma.slow_url)).json()["id"]
    wait_until(lambda: get(job)["status"] == "Running")
    restarted = httpx.post(f"{job}/restart", timeout=10)
    assert restarted.status_code == 202, restarted.text
    done = until_status(job, FINAL, seconds=20)
    assert done["status"] == "Completed"
    first, second = get(f"{job}/executions")["results"]
    assert first["status"] == "Canceled" and first["error"]["detail"] == "restart"
    assert second["status"] == "Completed" and second["id"].endswith("/executions/2")
    assert get(f"{job}/executions/latest") == second
    missing = httpx.get(f"{job}/executions/3")
    assert missing.status_code == 404 and "1 to 2, or latest" in missing.json()["hint"]


@pytest.mark.parametrize("limit", ["deadline", "timeout"])
def test_a_job_past_its_deadline_or_timeout_fails_with_problem_details(
    mcma: Processor, limit: str
) -> None:
    when = datetime.now(UTC) + timedelta(seconds=1)
    value: Any = 0.01  # minutes
    if limit == "deadline":
        value = when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    job = post(mcma, fixity(mcma, url=mcma.slow_url, **{limit: value})).json()
    assert job[limit] == value
    failed = until_status(job["id"], FINAL, seconds=10)
    assert failed["status"] == "Failed"
    error = failed["error"]
    assert error["type"] == "https://w3id.org/jobtrail/problems/TimeLimitExceeded"
    assert error["title"] and error["instance"] == job["id"]
    assert ("deadline" if limit == "deadline" else "execution duration") in error["detail"]
    if limit == "deadline":
        refused = httpx.post(f"{job['id']}/restart", timeout=10)
        assert refused.status_code == 409


def test_a_service_reports_progress_output_and_its_status_by_put(mcma: Processor) -> None:
    job = post(
        mcma,
        {
            "@type": "TransformJob",
            "jobProfileId": "Transcode",
            "jobInput": {"inputFile": {"url": mcma.input_url}, "targetFormat": "mp4"},
        },
    ).json()["id"]
    wait_until(lambda: any(c[1].get("job") == job for c in mcma.service.calls))
    wait_until(lambda: get(job)["status"] == "Running")  # the service accepted its ProcessJob
    put = httpx.put(job, json={"status": "Running", "progress": 40}, timeout=10)
    assert put.status_code == 200 and put.json()["progress"] == 40
    bad = httpx.put(job, json={"progress": 140}, timeout=10)
    assert bad.status_code == 400 and "0 to 100" in bad.json()["detail"]
    output = {"outputFile": {"@type": "Locator", "url": "http://cdn/out.mp4"}}
    done = httpx.put(job, json={"status": "Completed", "jobOutput": output}, timeout=10)
    assert done.status_code == 200
    final = get(job)
    assert final["status"] == "Completed" and final["progress"] == 100
    assert final["jobOutput"] == output
    runs = get(f"{job}/executions")["results"]
    assert runs[0]["jobAssignmentId"].startswith(f"{mcma.base}outbox/")


def test_list_filters_by_status_and_time_and_pages(mcma: Processor) -> None:
    start = datetime.now(UTC)
    time.sleep(0.01)
    made = [post(mcma, fixity(mcma)).json()["id"] for _ in range(5)]
    for job in made:
        until_status(job, FINAL)
    end = datetime.now(UTC)
    window = {
        "from": start.isoformat().replace("+00:00", "Z"),
        "to": end.isoformat().replace("+00:00", "Z"),
    }
    seen: list[str] = []
    params: dict[str, str] = {**window, "pageSize": "2", "sortOrder": "asc", "status": "completed"}
    while True:
        page = httpx.get(f"{mcma.base}mcma/jobs", params=params).json()
        assert len(page["results"]) <= 2
        assert {j["status"] for j in page["results"]} <= {"Completed"}
        seen += [j["id"] for j in page["results"]]
        if "nextPageStartToken" not in page:
            break
        params["pageStartToken"] = page["nextPageStartToken"]
    assert seen == made  # oldest first, every one once
    newest = httpx.get(f"{mcma.base}mcma/jobs", params={**window, "pageSize": "1"}).json()
    assert [j["id"] for j in newest["results"]] == [made[-1]]
    running = httpx.get(f"{mcma.base}mcma/jobs", params={**window, "status": "Running"}).json()
    assert running == {"results": []}
    bad = httpx.get(f"{mcma.base}mcma/jobs", params={"status": "Sleeping"})
    assert bad.status_code == 400 and "Completed" in bad.json()["detail"]
    bad_time = httpx.get(f"{mcma.base}mcma/jobs", params={"from": "yesterday"})
    assert bad_time.status_code == 400 and "from='yesterday'" in bad_time.json()["detail"]


def test_a_job_document_keeps_a_key_it_does_not_know(mcma: Processor) -> None:
    job = post(mcma, fixity(mcma, customNote="rush")).json()
    assert get(job["id"])["customNote"] == "rush"
    rows = httpx.get(
        f"{mcma.base}sparql",
        params={"query": f'SELECT ?m WHERE {{ ?m <{JT}customNote> "rush" }}'},
        headers=SPARQL,
    ).json()["results"]["bindings"]
    assert rows  # the answer's hop, read as JSON-LD, keeps it as a term of our namespace
