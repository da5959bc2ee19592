"""Bytes per hop: what a stored hop costs on disk, and what in it costs most.

Generates N synthetic TRE chains (the same as `bench/trace.py`: 5–8 hops each, with
retries), loads them with the real `jobtrail load` into a fresh embedded store, then:

- the store's size on disk as loaded (the bulk loader's files, uncompacted) and after
  compaction (pyoxigraph `Store.optimize`, the store closed and reopened so that the
  files compaction replaced are gone), in bytes per hop;
- quads per hop, and per predicate: quads per hop, the characters of its objects per hop,
  and an estimate of its bytes on disk: its share of the quads times the compacted bytes
  per quad (every quad is one key in each of Oxigraph's six named-graph indexes) plus its
  objects' characters (a string longer than 16 bytes is stored once more, by value);
- the same for the graphs a trace reads (`#trace`: the trace index, `ingest/traceindex.py`).

    python bench/storage.py                 # 10,000 chains
    python bench/storage.py -n 1000 -n 50000
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pyoxigraph as ox

_spec = importlib.util.spec_from_file_location("bench_trace", Path(__file__).with_name("trace.py"))
assert _spec is not None and _spec.loader is not None
bench_trace = importlib.util.module_from_spec(_spec)
sys.modules["bench_trace"] = bench_trace
_spec.loader.exec_module(bench_trace)

MESSAGE = "https://w3id.org/jobtrail/vocab#Message"


def disk_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def compact(path: Path) -> float:
    start = time.perf_counter()
    store = ox.Store(str(path))
    store.optimize()
    store.flush()
    del store
    ox.Store(str(path))  # reopened and closed: the replaced files are deleted
    return time.perf_counter() - start


def census(path: Path) -> tuple[int, Counter[str], Counter[str], int]:
    """Messages, quads and object characters by predicate, and the quads in index graphs."""
    store = ox.Store.read_only(str(path))
    quads: Counter[str] = Counter()
    chars: Counter[str] = Counter()
    indexed = 0
    for q in store:
        p = q.predicate.value
        if isinstance(q.graph_name, ox.NamedNode) and q.graph_name.value.endswith("#trace"):
            p = "(trace index) " + p
            indexed += 1
        quads[p] += 1
        chars[p] += len(q.object.value)  # type: ignore[union-attr]
    query = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH ?m {{ ?m a <{MESSAGE}> }} }}"
    messages = next(iter(store.query(query)))["n"].value  # type: ignore[index, union-attr]
    return int(messages), quads, chars, indexed


def run(n: int, work: Path, top: int) -> None:
    jsonl, store = work / f"chains-{n}.jsonl", work / f"store-{n}"
    hops, _ = bench_trace.write_jsonl(jsonl, n, set(), 7)
    load_s = bench_trace.jobtrail_load(jsonl, store)
    jsonl.unlink()
    print(f"{n:,} chains, {hops:,} hops loaded in {load_s:.1f} s")
    report(n, hops, store, top)
    shutil.rmtree(store, ignore_errors=True)


def report(n: int, hops: int, store: Path, top: int) -> None:
    """Bytes per hop of the store at `store` (closed), as it is and compacted."""
    loaded = disk_bytes(store)
    messages, quads, chars, indexed = census(store)
    seconds = compact(store)
    compacted = disk_bytes(store)
    total = sum(quads.values())
    per_quad = compacted / total
    print(f"  {n:,} chains: {hops:,} hops, {messages:,} messages")
    print(f"  quads: {total:,}, {total / hops:.1f} per hop ({indexed / hops:.1f} of the index)")
    print(f"  on disk as loaded:  {loaded / hops:>8,.0f} bytes per hop ({loaded / 2**30:.2f} GiB)")
    print(
        f"  compacted:          {compacted / hops:>8,.0f} bytes per hop "
        f"({compacted / 2**30:.2f} GiB; optimize {seconds:.1f} s; {per_quad:.0f} bytes per quad)"
    )
    print(f"  {'quads/hop':>9} {'chars/hop':>9} {'~bytes/hop':>10}  predicate (top {top})")
    cost = {p: quads[p] * per_quad + chars[p] for p in quads}
    for p, c in sorted(cost.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {quads[p] / hops:>9.2f} {chars[p] / hops:>9.0f} {c / hops:>10,.0f}  {p}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, action="append", help="number of chains (repeatable)")
    parser.add_argument("--top", type=int, default=25, help="predicates listed (default 25)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="jobtrail-bench-storage-", dir="/tmp"))
    try:
        for n in sorted(set(args.n or [10_000])):
            run(n, work, args.top)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
