"""A server whose store's disk fills up: 507 naming the disk, /health says so, and once space
is freed it writes again by itself — nothing it acknowledged lost.

A real `jobtrail serve` on a real filesystem of its own (the `small_disk` fixture), filled by a
file, then freed by deleting it. pyoxigraph 0.5.13 refuses every write of an open store once one
failed on a full disk (store/space.py), so writing again takes a reopened store: the server
process stops and `jobtrail serve` starts another (store/watchdog.py, server/serve.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import ADMIN_TOKEN, SmallDisk, jobtrail_server

PADDING = "x" * 8000  # RocksDB has room set aside in its log: a few writes still fit there


def _write(base: str, n: int) -> httpx.Response:
    update = f'INSERT DATA {{ GRAPH <urn:x:g{n}> {{ <urn:x:s> <urn:x:p> "{n} {PADDING}" }} }}'
    return httpx.post(
        f"{base}update",
        content=update,
        headers={
            "Content-Type": "application/sparql-update",
            "Authorization": f"Bearer {ADMIN_TOKEN}",
            "Accept": "application/problem+json",
        },
        timeout=30,
    )


def _has(base: str, n: int) -> bool:
    answer = httpx.get(
        f"{base}sparql",
        params={"query": f"ASK {{ GRAPH <urn:x:g{n}> {{ ?s ?p ?o }} }}"},
        headers={"Accept": "application/sparql-results+json"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    found: bool = answer.json()["boolean"]
    return found


def _health(base: str, deep: bool = False) -> httpx.Response | None:
    try:
        return httpx.get(f"{base}health", params={"deep": "1"} if deep else None, timeout=5)
    except httpx.HTTPError:
        return None  # between two server processes


def _until(check: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, what
        time.sleep(0.2)
    return found


def test_a_full_disk_answers_507_and_the_server_writes_again_once_space_is_freed(
    small_disk: SmallDisk, tmp_path: Path
) -> None:
    data = small_disk.path / "data"
    env = {
        "JOBTRAIL_ADMIN_TOKEN": ADMIN_TOKEN,
        "JOBTRAIL_FILES": str(tmp_path / "files"),
        "JOBTRAIL_WRITE_DEADLINE": "2",  # the watchdog writes every 0.5 s
        "JOBTRAIL_LIVENESS_TIMEOUT": "2",  # a full disk is not a hang: the process is kept
    }
    with jobtrail_server(data, env=env) as base:
        first = _write(base, 0)
        assert first.status_code in (200, 204), first.text
        acknowledged = [0]
        small_disk.fill()
        for n in range(1, 1000):  # the writes that still fit, then the one refused
            answer = _write(base, n)
            if answer.status_code != 204:
                break
            acknowledged.append(n)
        assert answer.status_code == 507, answer.text
        problem = answer.json()
        assert problem["title"] == "Insufficient storage"
        assert f"disk full at {data}" in problem["detail"], problem
        assert problem["path"] == str(data) and problem["disk"] == str(small_disk.path)

        health = _until(
            lambda: (h := _health(base)) is not None and h.status_code == 503 and h, 10, "health"
        )
        assert health.json()["status"] == "disk-full", health.text
        assert f"disk full at {data}" in health.json()["detail"]
        deep = _health(base, deep=True)
        assert deep is not None and deep.status_code == 503 and "disk full" in deep.text
        # reads go on, and the process is not taken for a hung one (liveness_timeout 2 s)
        time.sleep(4)
        assert _has(base, 0)
        assert _write(base, 1000).status_code == 507

        small_disk.free()
        _until(
            lambda: (h := _health(base, deep=True)) is not None and h.status_code == 200,
            60,
            "the server did not write again once space was freed",
        )
        again = _write(base, 1001)
        assert again.status_code == 204, again.text
        lost = [n for n in acknowledged if not _has(base, n)]
        assert not lost, f"acknowledged, then lost: {lost}"
        assert _has(base, 1001)
