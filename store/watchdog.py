"""The write watchdog: does a write still complete? `/health` answers 503 when not.

Reads can go on answering while every write is stuck (a deadlock in the
engine's write path), so a health check that only answers "up" says nothing.
A thread writes a tiny transaction every few seconds — a quad inserted into a
scratch graph and the graph dropped in the same update, so nothing is left and
no reader ever sees it — and `stuck()` says how long a write has been waiting
once that is longer than the deadline, or why the last one failed. The check
itself is two numbers read: `/health` stays as cheap as it was. `check()` makes
the same write at once (`/health?deep=1`).

A write that fails because the disk is full is told apart (`full()`): an
embedded store then refuses every write until it is reopened, even once space
is freed (store/space.py). While its writes fail, the watchdog looks at the
free space on the store's disk; once there is room (`space.ROOM`) it calls
`reopen` (the server stops, and `jobtrail serve` starts it again on the same
store) — once: a store that writes again by itself needs nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Literal

from jobtrail.base.errors import StoreFull
from jobtrail.store import Store, space

log = logging.getLogger("jobtrail.watchdog")

SCRATCH = "urn:jobtrail:write-check"
PROBE = (
    f'INSERT DATA {{ GRAPH <{SCRATCH}> {{ <{SCRATCH}> <{SCRATCH}#at> "{{at}}" }} }} ;\n'
    f"DROP SILENT GRAPH <{SCRATCH}>"
)

State = Literal["ok", "writes-stuck", "disk-full", "reopening", "write-failed"]


class WriteWatchdog:
    """Writes a tiny transaction every `interval` seconds; stuck past `deadline`: unhealthy."""

    def __init__(
        self,
        store: Store,
        deadline: float,
        interval: float | None = None,
        *,
        reopen: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.deadline = deadline
        self.interval = interval if interval is not None else max(0.5, min(5.0, deadline / 4))
        self.reopen = reopen  # called once, with the reason, when a full disk has room again
        self._since: float | None = None  # when the write under way began
        self._error: str | None = None  # why the last write failed
        self._full: StoreFull | None = None  # the last write met a full disk
        self._reopening: str | None = None  # why `reopen` was called
        self._checked: tuple[float, str | None] = (0.0, None)  # the last `check()`: when, why
        self._checking = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.deadline <= 0:
            return  # turned off
        self._thread = threading.Thread(target=self._run, name="jobtrail-write-watchdog")
        self._thread.daemon = True  # a write stuck for good must not keep the process alive
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def stuck(self) -> str | None:
        """Why writes are not healthy, or None when they are."""
        return self.state()[1]

    def state(self) -> tuple[State, str | None]:
        """What state writes are in, and why they are not healthy (None when they are)."""
        since = self._since
        if since is not None and (waited := time.monotonic() - since) > self.deadline:
            waiting = f"a write has not completed for {waited:.0f} s (deadline {self.deadline:g} s)"
            return "writes-stuck", waiting
        if self._reopening is not None:
            return "reopening", self._reopening
        if self._error is None:
            return "ok", None
        return ("disk-full" if self._full is not None else "write-failed"), self._error

    def full(self) -> StoreFull | None:
        """The full disk the last write failed on, or None."""
        return self._full

    def reopening(self) -> str | None:
        """Why the store is being reopened (the server stops to be started again), or None."""
        return self._reopening

    def check(self, fresh: float = 1.0) -> str | None:
        """Make the write now; why it failed, or None. Calls within `fresh` seconds of the
        last one share its answer (a caller cannot make the server write without bound)."""
        with self._checking:
            at, problem = self._checked
            if time.monotonic() - at > fresh:
                problem = self._write()
                self._checked = (time.monotonic(), problem)
            return problem

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._since = time.monotonic()
            try:
                self._write()
            finally:
                self._since = None

    def _write(self) -> str | None:
        try:
            write = getattr(self.store, "update_unseen", None) or self.store.update
            write(PROBE.replace("{at}", str(time.time())))  # leaves nothing: a write unseen
        except Exception as e:  # the store refuses writes: unhealthy too
            if self._error is None:  # said once, not at every check
                log.warning("write check failed: %s", e)
            self._full = e if isinstance(e, StoreFull) else None
            self._error = str(e) if self._full is not None else f"a write failed: {e}"
            if self._full is not None:
                self._room(self._full)
            return self._error
        if self._error is not None:
            log.warning("writes complete again")
        self._error = self._full = None
        return None

    def _room(self, full: StoreFull) -> None:
        """A write failed on a full disk: is there room again? Then reopen the store."""
        path = full.details.get("path")
        free = space.free_bytes(path) if path is not None else None
        if free is None or free < space.ROOM:
            return
        reason = f"{free >> 20} MiB free again on {full.details.get('disk')}"
        if self.reopen is None:
            self._error = (
                f"{full.message}; {reason}, but the store refuses writes until it is "
                "reopened: restart the server"
            )
            return
        if self._reopening is None:
            self._reopening = f"{reason}: reopening the store at {path}"
            log.warning("%s", self._reopening)
            self.reopen(self._reopening)
