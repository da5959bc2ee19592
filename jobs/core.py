"""The one model of a job, and every change to it.

Every binding (the linked-data job service, UWS, MCMA, SIF) reads and changes
jobs through `Jobs` and nothing else. A job is a named graph (its IRI), holding
its current state; each change writes a new immutable `jt:JobChange` message
(its JSON bytes kept verbatim, like every other message) and replaces the
state graph in the same transaction (`Store.apply`), so the history and the
state never disagree. The change record is sealed into the log (`ingest/seal.py`)
in the critical section that commits that transaction (`Log.sealing`), so the
log's positions follow the order changes commit in. Phases are UWS 1.1's; a
change that the transition table does not allow is a 409 naming the current phase.

Changes to one job are serialised by a lock in this process. On a store other
processes write too (a remote engine) the lock is the log's lease instead
(`Log.held`, `store/leases.py`): one change at a time among every process, each
reading the job as the last one left it, so a QUEUED job is claimed once.
"""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pyoxigraph as ox
from jobtrail.base import nt, redact
from jobtrail.base.errors import (
    Conflict,
    Gone,
    InputError,
    JobFailed,
    NotFound,
)
from jobtrail.base.terms import DCTERMS, JT, PROV, RDFS, STATUS, XSD
from jobtrail.base.xmltext import check_field
from jobtrail.ingest import traceindex
from jobtrail.ingest.message import Incoming, envelope
from jobtrail.ingest.seal import Log
from jobtrail.jobs.vault import Vault
from jobtrail.store import ResourceGraph, Store, Triple

if TYPE_CHECKING:
    from .accounts import Payer

PRIORITIES: tuple[str, ...] = ("immediate", "urgent", "high", "medium", "low")
"""FIMS 1.3 job priorities, most urgent first; a job without one is `medium`."""

PHASES: tuple[str, ...] = (
    "PENDING",
    "QUEUED",
    "EXECUTING",
    "COMPLETED",
    "ERROR",
    "ABORTED",
    "UNKNOWN",
    "HELD",
    "SUSPENDED",
    "ARCHIVED",
)
ACTIVE = frozenset({"PENDING", "QUEUED", "EXECUTING", "HELD", "SUSPENDED"})
FINAL = frozenset({"COMPLETED", "ERROR", "ABORTED", "ARCHIVED"})

TRANSITIONS: dict[str, frozenset[str]] = {
    "PENDING": frozenset({"QUEUED", "HELD", "ABORTED", "ERROR"}),
    "HELD": frozenset({"PENDING", "QUEUED", "ABORTED", "ERROR"}),
    "QUEUED": frozenset({"EXECUTING", "HELD", "ABORTED", "ERROR"}),
    # EXECUTING → QUEUED: requeued after the server stopped in the middle of a job
    "EXECUTING": frozenset({"COMPLETED", "ERROR", "ABORTED", "SUSPENDED", "QUEUED"}),
    "SUSPENDED": frozenset({"EXECUTING", "QUEUED", "ABORTED", "ERROR"}),
    "COMPLETED": frozenset({"ARCHIVED"}),
    "ERROR": frozenset({"ARCHIVED"}),
    "ABORTED": frozenset({"ARCHIVED"}),
    "ARCHIVED": frozenset(),
    "UNKNOWN": frozenset(),
}
"""Which phase may follow which (UWS 1.1 §2.1.3, plus the requeue after a restart)."""

SERVICE = "jobtrail"
"""Who changes a job when no client does (the workers, the reaper)."""

_UWS = f"{STATUS}uws/"
_J = str(JT)


def phase_iri(phase: str) -> str:
    return f"{_UWS}{phase}"


def utcnow() -> datetime:
    return datetime.now(UTC)


def _redacted_parameters(
    parameters: Mapping[str, Any] | None, secret: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Parameters as stored: a secret parameter's value (by its name, or declared secret by
    the profile: `secret`), or a URL's password, redacted."""
    out: dict[str, Any] = redact.structure(dict(parameters or {}), secret)[0]
    names = redact.SECRET_PARAMETERS | {n.lower() for n in secret}
    return {k: redact.REDACTED if k.lower() in names else v for k, v in out.items()}


def _stored_input(url: str) -> tuple[str, str | None]:
    """The input URL as stored (its password redacted), and the URL for the vault when the
    two differ (None: the URL holds no credentials)."""
    stored, found = redact.text(url)
    return stored, (url if found else None)


@dataclass(frozen=True)
class JobError:
    type: str  # the JobtrailError class name: InputUnavailable, TimeLimitExceeded …
    message: str
    hint: str | None = None

    @classmethod
    def of(cls, error: JobFailed) -> JobError:
        """The error as stored: a URL's credentials in its text are redacted."""
        hint = redact.text(error.hint)[0] if error.hint else None
        return cls(type(error).__name__, redact.text(error.message)[0], hint)


@dataclass(frozen=True)
class Job:
    id: str
    iri: str
    phase: str
    profile: str
    created: datetime
    modified: datetime
    sequence: int = 1
    input: str | None = None
    owner: str | None = None
    run_id: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    quote: datetime | None = None
    execution_duration: int = 0  # seconds; 0: unlimited
    destruction: datetime | None = None
    started: datetime | None = None
    ended: datetime | None = None
    error: JobError | None = None
    results: str | None = None  # the result aggregation's IRI, once there is one
    status_value: str | None = None  # a binding's own status, as its client wrote it
    price: float | None = None
    paid_bytes: int | None = None  # the input size its price paid for; the download stops past it
    priority: str | None = None  # FIMS 1.3: low, medium, high, urgent, immediate
    due: datetime | None = None  # the deadline: not ended by then → ERROR (MCMA `deadline`)

    @property
    def active(self) -> bool:
        return self.phase in ACTIVE

    def deadline(self) -> datetime | None:
        if self.started is None or self.execution_duration <= 0:
            return None
        return self.started + timedelta(seconds=self.execution_duration)


@dataclass(frozen=True)
class Change:
    """What happened to a job, for listeners (the workers, waiting clients)."""

    kind: str  # created, phase, updated, deleted, destroyed
    job: Job | None  # None once deleted
    job_id: str
    previous: str | None  # the phase before
    by: str | None = None  # who made it
    elsewhere: bool = False  # made by another process over the same store (jobs/follow.py)


Listener = Callable[[Change], None]


class Jobs:
    """Creates, reads, changes and deletes jobs in a store; the one way to do any of it."""

    def __init__(
        self,
        store: Store,
        base: str,
        *,
        clock: Callable[[], datetime] = utcnow,
        log: Log | None = None,
        parts: Collection[str] = (),
        vault: Vault | None = None,
        max_execution_duration: int = 0,
        secret_parameters: Callable[[str], frozenset[str]] = lambda profile: frozenset(),
    ):
        self.secret_parameters = secret_parameters
        """The names of the parameters a profile declares secret (`ParameterSpec.secret`)."""
        self.max_execution_duration = max_execution_duration
        """The longest execution duration a job may ask for, in seconds (0: no maximum)."""
        self.store = store
        self.base = base
        self.log = log if log is not None else Log(store)
        self.clock = clock
        self._locks = [threading.Lock() for _ in range(64)]
        self._listeners: list[Listener] = []
        self.vault = vault if vault is not None else Vault()
        """The unredacted inputs of jobs whose input URL carries credentials."""
        self.parts = frozenset(parts)
        """Names of graphs bindings keep beside a job (`{job}/sif`), dropped with it."""

    # --- names ---------------------------------------------------------------

    def iri(self, job_id: str) -> str:
        return f"{self.base}jobs/{job_id}"

    def id_of(self, iri: str) -> str | None:
        prefix = f"{self.base}jobs/"
        rest = iri.removeprefix(prefix)
        return rest if iri.startswith(prefix) and rest and "/" not in rest else None

    def results_iri(self, job_id: str) -> str:
        return f"{self.iri(job_id)}/results"

    def profile_iri(self, name: str) -> str:
        return f"{self.base}profiles/{name}"

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _duration(self, seconds: int) -> int:
        """An execution duration within the maximum: 0 (unlimited) asks for the maximum."""
        if seconds < 0:
            raise InputError("the execution duration is a number of seconds ≥ 0 (0: unlimited)")
        most = self.max_execution_duration
        if most and seconds > most:
            raise InputError(
                f"an execution duration of {seconds:,} seconds is over this server's maximum "
                f"of {most:,} (max_execution_duration)",
                hint=f"ask for at most {most} seconds; 0 gets the maximum",
                details={"limit": most, "setting": "max_execution_duration"},
            )
        return seconds or most

    # --- reading -------------------------------------------------------------

    def get(self, job_id: str) -> Job:
        """The job's current state; NotFound, or Gone for a deleted job (its history stays)."""
        iri = self.iri(job_id)
        if nt.checked_iri(iri) is None:  # `<` or a space: no job can have such an IRI
            raise NotFound(f"there is no job {job_id!r}: it makes no valid IRI")
        triples = self.store.read(iri)
        if not triples:
            if self.was_deleted(iri):
                raise Gone(
                    f"job {job_id} was deleted",
                    hint=f"its history is kept: messages with jt:about <{iri}>",
                )
            raise NotFound(f"there is no job {job_id}", hint="GET /jobs lists your jobs")
        return from_triples(job_id, iri, triples)

    def was_deleted(self, iri: str) -> bool:
        result = self.store.query(
            f"ASK {{ ?m <{_J}about> ?job ; <{_J}changeKind> ?k "
            "FILTER(?k IN ('deleted', 'destroyed')) }",
            substitutions={"job": ox.NamedNode(iri)},
        )
        return bool(result)

    def ids(self, phases: Sequence[str] = ()) -> list[str]:
        """Ids of every job (in a phase), oldest first."""
        values = " ".join(f"<{phase_iri(p)}>" for p in phases)
        restrict = f"VALUES ?phase {{ {values} }}" if phases else ""
        rows = self.store.query(
            f"SELECT ?job WHERE {{ {restrict} GRAPH ?job {{ ?job a <{_J}Job> ; "
            f"<{_J}phase> ?phase ; <{DCTERMS}created> ?created }} }} ORDER BY ?created"
        )
        out = []
        for row in rows:  # type: ignore[union-attr]
            job_id = self.id_of(row["job"].value)
            if job_id:
                out.append(job_id)
        return out

    def list(
        self,
        *,
        owner: str | None = None,
        anonymous: bool = True,
        everyone: bool = False,
        phases: Sequence[str] = (),
        profiles: Sequence[str] = (),
        after: datetime | None = None,
        before: datetime | None = None,
        oldest_first: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Job]:
        """Jobs newest first (or oldest): those of `owner`, with the anonymous ones if `anonymous`.

        `after` and `before` bound the creation time, both excluded.
        """
        where, substitutions = self._selection(
            owner, anonymous, everyone, phases, profiles, after, before
        )
        bound = "".join(
            f" ?{name}" for name in substitutions
        )  # Oxigraph substitutes projected ones
        rows = self.store.query(
            f"SELECT ?job{bound} WHERE {{ GRAPH ?job {{ ?job a <{_J}Job> ; <{_J}phase> ?phase ; "
            f"<{DCTERMS}created> ?created ; <{_J}jobProfile> ?profile "
            f"OPTIONAL {{ ?job <{_J}owner> ?owner }} }} {where} }} "
            f"ORDER BY {'?created' if oldest_first else 'DESC(?created)'} "
            f"LIMIT {int(limit)} OFFSET {int(offset)}",
            substitutions=substitutions,
        )
        found = []
        for row in rows:  # type: ignore[union-attr]
            iri = row["job"].value
            job_id = self.id_of(iri)
            triples = self.store.read(iri) if job_id else []
            if job_id and triples:
                found.append(from_triples(job_id, iri, triples))
        return found

    def count(
        self,
        *,
        owner: str | None = None,
        anonymous: bool = True,
        everyone: bool = False,
        phases: Sequence[str] = (),
        profiles: Sequence[str] = (),
        after: datetime | None = None,
        before: datetime | None = None,
    ) -> int:
        """How many jobs `list` would give without its limit (for paging)."""
        where, substitutions = self._selection(
            owner, anonymous, everyone, phases, profiles, after, before
        )
        bound = "".join(f" ?{name}" for name in substitutions)
        rows = self.store.query(
            f"SELECT ?job{bound} WHERE {{ GRAPH ?job {{ ?job a <{_J}Job> ; <{_J}phase> ?phase ; "
            f"<{DCTERMS}created> ?created ; <{_J}jobProfile> ?profile "
            f"OPTIONAL {{ ?job <{_J}owner> ?owner }} }} {where} }}",
            substitutions=substitutions,
        )
        assert isinstance(rows, ox.QuerySolutions)
        return sum(1 for _ in rows)

    def _selection(
        self,
        owner: str | None,
        anonymous: bool,
        everyone: bool,
        phases: Sequence[str],
        profiles: Sequence[str],
        after: datetime | None,
        before: datetime | None,
    ) -> tuple[str, dict[str, ox.NamedNode | ox.Literal | ox.BlankNode]]:
        """The FILTER of `list` and `count`, with the values it substitutes."""
        filters: list[str] = []
        substitutions: dict[str, ox.NamedNode | ox.Literal | ox.BlankNode] = {}
        if not everyone:
            mine = "?owner = ?me" if owner is not None else "false"
            filters.append(f"({mine} || !BOUND(?owner))" if anonymous else mine)
            if owner is not None:
                substitutions["me"] = ox.Literal(owner)
        if phases:
            values = ", ".join(f"<{phase_iri(p)}>" for p in phases)
            filters.append(f"?phase IN ({values})")
        if profiles:
            values = ", ".join(f"<{self.profile_iri(p)}>" for p in profiles)
            filters.append(f"?profile IN ({values})")
        if after is not None:
            filters.append("?created > ?after")
            substitutions["after"] = ox.Literal(_iso(after), datatype=ox.NamedNode(nt.XSD_DATETIME))
        if before is not None:
            filters.append("?created < ?before")
            substitutions["before"] = ox.Literal(
                _iso(before), datatype=ox.NamedNode(nt.XSD_DATETIME)
            )
        return (f"FILTER({' && '.join(filters)})" if filters else ""), substitutions

    # --- changing ------------------------------------------------------------

    def create(
        self,
        *,
        profile: str,
        input: str | None = None,
        owner: str | None = None,
        run_id: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        execution_duration: int = 0,
        destruction: datetime | None = None,
        quote: datetime | None = None,
        phase: str = "PENDING",
        price: float | None = None,
        request: Mapping[str, Any] | None = None,
        also: Sequence[ResourceGraph] = (),
        job_id: str | None = None,
        status_value: str | None = None,
        priority: str | None = None,
        due: datetime | None = None,
        payer: Payer | None = None,
    ) -> Job:
        """A new job, stored with its creation message; `also`: graphs replaced with it.

        `payer`: the pass that pays for it. The job's price is computed first (a HEAD on
        its input, outside every lock), then the pass's new balance is stored in the
        transaction that creates the job, under the accounts' lock: PaymentRequired
        (and no job) when the credit is short. Blocking: call it off the event loop.
        """
        if priority is not None and priority not in PRIORITIES:
            raise InputError(
                f"{priority!r} is not a job priority", hint="one of " + ", ".join(PRIORITIES)
            )
        if phase not in ("PENDING", "QUEUED", "HELD"):
            raise InputError(f"a job starts PENDING, QUEUED or HELD, not {phase}")
        if input is not None and nt.checked_iri(input) is None:
            raise InputError(f"{input!r} is not an absolute URL", hint="send e.g. http://h/x.doc")
        execution_duration = self._duration(execution_duration)
        _check_text(run_id, parameters)
        job_id = job_id or str(uuid.uuid4())
        secret_input: str | None = None
        if input is not None:  # the dataset gets the URL without its password; the vault the URL
            input, secret_input = _stored_input(input)
        parameters = self._keep_secrets(job_id, parameters, self.secret_parameters(profile))
        charge, paid_bytes = (
            payer.quote(secret_input or input) if payer is not None else (0.0, None)
        )
        if payer is not None:
            price = charge
        now = self.clock()
        job = Job(
            id=job_id,
            iri=self.iri(job_id),
            phase=phase,
            profile=profile,
            created=now,
            modified=now,
            input=input,
            owner=owner,
            run_id=run_id,
            parameters=dict(parameters or {}),
            execution_duration=execution_duration,
            destruction=destruction,
            quote=quote,
            price=price,
            paid_bytes=paid_bytes,
            status_value=status_value,
            priority=priority,
            due=due,
        )
        with self._lock(job_id):
            if self.store.exists(job.iri):
                raise Conflict(f"job {job_id} exists already")
            with payer.debited(charge) if payer is not None else contextlib.nullcontext() as paid:
                graphs = [*also, paid] if paid is not None else also
                if secret_input is not None:
                    self.vault.put(job_id, secret_input)
                self._commit(job, "created", None, owner or "anonymous", request, also=graphs)
        self._tell(Change("created", job, job_id, None))
        return job

    def set_phase(
        self,
        job_id: str,
        phase: str,
        *,
        by: str = SERVICE,
        expect: Sequence[str] = (),
        expect_started: datetime | None = None,
        error: JobFailed | None = None,
        results: ResourceGraph | None = None,
        status_value: str | None = None,
        request: Mapping[str, Any] | None = None,
        also: Sequence[ResourceGraph] = (),
        rerun: bool = False,
        committing: Callable[[], None] | None = None,
    ) -> Job:
        """Move a job to `phase`; Conflict (409) when the transition table does not allow it.

        `rerun`: a finished job (COMPLETED, ERROR, ABORTED) QUEUED again, as MCMA's restart
        does: its end, error and results are dropped, and a new execution begins.

        `expect`: the phases the caller believes the job is in (a worker that
        picked a QUEUED job); any other current phase is a Conflict too, so a
        job aborted meanwhile is not started. `expect_started`: the start the caller
        saw (a worker finishing its run); a job restarted since is a Conflict, so a
        stale run does not finish a newer one. `results` stores the aggregation
        with the change; ARCHIVED drops it (the job's description stays). `committing` runs
        once the change is allowed, holding the job, just before it commits (a worker puts the
        result files in place there: whoever reads or hears of the end finds them; should the
        commit fail, the caller takes them away again).
        """
        if phase not in TRANSITIONS:
            raise InputError(f"{phase!r} is not a UWS phase", hint="one of " + ", ".join(PHASES))
        with self._lock(job_id):
            job = self.get(job_id)
            if expect and job.phase not in expect:
                raise Conflict(
                    f"job {job_id} is {job.phase}, not {' or '.join(expect)}",
                    details={"phase": job.phase},
                )
            if expect_started is not None and job.started != expect_started:
                raise Conflict(
                    f"job {job_id} was restarted since",
                    details={"phase": job.phase},
                )
            again = rerun and phase == "QUEUED" and job.phase in FINAL - {"ARCHIVED"}
            if phase not in TRANSITIONS[job.phase] and not again:
                allowed = ", ".join(sorted(TRANSITIONS[job.phase])) or "none"
                raise Conflict(
                    f"job {job_id} is {job.phase} and cannot become {phase}",
                    hint=f"from {job.phase} it can become: {allowed}",
                    details={"phase": job.phase},
                )
            now = self.clock()
            # a binding's own status describes the phase it was written for, and no other
            new = replace(
                job, phase=phase, modified=now, sequence=job.sequence + 1, status_value=status_value
            )
            if phase == "EXECUTING" and job.started is None:
                new = replace(new, started=now)
            if phase == "QUEUED":  # requeued: its execution duration counts from the next start
                new = replace(new, started=None)
            if phase in FINAL and phase != "ARCHIVED" and job.ended is None:
                new = replace(new, ended=now)
            if error is not None:
                new = replace(new, error=JobError.of(error))
            drop: list[str] = []
            if again:
                new = replace(new, ended=None, error=None, results=None)
                drop += [job.results] if job.results else []
            add: list[ResourceGraph] = list(also)
            if results is not None:
                new = replace(new, results=results.iri)
                add.append(results)
            if phase == "ARCHIVED" and job.results:
                drop.append(job.results)
                new = replace(new, results=None)
            if committing is not None:
                committing()
            self._commit(new, "phase", job.phase, by, request, also=add, drop=drop)
        self._tell(Change("phase", new, job_id, job.phase, by))
        return new

    def update(
        self,
        job_id: str,
        *,
        by: str,
        request: Mapping[str, Any] | None = None,
        also: Sequence[ResourceGraph] = (),
        **fields: Any,
    ) -> Job:
        """Change what a client may set: run_id, input, parameters, execution_duration,
        destruction, quote; or only `also`, a binding's graphs of the job (its phase unchanged).

        The input, parameters and execution duration can change only while the
        job is PENDING or HELD (UWS 1.1 §2.2.3); Conflict otherwise.
        """
        settable = {"run_id", "input", "parameters", "execution_duration", "destruction", "quote"}
        unknown = set(fields) - settable
        if unknown:
            raise InputError(f"cannot set {', '.join(sorted(unknown))} on a job")
        if fields.get("input") is not None and nt.checked_iri(fields["input"]) is None:
            raise InputError(f"{fields['input']!r} is not an absolute URL")
        _check_text(fields.get("run_id"), fields.get("parameters"))
        if fields.get("execution_duration") is not None:
            fields["execution_duration"] = self._duration(fields["execution_duration"])
        with self._lock(job_id):
            job = self.get(job_id)
            frozen = {"input", "parameters", "execution_duration"} & set(fields)
            if frozen and job.phase not in ("PENDING", "HELD"):
                raise Conflict(
                    f"job {job_id} is {job.phase}: its {', '.join(sorted(frozen))} can no "
                    "longer change",
                    hint="they can change while the job is PENDING",
                    details={"phase": job.phase},
                )
            if "parameters" in fields:
                secret = self.secret_parameters(job.profile)
                stored = self._keep_secrets(job_id, fields["parameters"], secret)
                fields = {**fields, "parameters": stored}
            given = fields.get("input")
            if isinstance(given, str):
                stored_input, secret_input = _stored_input(given)
                if secret_input is not None:
                    self.vault.put(job_id, secret_input)
                else:
                    self.vault.drop(job_id)
                fields = {**fields, "input": stored_input}
            new = replace(job, **fields, modified=self.clock(), sequence=job.sequence + 1)
            self._commit(new, "updated", job.phase, by, request, also=also)
        self._tell(Change("updated", new, job_id, job.phase, by))
        return new

    def _keep_secrets(
        self, job_id: str, given: Mapping[str, Any] | None, secret: frozenset[str]
    ) -> dict[str, Any]:
        """The parameters as stored (redacted); the values redaction takes out wait in the
        vault for the worker (`parameters_of`), as an input URL's password does."""
        stored = _redacted_parameters(given, secret)
        taken = {k: v for k, v in (given or {}).items() if stored.get(k) != v}
        if taken:
            self.vault.put(f"{job_id}.parameters", json.dumps(taken))
        else:
            self.vault.drop(f"{job_id}.parameters")
        return stored

    def parameters_of(self, job: Job) -> dict[str, Any]:
        """The job's parameters to run it with: as stored, with their secrets from the vault."""
        kept = self.vault.get(f"{job.id}.parameters")
        return {**job.parameters, **(json.loads(kept) if kept else {})}

    def input_of(self, job: Job) -> str | None:
        """The URL to fetch the job's input from: with its credentials, which only the vault
        holds (the job's `input` is the URL as stored, its password redacted)."""
        return self.vault.get(job.id) or job.input

    def delete(
        self,
        job_id: str,
        *,
        by: str,
        kind: str = "deleted",
        request: Mapping[str, Any] | None = None,
    ) -> Job:
        """Remove the job's state and results; its messages stay, the last one saying so."""
        with self._lock(job_id):
            job = self.get(job_id)
            drop = [job.iri] + ([job.results] if job.results else [])
            drop += [f"{job.iri}/{part}" for part in sorted(self.parts)]
            gone = replace(job, modified=self.clock(), sequence=job.sequence + 1)
            message = self._message(gone, kind, job.phase, by, request)
            with self.log.sealing([message]):
                self.store.apply(add=traceindex.with_entries([message]), delete=drop)
            self.vault.drop(job_id)
            self.vault.drop(f"{job_id}.parameters")
        self._tell(Change(kind, None, job_id, job.phase, by))
        return job

    # --- inside ------------------------------------------------------------

    def _lock(self, job_id: str) -> contextlib.AbstractContextManager[bool]:
        """What serialises changes to the job: a lock of this process's, or on a shared
        store the log's lease (every process's changes, one at a time)."""
        if self.store.shared:
            return self.log.held()
        return self._locks[hash(job_id) % len(self._locks)]

    def _commit(
        self,
        job: Job,
        kind: str,
        previous: str | None,
        by: str,
        request: Mapping[str, Any] | None,
        *,
        also: Sequence[ResourceGraph] = (),
        drop: Sequence[str] = (),
    ) -> None:
        message = self._message(job, kind, previous, by, request)
        state = ResourceGraph(job.iri, to_triples(job, self.profile_iri(job.profile)))
        with self.log.sealing([message]):  # sealed and committed in one critical section
            self.store.apply(
                add=traceindex.with_entries([message]), replace=[state, *also], delete=drop
            )

    def _message(
        self,
        job: Job,
        kind: str,
        previous: str | None,
        by: str,
        request: Mapping[str, Any] | None,
    ) -> ResourceGraph:
        record: dict[str, Any] = {
            "job": job.iri,
            "change": kind,
            "sequence": job.sequence,
            "at": _iso(job.modified),
            "by": by,
            "from": previous,
            "to": job.phase if kind not in ("deleted", "destroyed") else None,
        }
        if job.error is not None and kind == "phase":
            record["error"] = {"type": job.error.type, "message": job.error.message}
        if request:
            record["request"] = dict(request)
        secret = self.secret_parameters(job.profile)
        text, redacted = redact.text(json.dumps(record, ensure_ascii=False, sort_keys=True), secret)
        if redacted:  # the request as received, less its secrets: say so
            record["redacted"] = redacted
            text, _ = redact.text(json.dumps(record, ensure_ascii=False, sort_keys=True), secret)
        data = text.encode("utf-8")
        incoming = Incoming(data, f"job {job.id} #{job.sequence}", "application/json")
        m, triples = envelope(
            incoming,
            base=self.base,
            classes=("JobChange",),
            media_type="application/json",
            notes=[],
            stored_at=nt.datetime_lit(job.modified),
        )
        s = nt.iri(m)
        triples += [
            (s, nt.jt("about"), nt.iri(job.iri)),
            (s, nt.jt("changeKind"), nt.lit(kind)),
            (s, nt.jt("sequence"), nt.integer(job.sequence)),
            (s, nt.jt("changedBy"), nt.lit(by)),
            (s, nt.iri(f"{PROV}atTime"), nt.datetime_lit(job.modified)),
            (s, nt.iri(f"{PROV}generatedAtTime"), nt.datetime_lit(job.modified)),
        ]
        if (job_uuid := uuid_iri(job.id)) is not None:
            # a trace of the job's id finds its whole history; the creation "adds" it
            triples.append((s, nt.jt("carriesUUID"), job_uuid))
            if kind == "created":
                triples.append((s, nt.jt("addedUUID"), job_uuid))
        if previous is not None:
            triples.append((s, nt.jt("fromPhase"), nt.iri(phase_iri(previous))))
        if record["to"] is not None:
            triples.append((s, nt.jt("toPhase"), nt.iri(phase_iri(job.phase))))
        return ResourceGraph(m, triples)  # sealed where it is written (`Log.sealing`)

    def _tell(self, change: Change) -> None:
        for listener in list(self._listeners):
            listener(change)

    def tell(self, change: Change) -> None:
        """Tell the listeners of a change another process made (`jobs/follow.py`)."""
        self._tell(change)


def uuid_iri(job_id: str) -> str | None:
    """`<urn:uuid:…>` for a job id that is a UUID (every id jobtrail mints), else None."""
    try:
        return nt.iri(uuid.UUID(job_id).urn)
    except ValueError:
        return None


def _decimal(value: float) -> str:
    return format(Decimal(str(value)), "f")


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


# --- the state graph ---------------------------------------------------------

_P = {
    "phase": f"{_J}phase",
    "status": f"{_J}statusValue",
    "profile": f"{_J}jobProfile",
    "owner": f"{_J}owner",
    "run_id": f"{_J}runId",
    "quote": f"{_J}quote",
    "duration": f"{_J}executionDuration",
    "destruction": f"{_J}destruction",
    "error": f"{_J}errorSummary",
    "result": f"{_J}result",
    "parameter": f"{_J}parameter",
    "sequence": f"{_J}sequence",
    "price": f"{_J}price",
    "paid_bytes": f"{_J}paidBytes",
    "priority": f"{_J}priority",
    "due": f"{_J}deadline",
    "created": f"{DCTERMS}created",
    "modified": f"{DCTERMS}modified",
    "started": f"{PROV}startedAtTime",
    "ended": f"{PROV}endedAtTime",
    "used": f"{PROV}used",
    "key": f"{_J}key",
    "value": f"{_J}value",
    "message": f"{_J}errorMessage",
    "error_type": f"{_J}errorType",
    "comment": f"{RDFS}comment",
}


def to_triples(job: Job, profile_iri: str) -> list[Triple]:
    s = nt.iri(job.iri)
    p = {k: nt.iri(v) for k, v in _P.items()}
    out: list[Triple] = [
        (s, nt.A, nt.jt("Job")),
        (s, nt.A, nt.iri(f"{PROV}Activity")),
        (s, p["phase"], nt.iri(phase_iri(job.phase))),
        (s, p["profile"], nt.iri(profile_iri)),
        (nt.iri(profile_iri), nt.A, nt.jt("JobProfile")),
        (nt.iri(profile_iri), nt.iri(f"{RDFS}label"), nt.lit(job.profile)),
        (s, p["created"], nt.datetime_lit(job.created)),
        (s, p["modified"], nt.datetime_lit(job.modified)),
        (s, p["sequence"], nt.integer(job.sequence)),
        (s, p["duration"], nt.integer(job.execution_duration)),
    ]
    optional: list[tuple[str, str | None]] = [
        ("status", nt.lit(job.status_value) if job.status_value is not None else None),
        ("owner", nt.lit(job.owner) if job.owner is not None else None),
        ("run_id", nt.lit(job.run_id) if job.run_id is not None else None),
        ("used", nt.iri(job.input) if job.input else None),
        ("quote", nt.datetime_lit(job.quote) if job.quote else None),
        ("destruction", nt.datetime_lit(job.destruction) if job.destruction else None),
        ("started", nt.datetime_lit(job.started) if job.started else None),
        ("ended", nt.datetime_lit(job.ended) if job.ended else None),
        ("result", nt.iri(job.results) if job.results else None),
        ("priority", nt.lit(job.priority) if job.priority else None),
        ("due", nt.datetime_lit(job.due) if job.due else None),
        (
            "price",
            nt.typed(_decimal(job.price), f"{XSD}decimal") if job.price is not None else None,
        ),
        ("paid_bytes", nt.integer(job.paid_bytes) if job.paid_bytes is not None else None),
    ]
    out += [(s, p[k], v) for k, v in optional if v is not None]
    for i, (key, value) in enumerate(job.parameters.items()):
        node = nt.iri(f"{job.iri}#parameter-{i + 1}")
        out += [
            (s, p["parameter"], node),
            (node, nt.A, nt.jt("Parameter")),
            (node, p["key"], nt.lit(key)),
            (node, p["value"], nt.json_lit(value)),
        ]
    if job.error is not None:
        node = nt.iri(f"{job.iri}#error")
        out += [
            (s, p["error"], node),
            (node, nt.A, nt.jt("Error")),
            (node, p["error_type"], nt.lit(job.error.type)),
            (node, p["message"], nt.lit(job.error.message)),
        ]
        if job.error.hint:
            out.append((node, p["comment"], nt.lit(job.error.hint)))
    return out


def from_triples(job_id: str, iri: str, triples: Sequence[ox.Triple]) -> Job:
    """A job back from its state graph (what `to_triples` wrote)."""
    by_subject: dict[str, dict[str, list[ox.NamedNode | ox.BlankNode | ox.Literal]]] = {}
    for t in triples:
        if isinstance(t.subject, ox.Triple):
            continue
        subject = by_subject.setdefault(t.subject.value, {})
        subject.setdefault(t.predicate.value, []).append(t.object)  # type: ignore[arg-type]
    me = by_subject.get(iri, {})

    def one(name: str, of: Mapping[str, list[Any]] = me) -> str | None:
        values = of.get(_P[name])
        return values[0].value if values else None

    def when(name: str) -> datetime | None:
        value = one(name)
        return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None

    parameters: dict[str, Any] = {}
    nodes = sorted(me.get(_P["parameter"], []), key=lambda n: int(n.value.rpartition("-")[2]))
    for node in nodes:
        description = by_subject.get(node.value, {})
        key, value = one("key", description), one("value", description)
        if key is not None and value is not None:
            parameters[key] = json.loads(value)
    error = None
    error_node = one("error")
    if error_node is not None:
        description = by_subject.get(error_node, {})
        error = JobError(
            one("error_type", description) or "JobFailed",
            one("message", description) or "",
            one("comment", description),
        )
    profile = by_subject.get(one("profile") or "", {})
    price = one("price")
    paid_bytes = one("paid_bytes")
    created = when("created")
    assert created is not None, f"job {iri} has no creation time"
    return Job(
        id=job_id,
        iri=iri,
        phase=(one("phase") or "UNKNOWN").rpartition("/")[2],
        profile=(profile.get(f"{RDFS}label") or [ox.Literal("?")])[0].value,
        created=created,
        modified=when("modified") or created,
        sequence=int(one("sequence") or 1),
        input=one("used"),
        owner=one("owner"),
        run_id=one("run_id"),
        parameters=parameters,
        quote=when("quote"),
        execution_duration=int(one("duration") or 0),
        destruction=when("destruction"),
        started=when("started"),
        ended=when("ended"),
        error=error,
        results=one("result"),
        status_value=one("status"),
        price=float(price) if price is not None else None,
        paid_bytes=int(paid_bytes) if paid_bytes is not None else None,
        priority=one("priority"),
        due=when("due"),
    )


__all__ = [
    "ACTIVE",
    "FINAL",
    "PHASES",
    "PRIORITIES",
    "TRANSITIONS",
    "Change",
    "Job",
    "JobError",
    "Jobs",
    "from_triples",
    "phase_iri",
    "to_triples",
]


def _check_text(run_id: str | None, parameters: Mapping[str, Any] | None) -> None:
    """InputError naming the field when the run id or a parameter (its name, or any string in
    its value) holds a character XML 1.0 cannot carry: every binding writes them to XML."""
    if run_id is not None:
        check_field("runId", run_id)
    stack: list[tuple[str, Any]] = [(f"parameter {k}", v) for k, v in (parameters or {}).items()]
    for key in parameters or {}:
        check_field("parameter name", key)
    while stack:
        name, value = stack.pop()
        if isinstance(value, str):
            check_field(name, value)
        elif isinstance(value, dict):
            for k, v in value.items():
                check_field(f"{name} (a key)", str(k))
                stack.append((name, v))
        elif isinstance(value, list):
            stack.extend((name, v) for v in value)
