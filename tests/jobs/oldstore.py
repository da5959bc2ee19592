"""A store as an earlier release wrote it: secrets in hops, change records, job states,
MCMA records and outbox calls, and a pass named by the plain SHA-256 of its token.

Each graph is written the way the old code did (the job core's state graph, its change
record's JSON and envelope, a hop read by the HTTP reader), only without the redaction
and with the plain digest; the sealed ones are sealed through `Log.seal` as the code does.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jobtrail.base import nt
from jobtrail.base.terms import PROV
from jobtrail.ingest.message import Incoming, envelope
from jobtrail.ingest.read import read_message
from jobtrail.ingest.seal import Log
from jobtrail.jobs.core import Job, phase_iri, to_triples, uuid_iri
from jobtrail.store import ResourceGraph, Store

BASE = "http://s/"
JT = "https://w3id.org/jobtrail/vocab#"
TOKEN = "old-pass-T0KEN"
PASSWORD = "pw-s3cr3t"
BASIC = base64.b64encode(f"ann:{PASSWORD}".encode()).decode()
PLAIN = hashlib.sha256(TOKEN.encode()).hexdigest()
LABEL = "pass:" + PLAIN[:16]
INPUT = f"http://u:{PASSWORD}@h.example/x.doc"
CALLBACK = f"http://cb:{PASSWORD}@h.example/notify"
KEY = bytes(range(32))
PAID_JOB = "0b0d8a52-4c8e-4c5e-9a6f-3f4b7f9d1a01"
ANON_JOB = "0b0d8a52-4c8e-4c5e-9a6f-3f4b7f9d1a02"
WHEN = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

SECRETS = (TOKEN, PASSWORD, BASIC, PLAIN, PLAIN[:16])
"""What must be nowhere in the store once it is scrubbed."""


@dataclass
class Old:
    """The IRIs of what was written."""

    change: str  # the paid job's creation record
    request: str  # the hop of its request
    response: str  # the hop of the answer
    anonymous: str  # the anonymous job's creation record
    passes: str  # the balance under the plain digest
    outbox: str
    mcma: str


def _job(job_id: str, owner: str | None, phase: str = "QUEUED") -> Job:
    return Job(
        id=job_id,
        iri=f"{BASE}jobs/{job_id}",
        phase=phase,
        profile="Fixity",
        created=WHEN,
        modified=WHEN,
        input=INPUT,
        owner=owner,
        parameters={"password": PASSWORD, "depth": 2},
    )


def _change(log: Log, job: Job, by: str, request: dict[str, Any]) -> ResourceGraph:
    """A creation record as the old job core wrote it: its JSON as it came."""
    record = {
        "job": job.iri,
        "change": "created",
        "sequence": 1,
        "at": "2024-05-01T12:00:00Z",
        "by": by,
        "from": None,
        "to": job.phase,
        "request": request,
    }
    data = json.dumps(record, ensure_ascii=False, sort_keys=True).encode()
    m, triples = envelope(
        Incoming(data, f"job {job.id} #1", "application/json"),
        base=BASE,
        classes=("JobChange",),
        media_type="application/json",
        notes=[],
        stored_at=nt.datetime_lit(WHEN),
    )
    s = nt.iri(m)
    triples += [
        (s, nt.jt("about"), nt.iri(job.iri)),
        (s, nt.jt("changeKind"), nt.lit("created")),
        (s, nt.jt("sequence"), nt.integer(1)),
        (s, nt.jt("changedBy"), nt.lit(by)),
        (s, nt.iri(f"{PROV}atTime"), nt.datetime_lit(WHEN)),
        (s, nt.jt("toPhase"), nt.iri(phase_iri(job.phase))),
    ]
    if (u := uuid_iri(job.id)) is not None:
        triples += [(s, nt.jt("carriesUUID"), u), (s, nt.jt("addedUUID"), u)]
    graph = ResourceGraph(m, triples)
    log.seal(graph)
    return graph


def _hop(log: Log, store: Store, job: Job, data: bytes, micro: int) -> str:
    """A hop as the old `Hops.record` stored it: not redacted."""
    stamp = nt.datetime_lit(WHEN.replace(microsecond=micro))
    message = read_message(Incoming(data, "received", "message/http"), base=BASE, stored_at=stamp)
    s = nt.iri(message.iri)
    message.graph.triples += [
        (s, nt.jt("about"), nt.iri(job.iri)),
        (s, nt.iri(f"{PROV}generatedAtTime"), stamp),
    ]
    log.seal(message.graph)
    store.add([message.graph, *message.shared])
    return message.iri


def build(store: Store) -> Old:
    """Write the old graphs into `store` (sealed at the head of its log)."""
    log = Log(store)
    paid, anonymous = _job(PAID_JOB, LABEL), _job(ANON_JOB, None, "PENDING")
    body = f"url={INPUT}&pass={TOKEN}"
    change = _change(
        log,
        paid,
        LABEL,
        {
            "method": "POST",
            "path": "/jobs",
            "query": {"pass": TOKEN},
            "body": f"pass={TOKEN}&url=http%3A%2F%2Fu%3A{PASSWORD}%40h.example%2Fx.doc",
            "input": INPUT,
            "caller": LABEL,
        },
    )
    anon = _change(log, anonymous, "anonymous", {"input": INPUT, "body": body})
    store.add([change, anon])
    states = [
        ResourceGraph(job.iri, to_triples(job, f"{BASE}profiles/Fixity"))
        for job in (paid, anonymous)
    ]
    store.apply(replace=states)
    request = (
        f"POST /jobs?pass={TOKEN} HTTP/1.1\r\nHost: s\r\nAuthorization: Basic {BASIC}\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n"
        f"{body}"
    ).encode()
    answer = json.dumps({"job": paid.iri, "owner": LABEL})
    response = (
        "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(answer)}\r\n\r\n{answer}"
    ).encode()
    request_iri = _hop(log, store, paid, request, 1)
    response_iri = _hop(log, store, paid, response, 2)
    passes = f"{BASE}passes/{PLAIN}"
    p = nt.iri(passes)
    outbox = f"{BASE}outbox/call-1"
    o = nt.iri(outbox)
    mcma = f"{paid.iri}/mcma"
    document = {"notificationEndpoint": {"httpEndpoint": CALLBACK}, "owner": LABEL}
    store.apply(
        replace=[
            ResourceGraph(
                passes,
                [
                    (p, nt.A, nt.jt("Pass")),
                    (
                        p,
                        nt.jt("credit"),
                        nt.typed("7.5", "http://www.w3.org/2001/XMLSchema#decimal"),
                    ),
                ],
            ),
            ResourceGraph(
                outbox,
                [
                    (o, nt.A, nt.jt("OutgoingCall")),
                    (o, nt.jt("about"), nt.iri(paid.iri)),
                    (o, nt.jt("callPurpose"), nt.lit("notification")),
                    (o, nt.jt("callTarget"), nt.iri(CALLBACK)),
                    (o, nt.jt("callBody"), nt.lit("{}")),
                    (o, nt.jt("deliveryState"), nt.lit("pending")),
                ],
            ),
            ResourceGraph(
                mcma,
                [
                    (nt.iri(mcma), nt.A, nt.jt("McmaRecord")),
                    (nt.iri(mcma), nt.jt("mcmaDocument"), nt.json_lit(document)),
                ],
            ),
        ]
    )
    return Old(change.iri, request_iri, response_iri, anon.iri, passes, outbox, mcma)


def dump(store: Store) -> str:
    """Every quad of the store, as N-Quads."""
    import io

    out = io.BytesIO()
    store.export(out)
    return out.getvalue().decode("utf-8")
