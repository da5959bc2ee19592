"""Writes keep completing under mixed load, and the log stays sound (bench/soak.py, shorter).

Message posters, UWS clients in WAIT, /jobs posters and readers run at once against
one real server; the soak fails when any kind of write stops completing. Then the
store's tamper-evident log must verify, and the same bytes posted by many clients
at once must be stored (and sealed) once.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import PRODUCER, PRODUCER_TOKEN, job_server

SOAK = Path(__file__).resolve().parents[2] / "bench" / "soak.py"


def verify(data: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "jobtrail.cli", "verify", "--store", str(data)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_writes_keep_completing_under_mixed_load(tmp_path: Path) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    with job_server(
        tmp_path / "data", tmp_path / "files", file_roots=str(inputs), uws_max_wait="5"
    ) as base:
        soak = subprocess.run(
            [sys.executable, str(SOAK), "--url", base, "--inputs", str(inputs)]
            + ["--seconds", "25", "--stall", "20", "--json", "--token", PRODUCER_TOKEN],
            capture_output=True,
            text=True,
            timeout=25 + 180,
        )
        assert soak.returncode in (0, 1), soak.stderr
        figures = json.loads(soak.stdout)
        assert figures["ok"], figures
        for kind in ("message", "uws", "job", "read"):
            assert figures[kind]["completed"] > 0, (kind, figures)
            assert figures[kind]["timeouts"] == 0, (kind, figures)
        assert figures["message"]["statuses"].get("200", 0) > 0  # repeats: stored before
        assert httpx.get(f"{base}health", timeout=10).status_code == 200
    checked = verify(tmp_path / "data")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_same_bytes_posted_at_once_are_stored_and_sealed_once(tmp_path: Path) -> None:
    body = json.dumps(
        {
            "version": "1.0.0",
            "timestamp": "1659631669",
            "UUIDs": [{"TDR-UUID": "c5a6f4b2-9f4e-4d7e-8f1a-3c2b1a0d9e8f"}],
            "producer": {
                "name": "TDR",
                "process": "consignment-export",
                "type": "judgment",
                "environment": "INT",
            },
            "parameters": {"TDR": {"reference": "TDR-AT-ONCE", "number-of-retries": "0"}},
        }
    ).encode()
    with job_server(tmp_path / "data", tmp_path / "files") as base:

        def post(_: int) -> httpx.Response:
            return httpx.post(
                f"{base}messages",
                content=body,
                headers={**PRODUCER, "Content-Type": "application/json"},
                timeout=60,
            )

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(post, range(8)))
        assert sorted(a.status_code for a in answers) == [200] * 7 + [201]
        assert len({a.headers["location"] for a in answers}) == 1
        stored = httpx.get(
            answers[0].headers["location"], headers={"Accept": "text/turtle"}, timeout=10
        )
        assert stored.status_code == 200 and stored.text.count("logPosition") == 1
    checked = verify(tmp_path / "data")
    assert checked.returncode == 0, checked.stdout + checked.stderr
