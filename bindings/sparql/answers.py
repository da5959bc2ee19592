"""Answers of query processes kept for the same query over the same store.

A query process answers over a snapshot holding every write the store had completed when
the request arrived (`isolation.py`). Until the store completes another write, the same
query — same text, dataset (the whole store or the public copy), graphs, substitutions and
formats — can only get the same answer, so `Answers` keeps it, keyed by the store's count of
completed writes, and hands it out again without a query process: a dashboard's GROUP BY
repeated by many clients costs the engine once per write. Any write makes every kept answer
unreachable (their keys name the older count); they age out of the budget.

Clients asking the same query together share one run: while it runs, the others wait for
its answer (`running`, `get`); if it fails, each runs the query itself.

Not kept: the answer of a query that could change without a write — one calling `NOW`,
`RAND`, `UUID`, `STRUUID` or `BNODE` (a new value at every run), or reaching another endpoint
through `SERVICE` — or that holds a `\\u` escape (which could spell either). Only answers no
larger than `LARGEST` are kept, `BUDGET` bytes in all, the least recently
used going first. Errors (a timeout, a crash, a refusal) are never kept.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import OrderedDict

from jobtrail.bindings.sparql.isolation import Answer, Job

BUDGET = 32 * 1048576
"""Bytes of answers kept at most."""
LARGEST = 1048576
"""Bytes of the largest answer kept."""
_CHANGING = re.compile(r"\b(?:now|rand|uuid|struuid|bnode)\s*\(|\bservice\b", re.IGNORECASE)


class Answers:
    """Used from the event loop only (no lock)."""

    def __init__(self, budget: int = BUDGET, largest: int = LARGEST) -> None:
        self.budget, self.largest = budget, largest
        self.used = 0
        self._kept: OrderedDict[str, Answer] = OrderedDict()
        self._running: dict[str, asyncio.Future[Answer | None]] = {}

    @staticmethod
    def key(job: Job, writes: int) -> str | None:
        """What decides the answer: the job as the process reads it, and the store's writes;
        None for a query whose answer is not kept."""
        if "\\u" in job.query.lower() or _CHANGING.search(job.query):
            return None
        return json.dumps([writes, job.__dict__], sort_keys=True)

    async def get(self, key: str | None) -> Answer | None:
        """The kept answer, or that of the same query running now once it ends; None: run
        it (`running`, then `put` and `done`)."""
        if key is None:
            return None
        found = self._kept.get(key)
        if found is not None:
            self._kept.move_to_end(key)
            return found
        ahead = self._running.get(key)
        return await asyncio.shield(ahead) if ahead is not None else None

    def running(self, key: str | None) -> asyncio.Future[Answer | None] | None:
        """Say that the query `key` runs now, for those who ask it meanwhile."""
        if key is None or key in self._running:
            return None
        future: asyncio.Future[Answer | None] = asyncio.get_running_loop().create_future()
        self._running[key] = future
        return future

    def done(self, key: str | None, future: asyncio.Future[Answer | None] | None) -> None:
        """The run `running` announced has ended: its answer (kept by `put`) or None."""
        if key is None or future is None:
            return
        if self._running.get(key) is future:
            del self._running[key]
        if not future.done():
            future.set_result(self._kept.get(key))

    def put(self, key: str | None, answer: Answer) -> None:
        if key is None:
            return
        size = len(answer.body) + len(key)
        if size > self.largest or key in self._kept:
            return
        self._kept[key] = answer
        self.used += size
        while self.used > self.budget and self._kept:
            old_key, old = self._kept.popitem(last=False)
            self.used -= len(old.body) + len(old_key)
