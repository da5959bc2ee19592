"""Every shell command in the README runs, as written, against a real `jobtrail serve`.

The commands are read from the README's ```sh blocks (a command ends where its quotes close and
no line continues it; `a && b` is two commands). They run in a fresh folder, through bash, with
the installed `jobtrail` on PATH, the files they name prepared beforehand (PREPARED), and these
substitutions: the server's host and port for 127.0.0.1:8000 (and --port 8080), the session's
Oxigraph server for localhost:7878, a Word document on a loopback server for http://h/x.doc,
and the id of the job the block created last for a placeholder such as `3f9c…`.

A block's curl commands go to the server its last `jobtrail serve` line starts (a plain
`jobtrail serve` when it has none); a `jobtrail` command other than `serve` runs with that
server stopped, as the embedded store is one process's at a time. A `# 201` (or `# 202 … then
303`) after a command is checked as the status it answers; any other curl must not answer 4xx or
5xx. Commands that cannot run here are in SKIPPED, each with its reason.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import EXAMPLES_DIR, ROOT, DocumentServer, free_port, oxigraph_binary
from tests.jobs.worddoc import word97

README = ROOT / "README.md"

SKIPPED = {
    "python3 -m venv": "makes a new environment; the test runs in the one it is installed in",
    ". .venv/bin/activate": "activates that environment (see above)",
    "pip install": "installs from the package index, which a test must not reach",
    "python -m pytest": "runs the whole suite, this test among it",
}
"""The commands (by their start) that are not run, and why."""

PREPARED = {
    "hops.jsonl": "the TRE hops of examples/ whose producer is TRE, one per line",
    "04-tre-to-access.json": "the example of that name, verbatim",
    "ame-job.json": "the body of the FIMS flow's first message, the AmeJob",
    "message.ttl": "one Turtle document",
    "audit.rq": "a SELECT query",
    "dump.nq": "`jobtrail export` of a store holding examples/",
}
"""The files the README's commands name, and what the test puts there."""

KNOWN_FAILURES: dict[str, str] = {}
"""Commands that run and fail for a known bug: the test xfails, naming them, while they do."""

STATUS = re.compile(r"#\s*(\d{3})(?:\s*…\s*then\s*(\d{3}))?")
PLACEHOLDER = re.compile(r"[0-9a-f]{4}…")


def commands(text: str) -> Iterator[list[str]]:
    """The README's ```sh blocks, each as its list of commands (comments kept on the line)."""
    for block in re.findall(r"^```sh\n(.*?)^```", text, re.S | re.M):
        found: list[str] = []
        pending = ""
        for line in block.splitlines():
            if not pending and line.lstrip().startswith("#"):
                continue
            pending = f"{pending}\n{line}" if pending else line
            if pending.rstrip().endswith("\\"):
                continue
            try:
                shlex.split(pending, comments=True)
            except ValueError:  # a quotation still open
                continue
            found.extend(c.strip() for c in pending.split(" && "))
            pending = ""
        assert not pending, f"a README command never ends: {pending!r}"
        yield found


def skip_reason(command: str) -> str | None:
    return next((why for start, why in SKIPPED.items() if command.startswith(start)), None)


def test_no_curl_strips_newlines() -> None:
    """`--data @file` drops the file's newlines: the server would store other bytes."""
    for block in commands(README.read_text("utf-8")):
        for command in block:
            words = shlex.split(command, comments=True)
            for flag, value in zip(words, words[1:], strict=False):
                assert not (flag in {"-d", "--data"} and value.startswith("@")), (
                    f"{command!r}: use --data-binary for a file"
                )


def test_every_block_is_found() -> None:
    text = README.read_text("utf-8")
    assert len(list(commands(text))) == text.count("```sh\n")


class Runner:
    """Runs one block's commands in `cwd`, starting and stopping its server as they need."""

    def __init__(self, cwd: Path, env: dict[str, str], port: int, substitutions: dict[str, str]):
        self.cwd, self.env, self.port, self.substitutions = cwd, env, port, substitutions
        self.base = f"http://127.0.0.1:{port}/"
        self.serve = "jobtrail serve"
        self.server: subprocess.Popen[str] | None = None
        self.last_id: str | None = None
        self.known: list[str] = []

    def substitute(self, command: str) -> str:
        for old, new in self.substitutions.items():
            command = command.replace(old, new)
        if self.last_id is not None:
            command = PLACEHOLDER.sub(self.last_id, command)
        return command

    def start(self, command: str) -> None:
        self.stop()
        words = shlex.split(self.substitute(command), comments=True)
        log = (self.cwd / "serve.log").open("w")
        self.server = subprocess.Popen(
            words, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT, text=True
        )
        deadline = time.monotonic() + 30
        while True:
            if self.server.poll() is not None:
                pytest.fail(f"{command!r} exited: {(self.cwd / 'serve.log').read_text()}")
            try:
                if httpx.get(self.base, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"{command!r} never answered at {self.base}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.server is not None:
            self.server.terminate()
            self.server.wait(timeout=20)
            self.server = None

    def shell(self, command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-o", "pipefail", "-c", command],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def run(self, command: str) -> None:
        if command.startswith("jobtrail serve"):
            self.serve = command
            self.start(command)
        elif command.startswith("curl"):
            self.curl(command)
        else:
            self.stop()
            done = self.shell(self.substitute(command))
            known = next((w for c, w in KNOWN_FAILURES.items() if command.startswith(c)), None)
            if known and done.returncode != 0:
                self.known.append(f"{command}: {known}\n{done.stdout}")
                return
            assert done.returncode == 0, f"{command!r}: {done.stdout}\n{done.stderr}"

    def curl(self, command: str) -> None:
        if self.server is None:
            self.start(self.serve)
        expected = STATUS.search(command.rsplit("'", 1)[-1])
        timed = self.substitute(command).replace(
            "curl", "curl -sS -D headers.txt -w '\\n@@%{http_code}\\n'", 1
        )
        deadline = time.monotonic() + 30
        while True:
            done = self.shell(timed)
            assert done.returncode == 0, f"{command!r}: {done.stderr}"
            status = int(done.stdout.rsplit("@@", 1)[1])
            if expected and expected[2] and status == int(expected[1]):
                assert time.monotonic() < deadline, f"{command!r} never answered {expected[2]}"
                time.sleep(0.3)  # "202 … then 303": poll until it does
                continue
            break
        if expected:
            wanted = {int(s) for s in expected.groups() if s}
            assert status in wanted, f"{command!r} answered {status}: {done.stdout[:2000]}"
        else:
            assert status < 400, f"{command!r} answered {status}: {done.stdout[:2000]}"
        headers = (self.cwd / "headers.txt").read_text()
        location = re.search(r"^location:\s*(\S+)", headers, re.I | re.M)
        if location and not PLACEHOLDER.search(command):  # a command that made something
            self.last_id = location[1].rstrip("/").rsplit("/", 1)[-1]


def prepare(cwd: Path, env: dict[str, str]) -> None:
    shutil.copytree(EXAMPLES_DIR, cwd / "examples")
    tre = sorted((EXAMPLES_DIR / "tre-enhanced-messages").glob("*.json"))
    hops = [json.loads(p.read_text()) for p in tre]
    lines = [json.dumps(h) for h in hops if h["producer"]["name"] == "TRE"]
    (cwd / "hops.jsonl").write_text("".join(f"{line}\n" for line in lines))
    shutil.copy(EXAMPLES_DIR / "tre-enhanced-messages" / "04-tre-to-access.json", cwd)
    first = (EXAMPLES_DIR / "fims-ame-flow" / "01.http").read_text()
    (cwd / "ame-job.json").write_text(first.partition("\n\n")[2])
    (cwd / "message.ttl").write_text(
        "@prefix dcterms: <http://purl.org/dc/terms/> .\n"
        '<http://example.org/doc/1> dcterms:title "A document"@en .\n'
    )
    (cwd / "audit.rq").write_text(
        "SELECT ?g (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"
    )
    prep = ["jobtrail", "load", "examples/", "--store", "prep", "--silent"]
    subprocess.run(prep, cwd=cwd, env=env, check=True, capture_output=True)
    export = ["jobtrail", "export", "-o", "dump.nq", "--store", "prep"]
    subprocess.run(export, cwd=cwd, env=env, check=True, capture_output=True)


def test_readme_commands_run(tmp_path: Path, documents: DocumentServer) -> None:
    """Every command of the README, block by block, in order, against a real server."""
    text = README.read_text("utf-8")
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    producers = re.search(r"JOBTRAIL_PRODUCERS='([^']*)'", text)
    assert producers, "the README's provenance block names the producer credential it uses"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "JOBTRAIL_BASE_URL": base,
        "JOBTRAIL_PORT": str(port),
        "JOBTRAIL_PRODUCERS": producers[1],
        "JOBTRAIL_FETCH_ALLOW_PRIVATE": "true",
    }
    substitutions = {
        "http://127.0.0.1:8000/": base,
        "--port 8080": f"--port {port}",
        "http://h/x.doc": documents.put("/readme/x.doc", word97(["A README job."])),
    }
    remote: subprocess.Popen[bytes] | None = None
    binary = oxigraph_binary()
    if binary is not None:
        oxi_port = free_port()
        remote = subprocess.Popen(
            [
                binary,
                "serve",
                "--location",
                str(tmp_path / "oxi"),
                "--bind",
                f"127.0.0.1:{oxi_port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        substitutions["http://localhost:7878"] = f"http://127.0.0.1:{oxi_port}"
    cwd = tmp_path / "work"
    cwd.mkdir()
    prepare(cwd, env)
    ran: list[str] = []
    known: list[str] = []
    try:
        for block in commands(text):
            runner = Runner(cwd, env, port, substitutions)
            try:
                for command in block:
                    if skip_reason(command):
                        continue
                    if "localhost:7878" in command and remote is None:
                        continue  # no `oxigraph` binary: the remote store cannot run here
                    runner.run(command)
                    ran.append(command)
            finally:
                runner.stop()
                known += runner.known
    finally:
        if remote is not None:
            remote.terminate()
            remote.wait(timeout=10)
    assert any(c.startswith("curl") for c in ran) and any(c.startswith("jobtrail") for c in ran)
    if known:
        pytest.xfail("\n".join(known))
