"""The FIMS/MCMA flow of seed 000 against a real jobtrail and two real peers on loopback.

The orchestrator only records the callbacks it gets; the AME service accepts
ProcessJob (201, as in message 14), then PUTs its report (17) and posts StopJob
(21). Messages 1 and 5 are the seed's, verbatim but for host names.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.conftest import ADMIN_TOKEN, free_port, job_server

MESSAGES = Path(__file__).resolve().parents[3] / "examples" / "fims-ame-flow"
JT = "https://w3id.org/jobtrail/vocab#"
HTTP = "http://www.w3.org/2011/http#"
SPARQL = {"Accept": "application/sparql-results+json", "Authorization": f"Bearer {ADMIN_TOKEN}"}
"""SPARQL sees the whole store: once it holds someone's job, only the admin (or a curator) asks."""


def seed_message(n: int) -> dict[str, Any]:
    """Message n of the FIMS/AME flow: the JSON body of its HTTP message."""
    text = (MESSAGES / f"{n:02d}.http").read_text("utf-8")
    body = text.split("\n\n", 1)[1]
    data: dict[str, Any] = json.loads(body)
    return data


# --- the peers -------------------------------------------------------------------------------


@contextlib.contextmanager
def peer(app: Starlette, port: int | None = None) -> Iterator[str]:
    """A real uvicorn server for `app` on loopback, in a thread."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the peer did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


class Orchestrator:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def app(self) -> Starlette:
        async def record(request: Request) -> Response:
            self.calls.append((request.url.path, json.loads(await request.body())))
            return Response(status_code=204)

        return Starlette(routes=[Route("/{what}", record, methods=["POST"])])


class AmeService:
    """Accepts ProcessJob, then PUTs a report and posts StopJob (`cause`), after `go` is set."""

    def __init__(self, jobtrail: str, cause: str = "COMPLETED", stop: bool = True) -> None:
        self.jobtrail = jobtrail
        self.cause = cause
        self.stop = stop  # False: it PUTs its final status and never posts StopJob
        self.go = threading.Event()
        self.go.set()
        self.accepted: list[str] = []
        self.answers: list[int] = []

    async def _finish(self, job: str) -> None:
        while not self.go.is_set():
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        async with httpx.AsyncClient(timeout=10) as client:
            current = (await client.get(job, headers={"Accept": "application/json"})).json()
            if self.cause == "COMPLETED":
                put = {**current, "jobStatus": "COMPLETED", "report": {"type": "Report"}}
                put["@context"] = "https://job-processor/context/default"
                self.answers.append((await client.put(job, json=put)).status_code)
            if not self.stop:
                return
            stop = {
                "@context": "https://ame-service/context/default",
                "id": "https://job-processor/StopJob/9b6549bc-3f9d-4c4d-8df4-6d49b29ffd27",
                "type": "StopJob",
                "job": job,
                "stopJobCause": self.cause,
            }
            answer = await client.post(f"{self.jobtrail}mcma/StopJob", json=stop)
            self.answers.append(answer.status_code)

    def app(self) -> Starlette:
        async def process(request: Request) -> Response:
            job = (await request.json())["job"]
            self.accepted.append(job)
            body = {
                "@context": "https://ame-service/context/default",
                "id": "https://ame-service/ProcessJob/6d634643-5236-4de1-8a02-e5466c632c18",
                "type": "ProcessJob",
                "job": job,
            }
            return JSONResponse(body, 201, background=BackgroundTask(self._finish, job))

        return Starlette(routes=[Route("/ProcessJob", process, methods=["POST"])])


@dataclass
class Flow:
    base: str  # jobtrail's
    orchestrator: Orchestrator
    orchestrator_url: str
    ame: AmeService
    ame_url: str
    orchestrator_starts: Callable[[], Any]


@contextlib.contextmanager
def flow(
    tmp_path: Path,
    cause: str = "COMPLETED",
    orchestrator_up: bool = True,
    stop: bool = True,
    **more: str,
) -> Iterator[Flow]:
    """jobtrail with an AME service registered for ExtractTechnicalMetadata, and both peers."""
    port, ame_port, orch_port = free_port(), free_port(), free_port()
    base = f"http://127.0.0.1:{port}/"
    orchestrator, ame = Orchestrator(), AmeService(base, cause, stop)
    services = [
        {
            "name": "ame",
            "url": f"http://127.0.0.1:{ame_port}/ProcessJob",
            "profiles": ["ExtractTechnicalMetadata"],
        }
    ]
    settings = {
        "mcma_services": json.dumps(services),
        "mcma_retry_base": "0.2",
        "mcma_retry_max": "0.5",
        "anonymous": "true",
        **more,
    }
    stack = contextlib.ExitStack()
    with stack:
        stack.enter_context(peer(ame.app(), ame_port))
        if orchestrator_up:
            stack.enter_context(peer(orchestrator.app(), orch_port))

        def orchestrator_starts() -> Any:
            return stack.enter_context(peer(orchestrator.app(), orch_port))

        server = stack.enter_context(
            job_server(tmp_path / "data", tmp_path / "files", port=port, **settings)
        )
        assert server == base
        yield Flow(
            base,
            orchestrator,
            f"http://127.0.0.1:{orch_port}",
            ame,
            f"http://127.0.0.1:{ame_port}",
            orchestrator_starts,
        )


def start_flow(base: str, orchestrator_port_url: str, input_url: str | None = None) -> str:
    """Messages 1 and 5 of the seed, verbatim but for host names; the job's IRI."""
    one = seed_message(1)
    if input_url is not None:
        one["hasRelatedResource"]["locator"] = input_url
    created = httpx.post(f"{base}mcma/Job", json=one, timeout=10)
    assert created.status_code == 201, created.text
    job = created.json()
    assert created.headers["location"] == job["id"]
    assert job["jobStatus"] == "NEW" and job["dateCreated"] == job["dateModified"]
    assert job["hasRelatedResource"] == one["hasRelatedResource"]
    five = seed_message(5)
    five["job"] = job["id"]
    five["asyncEndpoint"] = {
        "success": f"{orchestrator_port_url}/success",
        "failure": f"{orchestrator_port_url}/failure",
    }
    started = httpx.post(f"{base}mcma/StartJob", json=five, timeout=10)
    assert started.status_code == 201, started.text
    assert started.json()["type"] == "StartJob" and started.json()["job"] == job["id"]
    return str(job["id"])


def wait_until(check: Callable[[], bool], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def http_hops(base: str, job: str) -> list[tuple[str, str]]:
    """The job's HTTP hops as /trace/{id} orders them: (source label, method or status)."""
    job_id = job.rsplit("/", 1)[-1]
    traced = httpx.get(f"{base}trace/{job_id}", headers={"Accept": "application/json"}).json()
    order = [h["message"] for h in traced["hops"]]
    query = (
        f"SELECT ?m ?from ?what WHERE {{ ?m a <{JT}HTTPMessage> ; <{JT}loadedFrom> ?from "
        f"OPTIONAL {{ ?m <{HTTP}methodName> ?method }} OPTIONAL {{ ?m <{HTTP}statusCodeValue> ?s }}"
        f" BIND(COALESCE(?method, STR(?s)) AS ?what) }}"
    )
    rows = httpx.get(
        f"{base}sparql",
        params={"query": query},
        headers=SPARQL,
    ).json()["results"]["bindings"]
    label = {r["m"]["value"]: (r["from"]["value"], r["what"]["value"]) for r in rows}
    return [label[m] for m in order if m in label]


SEED_FLOW = [
    ("received: POST /mcma/Job", "POST"),  # 1
    ("internal: job processor → job repository", "POST"),  # 2
    ("internal: job repository → job processor", "201"),  # 3
    ("sent: the answer to POST /mcma/Job", "201"),  # 4
    ("received: POST /mcma/StartJob", "POST"),  # 5
    ("internal: job processor → job repository", "GET"),  # 6
    ("internal: job repository → job processor", "200"),  # 7
    ("internal: job processor → job repository", "POST"),  # 8
    ("internal: job repository → job processor", "201"),  # 9
    ("internal: job processor → job repository", "PUT"),  # 10
    ("internal: job repository → job processor", "200"),  # 11
    ("sent: the answer to POST /mcma/StartJob", "201"),  # 12
    ("sent: ProcessJob to {ame}/ProcessJob, attempt 1", "POST"),  # 13
    ("received: the answer to ProcessJob, attempt 1", "201"),  # 14
    ("internal: job processor → job repository", "PUT"),  # 15
    ("internal: job repository → job processor", "200"),  # 16
    ("received: PUT /jobs/{id}", "PUT"),  # 17
    ("internal: job processor → job repository", "PUT"),  # 18
    ("internal: job repository → job processor", "200"),  # 19
    ("sent: the answer to PUT /jobs/{id}", "200"),  # 20
    ("received: POST /mcma/StopJob", "POST"),  # 21
    ("internal: job processor → job repository", "POST"),  # 22
    ("internal: job repository → job processor", "201"),  # 23
    ("sent: the answer to POST /mcma/StopJob", "200"),  # 24
    ("sent: success to {orchestrator}/success, attempt 1", "POST"),  # 25
    ("received: the answer to success, attempt 1", "204"),  # the orchestrator's answer to 25
]


def expected_hops(f: Flow, job: str) -> list[tuple[str, str]]:
    ids = {"ame": f.ame_url, "id": job.rsplit("/", 1)[-1], "orchestrator": f.orchestrator_url}
    return [(label.format(**ids), what) for label, what in SEED_FLOW]


def test_the_seed_flow_runs_message_for_message(tmp_path: Path) -> None:
    with flow(tmp_path) as f:
        job = start_flow(f.base, f.orchestrator_url)
        wait_until(lambda: bool(f.orchestrator.calls))
        assert f.orchestrator.calls == [("/success", {"job": job})]
        assert f.ame.accepted == [job] and f.ame.answers == [200, 200]
        final = httpx.get(job, headers={"Accept": "application/json"}).json()
        assert final["jobStatus"] == "COMPLETED" and final["report"] == {"type": "Report"}
        assert final["startJob"].startswith(f"{f.base}mcma/StartJob/")
        assert http_hops(f.base, job) == expected_hops(f, job)


def test_a_failing_service_ends_in_the_failure_callback(tmp_path: Path) -> None:
    with flow(tmp_path, cause="FAILED") as f:
        job = start_flow(f.base, f.orchestrator_url)
        wait_until(lambda: bool(f.orchestrator.calls))
        assert f.orchestrator.calls == [("/failure", {"job": job})]
        final = httpx.get(job, headers={"Accept": "application/json"}).json()
        assert final["jobStatus"] == "FAILED"


def test_a_callback_to_an_orchestrator_that_is_down_is_retried_until_delivered(
    tmp_path: Path,
) -> None:
    with flow(tmp_path, orchestrator_up=False) as f:
        job = start_flow(f.base, f.orchestrator_url)
        labels = [label for label, _ in SEED_FLOW]
        failed = f"sent: success to {f.orchestrator_url}/success, attempt 2"
        wait_until(lambda: failed in [label for label, _ in http_hops(f.base, job)])
        assert f.orchestrator.calls == []
        f.orchestrator_starts()
        wait_until(lambda: bool(f.orchestrator.calls))
        assert f.orchestrator.calls == [("/success", {"job": job})]
        seen = [label for label, _ in http_hops(f.base, job)]
        # the seed's 24 steps, then attempts that got no answer, then the one that did
        assert seen[:24] == [label.format(**_ids(f, job)) for label in labels[:24]]
        attempts = [s for s in seen[24:] if s.startswith("sent: success")]
        assert len(attempts) >= 2 and seen[-1].startswith("received: the answer to success")


def test_jobtrail_restarted_between_startjob_and_stopjob_still_completes(
    tmp_path: Path,
) -> None:
    with flow(tmp_path) as f:
        f.ame.go.clear()  # the service holds its report and StopJob until told
        job = start_flow(f.base, f.orchestrator_url)
        wait_until(lambda: bool(f.ame.accepted))
        wait_until(
            lambda: (
                httpx.get(job, headers={"Accept": "application/json"}).json()["jobStatus"]
                == "RUNNING"
            )
        )
    # the flow's jobtrail stopped with the peers; start all three again on the same store
    port = int(f.base.rsplit(":", 1)[1].strip("/"))
    orchestrator = Orchestrator()
    services = json.dumps(
        [
            {
                "name": "ame",
                "url": f"{f.ame_url}/ProcessJob",
                "profiles": ["ExtractTechnicalMetadata"],
            }
        ]
    )
    ame_port = int(f.ame_url.rsplit(":", 1)[1])
    orch_port = int(f.orchestrator_url.rsplit(":", 1)[1])
    ame = AmeService(f.base)
    ame.accepted.append(job)
    with (
        peer(orchestrator.app(), orch_port),
        peer(ame.app(), ame_port),
        job_server(tmp_path / "data", tmp_path / "files", port=port, mcma_services=services),
    ):
        running = httpx.get(job, headers={"Accept": "application/json"}).json()
        assert running["jobStatus"] == "RUNNING"  # not requeued: the service still has it
        asyncio.run(ame._finish(job))
        wait_until(lambda: bool(orchestrator.calls))
        assert orchestrator.calls == [("/success", {"job": job})]
        assert ame.answers == [200, 200]


def test_a_final_put_without_stopjob_is_called_back_after_the_grace(tmp_path: Path) -> None:
    with flow(tmp_path, stop=False, mcma_stop_grace="1.5") as f:
        job = start_flow(f.base, f.orchestrator_url)
        wait_until(lambda: f.ame.answers == [200])
        put_seen = time.monotonic()
        time.sleep(0.7)
        assert f.orchestrator.calls == []  # still waiting for a StopJob that may come
        wait_until(lambda: bool(f.orchestrator.calls))
        assert time.monotonic() - put_seen > 1.0
        assert f.orchestrator.calls == [("/success", {"job": job})]
        final = httpx.get(job, headers={"Accept": "application/json"}).json()
        assert final["jobStatus"] == "COMPLETED"


def test_a_stopjob_within_the_grace_calls_back_at_once(tmp_path: Path) -> None:
    with flow(tmp_path, mcma_stop_grace="60") as f:
        job = start_flow(f.base, f.orchestrator_url)
        wait_until(lambda: bool(f.orchestrator.calls), seconds=10)  # not after 60 s
        assert f.orchestrator.calls == [("/success", {"job": job})]


def test_a_builtin_profile_is_the_local_service(tmp_path: Path, documents: Any) -> None:
    """No external service at all: the seed's job runs in jobtrail's own worker pool."""
    wav = documents.put("/mcma/tone.txt", b"a plain text input\n", "text/plain")
    with flow(tmp_path, mcma_services="[]") as f:
        job = start_flow(f.base, f.orchestrator_url, input_url=wav)
        wait_until(lambda: bool(f.orchestrator.calls))
        assert f.orchestrator.calls == [("/success", {"job": job})]
        assert f.ame.accepted == []
        final = httpx.get(job, headers={"Accept": "application/json"}).json()
        assert final["jobStatus"] == "COMPLETED"
        results = httpx.get(
            f"{job}/results", headers={"Accept": "text/turtle"}, follow_redirects=True
        )
        assert results.status_code == 200 and "tone.txt" in results.text
        seen = http_hops(f.base, job)
        assert [label for label, _ in seen[:12]] == [label for label, _ in SEED_FLOW[:12]]
        assert seen[-2][0].startswith("sent: success") and seen[-1][1] == "204"


def _ids(f: Flow, job: str) -> dict[str, str]:
    return {"ame": f.ame_url, "id": job.rsplit("/", 1)[-1], "orchestrator": f.orchestrator_url}


def test_an_unknown_key_is_kept_in_the_store(tmp_path: Path) -> None:
    with flow(tmp_path) as f:
        one = {**seed_message(1), "priorityNote": "rush"}
        created = httpx.post(f"{f.base}mcma/Job", json=one, timeout=10)
        assert created.status_code == 201
        assert created.json()["priorityNote"] == "rush"  # the job document keeps it
        job = created.json()["id"]
        query = f'ASK {{ GRAPH ?m {{ ?m <{JT}about> <{job}> . ?x <{JT}priorityNote> "rush" }} }}'
        answer = httpx.get(
            f"{f.base}sparql",
            params={"query": query},
            headers=SPARQL,
        ).json()
        assert answer["boolean"] is True  # the hop's graph has it as a term of our namespace


@pytest.mark.parametrize(
    "body, status, says",
    [
        ({"type": "AmeJob"}, 400, "jobProfile"),
        ({"type": "AmeJob", "jobProfile": {"label": "Juggling"}}, 400, "Juggling"),
        ({"type": "Nothing", "jobProfile": {"label": "Fixity"}}, 400, "type"),
        ([1, 2], 400, "JSON object"),
    ],
)
def test_bad_jobs_are_refused_naming_what_is_wrong(
    tmp_path: Path, body: Any, status: int, says: str
) -> None:
    with flow(tmp_path) as f:
        answer = httpx.post(f"{f.base}mcma/Job", json=body, timeout=10)
        assert answer.status_code == status and says in answer.text
