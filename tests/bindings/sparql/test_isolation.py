"""Clients' queries run in query processes: what they do to them never reaches the server.

Against a real `jobtrail serve` on an embedded store: a query that aborts the engine, one
past its time limit, one past its memory or result limit; each is answered with what
happened, a new process takes the place of the one lost, and everything else goes on.
And freshness: a query sees every write acknowledged before it was sent.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, EXAMPLES_DIR, PRODUCER, PRODUCERS, free_port, wait_for

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
JSON = {"Accept": "application/sparql-results+json"}
TIMES = "urn:x:times"
CRASH = f"SELECT ?o WHERE {{ GRAPH <{TIMES}> {{ ?s ?p ?o }} }} ORDER BY ?o"
"""Aborts pyoxigraph 0.5.13 (tests/store/engine_sort_panic.py) on the data `times()` adds."""
ISSUE_CRASH = "SELECT ?c ?f WHERE { ?a ?b ?c . ?d ?e ?f } ORDER BY ?f ?c LIMIT 1"
SLOW = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
HUGE = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f }"
HUNGRY = (  # ORDER BY holds every row of a cross product before it sorts (strings: no panic)
    "SELECT ?c ?f ?i WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } ORDER BY STR(?f) STR(?c) LIMIT 1"
)
TIMEOUT = 8.0


class Server:
    def __init__(self, base: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.base, self.process, self.log = base, process, log

    def tree(self) -> list[int]:
        """The server's processes: the supervisor, the server, its query processes."""
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
                children.setdefault(ppid, []).append(int(entry))
        found, todo = [], [self.process.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo += children.get(pid, [])
        return found

    def cpu(self) -> float:
        """CPU seconds the server's living processes have used so far."""
        total = 0
        for pid in self.tree():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime
            except (OSError, ValueError, IndexError):
                continue
        return total / os.sysconf("SC_CLK_TCK")

    def server_pid(self) -> int:
        """The serving process (the supervisor's child)."""
        (child,) = [p for p in self.tree() if _parent(p) == self.process.pid]
        return child


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("isolation")
    data, log = folder / "data", folder / "server.log"
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    jobtrail = [sys.executable, "-m", "jobtrail.cli"]
    load = [*jobtrail, "load", str(EXAMPLES_DIR), "--store", str(data), "--base-url", base]
    subprocess.run([*load, "--silent"], check=True)
    options = [
        *("--query-timeout", str(TIMEOUT), "--query-workers", "2"),
        *("--query-memory", "300", "--query-result-limit", "1"),
    ]
    serve = [*jobtrail, "serve", "--store", str(data), "--port", str(port), *options]
    env = {**os.environ, "JOBTRAIL_PRODUCERS": PRODUCERS, "JOBTRAIL_ADMIN_TOKEN": ADMIN_TOKEN}
    with open(log, "wb") as errors:
        process = subprocess.Popen(serve, stderr=errors, env=env)
    try:
        wait_for(process, base, "jobtrail serve", log.read_text, seconds=60)
        times(base)
        yield Server(base, process, log)
    finally:
        process.terminate()
        process.wait(timeout=20)


def times(base: str) -> None:
    """100 dateTimes, with and without a timezone: the data CRASH sorts."""
    stamps = " ".join(
        f'<urn:x:t{i}> <urn:x:at> "2020-01-01T{(i * 7) % 24:02d}:{(i * 13) % 60:02d}:00'
        f'{("Z", "", "+05:00")[i % 3]}"^^<http://www.w3.org/2001/XMLSchema#dateTime> .'
        for i in range(100)
    )
    update = f"INSERT DATA {{ GRAPH <{TIMES}> {{ {stamps} }} }}"
    answer = httpx.post(
        f"{base}update",
        content=update,
        headers={"Content-Type": "application/sparql-update", **ADMIN},
        timeout=30,
    )
    assert answer.status_code == 204, answer.text


def query(base: str, text: str, *, admin: bool = True, timeout: float = 60) -> httpx.Response:
    headers = {**JSON, **(ADMIN if admin else {})}
    return httpx.get(f"{base}sparql", params={"query": text}, headers=headers, timeout=timeout)


def test_the_crashing_query_is_a_500_and_every_other_request_goes_on(server: Server) -> None:
    base = server.base
    messages = query(base, "SELECT ?m WHERE { GRAPH ?m { ?m a ?t } } LIMIT 5").json()
    iris = [row["m"]["value"] for row in messages["results"]["bindings"]]
    assert iris
    serving = server.server_pid()
    stop = threading.Event()
    failures: list[str] = []
    done = [0]

    def client(n: int) -> None:
        with httpx.Client(timeout=60) as http:
            while not stop.is_set():
                try:
                    iri = iris[n % len(iris)]
                    page = http.get(iri, headers={"Accept": "text/turtle"})
                    if page.status_code != 200 or iri not in page.text:
                        failures.append(f"GET {iri}: {page.status_code}")
                    answer = http.get(
                        f"{base}sparql",
                        params={"query": f"ASK {{ GRAPH <{iri}> {{ ?s ?p ?o }} }}"},
                        headers={**JSON, **ADMIN},
                    )
                    if answer.status_code != 200 or answer.json()["boolean"] is not True:
                        failures.append(f"ASK {iri}: {answer.status_code} {answer.text[:200]}")
                    done[0] += 1
                except httpx.HTTPError as e:
                    failures.append(f"{type(e).__name__}: {e}")

    job = httpx.post(  # a UWS job left PENDING, and a WAIT on it across the crashes
        f"{base}uws/Fixity",
        data={"URL": "http://example.org/input.txt", "expected": "0" * 64},
    )
    assert job.status_code == 303, job.text
    waited: dict[str, Any] = {}

    def wait() -> None:
        answer = httpx.get(job.headers["location"], params={"WAIT": "10"}, timeout=60)
        waited["status"], waited["body"] = answer.status_code, answer.text

    clients = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    clients.append(threading.Thread(target=wait))
    for thread in clients:
        thread.start()
    try:
        crashes = [query(base, CRASH) for _ in range(20)]
        issue = [query(base, ISSUE_CRASH) for _ in range(3)]
    finally:
        stop.set()
        for thread in clients:
            thread.join()
    assert not failures, failures[:5]
    assert waited["status"] == 200 and "PENDING" in waited["body"], waited
    assert done[0] >= 8
    for answer in crashes:
        assert answer.status_code == 500, answer.text
        assert "query engine stopped" in answer.text
        assert "total order" in answer.text  # the engine's own words
        assert "nothing else was affected" in answer.text
    for answer in issue:  # a crash, or the memory limit first: never the server
        assert answer.status_code in (200, 500, 507), answer.text
    assert server.server_pid() == serving, "the server process was replaced"
    assert query(base, "ASK {}").status_code == 200
    assert "query process" in server.log.read_text() and "SIGABRT" in server.log.read_text()


def test_a_query_past_its_time_limit_is_stopped_and_burns_nothing_after(server: Server) -> None:
    started = time.monotonic()
    answer = query(server.base, SLOW)
    waited = time.monotonic() - started
    assert answer.status_code == 503, answer.text
    assert "query_timeout" in answer.text and f"{TIMEOUT:g} seconds" in answer.text
    assert waited < TIMEOUT + 10
    time.sleep(1.0)
    before = server.cpu()
    time.sleep(1.0)
    burnt = server.cpu() - before
    assert burnt < 0.3, f"{burnt:.2f} CPU seconds burnt in the second after the 503"
    assert query(server.base, "ASK {}").status_code == 200


def test_a_result_past_the_limit_is_a_507(server: Server) -> None:
    answer = query(server.base, HUGE)
    assert answer.status_code == 507, answer.text
    assert "1 MiB" in answer.text and "query_result_limit" in answer.text
    small = query(server.base, "SELECT * WHERE { ?a ?b ?c } LIMIT 3")
    assert small.status_code == 200 and len(small.json()["results"]["bindings"]) == 3


def test_a_query_past_the_memory_limit_is_a_507(server: Server) -> None:
    answer = query(server.base, HUNGRY)
    assert answer.status_code == 507, answer.text
    assert "300 MiB" in answer.text and "query_memory" in answer.text
    assert query(server.base, "ASK {}").status_code == 200


def test_a_query_sees_every_write_acknowledged_before_it(server: Server) -> None:
    base = server.base
    with httpx.Client(base_url=base, timeout=30) as http:
        for n in range(10):
            body = f'<urn:x:fresh-{n}-{time.time_ns()}> <urn:x:label> "fresh {n}" .\n'
            posted = http.post(
                "/messages", content=body, headers={"Content-Type": "text/turtle", **PRODUCER}
            )
            assert posted.status_code == 201, posted.text
            iri = posted.headers["Location"]
            ask = f"ASK {{ GRAPH <{iri}> {{ ?s ?p ?o }} }}"
            for admin in (True, False):  # the whole store, and the public copy
                seen = query(base, ask, admin=admin)
                assert seen.status_code == 200, seen.text
                assert seen.json()["boolean"] is True, (n, admin)
            job = http.post(
                "/jobs",
                content="http://example.org/nothing.docx",
                headers={"Content-Type": "text/plain"},
            )
            assert job.status_code == 201, job.text
            state = job.text.strip()
            ask = f"ASK {{ GRAPH <{state}> {{ ?s ?p ?o }} }}"
            seen = query(base, ask)
            assert seen.json()["boolean"] is True, n


def test_named_queries_answer_from_the_query_processes(server: Server) -> None:
    answer = httpx.get(f"{server.base}queries", headers={"Accept": "application/json"})
    for named in answer.json()["queries"]:
        params = {p["name"]: p["example"] for p in named["parameters"] if "example" in p}
        for accept in ("application/sparql-results+json", "text/html", "text/csv"):
            run = httpx.get(
                named["url"], params=params, headers={"Accept": accept, **ADMIN}, timeout=60
            )
            assert run.status_code == 200, (named["name"], accept, run.text[:500])
            assert run.headers["content-type"].startswith(accept)
