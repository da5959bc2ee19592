"""Curators and the admin in MCMA (the FIMS-era flow and today's), against a real server
with a curator (carol).

A curator reads another user's job (its FIMS document, today's document, its executions,
today's job list) and is refused (403) every change: PUT, StartJob, StopJob, cancel and
restart; the job stays NEW. The admin token reads it and changes it, a job a service's
token guards too. The jobs are never started, so nothing moves them meanwhile.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.bindings.jobservice.test_curators import CURATOR, as_user, changes_by, curated_server
from tests.bindings.jobservice.test_jobs import ADMIN
from tests.conftest import free_port

SERVICE_TOKEN = "transcoder-token"
JSON = {"Accept": "application/json"}


@pytest.fixture(scope="module")
def curated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    services = [  # nobody listens there: its jobs are never started here
        {
            "name": "transcoder",
            "url": f"http://127.0.0.1:{free_port()}/ProcessJob",
            "profiles": ["Transcode"],
            "token": SERVICE_TOKEN,
        }
    ]
    root = tmp_path_factory.mktemp("mcma-curated")
    with curated_server(root, mcma_services=json.dumps(services)) as base:
        yield base


@pytest.fixture
def client(curated: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=curated, timeout=10) as c:
        yield c


def alices_job(client: httpx.Client, profile: str = "Fixity") -> str:
    """A FIMS job of alice's, NEW (never started); its canonical IRI."""
    job = {
        "@context": "https://job-processor/context/default",
        "type": "AmeJob",
        "jobProfile": {"label": profile, "type": "JobProfile"},
        "hasRelatedResource": {"type": "BMEssence", "locator": "http://example.org/in.txt"},
    }
    made = client.post("/mcma/Job", json=job, headers=as_user("alice"))
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def fims(client: httpx.Client, job: str, headers: dict[str, str]) -> dict[str, Any]:
    answer = client.get(f"/mcma/Job/{job.rsplit('/', 1)[-1]}", headers=headers)
    assert answer.status_code == 200, answer.text
    document: dict[str, Any] = answer.json()
    return document


def listed(client: httpx.Client, headers: dict[str, str]) -> set[str]:
    answer = client.get("/mcma/jobs", params={"pageSize": 1000}, headers=headers)
    assert answer.status_code == 200, answer.text
    return {job["canonicalJob"] for job in answer.json()["results"]}


def test_a_curator_reads_another_users_job_and_cannot_change_it(client: httpx.Client) -> None:
    job = alices_job(client)
    job_id = job.rsplit("/", 1)[-1]
    carol = as_user(CURATOR)
    before = fims(client, job, carol)
    assert before["jobStatus"] == "NEW"
    assert client.get(job, headers={**carol, **JSON}).json() == before  # at the job's IRI
    today = client.get(f"/mcma/jobs/{job_id}", headers=carol)
    assert today.status_code == 200 and today.json()["status"] == "New"
    assert client.get(f"{job}/executions", headers=carol).status_code == 200
    assert job in listed(client, carol)
    assert job not in listed(client, as_user("bob"))  # a user sees only their own
    changes = [
        ("PUT", f"/mcma/Job/{job_id}", {**before, "jobStatus": "CANCELED"}),
        ("PUT", job, {**before, "jobStatus": "CANCELED"}),
        ("POST", "/mcma/StartJob", {"type": "StartJob", "job": job}),
        ("POST", "/mcma/StopJob", {"type": "StopJob", "job": job, "stopJobCause": "CANCELED"}),
        ("POST", f"{job}/cancel", {}),
        ("POST", f"{job}/restart", {}),
    ]
    for method, target, body in changes:
        refused = client.request(method, target, json=body, headers=carol)
        assert refused.status_code == 403, (method, target, refused.text)
        assert "curator" in refused.json()["detail"], refused.text
    assert fims(client, job, as_user("alice")) == before
    assert changes_by(str(client.base_url), job) == [("created", "alice")]


def test_the_admin_reads_and_changes_anyones_job(client: httpx.Client) -> None:
    job = alices_job(client)
    job_id = job.rsplit("/", 1)[-1]
    assert fims(client, job, ADMIN)["jobStatus"] == "NEW"
    assert client.get(f"/mcma/jobs/{job_id}", headers=ADMIN).status_code == 200
    assert job in listed(client, ADMIN)
    assert client.get(f"/mcma/jobs/{job_id}").status_code == 401  # credentials could help
    cancel = {"jobStatus": "CANCELED"}
    assert client.put(job, json=cancel).status_code == 401
    assert client.put(job, json=cancel, headers=as_user("bob")).status_code == 403
    canceled = client.post(f"{job}/cancel", headers=ADMIN)
    assert canceled.status_code == 202, canceled.text
    assert canceled.json()["status"] == "Canceled"
    assert fims(client, job, as_user("alice"))["jobStatus"] == "CANCELED"
    assert changes_by(str(client.base_url), job)[-1] == ("phase", "admin")


def test_a_job_a_service_token_guards_is_changed_by_that_token_or_the_admin(
    client: httpx.Client,
) -> None:
    job = alices_job(client, "Transcode")
    report = {"report": {"type": "Report", "note": "checked by the admin"}}
    for who in (as_user(CURATOR), as_user("alice"), {"Authorization": "Bearer wrong"}):
        refused = client.put(job, json=report, headers=who)
        assert refused.status_code == 403 and "token" in refused.json()["detail"]
    assert "report" not in fims(client, job, as_user("alice"))
    assert client.put(job, json=report, headers=ADMIN).status_code == 200
    assert fims(client, job, as_user("alice"))["report"] == report["report"]
    service = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
    assert client.put(job, json={"report": {"by": "service"}}, headers=service).status_code == 200
