"""Job creations/s and dereferences/s with 1, 2 and 4 `jobtrail serve` processes over one
remote engine, in one run.

Starts an `oxigraph serve` of its own (or uses the engine given with `--store URL`, e.g. a
Virtuoso at http://127.0.0.1:8890/sparql), loads the examples into it, then for each number
of processes N starts N `jobtrail serve` processes on free ports over that engine (one shared
files directory, rendition cache off so that every dereference reads the engine, query
processes off) and measures, with C connections spread over the N processes for T seconds
each (async httpx, round robin):

  - GET /health             the stack's ceiling with N processes
  - GET /messages/{sha256}  dereferences/s (Turtle, uncached: a read of the engine each)
  - POST /jobs              creations/s (Fixity jobs of a tiny file under a file root; each
                            creation is one log write under the log's lease, so creations do
                            not scale with N: they queue on the lease; their runs do)

then waits for the jobs to finish and checks that every job ran exactly once (one change
record to EXECUTING each) and that `jobtrail verify` finds the log whole. Prints one row per
N and the ratios against N = 1.

    python bench/scale.py                       # N = 1, 2, 4; C = 16; T = 5 s
    python bench/scale.py -n 1 -n 2 -t 3
    python bench/scale.py --store http://127.0.0.1:8890/sparql
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
import httpx  # noqa: E402

JT = "https://w3id.org/jobtrail/vocab#"
ADMIN = "bench-admin-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(url: str, process: subprocess.Popen[bytes], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            httpx.get(url, timeout=2).raise_for_status()
            return
        except httpx.HTTPError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{what} did not start") from None
            time.sleep(0.1)


@contextlib.contextmanager
def oxigraph(work: Path) -> Iterator[str]:
    binary = Path(sys.executable).parent / "oxigraph"
    command = str(binary) if binary.exists() else shutil.which("oxigraph")
    if command is None:
        raise SystemExit("no `oxigraph` binary: pip install oxigraph")
    port = free_port()
    server = subprocess.Popen(
        [command, "serve", "--location", str(work / "engine"), "--bind", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(f"{url}/query?query=ASK%7B%7D", server, "oxigraph serve")
        yield url
    finally:
        server.terminate()
        server.wait(30)


@contextlib.contextmanager
def processes(store: str, work: Path, n: int) -> Iterator[list[str]]:
    env = {
        **os.environ,
        "JOBTRAIL_FILE_ROOTS": str(work / "inputs"),
        "JOBTRAIL_FILES": str(work / "files"),
        "JOBTRAIL_KEY_FILE": str(work / "key"),
        "JOBTRAIL_LOG_KEY_FILE": str(work / "log-key"),
        "JOBTRAIL_CACHE_SIZE": "0",
        "JOBTRAIL_QUERY_WORKERS": "0",
        "JOBTRAIL_ADMIN_TOKEN": ADMIN,
    }
    started: list[tuple[subprocess.Popen[bytes], str]] = []
    try:
        for _ in range(n):
            port = free_port()
            command = [sys.executable, "-m", "jobtrail.cli", "serve", "--store", store]
            server = subprocess.Popen(
                [*command, "--port", str(port)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            started.append((server, f"http://127.0.0.1:{port}/"))
        for server, url in started:
            wait_until(f"{url}health", server, "jobtrail serve")
        yield [url for _, url in started]
    finally:
        for server, _ in started:
            server.terminate()
        for server, _ in started:
            server.wait(30)


async def _load(urls: list[str], conns: int, seconds: float, body: str | None) -> tuple[int, int]:
    done = bad = 0
    limits = httpx.Limits(max_connections=conns, max_keepalive_connections=conns)
    async with httpx.AsyncClient(limits=limits, trust_env=False, timeout=60) as client:
        deadline = time.monotonic() + seconds

        async def one(i: int) -> None:
            nonlocal done, bad
            k = i
            while time.monotonic() < deadline:
                url = urls[k % len(urls)]
                k += 1
                if body is None:
                    r = await client.get(url, headers={"Accept": "text/turtle"})
                else:
                    r = await client.post(url, content=body)
                bad += r.status_code >= 400
                done += 1

        await asyncio.gather(*(one(i) for i in range(conns)))
    return done, bad


def rate(urls: list[str], conns: int, seconds: float, body: str | None = None) -> tuple[float, int]:
    start = time.perf_counter()
    done, bad = asyncio.run(_load(urls, conns, seconds, body))
    return done / (time.perf_counter() - start), bad


def sparql(base: str, query: str) -> list[dict[str, dict[str, str]]]:
    answer = httpx.get(
        f"{base}sparql",
        params={"query": query},
        headers={"Accept": "application/sparql-results+json", "Authorization": f"Bearer {ADMIN}"},
        timeout=120,
    )
    answer.raise_for_status()
    rows: list[dict[str, dict[str, str]]] = answer.json()["results"]["bindings"]
    return rows


def drain(base: str, seconds: float = 900) -> None:
    query = (
        f"SELECT ?j WHERE {{ GRAPH ?j {{ ?j a <{JT}Job> ; <{JT}phase> ?p }} "
        "FILTER(STRENDS(STR(?p), '/QUEUED') || STRENDS(STR(?p), '/EXECUTING')) } LIMIT 1"
    )
    deadline = time.monotonic() + seconds
    while sparql(base, query) and time.monotonic() < deadline:
        time.sleep(0.5)


def runs_per_job(base: str) -> dict[int, int]:
    """How many jobs went to EXECUTING how many times: {1: jobs run once, 2: …}."""
    rows = sparql(
        base,
        f"SELECT ?job (COUNT(?m) AS ?n) WHERE {{ ?m <{JT}about> ?job ; <{JT}toPhase> ?to "
        "FILTER(STRENDS(STR(?to), '/EXECUTING')) } GROUP BY ?job",
    )
    counts: dict[int, int] = {}
    for row in rows:
        n = int(row["n"]["value"])
        counts[n] = counts.get(n, 0) + 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, action="append", help="processes (default 1, 2, 4)")
    parser.add_argument("-c", type=int, default=16, help="connections in all (default 16)")
    parser.add_argument("-t", type=float, default=5.0, help="seconds per measure (default 5)")
    parser.add_argument("--store", help="an engine's URL (default: an oxigraph serve of its own)")
    args = parser.parse_args()
    counts = args.n or [1, 2, 4]
    print(f"{platform.node()} · {os.cpu_count()} CPUs · Python {platform.python_version()}")
    with tempfile.TemporaryDirectory(prefix="jobtrail-bench-scale-") as tmp:
        work = Path(tmp)
        (work / "inputs").mkdir()
        tiny = work / "inputs" / "tiny.txt"
        tiny.write_text("a trivial input\n")
        with contextlib.ExitStack() as stack:
            store = args.store or stack.enter_context(oxigraph(work))
            load = [sys.executable, "-m", "jobtrail.cli", "load", str(ROOT / "examples")]
            subprocess.run([*load, "--store", store, "--silent"], check=True)
            print(f"engine: {store}; {args.c} connections, {args.t:g} s per measure (httpx)")
            rows = []
            for n in counts:
                with processes(store, work, n) as urls:
                    found = sparql(
                        urls[0],
                        f"SELECT ?m WHERE {{ GRAPH ?m {{ ?m a <{JT}Message> }} }} LIMIT 200",
                    )
                    paths = [
                        "/messages/" + r["m"]["value"].rsplit("/messages/", 1)[1] for r in found
                    ]
                    random.Random(n).shuffle(paths)
                    derefs = [u.rstrip("/") + p for u in urls for p in paths]
                    health, _ = rate([f"{u}health" for u in urls], args.c, args.t)
                    deref, bad_deref = rate(derefs, args.c, args.t)
                    body = tiny.as_uri()
                    jobs_at = [f"{u}jobs?profile=Fixity" for u in urls]
                    created, bad_jobs = rate(jobs_at, args.c, args.t, body)
                    drain(urls[0])
                    rows.append((n, health, deref, created, bad_deref + bad_jobs))
            runs = runs_per_job_and_verify(store, work)
        first = rows[0]
        print(f"{'processes':>9} {'/health/s':>10} {'deref/s':>9} {'jobs/s':>8} {'failed':>6}")
        for n, health, deref, created, bad in rows:
            print(
                f"{n:>9} {health:>10,.0f} {deref:>9,.0f} {created:>8,.0f} {bad:>6}   "
                f"× {health / first[1]:.2f} / {deref / first[2]:.2f} / {created / first[3]:.2f}"
            )
        print(runs)


def runs_per_job_and_verify(store: str, work: Path) -> str:
    with processes(store, work, 1) as urls:
        counts = runs_per_job(urls[0])
    verify = subprocess.run(
        [sys.executable, "-m", "jobtrail.cli", "verify", "--store", store],
        capture_output=True,
        text=True,
    )
    once = counts.get(1, 0)
    more = sum(v for k, v in counts.items() if k > 1)
    whole = "whole" if verify.returncode == 0 else f"NOT whole:\n{verify.stdout}{verify.stderr}"
    return f"jobs run once: {once:,}; more than once: {more}; jobtrail verify: the log is {whole}"


if __name__ == "__main__":
    main()
