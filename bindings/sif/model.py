"""SIF 3.2.1 functional-service jobs: phases with states and rights, over the job core.

A SIF job is a job of the core like any other (its IRI, phase and history are
the core's); what only SIF says about it — its functional service, its phases,
each phase's states, rights and payload, its timeout and initialization — is
the graph `{job}/sif`, replaced together with the job's state in one
transaction. The job's SIF state is derived from its phases (a required phase
FAILED → FAILED; every required phase COMPLETED → COMPLETED; any phase begun →
INPROGRESS), and the core's UWS phase is set from it through the vocabulary's
SIF scheme (`vocab/status.ttl`), so every view of the job reads one state.

Services and their phases are declared in `sif_services.json` (or the file of
the `sif_services` setting). SIF parties — consumers and the services doing the
work — move the phases by posting states; jobtrail keeps them and derives the
rest. Only an APPROVED right allows an operation, as in the SIF 3 frameworks.
"""

from __future__ import annotations

import calendar
import json
import re
import threading
import uuid
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from jobtrail.base import nt
from jobtrail.base.errors import Conflict, Forbidden, InputError, JobFailed, NotFound
from jobtrail.base.terms import DCTERMS, JT, XSD
from jobtrail.bindings.sif.environments import Environments
from jobtrail.jobs.accounts import Payer
from jobtrail.jobs.core import TRANSITIONS, Job, Jobs
from jobtrail.jobs.hops import Hops
from jobtrail.store import ResourceGraph
from jobtrail.vocab import status
from jobtrail.web.binding import Runtime

NS = "http://www.sifassociation.org/infrastructure/3.2.1"
RIGHT_TYPES = ("QUERY", "CREATE", "UPDATE", "DELETE", "PROVIDE", "SUBSCRIBE", "ADMIN")
RIGHT_VALUES = ("APPROVED", "SUPPORTED", "UNSUPPORTED", "REJECTED", "REQUESTED")
GRANTED = "APPROVED"
OPERATIONS = {
    "GET": "QUERY",
    "HEAD": "QUERY",
    "POST": "CREATE",
    "PUT": "UPDATE",
    "DELETE": "DELETE",
}
"""The right each HTTP method needs on a phase's payload (SIF 3 functional services)."""

SHOWN: dict[str, str] = {
    "PENDING": "NOTSTARTED",
    "HELD": "NOTSTARTED",
    "QUEUED": "INPROGRESS",
    "EXECUTING": "INPROGRESS",
    "SUSPENDED": "INPROGRESS",
    "COMPLETED": "COMPLETED",
    "ERROR": "FAILED",
    "ABORTED": "FAILED",
    "ARCHIVED": "COMPLETED",
    "UNKNOWN": "INPROGRESS",
}
"""The SIF state a job shows for its UWS phase when no SIF state that fits was written
(a job ended by another binding: aborted through UWS, cancelled through MCMA)."""

_BEGUN_NOT = frozenset({"NOTSTARTED", "NOTAPPLICABLE"})
_ENDED = frozenset({"COMPLETED", "SKIPPED", "NOTAPPLICABLE", "FAILED"})
_J = str(JT)


# --- declarations ----------------------------------------------------------------------


@dataclass(frozen=True)
class PhaseSpec:
    name: str
    required: bool
    rights: tuple[tuple[str, str], ...]  # (type, value) in the declared order
    states_rights: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Service:
    """A functional service: its jobs are at `/sif/jobs/{name}s`, each with these phases."""

    name: str
    description: str
    phases: tuple[PhaseSpec, ...]

    @property
    def collection(self) -> str:
        return f"{self.name}s"


def load_services(setting: str | None) -> dict[str, Service]:
    """The services of the `sif_services` setting (a JSON file, or JSON), else the defaults."""
    if setting and setting.lstrip().startswith("{"):
        text, source = setting, "sif_services"
    elif setting:
        try:
            text, source = Path(setting).read_text(encoding="utf-8"), setting
        except OSError as e:
            raise InputError(f"sif_services: cannot read {setting}: {e.strerror}") from None
    else:
        text, source = (
            (files("jobtrail.bindings.sif") / "services.json").read_text("utf-8"),
            "default",
        )
    try:
        items = json.loads(text)["services"]
        services = [_service(i) for i in items]
    except (ValueError, TypeError, KeyError) as e:
        raise InputError(
            f"sif_services ({source}) is not a list of services: {e}",
            hint='{"services": [{"name": "Transfer", "phases": [{"name": "package", '
            '"required": true, "rights": {"QUERY": "APPROVED"}, "statesRights": '
            '{"QUERY": "APPROVED"}}]}]}',
        ) from None
    return {s.name: s for s in services}


def _service(item: Mapping[str, Any]) -> Service:
    name = str(item["name"])
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
        raise ValueError(f"service name {name!r} is not a plain name (letters, digits, _)")
    phases = tuple(
        PhaseSpec(
            str(p["name"]),
            bool(p["required"]),
            _rights(p["rights"], f"{name}/{p['name']} rights"),
            _rights(p["statesRights"], f"{name}/{p['name']} statesRights"),
        )
        for p in item["phases"]
    )
    if not phases or len({p.name for p in phases}) != len(phases):
        raise ValueError(f"service {name!r} needs phases with names unique within it")
    return Service(name, str(item.get("description", "")), phases)


def _rights(given: Mapping[str, str], where: str) -> tuple[tuple[str, str], ...]:
    out = tuple((str(k), str(v)) for k, v in given.items())
    bad = [f"{k}={v}" for k, v in out if k not in RIGHT_TYPES or v not in RIGHT_VALUES]
    if bad or not out:
        raise ValueError(f"{where}: {', '.join(bad) or 'none given'} (types {RIGHT_TYPES})")
    return out


# --- a job's SIF record ------------------------------------------------------------------


@dataclass(frozen=True)
class State:
    id: str
    type: str
    created: datetime
    modified: datetime
    description: str | None = None


@dataclass(frozen=True)
class Phase:
    name: str
    required: bool
    rights: tuple[tuple[str, str], ...]
    states_rights: tuple[tuple[str, str], ...]
    states: tuple[State, ...]
    payload: str | None = None
    media_type: str | None = None

    @property
    def current(self) -> State:
        return self.states[-1]

    def require(self, right: str, *, on_states: bool = False) -> None:
        """Forbidden (403) naming the right, unless the phase gives it APPROVED."""
        rights = dict(self.states_rights if on_states else self.rights)
        value = rights.get(right)
        if value != GRANTED:
            what = "its states" if on_states else "its payload"
            raise Forbidden(
                f"phase {self.name!r} does not give the {right} right on {what}"
                + (f": it is {value}" if value else ": it has no such right"),
                hint="rights of this phase: "
                + (", ".join(f"{k}={v}" for k, v in rights.items()) or "none"),
                details={"phase": self.name, "right": right, "value": value or "absent"},
            )


@dataclass(frozen=True)
class Record:
    service: str
    name: str
    phases: tuple[Phase, ...]
    description: str | None = None
    state_description: str | None = None
    timeout: str | None = None  # the xsd:duration as the consumer wrote it
    init_phase: str | None = None
    init_payload: str | None = None

    def phase(self, name: str) -> Phase:
        for p in self.phases:
            if p.name == name:
                return p
        raise NotFound(
            f"the job has no phase {name!r}",
            hint="its phases: " + ", ".join(p.name for p in self.phases),
        )

    def with_phase(self, new: Phase) -> Record:
        return replace(self, phases=tuple(new if p.name == new.name else p for p in self.phases))


def derived_state(phases: Sequence[Phase]) -> tuple[str, str | None]:
    """The job's state and its description, from its phases' current states."""
    required = [p for p in phases if p.required]
    for p in required:
        if p.current.type == "FAILED":
            why = f": {p.current.description}" if p.current.description else ""
            return "FAILED", f"required phase {p.name} failed{why}"
    current = [p.current.type for p in phases]
    if required and all(p.current.type == "COMPLETED" for p in required):
        return "COMPLETED", None
    if not required and all(t in _ENDED for t in current) and "COMPLETED" in current:
        return "COMPLETED", None
    if any(t not in _BEGUN_NOT for t in current):
        return "INPROGRESS", None
    return "NOTSTARTED", None


def shown_state(job: Job) -> str:
    """The SIF state of any job: the one SIF wrote while it fits its phase, else its phase's."""
    written = job.status_value
    if written in status.tokens("sif-job") and status.canonical("sif-job", written) == job.phase:
        return written
    return SHOWN.get(job.phase, "INPROGRESS")


def duration_end(start: datetime, lexical: str) -> datetime | None:
    """`start` plus an xsd:duration (years and months by the calendar); None for a zero one."""
    m = re.fullmatch(
        r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?",
        lexical.strip(),
    )
    if m is None or lexical.strip() in ("P", "PT"):
        raise InputError(
            f"timeout {lexical!r} is not a positive xsd:duration",
            hint="e.g. PT30M, P1D, P1Y2M",
            details={"element": "timeout"},
        )
    years, months, days, hours, minutes = (int(g or 0) for g in m.groups()[:5])
    seconds = float(m.group(6) or 0)
    if not any((years, months, days, hours, minutes, seconds)):
        return None
    try:
        total = start.year * 12 + start.month - 1 + years * 12 + months
        year, month = divmod(total, 12)
        day = min(start.day, calendar.monthrange(year, month + 1)[1])
        moved = start.replace(year=year, month=month + 1, day=day)
        return moved + timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    except (ValueError, OverflowError):  # past year 9999, or more days than a timedelta holds
        raise InputError(
            f"timeout {lexical!r} ends after the year 9999, the latest date kept",
            hint="e.g. PT30M, P1D, P1Y2M",
            details={"element": "timeout", "limit": "9999-12-31"},
        ) from None


# --- the service ---------------------------------------------------------------------------


@dataclass
class Outcome:
    """What a SIF change did: the job and record after it, and the state added, if any."""

    job: Job
    record: Record
    state: State | None = None
    steps: list[str] = field(default_factory=list)  # UWS phases the job went through


class Sif(Runtime):
    """Creates SIF jobs and changes their phases, through the job core."""

    def __init__(
        self,
        jobs: Jobs,
        services: Mapping[str, Service],
        hops: Hops | None = None,
        environments: Environments | None = None,
    ):
        self.jobs = jobs
        self.hops = hops if hops is not None else Hops(jobs)
        self.environments = environments  # consumers' registrations and sessions
        self.services = dict(services)
        self._locks = [threading.Lock() for _ in range(64)]

    def record_iri(self, job_id: str) -> str:
        return f"{self.jobs.iri(job_id)}/sif"

    def runs_elsewhere(self, job: Job) -> bool:
        """A SIF job's work is done by SIF parties, never by the worker pool."""
        return job.profile in self.services

    def service(self, collection: str) -> Service:
        for s in self.services.values():
            if s.collection == collection:
                return s
        raise NotFound(
            f"there is no SIF functional service {collection!r} here",
            hint="services: " + ", ".join(s.collection for s in self.services.values()),
        )

    def read(self, job: Job) -> Record:
        """The job's SIF record; a job made by another binding has none (NotFound)."""
        triples = self.jobs.store.read(self.record_iri(job.id))
        if not triples:
            raise NotFound(
                f"job {job.id} is not a SIF job",
                hint=f"it is a {job.profile} job: {job.iri}",
            )
        return from_triples(job.iri, triples)

    def create(
        self,
        service: Service,
        *,
        name: str,
        description: str | None,
        timeout: str | None,
        init_phase: str | None,
        init_payload: str | None,
        owner: str | None,
        request: Mapping[str, Any],
        job_id: str | None = None,
        payer: Payer | None = None,
    ) -> Outcome:
        if name != service.name:
            raise InputError(
                f"a job named {name!r} is not a job of the {service.name} service",
                hint=f"POST it to /sif/jobs/{name}s/{name}, or name it {service.name}",
                details={"element": "name"},
            )
        now = self.jobs.clock()
        job_id = job_id or str(uuid.uuid4())
        destruction = duration_end(now, timeout) if timeout else None
        phases = tuple(
            Phase(p.name, p.required, p.rights, p.states_rights, (_state("NOTSTARTED", now),))
            for p in service.phases
        )
        record = Record(service.name, name, phases, description, None, timeout)
        if init_payload is not None:
            target = init_phase or phases[0].name
            if target not in {p.name for p in phases}:
                raise InputError(
                    f"the initialization is for phase {target!r}, which a {service.name} job "
                    "does not have",
                    hint="its phases: " + ", ".join(p.name for p in phases),
                    details={"element": "phaseName"},
                )
            record = replace(record, init_phase=target, init_payload=init_payload)
            record = record.with_phase(
                replace(record.phase(target), payload=init_payload, media_type="application/xml")
            )
        job = self.jobs.create(
            profile=service.name,
            owner=owner,
            destruction=destruction,
            request=request,
            job_id=job_id,
            status_value="NOTSTARTED",
            also=[self._graph(job_id, record)],
            payer=payer,
        )
        return Outcome(job, record)

    def add_state(
        self,
        job: Job,
        phase_name: str,
        *,
        type: str,
        description: str | None,
        by: str,
        request: Mapping[str, Any],
    ) -> Outcome:
        """A new state of a phase (statesRights CREATE); the job's state follows."""
        if type not in status.tokens("sif-phase"):
            raise InputError(
                f"{type!r} is not a SIF phase state",
                hint="one of " + ", ".join(status.tokens("sif-phase")),
                details={"element": "type"},
            )
        with self._lock(job.id):
            record = self.read(job)
            phase = record.phase(phase_name)
            phase.require("CREATE", on_states=True)
            added = _state(type, self.jobs.clock(), description)
            record = record.with_phase(replace(phase, states=(*phase.states, added)))
            outcome = self._commit(job.id, record, by=by, request=request)
        outcome.state = added
        return outcome

    def set_payload(
        self,
        job: Job,
        phase_name: str,
        *,
        operation: str,
        payload: str | None,
        media_type: str | None,
        by: str,
        request: Mapping[str, Any],
    ) -> Outcome:
        """CREATE, UPDATE or DELETE a phase's payload, as its rights allow."""
        with self._lock(job.id):
            record = self.read(job)
            phase = record.phase(phase_name)
            phase.require(operation)
            record = record.with_phase(replace(phase, payload=payload, media_type=media_type))
            return self._commit(job.id, record, by=by, request=request)

    # --- inside ----------------------------------------------------------------------

    def _lock(self, job_id: str) -> threading.Lock:
        return self._locks[hash(job_id) % len(self._locks)]

    def _commit(self, job_id: str, record: Record, *, by: str, request: Any) -> Outcome:
        """Store the record with the job's state derived from it, walking the UWS phases."""
        state, why = derived_state(record.phases)
        record = replace(record, state_description=why)
        graph = self._graph(job_id, record)
        job = self.jobs.get(job_id)
        target = status.canonical("sif-job", state)
        if target == job.phase:
            job = self.jobs.update(job_id, by=by, request=request, also=[graph])
            return Outcome(job, record)
        path = _path(job.phase, target)
        if path is None:
            raise Conflict(
                f"job {job_id} is {shown_state(job)} ({job.phase}) and cannot become {state}",
                hint="a finished job's phases no longer change; a begun job does not go back "
                "to NOTSTARTED",
                details={"state": shown_state(job), "phase": job.phase},
            )
        for i, step in enumerate(path):
            last = i == len(path) - 1
            job = self.jobs.set_phase(
                job_id,
                step,
                by=by,
                expect=(job.phase,),
                request=request if i == 0 else None,
                also=[graph] if i == 0 else (),  # the record lands with the first step
                status_value=state if last else None,
                error=JobFailed(why or "a required phase failed") if step == "ERROR" else None,
            )
        return Outcome(job, record, steps=path)

    def _graph(self, job_id: str, record: Record) -> ResourceGraph:
        return ResourceGraph(self.record_iri(job_id), to_triples(self.jobs.iri(job_id), record))


def _state(type: str, at: datetime, description: str | None = None) -> State:
    return State(str(uuid.uuid4()), type, at, at, description)


def _path(start: str, goal: str) -> list[str] | None:
    """The shortest walk through the UWS transitions (PENDING → QUEUED → EXECUTING)."""
    seen = {start}
    todo: deque[tuple[str, list[str]]] = deque([(start, [])])
    while todo:
        phase, walked = todo.popleft()
        for nxt in sorted(TRANSITIONS[phase] - {"HELD", "SUSPENDED", "ARCHIVED"}):
            if nxt == goal:
                return [*walked, nxt]
            if nxt not in seen:
                seen.add(nxt)
                todo.append((nxt, [*walked, nxt]))
    return None


# --- the record graph --------------------------------------------------------------------

_P = {
    "service": f"{_J}sifService",
    "name": f"{DCTERMS}title",
    "description": f"{DCTERMS}description",
    "state_description": f"{_J}stateDescription",
    "timeout": f"{_J}sifTimeout",
    "phase": f"{_J}sifPhase",
    "phase_name": f"{_J}phaseName",
    "required": f"{_J}required",
    "right": f"{_J}accessRight",
    "state_right": f"{_J}stateRight",
    "right_type": f"{_J}rightType",
    "right_value": f"{_J}rightValue",
    "state": f"{_J}phaseState",
    "state_type": f"{_J}stateType",
    "position": f"{_J}position",
    "payload": f"{_J}payload",
    "format": f"{DCTERMS}format",
    "created": f"{DCTERMS}created",
    "modified": f"{DCTERMS}modified",
    "init": f"{_J}initialization",
}
_PHASE_STATE = "https://w3id.org/jobtrail/status/sif/phase/"


def to_triples(job_iri: str, record: Record) -> list[tuple[str, str, str]]:
    p = {k: nt.iri(v) for k, v in _P.items()}
    s = nt.iri(job_iri)
    out = [
        (s, p["service"], nt.lit(record.service)),
        (s, p["name"], nt.lit(record.name)),
    ]
    for key, value in (
        ("description", record.description),
        ("state_description", record.state_description),
    ):
        if value is not None:
            out.append((s, p[key], nt.lit(value)))
    if record.timeout is not None:
        out.append((s, p["timeout"], nt.typed(record.timeout, f"{XSD}duration")))
    base = f"{job_iri}/sif"
    for i, phase in enumerate(record.phases):
        node = nt.iri(f"{base}#phase-{i + 1}")
        out += [
            (s, p["phase"], node),
            (node, nt.A, nt.jt("SifPhase")),
            (node, p["phase_name"], nt.lit(phase.name)),
            (node, p["required"], nt.boolean(phase.required)),
            (node, p["position"], nt.integer(i)),
        ]
        if phase.payload is not None:
            out.append((node, p["payload"], nt.lit(phase.payload)))
            if phase.media_type:
                out.append((node, p["format"], nt.lit(phase.media_type)))
        for kind, rights in (("right", phase.rights), ("state_right", phase.states_rights)):
            for j, (right_type, value) in enumerate(rights):
                r = nt.iri(f"{base}#phase-{i + 1}-{kind.replace('_', '-')}-{right_type}")
                out += [
                    (node, p[kind], r),
                    (r, nt.A, nt.jt("AccessRight")),
                    (r, p["right_type"], nt.lit(right_type)),
                    (r, p["right_value"], nt.lit(value)),
                    (r, p["position"], nt.integer(j)),
                ]
        for j, st in enumerate(phase.states):
            n = nt.iri(uuid.UUID(st.id).urn)
            out += [
                (node, p["state"], n),
                (n, nt.A, nt.jt("SifPhaseState")),
                (n, p["state_type"], nt.iri(_PHASE_STATE + st.type)),
                (n, p["position"], nt.integer(j)),
                (n, p["created"], nt.datetime_lit(st.created)),
                (n, p["modified"], nt.datetime_lit(st.modified)),
            ]
            if st.description is not None:
                out.append((n, p["description"], nt.lit(st.description)))
    if record.init_payload is not None:
        n = nt.iri(f"{base}#initialization")
        out += [
            (s, p["init"], n),
            (n, nt.A, nt.jt("SifInitialization")),
            (n, p["payload"], nt.lit(record.init_payload)),
        ]
        if record.init_phase is not None:
            out.append((n, p["phase_name"], nt.lit(record.init_phase)))
    return out


def from_triples(job_iri: str, triples: Iterable[ox.Triple]) -> Record:
    """The record back from its graph (what `to_triples` wrote)."""
    by: dict[str, dict[str, list[Any]]] = {}
    for t in triples:
        if isinstance(t.subject, ox.Triple):
            continue
        by.setdefault(t.subject.value, {}).setdefault(t.predicate.value, []).append(t.object)

    def one(of: Mapping[str, list[Any]], key: str) -> str | None:
        values = of.get(_P[key])
        return values[0].value if values else None

    def nodes(of: Mapping[str, list[Any]], key: str) -> list[tuple[str, dict[str, list[Any]]]]:
        found = [(n.value, by.get(n.value, {})) for n in of.get(_P[key], [])]
        return sorted(found, key=lambda d: int(one(d[1], "position") or 0))

    def when(of: Mapping[str, list[Any]], key: str) -> datetime:
        return datetime.fromisoformat((one(of, key) or "").replace("Z", "+00:00"))

    def rights(of: Mapping[str, list[Any]], key: str) -> tuple[tuple[str, str], ...]:
        return tuple(
            (one(r, "right_type") or "", one(r, "right_value") or "") for _, r in nodes(of, key)
        )

    me = by.get(job_iri, {})
    phases = []
    for _, ph in nodes(me, "phase"):
        states = tuple(
            State(
                iri.removeprefix("urn:uuid:"),
                (one(st, "state_type") or "").rpartition("/")[2],
                when(st, "created"),
                when(st, "modified"),
                one(st, "description"),
            )
            for iri, st in nodes(ph, "state")
        )
        phases.append(
            Phase(
                one(ph, "phase_name") or "",
                one(ph, "required") in ("true", "1"),
                rights(ph, "right"),
                rights(ph, "state_right"),
                states,
                one(ph, "payload"),
                one(ph, "format"),
            )
        )
    init = next((d for _, d in nodes(me, "init")), {})
    return Record(
        service=one(me, "service") or "",
        name=one(me, "name") or "",
        phases=tuple(phases),
        description=one(me, "description"),
        state_description=one(me, "state_description"),
        timeout=one(me, "timeout"),
        init_phase=one(init, "phase_name") if init else None,
        init_payload=one(init, "payload") if init else None,
    )


__all__ = [
    "GRANTED",
    "NS",
    "OPERATIONS",
    "RIGHT_TYPES",
    "Outcome",
    "Phase",
    "PhaseSpec",
    "Record",
    "Service",
    "Sif",
    "State",
    "derived_state",
    "duration_end",
    "load_services",
    "shown_state",
]
