"""Issue 17, outgoing connections: one egress policy, MCMA service tokens, money.

Against real `jobtrail serve` processes and real peers, all on loopback. Private
and public addresses are only ever refused: an IP literal such as 10.0.0.1 is
refused by the policy before any connection is made, and no test waits for an
answer from one.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from jobtrail.jobs.accounts import load_key, pass_digest
from jobtrail.jobs.outbox import call_id
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.bindings.mcma.test_fims import Orchestrator, peer, seed_message, wait_until
from tests.conftest import ADMIN_TOKEN, DocumentServer, free_port, job_server

JT = "https://w3id.org/jobtrail/vocab#"
HTTP = "http://www.w3.org/2011/http#"
DATA = b"an input for the egress tests\n"
ALICE = ("alice", "wonderland")
TOKEN, OTHER_TOKEN = "transcoder-secret", "other-secret"
BIG = 10 * 1024 * 1024
FINAL = {"Completed", "Failed", "Canceled"}
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def sparql(base: str, query: str) -> list[dict[str, Any]]:
    answer = httpx.get(
        f"{base}sparql",
        params={"query": query},  # as an auditor: the admin sees the whole store
        headers={"Accept": "application/sparql-results+json", **ADMIN},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    rows: list[dict[str, Any]] = answer.json()["results"]["bindings"]
    return rows


def get(url: str, **kwargs: Any) -> dict[str, Any]:
    answer = httpx.get(url, headers={"Accept": "application/json"}, timeout=10, **kwargs)
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()
    return data


def fixity(base: str, url: str, **more: Any) -> dict[str, Any]:
    return {
        "@type": "QAJob",
        "jobProfileId": f"{base}mcma/job-profiles/Fixity",
        "jobInput": {
            "inputFile": {"@type": "Locator", "url": url},
            "algorithm": "sha256",
            "expected": hashlib.sha256(DATA).hexdigest(),
        },
        **more,
    }


def job_count(base: str) -> int:
    rows = sparql(base, f"SELECT (COUNT(?j) AS ?n) WHERE {{ GRAPH ?j {{ ?j a <{JT}Job> }} }}")
    return int(rows[0]["n"]["value"])


def calls_about(base: str, job: str) -> int:
    query = f"SELECT ?c WHERE {{ GRAPH ?c {{ ?c a <{JT}OutgoingCall> ; <{JT}about> <{job}> }} }}"
    return len(sparql(base, query))


# --- a server that refuses private addresses for what clients give -------------------------


@dataclass
class Strict:
    base: str
    input_url: str


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Strict]:
    """fetch_allow_private off, anonymous jobs off; a (never called) service for the seed."""
    root = tmp_path_factory.mktemp("egress-strict")
    services = [
        {
            "name": "ame",
            "url": f"http://127.0.0.1:{free_port()}/ProcessJob",  # admin-configured: allowed
            "profiles": ["ExtractTechnicalMetadata"],
        }
    ]
    documents = DocumentServer()
    with job_server(
        root / "data",
        root / "files",
        fetch_allow_private="false",
        anonymous="false",
        mcma_services=json.dumps(services),
    ) as base:
        yield Strict(base, documents.put("/strict/input.txt", DATA, "text/plain"))
    documents.close()


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://10.0.0.1/notify",
        "http://192.168.1.1:8080/n",
        "http://127.0.0.1:9/n",
        "http://[::1]/n",
    ],
)
def test_a_private_notification_endpoint_is_refused_at_creation(
    strict: Strict, endpoint: str
) -> None:
    before = job_count(strict.base)
    job = fixity(strict.base, strict.input_url, notificationEndpoint={"httpEndpoint": endpoint})
    answer = httpx.post(f"{strict.base}mcma/jobs", json=job, auth=ALICE, timeout=10)
    assert answer.status_code == 400, answer.text
    problem = answer.json()
    assert "notificationEndpoint refused" in problem["detail"]
    assert "is not a public address" in problem["detail"]
    assert "fetch_allow_private" in problem["detail"]
    assert job_count(strict.base) == before  # nothing stored


def test_a_name_resolving_to_loopback_is_refused_at_creation(strict: Strict) -> None:
    endpoint = "http://localhost:9/notify"  # resolved locally, to a loopback address
    job = fixity(strict.base, strict.input_url, notificationEndpoint={"httpEndpoint": endpoint})
    answer = httpx.post(f"{strict.base}mcma/jobs", json=job, auth=ALICE, timeout=10)
    assert answer.status_code == 400, answer.text
    assert "localhost resolves to" in answer.json()["detail"]


def test_a_private_async_endpoint_is_refused_at_start(strict: Strict) -> None:
    created = httpx.post(f"{strict.base}mcma/Job", json=seed_message(1), auth=ALICE, timeout=10)
    assert created.status_code == 201, created.text
    job = created.json()["id"]
    hops_before = sparql(
        strict.base,
        f"SELECT ?m WHERE {{ GRAPH ?m {{ ?m <{JT}about> <{job}> }} }}",
    )
    start = seed_message(5)
    start["job"] = job
    start["asyncEndpoint"] = {"success": "http://10.0.0.1/ok", "failure": "http://10.0.0.1/no"}
    answer = httpx.post(f"{strict.base}mcma/StartJob", json=start, auth=ALICE, timeout=10)
    assert answer.status_code == 400, answer.text
    assert "asyncEndpoint refused" in answer.json()["detail"]
    assert "10.0.0.1 is not a public address (private)" in answer.json()["detail"]
    assert get(job, auth=ALICE)["jobStatus"] == "NEW"  # not started
    hops_after = sparql(
        strict.base,
        f"SELECT ?m WHERE {{ GRAPH ?m {{ ?m <{JT}about> <{job}> }} }}",
    )
    assert len(hops_after) == len(hops_before)  # nothing stored: no hop, no call
    assert calls_about(strict.base, job) == 0


def test_mcma_requires_credentials_where_anonymous_jobs_are_off(strict: Strict) -> None:
    today = httpx.post(f"{strict.base}mcma/jobs", json=fixity(strict.base, strict.input_url))
    assert today.status_code == 401, today.text
    assert "anonymous jobs are not allowed" in today.json()["detail"]
    fims = httpx.post(f"{strict.base}mcma/Job", json=seed_message(1), timeout=10)
    assert fims.status_code == 401, fims.text


# --- a server on loopback (private allowed), with tokened services and small retries -------


class BigAnswer:
    """Answers every POST with 200 and 10 MB; counts the calls."""

    def __init__(self) -> None:
        self.calls = 0

    def app(self) -> Starlette:
        async def answer(request: Request) -> Response:
            await request.body()
            self.calls += 1
            return Response(b'{"x": "' + b"x" * BIG + b'"}', 200, media_type="application/json")

        return Starlette(routes=[Route("/{what}", answer, methods=["POST"])])


class Failing:
    def __init__(self) -> None:
        self.calls = 0

    def app(self) -> Starlette:
        async def answer(request: Request) -> Response:
            self.calls += 1
            return Response(b"down", 503)

        return Starlette(routes=[Route("/{what}", answer, methods=["POST"])])


class Growing:
    """An input whose HEAD says 30 bytes and whose GET sends 3 MB, chunked (no length)."""

    def __init__(self) -> None:
        self.sent = 0
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(DATA)))
                self.end_headers()

            def do_GET(self) -> None:  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b"y" * 65536
                try:
                    for _ in range(48):  # 3 MB, more than the 2 MB fetch limit too
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        owner.sent += len(chunk)
                    self.wfile.write(b"0\r\n\r\n")
                except OSError:
                    pass  # the reader stopped

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/growing.txt"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclass
class Loopback:
    base: str
    input_url: str
    big: BigAnswer
    big_url: str
    failing: Failing
    failing_url: str
    service: Orchestrator
    growing: Growing
    key_file: Path  # the server's key: passes are named by a keyed hash under it


@pytest.fixture(scope="module")
def loopback(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loopback]:
    root = tmp_path_factory.mktemp("egress-loopback")
    big, failing, service = BigAnswer(), Failing(), Orchestrator()
    big_port, failing_port, service_port = free_port(), free_port(), free_port()
    services = [
        {
            "name": "transcoder",
            "url": f"http://127.0.0.1:{service_port}/ProcessJob",
            "profiles": ["Transcode"],
            "token": TOKEN,
            "inputParameters": ["inputFile"],
        },
        {
            "name": "other",
            "url": f"http://127.0.0.1:{service_port}/Other",
            "profiles": ["Other"],
            "token": OTHER_TOKEN,
            "inputParameters": ["inputFile"],
        },
    ]
    documents, growing = DocumentServer(), Growing()
    with (
        peer(big.app(), big_port),
        peer(failing.app(), failing_port),
        peer(service.app(), service_port),
        job_server(
            root / "data",
            root / "files",
            mcma_services=json.dumps(services),
            mcma_retry_base="0.1",
            mcma_retry_max="0.2",
            mcma_give_up_after="1.5",
        ) as base,
    ):
        yield Loopback(
            base,
            documents.put("/loopback/input.txt", DATA, "text/plain"),
            big,
            f"http://127.0.0.1:{big_port}/notify",
            failing,
            f"http://127.0.0.1:{failing_port}/notify",
            service,
            growing,
            root / "data.key",
        )
    documents.close()
    growing.close()


def outbox_call(base: str, job: str, purpose: str) -> dict[str, str]:
    iri = f"{base}outbox/{call_id(job.rsplit('/', 1)[-1], purpose)}"
    rows = sparql(base, f"SELECT ?p ?o WHERE {{ GRAPH <{iri}> {{ <{iri}> ?p ?o }} }}")
    return {r["p"]["value"].rsplit("#", 1)[-1]: r["o"]["value"] for r in rows}


def settled(base: str, job: str, purpose: str) -> dict[str, str]:
    found: dict[str, str] = {}

    def done() -> bool:
        found.update(outbox_call(base, job, purpose))
        return found.get("deliveryState") not in (None, "pending")

    wait_until(done, 30)
    return found


def notifications_settled(base: str, job: str) -> list[dict[str, str]]:
    """Every notification of a today's-model MCMA job (one per status change, to its final
    status), once none is pending; `job` is its canonical IRI."""
    found: list[dict[str, str]] = []

    def done() -> bool:
        if get(job)["status"] not in FINAL:
            return False
        rows = sparql(
            base,
            f"SELECT ?c ?p ?o WHERE {{ GRAPH ?c {{ ?c <{JT}about> <{job}> ; "
            f"<{JT}callPurpose> ?purpose ; ?p ?o "
            f'FILTER(STRSTARTS(?purpose, "notification")) }} }}',
        )
        calls: dict[str, dict[str, str]] = {}
        for r in rows:
            calls.setdefault(r["c"]["value"], {})[r["p"]["value"].rsplit("#", 1)[-1]] = r["o"][
                "value"
            ]
        found[:] = list(calls.values())
        return bool(found) and all(c.get("deliveryState") != "pending" for c in found)

    wait_until(done, 30)
    return found


def test_a_huge_answer_is_read_only_up_to_the_cap_and_summarised(loopback: Loopback) -> None:
    endpoint = {"httpEndpoint": loopback.big_url}
    job = fixity(loopback.base, loopback.input_url, notificationEndpoint=endpoint)
    created = httpx.post(f"{loopback.base}mcma/jobs", json=job, timeout=10)
    assert created.status_code == 201, created.text
    iri = created.json()["canonicalJob"]
    calls = notifications_settled(loopback.base, iri)
    for call in calls:  # one per status change
        assert call["deliveryState"] == "delivered"
        assert call["lastAnswerSize"] == str(BIG + 9)  # from Content-Length: never read whole
        assert len(call["lastAnswer"]) <= 4096
    assert loopback.big.calls == len(calls)
    # every literal stored about the job (its hops) and in the call is small
    longest = sparql(
        loopback.base,
        f"SELECT (MAX(STRLEN(STR(?o))) AS ?n) WHERE {{ "
        f"{{ GRAPH ?g {{ ?g <{JT}about> <{iri}> . ?s ?p ?o }} }} }}",
    )
    assert int(longest[0]["n"]["value"]) < 70_000
    # the answer's hop says how big it was
    said = sparql(
        loopback.base,
        f"SELECT ?v WHERE {{ GRAPH ?m {{ ?m <{JT}about> <{iri}> ; <{HTTP}headers> ?h . "
        f"?h <{HTTP}fieldName> 'X-Jobtrail-Answer-Size' ; <{HTTP}fieldValue> ?v }} }}",
    )
    assert {r["v"]["value"] for r in said} == {str(BIG + 9)}


def test_a_receiver_that_always_fails_is_given_up(loopback: Loopback) -> None:
    endpoint = {"httpEndpoint": loopback.failing_url}
    job = fixity(loopback.base, loopback.input_url, notificationEndpoint=endpoint)
    created = httpx.post(f"{loopback.base}mcma/jobs", json=job, timeout=10)
    assert created.status_code == 201, created.text
    iri = created.json()["canonicalJob"]
    for call in notifications_settled(loopback.base, iri):
        assert call["deliveryState"] == "abandoned"
        assert call["lastProblem"].startswith("gave up after")
        assert 2 <= int(call["attempts"]) <= 20
    sources = sparql(
        loopback.base,
        f"SELECT ?s WHERE {{ GRAPH ?m {{ ?m <{JT}about> <{iri}> ; <{JT}loadedFrom> ?s }} }}",
    )
    said = [r["s"]["value"] for r in sources]
    assert any(s.startswith("gave up: notification #") for s in said), said
    calls = loopback.failing.calls
    time.sleep(1.0)
    assert loopback.failing.calls == calls  # no more attempts once given up


def transcode(base: str, input_url: str, profile: str = "Transcode") -> dict[str, Any]:
    return {
        "@type": "TransformJob",
        "jobProfileId": f"{base}mcma/job-profiles/{profile}",
        "jobInput": {"inputFile": {"@type": "Locator", "url": input_url}},
    }


def test_a_service_token_authorises_exactly_its_own_jobs(loopback: Loopback) -> None:
    created = httpx.post(
        f"{loopback.base}mcma/jobs", json=transcode(loopback.base, loopback.input_url), timeout=10
    )
    assert created.status_code == 201, created.text
    iri = created.json()["id"]
    forged = {"status": "Completed", "jobOutput": {"outputFile": "http://forged.example/x"}}
    anonymous = httpx.put(iri, json=forged, timeout=10)
    assert anonymous.status_code == 403, anonymous.text
    assert "transcoder" in anonymous.json()["detail"] and "token" in anonymous.json()["detail"]
    other = httpx.put(
        iri, json=forged, headers={"Authorization": f"Bearer {OTHER_TOKEN}"}, timeout=10
    )
    assert other.status_code == 403, other.text
    basic = httpx.put(iri, json=forged, auth=ALICE, timeout=10)
    assert basic.status_code == 403, basic.text
    assert get(iri)["status"] not in FINAL
    report = {"status": "Completed", "jobOutput": {"outputFile": "http://h/out.mp4"}}
    own = httpx.put(iri, json=report, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert own.status_code == 200, own.text
    done = get(iri)
    assert done["status"] == "Completed"
    assert done["jobOutput"]["outputFile"] == "http://h/out.mp4"


def test_a_priced_download_stops_at_the_size_paid_for(loopback: Loopback) -> None:
    key = load_key(loopback.key_file)
    pass_iri = f"{loopback.base}passes/{pass_digest('rich-pass', key)}"

    def credit() -> float:
        rows = sparql(
            loopback.base,
            f"SELECT ?c WHERE {{ GRAPH <{pass_iri}> {{ <{pass_iri}> <{JT}credit> ?c }} }}",
        )
        return float(rows[0]["c"]["value"]) if rows else 1000.0

    before = credit()
    created = httpx.post(
        f"{loopback.base}mcma/jobs",
        params={"pass": "rich-pass"},
        json=fixity(loopback.base, loopback.growing.url),
        timeout=10,
    )
    assert created.status_code == 201, created.text
    iri = created.json()["canonicalJob"]
    wait_until(lambda: get(iri, params={"pass": "rich-pass"})["status"] in FINAL, 30)
    done = get(iri, params={"pass": "rich-pass"})
    assert done["status"] == "Failed"
    detail = done["error"]["detail"]
    assert "larger than paid for" in detail and f"{len(DATA)} bytes were paid for" in detail
    assert credit() == before - 2.0  # 1 per job + 1 per started MB: what was priced, no more
    paid = sparql(
        loopback.base, f"SELECT ?b WHERE {{ GRAPH <{iri}> {{ <{iri}> <{JT}paidBytes> ?b }} }}"
    )
    assert [r["b"]["value"] for r in paid] == [str(len(DATA))]
