"""Shared pytest fixtures. Each area keeps its fixtures in its own section."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

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


def wait_for(
    process: subprocess.Popen[Any], url: str, name: str, log: Callable[[], str], seconds: float = 20
) -> None:
    """Wait until a server process answers at `url`; fail with its log if it exits or never does."""
    deadline = time.monotonic() + seconds
    while True:
        if process.poll() is not None:
            pytest.fail(f"{name} exited with {process.returncode}:\n{log()}")
        try:
            httpx.get(url, timeout=1).raise_for_status()
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                pytest.fail(f"{name} did not answer at {url}")
            time.sleep(0.05)


@contextlib.contextmanager
def oxigraph(workdir: Path) -> Iterator[str]:
    """An `oxigraph serve` process with its data in `workdir`, on a free port; yields its base
    URL. Skips without the binary."""
    binary = oxigraph_binary()
    if binary is None:
        pytest.skip("no `oxigraph` server binary (pip install oxigraph)")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(workdir / "server.log", "wb") as log:
        process = subprocess.Popen(
            [binary, "serve", "--location", str(workdir / "data"), "--bind", f"127.0.0.1:{port}"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(
            process,
            f"{url}/query?query=ASK%7B%7D",
            "oxigraph server",
            lambda: (workdir / "server.log").read_text(errors="replace"),
        )
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def oxigraph_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of an `oxigraph serve` process shared by the whole session."""
    with oxigraph(tmp_path_factory.mktemp("oxigraph-server")) as url:
        yield url


VIRTUOSO_INI = """\
[Database]
DatabaseFile       = {dir}/virtuoso.db
ErrorLogFile       = {dir}/virtuoso.log
LockFile           = {dir}/virtuoso.lck
TransactionFile    = {dir}/virtuoso.trx
xa_persistent_file = {dir}/virtuoso.pxa
[TempDatabase]
DatabaseFile       = {dir}/virtuoso-temp.db
TransactionFile    = {dir}/virtuoso-temp.trx
[Parameters]
ServerPort         = {sql_port}
DisableUnixSocket  = 1
NumberOfBuffers    = 10000
MaxDirtyBuffers    = 6000
DirsAllowed        = ., {dir}
[HTTPServer]
ServerPort         = {http_port}
ServerRoot         = {dir}
ServerThreads      = 10
EnabledGzipContent = 0
[SPARQL]
ResultSetMaxRows           = 1000000
MaxQueryExecutionTime      = 0
MaxQueryCostEstimationTime = 0
"""
"""A throwaway Virtuoso: its files in one folder, its own SQL and HTTP ports, answers up to a
million rows (the package's virtuoso.ini stops at 10,000), no time limits (tests set their own)."""


def virtuoso_binaries() -> tuple[str, str] | None:
    """`virtuoso-t` and its `isql`, from Debian's `virtuoso-opensource`."""
    binary, isql = shutil.which("virtuoso-t"), shutil.which("isql-vt") or shutil.which("isql")
    return (binary, isql) if binary and isql else None


@contextlib.contextmanager
def virtuoso(workdir: Path, max_rows: int = 1_000_000) -> Iterator[str]:
    """A Virtuoso process with its files in `workdir`, on free ports, anonymous SPARQL updates
    allowed, answering at most `max_rows` rows; yields its SPARQL endpoint
    (`http://127.0.0.1:PORT/sparql`). Skips without the package."""
    binaries = virtuoso_binaries()
    if binaries is None:
        pytest.skip("no Virtuoso (apt-get install virtuoso-opensource)")
    binary, isql = binaries
    sql_port, http_port = free_port(), free_port()
    ini = workdir / "virtuoso.ini"
    ini.write_text(VIRTUOSO_INI.format(dir=workdir, sql_port=sql_port, http_port=http_port))
    ini.write_text(ini.read_text().replace("= 1000000", f"= {max_rows}"))
    url = f"http://127.0.0.1:{http_port}/sparql"
    with open(workdir / "server.log", "wb") as log:
        process = subprocess.Popen(
            [binary, "+foreground", "+configfile", str(ini)],
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(
            process,
            f"{url}?query=ASK%7B%7D",
            "virtuoso",
            lambda: (workdir / "server.log").read_text(errors="replace"),
            seconds=60,
        )
        grant = 'GRANT SPARQL_UPDATE TO "SPARQL";'
        subprocess.run(
            [isql, str(sql_port), "dba", "dba", f"exec={grant}"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def virtuoso_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The SPARQL endpoint (`http://127.0.0.1:PORT/sparql`) of a Virtuoso open source process
    (Debian's `virtuoso-opensource`) shared by the whole session, anonymous SPARQL updates
    allowed. Skips without the package."""
    with virtuoso(tmp_path_factory.mktemp("virtuoso")) as url:
        yield url


def emptied(store: Store) -> Store:
    """`store` without any graph (DROP ALL does nothing on Virtuoso: each graph is dropped)."""
    if isinstance(store, RemoteStore) and store.dialect.default_is_union:
        graphs = [f"<{g}>" for g in store.graphs()]
        for start in range(0, len(graphs), 1000):  # Virtuoso: one operation, not many DROPs
            values = " ".join(graphs[start : start + 1000])
            store.update(
                "DELETE { GRAPH ?g { ?s ?p ?o } } "
                f"WHERE {{ VALUES ?g {{ {values} }} GRAPH ?g {{ ?s ?p ?o }} }}"
            )
    else:
        store.update("DROP ALL")  # unlike CLEAR ALL, also forgets empty graphs
    return store


@pytest.fixture
def unused_port() -> int:
    """A local TCP port nobody listens on (for an unreachable endpoint)."""
    return free_port()


@pytest.fixture(params=["disk", "memory", "remote", "virtuoso"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty store of each backend; the remote ones are the session's servers (Oxigraph
    server, Virtuoso), emptied."""
    backend: Store
    if request.param == "disk":
        backend = OxigraphStore(tmp_path / "data")
    elif request.param == "memory":
        backend = OxigraphStore(None)
    elif request.param == "virtuoso":
        backend = emptied(RemoteStore.from_url(request.getfixturevalue("virtuoso_server")))
    else:
        backend = emptied(RemoteStore.from_url(request.getfixturevalue("oxigraph_server")))
    yield backend
    backend.close()


# =============================================================================
# Seed fixtures (tests/ingest, tests/vocab): the source documents' messages, TNA's examples
# =============================================================================
#
# The source documents' example messages are the files of examples/, one file per fenced
# code block of the document, verbatim (the text between the fence lines, tabs and trailing
# commas included), so a test reads exactly the bytes a producer wrote. TNA's own example
# messages are copied from their repository into tests/data (see its README.md).
#
#   seed004_message     one TRE message of examples/tre-enhanced-messages (6), parametrised
#   seed000_http        one FIMS/AME HTTP message of examples/fims-ame-flow (25), parametrised
#   seed000_jsonld_body the JSON body of an HTTP message that has an @context, parametrised
#   tna_example         one of TNA's real example messages (a Path), parametrised
#   tna_template        TNA's example that is a template, not a message (tre-error.json)
#   tre_message         every TRE message above (a TreInput: name, data), parametrised;
#                       tre2022_message / tre2023_message: those of one structure
#   read                read(data, media_type=...) -> Message, via ingest.read.read_message
#   view_of             TripleView: look-ups over a graph's N-Triples term tuples
#   seed004_messages, seed000_http_messages, tna_example_paths: the whole lists

ROOT = Path(__file__).resolve().parents[1]
TRE_MESSAGES = ROOT / "examples" / "tre-enhanced-messages"
FIMS_MESSAGES = ROOT / "examples" / "fims-ame-flow"
TNA = ROOT / "tests" / "data" / "tna-da-transform-schemas"
TNA_EXAMPLE_DIRS = ("json-examples", "json-examples-new-schema")
TNA_TEMPLATES = frozenset({"json-examples-new-schema/tre-error.json"})
"""Files among the examples that are templates (keys such as "timestamp.$"), not messages.
The da/documents/ files are not messages either; they sit below the globbed folders."""


class SeedBlock(NamedTuple):
    """One example message of a source document: its 1-based number among that document's
    messages (for the FIMS/AME flow this is the message number the document gives it)."""

    number: int
    text: str

    @property
    def data(self) -> bytes:
        return self.text.encode("utf-8")


def data_files(folder: Path, pattern: str) -> list[Path]:
    """The files of a test data folder matching `pattern`, sorted; an error if there are
    none, so that missing test data fail the run instead of dropping parametrised cases."""
    found = sorted(folder.glob(pattern))
    if not found:
        raise FileNotFoundError(f"no test data {pattern} in {folder}")
    return found


@cache
def seed_blocks(folder: Path, suffix: str) -> tuple[SeedBlock, ...]:
    """The example messages in `folder` (files named by number, ending in `suffix`), verbatim,
    in order."""
    paths = data_files(folder, f"*{suffix}")
    return tuple(SeedBlock(i, p.read_text("utf-8")) for i, p in enumerate(paths, start=1))


def http_body(text: str) -> str:
    """The body of an HTTP message (after the first blank line), or ''."""
    return text.partition("\n\n")[2]


def tna_examples(*, templates: bool = False) -> list[Path]:
    """TNA's example messages of both structures (or only the templates), sorted."""
    paths = sorted(p for d in TNA_EXAMPLE_DIRS for p in data_files(TNA / d, "*.json"))
    return [p for p in paths if (str(p.relative_to(TNA)) in TNA_TEMPLATES) == templates]


def _ids(blocks: tuple[SeedBlock, ...], prefix: str) -> list[str]:
    return [f"{prefix}{b.number:02d}" for b in blocks]


_TRE_BLOCKS = seed_blocks(TRE_MESSAGES, ".json")
_HTTP_BLOCKS = seed_blocks(FIMS_MESSAGES, ".http")
_JSONLD_BODIES = tuple(
    SeedBlock(b.number, body) for b in _HTTP_BLOCKS if '"@context"' in (body := http_body(b.text))
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


class TreInput(NamedTuple):
    """A TRE message of either structure: where it comes from and its bytes."""

    name: str
    data: bytes


_TRE_INPUTS = [TreInput(f"seed004-{b.number}", b.data) for b in _TRE_BLOCKS] + [
    TreInput(str(p.relative_to(TNA)), p.read_bytes()) for p in tna_examples()
]


_TRE_2023 = [t for t in _TRE_INPUTS if b'"properties"' in t.data and b'"UUIDs"' not in t.data]
_TRE_2022 = [t for t in _TRE_INPUTS if t not in _TRE_2023]


@pytest.fixture(params=_TRE_INPUTS, ids=[t.name for t in _TRE_INPUTS])
def tre_message(request: pytest.FixtureRequest) -> TreInput:
    """Every TRE message the seeds and TNA give: the seed's six and TNA's real examples."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(params=_TRE_2022, ids=[t.name for t in _TRE_2022])
def tre2022_message(request: pytest.FixtureRequest) -> TreInput:
    """The TRE messages of the 2022 structure (UUIDs list): the seed's and TNA's json-examples."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(params=_TRE_2023, ids=[t.name for t in _TRE_2023])
def tre2023_message(request: pytest.FixtureRequest) -> TreInput:
    """The TRE messages of the 2023 structure (properties): TNA's json-examples-new-schema."""
    return request.param  # type: ignore[no-any-return]


READ_BASE = "http://127.0.0.1:8000/"


@pytest.fixture
def read() -> Callable[..., Any]:
    """`read(data, media_type="application/json", source=..., base=...)` -> Message,
    through the one entry point every reader shares (ingest.read.read_message)."""
    from jobtrail.base import nt
    from jobtrail.ingest.message import Incoming
    from jobtrail.ingest.read import read_message

    def _read(
        data: bytes | str,
        media_type: str | None = "application/json",
        *,
        source: str = "test-input",
        base: str = READ_BASE,
    ) -> Any:
        raw = data.encode("utf-8") if isinstance(data, str) else data
        return read_message(Incoming(raw, source, media_type), base=base, stored_at=nt.now())

    return _read


class TripleView:
    """Look-ups over N-Triples term tuples (a ResourceGraph's `.triples`).

    Subjects, predicates and objects may be given as plain IRIs (str or rdflib
    URIRef) or as N-Triples terms (`<…>`, `"…"…`); results are N-Triples terms,
    or decoded lexical values for `value`/`values`.
    """

    def __init__(self, triples: Iterable[tuple[str, str, str]]) -> None:
        self.triples = list(triples)

    @staticmethod
    def term(x: object) -> str:
        x = str(x)
        return x if x[:1] in ("<", '"', "_") else f"<{x}>"

    def objects(self, s: object, p: object) -> list[str]:
        s, p = self.term(s), self.term(p)
        return [o for s2, p2, o in self.triples if s2 == s and p2 == p]

    def subjects(self, p: object, o: object) -> list[str]:
        p, o = self.term(p), self.term(o)
        return [s for s, p2, o2 in self.triples if p2 == p and o2 == o]

    def one(self, s: object, p: object) -> str:
        found = self.objects(s, p)
        assert len(found) == 1, f"expected one {p} of {s}, found {found}"
        return found[0]

    def value(self, s: object, p: object) -> str:
        from jobtrail.base.nt import parse_term

        return parse_term(self.one(s, p))[1]

    def values(self, s: object, p: object) -> list[str]:
        from jobtrail.base.nt import parse_term

        return [parse_term(o)[1] for o in self.objects(s, p)]

    def has(self, s: object, p: object, o: object) -> bool:
        return (self.term(s), self.term(p), self.term(o)) in self.triples

    def ntriples(self) -> str:
        return "".join(f"{s} {p} {o} .\n" for s, p, o in self.triples)

    def parse(self) -> list[Any]:
        """The triples parsed by Oxigraph's N-Triples parser: fails on anything invalid."""
        import pyoxigraph

        return list(pyoxigraph.parse(self.ntriples(), format=pyoxigraph.RdfFormat.N_TRIPLES))


@pytest.fixture
def view_of() -> type[TripleView]:
    """The TripleView class: `view_of(message.graph.triples).value(s, p)`."""
    return TripleView


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
# Shapes fixtures (tests/shapes): messages read for validation
# =============================================================================
#
#   message_of   message_of(data, media_type="application/json", source=...) -> Message,
#                read by ingest.read.read_message with a fixed stored_at, so the same
#                bytes always give the same triples (validate message.all_triples())

SHAPES_BASE = "http://127.0.0.1:8000/"
SHAPES_STORED_AT = '"2024-01-01T00:00:00Z"^^<http://www.w3.org/2001/XMLSchema#dateTime>'


@pytest.fixture(scope="session")
def message_of() -> Callable[..., Any]:
    from jobtrail.ingest.message import Incoming
    from jobtrail.ingest.read import read_message

    def _read(
        data: bytes | str,
        media_type: str | None = "application/json",
        *,
        source: str = "shapes-test",
    ) -> Any:
        raw = data.encode("utf-8") if isinstance(data, str) else data
        return read_message(
            Incoming(raw, source, media_type), base=SHAPES_BASE, stored_at=SHAPES_STORED_AT
        )

    return _read


# =============================================================================


# =============================================================================
# Server fixtures: a real `jobtrail serve` (uvicorn) on loopback
# =============================================================================

EXAMPLES_DIR = ROOT / "examples"

PRODUCER_TOKEN = "test-producer-any"
"""A producer credential every test server knows, for any producer (`*`)."""
TDR_TOKEN = "test-producer-tdr"
"""A producer credential every test server knows, that may speak for TDR only."""
PRODUCERS = f"{PRODUCER_TOKEN}:*,{TDR_TOKEN}:TDR"
PRODUCER = {"Authorization": f"Bearer {PRODUCER_TOKEN}"}
"""The header POST /messages needs on a test server."""


@contextlib.contextmanager
def jobtrail_server(
    data: Path | str, *options: str, env: dict[str, str] | None = None, port: int | None = None
) -> Iterator[str]:
    """A real `jobtrail serve` over the examples loaded into the store `data` (a directory or
    a SPARQL endpoint URL); yields its base URL. It knows the producer credentials
    PRODUCERS (PRODUCER_TOKEN for any producer, TDR_TOKEN for TDR) unless `env` says."""
    port = port or free_port()
    base = f"http://127.0.0.1:{port}/"
    jobtrail = [sys.executable, "-m", "jobtrail.cli"]
    load = [*jobtrail, "load", str(EXAMPLES_DIR), "--store", str(data), "--base-url", base]
    subprocess.run([*load, "--silent"], check=True)
    serve = [*jobtrail, "serve", "--store", str(data), "--port", str(port), *options]
    env = {"JOBTRAIL_PRODUCERS": PRODUCERS, **(env or {})}
    if "://" in str(data) and "JOBTRAIL_KEY_FILE" not in env:  # not ./jobtrail-key: a test's own
        keys = Path(tempfile.mkdtemp(prefix="jobtrail-key-"))
        env["JOBTRAIL_KEY_FILE"] = str(keys / "key")
        env.setdefault("JOBTRAIL_LOG_KEY_FILE", str(keys / "log-key"))
    process = subprocess.Popen(serve, stderr=subprocess.PIPE, text=True, env={**os.environ, **env})
    try:
        wait_for(  # 60 s: on a loaded machine (other test runs) a start can take 20 s
            process,
            base,
            "jobtrail serve",
            lambda: process.stderr.read() if process.stderr else "",
            seconds=60,
        )
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a real `jobtrail serve` process over a store holding the examples."""
    with jobtrail_server(tmp_path_factory.mktemp("served") / "data") as base:
        yield base


# =============================================================================
# SPARQL fixtures (tests/bindings/sparql): a server with an admin token and tight limits
# =============================================================================
#
#   sparql_admin_served   base URL of a second real `jobtrail serve` over the examples, with
#                         admin token ADMIN_TOKEN, --query-timeout 0.5 and --max-body 4096

ADMIN_TOKEN = "test-admin-token"


@pytest.fixture(scope="session")
def sparql_admin_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("sparql-admin") / "data"
    limits = ("--query-timeout", "0.5", "--max-body", "4096")
    with jobtrail_server(data, *limits, env={"JOBTRAIL_ADMIN_TOKEN": ADMIN_TOKEN}) as base:
        yield base


# =============================================================================
# Jobs fixtures (tests/jobs, tests/bindings): a document server and a job server
# =============================================================================
#
#   DocumentServer     a real HTTP server on loopback (in a thread) serving documents
#                      from a dict: GET and HEAD, `?delay=s` waits before answering,
#                      `?trickle=s` sends the first half of the body, then the rest s later,
#                      `/nolength/…` answers without Content-Length (chunked)
#   job_server()       a real `jobtrail serve` with the job settings the tests need


class DocumentServer:
    def __init__(self) -> None:
        import http.server
        import threading

        self.documents: dict[str, tuple[bytes, str]] = {}
        self.authorizations: list[str | None] = []  # the Authorization header of each request
        self.posts: list[tuple[str, str | None, int]] = []  # each POST: path, Authorization, size
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _answer(self, body: bool) -> None:
                from urllib.parse import parse_qs, urlsplit

                url = urlsplit(self.path)
                server.authorizations.append(self.headers.get("Authorization"))
                delay = float(parse_qs(url.query).get("delay", ["0"])[0])
                time.sleep(delay)
                path = url.path.removeprefix("/nolength")
                if path not in server.documents:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data, media = server.documents[path]
                self.send_response(200)
                self.send_header("Content-Type", media)
                if url.path.startswith("/nolength"):
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    if body:
                        self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data))
                    return
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                trickle = float(parse_qs(url.query).get("trickle", ["0"])[0])
                if body and trickle:
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    time.sleep(trickle)
                    self.wfile.write(data[len(data) // 2 :])
                elif body:
                    self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self._answer(True)

            def do_HEAD(self) -> None:  # noqa: N802
                self._answer(False)

            def do_POST(self) -> None:  # noqa: N802 - a callback receiver: kept, 204
                length = int(self.headers.get("Content-Length") or 0)
                server.posts.append((self.path, self.headers.get("Authorization"), length))
                self.rfile.read(length)
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def put(self, path: str, data: bytes, media_type: str = "application/octet-stream") -> str:
        self.documents[path] = (data, media_type)
        return self.url + path

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def documents() -> Iterator[DocumentServer]:
    server = DocumentServer()
    yield server
    server.close()


JOB_USERS = {"alice": "wonderland", "bob": "builder"}
JOB_PASSES = {"rich-pass": 1000.0, "poor-pass": 0.5}


@contextlib.contextmanager
def job_server(
    data: Path, files: Path, *, port: int | None = None, **settings: str
) -> Iterator[str]:
    """A real `jobtrail serve` for jobs: loopback inputs allowed, users, passes, prices."""
    env = {
        "JOBTRAIL_FILES": str(files),
        "JOBTRAIL_FETCH_ALLOW_PRIVATE": "true",
        "JOBTRAIL_USERS": ",".join(f"{k}:{v}" for k, v in JOB_USERS.items()),
        "JOBTRAIL_PASSES": ",".join(f"{k}:{v}" for k, v in JOB_PASSES.items()),
        "JOBTRAIL_PRICE_PER_JOB": "1",
        "JOBTRAIL_PRICE_PER_MB": "1",
        "JOBTRAIL_FETCH_MAX_BYTES": "2000000",
        "JOBTRAIL_ADMIN_TOKEN": ADMIN_TOKEN,
        **{f"JOBTRAIL_{k.upper()}": v for k, v in settings.items()},
    }
    with jobtrail_server(data, env=env, port=port) as base:
        yield base


@pytest.fixture(scope="session")
def jobs_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("jobs-served")
    with job_server(root / "data", root / "files") as base:
        yield base


# =============================================================================
# UWS fixtures (tests/bindings/uws/test_uws.py): the official schema and a UWS server
# =============================================================================
#
#   uws_schema    the IVOA UWS 1.1 XSD (tests/data/ivoa, fetched by fetch.sh from Debian's
#                 python3-gavo; the tests skip without it, saying how to get it)
#   uws_served    a real `jobtrail serve` whose WAIT blocks at most 5 s

IVOA_SCHEMAS = Path(__file__).parent / "data" / "ivoa"


@pytest.fixture(scope="session")
def uws_schema() -> Any:
    from lxml import etree

    xsd, xlink = IVOA_SCHEMAS / "UWS.xsd", IVOA_SCHEMAS / "xlink.xsd"
    if not xsd.exists():
        subprocess.run([str(IVOA_SCHEMAS / "fetch.sh")], check=False)
    if not xsd.exists():
        pytest.skip("the official UWS 1.1 schema is not here: run tests/data/ivoa/fetch.sh")
    doc = etree.parse(str(xsd), etree.XMLParser(resolve_entities=False, no_network=True))
    for imported in doc.iter("{http://www.w3.org/2001/XMLSchema}import"):
        if imported.get("namespace") == "http://www.w3.org/1999/xlink":
            imported.set("schemaLocation", xlink.as_uri())  # the local copy, not the network
    return etree.XMLSchema(doc)


@pytest.fixture(scope="session")
def uws_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("uws-served")
    with job_server(root / "data", root / "files", uws_max_wait="5") as base:
        yield base


# =============================================================================
# Headless Chromium (Debian's package), for the pages a person sees
# =============================================================================

CHROMIUM = Path("/usr/bin/chromium")


def headless_chromium(profile: Path, *more: str) -> list[str]:
    """The command line of a headless Chromium that reaches nothing but loopback."""
    return [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--disable-extensions",
        f"--user-data-dir={profile}",
        # Chromium's own background calls (update, time, accounts) go nowhere.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--virtual-time-budget=5000",
        *more,
    ]


def browser_dom(
    url: str,
    profile: Path,
    shot: str | None = None,
    *,
    refused: str = "Content Security Policy",
    window: str = "1280,1100",
) -> str:
    """The DOM of `url` once its scripts ran, in headless Chromium with the browser profile
    `profile` (localStorage lives there). Fails when Chromium fails, or when a console line
    holds `refused` (by default any CSP refusal). With $JOBTRAIL_SCREENSHOTS set, a
    screenshot `shot` is written there too, for people to look at."""
    result = subprocess.run(
        headless_chromium(profile, "--enable-logging=stderr", "--v=0", "--dump-dom", url),
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if "CONSOLE" in line]
    assert not [line for line in console if refused in line], console
    shots = os.environ.get("JOBTRAIL_SCREENSHOTS")
    if shots and shot:
        Path(shots).mkdir(parents=True, exist_ok=True)
        picture = f"--screenshot={Path(shots) / shot}"
        subprocess.run(
            headless_chromium(profile, picture, f"--window-size={window}", url),
            capture_output=True,
            timeout=90,
            check=False,
        )
    return result.stdout


# =============================================================================
# Disk fixtures (tests/store, tests/cli, tests/server): a real filesystem that fills up
# =============================================================================
#
#   small_disk   a SmallDisk: a 30 MiB filesystem of its own, mounted for the test (tmpfs, else
#                an ext4 image on a loop device); .fill(leave) writes a filler file until the
#                disk is full (or `leave` bytes are left), .free() deletes it. Mounting needs
#                root (CAP_SYS_ADMIN): without it the test is skipped, saying why.


class SmallDisk:
    """A small filesystem mounted at `path`, and a filler file to make it full."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.filler = path / "filler"

    def fill(self, leave: int = 0) -> None:
        """Write the filler until nothing (or only `leave` bytes) is left on the disk."""
        with open(self.filler, "ab", buffering=0) as f:
            chunk = b"\0" * (1 << 16)
            with contextlib.suppress(OSError):  # ENOSPC: full
                while True:
                    f.write(chunk)
        if leave:
            os.truncate(self.filler, max(0, self.filler.stat().st_size - leave))

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)


def _mount_small_disk(where: Path, size_mib: int) -> str | None:
    """Mount a small filesystem at `where`; None, or why it cannot be done here."""
    if os.geteuid() != 0:
        return "mounting a small filesystem needs root (CAP_SYS_ADMIN); run the tests as root"
    tmpfs = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mib}m", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if tmpfs.returncode == 0:
        return None
    image = where.parent / f"{where.name}.ext4"
    with open(image, "wb") as f:
        f.truncate(size_mib << 20)
    loop = subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", str(image)], capture_output=True)
    if loop.returncode == 0:
        loop = subprocess.run(["mount", "-o", "loop", str(image), str(where)], capture_output=True)
    if loop.returncode == 0:
        return None
    return (
        f"cannot mount a {size_mib} MiB filesystem: tmpfs: {tmpfs.stderr.strip()}; "
        f"ext4 on a loop device: {loop.stderr.decode(errors='replace').strip()}"
    )


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    where = tmp_path / "disk"
    where.mkdir()
    why = _mount_small_disk(where, 30)
    if why is not None:
        pytest.skip(f"no small filesystem to fill: {why}")
    try:
        yield SmallDisk(where)
    finally:
        # lazy: a server process the test started may still be letting go of its files
        subprocess.run(["umount", "-l", str(where)], check=False)


def href_of(iri: str) -> str:
    """How an HTML page links to an IRI under its server's base: by its path, query and
    fragment (web/html.by_path), so the pages browse wherever the server answers."""
    parts = urlsplit(iri)
    return (
        parts.path
        + (f"?{parts.query}" if parts.query else "")
        + (f"#{parts.fragment}" if parts.fragment else "")
    )
