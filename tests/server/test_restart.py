"""A server starts again over whatever a running server left in its store.

Each test runs a real `jobtrail serve`, changes the store through HTTP the way
clients do (an MCMA job created, then deleted or destroyed), stops the server
and starts a new one on the same store and port (the same base URL, so the
same IRIs), which must come up and answer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.bindings.mcma.test_fims import wait_until
from tests.conftest import ADMIN_TOKEN, DocumentServer, free_port, job_server

DATA = b"an input that is checked and then thrown away\n"
FINAL = {"Completed", "Failed", "Canceled"}


@pytest.fixture(scope="module")
def documents() -> Iterator[DocumentServer]:
    server = DocumentServer()
    yield server
    server.close()


def _fixity(base: str, url: str) -> dict[str, Any]:
    return {
        "@type": "QAJob",
        "jobProfileId": f"{base}mcma/job-profiles/Fixity",
        "jobInput": {
            "inputFile": {"@type": "Locator", "url": url},
            "algorithm": "sha256",
            "expected": hashlib.sha256(DATA).hexdigest(),
        },
    }


def _finished_mcma_job(base: str, url: str) -> str:
    created = httpx.post(f"{base}mcma/jobs", json=_fixity(base, url), timeout=10)
    assert created.status_code == 201, created.text
    job: str = created.json()["canonicalJob"]  # its own IRI (the MCMA one is /mcma/jobs/{id})

    def done() -> bool:
        answer = httpx.get(job, headers={"Accept": "application/json"}, timeout=10)
        return answer.status_code == 200 and answer.json()["status"] in FINAL

    wait_until(done, 30)
    return job


def _has_graph(base: str, iri: str) -> bool:
    answer = httpx.get(
        f"{base}sparql",
        params={"query": f"ASK {{ GRAPH <{iri}> {{ ?s ?p ?o }} }}"},
        headers={"Accept": "application/sparql-results+json"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    found: bool = answer.json()["boolean"]
    return found


def _started_again(root: Path, port: int, job: str) -> None:
    """A new server over the same store answers, and the job stays gone."""
    with job_server(root / "data", root / "files", port=port) as base:
        assert httpx.get(f"{base}health", timeout=10).status_code == 200
        assert httpx.get(job, timeout=10).status_code == 410
        assert not _has_graph(base, f"{job}/mcma")


def test_a_server_starts_again_after_an_mcma_job_was_deleted(
    tmp_path: Path, documents: DocumentServer
) -> None:
    url = documents.put("/restart/deleted.txt", DATA, "text/plain")
    port = free_port()
    with job_server(tmp_path / "data", tmp_path / "files", port=port) as base:
        job = _finished_mcma_job(base, url)
        assert _has_graph(base, f"{job}/mcma")
        deleted = httpx.delete(job, timeout=10)
        assert deleted.status_code == 200, deleted.text
        assert not _has_graph(base, f"{job}/mcma")  # the MCMA record went with the job
    _started_again(tmp_path, port, job)


def test_a_server_starts_again_after_an_mcma_job_was_destroyed(
    tmp_path: Path, documents: DocumentServer
) -> None:
    url = documents.put("/restart/destroyed.txt", DATA, "text/plain")
    port = free_port()
    with job_server(tmp_path / "data", tmp_path / "files", port=port) as base:
        job = _finished_mcma_job(base, url)
        job_id = job.rsplit("/", 1)[-1]
        soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
        moved = httpx.post(
            f"{base}uws/Fixity/{job_id}/destruction", data={"DESTRUCTION": soon}, timeout=10
        )
        assert moved.status_code == 303, moved.text
        wait_until(lambda: httpx.get(job, timeout=10).status_code == 410, 30)
        assert not _has_graph(base, f"{job}/mcma")
    _started_again(tmp_path, port, job)


def test_a_server_starts_again_over_a_record_left_by_a_deleted_job(
    tmp_path: Path, documents: DocumentServer
) -> None:
    """A store written before deletion dropped `{job}/mcma` still holds such records."""
    url = documents.put("/restart/orphan.txt", DATA, "text/plain")
    port = free_port()
    with job_server(tmp_path / "data", tmp_path / "files", port=port) as base:
        job = _finished_mcma_job(base, url)
        record = httpx.get(
            f"{base}sparql",
            params={
                "query": f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{job}/mcma> {{ ?s ?p ?o }} }}"
            },
            headers={"Accept": "application/n-triples"},
            timeout=10,
        ).text
        assert "startCommand" in record
        assert httpx.delete(job, timeout=10).status_code == 200
        restored = httpx.post(
            f"{base}update",
            content=f"INSERT DATA {{ GRAPH <{job}/mcma> {{ {record} }} }}",
            headers={
                "Content-Type": "application/sparql-update",
                "Authorization": f"Bearer {ADMIN_TOKEN}",
            },
            timeout=10,
        )
        assert restored.status_code in (200, 204), restored.text
        assert _has_graph(base, f"{job}/mcma")
    with job_server(tmp_path / "data", tmp_path / "files", port=port) as base:
        assert httpx.get(f"{base}health", timeout=10).status_code == 200
        assert httpx.get(job, timeout=10).status_code == 410
