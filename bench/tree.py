"""What the verifiable log's Merkle tree costs (issue 23), measured in one run.

1. The loader with and without the tree: the same N synthetic TRE hops (bench/ingest.py's)
   loaded in this process into fresh embedded stores, alternately with the tree (as
   always) and without it (`Log(merkle=False)`, which exists for this measurement), R rounds
   each; hops/s of each and the cost of the tree (goal: at most 10%). On a busy machine
   the loads' times vary more than the tree costs, so the tree's own work per record (its
   hashes, the append, its triples) is also timed alone and set against a hop's load time.
2. An inclusion proof at 1,000,000 records: a store holding the tree the log writes for
   1,000,000 records (each record's leaf index, leaf and the nodes its append completed,
   in its own graph) is built by bulk load; then P proofs for random leaves against the
   whole tree, each read as `/log/proof/inclusion` reads it (one query for the nodes, the
   audit path and the root computed), every one checked; the median and 95th percentile
   (goal: median under 5 ms). Only the tree is in that store, not 1,000,000 messages: the
   proof reads nothing else, but a store holding the messages too is larger.
3. Storage: quads and bytes on disk per record for the tree (from the store of step 2).

    python bench/tree.py                    # N = 20,000 hops, R = 2, 1,000,000 records
    python bench/tree.py -n 5000 --records 100000 --rounds 1     # a quick look
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import pyoxigraph as ox
from jobtrail.ingest import tree
from jobtrail.ingest.load import Loader
from jobtrail.ingest.seal import Log
from jobtrail.ingest.sources import from_paths
from jobtrail.store.oxigraph import OxigraphStore


def _bench_ingest() -> object:
    """bench/ingest.py, for its synthetic hops (bench/ is no package)."""
    spec = importlib.util.spec_from_file_location(
        "bench_ingest", Path(__file__).with_name("ingest.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load(jsonl: Path, where: Path, merkle: bool) -> float:
    """Seconds to load the hops into a fresh embedded store (the tree written or not)."""
    with OxigraphStore(str(where)) as store:
        loader = Loader(store, base="http://bench.example/", log=Log(store, merkle=merkle))
        start = time.perf_counter()
        report = loader.load(from_paths([str(jsonl)], None))
        seconds = time.perf_counter() - start
        assert not report.rejected, report.rejected[:1]
    shutil.rmtree(where)
    return seconds


def seal_cost(records: int = 100_000) -> float:
    """Microseconds of the tree's own work per record: what `Log.seal` adds (the leaf's hash,
    the append to the frontier, the triples it writes), the fastest of 5 rounds (CPU work
    alone: the fastest round is the one least disturbed by the machine's other work)."""
    digests = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(records)]
    best = float("inf")
    for _ in range(5):
        frontier: tree.Frontier = ()
        start = time.perf_counter()
        for i, digest in enumerate(digests):
            leaf = tree.leaf_hash(tree.entry(digest))
            frontier, completed = tree.append(frontier, i, leaf)
            tree.triples(f"http://bench.example/messages/{digest}", i + 1, completed)
        best = min(best, (time.perf_counter() - start) / records)
    print(f"the tree's work per record: {best * 1e6:.1f} µs (fastest of 5 rounds of {records:,})")
    return best * 1e6


def loader_cost(n: int, rounds: int, work: Path) -> None:
    jsonl = work / "hops.jsonl"
    _bench_ingest().write_jsonl(jsonl, n)  # type: ignore[attr-defined]
    times: dict[bool, list[float]] = {True: [], False: []}
    for r in range(rounds):
        for merkle in (False, True) if r % 2 == 0 else (True, False):
            times[merkle].append(load(jsonl, work / f"store-{r}-{merkle}", merkle))
    with_tree, without = (statistics.median(times[m]) for m in (True, False))
    added = seal_cost()
    print(
        f"the tree's work per hop is {added / (without / n * 1e6) * 100:.1f}% of the loader's time "
        "per hop measured here (without the tree)"
    )
    print(
        f"loader, {n:,} hops, median of {rounds}: without the tree {n / without:,.0f} h/s, "
        f"with it {n / with_tree:,.0f} h/s: the tree costs {(with_tree / without - 1) * 100:+.1f}%"
        " (goal: at most +10%)"
    )


def tree_store(records: int, where: Path) -> OxigraphStore:
    """A store holding the tree the log writes for `records` records, bulk loaded."""
    leaf_index = ox.NamedNode(tree.LEAF_INDEX)
    hash_ = ox.NamedNode(tree.HASH)
    frontier: tree.Frontier = ()
    quads: list[ox.Quad] = []
    raw = ox.Store(str(where))
    started = time.perf_counter()
    for i in range(records):
        record = ox.NamedNode(f"http://bench.example/messages/{i:064x}")
        leaf = tree.leaf_hash(i.to_bytes(32, "big"))
        frontier, completed = tree.append(frontier, i, leaf)
        quads.append(ox.Quad(record, leaf_index, ox.Literal(str(i), datatype=_INTEGER), record))
        quads += [
            ox.Quad(ox.NamedNode(tree.node_iri(k)), hash_, ox.Literal(h.hex()), record)
            for k, h in completed
        ]
        if len(quads) > 200_000:
            raw.bulk_extend(quads)
            quads = []
    raw.bulk_extend(quads)
    raw.flush()
    raw.optimize()
    del raw
    print(f"built the tree of {records:,} records in {time.perf_counter() - started:.0f} s")
    return OxigraphStore(str(where))


_INTEGER = ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")


def proofs(store: OxigraphStore, records: int, count: int) -> None:
    fetch = tree.fetcher(store)
    root = tree.root_at(records, fetch)
    chosen = random.Random(23).sample(range(records), count)
    times = []
    for index in chosen:
        start = time.perf_counter()
        path = tree.inclusion_path(index, records, fetch)
        at = tree.root_at(records, fetch)
        leaf = fetch([(0, index)])[(0, index)]
        times.append(time.perf_counter() - start)
        assert at == root and tree.verify_inclusion(leaf, index, records, path, root)
    times.sort()
    median, p95 = statistics.median(times) * 1000, times[int(len(times) * 0.95)] * 1000
    print(
        f"inclusion proof at {records:,} records ({count:,} random leaves, each checked): "
        f"median {median:.2f} ms, 95th percentile {p95:.2f} ms (goal: median under 5 ms)"
    )


def storage(store: OxigraphStore, where: Path, records: int) -> None:
    quads = store.count()
    size = sum(f.stat().st_size for f in where.rglob("*") if f.is_file())
    print(
        f"storage: {quads / records:.2f} quads and {size / records:.0f} bytes on disk per "
        f"record for the tree ({quads:,} quads, {size / 2**20:,.0f} MiB for {records:,})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=20_000, help="hops the loader loads")
    parser.add_argument("--rounds", type=int, default=2, help="loads with and without, each")
    parser.add_argument("--records", type=int, default=1_000_000, help="records in the tree")
    parser.add_argument("--proofs", type=int, default=2_000, help="inclusion proofs timed")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="jobtrail-bench-tree-"))
    try:
        if args.n:
            loader_cost(args.n, args.rounds, work)
        if args.records:
            where = work / "tree"
            store = tree_store(args.records, where)
            try:
                proofs(store, args.records, args.proofs)
                storage(store, where, args.records)
            finally:
                store.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
