"""The write watchdog: does a write still complete? `/health` answers 503 when not.

Reads can go on answering while every write is stuck (a deadlock in the
engine's write path), so a health check that only answers "up" says nothing.
A thread writes a tiny transaction every few seconds — a quad inserted into a
scratch graph and the graph dropped in the same update, so nothing is left and
no reader ever sees it — and `stuck()` says how long a write has been waiting
once that is longer than the deadline, or why the last one failed. The check
itself is two numbers read: `/health` stays as cheap as it was.
"""

from __future__ import annotations

import logging
import threading
import time

from jobtrail.store import Store

log = logging.getLogger("jobtrail.watchdog")

SCRATCH = "urn:jobtrail:write-check"
PROBE = (
    f'INSERT DATA {{ GRAPH <{SCRATCH}> {{ <{SCRATCH}> <{SCRATCH}#at> "{{at}}" }} }} ;\n'
    f"DROP SILENT GRAPH <{SCRATCH}>"
)


class WriteWatchdog:
    """Writes a tiny transaction every `interval` seconds; stuck past `deadline`: unhealthy."""

    def __init__(self, store: Store, deadline: float, interval: float | None = None) -> None:
        self.store = store
        self.deadline = deadline
        self.interval = interval if interval is not None else max(0.5, min(5.0, deadline / 4))
        self._since: float | None = None  # when the write under way began
        self._error: str | None = None  # why the last write failed
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
        since = self._since
        if since is not None and (waited := time.monotonic() - since) > self.deadline:
            return f"a write has not completed for {waited:.0f} s (deadline {self.deadline:g} s)"
        return self._error

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._since = time.monotonic()
            try:
                self.store.update(PROBE.replace("{at}", str(time.time())))
                self._error = None
            except Exception as e:  # the store refuses writes: unhealthy too
                self._error = f"a write failed: {e}"
                log.warning("write check failed: %s", e)
            finally:
                self._since = None
