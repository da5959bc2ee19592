"""SPARQL on a server holding private jobs: the whole store for curators and the admin, the
public copy for everyone else (jobs/public.py), against a real server."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import (
    ADMIN_TOKEN,
    JOB_USERS,
    DocumentServer,
    free_port,
    job_server,
    jobtrail_server,
    oxigraph_binary,
)

JT = "https://w3id.org/jobtrail/vocab#"
MARKER = "alice-private-run-4711"
ALICE = ("alice", JOB_USERS["alice"])
CURATOR = ("carol", "curates")
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
EVERYTHING = "SELECT ?g ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } }"


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, documents: DocumentServer
) -> Iterator[tuple[str, str]]:
    """A server with users (carol a curator), and alice's private job with a marked run id;
    its IRI. The server started before the job existed, so its public copy follows the log."""
    root = tmp_path_factory.mktemp("visibility")
    users = ",".join(f"{k}:{v}" for k, v in {**JOB_USERS, "carol": "curates"}.items())
    with job_server(root / "data", root / "files", users=users, curators="carol") as base:
        url = documents.put("/input.txt", b"alice's input\n", "text/plain")
        job = httpx.post(
            f"{base}uws/Fixity",
            data={"INPUT": url, "RUNID": MARKER},
            auth=ALICE,
            follow_redirects=False,
        )
        assert job.status_code == 303, job.text
        yield base, job.headers["location"]


def ask(base: str, query: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(
        f"{base}sparql",
        params={"query": query, **kwargs.pop("params", {})},
        headers={"Accept": "application/sparql-results+json", **kwargs.pop("headers", {})},
        timeout=30,
        **kwargs,
    )


def copied(base: str, **kwargs: Any) -> str:
    """Everything a caller's SPARQL sees, once the public copy holds the messages loaded."""
    deadline = time.monotonic() + 30
    while True:
        answer = ask(base, EVERYTHING, **kwargs)
        if answer.status_code == 200 and f"{JT}TRE2022Message" in answer.text:
            return answer.text
        assert answer.status_code in (200, 503), answer.text  # 503: the copy is being built
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.2)


@pytest.mark.parametrize(
    "who",
    [{}, {"auth": ("bob", JOB_USERS["bob"])}, {"auth": ALICE}, {"params": {"pass": "rich-pass"}}],
    ids=["anonymous", "bob", "alice", "pass"],
)
def test_everyone_else_queries_the_public_copy(served: tuple[str, str], who: Any) -> None:
    base, _ = served
    seen = copied(base, **who)
    assert MARKER not in seen and '"alice"' not in seen
    assert "input.txt" not in seen  # the job's input, its change records, its hops


def test_curators_and_the_admin_query_the_whole_store(served: tuple[str, str]) -> None:
    base, job = served
    for kwargs in ({"auth": CURATOR}, {"headers": ADMIN}):
        answer = ask(base, EVERYTHING, **kwargs)
        assert answer.status_code == 200 and MARKER in answer.text, kwargs


def test_a_named_query_runs_over_the_public_copy_too(served: tuple[str, str]) -> None:
    base, _ = served
    copied(base)
    answer = httpx.get(
        f"{base}queries/producers", headers={"Accept": "application/sparql-results+json"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["results"]["bindings"], "the producers of the loaded messages"


def test_anonymous_jobs_records_reach_the_public_copy(served: tuple[str, str]) -> None:
    base, _ = served
    made = httpx.post(f"{base}uws/Fixity", data={"RUNID": "an-anonymous-run"})
    assert made.status_code == 303, made.text
    deadline = time.monotonic() + 30
    while "an-anonymous-run" not in ask(base, EVERYTHING).text:
        assert time.monotonic() < deadline, "the anonymous job's creation record is copied"
        time.sleep(0.2)


def test_no_public_copy_means_refused(tmp_path: Path) -> None:
    with job_server(tmp_path / "data", tmp_path / "files", public_copy="off") as base:
        assert ask(base, "ASK {}").status_code == 200  # nothing private yet: the store is open
        made = httpx.post(f"{base}uws/Fixity", data={"RUNID": "x"}, auth=ALICE)
        assert made.status_code == 303
        refused = ask(base, "ASK {}")
        assert refused.status_code == 401 and "curators" in refused.text
        assert ask(base, "ASK {}", auth=ALICE).status_code == 403
        assert ask(base, "ASK {}", headers=ADMIN).status_code == 200


def test_the_query_page_says_what_is_queried(served: tuple[str, str]) -> None:
    base, _ = served
    page = httpx.get(f"{base}sparql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "public copy" in page.text
    whole = httpx.get(f"{base}sparql", headers={"Accept": "text/html", **ADMIN})
    assert whole.status_code == 200 and "public copy" not in whole.text


def test_over_a_remote_store_each_server_keeps_its_own_public_copy(
    tmp_path: Path, documents: DocumentServer
) -> None:
    """The same rule over `oxigraph serve`: the policy asks the remote engine, and the public
    copy is kept in the server's files directory."""
    binary = oxigraph_binary()
    if binary is None:
        pytest.skip("no `oxigraph` server binary (pip install oxigraph)")
    port = free_port()
    engine = subprocess.Popen(
        [binary, "serve", "--location", str(tmp_path / "engine"), "--bind", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/query", params={"query": "ASK {}"}).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "oxigraph serve did not start"
            time.sleep(0.1)
        files = tmp_path / "files"
        env = {
            "JOBTRAIL_FILES": str(files),
            "JOBTRAIL_FETCH_ALLOW_PRIVATE": "true",
            "JOBTRAIL_USERS": ",".join(f"{k}:{v}" for k, v in JOB_USERS.items()),
            "JOBTRAIL_ADMIN_TOKEN": ADMIN_TOKEN,
        }
        with jobtrail_server(url, env=env) as base:
            made = httpx.post(
                f"{base}uws/Fixity",
                data={"INPUT": documents.put("/remote.txt", b"x\n"), "RUNID": MARKER},
                auth=ALICE,
            )
            assert made.status_code == 303, made.text
            seen = copied(base)
            assert MARKER not in seen and '"alice"' not in seen
            assert MARKER in ask(base, EVERYTHING, headers=ADMIN).text
            assert (files / "public-copy").is_dir()
    finally:
        engine.terminate()
        engine.wait(timeout=10)
