"""The engine faults the query processes guard against, each reproduced outside jobtrail.

When one of these tests fails, pyoxigraph has changed: the fault is fixed (the isolation
stays, but the hint in `bindings/sparql/isolation.py` that names the trigger and the
README's note should go), or it shows differently.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pyoxigraph as ox

SORT_PANIC = Path(__file__).with_name("engine_sort_panic.py")


def test_order_by_over_mixed_timezones_still_aborts_the_process() -> None:
    run = subprocess.run(
        [sys.executable, str(SORT_PANIC)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"RUST_BACKTRACE": "0", "PATH": ""},
    )
    assert run.returncode != 0, (
        f"pyoxigraph {ox.__version__} sorts dateTimes with and without a timezone without "
        f"panicking ({run.stdout.strip()}): the upstream fault is fixed; update the hint in "
        "bindings/sparql/isolation.py and the README's note on it"
    )
    assert run.returncode == -signal.SIGABRT, run.stderr[-2000:]
    assert "does not correctly implement a total order" in run.stderr
