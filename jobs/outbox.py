"""The outbox: calls jobtrail makes to other services, stored before they are sent.

A ProcessJob to a service and a callback to an orchestrator must not be lost
because the receiver is down, answers 5xx, or jobtrail itself restarts. Each
call is a resource in the store (`{base}outbox/{id}`, a `jt:OutgoingCall`:
its target, body, purpose, job, attempts, next attempt, state) written before
the first attempt; one sender thread delivers due calls, retrying with
exponential backoff (`retry_base` doubling up to `retry_max` seconds) on a
connection failure, a timeout, 408, 425, 429 or 5xx, until `give_up_after`
seconds have passed (whatever went wrong, an attempt that failed is retried
only until then). Any other answer is final: 2xx delivered, 4xx refused.
Every attempt is a hop of the job (the request as sent and the answer); a call
that is refused or given up is a last hop saying why. On start the pending
calls are read back from the store and sent again.

Every connection goes through the egress policy (`egress.py`): a target a
client gave (a callback or notification endpoint) may not be a loopback or
private address unless `allow_private`; a target the administrator configured
(`configured`, a service's ProcessJob URL) may. A target the policy refuses is
refused at once, never retried. An answer is read up to `answer_cap` bytes and
no further; only its summary is kept (status, headers, its first `answer_kept`
bytes and its size), in the hop and in the call.

The id of a call is derived from what it is for (a job's ProcessJob, its
callback), so asking twice for the same call stores and sends it once.

On a store other processes write too (a remote engine) every process's outbox may
know a call, and each looks for pending calls every `SWEEP` seconds (a process that
stopped leaves its calls to the others). Before an attempt the sender claims the
call under the log's lease: it reads the call as stored and, if it is still pending
and due, stores it as in flight (the attempt counted, due again only after the
attempt's longest time), so one process sends each attempt. A process killed in the
middle of an attempt leaves the call due again once that time has passed: at least
once is the promise, and a duplicate comes only after such a crash.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import httpcore
import httpx
import pyoxigraph as ox
from jobtrail.base import nt, redact
from jobtrail.base.errors import InputError
from jobtrail.base.terms import DCTERMS
from jobtrail.jobs import egress
from jobtrail.jobs.core import Jobs
from jobtrail.jobs.hops import Hops, request_bytes, response_bytes
from jobtrail.store import ResourceGraph

log = logging.getLogger("jobtrail.outbox")

_J = "https://w3id.org/jobtrail/vocab#"
RETRYABLE = frozenset({408, 425, 429})
SWEEP = 5.0  # seconds between looks for pending calls on a shared store
_NS = uuid.UUID("6f1c1f5e-5a3c-4d0e-9a57-0c6b1d1e7a10")


@dataclass(frozen=True)
class Call:
    id: str
    job_id: str
    purpose: str  # ProcessJob, success, failure
    url: str
    body: bytes
    created: datetime
    next_at: datetime
    give_up_at: datetime
    attempts: int = 0
    state: str = "pending"  # pending, delivered, refused, abandoned
    status: int | None = None  # the last answer's status
    answer: bytes = b""  # the first bytes of the last answer's body (at most answer_kept)
    problem: str | None = None  # why the last attempt failed
    configured: bool = False  # the target is a configured service: private addresses allowed
    answer_size: int | None = None  # the last answer's size, when known


Outcome = Callable[[Call], None]
"""Told once a call is settled (delivered, refused or abandoned)."""


@dataclass(frozen=True)
class OutboxConfig:
    retry_base: float = 0.5
    retry_max: float = 60.0
    give_up_after: float = 86400.0
    timeout: float = 10.0
    allow_private: bool = False  # targets a client gave may be loopback or private addresses
    answer_cap: int = 65536  # bytes of an answer read at most; the rest is never read
    answer_kept: int = 4096  # bytes of an answer kept in its hop and in the call


def call_id(job_id: str, purpose: str) -> str:
    return str(uuid.uuid5(_NS, f"{job_id} {purpose}"))


class Outbox:
    def __init__(self, jobs: Jobs, hops: Hops, config: OutboxConfig, settled: Outcome) -> None:
        self.jobs = jobs
        self.hops = hops
        self.config = config
        self.settled = settled
        self._due: list[tuple[datetime, str]] = []
        self._calls: dict[str, Call] = {}
        self._wake = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._shared = jobs.store.shared
        self._sweep_at = time.monotonic() + SWEEP

    def iri(self, call: str) -> str:
        return f"{self.jobs.base}outbox/{call}"

    # --- life ------------------------------------------------------------------

    def start(self) -> None:
        for call in self.pending():
            self._push(call)
        self._thread = threading.Thread(target=self._run, name="jobtrail-outbox", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    # --- asking ----------------------------------------------------------------

    def send(
        self,
        job_id: str,
        purpose: str,
        url: str,
        document: Any,
        *,
        delay: float = 0.0,
        configured: bool = False,
    ) -> Call:
        """Store the call, then send it once `delay` seconds have passed; once per purpose.

        Asking again for a call that waits for its delay, with none, sends it now.
        `configured`: `url` is a service the administrator configured, not one a client
        gave, so it may be a private address.
        """
        now = self.jobs.clock()
        cid = call_id(job_id, purpose)
        # on a shared store, the log's lease: another process may be storing the same call
        with self.jobs.log.held() if self._shared else contextlib.nullcontext(), self._wake:
            known = self.get(cid) if self._shared else self._calls.get(cid) or self.get(cid)
            if known is not None:
                waiting = known.state == "pending" and known.attempts == 0
                if waiting and not delay and known.next_at > now:
                    known = replace(known, next_at=now)
                    self._save(known)
                    self._push(known)
                return known
            call = Call(
                id=cid,
                job_id=job_id,
                purpose=purpose,
                url=url,
                body=json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8"),
                created=now,
                next_at=now + timedelta(seconds=delay),
                give_up_at=now + timedelta(seconds=delay + self.config.give_up_after),
                configured=configured,
            )
            self._save(call)
            self._push(call)
        return call

    def get(self, cid: str) -> Call | None:
        triples = self.jobs.store.read(self.iri(cid))
        if not triples:
            return None
        call = _from_triples(cid, triples)
        real = self.jobs.vault.get(_vault_key(cid))
        return replace(call, url=real) if real is not None else call

    def pending(self) -> list[Call]:
        rows = self.jobs.store.query(
            f"SELECT ?c WHERE {{ GRAPH ?c {{ ?c a <{_J}OutgoingCall> ; "
            f"<{_J}deliveryState> 'pending' }} }}"
        )
        found = []
        for row in rows:  # type: ignore[union-attr]
            cid = row["c"].value.rsplit("/", 1)[-1]
            if (call := self.get(cid)) is not None:
                found.append(call)
        return found

    # --- sending -----------------------------------------------------------------

    def _push(self, call: Call) -> None:
        with self._wake:
            self._calls[call.id] = call
            heapq.heappush(self._due, (call.next_at, call.id))
            self._wake.notify_all()

    def _sweep(self) -> None:
        """Queue the pending calls other processes stored (or left when they stopped)."""
        self._sweep_at = time.monotonic() + SWEEP
        try:
            for call in self.pending():
                with self._wake:
                    known = self._calls.get(call.id)
                if known is None or known.next_at != call.next_at:
                    self._push(call)
        except Exception:
            log.exception("outbox: looking for pending calls")

    def _claim(self, call: Call) -> Call | None:
        """The call to attempt now, stored as in flight; None when it is no longer pending
        or not due (another process sends it: it is queued again for when it is due)."""
        with self.jobs.log.held():
            stored = self.get(call.id)
            now = self.jobs.clock()
            if stored is None or stored.state != "pending":
                return None
            if stored.next_at > now:
                self._push(stored)
                return None
            # in flight: due again only past the attempt's longest time, and counted, so that
            # a process asked for the same call meanwhile does not take it for one not yet sent
            flight = timedelta(seconds=2 * self.config.timeout + 10)
            self._save(replace(stored, next_at=now + flight, attempts=stored.attempts + 1))
            return stored

    def _run(self) -> None:
        while True:
            if self._shared and time.monotonic() >= self._sweep_at:
                self._sweep()
            with self._wake:
                if self._stopping:
                    return
                now = self.jobs.clock()
                if not self._due or self._due[0][0] > now:
                    wait = (self._due[0][0] - now).total_seconds() if self._due else 60.0
                    if self._shared:
                        wait = min(wait, max(self._sweep_at - time.monotonic(), 0.0))
                    self._wake.wait(min(max(wait, 0.005), 60.0))
                    continue
                _, cid = heapq.heappop(self._due)
                call = self._calls.get(cid)
            if call is None or call.state != "pending" or call.next_at > now:
                continue  # settled, or an entry its call has since left for another time
            if self._shared:
                try:
                    claimed = self._claim(call)
                except Exception:
                    log.exception("outbox: claiming call %s", call.id)
                    self._push(replace(call, next_at=self.jobs.clock() + timedelta(seconds=5)))
                    continue
                if claimed is None:
                    continue
                call = claimed
            try:
                self._attempt(call)
            except Exception as e:  # a failure of jobtrail's own: retried, but not forever
                log.exception("outbox: call %s to %s", call.id, call.url)
                problem = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
                try:
                    self._settle(replace(call, attempts=call.attempts + 1), None, problem)
                except Exception:  # the store itself failed: try again a little later
                    log.exception("outbox: settling call %s", call.id)
                    self._push(replace(call, next_at=self.jobs.clock() + timedelta(seconds=5)))

    def _attempt(self, call: Call) -> None:
        n = call.attempts + 1
        headers = [
            ("Content-Type", "application/json; charset=utf-8"),
            ("Accept-Encoding", "identity"),
            ("X-Attempt", str(n)),
        ]
        allow_private = call.configured or self.config.allow_private
        refusal = egress.refusal(call.url, allow_private, self.config.timeout)
        if refusal is not None:  # known before connecting: nothing is sent
            self._settle(replace(call, attempts=n), None, f"not sent: {refusal}", final=True)
            return
        sent = request_bytes("POST", call.url, call.body, headers)
        where = redact.text(call.url)[0]
        self.hops.record(call.job_id, sent, f"sent: {call.purpose} to {where}, attempt {n}")
        status: int | None = None
        answer, size = b"", None
        try:
            with (
                egress.client(
                    allow_private=allow_private, timeout=self.config.timeout, headers={}
                ) as client,
                client.stream("POST", call.url, content=call.body, headers=dict(headers)) as got,
            ):
                status = got.status_code
                answer, size, whole = _read_capped(got, self.config.answer_cap)
                self._record_answer(call, n, got, answer, size, whole)
        except egress.Refused as e:  # the address resolved now is refused: never retried
            problem = f"not sent: {call.url}: {e.reason}; {egress.RULE}"
            self._settle(replace(call, attempts=n), None, problem, final=True)
            return
        except _HTTP_ERRORS as e:
            problem = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
            self._settle(replace(call, attempts=n), None, problem)
            return
        kept = answer[: self.config.answer_kept]
        self._settle(replace(call, attempts=n, answer=kept, answer_size=size), status, None)

    def _record_answer(
        self, call: Call, n: int, got: httpx.Response, answer: bytes, size: int | None, whole: bool
    ) -> None:
        """The answer's summary as a hop: status, headers, its first bytes and its size."""
        kept_body = answer[: self.config.answer_kept]
        dropped = ("content-length", "transfer-encoding", "content-encoding")
        headers = [(k, v) for k, v in got.headers.items() if k.lower() not in dropped]
        said = str(size) if size is not None else f"more than {self.config.answer_cap}"
        headers.append(("X-Jobtrail-Answer-Size", said))
        source = f"received: the answer to {call.purpose}, attempt {n}"
        if whole and len(kept_body) == len(answer):
            try:
                self.hops.record(
                    call.job_id, response_bytes(got.status_code, kept_body, headers), source
                )
                return
            except InputError:
                pass  # a body its own Content-Type cannot read: kept as bytes below
        original = got.headers.get("content-type")
        headers = [(k, v) for k, v in headers if k.lower() != "content-type"]
        headers.append(("Content-Type", "application/octet-stream"))
        if original:
            headers.append(("X-Jobtrail-Content-Type", original))
        headers.append(("X-Jobtrail-Answer-Kept", f"the first {len(kept_body)} bytes"))
        self.hops.record(call.job_id, response_bytes(got.status_code, kept_body, headers), source)

    def _settle(
        self, call: Call, status: int | None, problem: str | None, *, final: bool = False
    ) -> None:
        """After attempt `call.attempts`: delivered, refused, abandoned, or due again."""
        n = call.attempts
        now = self.jobs.clock()
        done = replace(call, status=status, problem=problem)
        if final:
            done = replace(done, state="refused")
        elif status is not None and 200 <= status < 300:
            done = replace(done, state="delivered")
        elif status is not None and status < 500 and status not in RETRYABLE:
            done = replace(done, state="refused", problem=f"the receiver answered {status}")
        else:
            if problem is None:
                problem = f"the receiver answered {status}"
            delay = min(self.config.retry_max, self.config.retry_base * 2 ** (n - 1))
            later = now + timedelta(seconds=delay)
            if later > call.give_up_at:
                done = replace(done, state="abandoned", problem=f"gave up after {n}: {problem}")
            else:
                done = replace(done, next_at=later, problem=problem)
        self._save(done)
        with self._wake:
            self._calls[call.id] = done
        if done.state == "pending":
            self._push(done)
            return
        with self._wake:
            self._calls.pop(call.id, None)
        if done.state == "abandoned" or (done.state == "refused" and status is None):
            self._record_end(done)
        self.settled(done)

    def _record_end(self, call: Call) -> None:
        """A last hop for a call that got no final answer: what was not delivered, and why."""
        headers = [
            ("Content-Type", "application/json; charset=utf-8"),
            ("X-Jobtrail-Delivery", f"{call.state}: {call.problem}"),
        ]
        data = request_bytes("POST", call.url, call.body, headers)
        what = "gave up" if call.state == "abandoned" else "refused"
        source = redact.text(f"{what}: {call.purpose} to {call.url}: {call.problem}")[0]
        try:
            self.hops.record(call.job_id, data, source)
        except Exception:
            log.exception("outbox: recording the end of call %s", call.id)

    def _save(self, call: Call) -> None:
        """Store the call, its secrets redacted; a target URL with credentials waits in the
        vault for the sender (`jobs/vault.py`), as a job's input URL does."""
        stored, found = redact.text(call.url)
        if found and call.state == "pending":
            self.jobs.vault.put(_vault_key(call.id), call.url)
        elif found:  # settled: it is never sent again
            self.jobs.vault.drop(_vault_key(call.id))
        graph = ResourceGraph(self.iri(call.id), _to_triples(self, replace(call, url=stored)))
        self.jobs.store.apply(replace=[graph])


def _vault_key(cid: str) -> str:
    return f"call-{cid}"


def _to_triples(outbox: Outbox, call: Call) -> list[tuple[str, str, str]]:
    s = nt.iri(outbox.iri(call.id))
    out = [
        (s, nt.A, nt.jt("OutgoingCall")),
        (s, nt.jt("about"), nt.iri(outbox.jobs.iri(call.job_id))),
        (s, nt.jt("callPurpose"), nt.lit(call.purpose)),
        (s, nt.jt("callTarget"), nt.iri(call.url)),
        (s, nt.jt("callBody"), nt.lit(redact.data(call.body)[0].decode("utf-8"))),
        (s, nt.iri(f"{DCTERMS}created"), nt.datetime_lit(call.created)),
        (s, nt.jt("nextAttempt"), nt.datetime_lit(call.next_at)),
        (s, nt.jt("giveUpAt"), nt.datetime_lit(call.give_up_at)),
        (s, nt.jt("attempts"), nt.integer(call.attempts)),
        (s, nt.jt("deliveryState"), nt.lit(call.state)),
    ]
    if call.status is not None:
        out.append((s, nt.jt("lastStatus"), nt.integer(call.status)))
    if call.problem is not None:
        out.append((s, nt.jt("lastProblem"), nt.lit(redact.text(call.problem)[0])))
    if call.answer:
        answer = redact.data(call.answer)[0].decode("utf-8", "replace")
        out.append((s, nt.jt("lastAnswer"), nt.lit(answer)))
    if call.answer_size is not None:
        out.append((s, nt.jt("lastAnswerSize"), nt.integer(call.answer_size)))
    if call.configured:
        out.append((s, nt.jt("configuredTarget"), nt.boolean(True)))
    return out


_HTTP_ERRORS = (
    httpcore.NetworkError,
    httpcore.TimeoutException,
    httpcore.ProtocolError,
    httpx.HTTPError,
    httpx.InvalidURL,
)


def _read_capped(response: httpx.Response, cap: int) -> tuple[bytes, int | None, bool]:
    """The answer's first bytes (up to `cap`; the rest is never read), its size (from
    Content-Length, else counted when it all came), and whether it all came."""
    kept = bytearray()
    whole = True
    for chunk in response.iter_raw(16384):
        kept += chunk
        if len(kept) > cap:
            whole = False
            break
    length = response.headers.get("content-length", "")
    size = int(length) if length.isdigit() else len(kept) if whole else None
    return bytes(kept[:cap]), size, whole


def _from_triples(cid: str, triples: list[ox.Triple]) -> Call:
    values: dict[str, str] = {}
    for t in triples:
        name = t.predicate.value.rsplit("#", 1)[-1].rsplit("/", 1)[-1]
        values[name] = t.object.value  # type: ignore[union-attr]

    def when(name: str) -> datetime:
        return datetime.fromisoformat(values[name].replace("Z", "+00:00"))

    return Call(
        id=cid,
        job_id=values["about"].rsplit("/", 1)[-1],
        purpose=values["callPurpose"],
        url=values["callTarget"],
        body=values["callBody"].encode("utf-8"),
        created=when("created"),
        next_at=when("nextAttempt"),
        give_up_at=when("giveUpAt"),
        attempts=int(values["attempts"]),
        state=values["deliveryState"],
        status=int(values["lastStatus"]) if "lastStatus" in values else None,
        answer=values.get("lastAnswer", "").encode("utf-8"),
        problem=values.get("lastProblem"),
        configured=values.get("configuredTarget") == "true",
        answer_size=int(values["lastAnswerSize"]) if "lastAnswerSize" in values else None,
    )
