"""OpenLineage events in, against TRE hops in, on the same machine in the same run.

Generates N synthetic OpenLineage RunEvents (runs of one pipeline, as a daily DAG runs: a
parent run and three child runs over the same four datasets each time, each run a START and a
COMPLETE event; children carry the parent facet, a processing engine facet, one input and one
output dataset) and N synthetic TRE hops (bench/ingest.py's
generator), then measures events/s

  load   the real `jobtrail load` of each as JSON Lines into a fresh embedded store;
  POST   a real `jobtrail serve` over a fresh store, the events posted in batches of B as
         JSON Lines: OpenLineage to `POST /api/v1/lineage`, TRE to `POST /messages`;

and prints OpenLineage's rate as a share of TRE's for each (the issue's goal: at least 80 %).
On a shared 2-core machine compare the ratios of one run, not figures across runs.

    python bench/openlineage.py                 # N = 5,000, B = 500
    python bench/openlineage.py -n 20000 -b 1000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from ingest import hops  # noqa: E402

TOKEN = "bench-producer"
SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.54.0/client/python"
FACETS = "https://openlineage.io/spec/facets"


def events(n: int) -> Iterator[dict[str, object]]:
    """N run events: pipelines of a parent and three children, START and COMPLETE each."""
    start = datetime(2026, 12, 7, tzinfo=UTC)
    count, pipeline = 0, 0
    while count < n:
        pipeline += 1
        parent = str(uuid.UUID(int=pipeline * 10, version=4))
        runs = [(parent, "etl", None, None)]
        for k, step in enumerate(("extract", "transform", "load")):
            child = str(uuid.UUID(int=pipeline * 10 + k + 1, version=4))
            data_in, data_out = f"orders/d{k}", f"orders/d{k + 1}"
            runs.append((child, f"etl.{step}", data_in, data_out))
        for run_id, job, data_in, data_out in runs:
            for state in ("START", "COMPLETE"):
                if count >= n:
                    return
                facets: dict[str, object] = {}
                if data_in is not None:
                    facets["parent"] = {
                        "_producer": PRODUCER,
                        "_schemaURL": f"{FACETS}/1-1-0/ParentRunFacet.json#/$defs/ParentRunFacet",
                        "run": {"runId": parent},
                        "job": {"namespace": "bench", "name": "etl"},
                    }
                    facets["processing_engine"] = {
                        "_producer": PRODUCER,
                        "_schemaURL": f"{FACETS}/1-1-1/ProcessingEngineRunFacet.json"
                        "#/$defs/ProcessingEngineRunFacet",
                        "name": "Airflow",
                        "version": "2.9.1",
                    }
                yield {
                    "eventType": state,
                    "eventTime": (start + timedelta(seconds=count)).isoformat(),
                    "run": {"runId": run_id, "facets": facets},
                    "job": {"namespace": "bench", "name": job, "facets": {}},
                    "inputs": [{"namespace": "s3://lake", "name": data_in}] if data_in else [],
                    "outputs": [{"namespace": "s3://lake", "name": data_out}] if data_out else [],
                    "producer": PRODUCER,
                    "schemaURL": SCHEMA,
                }
                count += 1


def lines(items: Iterator[dict[str, object]]) -> list[bytes]:
    return [json.dumps(i, separators=(",", ":")).encode() for i in items]


def jobtrail(*args: str, **kw: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "jobtrail.cli", *args], check=True, **kw)  # type: ignore[call-overload, no-any-return]


def load_rate(data: list[bytes], work: Path, name: str) -> float:
    path = work / f"{name}.jsonl"
    path.write_bytes(b"\n".join(data) + b"\n")
    began = time.perf_counter()
    jobtrail("load", str(path), "--store", str(work / f"load-{name}"), "--silent")
    return len(data) / (time.perf_counter() - began)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post_rate(data: list[bytes], work: Path, name: str, path: str, batch: int) -> float:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    store = work / f"serve-{name}"
    env = {**os.environ, "JOBTRAIL_PRODUCERS": f"{TOKEN}:*"}
    serve = [sys.executable, "-m", "jobtrail.cli", "serve", "--store", str(store)]
    server = subprocess.Popen([*serve, "--port", str(port)], env=env, stderr=subprocess.DEVNULL)
    try:
        with httpx.Client(base_url=base, timeout=600) as client:
            for _ in range(600):
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson"}
            began = time.perf_counter()
            for i in range(0, len(data), batch):
                body = b"\n".join(data[i : i + batch])
                answer = client.post(path, content=body, headers=headers)
                if answer.status_code != 201:
                    raise SystemExit(f"{path}: {answer.status_code} {answer.text[:500]}")
            return len(data) / (time.perf_counter() - began)
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=5000, help="events of each kind (5,000)")
    parser.add_argument("-b", type=int, default=500, help="events per POST (500)")
    args = parser.parse_args()
    ol, tre = lines(events(args.n)), lines(hops(args.n))
    work = Path(tempfile.mkdtemp(prefix="jobtrail-bench-ol-"))
    try:
        print(f"{args.n:,} events of each kind; POST batches of {args.b:,}; load {os.getloadavg()}")
        print(f"{'path':<28} {'OpenLineage':>14} {'TRE':>14} {'ratio':>7}")
        rows = [
            ("jobtrail load", load_rate(ol, work, "ol"), load_rate(tre, work, "tre")),
            (
                "POST (batches)",
                post_rate(ol, work, "ol", "/api/v1/lineage", args.b),
                post_rate(tre, work, "tre", "/messages", args.b),
            ),
        ]
        for label, ours, theirs in rows:
            print(f"{label:<28} {ours:>10,.0f} ev/s {theirs:>10,.0f} ev/s {ours / theirs:>6.0%}")
        print("ratio = OpenLineage events/s / TRE hops/s (goal: at least 80 %)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
