"""`jobtrail serve` survives a query that makes pyoxigraph abort the process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import lxml.html
import pytest

from tests.conftest import EXAMPLES_DIR, free_port, jobtrail_server

# pyoxigraph 0.5.13 panics (and, built with panic=abort, kills the process) sorting these
CRASH = "SELECT ?c ?f WHERE { ?a ?b ?c . ?d ?e ?f } ORDER BY ?f ?c LIMIT 1"


def test_the_server_is_started_again_after_the_engine_aborts(tmp_path: Path) -> None:
    # With no query processes (query_workers 0) a client's query runs in the server, so an
    # engine abort takes the server down (tests/bindings/sparql/test_isolation.py: not so
    # with them); the supervisor starts it again.
    with jobtrail_server(tmp_path / "data", "--query-workers", "0") as base:
        # the connection dies with the process (tests/store/test_engine_panics.py says when
        # pyoxigraph stops aborting on this)
        with pytest.raises(httpx.HTTPError):
            httpx.get(base + "sparql", params={"query": CRASH}, timeout=30)
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.get(base + "sparql", params={"query": "ASK { ?s ?p ?o }"}, timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the server did not come back"
                time.sleep(0.1)
        assert answer.status_code == 200 and answer.json()["boolean"] is True


def test_several_workers_over_a_remote_store(oxigraph_server: str) -> None:
    """The HTTP tier keeps no state: two worker processes serve a real `oxigraph serve`."""
    from jobtrail.store import open_store

    with open_store(oxigraph_server) as remote:
        remote.update("DROP ALL")
    with jobtrail_server(oxigraph_server, "--workers", "2") as base:
        producer = httpx.get(base + "producers/TDR/consignment-export/INT", timeout=10)
        assert producer.status_code == 200 and "consignment-export" in producer.text
        count = "SELECT (COUNT(*) AS ?n) { ?m a <https://w3id.org/jobtrail/vocab#Message> }"
        answer = httpx.get(base + "sparql", params={"query": count}, timeout=10).json()
        assert answer["results"]["bindings"][0]["n"]["value"] == "31"


def _start(data: Path, port: int, **env: str) -> subprocess.Popen[str]:
    subprocess.run(
        [sys.executable, "-m", "jobtrail.cli", "load", str(EXAMPLES_DIR), "--store", str(data)]
        + ["--base-url", f"http://127.0.0.1:{port}/", "--silent"],
        check=True,
    )
    command = [sys.executable, "-m", "jobtrail.cli", "serve", "--store", str(data)]
    return subprocess.Popen(
        [*command, "--port", str(port)],
        env={**os.environ, **env},
        stderr=subprocess.PIPE,
        text=True,
    )


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _until(check: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def _healthy(base: str) -> bool:
    try:
        return httpx.get(base + "health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _lines(process: subprocess.Popen[str]) -> list[str]:
    """What the process writes to its standard error, line by line as it comes."""
    lines: list[str] = []

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)

    threading.Thread(target=read, daemon=True).start()
    return lines


def test_a_server_process_that_hangs_is_replaced(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    supervisor = _start(tmp_path / "data", port, JOBTRAIL_LIVENESS_TIMEOUT="2")
    said = _lines(supervisor)
    try:
        # the supervisor watches a process once it has seen it answer
        _until(lambda: any("answers" in line for line in said), 30, "the server did not start")
        (first,) = _children(supervisor.pid)
        os.kill(first, signal.SIGSTOP)  # a real process that no longer answers anything
        _until(lambda: not _healthy(base), 10, "a stopped process still answers")
        replaced = _until(
            lambda: [c for c in _children(supervisor.pid) if c != first], 30, "not replaced"
        )
        assert not Path(f"/proc/{first}").exists() or _zombie(first)
        _until(lambda: _healthy(base), 30, "the new process does not answer")
        assert _children(supervisor.pid) == replaced
        assert any("killing it" in line for line in said), said
    finally:
        supervisor.terminate()
        supervisor.wait(timeout=30)


def test_sigterm_stops_the_server_even_when_its_process_hangs(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    supervisor = _start(tmp_path / "data", port, JOBTRAIL_LIVENESS_TIMEOUT="0")  # no restarts
    try:
        _until(lambda: _healthy(base), 30, "the server did not start")
        (child,) = _children(supervisor.pid)
        os.kill(child, signal.SIGSTOP)  # it will never handle SIGTERM
        supervisor.terminate()
        assert supervisor.wait(timeout=30) == 0
        assert not Path(f"/proc/{child}").exists() or _zombie(child)
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait()


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def _gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists() or _zombie(pid)


def test_a_killed_supervisor_takes_its_server_process_with_it(tmp_path: Path) -> None:
    """An orphan would serve unsupervised and hold the store and the port for good."""
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    supervisor = _start(tmp_path / "data", port)
    said = _lines(supervisor)
    replacement: subprocess.Popen[str] | None = None
    child = 0
    try:
        _until(lambda: _healthy(base), 30, "the server did not start")
        (child,) = _children(supervisor.pid)
        os.kill(supervisor.pid, signal.SIGKILL)
        supervisor.wait(timeout=10)
        killed = time.monotonic()
        _until(lambda: _gone(child), 15, f"the server process outlived its supervisor: {said}")
        assert time.monotonic() - killed < 10
        command = [sys.executable, "-m", "jobtrail.cli", "serve", "--store", str(tmp_path / "data")]
        replacement = subprocess.Popen([*command, "--port", str(port)], stderr=subprocess.PIPE)
        _until(lambda: _healthy(base), 30, "a new server could not start on the same store")
    finally:
        for process in (supervisor, replacement):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=30)
        if child and not _gone(child):  # an orphan left by a failure here
            os.kill(child, signal.SIGKILL)


def test_a_server_process_killed_again_and_again_is_started_again_each_time(
    tmp_path: Path,
) -> None:
    """Not given up on: each death logged, the wait doubling from 1 s to restart_backoff."""
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    supervisor = _start(tmp_path / "data", port, JOBTRAIL_RESTART_BACKOFF="4")
    said = _lines(supervisor)
    try:
        for _ in range(6):  # it gave up after five quick deaths
            _until(lambda: _healthy(base), 30, f"the server did not (re)start: {said}")
            (child,) = _children(supervisor.pid)
            os.kill(child, signal.SIGKILL)
            _until(lambda c=child: _gone(c), 10, "the server process did not die")
        _until(lambda: _healthy(base), 30, f"the server did not start again: {said}")
        assert supervisor.poll() is None
        deaths = [line for line in said if "died of SIGKILL" in line]
        assert len(deaths) == 6, said
        waits = [line.rsplit("starting it again in ", 1)[1].strip() for line in deaths]
        assert waits == ["1 s", "2 s", "4 s", "4 s", "4 s", "4 s"], deaths
        assert "(6 times in the last minute)" in deaths[-1], deaths
    finally:
        supervisor.terminate()
        supervisor.wait(timeout=30)


def _jobtrail(*args: str) -> list[str]:
    return [sys.executable, "-m", "jobtrail.cli", *args]


_PLAIN = {k: v for k, v in os.environ.items() if not k.startswith("JOBTRAIL_")}


def test_serve_on_another_port_serves_the_base_the_store_was_minted_under(tmp_path: Path) -> None:
    """`serve --port N` over a store loaded under the default base: its messages dereference
    (they were all 404 when the server took http://127.0.0.1:N/ as its base), and it says why;
    "ready" comes once the port answers."""
    data = tmp_path / "data"
    load = _jobtrail("load", str(EXAMPLES_DIR), "--store", str(data), "--silent")
    subprocess.run(load, check=True, env=_PLAIN)
    message = subprocess.run(
        _jobtrail(
            "query", "--store", str(data), "--format", "csv", "SELECT ?m { ?m a jt:Message }"
        ),
        check=True,
        capture_output=True,
        text=True,
        env=_PLAIN,
    ).stdout.split()[1]
    assert message.startswith("http://127.0.0.1:8000/messages/")
    port = free_port()
    server = subprocess.Popen(
        _jobtrail("serve", "--store", str(data), "--port", str(port)),
        stderr=subprocess.PIPE,
        text=True,
        env=_PLAIN,
    )
    said = _lines(server)
    try:
        ready = _until(
            lambda: next((line for line in said if "ready" in line), None), 60, f"no ready: {said}"
        )
        assert f"jobtrail ready: open http://127.0.0.1:{port}/" in ready
        path = message.removeprefix("http://127.0.0.1:8000/")
        answer = httpx.get(f"http://127.0.0.1:{port}/{path}", timeout=10)  # at once: it is ready
        assert answer.status_code == 200, answer.text
        text = "".join(said)
        assert "under http://127.0.0.1:8000/: the base URL its IRIs were minted under" in text
        assert f"it answers at http://127.0.0.1:{port}/; its pages link to each other" in text
        # the HTML pages link by path, so they browse at this port; the IRIs stay whole
        page = httpx.get(f"http://127.0.0.1:{port}/messages", headers={"Accept": "text/html"})
        hrefs = lxml.html.fromstring(page.text).xpath("//a/@href | //form/@action")
        assert f"/{path}" in hrefs, hrefs[:20]
        assert not [h for h in hrefs if h.startswith("http://127.0.0.1:8000/")]
        shown = httpx.get(f"http://127.0.0.1:{port}/{path}", headers={"Accept": "text/html"})
        assert message in shown.text  # its page shows its IRI whole
        assert text.index("serving the store") < text.index("ready")
    finally:
        server.terminate()
        server.wait(timeout=30)
    # another base given for it: refused before anything starts, naming the fix
    refused = subprocess.run(
        _jobtrail("serve", "--store", str(data), "--port", str(port))
        + ["--base-url", f"http://127.0.0.1:{port}/"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_PLAIN,
    )
    assert refused.returncode == 2
    assert "holds IRIs minted under http://127.0.0.1:8000/" in refused.stderr
    assert "leave out --base-url" in refused.stderr and "ready" not in refused.stderr


def test_no_ready_from_a_server_that_cannot_listen(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            _jobtrail("serve", "--store", str(tmp_path / "data"), "--port", str(port)),
            capture_output=True,
            text=True,
            timeout=120,
            env=_PLAIN,
        )
    assert done.returncode != 0
    assert "address already in use" in done.stderr
    assert "jobtrail ready" not in done.stderr, done.stderr


def test_a_404_under_another_base_than_the_stores_names_the_stores(oxigraph_server: str) -> None:
    """Someone empties a shared remote store and loads it again under another base while a
    server runs over it: the server's 404 says which base the store's IRIs are under now."""
    from jobtrail.store import open_store

    with open_store(oxigraph_server) as remote:
        remote.update("DROP ALL")
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    keys = Path(tempfile.mkdtemp())
    env = {
        **_PLAIN,
        "JOBTRAIL_KEY_FILE": str(keys / "key"),
        "JOBTRAIL_LOG_KEY_FILE": str(keys / "log-key"),
    }
    server = subprocess.Popen(
        _jobtrail("serve", "--store", oxigraph_server, "--port", str(port)),
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    said = _lines(server)
    try:
        _until(lambda: any("ready" in line for line in said), 60, f"no ready: {said}")
        with open_store(oxigraph_server) as remote:
            remote.update("DROP ALL")
        other = "http://archive.example/jt/"
        load = _jobtrail("load", str(EXAMPLES_DIR), "--store", oxigraph_server, "--silent")
        subprocess.run([*load, "--base-url", other], check=True, env=_PLAIN)
        answer = httpx.get(base + "producers/TDR/consignment-export/INT", timeout=10)
        assert answer.status_code == 404
        assert f"this server's base URL is {base}" in answer.text
        assert f"the store holds IRIs minted under {other}" in answer.text
        assert f"--base-url {other}" in answer.text
    finally:
        server.terminate()
        server.wait(timeout=30)
