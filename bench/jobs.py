"""Job creations/s through POST /jobs, and how long a job waits in the queue, in one run.

Starts the real `jobtrail serve` (uvicorn, embedded store on disk, its worker pool)
on a free port of 127.0.0.1, with a tiny input file under a configured file root, and
measures against that one server:

  (a) GET /health requests/s on the idle server (the stack's ceiling), then POST /jobs
      creations/s, each with C concurrent connections for T seconds (wrk when installed,
      else async httpx); every job is a Fixity check of the tiny file (a trivial profile:
      the file is read from disk, no network), and the worker pool runs them meanwhile;
  (b) once the queue from (a) has drained: J jobs posted one after another (25 ms apart,
      so the queue is idle), and from each job's own record the queue latency
      (created → started executing) and created → COMPLETED, median and p95, plus
      the client's view: POST sent → the 303 seen (polling every 2 ms).

    python bench/jobs.py                 # C = 32, T = 10 s, J = 200
    python bench/jobs.py -t 3 -j 50
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

# keep bench/ (and its http.py) off the path while httpx imports the standard library's http
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
import httpx  # noqa: E402

JT = "https://w3id.org/jobtrail/vocab#"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(work: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "JOBTRAIL_FILE_ROOTS": str(work / "inputs"),
        "JOBTRAIL_FILES": str(work / "files"),
        "JOBTRAIL_RESULTS_TTL": "3600",
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
                raise SystemExit("the server did not start") from None
            time.sleep(0.1)


def wrk(url: str, conns: int, seconds: float, work: Path, body: str | None) -> tuple[float, int]:
    """Requests/s and failed requests (non-2xx/3xx, socket errors) of one wrk run."""
    script = work / "post.lua"
    if body is not None:
        script.write_text(
            f'wrk.method = "POST"\nwrk.body = "{body}"\n'
            'wrk.headers["Content-Type"] = "text/plain"\n'
        )
    else:
        script.write_text("")
    cmd = ["wrk", "-t1", f"-c{conns}", f"-d{max(1, round(seconds))}s", "-s", str(script), url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rate = re.search(r"Requests/sec:\s*([\d.]+)", out)
    if rate is None:
        raise SystemExit("could not read wrk's output:\n" + out)
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: ([^\n]*)", out)
    bad = int(failed.group(1)) if failed else 0
    bad += sum(map(int, re.findall(r"\d+", errors.group(1)))) if errors else 0
    return float(rate.group(1)), bad


async def _httpx(url: str, conns: int, seconds: float, body: str | None) -> tuple[int, int]:
    done = bad = 0
    limits = httpx.Limits(max_connections=conns, max_keepalive_connections=conns)
    async with httpx.AsyncClient(limits=limits, trust_env=False) as client:
        deadline = time.monotonic() + seconds

        async def one() -> None:
            nonlocal done, bad
            while time.monotonic() < deadline:
                if body is None:
                    r = await client.get(url)
                else:
                    r = await client.post(url, content=body)
                bad += r.status_code >= 400
                done += 1

        await asyncio.gather(*(one() for _ in range(conns)))
    return done, bad


def load(url: str, conns: int, seconds: float, work: Path, body: str | None) -> tuple[float, int]:
    if shutil.which("wrk"):
        return wrk(url, conns, seconds, work, body)
    start = time.perf_counter()
    done, bad = asyncio.run(_httpx(url, conns, seconds, body))
    return done / (time.perf_counter() - start), bad


def drain(base: str, seconds: float = 600) -> int:
    """Wait until no job is QUEUED or EXECUTING; the number of jobs stored."""
    query = (
        f"SELECT (COUNT(?j) AS ?n) (SUM(IF(?p IN (<https://w3id.org/jobtrail/status/uws/QUEUED>,"
        f" <https://w3id.org/jobtrail/status/uws/EXECUTING>), 1, 0)) AS ?active) "
        f"WHERE {{ GRAPH ?j {{ ?j a <{JT}Job> ; <{JT}phase> ?p }} }}"
    )
    deadline = time.monotonic() + seconds
    while True:
        row = httpx.get(
            f"{base}sparql", params={"query": query}, headers={"Accept": "text/csv"}, timeout=60
        ).text.splitlines()[1]
        total, active = (int(x or 0) for x in row.split(","))
        if active == 0 or time.monotonic() > deadline:
            return total
        time.sleep(0.5)


def times(base: str, jobs: list[str]) -> dict[str, tuple[datetime, datetime, datetime]]:
    values = " ".join(f"<{j}>" for j in jobs)
    query = (
        f"SELECT ?j ?c ?s ?e WHERE {{ VALUES ?j {{ {values} }} GRAPH ?j {{ "
        "?j <http://purl.org/dc/terms/created> ?c ; <http://www.w3.org/ns/prov#startedAtTime> ?s ;"
        " <http://www.w3.org/ns/prov#endedAtTime> ?e } }"
    )
    text = httpx.post(
        f"{base}sparql", data={"query": query}, headers={"Accept": "text/csv"}, timeout=60
    ).text
    out = {}
    for line in text.splitlines()[1:]:
        j, *stamps = line.split(",")
        c, s, e = (datetime.fromisoformat(x.replace("Z", "+00:00")) for x in stamps)
        out[j] = (c, s, e)
    return out


def ms(values: list[float], q: float) -> float:
    return 1000 * statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-c", type=int, default=32, help="concurrent connections (default 32)")
    parser.add_argument("-t", type=float, default=10, help="seconds of phase (a) (default 10)")
    parser.add_argument("-j", type=int, default=200, help="jobs timed in phase (b) (default 200)")
    args = parser.parse_args()
    print(f"{platform.node()} · {os.cpu_count()} CPUs · Python {platform.python_version()}")
    with tempfile.TemporaryDirectory(prefix="jobtrail-bench-jobs-") as tmp:
        work = Path(tmp)
        (work / "inputs").mkdir()
        tiny = work / "inputs" / "tiny.txt"
        tiny.write_text("a trivial input\n")
        port = free_port()
        base = f"http://127.0.0.1:{port}/"
        server = start_server(work, port)
        try:
            body = f"{tiny.as_uri()}"
            health, _ = load(f"{base}health", args.c, args.t, work, None)  # idle: the ceiling
            creations, bad = load(f"{base}jobs?profile=Fixity", args.c, args.t, work, body)
            tool = "wrk, 1 thread" if shutil.which("wrk") else "httpx async"
            print(
                f"(a) POST /jobs: {creations:,.0f} creations/s ({tool}, {args.c} connections, "
                f"{args.t:g} s; {bad} failed)  goal ≥ 500"
            )
            print(
                f"    GET /health: {health:,.0f} requests/s (the ceiling, on the idle server); "
                f"ratio {creations / health:.1%}"
            )
            start = time.perf_counter()
            total = drain(base)
            print(
                f"    {total:,} jobs stored; the queue drained {time.perf_counter() - start:.1f} s "
                "after phase (a) ended"
            )
            posted, seen = [], []
            with httpx.Client(timeout=30) as client:
                for _ in range(args.j):
                    sent = time.perf_counter()
                    job = client.post(f"{base}jobs?profile=Fixity", content=body).text
                    while (r := client.get(job)).status_code == 202:
                        time.sleep(0.002)
                    if r.status_code != 303:
                        raise SystemExit(f"{job} ended with {r.status_code}: {r.text}")
                    seen.append(time.perf_counter() - sent)
                    posted.append(job)
                    time.sleep(0.025)
            recorded = times(base, posted)
            queue = [(s - c).total_seconds() for c, s, _ in recorded.values()]
            complete = [(e - c).total_seconds() for c, _, e in recorded.values()]
            print(
                f"(b) {len(recorded)} jobs one at a time: queue latency (created → EXECUTING) "
                f"median {ms(queue, 0.5):.1f} ms, p95 {ms(queue, 0.95):.1f} ms  goal < 50 ms"
            )
            print(
                f"    created → COMPLETED median {ms(complete, 0.5):.1f} ms, "
                f"p95 {ms(complete, 0.95):.1f} ms; client POST → 303 seen "
                f"median {ms(seen, 0.5):.1f} ms"
            )
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
