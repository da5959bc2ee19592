"""Hops of a job's message flow: each HTTP request and response about a job, stored.

The MCMA flow is a conversation between services; an auditor replays it from
the store. Every request jobtrail receives or sends about a job, and every
answer, is kept as a `message/http` message (read by the same reader as a
loaded one, so its JSON-LD body is in the graph too), sealed into the log in
the critical section that stores it (`Log.sealing`: its triples as a set, so the
`jt:about` the reader may have found already is sealed once, as it is stored), and
tied to the job: `jt:about` its IRI and `jt:carriesUUID` its id, which is what
`/trace/{job id}` follows. Each hop is stamped with a strictly increasing
`prov:generatedAtTime` (microseconds), so the trace shows them in the order
they happened even within one millisecond.

Where jobtrail plays two roles of a FIMS job flow at once (the Job Processor
and the Job Repository), the exchange between the two happens in-process;
it is stored all the same, with `jt:loadedFrom` saying it was internal.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from jobtrail.base import nt, redact
from jobtrail.base.terms import PROV
from jobtrail.ingest import traceindex
from jobtrail.ingest.message import Incoming
from jobtrail.ingest.read import read_message
from jobtrail.jobs.core import Jobs, uuid_iri
from jobtrail.store import ResourceGraph

_REASONS = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 400: "Bad Request"}


def json_body(document: Any) -> bytes:
    return json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8")


def request_bytes(
    method: str, url: str, body: bytes | None = None, headers: Sequence[tuple[str, str]] = ()
) -> bytes:
    """An HTTP/1.1 request as it goes on the wire (origin form, Host header: a URL's
    userinfo never goes there). Its secrets are redacted where it is recorded (`Hops.record`)."""
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    head = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc.rpartition('@')[2]}"]
    head += [f"{k}: {v}" for k, v in headers if k.lower() != "host"]
    if body is not None and not any(k.lower() == "content-type" for k, _ in headers):
        head.append("Content-Type: application/json; charset=utf-8")
    if body is not None:
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("utf-8") + (body or b"")


def response_bytes(
    status: int, body: bytes | None = None, headers: Sequence[tuple[str, str]] = ()
) -> bytes:
    head = [f"HTTP/1.1 {status} {_REASONS.get(status, '')}".rstrip()]
    head += [f"{k}: {v}" for k, v in headers if k.lower() not in ("content-length",)]
    if body and not any(k.lower() == "content-type" for k, _ in headers):
        head.append("Content-Type: application/json; charset=utf-8")
    head.append(f"Content-Length: {len(body or b'')}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("utf-8") + (body or b"")


class Hops:
    """Stores the hops of job flows through the job core's store and log."""

    def __init__(self, jobs: Jobs) -> None:
        self.jobs = jobs
        self._lock = threading.Lock()
        self._last: datetime | None = None

    def _stamp(self) -> datetime:
        with self._lock:
            now = self.jobs.clock()
            if self._last is not None and now <= self._last:
                now = self._last + timedelta(microseconds=1)
            self._last = now
            return now

    def record(self, job_id: str, data: bytes, source: str) -> str:
        """Store one HTTP message about the job, its secrets redacted whoever wrote it
        (`redact.message`); its IRI (the same bytes are stored once)."""
        data, _ = redact.message(data)
        source, _ = redact.text(source)
        at = self._stamp()
        stamp = nt.datetime_lit(at)
        message = read_message(
            Incoming(data, source, "message/http"), base=self.jobs.base, stored_at=stamp
        )
        s = nt.iri(message.iri)
        graph: ResourceGraph = message.graph
        graph.triples += [
            (s, nt.jt("about"), nt.iri(self.jobs.iri(job_id))),
            (s, nt.iri(f"{PROV}generatedAtTime"), stamp),
        ]
        if (job_uuid := uuid_iri(job_id)) is not None:
            graph.triples.append((s, nt.jt("carriesUUID"), job_uuid))
        store = self.jobs.store
        names = {message.iri} | {g.iri for g in message.shared}
        log = self.jobs.log
        with log.held():  # "stored before?", the seal and the write go together
            existing = store.existing(names)
            if message.iri in existing:
                return message.iri
            with log.sealing([graph]):
                written = [graph, *(g for g in message.shared if g.iri not in existing)]
                store.add(traceindex.with_entries(written))  # the hop's trace index entry too
        return message.iri
