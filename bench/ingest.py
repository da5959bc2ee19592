"""Validated bulk load vs raw pyoxigraph bulk_extend, in one run.

Generates N synthetic TRE-style hops (chains of 5 hops sharing UUIDs; each
becomes about 44 quads once read: the issue's ~30 triples of content plus
the message envelope) as JSON Lines, loads them with the real `jobtrail load`
(validation on) into a fresh embedded store, then loads the very quads that
load produced into another fresh store with `pyoxigraph.Store.bulk_extend`
(quads built in memory beforehand, not timed). Prints messages/s for both,
the ratio, and the peak memory of the load process.

    python bench/ingest.py                 # N = 100,000
    python bench/ingest.py -n 10000 -n 100000   # several sizes, memory flatness
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pyoxigraph as ox

PRODUCERS = [
    ("TDR", "consignment-export"),
    ("TRE", "receive-and-validate-bag"),
    ("TRE", "parse-judgment"),
    ("TRE", "caselaw-export"),
    ("Access", "caselaw-ingest"),
]


def hops(n: int, seed: int = 7):
    """N hops in chains of 5; each hop extends the previous hop's UUID list."""
    rng = uuid.UUID(int=seed)
    counter = 0
    chain = 0
    while counter < n:
        chain += 1
        reference = f"TDR-2022-{chain:06d}"
        uuids: list[dict[str, str]] = []
        for k, (name, process) in enumerate(PRODUCERS):
            if counter >= n:
                return
            u = str(uuid.UUID(int=(rng.int + counter * 7919 + 1) % (1 << 128), version=4))
            uuids.append({f"{name}-UUID": u})
            params: dict[str, object] = {"reference": reference, "number-of-retries": str(k % 2)}
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
            if k == 2:
                params["errors"] = [{"error": "validation failed"}]
            yield {
                "version": "1.0.0",
                "timestamp": str(1659631669 + counter),
                "UUIDs": list(uuids),
                "producer": {
                    "name": name,
                    "process": process,
                    "type": "judgment",
                    "environment": "INT",
                },
                "parameters": {name: params},
            }
            counter += 1


def write_jsonl(path: Path, n: int) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for hop in hops(n):
            f.write(json.dumps(hop, separators=(",", ":")) + "\n")


def jobtrail_load(jsonl: Path, store: Path) -> tuple[float, int]:
    """Time the real command; its own peak RSS (KiB) comes from wait4, not from other children."""
    cmd = [
        sys.executable,
        "-m",
        "jobtrail.cli",
        "load",
        str(jsonl),
        "--store",
        str(store),
        "--silent",
    ]
    start = time.perf_counter()
    process = subprocess.Popen(cmd)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"jobtrail load failed with {process.returncode}")
    return seconds, usage.ru_maxrss


def raw_bulk_extend(source_store: Path, target: Path) -> tuple[float, int]:
    dump = target.parent / "dump.nq"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "jobtrail.cli",
            "export",
            "--store",
            str(source_store),
            "-o",
            str(dump),
        ],
        check=True,
        stderr=subprocess.DEVNULL,
    )
    quads = list(ox.parse(path=str(dump), format=ox.RdfFormat.N_QUADS))
    store = ox.Store(str(target))
    start = time.perf_counter()
    store.bulk_extend(quads)
    store.flush()
    seconds = time.perf_counter() - start
    return seconds, len(quads)


def run(n: int, work: Path) -> dict[str, float]:
    jsonl = work / f"hops-{n}.jsonl"
    write_jsonl(jsonl, n)
    ours = work / f"store-{n}"
    load_s, peak_kb = jobtrail_load(jsonl, ours)
    raw_s, quads = raw_bulk_extend(ours, work / f"raw-{n}")
    return {"n": n, "quads": quads, "load_s": load_s, "raw_s": raw_s, "peak_mb": peak_kb / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, action="append", help="number of hops (repeatable)")
    args = parser.parse_args()
    sizes = args.n or [100_000]
    work = Path(tempfile.mkdtemp(prefix="jobtrail-bench-"))
    try:
        print(
            f"{'hops':>9} {'quads':>10} {'jobtrail load':>16} {'raw bulk_extend':>16} "
            f"{'ratio':>6} {'peak RSS':>9}"
        )
        for n in sizes:
            r = run(n, work)
            ours, raw = r["n"] / r["load_s"], r["n"] / r["raw_s"]
            print(
                f"{n:>9,} {r['quads']:>10,.0f} {ours:>11,.0f} h/s {raw:>11,.0f} h/s "
                f"{r['load_s'] / r['raw_s']:>5.2f}x {r['peak_mb']:>6.0f} MB",
                flush=True,
            )
            shutil.rmtree(work / f"store-{n}", ignore_errors=True)
            shutil.rmtree(work / f"raw-{n}", ignore_errors=True)
        print("ratio = validated load time / raw bulk_extend time (goal <= 1.5 at 100,000 hops)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
