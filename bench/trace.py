"""Tracing a random key in stores of growing size, in one run.

At each size N (default 1,000, 10,000 and 100,000 chains) generates N synthetic
TRE chains of 5–8 hops as JSON Lines, loads them with the real `jobtrail load`
(validation on) into a fresh embedded store, opens that store and times
`jobtrail.queries.trace.trace(store, key)` for K random keys after W untimed
warm-up traces. A key is a UUID of a random chain (its first hop's, a middle
hop's or its last hop's) or that chain's reference, in about equal parts.

A chain follows the TRE pipeline (TDR export, TRE validation, TDR's response,
parsing, export to Access …): each hop carries the UUIDs of the hops before it,
oldest first, and adds its own; some steps are retried: a second message from the
same producer and process, number-of-retries incremented and an error, carrying
the same parent UUIDs as the first attempt (a branch), the chain going on from the
retry. Every chain's UUIDs and references are its own, so a trace must return
exactly the hops generated for that chain; each is checked (outside the timing).

Prints, per size: hops and quads loaded, the store's size on disk, load time and
hops/s, then the median, p95 and max trace time in ms; at the end the ratio median(largest N) /
median(1,000 or the smallest N), against the goals (median < 5 ms at 100,000
chains; ratio < 1.5: tracing must not grow with the store).

    python bench/trace.py               # 1,000 / 10,000 / 100,000 chains
    python bench/trace.py --quick       # 1,000 / 10,000
    python bench/trace.py -n 1000 -n 50000 -k 500 --breakdown
    python bench/trace.py --optimize    # compact each store after loading it
    python bench/trace.py --storage     # then bytes per hop (bench/storage.py)
    python bench/trace.py --compare     # and each key again without the trace index

A trace reads the trace index (`ingest/traceindex.py`) when the store has it (every store
`jobtrail load` makes); `--compare` traces each timed key a second time, right after, as a
store without the index would (the messages' own graphs): the same store, keys and moment.

`jobtrail load` writes with Oxigraph's bulk loader, which leaves the store's
RocksDB files uncompacted; opening it read-write then starts compacting in the
background. `--optimize` runs that compaction (pyoxigraph `Store.optimize`)
before tracing, to tell the cost of lookups in a fresh bulk-loaded store from
that of the queries themselves.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import jobtrail.queries.trace as trace_module
import pyoxigraph as ox
from jobtrail.queries.trace import trace
from jobtrail.store import open_store

# The pipeline, in order: a chain of s steps runs the first s of these.
STEPS = [
    ("TDR", "consignment-export"),
    ("TRE", "receive-and-validate-bag"),
    ("TDR", "consignment-export"),  # TDR's response to TRE's request (03-tdr-retry-response)
    ("TRE", "parse-judgment"),
    ("TRE", "caselaw-export"),
    ("Access", "caselaw-ingest"),
    ("TRE", "dri-sip-export"),
    ("DRI", "sip-ingest"),
]
RETRY_ERROR = [{"error": "validation failed"}, {"error": "retrying"}]


@dataclass
class Chain:
    """What a trace of this chain must return: its hops, known by the UUID each adds."""

    reference: str
    added: list[str] = field(default_factory=list)  # one UUID per hop, in generation order
    references: set[str] = field(default_factory=set)
    retries: int = 0


def chain_messages(index: int, rng: random.Random) -> tuple[list[dict[str, object]], Chain]:
    """The hops of chain `index`: 5–8 messages, some of them retries branching off a parent."""
    length = rng.randint(5, 8)
    retried = rng.randint(0, min(3, length - 5 + 1))  # steps run = length - retried >= 4
    steps = length - retried
    attempts = [1] * steps
    for _ in range(retried):
        attempts[rng.randrange(1, steps)] += 1  # never the first step: it has no parent
    reference = f"TDR-2022-{index:07d}"
    chain = Chain(reference, references={reference}, retries=retried)
    t = 1659631669 + index * 60
    parent: list[dict[str, str]] = []
    messages: list[dict[str, object]] = []
    for k in range(steps):
        name, process = STEPS[k]
        ref = reference if k < 4 else f"TRE-{reference}"  # TRE's export names it its own way
        chain.references.add(ref)
        last: list[dict[str, str]] = []
        for attempt in range(attempts[k]):
            u = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            chain.added.append(u)
            last = [*parent, {f"{name}-UUID": u}]
            params: dict[str, object] = {"reference": ref, "number-of-retries": str(attempt)}
            if k == 0:
                params["resource"] = {
                    "resource-type": "Object",
                    "access-type": "url",
                    "value": f"https://example.org/{reference}.tar.gz",
                }
                params["resource-validation"] = {
                    "resource-type": "Object",
                    "access-type": "url",
                    "validation-method": "SHA256",
                    "value": f"https://example.org/{reference}.tar.gz.sha256",
                }
            if attempt > 0:
                params["errors"] = RETRY_ERROR
            t += 1
            messages.append(
                {
                    "version": "1.0.0",
                    "timestamp": str(t),
                    "UUIDs": last,
                    "producer": {
                        "name": name,
                        "process": process,
                        "type": "judgment",
                        "environment": "INT",
                    },
                    "parameters": {name: params},
                }
            )
        parent = last  # the chain goes on from the last attempt
    return messages, chain


def write_jsonl(path: Path, n: int, keep: set[int], seed: int) -> tuple[int, dict[int, Chain]]:
    """Write n chains; return the number of hops and the chains whose index is in `keep`."""
    rng = random.Random(seed)
    kept: dict[int, Chain] = {}
    count = 0
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            messages, chain = chain_messages(i, rng)
            count += len(messages)
            if i in keep:
                kept[i] = chain
            f.writelines(json.dumps(m, separators=(",", ":")) + "\n" for m in messages)
    return count, kept


def jobtrail_load(jsonl: Path, store: Path) -> float:
    cmd = [sys.executable, "-m", "jobtrail.cli", "load", str(jsonl), "--store", str(store)]
    start = time.perf_counter()
    subprocess.run([*cmd, "--silent"], cwd=store.parent, check=True)
    return time.perf_counter() - start


def pick_keys(chains: list[Chain], rng: random.Random) -> Iterator[tuple[str, Chain]]:
    """For each chain a key: its first UUID, a middle one, its last one, or a reference."""
    for chain in chains:
        kind = rng.randrange(4)
        if kind == 0:
            yield chain.added[0], chain
        elif kind == 1:
            yield rng.choice(chain.added[1:-1]), chain
        elif kind == 2:
            yield chain.added[-1], chain
        else:
            yield rng.choice(sorted(chain.references)), chain


def bare(u: str | None) -> str:
    return (u or "").removeprefix("urn:uuid:").lower()


def check(result: object, key: str, chain: Chain) -> None:
    hops = result.hops  # type: ignore[attr-defined]
    added = sorted(bare(h.added) for h in hops)
    if added != sorted(chain.added):
        stray = len(set(added) - set(chain.added))
        raise SystemExit(
            f"trace({key!r}) returned {len(hops)} hops, expected the {len(chain.added)} of "
            f"chain {chain.reference} ({stray} from elsewhere or without an added UUID)"
        )


class TimedQueries:
    """Wrap store.query: seconds and calls per query of queries/internal/trace-*.rq."""

    def __init__(self, store: object) -> None:
        self.store = store
        self.original = store.query  # type: ignore[attr-defined]
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def __enter__(self) -> TimedQueries:
        def query(sparql: str, **kwargs: object) -> object:
            kind = "other"
            if "SELECT DISTINCT ?m WHERE" in sparql:
                kind = "messages"
            elif "SELECT ?m ?s ?p ?o" in sparql:
                kind = "graphs"
            elif "SELECT ?a ?name" in sparql:
                kind = "producers"
            elif "SELECT ?m ?h WHERE" in sparql:
                kind = "indexed"
            elif sparql.startswith("ASK"):
                kind = "marker"
            start = time.perf_counter()
            result = self.original(sparql, **kwargs)
            # results are lazy: consume them here
            rows = result if isinstance(result, ox.QueryBoolean) else list(result)
            self.seconds[kind] += time.perf_counter() - start
            self.calls[kind] += 1
            return rows

        self.store.query = query  # type: ignore[attr-defined]
        return self

    def __exit__(self, *exc: object) -> None:
        del self.store.query  # type: ignore[attr-defined]


def without_index(store: object, key: str, chain: Chain) -> float:
    """Seconds to trace `key` as in a store without the trace index (the messages' graphs)."""
    complete = trace_module.traceindex.complete
    trace_module.traceindex.complete = lambda store: False  # type: ignore[assignment]
    try:
        start = time.perf_counter()
        result = trace(store, key)  # type: ignore[arg-type]
        seconds = time.perf_counter() - start
    finally:
        trace_module.traceindex.complete = complete  # type: ignore[assignment]
    check(result, key, chain)
    return seconds


def disk_gib(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**30


def ms(seconds: list[float], q: float) -> float:
    return 1000 * statistics.quantiles(seconds, n=100, method="inclusive")[round(q * 100) - 1]


def run(n: int, args: argparse.Namespace, work: Path) -> list[float]:
    rng = random.Random(args.seed + n)
    sample = rng.sample(range(n), min(n, args.k + args.warm))
    jsonl, store_dir = work / f"chains-{n}.jsonl", work / f"store-{n}"
    store_dir.parent.mkdir(parents=True, exist_ok=True)
    hops, kept = write_jsonl(jsonl, n, set(sample), args.seed)
    load_s = jobtrail_load(jsonl, store_dir)
    jsonl.unlink()
    gib = disk_gib(store_dir)
    chains = [kept[i] for i in sample]
    keys = list(pick_keys(chains, rng))
    warm, timed = keys[: args.warm], keys[args.warm :]
    store = open_store(str(store_dir))
    optimized = breakdown = compared = ""
    try:
        quads = store.count()
        if args.optimize:
            start = time.perf_counter()
            store._store.optimize()  # type: ignore[attr-defined]
            optimized = f"  optimize(): {time.perf_counter() - start:.1f} s, "
            optimized += f"{gib:.2f} GiB -> {disk_gib(store_dir):.2f} GiB"
        for key, chain in warm:
            check(trace(store, key), key, chain)
        times: list[float] = []
        graphs: list[float] = []  # --compare: the same key without the index, just after
        for key, chain in timed:
            start = time.perf_counter()
            result = trace(store, key)
            times.append(time.perf_counter() - start)
            check(result, key, chain)
            if args.compare:
                graphs.append(without_index(store, key, chain))
        if args.compare:
            compared = (
                f"  without the index (the messages' graphs), same store and keys, each traced "
                f"right after the timed one: median {ms(graphs, 0.5):.2f} ms, "
                f"p95 {ms(graphs, 0.95):.2f} ms"
            )
        if args.breakdown:
            with TimedQueries(store) as tq:
                start = time.perf_counter()
                for key, chain in timed:
                    check(trace(store, key), key, chain)
                total = time.perf_counter() - start
            parts = [
                f"{kind} {tq.calls[kind] / len(timed):.1f}x {1000 * s / len(timed):.2f} ms"
                for kind, s in sorted(tq.seconds.items(), key=lambda kv: -kv[1])
            ]
            rest = 1000 * (total - sum(tq.seconds.values())) / len(timed)
            breakdown = "  per trace: " + ", ".join(parts) + f", Python {rest:.2f} ms"
    finally:
        store.close()
    try:
        report(n, hops, quads, gib, load_s, times, compared, optimized, breakdown)
        if args.storage:
            storage(n, hops, store_dir)
    finally:
        shutil.rmtree(store_dir, ignore_errors=True)
    return times


def report(
    n: int,
    hops: int,
    quads: int,
    gib: float,
    load_s: float,
    times: list[float],
    *notes: str,
) -> None:
    print(
        f"{n:>9,} {hops:>9,} {quads:>11,} {gib:>6.2f} {load_s:>8.1f} s {hops / load_s:>8,.0f} "
        f"{len(times):>5} {ms(times, 0.5):>8.2f} {ms(times, 0.95):>8.2f} "
        f"{1000 * max(times):>8.2f}",
        flush=True,
    )
    for note in notes:
        if note:
            print(note, flush=True)


def storage(n: int, hops: int, store_dir: Path) -> None:
    """bench/storage.py's figures for the store just traced: bytes per hop as loaded and
    compacted, quads per hop, the costliest predicates."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bench_storage", Path(__file__).parent / "storage.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_storage"] = module
    spec.loader.exec_module(module)
    module.report(n, hops, store_dir, 12)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, action="append", help="number of chains (repeatable)")
    parser.add_argument("--quick", action="store_true", help="1,000 and 10,000 chains only")
    parser.add_argument("-k", type=int, default=200, help="timed traces per size (default 200)")
    parser.add_argument("--warm", type=int, default=20, help="untimed warm-up traces (default 20)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument(
        "--breakdown", action="store_true", help="also time each SPARQL query a trace runs"
    )
    parser.add_argument(
        "--optimize", action="store_true", help="compact each store after loading it"
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="also time the same keys without the trace index (the messages' own graphs)",
    )
    parser.add_argument(
        "--storage",
        action="store_true",
        help="then compact it and print its bytes per hop (bench/storage.py)",
    )
    args = parser.parse_args()
    sizes = sorted(set(args.n or ([1_000, 10_000] if args.quick else [1_000, 10_000, 100_000])))
    print(
        f"Python {platform.python_version()}, pyoxigraph {ox.__version__}, "
        f"{platform.machine()} {os.cpu_count()} CPUs, {platform.system()} {platform.release()}"
    )
    print(
        f"chains of 5–8 hops with retries; {args.k} timed traces per size after "
        f"{args.warm} warm-up; keys: first/middle/last UUID or reference of a random chain"
        + ("; stores compacted before tracing" if args.optimize else "")
    )
    print(
        f"{'chains':>9} {'hops':>9} {'quads':>11} {'GiB':>6} {'load':>10} {'hops/s':>8} "
        f"{'K':>5} {'median':>8} {'p95':>8} {'max':>8}  (trace, ms)"
    )
    work = Path(tempfile.mkdtemp(prefix="jobtrail-bench-trace-", dir="/tmp"))
    medians: dict[int, float] = {}
    try:
        for n in sizes:
            medians[n] = ms(run(n, args, work / str(n)), 0.5)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if len(medians) >= 2:
        small, large = min(medians), max(medians)
        ok = "met" if medians[large] < 5 else "NOT met"
        print(f"median at {large:,} chains: {medians[large]:.2f} ms (goal < 5 ms: {ok})")
        ratio = medians[large] / medians[small]
        ok = "met" if ratio < 1.5 else "NOT met"
        print(f"ratio median({large:,}) / median({small:,}) = {ratio:.2f} (goal < 1.5: {ok})")


if __name__ == "__main__":
    main()
