"""HTTP throughput of the real server vs its own ceiling, and /sparql vs in-process, in one run.

Generates N synthetic TRE hops (bench/ingest.py's generator), loads them with the
real `jobtrail load` into a fresh embedded store, starts the real `jobtrail serve`
(uvicorn) on a free port of 127.0.0.1 and measures, against that one server:

  (a) requests/s dereferencing random message IRIs as Turtle (1,000 IRIs, computed
      as BASE + "messages/" + sha256 of each JSON line), C connections for T seconds;
  (b) requests/s of GET /health, the same stack's ceiling; the ratio (a)/(b);
  (c) median and p95 latency of a /sparql point lookup (`SELECT ?p ?o WHERE { <iri> ?p ?o }`,
      sequential, one client) vs the same query run in-process on pyoxigraph (store opened
      read-only; query + full consumption + JSON serialisation timed). Skipped if /sparql is 404.

The load generator is wrk when installed (one thread, random paths from a Lua list),
else an async httpx client; both are bounded in time, httpx also in request count.

    python bench/http.py                  # N = 100,000, C = 32, T = 10 s
    python bench/http.py -n 2000 -t 3 -c 16
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import platform
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

# This file is named http.py: keep its directory off the path while the standard
# library's `http` is imported (by httpx), then put it back for bench/ingest.py.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
import httpx  # noqa: E402
import pyoxigraph as ox  # noqa: E402

sys.path.insert(0, str(HERE))
import ingest as synthetic  # noqa: E402

TURTLE = {"Accept": "text/turtle"}
JSON_RESULTS = {"Accept": "application/sparql-results+json"}
MAX_REQUESTS = 2_000_000  # per phase, for the httpx generator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def message_paths(jsonl: Path, k: int, rng: random.Random) -> list[str]:
    """Paths of k random messages: /messages/{sha256 of the line without its line ending}."""
    with open(jsonl, "rb") as f:
        digests = [hashlib.sha256(line.rstrip(b"\r\n")).hexdigest() for line in f if line.strip()]
    return ["/messages/" + d for d in rng.sample(digests, min(k, len(digests)))]


def start_server(store: Path, port: int, base: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "jobtrail.cli", "serve", "--store", str(store)]
    log = store.parent / "server.log"
    with open(log, "wb") as out:  # the child keeps its own copy of the descriptor
        server = subprocess.Popen(
            [*cmd, "--host", "127.0.0.1", "--port", str(port), "--base-url", base],
            cwd=store.parent,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    with httpx.Client(trust_env=False, timeout=2) as client:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                tail = log.read_text(errors="replace")[-2000:]
                raise SystemExit(f"jobtrail serve exited with {server.returncode}:\n{tail}")
            try:
                if client.get(base + "health").status_code == 200:
                    return server
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    server.terminate()
    raise SystemExit("jobtrail serve did not answer /health within 60 s")


def stop_server(server: subprocess.Popen[bytes] | None) -> None:
    if server is None or server.poll() is not None:
        return
    server.terminate()
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def wrk(base: str, paths: list[str], conns: int, seconds: float, work: Path) -> tuple[float, int]:
    """Requests/s and non-2xx/3xx + socket errors, wrk picking a random path per request."""
    script = work / f"paths-{len(paths)}.lua"
    listed = ",\n".join(f'  "{p}"' for p in paths)
    script.write_text(
        f"local paths = {{\n{listed}\n}}\nlocal n = #paths\n"
        "math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))\n"
        "request = function()\n"
        '  return wrk.format("GET", paths[math.random(n)], {Accept = "text/turtle"})\n'
        "end\n"
    )
    cmd = ["wrk", "-t1", f"-c{conns}", f"-d{max(1, round(seconds))}s", "-s", str(script), base]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rate = re.search(r"Requests/sec:\s*([\d.]+)", out)
    if rate is None:
        raise SystemExit("could not read wrk's output:\n" + out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: ([^\n]*)", out)
    bad = int(non_2xx.group(1)) if non_2xx else 0
    bad += sum(map(int, re.findall(r"\d+", socket_errors.group(1)))) if socket_errors else 0
    return float(rate.group(1)), bad


async def _httpx_phase(base: str, paths: list[str], conns: int, seconds: float) -> tuple[int, int]:
    done = bad = 0
    limits = httpx.Limits(max_connections=conns, max_keepalive_connections=conns)
    async with httpx.AsyncClient(base_url=base, limits=limits, trust_env=False) as client:
        deadline = time.monotonic() + seconds
        rng = random.Random(1)

        async def worker() -> None:
            nonlocal done, bad
            while time.monotonic() < deadline and done < MAX_REQUESTS:
                try:
                    r = await client.get(rng.choice(paths), headers=TURTLE)
                    bad += r.status_code >= 400
                except httpx.HTTPError:
                    bad += 1
                done += 1

        await asyncio.gather(*(worker() for _ in range(conns)))
    return done, bad


def httpx_load(base: str, paths: list[str], conns: int, seconds: float) -> tuple[float, int]:
    start = time.perf_counter()
    done, bad = asyncio.run(_httpx_phase(base.rstrip("/"), paths, conns, seconds))
    return done / (time.perf_counter() - start), bad


def point_query(iri: str) -> str:
    return f"SELECT ?p ?o WHERE {{ <{iri}> ?p ?o }}"


def sparql_http(base: str, iris: list[str], warm: int) -> list[float] | str:
    """Per-request seconds of sequential GET /sparql lookups (after `warm` untimed), or why not."""
    times: list[float] = []
    with httpx.Client(base_url=base, trust_env=False, timeout=30) as client:
        probe = client.get("sparql?query=" + quote(point_query(iris[0])), headers=JSON_RESULTS)
        kind = probe.headers.get("content-type", "")
        if probe.status_code != 200 or not kind.startswith(JSON_RESULTS["Accept"]):
            return f"GET /sparql answered {probe.status_code} {kind or '(no type)'}"
        for i, iri in enumerate(iris[:warm] + iris):
            url = "sparql?query=" + quote(point_query(iri))
            start = time.perf_counter()
            r = client.get(url, headers=JSON_RESULTS)
            body = r.content
            elapsed = time.perf_counter() - start
            if r.status_code != 200 or not body:
                return f"GET /sparql answered {r.status_code} on request {i}"
            times.append(elapsed)
    return times[warm:]


def sparql_inprocess(store_dir: Path, iris: list[str], warm: int) -> list[float]:
    store = ox.Store.read_only(str(store_dir))  # works while the server holds the store
    times: list[float] = []
    for iri in iris[:warm] + iris:
        start = time.perf_counter()
        results = store.query(point_query(iri), use_default_graph_as_union=True)
        assert isinstance(results, ox.QuerySolutions)
        results.serialize(format=ox.QueryResultsFormat.JSON)  # consumes every solution
        times.append(time.perf_counter() - start)
    return times[warm:]


def ms(seconds: list[float], q: float) -> float:
    return 1000 * statistics.quantiles(seconds, n=100, method="inclusive")[round(q * 100) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=100_000, help="number of hops (default 100,000)")
    parser.add_argument("-c", type=int, default=32, help="concurrent connections (default 32)")
    parser.add_argument("-t", type=float, default=10.0, help="seconds per load phase (default 10)")
    parser.add_argument("-q", type=int, default=500, help="/sparql lookups (default 500)")
    parser.add_argument("--httpx", action="store_true", help="use httpx even if wrk is installed")
    args = parser.parse_args()
    use_wrk = shutil.which("wrk") is not None and not args.httpx
    rng = random.Random(7)
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    work = Path(tempfile.mkdtemp(prefix="jobtrail-bench-http-"))
    server: subprocess.Popen[bytes] | None = None
    try:
        jsonl, store = work / "hops.jsonl", work / "store"
        synthetic.write_jsonl(jsonl, args.n)
        start = time.perf_counter()
        load = [sys.executable, "-m", "jobtrail.cli", "load", str(jsonl), "--store", str(store)]
        subprocess.run([*load, "--silent", "--base-url", base], cwd=work, check=True)
        load_s = time.perf_counter() - start
        paths = message_paths(jsonl, 1000, rng)
        server = start_server(store, port, base)
        with httpx.Client(trust_env=False) as client:  # every path must dereference
            for p in paths[:20]:
                r = client.get(base + p.lstrip("/"), headers=TURTLE)
                if r.status_code != 200:
                    raise SystemExit(f"GET {p} answered {r.status_code}: {r.text[:200]}")

        def run(ps: list[str]) -> tuple[float, int]:
            if use_wrk:
                return wrk(base, ps, args.c, args.t, work)
            return httpx_load(base, ps, args.c, args.t)

        run(paths[:50])  # warm-up, not reported
        turtle, turtle_bad = run(paths)
        health, health_bad = run(["/health"])
        iris = [base + p.lstrip("/") for p in rng.choices(paths, k=args.q)]
        http_times = sparql_http(base, iris, warm=20)
        local_times = sparql_inprocess(store, iris, warm=20)

        mode = f"wrk, 1 thread, {args.c} connections"
        if not use_wrk:  # one Python client process is usually slower than the server
            mode = f"httpx async, {args.c} connections (client-bound: install wrk)"
        print(f"Python {platform.python_version()}, pyoxigraph {ox.__version__}, generator {mode}")
        print(f"{args.n:,} hops loaded in {load_s:.1f} s; {args.t:g} s per phase; base {base}")
        print(f"{'measure':<44} {'figure':>14}")
        print(f"{'(a) GET message IRI as Turtle':<44} {turtle:>10,.0f} r/s  errors {turtle_bad}")
        print(f"{'(b) GET /health (ceiling)':<44} {health:>10,.0f} r/s  errors {health_bad}")
        print(f"{'(a)/(b) (goal >= 50%)':<44} {100 * turtle / health:>12.1f} %")
        if isinstance(http_times, str):
            print(f"(c) skipped: {http_times}, not SPARQL JSON results: no /sparql endpoint yet")
        else:
            for label, ts in (("/sparql over HTTP", http_times), ("in-process", local_times)):
                line = f"median {ms(ts, 0.5):.3f} ms  p95 {ms(ts, 0.95):.3f} ms"
                print(f"{'(c) ' + label + f', {len(ts)} sequential':<44} {line}")
            diff = ms(http_times, 0.5) - ms(local_times, 0.5)
            print(f"{'(c) median difference (goal <= 2 ms)':<44} {diff:>11.3f} ms")
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
    finally:
        stop_server(server)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
