"""jobtrail's HTTP server against the engine's own (`oxigraph serve`), on the same data, in one run.

Generates N synthetic TRE hops (bench/ingest.py's generator), loads them with the real
`jobtrail load` into a fresh embedded store, copies the store, and starts both
`oxigraph serve-read-only --union-default-graph` over the copy and the real `jobtrail serve`
(uvicorn; rendition cache off, `JOBTRAIL_CACHE_SIZE=0`, unless `--cache`) over the original,
each on a free port of 127.0.0.1. Then one load generator drives, phase after phase, C
connections for T seconds each:

  SPARQL, the same queries against `oxigraph serve`'s `/query` and jobtrail's `/sparql`
  (SPARQL JSON results, every request a random one of 1,000 variants):
    point   `SELECT ?p ?o WHERE { <message> ?p ?o }`
    join    3 patterns: a reference's parameter set, its message, the message's time
    group   `GROUP BY` over all messages: how many each producer sent
  deref     GET random message IRIs as Turtle (the dereferencing route, cold: no cache)
  health    GET /health: the same stack's ceiling

and prints, per phase, requests/s with the median and p95 latency under that load; then the
median latency of each SPARQL query with one connection (no queueing: what a client waits);
then the same-run ratios against the issue's goals: point lookups at least 60 % of `oxigraph
serve`'s throughput and within 0.5 ms of its one-connection median, GROUP BY at least equal,
cold dereferencing at least 40 % of /health.

The load generator is wrk when installed (Debian's `wrk`; one thread, random requests from a
Lua list, latency percentiles from its histogram), else P Python processes each running an
async httpx client (`--httpx`; slower than wrk: on a small machine it competes with the servers).
On a 2-core machine the client and both servers share the cores: compare the ratios in one run,
not figures across runs or machines.

    python bench/http_servers.py                          # N = 20,000, C = 16, T = 10 s
    python bench/http_servers.py -n 5000 -t 5 --only point,deref,health
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import multiprocessing
import os
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
from dataclasses import dataclass
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

TURTLE = "text/turtle"
JSON_RESULTS = "application/sparql-results+json"
PREFIXES = (
    "PREFIX jt: <https://w3id.org/jobtrail/vocab#> PREFIX prov: <http://www.w3.org/ns/prov#> "
)
QUERIES = {
    "point": "SELECT ?p ?o WHERE {{ <{iri}> ?p ?o }}",
    "join": PREFIXES + "SELECT ?m ?t WHERE {{ ?x jt:reference {ref} . ?m jt:parameterSet ?x ; "
    "prov:generatedAtTime ?t }}",
    "group": PREFIXES + "SELECT ?producer (COUNT(?m) AS ?n) WHERE {{ ?m a jt:Message ; "
    "prov:wasAttributedTo ?producer }} GROUP BY ?producer",
}
PHASES = ("point", "join", "group", "deref", "health")


@dataclass
class Figure:
    rate: float  # requests/s
    p50: float  # ms
    p95: float  # ms
    bad: int  # non-2xx/3xx answers and socket errors


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def message_paths(jsonl: Path, k: int, rng: random.Random) -> list[str]:
    """Paths of k random messages: /messages/{sha256 of the line without its line ending}."""
    with open(jsonl, "rb") as f:
        digests = [hashlib.sha256(line.rstrip(b"\r\n")).hexdigest() for line in f if line.strip()]
    return ["/messages/" + d for d in rng.sample(digests, min(k, len(digests)))]


def query_paths(route: str, kind: str, base: str, msgs: list[str], n: int) -> list[str]:
    """`n` GET paths of `route` asking variants of query `kind`."""
    rng = random.Random(kind)
    chains = max(1, len(msgs) // 5)
    texts = []
    for _ in range(n if kind != "group" else 1):
        iri = base + rng.choice(msgs).lstrip("/")
        ref = f'"TDR-2022-{rng.randint(1, chains):06d}"'
        texts.append(QUERIES[kind].format(iri=iri, ref=ref))
    return [f"{route}?query={quote(t)}" for t in texts]


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path, name: str) -> None:
    deadline = time.monotonic() + 60
    with httpx.Client(trust_env=False, timeout=2) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                tail = log.read_text(errors="replace")[-2000:]
                raise SystemExit(f"{name} exited with {process.returncode}:\n{tail}")
            try:
                if client.get(url).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    process.terminate()
    raise SystemExit(f"{name} did not answer within 60 s")


def start(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            cmd,
            cwd=log.parent,
            stdout=out,
            stderr=out,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )


def start_jobtrail(
    store: Path, port: int, base: str, env: dict[str, str], reused: bool
) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "jobtrail.cli", "serve", "--store", str(store)]
    cmd += ["--host", "127.0.0.1", "--port", str(port)]
    cmd += [] if reused else ["--base-url", base]  # a reused store keeps its own
    log = store.parent / "server.log"
    server = start(cmd, log, env)
    wait_until_up(base + "health", server, log, "jobtrail serve")
    return server


def start_oxigraph(store: Path, port: int) -> subprocess.Popen[bytes]:
    exe = shutil.which("oxigraph") or str(Path(sys.executable).with_name("oxigraph"))
    if not Path(exe).exists():
        raise SystemExit("no `oxigraph` command: pip install oxigraph (it is in .[test])")
    cmd = [exe, "serve-read-only", "--location", str(store), "--union-default-graph"]
    log = store.parent / "oxigraph.log"
    server = start([*cmd, "--bind", f"127.0.0.1:{port}"], log)
    wait_until_up(f"http://127.0.0.1:{port}/query?query=ASK%7B%7D", server, log, "oxigraph serve")
    return server


def stop(server: subprocess.Popen[bytes] | None) -> None:
    if server is None or server.poll() is not None:
        return
    server.terminate()
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


# --- the load generators -------------------------------------------------------------


def wrk(base: str, paths: list[str], accept: str, conns: int, seconds: float, work: Path) -> Figure:
    """wrk, one thread, a random path of `paths` per request; latency from its histogram."""
    script = work / "paths.lua"
    listed = ",\n".join(f'  "{p}"' for p in paths)
    script.write_text(
        f"local paths = {{\n{listed}\n}}\nlocal n = #paths\n"
        "math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))\n"
        "request = function()\n"
        f'  return wrk.format("GET", paths[math.random(n)], {{Accept = "{accept}"}})\n'
        "end\n"
        "done = function(summary, latency, requests)\n"
        '  io.write(string.format("P50 %d\\nP95 %d\\n", latency:percentile(50), '
        "latency:percentile(95)))\n"
        "end\n"
    )
    cmd = [
        "wrk",
        "-t1",
        "--timeout",
        "60s",
        f"-c{conns}",
        f"-d{max(1, round(seconds))}s",
        "-s",
        str(script),
        base,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rate = re.search(r"Requests/sec:\s*([\d.]+)", out)
    p50, p95 = re.search(r"P50 (\d+)", out), re.search(r"P95 (\d+)", out)
    if rate is None or p50 is None or p95 is None:
        raise SystemExit("could not read wrk's output:\n" + out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: ([^\n]*)", out)
    bad = int(non_2xx.group(1)) if non_2xx else 0
    bad += sum(map(int, re.findall(r"\d+", socket_errors.group(1)))) if socket_errors else 0
    return Figure(float(rate.group(1)), int(p50.group(1)) / 1000, int(p95.group(1)) / 1000, bad)


async def _httpx_phase(
    base: str, paths: list[str], accept: str, conns: int, seconds: float, seed: int
) -> tuple[int, int, list[float], float]:
    done = bad = 0
    times: list[float] = []
    limits = httpx.Limits(max_connections=conns, max_keepalive_connections=conns)
    async with httpx.AsyncClient(base_url=base, limits=limits, trust_env=False) as client:
        deadline = time.monotonic() + seconds
        rng = random.Random(seed)

        async def worker() -> None:
            nonlocal done, bad
            while time.monotonic() < deadline:
                began = time.perf_counter()
                try:
                    r = await client.get(rng.choice(paths), headers={"Accept": accept})
                    bad += r.status_code >= 400
                except httpx.HTTPError:
                    bad += 1
                times.append(time.perf_counter() - began)
                done += 1

        began = time.perf_counter()  # after this process started: not its start-up
        await asyncio.gather(*(worker() for _ in range(conns)))
    return done, bad, times, time.perf_counter() - began


def _httpx_process(
    args: tuple[str, list[str], str, int, float, int],
) -> tuple[int, int, list[float], float]:
    return asyncio.run(_httpx_phase(*args))


def httpx_load(
    base: str, paths: list[str], accept: str, conns: int, seconds: float, processes: int
) -> Figure:
    """`processes` Python processes, `conns` connections in all, each an async httpx client."""
    processes = max(1, min(processes, conns))
    shares = [conns // processes + (i < conns % processes) for i in range(processes)]
    jobs = [(base.rstrip("/"), paths, accept, c, seconds, i) for i, c in enumerate(shares)]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        parts = pool.map(_httpx_process, jobs)
    elapsed = max(p[3] for p in parts)
    times = sorted(t for _, _, ts, _ in parts for t in ts)
    done, bad = sum(p[0] for p in parts), sum(p[1] for p in parts)
    return Figure(done / elapsed, 1000 * _quantile(times, 0.5), 1000 * _quantile(times, 0.95), bad)


def _quantile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


# --- the run ---------------------------------------------------------------------------


def check(base: str, paths: list[str], accept: str, what: str) -> None:
    """Every phase's first requests must answer 200 with something (else the figures lie)."""
    with httpx.Client(trust_env=False, timeout=30) as client:
        for p in paths[:5]:
            r = client.get(base.rstrip("/") + p, headers={"Accept": accept})
            if r.status_code != 200 or not r.content:
                raise SystemExit(f"{what}: GET {p[:120]} answered {r.status_code}: {r.text[:300]}")
            if accept == JSON_RESULTS and '"value"' not in r.text:
                raise SystemExit(f"{what}: GET {p[:120]} found nothing: {r.text[:300]}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=20_000, help="number of hops (default 20,000)")
    parser.add_argument("-c", type=int, default=16, help="concurrent connections (default 16)")
    parser.add_argument("-t", type=float, default=10.0, help="seconds per phase (default 10)")
    parser.add_argument("-p", type=int, default=2, help="client processes for --httpx (2)")
    parser.add_argument("--only", default=",".join(PHASES), help="phases, comma-separated")
    parser.add_argument("--httpx", action="store_true", help="use httpx even if wrk is installed")
    parser.add_argument("--cache", action="store_true", help="keep jobtrail's rendition cache on")
    parser.add_argument("--store", type=Path, help="reuse this store (made by an earlier run)")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for jobtrail serve (e.g. JOBTRAIL_WORKERS=2)",
    )
    args = parser.parse_args()
    phases = [p for p in args.only.split(",") if p]
    use_wrk = shutil.which("wrk") is not None and not args.httpx
    rng = random.Random(7)
    port, ox_port = free_port(), free_port()
    base, ox_base = f"http://127.0.0.1:{port}/", f"http://127.0.0.1:{ox_port}/"
    work = Path(tempfile.mkdtemp(prefix="jobtrail-bench-http-"))
    servers: list[subprocess.Popen[bytes]] = []
    try:
        jsonl, store, copy = work / "hops.jsonl", work / "store", work / "engine-copy"
        synthetic.write_jsonl(jsonl, args.n)
        load_s = 0.0
        if args.store is not None:
            shutil.copytree(args.store, store)
        else:
            began = time.perf_counter()
            load = [sys.executable, "-m", "jobtrail.cli", "load", str(jsonl), "--store", str(store)]
            subprocess.run([*load, "--silent", "--base-url", base], cwd=work, check=True)
            load_s = time.perf_counter() - began
        shutil.copytree(store, copy)  # the engine's own server reads a copy: one writer each
        env = dict(e.split("=", 1) for e in args.env)
        if not args.cache:
            env.setdefault("JOBTRAIL_CACHE_SIZE", "0")
        servers.append(start_oxigraph(copy, ox_port))
        servers.append(start_jobtrail(store, port, base, env, args.store is not None))
        with httpx.Client(trust_env=False) as client:
            stored = client.get(base + "health").json()
        msgs = message_paths(jsonl, 1000, rng)
        minted = base  # the IRIs were minted under the base the load was given
        if args.store is not None:  # an earlier run's store: its IRIs name that run's base
            held = ox.Store.read_only(str(copy))
            found = list(held.query("SELECT ?b WHERE { GRAPH <urn:jobtrail:store> { ?s ?p ?b } }"))
            minted = found[0][0].value if found else base
            del held

        def run(server: str, paths: list[str], accept: str, conns: int) -> Figure:
            if use_wrk:
                return wrk(server, paths, accept, conns, args.t, work)
            return httpx_load(server, paths, accept, conns, args.t, args.p)

        rows: dict[str, Figure] = {}
        single: dict[str, Figure] = {}
        for phase in phases:
            if phase in QUERIES:
                for name, server, route in (
                    ("oxigraph", ox_base, "/query"),
                    ("jobtrail", base, "/sparql"),
                ):
                    paths = query_paths(route, phase, minted, msgs, 1000)
                    check(server, paths, JSON_RESULTS, f"{name} {phase}")
                    run(server, paths[:50], JSON_RESULTS, args.c)  # warm-up, not reported
                    rows[f"{phase} {name}"] = run(server, paths, JSON_RESULTS, args.c)
                    single[f"{phase} {name}"] = run(server, paths, JSON_RESULTS, 1)
            elif phase == "deref":
                check(base, msgs, TURTLE, "deref")
                run(base, msgs[:50], TURTLE, args.c)
                rows["deref jobtrail"] = run(base, msgs, TURTLE, args.c)
            elif phase == "health":
                rows["health jobtrail"] = run(base, ["/health"], "application/json", args.c)

        mode = f"wrk, 1 thread, {args.c} connections"
        if not use_wrk:
            mode = f"{args.p} Python processes of async httpx, {args.c} connections in all"
        print(f"Python {platform.python_version()}, pyoxigraph {ox.__version__}, generator {mode}")
        print(f"{os.cpu_count()} cores shared by the client and both servers; {args.t:g} s a phase")
        loaded = f"loaded in {load_s:.1f} s" if load_s else f"copied from {args.store}"
        print(f"{args.n:,} hops {loaded}; jobtrail: {stored}, {env or 'defaults'}")
        print(
            f"{'phase':<22} {'req/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'errors':>6}  1-conn p50 ms"
        )
        for key, f in rows.items():
            one = single.get(key)
            tail = f"{one.p50:>8.3f}" if one else ""
            print(f"{key:<22} {f.rate:>9,.0f} {f.p50:>8.3f} {f.p95:>8.3f} {f.bad:>6}  {tail}")
        print("ratios, this run:")

        def ratio(label: str, a: str, b: str, goal: str) -> None:
            if a in rows and b in rows:
                print(f"  {label:<40} {100 * rows[a].rate / rows[b].rate:>7.1f} %   goal {goal}")

        ratio("point: jobtrail / oxigraph serve", "point jobtrail", "point oxigraph", ">= 60 %")
        ratio("join: jobtrail / oxigraph serve", "join jobtrail", "join oxigraph", "(none)")
        ratio("group: jobtrail / oxigraph serve", "group jobtrail", "group oxigraph", ">= 100 %")
        ratio("cold deref / health", "deref jobtrail", "health jobtrail", ">= 40 %")
        for kind in QUERIES:
            a, b = single.get(f"{kind} jobtrail"), single.get(f"{kind} oxigraph")
            if a and b:
                goal = "<= 0.5 ms" if kind == "point" else ""
                print(
                    f"  {kind + ': 1-conn median, jobtrail - oxigraph':<40} "
                    f"{a.p50 - b.p50:>7.3f} ms  goal {goal or '(none)'}"
                )
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
    finally:
        for server in reversed(servers):
            stop(server)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
