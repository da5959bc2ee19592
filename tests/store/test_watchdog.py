"""The write watchdog behind /health: it notices writes that no longer complete."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from jobtrail.store.oxigraph import OxigraphStore
from jobtrail.store.watchdog import SCRATCH, WriteWatchdog


class GatedStore(OxigraphStore):
    """A real in-memory store whose updates wait while the gate is closed (a stuck write)."""

    def __init__(self) -> None:
        super().__init__(None)
        self.gate = threading.Event()
        self.gate.set()
        self.updates = 0  # completed writes

    def update(self, sparql: str) -> None:
        self.gate.wait(60)
        super().update(sparql)
        self.updates += 1


def until(check: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_writes_that_complete_are_healthy_and_leave_nothing() -> None:
    store = GatedStore()
    watchdog = WriteWatchdog(store, deadline=0.5, interval=0.05)
    watchdog.start()
    try:
        until(lambda: store.updates >= 3)  # several writes made
        assert watchdog.stuck() is None
        assert len(store._store) == 0 and not store.exists(SCRATCH)
        assert store.writes == 0  # seen by nobody: query snapshots and kept answers stay
    finally:
        watchdog.stop()


def test_a_write_stuck_past_the_deadline_is_unhealthy_until_it_completes() -> None:
    store = GatedStore()
    store.gate.clear()
    watchdog = WriteWatchdog(store, deadline=0.3, interval=0.05)
    watchdog.start()
    try:
        until(lambda: watchdog.stuck() is not None)
        assert "has not completed" in (watchdog.stuck() or "")
        store.gate.set()
        until(lambda: watchdog.stuck() is None)
    finally:
        store.gate.set()
        watchdog.stop()


def test_a_deadline_of_zero_turns_it_off() -> None:
    watchdog = WriteWatchdog(OxigraphStore(None), deadline=0)
    watchdog.start()
    assert watchdog.stuck() is None
    watchdog.stop()
