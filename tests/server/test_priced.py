"""Priced jobs against a real server: concurrent payers, and every binding paying the same way.

A job paid with a pass is priced and debited by the job core in the transaction
that creates it, off the event loop, whatever the binding (/jobs, UWS, MCMA,
SIF). Many payers at once must all get an answer (201, or 402 once the credit
is spent), the balance must come out exact, and the server must keep
answering /health meanwhile.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.bindings.sif.test_routes import job_document
from tests.conftest import ADMIN_TOKEN, DocumentServer, job_server

CREDIT = 10
CONCURRENT = 16
XML = {"Content-Type": "application/xml"}


@pytest.fixture(scope="module")
def documents() -> Iterator[DocumentServer]:
    server = DocumentServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def priced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server where every job costs 1 and the passes hold CREDIT and 4."""
    root = tmp_path_factory.mktemp("priced")
    settings = {
        "passes": f"many:{CREDIT},bindings:4",
        "price_per_job": "1",
        "price_per_mb": "0",
        "job_workers": "1",
    }
    with job_server(root / "data", root / "files", **settings) as base:
        yield base


def balance(base: str, token: str) -> float:
    answer = httpx.post(
        f"{base}credit",
        data={"pass": token, "amount": "0"},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    left: float = answer.json()["credit"]
    return left


def test_concurrent_priced_jobs_all_answer_and_the_balance_is_exact(
    priced: str, documents: DocumentServer
) -> None:
    # the HEAD that prices each job takes a while: requests overlap inside the server
    url = documents.put("/priced/input.txt", b"priced\n", "text/plain") + "?delay=0.2"
    stop = threading.Event()
    health: list[int | str] = []

    def watch() -> None:
        deadline = time.monotonic() + 120
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                health.append(httpx.get(f"{priced}health", timeout=5).status_code)
            except httpx.HTTPError as e:
                health.append(type(e).__name__)
            time.sleep(0.05)

    def post(_: int) -> int:
        answer = httpx.post(f"{priced}jobs", params={"pass": "many"}, content=url, timeout=60)
        return answer.status_code

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with ThreadPoolExecutor(CONCURRENT) as pool:
            statuses = list(pool.map(post, range(CONCURRENT)))
    finally:
        stop.set()
        watcher.join()
    assert sorted(statuses) == [201] * CREDIT + [402] * (CONCURRENT - CREDIT)
    assert balance(priced, "many") == 0
    assert health and all(s == 200 for s in health), health


def test_every_binding_prices_its_jobs_through_the_job_core(
    priced: str, documents: DocumentServer
) -> None:
    url = documents.put("/priced/bindings.txt", b"bindings\n", "text/plain")
    token = {"pass": "bindings"}
    uws = httpx.post(f"{priced}uws/Fixity", data={"URL": url}, params=token, timeout=30)
    assert uws.status_code == 303, uws.text
    assert balance(priced, "bindings") == 3
    mcma = httpx.post(
        f"{priced}mcma/jobs",
        params=token,
        json={
            "@type": "QAJob",
            "jobProfileId": f"{priced}mcma/job-profiles/Fixity",
            "jobInput": {"inputFile": {"@type": "Locator", "url": url}, "algorithm": "sha256"},
        },
        timeout=30,
    )
    assert mcma.status_code == 201, mcma.text
    assert balance(priced, "bindings") == 2
    sif = httpx.post(
        f"{priced}sif/jobs/Transfers/Transfer",
        params=token,
        content=job_document(),
        headers=XML,
        timeout=30,
    )
    assert sif.status_code == 201, sif.text
    assert balance(priced, "bindings") == 1
    assert httpx.post(f"{priced}jobs", params=token, content=url, timeout=30).status_code == 201
    assert balance(priced, "bindings") == 0
    refused = [
        httpx.post(f"{priced}uws/Fixity", data={"URL": url}, params=token, timeout=30),
        httpx.post(
            f"{priced}sif/jobs/Transfers/Transfer",
            params=token,
            content=job_document(),
            headers=XML,
            timeout=30,
        ),
        httpx.post(
            f"{priced}jobs",
            params=token,
            content=url,
            headers={"Accept": "application/json"},
            timeout=30,
        ),
    ]
    assert [r.status_code for r in refused] == [402, 402, 402]
    problem = refused[-1].json()
    assert problem["cost"] == 1 and problem["credit"] == 0 and "credit" in problem["hint"]
    assert balance(priced, "bindings") == 0
