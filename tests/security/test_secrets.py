"""No secret is ever stored: passes, credentials and URL passwords, through every binding.

A real server with users, passes and prices takes jobs through /jobs, UWS, MCMA (both
models) and SIF, each sent with a pass (`?pass=` and a form field) and an input URL with a
password; then the whole store is exported and searched for every secret used.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.bindings.sif.test_routes import job_document
from tests.conftest import ADMIN_TOKEN, JOB_USERS, DocumentServer, job_server

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}  # an auditor's view: the whole store

PASS = "rich-pass"
PASSWORD = "s3cret-in-url"


@pytest.fixture(scope="module")
def documents() -> Iterator[DocumentServer]:
    server = DocumentServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("secrets")
    with job_server(root / "data", root / "files", uws_lists="fixity=Fixity") as base:
        yield base, root


def _secret_url(documents: DocumentServer, name: str) -> str:
    plain = documents.put(f"/{name}.txt", b"hello", "text/plain")
    return plain.replace("http://", f"http://reader:{PASSWORD}@")


def _wait_done(client: httpx.Client, job: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        r = client.get(job, headers={"Accept": "text/turtle"}, params={"pass": PASS})
        if r.status_code != 202:
            return
        time.sleep(0.1)
    raise AssertionError(f"{job} did not finish")


def test_nothing_secret_is_stored_whatever_the_binding(
    served: tuple[str, Path], documents: DocumentServer
) -> None:
    base, root = served
    basic = base64.b64encode(f"alice:{JOB_USERS['alice']}".encode()).decode()
    with httpx.Client(base_url=base, timeout=30) as client:
        # the linked-data job service: the pass in a form, the URL with a password
        r = client.post(
            "/jobs",
            data={"url": _secret_url(documents, "a"), "pass": PASS, "profile": "Fixity"},
        )
        assert r.status_code == 201, r.text
        _wait_done(client, r.headers["Location"])
        # it ran with the credentials: the vault gave the worker the real URL
        assert f"Basic {base64.b64encode(f'reader:{PASSWORD}'.encode()).decode()}" in (
            documents.authorizations
        )
        # UWS, with ?pass=
        r = client.post(
            "/uws/fixity",
            params={"pass": PASS},
            data={"INPUT": _secret_url(documents, "b"), "PHASE": "RUN"},
        )
        assert r.status_code == 303, r.text
        # MCMA today: ?pass= and a locator with a password
        # … and a notification endpoint with a password, which the outbox calls
        notify = documents.url.replace("http://", f"http://notified:{PASSWORD}@") + "/notify"
        doc = {
            "@type": "QAJob",
            "jobProfileId": f"{base}mcma/job-profiles/Fixity",
            "jobInput": {"inputFile": {"@type": "Locator", "url": _secret_url(documents, "c")}},
            "notificationEndpoint": {"@type": "NotificationEndpoint", "httpEndpoint": notify},
        }
        r = client.post("/mcma/jobs", params={"pass": PASS}, json=doc)
        assert r.status_code == 201, r.text
        notified = f"Basic {base64.b64encode(f'notified:{PASSWORD}'.encode()).decode()}"
        deadline = time.monotonic() + 30
        while not any(p == "/notify" and a == notified for p, a, _ in documents.posts):
            assert time.monotonic() < deadline, "the notification went to the real URL"
            time.sleep(0.1)
        # SIF with ?pass= and HTTP Basic (its Authorization header is not kept)
        r = client.post(
            "/sif/jobs/Transfers/Transfer",
            params={"pass": PASS},
            content=job_document(),
            headers={"Content-Type": "application/xml"},
        )
        assert r.status_code == 201, r.text
        r = client.post(
            "/sif/jobs/Transfers/Transfer",
            content=job_document(),
            headers={"Content-Type": "application/xml", "Authorization": f"Basic {basic}"},
        )
        assert r.status_code == 201, r.text
        time.sleep(1)  # let the queued jobs run, so their change records are written too
    dump = root / "dump.nq"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "jobtrail.cli",
            "export",
            "--store",
            str(root / "data"),
            "-o",
            str(dump),
        ],
        check=True,
        capture_output=True,
    )
    text = dump.read_text("utf-8")
    assert "REDACTED" in text  # the hops and records say what was taken out
    for secret in (
        PASS,
        PASSWORD,
        basic,
        JOB_USERS["alice"],
        hashlib.sha256(PASS.encode()).hexdigest()[:16],  # no plain digest of a pass either
    ):
        assert secret not in text, f"{secret!r} is in the store"


def test_a_hop_says_what_was_redacted(served: tuple[str, Path]) -> None:
    base, _ = served
    query = """SELECT ?text WHERE { ?m <https://w3id.org/jobtrail/vocab#originalText> ?text
               FILTER(CONTAINS(?text, "Jobtrail-Redacted")) } LIMIT 5"""
    r = httpx.get(
        f"{base}sparql", params={"query": query}, headers={"Accept": "application/json", **ADMIN}
    )
    rows = [b["text"]["value"] for b in r.json()["results"]["bindings"]]
    assert rows, "no hop says it was redacted"
    assert all("REDACTED" in t.replace("Jobtrail-Redacted", "") for t in rows)


def test_a_pass_balance_lives_under_a_keyed_name(served: tuple[str, Path]) -> None:
    base, root = served
    key_file = root / "data.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    query = (
        "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } FILTER(CONTAINS(STR(?g), '/passes/')) }"
    )
    r = httpx.get(
        f"{base}sparql", params={"query": query}, headers={"Accept": "application/json", **ADMIN}
    )
    graphs = [b["g"]["value"] for b in r.json()["results"]["bindings"]]
    assert graphs
    plain = hashlib.sha256(PASS.encode()).hexdigest()
    assert all(plain not in g for g in graphs)
    assert json.dumps(graphs).count("/passes/") == len(graphs)
