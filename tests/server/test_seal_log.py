"""The seal log after real runs (issue 18): `jobtrail verify` finds nothing after every binding
has written through a real server, after a server killed (SIGKILL) while eight writers write,
and after a `jobtrail load` killed mid-way; every write a client saw acknowledged is there.

The log held by the store must be a gap-free chain of what committed (ingest/seal.py): a
record sealed before its write commits, behind a later one that committed first, leaves a
permanent gap when the process dies in between; a record whose triples list one twice
(the hop writer's `jt:about`) never matches its digest.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from jobtrail.store.oxigraph import JOURNAL, OxigraphStore

from tests.bindings.mcma.test_fims import flow, start_flow, wait_until
from tests.bindings.sif.test_routes import job_document, state_document
from tests.conftest import ADMIN_TOKEN, PRODUCER, PRODUCERS, DocumentServer, free_port
from tests.server.test_serve import _children, _healthy, _start, _until

JOBTRAIL = [sys.executable, "-m", "jobtrail.cli"]
JT = "https://w3id.org/jobtrail/vocab#"
DATA = b"the input every job here checks\n"
SHA = hashlib.sha256(DATA).hexdigest()
FINAL = {"COMPLETED", "ERROR", "ABORTED"}

JSON_LINES = {**PRODUCER, "Content-Type": "application/x-ndjson"}

pytestmark = pytest.mark.slow


def verified(data: Path) -> str:
    """`jobtrail verify --all` on the store: exit 0 and no finding, or the findings."""
    done = subprocess.run(
        [*JOBTRAIL, "verify", "--store", str(data), "--all"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
    assert "every seal matches, the log is unbroken" in done.stdout
    return done.stdout


def tre_message(worker: int, n: int) -> bytes:
    """A new TRE hop (2022 structure): its own UUID, so its own bytes."""
    hop = {
        "version": "1.0.0",
        "timestamp": str(1659631669 + n),
        "UUIDs": [{"TDR-UUID": str(uuid.uuid4())}],
        "producer": {
            "name": "TDR",
            "process": "consignment-export",
            "type": "judgment",
            "environment": "INT",
        },
        "parameters": {"TDR": {"reference": f"SEAL-{worker}-{n}", "number-of-retries": "0"}},
    }
    return json.dumps(hop).encode()


# --- every binding --------------------------------------------------------------------------


def get_status(client: httpx.Client, job: str) -> str:
    answer = client.get(job, headers={"Accept": "application/json"})
    return str(answer.json().get("status", ""))


def test_every_binding_leaves_a_log_that_verifies(tmp_path: Path) -> None:
    """The linked-data job service, UWS, MCMA in both dialects (FIMS `/mcma/Job` with its
    peers, today's `/mcma/jobs` with a notification), SIF and POST /messages, on one
    server with its store on disk; stopped, its log verifies — every hop included."""
    documents = DocumentServer()
    try:
        url = documents.put("/seal/input.txt", DATA, "text/plain")
        with flow(tmp_path) as f, httpx.Client(base_url=f.base, timeout=15) as client:
            fims = start_flow(f.base, f.orchestrator_url)  # FIMS: to the success callback
            # the linked-data job service
            created = client.post("/jobs?profile=Fixity", content=url)
            assert created.status_code == 201, created.text
            ld_job = created.headers["location"]
            # UWS, run at once
            uws = client.post("/uws/Fixity", data={"URL": url, "expected": SHA, "PHASE": "RUN"})
            assert uws.status_code == 303, uws.text
            # MCMA today: a built-in profile, a notification to the orchestrator
            mcma = {
                "@type": "QAJob",
                "jobProfileId": f"{f.base}mcma/job-profiles/Fixity",
                "jobInput": {"inputFile": {"@type": "Locator", "url": url}, "algorithm": "sha256"},
                "notificationEndpoint": {"httpEndpoint": f"{f.orchestrator_url}/notify"},
            }
            answer = client.post("/mcma/jobs", json=mcma)
            assert answer.status_code == 201, answer.text
            mcma_job = answer.json()["id"]
            # SIF: created, then moved through a phase's states
            xml = {"Content-Type": "application/xml"}
            sif = client.post("/sif/jobs/Transfers/Transfer", content=job_document(), headers=xml)
            assert sif.status_code == 201, sif.text
            sif_id = sif.headers["location"].rsplit("/", 1)[1]
            for kind in ("INPROGRESS", "COMPLETED"):
                state = client.post(
                    f"/sif/jobs/Transfers/{sif_id}/package/states/state",
                    content=state_document(kind),
                    headers=xml,
                )
                assert state.status_code == 201, state.text
            # POST /messages: one, then JSON Lines of three, one of them a repeat
            one = tre_message(0, 1)
            posted = client.post(
                "/messages", content=one, headers={**PRODUCER, "Content-Type": "application/json"}
            )
            assert posted.status_code == 201, posted.text
            lines = b"\n".join([tre_message(0, 2), one, tre_message(0, 3)])
            assert client.post("/messages", content=lines, headers=JSON_LINES).status_code == 201
            # everything runs to its end: callbacks and notifications are hops too
            wait_until(lambda: any(p == "/success" for p, _ in f.orchestrator.calls), 30)
            wait_until(lambda: any(p == "/notify" for p, _ in f.orchestrator.calls), 30)
            for job in (ld_job, uws.headers["location"]):
                phase = f"{f.base}uws/Fixity/{job.rstrip('/').rsplit('/', 1)[1]}/phase"
                wait_until(lambda p=phase: client.get(p).text in FINAL, 30)  # type: ignore[misc]
            wait_until(lambda: get_status(client, mcma_job) in {"Completed", "Failed"}, 30)
            assert fims
    finally:
        documents.close()
    out = verified(tmp_path / "data")
    assert int(out.split()[1].replace(",", "")) > 31 + 40  # the examples, and far more


# --- a server killed while eight writers write ----------------------------------------------


class Writers:
    """Eight clients writing at once, each a new message or a new job in turn; what the
    server acknowledged (201) is kept, whatever happens to the server after."""

    def __init__(self, base: str, input_url: str, count: int = 8) -> None:
        self.base = base
        self.input_url = input_url
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acknowledged: list[str] = []
        self.threads = [threading.Thread(target=self.run, args=(k,)) for k in range(count)]

    def __enter__(self) -> Writers:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(60)

    def run(self, worker: int) -> None:
        n = 0
        with httpx.Client(base_url=self.base, timeout=10, trust_env=False) as client:
            while not self.stop.is_set():
                n += 1
                try:
                    if n % 2:  # JSON Lines: one transaction that takes a while to commit
                        lines = b"\n".join(tre_message(worker, n * 100 + k) for k in range(60))
                        answer = client.post("/messages", content=lines, headers=JSON_LINES)
                    else:
                        answer = client.post("/jobs?profile=Fixity", content=self.input_url)
                except httpx.HTTPError:
                    time.sleep(0.05)  # the server is down: try again
                    continue
                if answer.status_code != 201:
                    continue
                if n % 2:
                    done = answer.json()["messages"]
                    stored = [m["message"] for m in done if m["outcome"] == "stored"]
                else:
                    stored = [answer.headers["location"]]
                with self.lock:
                    self.acknowledged += stored

    def count(self) -> int:
        with self.lock:
            return len(self.acknowledged)


def test_a_server_killed_while_eight_writers_write_leaves_a_log_that_verifies(
    tmp_path: Path,
) -> None:
    """SIGKILL the serving process four times (its supervisor starts it again), then the
    supervisor and its process together; every acknowledged write is there, and the log
    verifies: what a crash dropped was the head of the log, never a record before one
    that committed."""
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "input.txt").write_bytes(DATA)
    supervisor = _start(
        tmp_path / "data",
        port,
        JOBTRAIL_PRODUCERS=PRODUCERS,
        JOBTRAIL_FILE_ROOTS=str(inputs),
        JOBTRAIL_FILES=str(tmp_path / "files"),
        JOBTRAIL_ADMIN_TOKEN=ADMIN_TOKEN,
    )
    assert supervisor.stderr is not None
    threading.Thread(target=supervisor.stderr.read, daemon=True).start()  # never blocks it
    rng = random.Random(18)
    try:
        _until(lambda: _healthy(base), 60, "the server did not start")
        with Writers(base, (inputs / "input.txt").as_uri()) as writers:
            for _ in range(4):
                before = writers.count()
                _until(lambda b=before: writers.count() > b + 100, 60, "no writes")  # type: ignore[misc]
                time.sleep(rng.uniform(0, 0.3))
                (child,) = _children(supervisor.pid)
                os.kill(child, signal.SIGKILL)
                _until(
                    lambda c=child: [p for p in _children(supervisor.pid) if p != c],  # type: ignore[misc]
                    30,
                    "the supervisor did not start the server again",
                )
                _until(lambda: _healthy(base), 60, "the server did not come back")
            before = writers.count()
            _until(lambda b=before: writers.count() > b + 100, 60, "no writes")  # type: ignore[misc]
            time.sleep(rng.uniform(0, 0.3))
            children = _children(supervisor.pid)
            os.kill(supervisor.pid, signal.SIGKILL)
            for child in children:
                os.kill(child, signal.SIGKILL)
            supervisor.wait(10)
            _until(
                lambda: all(not Path(f"/proc/{c}").exists() or _zombie(c) for c in children),
                10,
                "the server is still running",
            )
            acknowledged = list(writers.acknowledged)
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait(10)
    assert len(acknowledged) > 600
    verified(tmp_path / "data")
    with OxigraphStore(tmp_path / "data") as store:
        iris = {iri.split("#")[0] for iri in acknowledged}
        assert store.existing(iris) == iris, "an acknowledged write is missing"


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


# --- a load killed mid-way ------------------------------------------------------------------


def test_a_load_killed_mid_way_leaves_a_log_that_verifies(tmp_path: Path) -> None:
    """SIGKILL `jobtrail load` once some batches committed and others are being written: the
    next open drops what was not committed (the journal), the log verifies, and loading the
    same file again stores the rest after what committed."""
    data, jsonl = tmp_path / "data", tmp_path / "hops.jsonl"
    total = 30_000
    with jsonl.open("wb") as out:
        for n in range(total):
            out.write(tre_message(n % 8, n) + b"\n")
    load = [*JOBTRAIL, "load", str(jsonl), "--store", str(data), "--batch-size", "1000"]
    process = subprocess.Popen([*load, "--silent"])
    try:
        # some batches committed: a journal was emptied and another one written since
        _until(lambda: len(list(data.glob(JOURNAL + "*"))) >= 1, 120, "the load did not start")
        time.sleep(random.Random(18).uniform(2.0, 3.0))
        assert process.poll() is None, "the load ended before it was killed: make it larger"
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    verified(data)  # opens the store: the journal drops the batches not committed
    with OxigraphStore(data) as store:
        kept = count_messages(store)
    assert 0 < kept < total
    subprocess.run([*load, "--silent"], check=True)
    out = verified(data)
    assert f"verified {total:,} messages" in out
    with OxigraphStore(data) as store:
        assert count_messages(store) == total


def count_messages(store: OxigraphStore) -> int:
    rows: Any = store.query(f"SELECT (COUNT(*) AS ?n) {{ ?m <{JT}logPosition> ?x }}")
    return int(next(iter(rows))["n"].value)
