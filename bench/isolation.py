"""What running clients' SPARQL in query processes costs: the same store served both ways.

Builds one embedded store of N synthetic TRE provenance hops (bench/trace.py's chains of 5–8
hops, written by bench/visibility.py's `write_chains`, loaded with the real `jobtrail load`,
then compacted so that no background compaction runs while timing). It then serves that
store with the real `jobtrail serve` (the supervisor, its uvicorn child, and the child's
query processes), one server at a time (one process holds an embedded store), in two modes:

  in-process  `--query-workers 0`: the query runs in a thread of the server (the old path);
  isolated    `--query-workers 4`: in a pool of query processes, each reading a read-only
              snapshot of the store (bindings/sparql/isolation.py, store/snapshots.py).

Every request carries the admin token (`Authorization: Bearer`), so queries run over the whole
store (the public copy is off: building it would run beside the timings). Two rows:

  point     `SELECT ?p ?o WHERE { <message IRI> ?p ?o }` for random messages;
  group by  `SELECT ?t (COUNT(?m) AS ?n) WHERE { GRAPH ?m { ?m a ?t } } GROUP BY ?t`: every
            message's graph, counted per type.

For each server: httpx checks the answers first (a lookup's predicates and objects are the
same from both modes, and hold the message's digest; the GROUP BY counts every hop once as a
jt:Message), an untimed warm-up loads every query process (16 connections at once), then, for
each row, K sequential requests on one keep-alive connection (median, p95) and C connections
(16) for T seconds (5; 20 for the GROUP BY, whose answers take seconds under that load),
counted until the last answer: requests/s, and the CPU seconds per request of the server's
whole process tree (supervisor, server, query processes, from /proc). After the load the tree
is left alone for `--idle` seconds (5) and its CPU counted per role: the query processes and
the server should use ~0 (the supervisor polls /health each second); then its resident size
(each process's and the sum).

The modes take turns, `--rounds` times (2), in the order in-process, isolated, isolated,
in-process, …, so a drift in what else the machine runs weighs on both; each mode's figures
pool its rounds. The client is bench/visibility.py's asyncio HTTP/1.1 keep-alive client (an
httpx client costs more CPU per request than the server does).

Printed: per row and mode the median, p95, requests/s and CPU µs per request; then the
isolated − in-process median difference in ms and the ratios isolated/in-process, against
issue 18's goals: a point lookup's median within 1 ms of in-process, and throughput at least
0.70 of in-process (both rows).

    python bench/isolation.py                  # 100,000 hops, K 300 / 20, T 5 / 20 s, 2 rounds
    python bench/isolation.py --quick          # 10,000 hops, K 200 / 20, T 3 / 4 s (~2 minutes)
    python bench/isolation.py --hops 50000 -k 500 -t 8 --rounds 3 --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

# bench/ holds an http.py: keep this directory off the path while the standard library's
# `http` is imported (by httpx); bench/visibility.py is loaded by its path instead.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
import httpx  # noqa: E402
import pyoxigraph as ox  # noqa: E402


def _bench_module(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


vis = _bench_module("visibility")  # Connection, request_head, Server, free_port, …
chains = vis.chains  # bench/trace.py: jobtrail_load

BASE = vis.BASE  # IRIs are minted under it; the server listens elsewhere
TOKEN = "bench-isolation-admin"
AUTH = f"Bearer {TOKEN}"
SPARQL_JSON = "application/sparql-results+json"
JT = "https://w3id.org/jobtrail/vocab#"
GROUP_BY = "SELECT ?t (COUNT(?m) AS ?n) WHERE { GRAPH ?m { ?m a ?t } } GROUP BY ?t"
MODES = {"in-process": 0, "isolated": None}  # None: --workers
CLK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


# --- the server's process tree ------------------------------------------------------------


def tree(root: int) -> dict[int, int]:
    """`root` and every process below it, each with its depth: 0 the supervisor, 1 the
    server (its uvicorn child), 2 the server's children (the query processes)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(stat[1]), []).append(int(entry.name))
    found, todo = {}, [(root, 0)]
    while todo:
        pid, depth = todo.pop()
        found[pid] = depth
        todo += [(child, depth + 1) for child in children.get(pid, [])]
    return found


ROLES = ("supervisor", "server", "query processes")


def tree_cpu(root: int) -> list[float]:
    """CPU seconds (user + system) so far of the tree's live processes, per role (depth)."""
    totals = [0.0] * len(ROLES)
    for pid, depth in tree(root).items():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        totals[min(depth, len(ROLES) - 1)] += (int(fields[11]) + int(fields[12])) / CLK
    return totals


def tree_rss(root: int) -> list[tuple[int, int]]:
    """Resident bytes of each process of the tree, with its depth."""
    sizes = []
    for pid, depth in tree(root).items():
        try:
            sizes.append((depth, int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE))
        except (OSError, ValueError, IndexError):
            continue
    return sorted(sizes)


def start(work: Path, store: Path, mode: str, workers: int, args: argparse.Namespace) -> Any:
    """A real `jobtrail serve` on `store`, answering /health."""
    port = vis.free_port()
    log = work / f"serve-{mode}.log"
    command = [sys.executable, "-m", "jobtrail.cli", "serve", "--store", str(store)]
    command += ["--port", str(port), "--base-url", BASE, "--admin-token", TOKEN]
    command += ["--query-workers", str(workers), "--query-timeout", str(args.timeout)]
    command += ["--public-copy", "off", "--files", str(work / "files")]
    with open(log, "ab") as out:
        process = subprocess.Popen(
            command, cwd=work, stdout=out, stderr=out, start_new_session=True
        )
    return vis.await_health(vis.Server(process, mode, port), log)


# --- the store ----------------------------------------------------------------------------


def build(work: Path, args: argparse.Namespace) -> tuple[Any, Path, list[str]]:
    ds = vis.Dataset(BASE)
    jsonl, store = work / "hops.jsonl", work / "store"
    vis.write_chains(jsonl, args.hops, 0, args.seed, ds)
    took = chains.jobtrail_load(jsonl, store)
    ds.timings.append(f"loaded in {took:.1f} s ({ds.hops / took:,.0f} hops/s)")
    jsonl.unlink()
    from jobtrail.store import open_store

    began = time.perf_counter()
    opened = open_store(str(store))
    try:
        opened._store.optimize()  # type: ignore[attr-defined]  # compact: no background work
        ds.quads = opened.count()
    finally:
        opened.close()
    ds.timings.append(f"compacted in {time.perf_counter() - began:.1f} s")
    rng = random.Random(args.seed)
    picked = rng.sample(ds.messages, min(args.k, len(ds.messages)))
    lookups = [
        "/sparql?query=" + quote(f"SELECT ?p ?o WHERE {{ <{BASE}{m[1:]}> ?p ?o }}") for m in picked
    ]
    return ds, store, lookups


# --- checks and measures ------------------------------------------------------------------


def check(server: Any, ds: Any, lookups: list[str], seen: dict[str, Any]) -> None:
    """The answers, before timing: the same from every server, and right."""
    with httpx.Client(
        base_url=f"http://127.0.0.1:{server.port}",
        trust_env=False,
        timeout=600,
        headers={"Authorization": AUTH, "Accept": SPARQL_JSON},
    ) as client:
        for target in lookups[:5]:
            r = client.get(target)
            r.raise_for_status()
            got = sorted(
                (b["p"]["value"], b["o"]["value"]) for b in r.json()["results"]["bindings"]
            )
            digest = target.split("/messages/", 1)[1][:64]
            if (JT + "sha256", digest) not in got:
                raise SystemExit(f"{server.mode}: {target} answered without its digest")
            if seen.setdefault(target, got) != got:
                raise SystemExit(f"{server.mode}: {target} answered otherwise than before")
        r = client.get("/sparql", params={"query": GROUP_BY})
        r.raise_for_status()
        counts = {b["t"]["value"]: int(b["n"]["value"]) for b in r.json()["results"]["bindings"]}
        if counts.get(JT + "Message") != ds.hops:
            raise SystemExit(f"{server.mode}: GROUP BY counted {counts}, not {ds.hops} messages")
        if seen.setdefault("group by", counts) != counts:
            raise SystemExit(f"{server.mode}: GROUP BY answered otherwise than before")


@dataclass
class Figures:
    times: list[float] = field(default_factory=list)  # sequential requests, seconds
    done: int = 0  # load phases: answered
    seconds: float = 0.0
    cpu: float = 0.0  # load phases: CPU seconds of the server's process tree
    failed: int = 0


@dataclass
class Mode:
    rows: dict[str, Figures] = field(default_factory=dict)
    idle: list[list[float]] = field(default_factory=list)  # per run: CPU s per role, idle
    rss: list[list[tuple[int, int]]] = field(default_factory=list)  # per run: (depth, bytes)


async def timed(conn: Any, head: bytes, timeout: float) -> int:
    try:
        status: int = await asyncio.wait_for(conn.request(head), timeout)
    except TimeoutError:
        raise SystemExit(f"a request went unanswered for {timeout:g} s") from None
    return status


async def sequential(
    port: int, heads: list[bytes], k: int, seed: int, f: Figures, t: float
) -> None:
    rng, conn = random.Random(seed), vis.Connection(port)
    try:
        for _ in range(k):
            began = time.perf_counter()
            status = await timed(conn, rng.choice(heads), t)
            if status == 200:
                f.times.append(time.perf_counter() - began)
            else:
                f.failed += 1
    finally:
        conn.close()


async def load(port: int, heads: list[bytes], c: int, seconds: float, t: float) -> list[int]:
    """C connections, each one request at a time, for `seconds`: answers (200) per connection,
    and the failures last."""
    deadline = time.monotonic() + seconds

    async def client(n: int) -> tuple[int, int]:
        rng, conn, done, failed = random.Random(n), vis.Connection(port), 0, 0
        try:
            while time.monotonic() < deadline:
                if await timed(conn, rng.choice(heads), t) == 200:
                    done += 1
                else:
                    failed += 1
        finally:
            conn.close()
        return done, failed

    got = await asyncio.gather(*(client(n) for n in range(c)))
    return [d for d, _ in got] + [sum(f for _, f in got)]


def measure(server: Any, rows: dict[str, list[str]], args: argparse.Namespace, into: Mode) -> None:
    port, pid = server.port, server.process.pid
    heads = {
        name: [vis.request_head(port, t, SPARQL_JSON, AUTH) for t in targets]
        for name, targets in rows.items()
    }
    # warm-up: every query process opens its snapshot and runs each query once or more
    asyncio.run(load(port, heads["point"], args.c, 1.0, args.timeout))
    asyncio.run(load(port, heads["group by"], args.c, 0.1, args.timeout))
    for name, k, seconds in (("point", args.k, args.t), ("group by", args.k_group, args.t_group)):
        f = into.rows.setdefault(name, Figures())
        asyncio.run(sequential(port, heads[name], k, args.seed + len(f.times), f, args.timeout))
        cpu, began = sum(tree_cpu(pid)), time.perf_counter()
        got = asyncio.run(load(port, heads[name], args.c, seconds, args.timeout))
        took = time.perf_counter() - began  # the last answers come after the deadline
        f.seconds += took
        f.cpu += sum(tree_cpu(pid)) - cpu
        f.done += sum(got[:-1])
        f.failed += got[-1]
        print(
            f"  {server.mode:<10} {name:<8} median so far {vis.ms(f.times, 0.5):7.2f} ms, "
            f"{sum(got[:-1]) / took:7.1f} r/s",
            file=sys.stderr,
            flush=True,
        )
    time.sleep(0.5)  # the last answers' bookkeeping
    before = tree_cpu(pid)
    time.sleep(args.idle)
    into.idle.append([after - b for after, b in zip(tree_cpu(pid), before, strict=True)])
    into.rss.append(tree_rss(pid))


# --- the report ---------------------------------------------------------------------------


def report(modes: dict[str, Mode], args: argparse.Namespace) -> None:
    base, iso = modes["in-process"], modes["isolated"]
    print(
        f"\nK sequential requests on one connection (point {args.k}, group by {args.k_group} "
        f"per run), then {args.c} connections for {args.t:g} s (group by {args.t_group:g} s, "
        f"and until the last answer); {args.rounds} run(s) per mode; "
        "ms; r/s; CPU = µs of the server's process tree per request"
    )
    print(
        f"{'row':<9} {'mode':<11} {'median':>8} {'p95':>8} {'r/s':>8} {'CPU µs':>8} {'failed':>6}"
    )
    for name in ("point", "group by"):
        for label, m in modes.items():
            f = m.rows[name]
            rps = f.done / f.seconds if f.seconds else 0.0
            cpu = 1e6 * f.cpu / f.done if f.done else 0.0
            print(
                f"{name:<9} {label:<11} {vis.ms(f.times, 0.5):8.2f} "
                f"{vis.ms(f.times, 0.95):8.2f} {rps:8.1f} {cpu:8,.0f} {f.failed:6}"
            )
    print()
    for name in ("point", "group by"):
        b, i = base.rows[name], iso.rows[name]
        b_med, i_med = vis.ms(b.times, 0.5), vis.ms(i.times, 0.5)
        throughput = (i.done / i.seconds) / (b.done / b.seconds)
        cpu = (i.cpu / i.done) / (b.cpu / b.done)
        line = (
            f"{name:<9} isolated − in-process median {i_med - b_med:+7.2f} ms "
            f"(ratio {i_med / b_med:.2f}); throughput ratio {throughput:.2f}; "
            f"CPU per request ratio {cpu:.2f}"
        )
        goals = [f"throughput >= 0.70: {'met' if throughput >= 0.70 else 'NOT met'}"]
        if name == "point":
            goals.insert(0, f"median within 1 ms: {'met' if i_med - b_med <= 1 else 'NOT met'}")
        print(line + "\n          goals: " + "; ".join(goals))
    print()
    for label, m in modes.items():
        runs = "; ".join(
            ", ".join(f"{role} {cpu:.2f}" for role, cpu in zip(ROLES, idle, strict=True))
            for idle in m.idle
        )
        most = max(sum(idle) for idle in m.idle)
        print(
            f"{label:<11} CPU over {args.idle:g} s idle after the load (s, per run): {runs} "
            f"(at most {100 * most / args.idle:.1f} % of one core)"
        )
        rss = m.rss[-1]
        parts = ", ".join(
            f"{ROLES[min(depth, 2)].removesuffix('es')} {size / 2**20:.0f}" for depth, size in rss
        )
        print(f"{'':<11} RSS {sum(s for _, s in rss) / 2**20:,.0f} MiB: {parts}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hops", type=int, default=100_000, help="provenance hops (100,000)")
    parser.add_argument("--quick", action="store_true", help="10,000 hops, T 3 s, K 200")
    parser.add_argument("-k", type=int, default=300, help="sequential point lookups (300)")
    parser.add_argument("--k-group", type=int, default=20, help="sequential GROUP BYs (20)")
    parser.add_argument("-c", type=int, default=16, help="connections of a load phase (16)")
    parser.add_argument("-t", type=float, default=5.0, help="seconds of a load phase (5)")
    parser.add_argument("--t-group", type=float, default=20.0, help="… of GROUP BY's (20)")
    parser.add_argument("--idle", type=float, default=5.0, help="seconds of idle CPU (5)")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each mode, in turn (2)")
    parser.add_argument("--workers", type=int, default=4, help="query processes, isolated (4)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds a query may take")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.quick:
        args.hops, args.t, args.t_group, args.k = 10_000, 3.0, 4.0, 200
    began = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="jobtrail-bench-isolation-", dir="/tmp"))
    print(
        f"Python {platform.python_version()}, pyoxigraph {ox.__version__}, "
        f"{platform.machine()} {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f}; client: asyncio HTTP/1.1 keep-alive",
        flush=True,
    )
    server = None
    try:
        ds, store, lookups = build(work, args)
        print(
            f"store: {ds.hops:,} provenance hops, {ds.quads:,} quads; "
            + "; ".join(ds.timings)
            + f" ({time.perf_counter() - began:.0f} s)",
            flush=True,
        )
        rows = {"point": lookups, "group by": ["/sparql?query=" + quote(GROUP_BY)]}
        modes = {label: Mode() for label in MODES}
        seen: dict[str, Any] = {}
        order = list(MODES)
        for r in range(args.rounds):
            for label in order if r % 2 == 0 else order[::-1]:
                workers = MODES[label]
                server = start(
                    work, store, label, args.workers if workers is None else workers, args
                )
                check(server, ds, lookups, seen)
                measure(server, rows, args, modes[label])
                vis.stop_server(server)
                server = None
        report(modes, args)
        print(
            f"load average {os.getloadavg()[0]:.1f} at the end; "
            f"total {time.perf_counter() - began:.0f} s"
        )
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
    finally:
        vis.stop_server(server)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
