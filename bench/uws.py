"""UWS 1.1 blocking: W clients in WAIT while J jobs complete, against one real server.

Starts the real `jobtrail serve` (uvicorn, embedded store, its worker pool) on a free
port of 127.0.0.1 and creates J PENDING Fixity jobs of a tiny file through the UWS
list. Then:

  (a) idle: W clients each block in `GET /uws/Fixity/{id}?WAIT=60` on a PENDING job
      for S seconds while nothing changes; the server's CPU time over that window
      (from /proc, all its threads) says what the waiters cost: goal near idle;
  (b) busy: every one of the J jobs is sent PHASE=RUN (in random order) and the worker
      pool runs them; each of the W clients follows its job with WAIT=60&PHASE=<last
      seen> until the job is COMPLETED. Each answer that shows a new EXECUTING or
      COMPLETED phase is timed against the job's own startTime or endTime (the moment
      the job core committed the change; same machine, same clock): the wake latency.
      Goal: every waiter wakes within 100 ms.

    python bench/uws.py                  # W = 200, J = 1,000, S = 10
    python bench/uws.py -w 50 -j 200 -s 3
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # imports: libraries first
import httpx  # noqa: E402
from lxml import etree  # noqa: E402

UWS = "{http://www.ivoa.net/xml/UWS/v1.0}"


def _bench_jobs() -> ModuleType:
    """bench/jobs.py, for its server start-up (one way to start the server for a bench)."""
    spec = importlib.util.spec_from_file_location("bench_jobs", HERE / "jobs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its descendants, all threads (Linux /proc).

    `jobtrail serve` supervises the uvicorn process that does the work: count both.
    """
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        total += sum(cpu_seconds(int(child)) for child in children)
    return total


class Connection:
    """One keep-alive HTTP/1.1 connection for GETs, on asyncio streams.

    The followers use these rather than httpx: 200 requests in flight through one
    httpx pool cost the client more CPU than the server spends, and the client's
    delay would be counted as the server's.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def get(self, target: str) -> tuple[int, bytes]:
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        writer.write(f"GET {target} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await reader.readexactly(length)

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()


def parsed(body: bytes) -> tuple[str, datetime | None, datetime | None]:
    job = etree.fromstring(body)

    def when(name: str) -> datetime | None:
        text = job.findtext(f"{UWS}{name}")
        return datetime.fromisoformat(text) if text else None

    return job.findtext(f"{UWS}phase") or "", when("startTime"), when("endTime")


async def create(client: httpx.AsyncClient, n: int, uri: str) -> list[str]:
    gate = asyncio.Semaphore(32)

    async def one() -> str:
        async with gate:
            r = await client.post("uws/Fixity", data={"URL": uri}, follow_redirects=False)
            assert r.status_code == 303, r.text
            return str(r.headers["location"])

    return list(await asyncio.gather(*(one() for _ in range(n))))


def target(url: str) -> str:
    return "/" + url.split("/", 3)[3]


async def idle(
    connections: list[Connection], followed: list[str], seconds: float, pid: int
) -> float:
    """CPU seconds the server used while the waiters blocked on PENDING jobs."""

    async def block(connection: Connection, url: str) -> None:
        status, _ = await connection.get(f"{target(url)}?WAIT={round(seconds) + 30}")
        assert status == 200

    tasks = [asyncio.create_task(block(c, u)) for c, u in zip(connections, followed, strict=True)]
    await asyncio.sleep(1.0)  # every waiter is in
    before = cpu_seconds(pid)
    await asyncio.sleep(seconds)
    used = cpu_seconds(pid) - before
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for c in connections:
        c.close()  # a cancelled GET leaves its connection mid-answer
        c.streams = None
    return used


async def busy(
    client: httpx.AsyncClient,
    connections: list[Connection],
    jobs: list[str],
    followed: list[str],
    concurrency: int,
) -> tuple[list[float], float]:
    """Wake latencies (s) of the followers while every job runs; the run's wall time."""
    latencies: list[float] = []

    async def follow(connection: Connection, url: str) -> None:
        phase = "PENDING"
        while phase != "COMPLETED":
            status, body = await connection.get(f"{target(url)}?WAIT=60&PHASE={phase}")
            seen = datetime.now().astimezone()
            assert status == 200, body
            new, started, ended = parsed(body)
            if new != phase and new in ("EXECUTING", "COMPLETED"):
                changed = ended if new == "COMPLETED" else started
                assert changed is not None
                latencies.append((seen - changed).total_seconds())
            assert new not in ("ERROR", "ABORTED"), f"{url} ended {new}"
            phase = new

    followers = [
        asyncio.create_task(follow(c, u)) for c, u in zip(connections, followed, strict=True)
    ]
    await asyncio.sleep(0.5)
    order = random.Random(7).sample(jobs, len(jobs))
    gate = asyncio.Semaphore(concurrency)

    async def run(url: str) -> None:
        async with gate:
            r = await client.post(f"{url}/phase", data={"PHASE": "RUN"})
            assert r.status_code == 303, r.text

    start = time.perf_counter()
    await asyncio.gather(*(run(u) for u in order))
    await asyncio.gather(*followers)
    return latencies, time.perf_counter() - start


async def bench(base: str, work: Path, args: argparse.Namespace, pid: int) -> None:
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    port = int(base.rsplit(":", 1)[1].strip("/"))
    connections = [Connection("127.0.0.1", port) for _ in range(args.w)]
    async with httpx.AsyncClient(
        base_url=base, limits=limits, timeout=httpx.Timeout(120), trust_env=False
    ) as client:
        tiny = work / "inputs" / "tiny.txt"
        jobs = await create(client, args.j, tiny.as_uri())
        followed = jobs[: args.w]
        used = await idle(connections, followed, args.s, pid)
        print(
            f"(a) {args.w} clients blocked in WAIT for {args.s:g} s on PENDING jobs: server CPU "
            f"{used:.2f} s = {used / args.s:.1%} of one core  goal: near idle"
        )
        latencies, wall = await busy(client, connections, jobs, followed, args.r)
    for c in connections:
        c.close()
    ms = sorted(1000 * x for x in latencies)
    late = sum(1 for x in ms if x > 100)
    p95 = statistics.quantiles(ms, n=100)[94] if len(ms) > 1 else ms[0]
    print(
        f"(b) {args.j:,} jobs sent PHASE=RUN, {args.r} at a time, and run "
        f"({args.j / wall:,.0f} jobs/s, {wall:.1f} s) while {args.w} "
        f"clients follow theirs with WAIT: {len(ms)} wake-ups"
    )
    print(
        f"    wake latency after the phase change: median {statistics.median(ms):.1f} ms, "
        f"p95 {p95:.1f} ms, max {ms[-1]:.1f} ms; over 100 ms: {late}  goal: none"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-w", type=int, default=200, help="waiting clients (default 200)")
    parser.add_argument("-j", type=int, default=1000, help="jobs run (default 1,000)")
    parser.add_argument("-s", type=float, default=10, help="seconds of idle waiting (default 10)")
    parser.add_argument("-r", type=int, default=16, help="PHASE=RUN requests at once (default 16)")
    args = parser.parse_args()
    if args.w > args.j:
        parser.error("-w is at most -j: each waiter follows a job of its own")
    print(f"{platform.node()} · {os.cpu_count()} CPUs · Python {platform.python_version()}")
    jobs_bench = _bench_jobs()
    with tempfile.TemporaryDirectory(prefix="jobtrail-bench-uws-") as tmp:
        work = Path(tmp)
        (work / "inputs").mkdir()
        (work / "inputs" / "tiny.txt").write_text("a trivial input\n")
        port = jobs_bench.free_port()
        os.environ["JOBTRAIL_UWS_MAX_WAIT"] = "120"
        server = jobs_bench.start_server(work, port)
        try:
            asyncio.run(bench(f"http://127.0.0.1:{port}/", work, args, server.pid))
        finally:
            server.terminate()
            server.wait(timeout=20)


if __name__ == "__main__":
    main()
