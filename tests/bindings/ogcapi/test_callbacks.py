"""`subscriber` callbacks against a real server: the in-progress, success and failure calls
reach a real receiver on loopback (the test server allows private addresses), through the
outbox (each a stored `jt:OutgoingCall` and a hop of the job); a server that does not allow
private addresses refuses to call one (the egress policy), and says so in the call."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.bindings.ogcapi.test_ogcapi import ASYNC, wait_status
from tests.conftest import job_server

SPARQL = {"Accept": "application/sparql-results+json"}
JT = "https://w3id.org/jobtrail/vocab#"


class Receiver:
    """A loopback HTTP server that keeps every POST it receives (path, JSON body)."""

    def __init__(self) -> None:
        received: list[tuple[str, Any]] = []
        self.received = received

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                size = int(self.headers.get("content-length") or 0)
                received.append((self.path, json.loads(self.rfile.read(size) or b"null")))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def wait(self, path: str, seconds: float = 20) -> Any:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for got, body in self.received:
                if got == path:
                    return body
            time.sleep(0.1)
        raise AssertionError(f"nothing came to {path}: {self.received}")


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.httpd.shutdown()


def test_the_subscriber_is_told_of_the_start_and_the_success(
    client: httpx.Client, inputs: dict[str, str], receiver: Receiver
) -> None:
    subscriber = {
        "successUri": f"{receiver.url}/ok",
        "failedUri": f"{receiver.url}/failed",
        "inProgressUri": f"{receiver.url}/running",
    }
    body = {"inputs": {"input": inputs["good"]}, "subscriber": subscriber}
    made = client.post("/ogcapi/processes/Fixity/execution", json=body, headers=ASYNC)
    assert made.status_code == 201, made.text
    job_id = made.json()["jobID"]
    assert wait_status(client, job_id)["status"] == "successful"
    results = receiver.wait("/ok")
    assert results["fixity.json"]["href"].endswith(f"/jobs/{job_id}/results/fixity.json")
    running = receiver.wait("/running")
    assert running["jobID"] == job_id and running["status"] == "running"
    assert not [p for p, _ in receiver.received if p == "/failed"]
    # each call is in the outbox, a hop of the job
    query = (
        f"SELECT ?c ?state WHERE {{ GRAPH ?c {{ ?c a <{JT}OutgoingCall> ; ?p ?job . "
        f"FILTER(CONTAINS(STR(?job), '{job_id}')) }} }}"
    )
    rows = client.get("/sparql", params={"query": query}, headers=SPARQL).json()
    assert len({b["c"]["value"] for b in rows["results"]["bindings"]}) == 2


def test_the_subscriber_is_told_of_a_failure(
    client: httpx.Client, inputs: dict[str, str], receiver: Receiver
) -> None:
    subscriber = {"successUri": f"{receiver.url}/ok2", "failedUri": f"{receiver.url}/failed2"}
    body = {"inputs": {"input": inputs["missing"]}, "subscriber": subscriber}
    made = client.post("/ogcapi/processes/Fixity/execution", json=body, headers=ASYNC)
    job_id = made.json()["jobID"]
    assert wait_status(client, job_id)["status"] == "failed"
    failure = receiver.wait("/failed2")
    assert failure["title"] == "InputUnavailable" and failure["jobID"] == job_id


def test_a_callback_to_a_private_address_is_refused_by_the_egress_policy(
    tmp_path_factory: pytest.TempPathFactory, receiver: Receiver
) -> None:
    """Where `fetch_allow_private` is off, a subscriber on loopback is never called: the
    outbox refuses the call at once (and the job, whose input is on loopback too, fails)."""
    root = tmp_path_factory.mktemp("ogc-egress")
    with (
        job_server(root / "data", root / "files", fetch_allow_private="false") as base,
        httpx.Client(base_url=base, timeout=30) as c,
    ):
        subscriber = {"failedUri": f"{receiver.url}/never"}
        body = {"inputs": {"input": f"{receiver.url}/input.txt"}, "subscriber": subscriber}
        made = c.post("/ogcapi/processes/Fixity/execution", json=body, headers=ASYNC)
        assert made.status_code == 201, made.text
        job_id = made.json()["jobID"]
        assert wait_status(c, job_id)["status"] == "failed"
        query = (
            f"SELECT ?state WHERE {{ GRAPH ?c {{ ?c a <{JT}OutgoingCall> ; <{JT}about> "
            f"<{base}jobs/{job_id}> ; <{JT}deliveryState> ?state }} }}"
        )
        deadline = time.monotonic() + 20
        while True:
            rows = c.get("/sparql", params={"query": query}, headers=SPARQL).json()
            states = [b["state"]["value"] for b in rows["results"]["bindings"]]
            if states and states != ["pending"]:
                break
            assert time.monotonic() < deadline, states
            time.sleep(0.2)
        assert states == ["refused"]
    assert not [p for p, _ in receiver.received if p == "/never"]
