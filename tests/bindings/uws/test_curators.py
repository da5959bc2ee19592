"""Curators and the admin in UWS, against a real server with a curator (carol).

A curator reads another user's job (its document, its values, the job list) and is
refused (403) every change: PHASE, EXECUTIONDURATION, DESTRUCTION, parameters,
DELETE and ACTION=DELETE; the job stays as it was. The admin token reads it and
changes it.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from lxml import etree

from tests.bindings.jobservice.test_curators import CURATOR, as_user, changes_by, curated_server
from tests.bindings.jobservice.test_jobs import ADMIN
from tests.conftest import DocumentServer

UWS = "{http://www.ivoa.net/xml/UWS/v1.0}"


@pytest.fixture(scope="module")
def curated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with curated_server(tmp_path_factory.mktemp("uws-curated")) as base:
        yield base


@pytest.fixture
def client(curated: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=curated, timeout=10) as c:
        yield c


def alices_pending_job(client: httpx.Client, documents: DocumentServer) -> str:
    """A job of alice's, PENDING (never started, so it stays as it is); its UWS URL."""
    url = documents.put("/uws-curated/input.txt", b"alice's\n", "text/plain")
    made = client.post("/uws/Fixity", data={"URL": url}, headers=as_user("alice"))
    assert made.status_code == 303, made.text
    return str(made.headers["location"])


VALUES = ("phase", "executionduration", "destruction", "runid")
"""A job's values a change would write."""


def jobs_iri(url: str) -> str:
    """The job's canonical IRI from its UWS URL."""
    base, _, job_id = url.rpartition("/")
    return f"{base.rsplit('/uws/', 1)[0]}/jobs/{job_id}"


def listed(client: httpx.Client, headers: dict[str, str]) -> set[str]:
    answer = client.get("/uws/Fixity", headers=headers)
    assert answer.status_code == 200, answer.text
    return {ref.get("id") or "" for ref in etree.fromstring(answer.content)}


def test_a_curator_reads_another_users_job_and_cannot_change_it(
    client: httpx.Client, documents: DocumentServer
) -> None:
    url = alices_pending_job(client, documents)
    job_id = url.rsplit("/", 1)[-1]
    carol = as_user(CURATOR)
    document = client.get(url, headers=carol)
    assert document.status_code == 200
    assert etree.fromstring(document.content).findtext(f"{UWS}ownerId") == "alice"
    assert client.get(f"{url}/phase", headers=carol).text == "PENDING"
    assert client.get(f"{url}/parameters", headers=carol).status_code == 200
    assert job_id in listed(client, carol)
    assert job_id not in listed(client, as_user("bob"))  # a user sees only their own
    before = {what: client.get(f"{url}/{what}", headers=carol).text for what in VALUES}
    changes = [
        ("POST", url, {"PHASE": "RUN"}),
        ("POST", f"{url}/phase", {"PHASE": "ABORT"}),
        ("POST", f"{url}/executionduration", {"EXECUTIONDURATION": "5"}),
        ("POST", f"{url}/destruction", {"DESTRUCTION": "2031-01-01T00:00:00Z"}),
        ("POST", f"{url}/runid", {"RUNID": "carol's"}),
        ("POST", f"{url}/parameters", {"expected": "0" * 64}),
        ("POST", f"{url}/parameters/expected", {"VALUE": "0" * 64}),
        ("POST", url, {"ACTION": "DELETE"}),
        ("DELETE", url, None),
    ]
    for method, target, data in changes:
        refused = client.request(method, target, data=data, headers=carol)
        assert refused.status_code == 403, (method, target, data, refused.text)
        assert "curator" in refused.text
    after = {what: client.get(f"{url}/{what}", headers=as_user("alice")).text for what in VALUES}
    assert after == before
    assert client.get(f"{url}/parameters/expected", headers=as_user("alice")).status_code == 404
    assert changes_by(str(client.base_url), jobs_iri(url)) == [("created", "alice")]


def test_the_admin_reads_and_changes_anyones_job(
    client: httpx.Client, documents: DocumentServer
) -> None:
    url = alices_pending_job(client, documents)
    job_id = url.rsplit("/", 1)[-1]
    assert client.get(url, headers=ADMIN).status_code == 200
    assert job_id in listed(client, ADMIN)
    assert client.get(url).status_code == 401  # anonymous: credentials could help
    bob = client.post(f"{url}/phase", data={"PHASE": "ABORT"}, headers=as_user("bob"))
    assert bob.status_code == 403
    aborted = client.post(f"{url}/phase", data={"PHASE": "ABORT"}, headers=ADMIN)
    assert aborted.status_code == 303
    assert client.get(f"{url}/phase", headers=as_user("alice")).text == "ABORTED"
    assert changes_by(str(client.base_url), jobs_iri(url))[-1] == ("phase", "admin")
