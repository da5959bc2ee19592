"""`jobtrail load --store URL` into `oxigraph serve` vs Oxigraph's own bulk loader, in one run.

Generates N synthetic TRE hops (bench/ingest.py's generator) as JSON Lines, then times,
each on the same data and from nothing:

  embedded       the real `jobtrail load` into a fresh embedded store (for reference);
  oxigraph load  the engine's own bulk loader (`oxigraph load --file`) into a fresh
                 directory, fed the N-Quads that the embedded load stored (`jobtrail
                 export`, not timed): the same quads, messages and seals;
  remote PATH    the real `jobtrail load --store http://…` into a fresh `oxigraph serve`,
                 once per bulk path (`JOBTRAIL_REMOTE_BULK`, store/remote_bulk.py):
                   sparql           SPARQL `INSERT DATA` updates (the path before the
                                    GSP writer)
                   gsp-transaction  N-Quads POSTed to the Graph Store endpoint, one
                                    transaction per batch
                   gsp              the same with `?no_transaction`: the engine's bulk
                                    loader, atomic too since Oxigraph 0.5.1 (the default)

and prints hops/s for each and its ratio to `oxigraph load` (the goal for the remote
paths: at least 50%). Every remote load is checked to store exactly as many quads as the
embedded one. With R rounds (-r) each path's best run counts (the machine is shared: the
best run is the least disturbed, for every path alike), and the spread of the ratios
each round measured against the `oxigraph load` of the same round is printed beside.

    python bench/remote_load.py                     # N = 10,000, R = 1
    python bench/remote_load.py -n 20000 -r 3
    python bench/remote_load.py --paths gsp,sparql
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# this directory off the path while the libraries import, then back for bench/ingest.py
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
import urllib.request  # noqa: E402
from urllib.parse import quote  # noqa: E402

import pyoxigraph as ox  # noqa: E402

sys.path.insert(0, str(HERE))
import ingest as synthetic  # noqa: E402

PATHS = ("sparql", "gsp-transaction", "gsp")
GOAL = 0.5
COUNT = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"


def oxigraph_binary() -> str:
    local = Path(sys.executable).parent / "oxigraph"
    found = str(local) if local.exists() else shutil.which("oxigraph")
    if found is None:
        raise SystemExit("no `oxigraph` binary: pip install oxigraph")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def jobtrail(*args: str, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    command = [sys.executable, "-m", "jobtrail.cli", *args]
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def engine_load(binary: str, dump: Path, target: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [binary, "load", "--location", str(target), "--file", str(dump)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def count(url: str) -> int:
    request = urllib.request.Request(
        f"{url}/query?query={quote(COUNT)}", headers={"accept": "text/tab-separated-values"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return int(response.read().decode().split("\n")[1].strip().split("^^")[0].strip('"'))


def remote_load(binary: str, jsonl: Path, work: Path, path: str, quads: int) -> float:
    """Time `jobtrail load` into a fresh `oxigraph serve` through one bulk path."""
    data = work / f"server-{path}"
    shutil.rmtree(data, ignore_errors=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(work / f"server-{path}.log", "wb") as log:
        server = subprocess.Popen(
            [binary, "serve", "--location", str(data), "--bind", f"127.0.0.1:{port}"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        for _ in range(200):
            try:
                count(url)
                break
            except OSError:
                time.sleep(0.05)
        env = {**os.environ, "JOBTRAIL_REMOTE_BULK": path}
        seconds = jobtrail("load", str(jsonl), "--store", url, "--silent", env=env)
        stored = count(url)
        if stored != quads:
            raise SystemExit(f"{path}: the engine holds {stored:,} quads, not {quads:,}")
        return seconds
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(data, ignore_errors=True)


def run(n: int, repeat: int, paths: list[str], work: Path) -> tuple[int, dict[str, list[float]]]:
    """Each round: the embedded load, `oxigraph load`, then each remote path; the times."""
    binary = oxigraph_binary()
    jsonl = work / f"hops-{n}.jsonl"
    synthetic.write_jsonl(jsonl, n)
    times: dict[str, list[float]] = {}
    dump = work / "dump.nq"
    quads = 0
    for i in range(repeat):
        embedded = work / "embedded"
        shutil.rmtree(embedded, ignore_errors=True)
        times.setdefault("embedded", []).append(
            jobtrail("load", str(jsonl), "--store", str(embedded), "--silent")
        )
        if i == 0:
            jobtrail("export", "--store", str(embedded), "-o", str(dump))
            quads = sum(1 for _ in ox.parse(path=str(dump), format=ox.RdfFormat.N_QUADS))
        shutil.rmtree(embedded, ignore_errors=True)
        target = work / "engine"
        times.setdefault("oxigraph load", []).append(engine_load(binary, dump, target))
        shutil.rmtree(target, ignore_errors=True)
        for path in paths:
            times.setdefault(path, []).append(remote_load(binary, jsonl, work, path, quads))
    return quads, times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, action="append", help="number of hops (repeatable)")
    parser.add_argument("-r", "--repeat", type=int, default=1, help="rounds (best counts)")
    parser.add_argument(
        "--paths", default=",".join(PATHS), help=f"remote bulk paths, of {', '.join(PATHS)}"
    )
    args = parser.parse_args()
    paths = [p for p in args.paths.split(",") if p]
    if unknown := set(paths) - set(PATHS):
        parser.error(f"unknown paths: {', '.join(sorted(unknown))}")
    print(
        f"Python {platform.python_version()}, pyoxigraph {ox.__version__}, "
        f"{os.cpu_count()} cores, best of {args.repeat}; load average "
        f"{os.getloadavg()[0]:.1f} at the start"
    )
    work = Path(tempfile.mkdtemp(prefix="jobtrail-bench-remote-"))
    try:
        for n in args.n or [10_000]:
            quads, times = run(n, args.repeat, paths, work)
            best = {name: min(t) for name, t in times.items()}
            engine = n / best["oxigraph load"]
            print(f"\n{n:,} hops, {quads:,} quads (load average now {os.getloadavg()[0]:.1f})")
            print(
                f"  {'oxigraph load':<24} {engine:>7,.0f} hops/s  {best['oxigraph load']:>6.2f} s"
            )
            for name in ["embedded", *paths]:
                rate = n / best[name]
                # each round's ratio to the `oxigraph load` of the same round
                pairs = zip(times["oxigraph load"], times[name], strict=True)
                rounds = sorted(e / t for e, t in pairs)
                spread = f"{rounds[0]:.0%}–{rounds[-1]:.0%}" if len(rounds) > 1 else ""
                verdict = (
                    ""
                    if name == "embedded"
                    else (
                        "  meets the 50% goal" if rate / engine >= GOAL else "  below the 50% goal"
                    )
                )
                label = "embedded jobtrail load" if name == "embedded" else f"remote {name}"
                print(
                    f"  {label:<24} {rate:>7,.0f} hops/s  {best[name]:>6.2f} s  "
                    f"{rate / engine:>4.0%} of oxigraph load {spread:>9}{verdict}",
                    flush=True,
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
