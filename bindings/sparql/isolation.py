"""Clients' queries in processes of their own: a crash or a runaway never reaches the server.

A client's SPARQL (at /sparql, and the named queries with its parameters) runs in a pool
of query processes (`worker.py`, setting `query_workers`), each reading a read-only
snapshot of the store (`store/snapshots.py`). The server's own queries (dereferencing,
traces, the bindings' documents) are not a client's text and stay in the server.

What the pool enforces, by watching each process from the server's event loop while it
runs a query (its answer is read as it comes, with `loop.add_reader`; no thread waits):

- the time limit (`query_timeout`): past it the process is killed — the work stops, no
  CPU goes on burning — and the answer is 503;
- the memory limit (`query_memory`): its resident size is looked at every 20 ms, and past
  the limit it is killed (507); the process also has an address-space backstop at twice
  the limit, for what grows faster than the looks;
- the size of the results (`query_result_limit`), counted by the process itself as it
  takes rows (507);
- an engine failure (pyoxigraph 0.5 aborts the whole process on some queries: see
  tests/store/engine_sort_panic.py): the process's death is noticed, the engine's last
  words are logged, and the answer is a 500 naming it.

A killed or dead process is replaced at once by a new one, so other queries, the
dereferencing, job workers, `WAIT`s and loads are not affected.

Freshness: a query sees every write the server acknowledged before it arrived. The
endpoint reads the store's count of completed writes when the request arrives and asks
for a snapshot holding at least that many (`Snapshots.fresh`); for the public copy it
first waits until the copy has copied every record sealed before the request arrived.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from jobtrail.base.errors import (
    NotAcceptable,
    QueryEngineFailed,
    QueryError,
    QueryTooLarge,
    StoreError,
)
from jobtrail.bindings.sparql.worker import _LENGTH, frame
from jobtrail.store.oxigraph import OxigraphStore
from jobtrail.store.snapshots import Snapshot, Snapshots

log = logging.getLogger("jobtrail.sparql")

POLL = 0.02
"""Seconds between two looks at a running query's process (its size, the deadline)."""
_PIPE = 1 << 16
"""Bytes a pipe takes without a reader: a longer request is written from a thread."""
STARTUP = 60.0
"""Seconds a new query process may take to start."""
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass
class Job:
    """One query for a process: what `worker.py` reads, and the limits it runs under."""

    dataset: str  # "store" or "public": which snapshots
    query: str
    default: list[str] = field(default_factory=list)
    named: list[str] = field(default_factory=list)
    union: bool = True
    substitutions: dict[str, dict[str, str]] = field(default_factory=dict)
    results: str | None = "json"  # format key for solutions and booleans; None: refused
    boolean: str | None = ""  # for an ASK's answer ("": as `results`); None: refused
    graph: str | None = "turtle"  # format key for triples; None: refused
    cap: int = 1000
    base: str = ""


@dataclass
class Answer:
    kind: str  # "solutions", "boolean" or "triples"
    format: str
    body: bytes


class _Died(Exception):
    """The process stopped answering (it exited, or its pipe broke)."""


class Process:
    """One query process, and the snapshots it has open."""

    def __init__(self, memory_mb: int) -> None:
        self.errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        env = {
            **os.environ,
            "RUST_BACKTRACE": "0",
            "JOBTRAIL_QUERY_MEMORY_MB": str(memory_mb),
            "JOBTRAIL_QUERY_PARENT": str(os.getpid()),
        }
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "jobtrail.bindings.sparql.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errors,
            env=env,
            close_fds=True,
        )
        self.holding: dict[str, Snapshot] = {}
        self.reader = _Reader(self.popen.stdout)  # type: ignore[arg-type]
        self.ready = False  # it said so (its imports take a moment)
        self.peak = 0  # largest resident size seen, in bytes

    @property
    def pid(self) -> int:
        return self.popen.pid

    def resident(self) -> int:
        """Resident size in bytes (0 when it cannot be read: not Linux, or gone)."""
        try:
            with open(f"/proc/{self.pid}/statm", "rb") as f:
                return int(f.read().split()[1]) * _PAGE
        except (OSError, ValueError, IndexError):
            return 0

    @staticmethod
    def request(job: Job, store: Snapshot, limit: int) -> bytes:
        request = {**job.__dict__, "store": str(store.path), "limit": limit}
        return frame(json.dumps(request).encode("utf-8"))

    def send(self, request: bytes) -> None:
        stdin = self.popen.stdin
        assert stdin is not None
        try:
            stdin.write(request)
            stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise _Died() from e

    def last_words(self) -> str:
        """What the process wrote to stderr (a panic message), shortened."""
        try:
            self.errors.seek(0)
            text = self.errors.read()[-4000:].decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return " ".join(lines[-3:])

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait()

    def close(self) -> None:
        if self.popen.poll() is None:
            assert self.popen.stdin is not None
            try:
                self.popen.stdin.close()  # it reads the end and exits
                self.popen.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired):
                self.kill()
        for stream in (self.popen.stdout,):
            if stream is not None:
                stream.close()
        self.errors.close()


class _Reader:
    """Reads an answer's frames from a process's stdout on the event loop, looking at the
    process (`look`, which may kill it and raise) every `POLL` seconds while it waits."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.fd = stream.fileno()
        os.set_blocking(self.fd, False)
        self.buffer = bytearray()

    def _taken(self) -> bytes | None:
        if len(self.buffer) >= _LENGTH.size:
            (size,) = _LENGTH.unpack_from(self.buffer)
            end = _LENGTH.size + size
            if len(self.buffer) >= end:
                data = bytes(self.buffer[_LENGTH.size : end])
                del self.buffer[:end]
                return data
        return None

    def _fill(self) -> bool:
        """Read what is there; False when nothing was (not ready yet)."""
        try:
            chunk = os.read(self.fd, 1 << 20)
        except BlockingIOError:
            return False
        except OSError as e:
            raise _Died() from e
        if not chunk:
            raise _Died()
        self.buffer += chunk
        return True

    async def frame(self, look: Callable[[], None]) -> bytes:
        loop = asyncio.get_running_loop()
        while (data := self._taken()) is None:
            if self._fill():
                continue
            ready: asyncio.Future[None] = loop.create_future()

            def wake(ready: asyncio.Future[None] = ready) -> None:
                if not ready.done():
                    ready.set_result(None)

            loop.add_reader(self.fd, wake)
            try:
                done, _ = await asyncio.wait({ready}, timeout=POLL)
            finally:
                loop.remove_reader(self.fd)
                ready.cancel()
            if not done:
                look()
        return data


class QueryProcesses:
    """The pool: `size` processes, each running one query at a time."""

    def __init__(self, size: int, memory_mb: int, result_mb: int) -> None:
        self.size = size
        self.memory = memory_mb * 1048576
        self.memory_mb = memory_mb
        self.limit = result_mb * 1048576 if result_mb > 0 else 1 << 62
        self._snapshots: dict[str, Snapshots] = {}
        self._books = threading.Lock()
        self.stopped = False
        self._all: set[Process] = set()  # idle or busy, until closed
        self._idle: asyncio.Queue[Process] = asyncio.Queue()
        for _ in range(size):
            self._idle.put_nowait(self._start())

    # --- processes ---------------------------------------------------------------

    def _start(self) -> Process:
        process = Process(self.memory_mb)
        self._all.add(process)
        return process

    def snapshots(self, dataset: str, store: OxigraphStore) -> Snapshots:
        with self._books:
            found = self._snapshots.get(dataset)
            if found is None:
                assert store.path is not None
                root = store.path.with_name(store.path.name + ".snapshots")
                found = self._snapshots[dataset] = Snapshots(store, root)
            return found

    # --- one query ---------------------------------------------------------------

    async def run(
        self, store: OxigraphStore, needed: int, job: Job, timeout: float, on_timeout: Exception
    ) -> Answer:
        """`job` over a snapshot of `store` holding `needed` writes, in a process of the
        pool, by the deadline; raises what the process said or what happened to it."""
        if self.stopped:
            raise StoreError("the server is stopping")
        snapshots = self.snapshots(job.dataset, store)
        snapshot = snapshots.newest(needed)
        if snapshot is None:  # a write since the last one: take one (milliseconds), in a thread
            snapshot = await asyncio.to_thread(snapshots.fresh, needed)
        try:
            process = await self._idle.get()
        except BaseException:
            snapshots.release(snapshot)
            raise
        try:
            answer = await self._exchange(process, snapshots, snapshot, job, timeout, on_timeout)
        except BaseException:
            self._idle.put_nowait(self._replace(process))
            raise
        self._idle.put_nowait(process)
        return answer

    def _replace(self, process: Process) -> Process:
        """`process` if it is still well, else a new one in its place."""
        if process.popen.poll() is None:
            return process
        self._let_go(process)
        process.close()
        self._all.discard(process)
        return self._start()

    def _let_go(self, process: Process) -> None:
        for dataset, snapshot in process.holding.items():
            self._snapshots[dataset].release(snapshot)
        process.holding.clear()

    async def _exchange(
        self,
        process: Process,
        snapshots: Snapshots,
        snapshot: Snapshot,
        job: Job,
        timeout: float,
        on_timeout: Exception,
    ) -> Answer:
        before = process.holding.get(job.dataset)
        if before is snapshot:
            snapshots.release(snapshot)  # held once for the process already
        else:
            process.holding[job.dataset] = snapshot  # this hold is the process's now
            if before is not None:  # it opens the newer one for this query, never reads it again
                snapshots.release(before)
        if not process.ready:
            await self._await_ready(process, job)
        process.peak = 0
        deadline = time.monotonic() + timeout  # the time it runs: not a wait for a process

        def look() -> None:
            if time.monotonic() > deadline:
                process.kill()
                log.warning(
                    "query process %d killed at the time limit; query: %.200r",
                    process.pid,
                    job.query,
                )
                raise on_timeout
            if self.memory:
                size = process.resident()
                process.peak = max(process.peak, size)
                if size > self.memory:
                    process.kill()
                    log.warning(
                        "query process %d killed at %d MiB (limit %d MiB); query: %.200r",
                        process.pid,
                        size // 1048576,
                        self.memory_mb,
                        job.query,
                    )
                    raise QueryTooLarge(
                        f"the query needed more memory than this server allows a query "
                        f"({self.memory_mb} MiB) and was stopped",
                        hint="make it cheaper (a LIMIT, more specific patterns), or raise the "
                        "limit: setting query_memory",
                        details={"memory_limit_mib": self.memory_mb},
                    )

        try:
            request = process.request(job, snapshot, self.limit)
            if len(request) > _PIPE:  # the process reads it as it comes: not on the loop
                await asyncio.to_thread(process.send, request)
            else:
                process.send(request)
            head = json.loads(await process.reader.frame(look))
            body = await process.reader.frame(look) if head["ok"] else b""
        except _Died:
            raise self._died(process, job) from None
        if not head["ok"]:
            raise _refusal(head)
        return Answer(head["kind"], head["format"], body)

    async def _await_ready(self, process: Process, job: Job) -> None:
        """Wait for a new process to say it started (its imports take a moment)."""
        until = time.monotonic() + STARTUP

        def look() -> None:
            if time.monotonic() > until:
                process.kill()
                raise StoreError(f"a query process did not start within {STARTUP:g} s")

        try:
            await process.reader.frame(look)
        except _Died:
            raise self._died(process, job) from None
        process.ready = True

    def _died(self, process: Process, job: Job) -> QueryError:
        try:
            code = process.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:  # its pipe broke, but it lives on: end it
            process.kill()
            code = process.popen.returncode
        words = process.last_words()
        try:
            how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
        except ValueError:
            how = f"signal {-code}"
        memory = self.memory and process.peak > 0.8 * self.memory
        log.error(
            "query process %d stopped (%s) running a client's query; the server goes on and "
            "a new process takes its place. Engine said: %s. Query: %.500r",
            process.pid,
            how,
            words or "nothing",
            job.query,
        )
        if memory:
            return QueryTooLarge(
                f"the query needed more memory than this server allows a query "
                f"({self.memory_mb} MiB) and was stopped ({how})",
                hint="make it cheaper, or raise the limit: setting query_memory",
                details={"memory_limit_mib": self.memory_mb},
            )
        return QueryEngineFailed(
            f"the query engine stopped while running this query ({how}"
            + (f": {words}" if words else "")
            + "); nothing else was affected",
            hint="this is a fault of the engine (pyoxigraph), not of the query; rewrite the "
            "query to avoid it (a known trigger: ORDER BY over xsd:dateTime values with and "
            "without a timezone), and tell the administrator",
            details={"engine": words} if words else None,
        )

    def stop(self) -> None:
        self.stopped = True
        for process in list(self._all):  # a busy one too: its query dies with the server
            process.kill()
            process.close()
        self._all.clear()
        for snapshots in self._snapshots.values():
            snapshots.close()


def _refusal(head: dict[str, Any]) -> Exception:
    name, message, details = head["error"], head["message"], head.get("details") or None
    if name == "QueryTooLarge":
        return QueryTooLarge(
            message,
            hint="ask for fewer results (a LIMIT, fewer variables), or raise the limit: "
            "setting query_result_limit",
            details=details,
        )
    if name == "NotAcceptable":
        return NotAcceptable(message)  # the endpoint raises its own, which names the formats
    return QueryError(message, details=details)
