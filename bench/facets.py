"""What the faceted /messages page costs: the page with its facet counts, filtered and sorted.

Generates N synthetic TRE hops (bench/ingest.py's: 5 producers, every fifth hop reporting an
error), loads them with the real `jobtrail load`, serves the store with the real
`jobtrail serve`, then times GET requests (after one warm-up each): the HTML page (its summary,
page and details queries and one GROUP BY per facet) unfiltered, by producer, by reference and
by a `q`; sorted by producer and by kind; the Atom feed (no facet queries) for comparison; as
the admin (who sees everything) and anonymously (every query carries the visibility filter).
Prints the median of R requests per row.

    python bench/facets.py               # N = 20,000, R = 5
    python bench/facets.py -n 5000 -r 3
    python bench/facets.py --store DIR --base-url URL   # a store it loaded before (a copy)
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# bench/ holds an http.py: keep this directory off the path while the standard library's
# `http` is imported (by httpx); bench/ingest.py is loaded by its path instead.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
import httpx  # noqa: E402

ADMIN = "bench-admin-token"


def _bench_module(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def get(url: str, headers: dict[str, str]) -> float:
    start = time.perf_counter()
    r = httpx.get(url, headers=headers, timeout=300)
    assert r.status_code == 200, (r.status_code, r.text[:300])
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20_000, help="messages (default 20,000)")
    parser.add_argument("-r", type=int, default=5, help="requests per row (default 5)")
    parser.add_argument("--store", type=Path, help="a store this bench loaded before: a copy")
    parser.add_argument("--base-url", help="the base URL that store was loaded with")
    args = parser.parse_args()
    ingest = _bench_module("ingest")
    with tempfile.TemporaryDirectory(prefix="jobtrail-facets-") as tmp:
        work = Path(tmp)
        jsonl, store = work / "hops.jsonl", work / "store"
        port = free_port()
        base = f"http://127.0.0.1:{port}/"
        jobtrail = [sys.executable, "-m", "jobtrail.cli"]
        if args.store:
            shutil.copytree(args.store, store)
            base = args.base_url or base
        else:
            ingest.write_jsonl(jsonl, args.n)
            load = [*jobtrail, "load", str(jsonl), "--store", str(store), "--base-url", base]
            started = time.perf_counter()
            subprocess.run([*load, "--silent"], check=True)
            print(f"loaded {args.n:,} messages in {time.perf_counter() - started:.1f} s")
        env = {**os.environ, "JOBTRAIL_ADMIN_TOKEN": ADMIN}
        serve = [*jobtrail, "serve", "--store", str(store), "--port", str(port)]
        serve += ["--base-url", base]
        server = subprocess.Popen(serve, env=env, stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    get(f"http://127.0.0.1:{port}/health", {})
                    break
                except httpx.HTTPError:
                    assert time.monotonic() < deadline, "the server did not start"
                    time.sleep(0.5)
            producer = f"{base}producers/TRE/parse-judgment/INT"
            rows = [
                ("HTML, no filter", "messages.html"),
                ("HTML, producer (IRI)", f"messages.html?producer={producer}"),
                ("HTML, producer=TRE, warnings=0", "messages.html?producer=TRE&warnings=0"),
                ("HTML, errors=1", "messages.html?errors=1"),
                ("HTML, reference", "messages.html?reference=TDR-2022-000042"),
                ("HTML, q=000042", "messages.html?q=000042"),
                ("HTML, since/until a day", "messages.html?since=2022-08-04&until=2022-08-04"),
                ("HTML, sort=producer", "messages.html?sort=producer"),
                ("HTML, sort=kind", "messages.html?sort=kind"),
                ("Atom, no filter", "messages.atom"),
                ("Atom, producer=TRE", "messages.atom?producer=TRE"),
            ]
            print(f"| request ({args.n:,} messages) | admin (s) | anonymous (s) |")
            print("|---|---:|---:|")
            for label, path in rows:
                times = []
                for headers in ({"Authorization": f"Bearer {ADMIN}"}, {}):
                    url = f"http://127.0.0.1:{port}/{path}"
                    get(url, headers)  # warm-up
                    times.append(statistics.median(get(url, headers) for _ in range(args.r)))
                print(f"| {label} | {times[0]:.2f} | {times[1]:.2f} |", flush=True)
        finally:
            server.terminate()
            server.wait(30)


if __name__ == "__main__":
    main()
