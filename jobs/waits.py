"""Waiting for a job to change, without a thread or a poll per waiter (UWS 1.1 `WAIT`).

A waiter is an asyncio future registered under its job's id. The job core
tells `Waits` of every change (from whichever thread made it); `Waits` wakes
that job's futures through their event loop with the change itself (the job
as it now is), so a blocked client costs one entry in a dict until its job
changes or its time runs out, and its wake-up needs neither a worker thread
nor a store query.

Changes made by another server process on a shared remote store are not
seen here; a waiter then returns when its time runs out (README, "UWS").
"""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict

from jobtrail.jobs.core import Change, Jobs


class Waits:
    def __init__(self, jobs: Jobs):
        self._lock = threading.Lock()
        self._waiting: dict[str, set[asyncio.Future[Change]]] = defaultdict(set)
        jobs.listen(self._changed)

    def __len__(self) -> int:
        with self._lock:
            return sum(len(w) for w in self._waiting.values())

    def register(self, job_id: str) -> asyncio.Future[Change]:
        """A future that completes at the job's next change; register before reading the job."""
        future: asyncio.Future[Change] = asyncio.get_running_loop().create_future()
        with self._lock:
            self._waiting[job_id].add(future)
        return future

    def discard(self, job_id: str, future: asyncio.Future[Change]) -> None:
        with self._lock:
            waiting = self._waiting.get(job_id)
            if waiting is not None:
                waiting.discard(future)
                if not waiting:
                    del self._waiting[job_id]

    async def wait(
        self, job_id: str, future: asyncio.Future[Change], seconds: float
    ) -> Change | None:
        """The job's change when it came within `seconds`; None when the time ran out."""
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout=max(seconds, 0.0))
        except TimeoutError:
            return None
        finally:
            self.discard(job_id, future)

    def _changed(self, change: Change) -> None:
        with self._lock:
            futures = self._waiting.pop(change.job_id, set())
        for future in futures:
            loop = future.get_loop()
            if not loop.is_closed():
                loop.call_soon_threadsafe(_wake, future, change)


def _wake(future: asyncio.Future[Change], change: Change) -> None:
    if not future.done():
        future.set_result(change)
