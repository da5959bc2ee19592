"""`subscriber` callbacks (OGC API - Processes 1.0, the `callback` class), through the outbox.

An execute request (or a Part 4 job) may name a `subscriber`: `successUri` (sent the results
document when the job succeeds), `failedUri` (its exception when it fails or is dismissed) and
`inProgressUri` (its statusInfo when it starts running). They are kept beside the job in
`{job}/ogcapi` (a `jt:OgcSubscriber`; a URL's credentials redacted there, the URL itself in
the vault), and each call goes through the outbox (`jobs/outbox.py`): stored before it is
sent, retried, a hop of the job, and every connection through the egress policy — a
loopback or private address only where `fetch_allow_private` is on. Asked twice, a call is
sent once.

With several processes over one store, each process tells of the changes it hears of (its
own, and other processes' through `jobs/follow.py`): a job another process created after
this one started is looked up once, in the store, at its first change worth telling; the
outbox keeps each call to one send, whichever processes ask for it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from jobtrail.base import nt, redact
from jobtrail.base.errors import Gone, InputError, NotFound
from jobtrail.bindings.ogcapi import documents as docs
from jobtrail.bindings.ogcapi import outputs
from jobtrail.jobs.core import Change, Job
from jobtrail.jobs.outbox import Call, Outbox, OutboxConfig
from jobtrail.store import ResourceGraph
from jobtrail.web.binding import Runtime
from jobtrail.web.state import AppRequest, Engine

log = logging.getLogger("jobtrail.ogcapi")

_J = "https://w3id.org/jobtrail/vocab#"
FIELDS = {
    "successUri": "ogcSuccessUri",
    "failedUri": "ogcFailedUri",
    "inProgressUri": "ogcInProgressUri",
}
"""The subscriber's fields and the terms they are kept as."""
LOOKED = 100_000
"""Most jobs remembered as having no subscriber (a shared store); past it, forgotten."""


def subscriber_of(doc: Mapping[str, Any]) -> dict[str, str]:
    """The subscriber an execute request names (empty without one); InputError naming a
    field that is not an absolute http(s) URL, or one the standard does not have."""
    given = doc.get("subscriber")
    if given is None:
        return {}
    if not isinstance(given, Mapping):
        raise InputError("subscriber is an object: successUri, failedUri, inProgressUri")
    unknown = [k for k in given if k not in FIELDS]
    if unknown:
        raise InputError(
            f"subscriber has no field {unknown[0]!r}", hint="successUri, failedUri, inProgressUri"
        )
    out = {}
    for key, value in given.items():
        if (
            not isinstance(value, str)
            or not value.startswith(("http://", "https://"))
            or (nt.checked_iri(value) is None)
        ):
            raise InputError(f"subscriber {key} must be an absolute http(s) URL, not {value!r}")
        out[key] = value
    return out


class Callbacks(Runtime):
    """Tells each job's subscriber of its start and its end, through the outbox."""

    def __init__(self, engine: Engine) -> None:
        config = engine.config
        self.jobs = engine.jobs
        self.base = config.base_url
        self.files = Path(config.files)  # the result files, for outputs asked by value
        self.outbox = Outbox(
            engine.jobs,
            engine.hops,
            OutboxConfig(
                retry_base=config.mcma_retry_base,
                retry_max=config.mcma_retry_max,
                give_up_after=config.mcma_give_up_after,
                allow_private=config.fetch_allow_private,  # endpoints clients give
            ),
            self._settled,
        )
        self._subscribed: set[str] = set()
        self._looked: set[str] = set()  # jobs found without a subscriber (a shared store)
        self._lock = threading.Lock()
        engine.jobs.listen(self._changed)

    def start(self) -> None:
        rows = self.jobs.store.query(
            f"SELECT ?g WHERE {{ GRAPH ?g {{ ?g a <{_J}OgcSubscriber> }} }}"
        )
        with self._lock:
            for row in rows:  # type: ignore[union-attr]
                self._subscribed.add(row["g"].value.removesuffix("/ogcapi").rsplit("/", 1)[-1])
        self.outbox.start()

    def stop(self) -> None:
        self.outbox.stop()

    # --- the subscriber, beside the job --------------------------------------------------

    def graph(self, job_id: str, subscriber: Mapping[str, str]) -> ResourceGraph:
        """The subscriber as kept beside the job (credentials in a URL go to the vault);
        the job is listened for from now on."""
        iri = f"{self.jobs.iri(job_id)}/ogcapi"
        s = nt.iri(iri)
        triples = [
            (s, nt.A, nt.jt("OgcSubscriber")),
            (s, nt.jt("about"), nt.iri(self.jobs.iri(job_id))),
        ]
        for key, url in subscriber.items():
            stored, found = redact.text(url)
            if found:
                self.jobs.vault.put(f"{job_id}.ogc.{key}", url)
            triples.append((s, nt.jt(FIELDS[key]), nt.iri(stored)))
        with self._lock:
            self._subscribed.add(job_id)
        return ResourceGraph(iri, triples)

    def _read(self, job_id: str) -> dict[str, str]:
        triples = self.jobs.store.read(f"{self.jobs.iri(job_id)}/ogcapi")
        by_term = {
            t.predicate.value.removeprefix(_J): t.object.value
            for t in triples
            if isinstance(t.object, ox.NamedNode)
        }
        out = {}
        for key, term in FIELDS.items():
            stored = by_term.get(term)
            if stored is not None:
                secret = (
                    self.jobs.vault.get(f"{job_id}.ogc.{key}")
                    if redact.REDACTED in stored
                    else None
                )
                out[key] = secret or stored
        return out

    # --- telling ----------------------------------------------------------------------------

    def _changed(self, change: Change) -> None:
        job = change.job
        if job is None or change.kind != "phase" or job.phase == change.previous:
            return
        wanted = {
            "running": "inProgressUri",
            "successful": "successUri",
            "failed": "failedUri",
            "dismissed": "failedUri",
        }.get(docs.status_of(job))
        if wanted is None:
            return
        with self._lock:
            known = job.id in self._subscribed
            # on a store other processes write too, a job another process created after this
            # one started may have a subscriber: looked for once (the outbox sends each call
            # once, whichever processes ask for it)
            look = not known and self.jobs.store.shared and job.id not in self._looked
        if known or look:
            threading.Thread(
                target=self._tell_quietly, args=(job, wanted, look), daemon=True
            ).start()

    def _tell_quietly(self, job: Job, wanted: str, look: bool = False) -> None:
        with contextlib.suppress(NotFound, Gone):  # deleted meanwhile: nobody left to tell
            if look:
                found = bool(self._read(job.id))
                with self._lock:
                    if found:
                        self._subscribed.add(job.id)
                    else:
                        if len(self._looked) >= LOOKED:
                            self._looked.clear()
                        self._looked.add(job.id)
                if not found:
                    return
            self.tell(job, wanted)

    def tell(self, job: Job, wanted: str) -> Call | None:
        url = self._read(job.id).get(wanted)
        if url is None:
            return None
        if wanted == "inProgressUri":
            body: Any = docs.status_info(self.base, job)
        elif wanted == "successUri":  # the results document, as the request asked for it
            body = outputs.results_of(self.jobs.store, self.files, job, self.base)
        else:  # failed, or dismissed (without an error of its own: its statusInfo)
            body = docs.failure_document(job) or docs.status_info(self.base, job)
        return self.outbox.send(job.id, f"ogcapi {wanted}", url, body)

    def _settled(self, call: Call) -> None:
        if call.state != "delivered":
            log.info("OGC callback %s of job %s: %s", call.purpose, call.job_id, call.state)


def callbacks_of(request: AppRequest) -> Callbacks:
    found = request.state["runtimes"]["ogcapi"]
    assert isinstance(found, Callbacks)
    return found
