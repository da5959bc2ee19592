"""Curators and the admin in SIF, against a real server with a curator (carol).

A curator reads another user's job (the job, a phase's payload, its states, the
collection) and is refused (403) every change: a phase's payload created, updated or
deleted, a new state, the job deleted — where the phase's rights would allow it; the
job stays as it was. The admin token reads it and changes it.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from lxml import etree

from tests.bindings.jobservice.test_curators import CURATOR, as_user, changes_by, curated_server
from tests.bindings.jobservice.test_jobs import ADMIN
from tests.bindings.sif.test_routes import PAYLOAD, N, job_document, state_document, text

XML = {"Content-Type": "application/xml"}
COLLECTION = "/sif/jobs/Transfers"


@pytest.fixture(scope="module")
def curated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with curated_server(tmp_path_factory.mktemp("sif-curated")) as base:
        yield base


@pytest.fixture
def client(curated: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=curated, timeout=10) as c:
        yield c


def alices_job(client: httpx.Client) -> str:
    """A SIF job of alice's, NOTSTARTED; its id."""
    made = client.post(
        f"{COLLECTION}/Transfer", content=job_document(), headers={**XML, **as_user("alice")}
    )
    assert made.status_code == 201, made.text
    return str(etree.fromstring(made.content).get("id"))


def listed(client: httpx.Client, headers: dict[str, str]) -> set[str]:
    answer = client.get(COLLECTION, headers=headers)
    assert answer.status_code == 200, answer.text
    return {job.get("id") or "" for job in etree.fromstring(answer.content)}


def test_a_curator_reads_another_users_job_and_cannot_change_it(client: httpx.Client) -> None:
    job_id = alices_job(client)
    job = f"{COLLECTION}/{job_id}"
    carol = as_user(CURATOR)
    before = client.get(job, headers=carol)
    assert before.status_code == 200
    assert text(etree.fromstring(before.content), "s:state") == "NOTSTARTED"
    package = client.get(f"{job}/package", headers=carol)
    assert package.status_code == 200 and etree.fromstring(package.content).get("ref")
    assert client.get(f"{job}/package/states", headers=carol).status_code == 200
    assert job_id in listed(client, carol)
    assert job_id not in listed(client, as_user("bob"))  # a user sees only their own
    report = b'<report xmlns="urn:x">carol was here</report>'
    changes = [  # the report phase allows every operation; package's states take CREATE
        ("POST", f"{job}/report", report),
        ("PUT", f"{job}/report", report),
        ("DELETE", f"{job}/report", b""),
        ("POST", f"{job}/package/states/state", state_document("INPROGRESS", "carol")),
        ("DELETE", job, b""),
    ]
    for method, target, body in changes:
        refused = client.request(method, target, content=body, headers={**XML, **carol})
        assert refused.status_code == 403, (method, target, refused.text)
        error = etree.fromstring(refused.content)
        assert text(error, "s:code") == "403" and "curator" in text(error, "s:message")
    alice = as_user("alice")
    assert client.get(job, headers=alice).content == before.content
    assert client.get(f"{job}/report", headers=alice).status_code == 204  # nothing written
    states = etree.fromstring(client.get(f"{job}/package/states", headers=alice).content)
    assert [t.text for t in states.iterfind("s:state/s:type", N)] == ["NOTSTARTED"]
    canonical = f"{client.base_url}jobs/{job_id}"
    assert changes_by(str(client.base_url), canonical) == [("created", "alice")]


def test_the_admin_reads_and_changes_anyones_job(client: httpx.Client) -> None:
    job_id = alices_job(client)
    job = f"{COLLECTION}/{job_id}"
    assert client.get(job, headers=ADMIN).status_code == 200
    payload = client.get(f"{job}/package", headers=ADMIN).content
    assert etree.fromstring(payload).get("ref") == etree.fromstring(PAYLOAD).get("ref")
    assert job_id in listed(client, ADMIN)
    assert client.get(job).status_code == 401  # anonymous: credentials could help
    state = state_document("INPROGRESS", "the admin")
    refused = client.post(f"{job}/package/states/state", content=state, headers=as_user("bob"))
    assert refused.status_code == 403
    made = client.post(f"{job}/package/states/state", content=state, headers={**XML, **ADMIN})
    assert made.status_code == 201, made.text
    assert client.delete(job, headers=ADMIN).status_code == 204
    assert client.get(job, headers=as_user("alice")).status_code == 410
    canonical = f"{client.base_url}jobs/{job_id}"
    changes = changes_by(str(client.base_url), canonical)
    assert changes[0] == ("created", "alice") and changes[-1] == ("deleted", "admin")
    assert {by for _, by in changes[1:]} == {"admin"}  # the new state, then the deletion
