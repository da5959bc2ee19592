"""Today's MCMA job processor (ebu/mcma-libraries' model) against a real jobtrail on loopback.

The jobs run in jobtrail's worker pool (Fixity) on inputs from a real document
server, or are assigned to a real peer registered as the service for `Transcode`
(it answers each JobAssignment with its own id, and reports through the execution's
notification endpoint); notifications go to a real peer that records them. The same
jobs are then read through the other bindings.
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
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.bindings.mcma.test_fims import SPARQL, Orchestrator, peer, wait_until
from tests.conftest import DocumentServer, free_port, job_server

JT = "https://w3id.org/jobtrail/vocab#"
DATA = b"today's MCMA input\n"
FINAL = {"Completed", "Failed", "Canceled"}


class AssignmentService:
    """Today's MCMA service: takes JobAssignments at /job-assignments, answers with the
    assignment and its own id (as ebu's services do); records what it was sent."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.url = ""  # its JobAssignment resource, once it listens

    def app(self) -> Starlette:
        async def take(request: Request) -> JSONResponse:
            assignment = json.loads(await request.body())
            self.calls.append(assignment)
            made = {**assignment, "id": f"{request.url}/{len(self.calls)}", "status": "New"}
            return JSONResponse(made, status_code=201)

        return Starlette(routes=[Route("/job-assignments", take, methods=["POST"])])

    def assigned(self, job: str) -> list[dict[str, Any]]:
        return [c for c in self.calls if c.get("jobId") == job]


@dataclass
class Processor:
    base: str
    notified: Orchestrator  # records notifications
    notify_url: str
    service: AssignmentService  # the Transcode service: takes JobAssignments, does nothing
    input_url: str
    slow_url: str  # answers after 4 s: a job that is still running when the test acts


@pytest.fixture(scope="module")
def mcma(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Processor]:
    root = tmp_path_factory.mktemp("mcma-jobs")
    documents = DocumentServer()
    notified, service = Orchestrator(), AssignmentService()
    notify_port, service_port = free_port(), free_port()
    services = [
        {
            "name": "transcoder",
            "url": f"http://127.0.0.1:{service_port}/ProcessJob",
            "jobAssignments": f"http://127.0.0.1:{service_port}/job-assignments",
            "profiles": ["Transcode"],
            "jobType": "TransformJob",
            "inputParameters": [
                {"parameterName": "inputFile", "parameterType": "Locator"},
                "targetFormat",
            ],
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
        service.url = f"http://127.0.0.1:{service_port}/job-assignments"
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


def transcode(p: Processor, **more: Any) -> dict[str, Any]:
    return {
        "@type": "TransformJob",
        "jobProfileId": f"{p.base}mcma/job-profiles/Transcode",
        "jobInput": {"inputFile": {"url": p.input_url}, "targetFormat": "mp4"},
        **more,
    }


def test_a_job_runs_to_completed_with_progress_output_and_a_notification(
    mcma: Processor,
) -> None:
    created = post(mcma, fixity(mcma, notificationEndpoint={"httpEndpoint": mcma.notify_url}))
    assert created.status_code == 201, created.text
    job = created.json()
    job_id = job["id"].rsplit("/", 1)[-1]
    # its id is under the jobs endpoint the client used, linked to the canonical one
    assert created.headers["location"] == job["id"] == f"{mcma.base}mcma/jobs/{job_id}"
    assert job["canonicalJob"] == f"{mcma.base}jobs/{job_id}"
    assert job["@type"] == "QAJob" and job["status"] == "New"  # it starts after the answer
    assert job["jobProfileId"] == f"{mcma.base}mcma/job-profiles/Fixity"
    assert job["tracker"]["label"] == "QAJob with JobProfile Fixity" and job["tracker"]["id"]
    assert job["timeout"] == 60  # MCMA's default, in minutes
    done = until_status(job["id"], FINAL)
    assert done["status"] == "Completed" and done["progress"] == 100
    results = {"@type": "Locator", "url": f"{mcma.base}jobs/{job_id}/results"}
    assert done["jobOutput"] == {"@type": "JobParameterBag", "results": results}
    assert done["jobInput"] == {"@type": "JobParameterBag", **fixity(mcma)["jobInput"]}
    assert get(job["canonicalJob"]) == done  # a JSON client at the canonical IRI
    # a notification for every status change, in order
    mine = lambda: [c[1] for c in mcma.notified.calls if c[1]["source"] == job["id"]]  # noqa: E731
    wait_until(lambda: any(n["content"]["status"] == "Completed" for n in mine()))
    assert all(n["@type"] == "Notification" for n in mine())
    assert [n["content"]["status"] for n in mine()] == ["Queued", "Running", "Completed"]
    runs = get(f"{job['id']}/executions")["results"]
    assert [r["status"] for r in runs] == ["Completed"]
    assert runs[0]["id"] == f"{job['id']}/executions/1" and runs[0]["actualDuration"] >= 0
    assert runs[0]["actualStartDate"] <= runs[0]["actualEndDate"]
    assert get(f"{mcma.base}jobs/{job_id}/executions") == get(f"{job['id']}/executions")


def test_a_running_execution_has_no_actual_duration_yet(mcma: Processor) -> None:
    job = post(mcma, fixity(mcma, url=mcma.slow_url)).json()["id"]
    wait_until(lambda: get(job)["status"] == "Running")
    running = get(f"{job}/executions/latest")
    assert "actualStartDate" in running and "actualDuration" not in running
    until_status(job, FINAL)
    assert get(f"{job}/executions/latest")["actualDuration"] >= 0


def test_the_same_job_reads_the_same_in_every_binding(mcma: Processor) -> None:
    made = post(mcma, fixity(mcma)).json()
    until_status(made["id"], FINAL)
    job = made["canonicalJob"]
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
    other_id = other_iri.rsplit("/", 1)[-1]
    wait_until(lambda: get(f"{other_iri}/executions/latest")["status"] in FINAL)
    mirrored = get(f"{mcma.base}mcma/jobs/{other_id}")
    assert mirrored["canonicalJob"] == other_iri and mirrored["status"] == "Completed"
    assert mirrored["id"] == f"{mcma.base}mcma/jobs/{other_id}"
    assert mirrored["jobInput"]["inputFile"]["url"] == mcma.input_url
    assert mirrored["jobProfileId"] == f"{mcma.base}mcma/job-profiles/Fixity"


@pytest.mark.parametrize(
    "change, says",
    [
        ({"jobProfileId": None}, "jobProfileId"),
        ({"@type": "Thing"}, "@type ending in Job"),
        ({"timeout": -5}, "timeout"),
        ({"deadline": "2001-01-01T00:00:00Z"}, "deadline '2001-01-01T00:00:00Z' is in the past"),
        ({"deadline": "tomorrow"}, "ISO 8601"),
        ({"priority": "whenever"}, "priority 'whenever' is not one of immediate"),
    ],
)
def test_a_malformed_job_is_refused_naming_what_is_wrong(
    mcma: Processor, change: dict[str, Any], says: str
) -> None:
    job = {**fixity(mcma), **change}
    job = {k: v for k, v in job.items() if v is not None}
    answer = post(mcma, job)
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert says in answer.json()["detail"]


START_FAILURE = "uri://mcma.ebu.ch/rfc7807/job-processor/job-start-failure"


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
        ({"jobProfileId": "Transfer"}, "are not run through MCMA"),  # SIF's kind of job
    ],
)
def test_a_job_that_does_not_fit_its_profile_ends_failed_at_its_start(
    mcma: Processor, change: dict[str, Any], says: str
) -> None:
    job = {**fixity(mcma), **change}
    job = {k: v for k, v in job.items() if v is not None}
    answer = post(mcma, job)
    assert answer.status_code == 201, answer.text  # as today's job processor: taken, then failed
    failed = until_status(answer.json()["id"], FINAL)
    assert failed["status"] == "Failed"
    assert failed["error"]["type"] == START_FAILURE
    assert failed["error"]["title"] == "Failed to start job"
    assert says in failed["error"]["detail"]
    run = get(f"{answer.json()['id']}/executions/latest")
    assert run["status"] == "Failed" and run["error"]["type"] == START_FAILURE


def test_a_service_profile_fails_a_job_missing_one_of_its_declared_inputs(
    mcma: Processor,
) -> None:
    job = transcode(mcma, jobInput={"inputFile": {"url": mcma.input_url}, "bitrate": 128})
    answer = post(mcma, job)
    assert answer.status_code == 201
    failed = until_status(answer.json()["id"], FINAL)
    assert failed["error"]["detail"] == "jobInput misses required input parameter 'targetFormat'"
    assert not mcma.service.assigned(answer.json()["id"])  # never sent on


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
    assert fixity_profile["outputParameters"] == [
        {"@type": "JobParameter", "parameterName": "results", "parameterType": "Locator"}
    ]
    # a service's parameters, given as names or JobParameter objects, keep their types
    assert [
        (p["parameterName"], p["parameterType"]) for p in by_name["Transcode"]["inputParameters"]
    ] == [
        ("inputFile", "Locator"),
        ("targetFormat", "string"),
    ]
    assert "Transfer" in by_name  # SIF's kind of job resolves here too
    one = get(fixity_profile["id"])
    assert one == fixity_profile
    assert httpx.get(f"{mcma.base}mcma/job-profiles/Juggling").status_code == 404


def test_job_profiles_filter_by_name(mcma: Processor) -> None:
    found = get(f"{mcma.base}mcma/job-profiles?name=Fixity")["results"]
    assert [p["name"] for p in found] == ["Fixity"]
    assert get(f"{mcma.base}mcma/job-profiles?name=Juggling") == {"results": []}


def test_the_service_registry_is_in_mcmas_shape(mcma: Processor) -> None:
    services = get(f"{mcma.base}mcma/services")["results"]
    by_name = {s["name"]: s for s in services}
    processor = by_name["jobtrail job processor"]
    endpoints = {r["resourceType"]: r["httpEndpoint"] for r in processor["resources"]}
    assert endpoints["JobProfile"] == f"{mcma.base}mcma/job-profiles"
    assert endpoints["Service"] == f"{mcma.base}mcma/services"
    for kind in ("Job", "QAJob", "TransformJob", "AmeJob"):  # a client creates each by @type
        assert endpoints[kind] == f"{mcma.base}mcma/jobs"
    transcoder = by_name["transcoder"]
    assert transcoder["@type"] == "Service" and transcoder["jobType"] == "TransformJob"
    assert transcoder["resources"] == [
        {
            "@type": "ResourceEndpoint",
            "resourceType": "JobAssignment",
            "httpEndpoint": mcma.service.url,
        }
    ]
    assert transcoder["jobProfileIds"] == [f"{mcma.base}mcma/job-profiles/Transcode"]
    assert f"{mcma.base}mcma/job-profiles/Fixity" in by_name["jobtrail"]["jobProfileIds"]
    transfer = by_name["Transfer"]  # SIF's service: its profile resolves in the registry
    assert transfer["jobProfileIds"] == [f"{mcma.base}mcma/job-profiles/Transfer"]
    assert transfer["resources"][0]["httpEndpoint"].startswith(f"{mcma.base}sif/jobs/")
    assert get(transfer["jobProfileIds"][0])["name"] == "Transfer"


def test_cancel_then_cancel_again_is_refused_and_a_canceled_job_restarts(
    mcma: Processor,
) -> None:
    job = post(mcma, fixity(mcma, url=mcma.slow_url)).json()["id"]
    canceled = httpx.post(f"{job}/cancel", timeout=10)
    assert canceled.status_code == 202 and canceled.json()["status"] == "Canceled"
    again = httpx.post(f"{job}/cancel", timeout=10)
    assert again.status_code == 409 and "it has finished (Canceled)" in again.json()["detail"]
    time.sleep(4.5)  # the worker's fetch returns: what it made is dropped
    assert get(job)["status"] == "Canceled"
    restart = httpx.post(f"{job}/restart", timeout=10)  # the usual retry
    assert restart.status_code == 202, restart.text
    assert until_status(job, FINAL, seconds=20)["status"] == "Completed"
    assert [r["status"] for r in get(f"{job}/executions")["results"]] == ["Canceled", "Completed"]


def test_a_completed_or_failed_job_restarts_as_a_new_execution(mcma: Processor) -> None:
    job = post(mcma, fixity(mcma)).json()["id"]
    assert until_status(job, FINAL)["status"] == "Completed"
    assert httpx.post(f"{job}/restart", timeout=10).status_code == 202
    wait_until(lambda: len(get(f"{job}/executions")["results"]) == 2)
    done = until_status(job, FINAL)
    assert done["status"] == "Completed" and "error" not in done
    first, second = get(f"{job}/executions")["results"]
    assert first["status"] == "Completed" and second["status"] == "Completed"
    bad = {"inputFile": {"url": mcma.input_url}, "algorithm": "sha256", "expected": "00"}
    failed = post(mcma, fixity(mcma, jobInput=bad)).json()["id"]
    assert until_status(failed, FINAL)["status"] == "Failed"
    assert httpx.post(f"{failed}/restart", timeout=10).status_code == 202
    wait_until(lambda: len(get(f"{failed}/executions")["results"]) == 2)
    assert until_status(failed, FINAL)["status"] == "Failed"


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


def test_delete_refuses_a_running_job_and_accepts_a_finished_one(mcma: Processor) -> None:
    job = post(mcma, fixity(mcma, url=mcma.slow_url)).json()["id"]
    wait_until(lambda: get(job)["status"] == "Running")
    running = httpx.delete(job, timeout=10)
    assert running.status_code == 409 and "while it is Running" in running.json()["detail"]
    until_status(job, FINAL)
    assert httpx.delete(job, timeout=10).status_code == 202
    assert httpx.get(job).status_code in (404, 410)


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
    assert error["type"] == f"uri://mcma.ebu.ch/rfc7807/job-processor/job-{limit}-passed"
    assert error["title"] and error["instance"] == job["canonicalJob"]
    assert ("deadline" if limit == "deadline" else "execution duration") in error["detail"]
    if limit == "deadline":
        refused = httpx.post(f"{job['id']}/restart", timeout=10)
        assert refused.status_code == 409


def notify(execution: str, source: str, **content: Any) -> httpx.Response:
    note = {"@type": "Notification", "source": source, "content": content}
    return httpx.post(f"{execution}/notifications", json=note, timeout=10)


def test_a_service_gets_a_job_assignment_and_reports_by_notification(mcma: Processor) -> None:
    job = post(mcma, transcode(mcma, notificationEndpoint={"httpEndpoint": mcma.notify_url}))
    job_iri = job.json()["id"]
    wait_until(lambda: bool(mcma.service.assigned(job_iri)))
    (assignment,) = mcma.service.assigned(job_iri)
    execution = f"{job_iri}/executions/1"
    assert assignment["@type"] == "JobAssignment"
    assert assignment["notificationEndpoint"]["httpEndpoint"] == f"{execution}/notifications"
    assert assignment["tracker"] == job.json()["tracker"]
    wait_until(lambda: "jobAssignmentId" in get(execution))
    assigned = get(execution)["jobAssignmentId"]
    assert assigned == f"{mcma.service.url}/1" or assigned.startswith(mcma.service.url)
    stranger = notify(execution, "http://elsewhere/job-assignments/9", status="Running")
    assert stranger.status_code == 400 and "unexpected notification" in stranger.json()["detail"]
    running = notify(execution, assigned, status="Running", progress=40)
    assert running.status_code == 202
    assert get(job_iri)["status"] == "Running" and get(job_iri)["progress"] == 40
    output = {"@type": "JobParameterBag", "outputFile": {"@type": "Locator", "url": "http://c/o"}}
    done = notify(execution, assigned, status="Completed", jobOutput=output)
    assert done.status_code == 202
    final = get(job_iri)
    assert final["status"] == "Completed" and final["jobOutput"] == output
    late = notify(execution, assigned, status="Failed")  # after the end: ignored
    assert late.status_code == 202 and get(job_iri)["status"] == "Completed"
    mine = lambda: [c[1] for c in mcma.notified.calls if c[1]["source"] == job_iri]  # noqa: E731
    wait_until(lambda: any(n["content"]["status"] == "Completed" for n in mine()))
    assert [n["content"]["status"] for n in mine()] == ["Queued", "Running", "Completed"]
    # a PUT by the service still works as before
    other = post(mcma, transcode(mcma)).json()["id"]
    put = httpx.put(other, json={"status": "Running", "progress": 10}, timeout=10)
    assert put.status_code == 200 and put.json()["progress"] == 10
    bad = httpx.put(other, json={"progress": 140}, timeout=10)
    assert bad.status_code == 400 and "0 to 100" in bad.json()["detail"]


def test_restarting_a_queued_job_cancels_and_requeues_it(mcma: Processor) -> None:
    job = post(mcma, transcode(mcma)).json()["id"]
    wait_until(lambda: bool(mcma.service.assigned(job)))
    assert get(job)["status"] == "Queued"  # assigned: its service has not said Running
    assert httpx.post(f"{job}/restart", timeout=10).status_code == 202
    wait_until(lambda: len(mcma.service.assigned(job)) == 2)
    second = mcma.service.assigned(job)[1]
    assert second["notificationEndpoint"]["httpEndpoint"] == f"{job}/executions/2/notifications"
    first, latest = get(f"{job}/executions")["results"]
    assert first["status"] == "Canceled" and latest["status"] == "Queued"


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
    params: dict[str, str] = {**window, "pageSize": "2", "status": "completed"}
    while True:
        page = httpx.get(f"{mcma.base}mcma/jobs", params=params).json()
        assert len(page["results"]) <= 2
        assert {j["status"] for j in page["results"]} <= {"Completed"}
        seen += [j["id"] for j in page["results"]]
        if "nextPageStartToken" not in page:
            break
        params["pageStartToken"] = page["nextPageStartToken"]
    assert seen == made  # oldest first by default, every one once
    oldest = httpx.get(f"{mcma.base}mcma/jobs", params={**window, "pageSize": "1"}).json()
    assert [j["id"] for j in oldest["results"]] == [made[0]]
    newest = {**window, "pageSize": "1", "sortOrder": "desc"}
    assert [
        j["id"] for j in httpx.get(f"{mcma.base}mcma/jobs", params=newest).json()["results"]
    ] == [made[-1]]
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
