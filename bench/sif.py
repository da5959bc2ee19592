"""What a SIF request costs, against the server's own floor, in one run.

Starts the real `jobtrail serve` (embedded store on disk) on a free port and, one
request at a time on one connection, times: GET /health (the floor), POST a job
document (parse, schema, job + SIF record + two hops), POST a phase state (the
job's state derived, its UWS phase walked), GET the job document; then an entity
bomb (10^9 expansions if a parser expanded them) against a valid job of the same size.

    python bench/sif.py            # N = 200 jobs
    python bench/sif.py -n 50
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
import httpx  # noqa: E402

NS = "http://www.sifassociation.org/infrastructure/3.2.1"
JOB = (
    f'<job xmlns="{NS}"><name>Transfer</name><timeout>P1D</timeout><initialization>'
    '<phaseName>package</phaseName><payload><consignment xmlns="urn:x" ref="TDR-2021-GW3"/>'
    "</payload></initialization></job>"
).encode()
STATE = f'<state xmlns="{NS}"><type>INPROGRESS</type></state>'.encode()
BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE job [<!ENTITY a "aaaaaaaaaa">'
    + b"".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(8)
    )
    + f']><job xmlns="{NS}"><name>Transfer</name><description>&i;</description></job>'.encode()
)


def _bench_jobs() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_jobs", HERE / "jobs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def timed(n: int, call: Callable[[int], httpx.Response], status: int) -> list[float]:
    out = []
    for i in range(n):
        started = time.perf_counter()
        response = call(i)
        out.append((time.perf_counter() - started) * 1000)
        assert response.status_code == status, response.text
    return out


def line(name: str, ms: list[float], floor: float) -> None:
    median = statistics.median(ms)
    p95 = statistics.quantiles(ms, n=20)[-1]
    print(f"{name:<28} median {median:7.2f} ms   p95 {p95:7.2f} ms   {median / floor:6.1f}× floor")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="jobs (default 200)")
    n = parser.parse_args().n
    jobs = _bench_jobs()
    with tempfile.TemporaryDirectory() as tmp:
        port = jobs.free_port()
        server = jobs.start_server(Path(tmp), port)
        try:
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base, headers={"Content-Type": "application/xml"}) as c:
                floor = timed(n, lambda i: c.get("/health"), 200)
                made: list[str] = []

                def create(i: int) -> httpx.Response:
                    r = c.post("/sif/jobs/Transfers/Transfer", content=JOB)
                    made.append(r.headers.get("Location", ""))
                    return r

                created = timed(n, create, 201)
                states = timed(
                    n, lambda i: c.post(f"{made[i]}/package/states/state", content=STATE), 201
                )
                reads = timed(n, lambda i: c.get(made[i]), 200)
                bombs = timed(
                    max(n // 10, 5),
                    lambda i: c.post("/sif/jobs/Transfers/Transfer", content=BOMB),
                    400,
                )
        finally:
            server.terminate()
            server.wait()
    base_ms = statistics.median(floor)
    print(f"{n} jobs, one request at a time; floor = GET /health, median {base_ms:.2f} ms")
    line("POST job (201)", created, base_ms)
    line("POST phase state (201)", states, base_ms)
    line("GET job (200)", reads, base_ms)
    line("entity bomb refused (400)", bombs, base_ms)


if __name__ == "__main__":
    main()
