"""`jobtrail load` into a store whose disk fills up: exit 2, the disk named, nothing left hanging.

On a real filesystem of its own (the `small_disk` fixture), nearly filled by a file first.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import SmallDisk


def _messages(path: Path, n: int, first: int = 0) -> None:
    """`n` valid TRE-style messages, as JSON Lines, numbered from `first`."""
    with open(path, "w", encoding="utf-8") as f:
        for k in range(first, first + n):
            reference = f"TDR-2022-{k:06d}"
            message = {
                "version": "1.0.0",
                "timestamp": str(1659631669 + k),
                "UUIDs": [{"TDR-UUID": f"{k:08x}-0000-4000-8000-{k:012x}"}],
                "producer": {
                    "name": "TDR",
                    "process": "consignment-export",
                    "type": "judgment",
                    "environment": "INT",
                },
                "parameters": {
                    "TDR": {
                        "reference": reference,
                        "resource": {
                            "resource-type": "Object",
                            "access-type": "url",
                            "value": f"https://example.org/{reference}.tar.gz",
                        },
                    }
                },
            }
            f.write(json.dumps(message) + "\n")


def test_a_load_onto_a_full_disk_exits_2_naming_the_disk(
    small_disk: SmallDisk, tmp_path: Path
) -> None:
    source = tmp_path / "messages.jsonl"
    _messages(source, 3000)
    store = small_disk.path / "data"
    small_disk.fill(leave=1 << 20)
    load = [sys.executable, "-m", "jobtrail.cli", "load", "--store", str(store)]
    # a batch is being written when the one before fails: before the fix the load printed a
    # traceback, then never exited (the second batch's engine load waited on its pipe)
    done = subprocess.run(
        [*load, str(source), "--batch-size", "1000"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done.stderr
    assert f"error: disk full at {store}" in done.stderr, done.stderr
    assert f"free space on {small_disk.path}" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    # with room again, the store takes a load again
    small_disk.free()
    few = tmp_path / "few.jsonl"
    _messages(few, 200, first=10_000)
    again = subprocess.run([*load, str(few)], capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "stored 200 messages" in again.stderr, again.stderr
