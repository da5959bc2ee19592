"""A bounded soak of mixed traffic against one real server: do writes keep completing?

Starts a real `jobtrail serve` (embedded store, fresh, on a free port of 127.0.0.1)
or drives one given by `--url` (loopback only), and for S seconds runs at once:

  - M threads posting new TRE messages (`POST /messages`, each message new bytes;
    every tenth post repeats an earlier message: a 200);
  - U threads creating UWS Fixity jobs with PHASE=RUN and following each with
    `WAIT=5&PHASE=<last seen>` until it is final;
  - J threads posting jobs to `/jobs`;
  - R threads reading: a stored message's IRI as Turtle, a SPARQL point lookup,
    `/health`.

Every request has a timeout; every loop is bounded by the run's end. The run fails
(exit 1) when, at any moment, no write of some kind has completed for `--stall`
seconds, or when `/health` is not 200 at the end. It prints, per kind, how many
requests completed, failed and timed out, and the median and p95 latency
(`--json`: the same as JSON on standard output, for tests/server/test_soak.py).

    python bench/soak.py                   # S = 90, M = 8, U = 4, J = 2, R = 2
    python bench/soak.py -s 25 --json
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # imports: libraries first
import httpx  # noqa: E402

WRITES = ("message", "uws", "job")
TIMEOUT = 30.0  # seconds any one request may take


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(work: Path, port: int, token: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "JOBTRAIL_PRODUCERS": f"{token}:*",  # the posters' producer credential
        "JOBTRAIL_FILE_ROOTS": str(work / "inputs"),
        "JOBTRAIL_FILES": str(work / "files"),
        "JOBTRAIL_UWS_MAX_WAIT": "5",
    }
    command = [sys.executable, "-m", "jobtrail.cli", "serve", "--store", str(work / "data")]
    server = subprocess.Popen([*command, "--port", str(port)], env=env)
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).raise_for_status()
            return server
        except httpx.HTTPError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise SystemExit("the server did not start") from None
            time.sleep(0.1)


def message(n: int, worker: int) -> bytes:
    """A new TRE hop (2022 structure): its own UUID, so its own bytes."""
    hop = {
        "version": "1.0.0",
        "timestamp": str(1659631669 + n),
        "UUIDs": [{"TDR-UUID": str(uuid.uuid4())}],
        "producer": {
            "name": "TDR",
            "process": "consignment-export",
            "type": "judgment",
            "environment": "INT",
        },
        "parameters": {"TDR": {"reference": f"SOAK-{worker}-{n}", "number-of-retries": "0"}},
    }
    return json.dumps(hop).encode()


@dataclass
class Kind:
    latencies: list[float] = field(default_factory=list)
    failed: int = 0
    timeouts: int = 0
    last_done: float = field(default_factory=time.monotonic)
    statuses: dict[int, int] = field(default_factory=dict)

    def summary(self) -> dict[str, object]:
        ms = sorted(x * 1000 for x in self.latencies)
        return {
            "completed": len(ms),
            "failed": self.failed,
            "timeouts": self.timeouts,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "median_ms": round(statistics.median(ms), 1) if ms else None,
            "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 1) if ms else None,
            "max_ms": round(ms[-1], 1) if ms else None,
        }


class Soak:
    def __init__(self, base: str, seconds: float, inputs: Path | None, token: str) -> None:
        self.base = base
        self.token = token  # the producer credential POST /messages needs
        self.end = time.monotonic() + seconds
        self.kinds: dict[str, Kind] = {k: Kind() for k in (*WRITES, "read")}
        self.lock = threading.Lock()
        self.stored: list[str] = []  # message IRIs, for readers
        self.posted: list[bytes] = []  # for repeats
        self.stall = 0.0  # the longest time without a completed write of some kind
        self.input_url = self._input(inputs)

    def _input(self, inputs: Path | None) -> str:
        if inputs is None:  # a server not started here: a message IRI is an input it can HEAD
            return f"{self.base}vocab"
        inputs.mkdir(parents=True, exist_ok=True)
        path = inputs / "input.txt"
        path.write_bytes(b"soak input\n")
        return path.as_uri()

    def running(self) -> bool:
        return time.monotonic() < self.end

    def timed(
        self, kind: str, call: Callable[[], httpx.Response], ok: set[int]
    ) -> httpx.Response | None:
        started = time.monotonic()
        record = self.kinds[kind]
        try:
            answer = call()
        except httpx.TimeoutException:
            with self.lock:
                record.timeouts += 1
            return None
        except httpx.HTTPError:
            with self.lock:
                record.failed += 1
            time.sleep(0.1)
            return None
        now = time.monotonic()
        with self.lock:
            record.statuses[answer.status_code] = record.statuses.get(answer.status_code, 0) + 1
            if answer.status_code in ok:
                record.latencies.append(now - started)
                record.last_done = now
            else:
                record.failed += 1
        return answer

    # --- the clients ----------------------------------------------------------------

    def poster(self, worker: int) -> None:
        with httpx.Client(timeout=TIMEOUT, trust_env=False) as client:
            n = 0
            while self.running():
                n += 1
                with self.lock:
                    repeat = self.posted[-1] if n % 10 == 0 and self.posted else None
                body = repeat or message(n, worker)
                answer = self.timed(
                    "message",
                    lambda b=body: client.post(  # type: ignore[misc]
                        f"{self.base}messages",
                        content=b,
                        headers={
                            "Content-Type": "application/json",
                            "Authorization": f"Bearer {self.token}",
                        },
                    ),
                    {200, 201},
                )
                if answer is not None and answer.status_code == 201:
                    with self.lock:
                        self.stored.append(answer.headers["location"])
                        self.posted.append(body)

    def uws(self, worker: int) -> None:
        with httpx.Client(timeout=TIMEOUT, trust_env=False) as client:
            while self.running():
                created = self.timed(
                    "uws",
                    lambda: client.post(
                        f"{self.base}uws/Fixity",
                        data={"URL": self.input_url, "PHASE": "RUN"},
                        follow_redirects=False,
                    ),
                    {303},
                )
                if created is None or created.status_code != 303:
                    continue
                url, phase = created.headers["location"], "QUEUED"
                for _ in range(20):  # bounded: a job is final long before
                    if not self.running():
                        break
                    try:
                        seen = client.get(url, params={"WAIT": "5", "PHASE": phase})
                        text = seen.text
                    except httpx.HTTPError:
                        break
                    phase = _phase(text) or phase
                    if phase in ("COMPLETED", "ERROR", "ABORTED"):
                        break

    def jobs(self, worker: int) -> None:
        with httpx.Client(timeout=TIMEOUT, trust_env=False) as client:
            while self.running():
                self.timed(
                    "job",
                    lambda: client.post(f"{self.base}jobs?profile=Fixity", content=self.input_url),
                    {201},
                )

    def reader(self, worker: int) -> None:
        queries = "ASK { ?m a <https://w3id.org/jobtrail/vocab#Message> }"
        with httpx.Client(timeout=TIMEOUT, trust_env=False) as client:
            n = 0
            while self.running():
                n += 1
                with self.lock:
                    iri = self.stored[n % len(self.stored)] if self.stored else None
                calls: list[Callable[[], httpx.Response]] = [
                    lambda: client.get(f"{self.base}sparql", params={"query": queries}),
                    lambda: client.get(f"{self.base}health"),
                ]
                if iri is not None:
                    calls.append(lambda i=iri: client.get(i, headers={"Accept": "text/turtle"}))  # type: ignore[misc]
                self.timed("read", calls[n % len(calls)], {200})
                time.sleep(0.01)

    def watch(self) -> None:
        """The longest time any kind of write went without completing, checked as it runs."""
        while self.running():
            time.sleep(0.5)
            now = time.monotonic()
            with self.lock:
                self.stall = max(self.stall, *(now - self.kinds[k].last_done for k in WRITES))


def _phase(text: str) -> str | None:
    start = text.find("<uws:phase>")
    if start < 0:
        return None
    end = text.find("</uws:phase>", start)
    return text[start + len("<uws:phase>") : end] if end > start else None


def run(
    base: str,
    seconds: float,
    writers: tuple[int, int, int, int],
    inputs: Path | None,
    token: str,
) -> Soak:
    soak = Soak(base, seconds, inputs, token)
    posters, uws, jobs, readers = writers
    threads = [threading.Thread(target=soak.watch)]
    threads += [threading.Thread(target=soak.poster, args=(i,)) for i in range(posters)]
    threads += [threading.Thread(target=soak.uws, args=(i,)) for i in range(uws)]
    threads += [threading.Thread(target=soak.jobs, args=(i,)) for i in range(jobs)]
    threads += [threading.Thread(target=soak.reader, args=(i,)) for i in range(readers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 2 * TIMEOUT + 60)  # every request has a timeout: they end
    return soak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-s", "--seconds", type=float, default=90)
    parser.add_argument("-m", "--posters", type=int, default=8)
    parser.add_argument("-u", "--uws", type=int, default=4)
    parser.add_argument("-j", "--jobs", type=int, default=2)
    parser.add_argument("-r", "--readers", type=int, default=2)
    parser.add_argument("--stall", type=float, default=20, help="seconds without a write: fail")
    parser.add_argument("--url", help="a running server (loopback only); else one is started")
    parser.add_argument("--inputs", help="with --url: a directory in the server's file_roots")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--token", help="with --url: a producer credential of that server (for POST /messages)"
    )
    args = parser.parse_args()
    token = args.token or secrets.token_urlsafe(24)
    seconds = min(args.seconds, 3600.0)
    server = None
    work = None
    if args.url:
        host = urlsplit(args.url).hostname or ""
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise SystemExit("--url must be a loopback address")
        base = args.url if args.url.endswith("/") else args.url + "/"
        inputs = Path(args.inputs) if args.inputs else None
    else:
        work = tempfile.TemporaryDirectory(prefix="jobtrail-soak-")
        port = free_port()
        server = start_server(Path(work.name), port, token)
        base = f"http://127.0.0.1:{port}/"
        inputs = Path(work.name) / "inputs"
    try:
        writers = (args.posters, args.uws, args.jobs, args.readers)
        soak = run(base, seconds, writers, inputs, token)
        try:
            health = httpx.get(f"{base}health", timeout=10).status_code
        except httpx.HTTPError as e:
            health = type(e).__name__  # type: ignore[assignment]
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        if work is not None:
            work.cleanup()
    ok = soak.stall < args.stall and health == 200
    figures = {
        "seconds": seconds,
        "clients": {
            "posters": args.posters,
            "uws": args.uws,
            "jobs": args.jobs,
            "readers": args.readers,
        },
        "longest_write_stall_s": round(soak.stall, 1),
        "health_at_end": health,
        "ok": ok,
        **{kind: record.summary() for kind, record in soak.kinds.items()},
    }
    if args.json:
        print(json.dumps(figures))
    else:
        print(
            f"{seconds:g} s, {args.posters} posters, {args.uws} UWS, {args.jobs} /jobs, "
            f"{args.readers} readers; longest write stall {soak.stall:.1f} s; "
            f"/health at the end: {health}"
        )
        for kind in (*WRITES, "read"):
            s = soak.kinds[kind].summary()
            print(
                f"  {kind:8} {s['completed']:>6} done  {s['failed']:>4} failed  "
                f"{s['timeouts']:>4} timeouts  median {s['median_ms']} ms  p95 {s['p95_ms']} ms  "
                f"max {s['max_ms']} ms  {s['statuses']}"
            )
        print("OK" if ok else "FAILED: writes stopped completing")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
