"""Curators and the admin at /jobs, against a real server with a curator (carol).

A curator (a user named in the `curators` setting) reads every job, in its document and
in the list, and is refused (403) a change to someone else's; the admin token reads and
changes everything. `curated_server` and `as_user` serve the other bindings' tests too.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterator
from pathlib import Path

import feedparser
import httpx
import pytest

from tests.bindings.jobservice.test_jobs import ADMIN, wait_done
from tests.conftest import JOB_USERS, DocumentServer, job_server

CURATOR = "carol"
USERS = {**JOB_USERS, CURATOR: "catalogue"}
CURATED = {
    "users": ",".join(f"{name}:{password}" for name, password in USERS.items()),
    "curators": CURATOR,
}
"""The settings of a job server where carol, one of the users, is a curator."""
JT = "https://w3id.org/jobtrail/vocab#"


def as_user(name: str) -> dict[str, str]:
    """HTTP Basic credentials of one of USERS (alice, bob, carol)."""
    token = base64.b64encode(f"{name}:{USERS[name]}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@contextlib.contextmanager
def curated_server(root: Path, **settings: str) -> Iterator[str]:
    """A real job server (`job_server`) whose users include the curator carol."""
    with job_server(root / "data", root / "files", **CURATED, **settings) as base:
        yield base


def changes_by(base: str, job: str) -> list[tuple[str, str]]:
    """(kind, changed by) of each change of the job, in order (asked with the admin token)."""
    query = (
        f"SELECT ?kind ?by WHERE {{ ?m <{JT}about> <{job}> ; <{JT}changeKind> ?kind ; "
        f"<{JT}changedBy> ?by ; <{JT}sequence> ?n }} ORDER BY ?n"
    )
    answer = httpx.get(
        f"{base}sparql",
        params={"query": query},
        headers={"Accept": "application/sparql-results+json", **ADMIN},
    )
    assert answer.status_code == 200, answer.text
    rows = answer.json()["results"]["bindings"]
    return [(r["kind"]["value"], r["by"]["value"]) for r in rows]


@pytest.fixture(scope="module")
def curated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with curated_server(tmp_path_factory.mktemp("jobservice-curated")) as base:
        yield base


def listed(client: httpx.Client, headers: dict[str, str]) -> list[str]:
    answer = client.get("/jobs", params={"size": 1000}, headers=headers)
    assert answer.status_code == 200, answer.text
    return [e.id for e in feedparser.parse(answer.content).entries]


def test_a_curator_reads_every_job_and_changes_none_but_their_own(
    curated: str, documents: DocumentServer
) -> None:
    url = documents.put("/curated/alice.txt", b"alice's\n", "text/plain")
    with httpx.Client(base_url=curated, timeout=10) as client:
        made = client.post("/jobs?profile=Fixity", content=url, headers=as_user("alice"))
        assert made.status_code == 201, made.text
        job = made.text
        assert wait_done(client, job, headers=as_user("alice")).status_code == 303
        carol = as_user(CURATOR)
        # reads: the job, its resource map, and the list of every job
        assert client.get(job, headers=carol).status_code == 303
        assert client.get(f"{job}.ttl", headers=carol).status_code == 200
        assert job in listed(client, carol)
        assert job not in listed(client, as_user("bob"))  # a user still sees only their own
        feed = feedparser.parse(client.get("/jobs", headers=carol).content)
        assert feed.feed.title == f"Jobs visible to {CURATOR}"
        # a change: refused, and nothing changed
        refused = client.delete(job, headers={**carol, "Accept": "application/problem+json"})
        assert refused.status_code == 403
        assert "curator" in refused.json()["detail"]
        assert client.get(job, headers=as_user("alice")).status_code == 303
        assert [kind for kind, _ in changes_by(curated, job)].count("deleted") == 0
        # the curator's own job is theirs to change
        own = client.post("/jobs?profile=Fixity", content=url, headers=carol).text
        assert client.delete(own, headers=carol).status_code == 200
        assert client.get(own, headers=carol).status_code == 410


def test_the_admin_reads_and_changes_anyones_job(curated: str, documents: DocumentServer) -> None:
    url = documents.put("/curated/alice-admin.txt", b"alice's again\n", "text/plain")
    with httpx.Client(base_url=curated, timeout=10) as client:
        job = client.post("/jobs?profile=Fixity", content=url, headers=as_user("alice")).text
        assert wait_done(client, job, headers=as_user("alice")).status_code == 303
        assert client.get(job, headers=ADMIN).status_code == 303
        assert client.get(f"{job}.ttl", headers=ADMIN).status_code == 200
        assert job in listed(client, ADMIN)
        anonymous = client.get(job)
        assert anonymous.status_code == 401 and "WWW-Authenticate" in anonymous.headers
        assert client.delete(job, headers=as_user("bob")).status_code == 403
        assert client.delete(job, headers=ADMIN).status_code == 200
        assert client.get(job, headers=as_user("alice")).status_code == 410
        assert changes_by(curated, job)[-1] == ("deleted", "admin")
