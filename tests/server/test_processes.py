"""Several `jobtrail serve` processes over one remote engine (a real `oxigraph serve`, and a
real Virtuoso): each job runs once whichever process hears of it, a process killed with SIGKILL
in the middle of a job has it taken over, a UWS WAIT on one process wakes on a change made
through another, notifications go once, and the log they all append to stays one chain
(`jobtrail verify`)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from jobtrail.jobs.outbox import SWEEP
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.bindings.mcma.test_fims import peer, wait_until
from tests.conftest import (
    ADMIN_TOKEN,
    EXAMPLES_DIR,
    DocumentServer,
    free_port,
    oxigraph,
    virtuoso,
    wait_for,
)

DATA = b"the same bytes, whichever process fetches them\n" * 50
SHA = hashlib.sha256(DATA).hexdigest()
JT = "https://w3id.org/jobtrail/vocab#"
SPARQL = {"Accept": "application/sparql-results+json", "Authorization": f"Bearer {ADMIN_TOKEN}"}
LEASE_TTL = 2.0


@dataclass
class Deployment:
    engine: str
    files: Path
    base: str  # the base URL the store's IRIs are minted under (the first process's)


@pytest.fixture(scope="module", params=["oxigraph", "virtuoso"])
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A fresh engine of this module's own: `oxigraph serve`, or Virtuoso."""
    workdir = tmp_path_factory.mktemp(f"shared-{request.param}")
    if request.param == "virtuoso":
        with virtuoso(workdir) as url:
            yield url
        return
    with oxigraph(workdir) as url:
        yield url


@pytest.fixture(scope="module")
def deployment(engine: str, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    base = f"http://127.0.0.1:{free_port()}/"
    load = [sys.executable, "-m", "jobtrail.cli", "load", str(EXAMPLES_DIR)]
    subprocess.run([*load, "--store", engine, "--base-url", base, "--silent"], check=True)
    return Deployment(engine, tmp_path_factory.mktemp("shared-files"), base)


@contextlib.contextmanager
def process(
    deployment: Deployment, port: int | None = None
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """One more `jobtrail serve` over the shared engine and files; (its URL, the process)."""
    port = port or free_port()
    env = {
        **os.environ,
        "JOBTRAIL_FILES": str(deployment.files),
        "JOBTRAIL_KEY_FILE": str(deployment.files / "key"),
        "JOBTRAIL_LOG_KEY_FILE": str(deployment.files / "log-key"),
        "JOBTRAIL_FETCH_ALLOW_PRIVATE": "true",
        "JOBTRAIL_ADMIN_TOKEN": ADMIN_TOKEN,
        "JOBTRAIL_LEASE_TTL": str(LEASE_TTL),
        "JOBTRAIL_QUERY_WORKERS": "0",
        "JOBTRAIL_FETCH_TIMEOUT": "300",  # a fetch from the gate waits as long as the test
    }
    serve = [sys.executable, "-m", "jobtrail.cli", "serve", "--store", deployment.engine]
    proc = subprocess.Popen(  # a session of its own: killed, it is killed with its children
        [*serve, "--port", str(port)],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for(proc, url, "jobtrail serve", lambda: proc.stderr.read() if proc.stderr else "", 60)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=15)


def create(url: str, input: str, **more: str) -> str:
    """A Fixity job through UWS (started unless `more` says); its path (`uws/Fixity/{id}`):
    IRIs are minted under the store's base, which no process here listens at."""
    data = {"URL": input, "expected": SHA, "PHASE": "RUN", **more}
    answer = httpx.post(f"{url}uws/Fixity", data=data, timeout=30)
    assert answer.status_code == 303, answer.text
    return "uws/" + str(answer.headers["location"]).split("/uws/", 1)[1]


def phase(url: str) -> str:
    return httpx.get(f"{url}/phase", timeout=30).text


def until(url: str, phases: set[str], seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    while (now := phase(url)) not in phases:
        assert time.monotonic() < deadline, f"{url} stayed {now}"
        time.sleep(0.2)
    return now


def executions(url: str, job_id: str) -> list[str]:
    """Who moved the job to EXECUTING, once per time it was (from its change records)."""
    query = (
        f"SELECT ?m WHERE {{ ?m <{JT}about> ?job ; <{JT}toPhase> ?to "
        f"FILTER(STRENDS(STR(?job), '/jobs/{job_id}') && STRENDS(STR(?to), '/EXECUTING')) }}"
    )
    answer = httpx.get(f"{url}sparql", params={"query": query}, headers=SPARQL, timeout=30)
    assert answer.status_code == 200, answer.text
    return [b["m"]["value"] for b in answer.json()["results"]["bindings"]]


def history_of(url: str, job_id: str) -> list[tuple[str, ...]]:
    """The job's change records: sequence, kind, to phase, by (for a failing test's message)."""
    query = (
        f"SELECT ?n ?k ?to ?by WHERE {{ ?m <{JT}about> ?job ; <{JT}sequence> ?n ; "
        f"<{JT}changeKind> ?k ; <{JT}changedBy> ?by OPTIONAL {{ ?m <{JT}toPhase> ?to }} "
        f"FILTER(STRENDS(STR(?job), '/jobs/{job_id}')) }} ORDER BY ?n"
    )
    answer = httpx.get(f"{url}sparql", params={"query": query}, headers=SPARQL, timeout=30)
    return [
        tuple(b.get(k, {}).get("value", "") for k in ("n", "k", "to", "by"))
        for b in answer.json()["results"]["bindings"]
    ]


def verify(deployment: Deployment) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jobtrail.cli", "verify", "--store", deployment.engine],
        capture_output=True,
        text=True,
    )


@pytest.fixture
def documents() -> Iterator[DocumentServer]:
    server = DocumentServer()
    yield server
    server.close()


def test_each_job_runs_once_whichever_process_hears_of_it(
    deployment: Deployment, documents: DocumentServer
) -> None:
    source = documents.put("/input.txt", DATA, "text/plain")
    with process(deployment) as (a, _), process(deployment) as (b, _):
        paths = [create(a if i % 2 else b, source) for i in range(10)]
        for path in paths:
            assert until(a + path, {"COMPLETED", "ERROR", "ABORTED"}) == "COMPLETED"
            assert phase(b + path) == "COMPLETED"  # the other process reads the same job
        for path in paths:
            job_id = path.rsplit("/", 1)[1]
            assert len(executions(a, job_id)) == 1, f"job {job_id} ran more than once"
    checked = verify(deployment)
    assert checked.returncode == 0, checked.stdout


def test_a_wait_on_one_process_wakes_on_a_change_made_through_another(
    deployment: Deployment, documents: DocumentServer
) -> None:
    source = documents.put("/input.txt", DATA, "text/plain")
    with process(deployment) as (a, _), process(deployment) as (b, _):
        path = create(a, source, PHASE="")
        on_a, on_b = a + path, b + path
        assert phase(on_b) == "PENDING"
        waited: dict[str, float | str] = {}

        def wait() -> None:
            start = time.monotonic()
            got = httpx.get(on_b, params={"WAIT": "60", "PHASE": "PENDING"}, timeout=90)
            waited["seconds"] = time.monotonic() - start
            waited["status"] = got.status_code

        waiter = threading.Thread(target=wait)
        waiter.start()
        time.sleep(1.0)  # the WAIT is under way on b
        assert httpx.post(f"{on_a}/phase", data={"PHASE": "RUN"}, timeout=30).status_code == 303
        waiter.join(90)
        assert waited["status"] == 200
        # woken by the change on a (about a second later), not at the 60 s it asked to wait
        assert float(waited["seconds"]) < 45, waited


class Gate:
    """An input server whose answers wait until the test opens the gate: a job fetching from
    it stays EXECUTING for as long as the test needs, however slow the machine."""

    def __init__(self) -> None:
        self.open = threading.Event()
        gate = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                gate.open.wait(300)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(DATA)))
                self.end_headers()
                self.wfile.write(DATA)

            do_HEAD = do_GET  # noqa: N815

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/input.txt"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.open.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_killed_process_has_its_running_job_taken_over(deployment: Deployment) -> None:
    gate = Gate()
    try:
        with process(deployment) as (a, killed):
            path = create(a, gate.url)
            until(a + path, {"EXECUTING"}, 60)  # a's worker waits for the input at the gate
            with process(deployment) as (b, _):
                # b started while a's run lease was live: it leaves the job to a
                time.sleep(2 * LEASE_TTL)
                assert phase(b + path) == "EXECUTING", httpx.get(b + path).text
                os.killpg(killed.pid, signal.SIGKILL)  # the server and its supervisor at once
                killed.wait(10)
                gate.open.set()
                # taken over once a's run lease expired, and run again from its input by b
                assert until(b + path, {"COMPLETED", "ERROR"}, 120) == "COMPLETED"
                job_id = path.rsplit("/", 1)[1]
                assert len(executions(b, job_id)) == 2, history_of(b, job_id)  # a's and b's
                query = (
                    f"SELECT ?r WHERE {{ ?m <{JT}about> ?job ; <{JT}changeKind> 'phase' ; "
                    f"<{JT}toPhase> ?to FILTER(STRENDS(STR(?job), '/jobs/{job_id}') && "
                    "STRENDS(STR(?to), '/QUEUED')) }"
                )
                history = httpx.get(
                    f"{b}sparql", params={"query": query}, headers=SPARQL, timeout=30
                )
                assert len(history.json()["results"]["bindings"]) >= 1  # the requeue's record
    finally:
        gate.close()
    assert verify(deployment).returncode == 0


def test_an_ogc_subscriber_is_told_by_a_process_that_did_not_create_its_job(
    deployment: Deployment,
) -> None:
    """b was running before the job was created through a, so a alone knew its subscriber;
    a is killed before the job ends: b, which hears of the end (its own run, or a's taken
    over), finds the subscriber in the store and tells it once."""
    gate = Gate()
    told: list[tuple[str, Any]] = []

    async def receive(request: Request) -> Response:
        told.append((request.url.path, json.loads(await request.body())))
        return Response(status_code=204)

    try:
        with (
            peer(Starlette(routes=[Route("/{what}", receive, methods=["POST"])])) as receiver,
            process(deployment) as (a, killed),
            process(deployment) as (b, _),
        ):
            made = httpx.post(
                f"{a}ogcapi/processes/Fixity/execution",
                json={
                    "inputs": {"input": gate.url, "algorithm": "sha256"},
                    "subscriber": {"successUri": f"{receiver}/ok"},
                },
                headers={"Prefer": "respond-async"},
                timeout=30,
            )
            assert made.status_code == 201, made.text
            status = f"{b}ogcapi/jobs/{made.json()['jobID']}"
            wait_until(lambda: httpx.get(status, timeout=30).json()["status"] == "running", 60)
            os.killpg(killed.pid, signal.SIGKILL)  # the server and its supervisor at once
            killed.wait(10)
            gate.open.set()
            wait_until(lambda: httpx.get(status, timeout=30).json()["status"] == "successful", 120)
            wait_until(lambda: any(path == "/ok" for path, _ in told), 60)
            time.sleep(2 * SWEEP)  # long enough for a second call, were one to be sent
            successes = [body for path, body in told if path == "/ok"]
            assert len(successes) == 1, told
            assert "fixity.json" in successes[0], successes[0]  # the results document
    finally:
        gate.close()


def test_notifications_are_sent_once_from_two_processes(
    deployment: Deployment, documents: DocumentServer
) -> None:
    """Today's MCMA notifies each status change through the outbox: both processes hear of
    every change (the follower) and look for pending calls, and each notification is still sent
    once. The receiver takes 3 s to answer, so every call is still pending when the other
    process looks (every SWEEP s): only the claim before each attempt keeps it from sending."""
    source = documents.put("/input.txt", DATA, "text/plain")
    notified: list[dict[str, Any]] = []

    async def slowly(request: Request) -> Response:
        notified.append(json.loads(await request.body()))
        await asyncio.sleep(3)
        return Response(status_code=204)

    with (
        peer(Starlette(routes=[Route("/notify", slowly, methods=["POST"])])) as receiver,
        process(deployment) as (a, _),
        process(deployment) as (b, _),
    ):
        job = {
            "@type": "QAJob",
            "jobProfileId": f"{deployment.base}mcma/job-profiles/Fixity",
            "jobInput": {
                "inputFile": {"@type": "Locator", "url": source},
                "algorithm": "sha256",
                "expected": SHA,
            },
            "notificationEndpoint": {"httpEndpoint": f"{receiver}/notify"},
        }
        created = httpx.post(f"{a}mcma/jobs", json=job, timeout=30)
        assert created.status_code == 201, created.text
        path = "mcma/jobs/" + created.json()["id"].rsplit("/", 1)[1]
        wait_until(
            lambda: (
                httpx.get(f"{b}{path}", headers={"Accept": "application/json"}, timeout=30)
                .json()
                .get("status")
                == "Completed"
            ),
            60,
        )
        time.sleep(3 * 3 + 2 * SWEEP)  # long enough for either process to send a duplicate
        statuses = [call["content"]["status"] for call in notified]
        assert sorted(statuses) == sorted(["Queued", "Running", "Completed"]), statuses
