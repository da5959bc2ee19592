"""Shared pytest fixtures. Each area keeps its fixtures in its own section."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from jobtrail.store.base import Store
from jobtrail.store.oxigraph import OxigraphStore
from jobtrail.store.remote import RemoteStore

# =============================================================================
# Store fixtures (tests/store): a real Oxigraph server and the three backends
# =============================================================================


def oxigraph_binary() -> str | None:
    """The `oxigraph` server binary of this venv (the `oxigraph` test extra), else on PATH."""
    local = Path(sys.executable).parent / "oxigraph"
    return str(local) if local.exists() else shutil.which("oxigraph")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def oxigraph_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of an `oxigraph serve` process shared by the whole session."""
    binary = oxigraph_binary()
    if binary is None:
        pytest.skip("no `oxigraph` server binary (pip install oxigraph)")
    workdir = tmp_path_factory.mktemp("oxigraph-server")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(workdir / "server.log", "wb") as log:
        process = subprocess.Popen(
            [binary, "serve", "--location", str(workdir / "data"), "--bind", f"127.0.0.1:{port}"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 15
        while True:
            if process.poll() is not None:
                log_text = (workdir / "server.log").read_text(errors="replace")
                pytest.fail(f"oxigraph server exited with {process.returncode}:\n{log_text}")
            try:
                httpx.get(f"{url}/query", params={"query": "ASK {}"}, timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    pytest.fail(f"oxigraph server did not answer at {url}")
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def unused_port() -> int:
    """A local TCP port nobody listens on (for an unreachable endpoint)."""
    return free_port()


@pytest.fixture(params=["disk", "memory", "remote"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty store of each backend; the remote one is the session server, emptied."""
    backend: Store
    if request.param == "disk":
        backend = OxigraphStore(tmp_path / "data")
    elif request.param == "memory":
        backend = OxigraphStore(None)
    else:
        backend = RemoteStore.from_url(request.getfixturevalue("oxigraph_server"))
        backend.update("DROP ALL")  # unlike CLEAR ALL, also forgets empty graphs
    yield backend
    backend.close()


# =============================================================================
