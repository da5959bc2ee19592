"""Shared pytest fixtures. Each area keeps its fixtures in its own section."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import NamedTuple

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
# Seed fixtures (tests/ingest, tests/vocab): the seeds' code blocks and TNA's examples
# =============================================================================
#
# The seeds in ../shared/seeds are the first test data. Their fenced code blocks
# are taken verbatim (the text between the fence lines, tabs and trailing commas
# included), so a test reads exactly the bytes a producer wrote in the seed.
#
#   seed004_message     one ```JSON block of the TRE seed (6 messages), parametrised
#   seed000_http        one ```HTTP block of the FIMS/AME seed (25 messages), parametrised
#   seed000_jsonld_body the JSON body of an HTTP block that has an @context, parametrised
#   tna_example         one of TNA's real example messages (a Path), parametrised
#   tna_template        TNA's example that is a template, not a message (tre-error.json)
#   seed004_messages, seed000_http_messages, tna_example_paths: the whole lists

SHARED = Path(__file__).resolve().parents[2] / "shared"
SEEDS = SHARED / "seeds"
TRE_SEED = SEEDS / "004_9e81052db05b5a08.txt"
FIMS_SEED = SEEDS / "000_c64d5cb089115450.txt"
TNA = SHARED / "third-party" / "tna-da-transform-schemas"
TNA_EXAMPLE_DIRS = ("json-examples", "json-examples-new-schema")
TNA_TEMPLATES = frozenset({"json-examples-new-schema/tre-error.json"})
"""Files among the examples that are templates (keys such as "timestamp.$"), not messages.
The da/documents/ files are not messages either; they sit below the globbed folders."""

_FENCE = re.compile(r"^```(\w+)[ \t]*\n(.*?)^```", re.MULTILINE | re.DOTALL)


class SeedBlock(NamedTuple):
    """One fenced block of a seed: its 1-based number among the blocks of its
    language (for the FIMS seed this is the message number the seed gives it)."""

    number: int
    text: str

    @property
    def data(self) -> bytes:
        return self.text.encode("utf-8")


@cache
def seed_blocks(path: Path, language: str) -> tuple[SeedBlock, ...]:
    """The ```{language} blocks of a seed file, verbatim, in order."""
    if not path.exists():
        return ()
    text = path.read_text("utf-8")
    found = [m.group(2) for m in _FENCE.finditer(text) if m.group(1) == language]
    return tuple(SeedBlock(i, block) for i, block in enumerate(found, start=1))


def http_body(text: str) -> str:
    """The body of an HTTP message (after the first blank line), or ''."""
    head, _, body = text.partition("\n\n")
    return body


def tna_examples(*, templates: bool = False) -> list[Path]:
    """TNA's example messages of both structures (or only the templates), sorted."""
    paths = sorted(p for d in TNA_EXAMPLE_DIRS for p in (TNA / d).glob("*.json"))
    return [p for p in paths if (str(p.relative_to(TNA)) in TNA_TEMPLATES) == templates]


def _ids(blocks: tuple[SeedBlock, ...], prefix: str) -> list[str]:
    return [f"{prefix}{b.number:02d}" for b in blocks]


_TRE_BLOCKS = seed_blocks(TRE_SEED, "JSON")
_HTTP_BLOCKS = seed_blocks(FIMS_SEED, "HTTP")
_JSONLD_BODIES = tuple(
    SeedBlock(b.number, http_body(b.text)) for b in _HTTP_BLOCKS if '"@context"' in http_body(b.text)
)


@pytest.fixture(params=_TRE_BLOCKS, ids=_ids(_TRE_BLOCKS, "tre"))
def seed004_message(request: pytest.FixtureRequest) -> SeedBlock:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(params=_HTTP_BLOCKS, ids=_ids(_HTTP_BLOCKS, "msg"))
def seed000_http(request: pytest.FixtureRequest) -> SeedBlock:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(params=_JSONLD_BODIES, ids=_ids(_JSONLD_BODIES, "body"))
def seed000_jsonld_body(request: pytest.FixtureRequest) -> SeedBlock:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(params=tna_examples(), ids=lambda p: str(p.relative_to(TNA)))
def tna_example(request: pytest.FixtureRequest) -> Path:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(params=tna_examples(templates=True), ids=lambda p: p.name)
def tna_template(request: pytest.FixtureRequest) -> Path:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def seed004_messages() -> tuple[SeedBlock, ...]:
    return _TRE_BLOCKS


@pytest.fixture(scope="session")
def seed000_http_messages() -> tuple[SeedBlock, ...]:
    return _HTTP_BLOCKS


@pytest.fixture(scope="session")
def tna_example_paths() -> list[Path]:
    return tna_examples()


# =============================================================================
