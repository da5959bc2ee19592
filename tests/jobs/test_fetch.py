"""Fetching job inputs: limits, redirects, the address policy and file roots, on a real server."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from jobtrail.base.errors import InputUnavailable
from jobtrail.jobs.fetch import FetchPolicy, Probe, check_address, fetch, fetch_small, head

SMALL = b"hello, jobtrail\n"
LARGE = bytes(range(256)) * 800  # 204 800 bytes
LIMIT = 100_000  # a max_bytes below LARGE
OPEN = FetchPolicy(allow_private=True, timeout=5)  # the test server is on loopback


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.route()

    def do_HEAD(self) -> None:
        self.route()

    def send_body(self, body: bytes, media_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", media_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def route(self) -> None:
        path = self.path
        try:
            if path == "/small.txt":
                self.send_body(SMALL, "text/plain; charset=utf-8")
            elif path == "/large.bin":
                self.send_body(LARGE, "application/octet-stream")
            elif path == "/headers":
                seen = f"{self.headers['user-agent']}|{self.headers['accept-encoding']}"
                self.send_body(seen.encode(), "text/plain")
            elif path == "/chunked":  # no Content-Length: only the stream tells the size
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                block = b"x" * 16384
                for _ in range(640):  # 10 MB, unless the client hangs up first
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(block), block))
                self.wfile.write(b"0\r\n\r\n")
            elif path.startswith("/redirect/"):
                n = int(path.rsplit("/", 1)[1])
                self.redirect("/small.txt" if n == 0 else f"/redirect/{n - 1}")
            elif path == "/to-file":
                self.redirect("file:///etc/passwd")
            elif path == "/no-head":
                if self.command == "HEAD":
                    self.send_error(405)
                else:
                    self.send_body(SMALL, "text/plain")
            elif path == "/slow":
                time.sleep(2)
                self.send_body(SMALL, "text/plain")
            elif path == "/trickle":  # each byte well within a read timeout, the whole not
                self.send_response(200)
                self.send_header("Content-Length", "40")
                self.end_headers()
                for _ in range(40):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.1)
            else:
                self.send_error(404)
        except OSError:
            pass  # the client hung up, as the limit tests mean it to


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def tls_base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """An HTTPS server whose certificate names only `localhost`, and the certificate."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-nodes", "-days", "1", "-subj", "/CN=localhost"]
        + ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
        + ["-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = Server(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"https://localhost:{server.server_address[1]}", cert
    server.shutdown()
    server.server_close()


def refused(call: object, *args: object) -> InputUnavailable:
    assert callable(call)
    with pytest.raises(InputUnavailable) as caught:
        call(*args)
    assert caught.value.status == 424
    assert caught.value.hint
    return caught.value


# --- http(s) ---------------------------------------------------------------------------


def test_fetch_allowed(base: str, tmp_path: Path) -> None:
    got = fetch(f"{base}/small.txt", tmp_path / "in", OPEN)
    assert got.path == tmp_path / "in"
    assert got.path.read_bytes() == SMALL
    assert got.size == len(SMALL)
    assert got.media_type == "text/plain"
    assert got.url == f"{base}/small.txt"


def test_https_keeps_the_host_name(
    tls_base: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection goes to the checked address, yet TLS still verifies `localhost`."""
    base, cert = tls_base
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    got = fetch(f"{base}/redirect/1", tmp_path / "in", OPEN)
    assert (got.path.read_bytes(), got.url) == (SMALL, f"{base}/small.txt")
    assert "loopback" in refused(fetch_small, f"{base}/small.txt", FetchPolicy()).message
    monkeypatch.delenv("SSL_CERT_FILE")  # now the certificate is not trusted
    assert "certificate" in refused(fetch_small, f"{base}/small.txt", OPEN).message.lower()


def test_user_agent_and_identity_encoding(base: str) -> None:
    policy = FetchPolicy(allow_private=True, user_agent="jobtrail-test/1")
    assert fetch_small(f"{base}/headers", policy) == b"jobtrail-test/1|identity"


def test_loopback_refused_by_default(base: str, tmp_path: Path) -> None:
    error = refused(fetch, f"{base}/small.txt", tmp_path / "in", FetchPolicy())
    assert "127.0.0.1" in error.message
    assert "loopback" in error.message
    assert f"{base}/small.txt" in error.message
    assert error.hint is not None and "fetch_allow_private" in error.hint
    assert not (tmp_path / "in").exists()


def test_name_resolving_to_loopback_refused(base: str) -> None:
    port = base.rsplit(":", 1)[1]
    error = refused(head, f"http://localhost:{port}/small.txt", FetchPolicy())
    assert "localhost resolves to" in error.message


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://127.0.0.1/", "loopback"),
        ("http://[::1]/", "loopback"),
        ("http://10.1.2.3/", "private"),
        ("http://192.168.0.1/", "private"),
        ("http://172.16.5.4/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://[::ffff:10.0.0.1]/", "private"),
        ("http://[64:ff9b::a00:1]/", "private"),  # NAT64 for 10.0.0.1
        ("http://[2002:7f00:1::]/", "loopback"),  # 6to4 for 127.0.0.1
        ("http://0.0.0.0/", "unspecified"),
        ("http://[::]/", "unspecified"),
        ("http://[fe80::1]/", "link-local"),
        ("http://[fd00::1]/", "private"),
        ("http://[fec0::1]/", "site-local"),
        ("http://224.0.0.1/", "multicast"),
        ("http://100.64.0.1/", "not globally routable"),
        ("http://2130706433/", "loopback"),  # 127.0.0.1 as one decimal number
    ],
)
def test_check_address_refuses(url: str, kind: str) -> None:
    error = refused(check_address, url, FetchPolicy())
    assert kind in error.message
    assert url in error.message


@pytest.mark.parametrize(
    "url", ["http://93.184.215.14/", "https://[2606:4700:4700::1111]/x", "file:///anything"]
)
def test_check_address_allows_public(url: str) -> None:
    check_address(url, FetchPolicy())


def test_check_address_allow_private() -> None:
    check_address("http://127.0.0.1/", FetchPolicy(allow_private=True))
    check_address("http://[::ffff:10.0.0.1]/", FetchPolicy(allow_private=True))


def test_too_large_by_header(base: str, tmp_path: Path) -> None:
    policy = FetchPolicy(allow_private=True, max_bytes=LIMIT)
    error = refused(fetch, f"{base}/large.bin", tmp_path / "in", policy)
    assert f"{len(LARGE)} bytes" in error.message
    assert f"at most {LIMIT}" in error.message
    assert not (tmp_path / "in").exists()


def test_too_large_by_stream(base: str, tmp_path: Path) -> None:
    policy = FetchPolicy(allow_private=True, max_bytes=LIMIT)
    started = time.monotonic()
    error = refused(fetch, f"{base}/chunked", tmp_path / "in", policy)
    assert f"at most {LIMIT}" in error.message
    assert not (tmp_path / "in").exists()
    assert time.monotonic() - started < 2  # stopped early, not after all 10 MB


def test_exactly_max_bytes_is_fine(base: str, tmp_path: Path) -> None:
    policy = FetchPolicy(allow_private=True, max_bytes=len(LARGE))
    assert fetch(f"{base}/large.bin", tmp_path / "in", policy).size == len(LARGE)


def test_redirect_chain(base: str, tmp_path: Path) -> None:
    got = fetch(f"{base}/redirect/4", tmp_path / "in", OPEN)  # 5 redirects: the most followed
    assert got.path.read_bytes() == SMALL
    assert got.url == f"{base}/small.txt"


def test_too_many_redirects(base: str, tmp_path: Path) -> None:
    error = refused(fetch, f"{base}/redirect/5", tmp_path / "in", OPEN)
    assert "more than 5 times" in error.message


def test_redirect_to_file_refused(base: str) -> None:
    policy = FetchPolicy(allow_private=True, file_roots=(Path("/"),))
    error = refused(fetch_small, f"{base}/to-file", policy)
    assert "redirects to file:" in error.message


def test_not_found_named(base: str, tmp_path: Path) -> None:
    error = refused(fetch, f"{base}/missing", tmp_path / "in", OPEN)
    assert "404 Not Found" in error.message
    assert f"{base}/missing" in error.message
    assert not (tmp_path / "in").exists()


def test_connection_refused_named(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket is closed
    url = f"http://127.0.0.1:{port}/x"
    error = refused(fetch, url, tmp_path / "in", OPEN)
    assert url in error.message
    assert "refused" in error.message.lower()


def test_timeout_named(base: str, tmp_path: Path) -> None:
    policy = FetchPolicy(allow_private=True, timeout=0.5)
    started = time.monotonic()
    error = refused(fetch, f"{base}/slow", tmp_path / "in", policy)
    assert "took more than 0.5 seconds" in error.message
    assert time.monotonic() - started < 1.5


def test_timeout_covers_the_whole_fetch(base: str, tmp_path: Path) -> None:
    policy = FetchPolicy(allow_private=True, timeout=0.5)
    started = time.monotonic()
    error = refused(fetch, f"{base}/trickle", tmp_path / "in", policy)
    assert "took more than" in error.message
    assert time.monotonic() - started < 1.5
    assert not (tmp_path / "in").exists()


@pytest.mark.parametrize(
    "url",
    ["ftp://example.org/x", "gopher://example.org/", "data:text/plain,hi", "example.org/x"],
)
def test_unknown_scheme(url: str, tmp_path: Path) -> None:
    error = refused(fetch, url, tmp_path / "in", OPEN)
    assert url in error.message
    assert "not supported" in error.message


def test_head(base: str) -> None:
    assert head(f"{base}/large.bin", OPEN) == Probe(len(LARGE), "application/octet-stream")
    assert head(f"{base}/redirect/2", OPEN) == Probe(len(SMALL), "text/plain")


def test_head_refused_by_server(base: str) -> None:
    assert head(f"{base}/no-head", OPEN) == Probe(None, None)


def test_head_failures(base: str) -> None:
    assert "404" in refused(head, f"{base}/missing", OPEN).message
    assert "loopback" in refused(head, f"{base}/small.txt", FetchPolicy()).message
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert "connection failed" in refused(head, f"http://127.0.0.1:{port}/", OPEN).message


def test_fetch_small(base: str) -> None:
    assert fetch_small(f"{base}/small.txt", OPEN) == SMALL
    by_header = refused(fetch_small, f"{base}/large.bin", OPEN, 1000)
    assert "at most 1000 bytes" in by_header.message
    assert by_header.hint is not None and "only 1000 bytes" in by_header.hint
    by_stream = refused(fetch_small, f"{base}/chunked", OPEN, 1000)
    assert "at most 1000 bytes" in by_stream.message
    policy = FetchPolicy(allow_private=True, max_bytes=10)  # the policy's limit still holds
    assert "at most 10 bytes" in refused(fetch_small, f"{base}/small.txt", policy).message


# --- file: -------------------------------------------------------------------------------


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "data.txt").write_bytes(SMALL)
    (root / "sub" / "data.json").write_text("{}")
    (tmp_path / "secret.txt").write_text("secret")
    (root / "escape").symlink_to(tmp_path / "secret.txt")
    (root / "inner").symlink_to(root / "data.txt")
    return root


def test_file_inside_root(root: Path, tmp_path: Path) -> None:
    policy = FetchPolicy(file_roots=(root,))
    got = fetch((root / "data.txt").as_uri(), tmp_path / "in", policy)
    assert (got.size, got.media_type) == (len(SMALL), "text/plain")
    assert got.path.read_bytes() == SMALL
    assert fetch_small((root / "sub" / "data.json").as_uri(), policy) == b"{}"
    assert fetch_small((root / "inner").as_uri(), policy) == SMALL  # a link within the root
    assert head((root / "data.txt").as_uri(), policy) == Probe(len(SMALL), "text/plain")


@pytest.mark.parametrize(
    "where",
    [
        lambda root: (root.parent / "secret.txt").as_uri(),
        lambda root: f"file://{root}/../secret.txt",
        lambda root: f"file://{root}/sub/%2e%2e/%2e%2e/secret.txt",
        lambda root: (root / "escape").as_uri(),
    ],
    ids=["outside", "dot-dot", "encoded-dot-dot", "symlink"],
)
def test_file_outside_root_refused(root: Path, tmp_path: Path, where: object) -> None:
    assert callable(where)
    url = where(root)
    policy = FetchPolicy(file_roots=(root,))
    error = refused(fetch, url, tmp_path / "in", policy)
    assert "outside the file roots" in error.message
    assert error.hint is not None and str(root) in error.hint
    assert "outside the file roots" in refused(head, url, policy).message
    assert not (tmp_path / "in").exists()


def test_file_failures(root: Path, tmp_path: Path) -> None:
    policy = FetchPolicy(file_roots=(root,))
    dest = tmp_path / "in"
    assert "no file at" in refused(fetch, (root / "nope.txt").as_uri(), dest, policy).message
    assert "a directory" in refused(fetch, (root / "sub").as_uri(), dest, policy).message
    other_host = refused(fetch, "file://example.org/etc/passwd", dest, policy)
    assert "another machine" in other_host.message
    no_roots = refused(fetch, (root / "data.txt").as_uri(), dest, FetchPolicy())
    assert no_roots.hint is not None and "file_roots" in no_roots.hint
    small = FetchPolicy(file_roots=(root,), max_bytes=4)
    assert "at most 4 bytes" in refused(fetch, (root / "data.txt").as_uri(), dest, small).message
    assert not dest.exists()
