"""Tracing: the whole chain a UUID or a reference belongs to, hop by hop, across producers.

A chain is what the messages themselves connect: a hop carries the UUIDs of
the hops before it (TRE's ordered UUID list; the 2023 structure's
`parentExecutionId`, read as a carried UUID, and `executionId`, read as the
one it added), and names its package by a reference. Starting from the key,
`trace` repeatedly asks the store for the messages that carry any UUID or
state any reference found so far, until no new message turns up: the
connected component of the key, and nothing else — a hop of another chain
shares neither. Each round is one indexed lookup (`jt:carriesUUID`,
`jt:reference` bound by VALUES), so the cost follows the chain's size, not
the store's.

Links are computed, not stored: hop B `prov:wasInformedBy` hop A when B
carries the UUID that A added. Messages are immutable, so a link written when
B arrived could not be written into A's graph anyway; computing them at trace
time makes the order of arrival irrelevant.

The SPARQL is in `internal/trace-*.rq` beside this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import pyoxigraph as ox
from jobtrail.store import Store
from jobtrail.store.errors import InputError, NotFound

UUID_RE = re.compile(
    r"^(urn:uuid:)?[0-9A-Za-z]{8}-[0-9A-Za-z]{4}-[0-9A-Za-z]{4}-[0-9A-Za-z]{4}-[0-9A-Za-z]{12}$"
)
_PREFIXED = re.compile(r"^[A-Z][A-Z0-9]*-(?=[A-Z])")  # TRE-TDR-2021-GW3: TRE's name before TDR's
MAX_ROUNDS = 50
MAX_HOPS = 5000


@cache
def _sparql(name: str) -> str:
    path = resources.files("jobtrail.queries") / "internal" / f"trace-{name}.rq"
    return path.read_text("utf-8")


@dataclass
class Hop:
    iri: str
    time: str | None = None
    kind: str | None = None  # TRE2022Message, TRE2023Message, JSONLDMessage …
    agent: str | None = None
    producer: str | None = None
    process: str | None = None
    environment: str | None = None
    type: str | None = None
    added: str | None = None
    uuids: list[tuple[int, str, str | None]] = field(default_factory=list)  # position, uuid, label
    references: list[tuple[str, str | None]] = field(default_factory=list)  # reference, owner
    retries: int | None = None
    errors: list[str] = field(default_factory=list)
    versions: list[tuple[str, str]] = field(default_factory=list)
    validations: list[tuple[str, str | None]] = field(default_factory=list)  # method, location
    execution_id: str | None = None
    parent_execution_id: str | None = None
    sha256: str | None = None
    informed_by: list[str] = field(default_factory=list)

    @property
    def carried(self) -> set[str]:
        return {u for _, u, _ in self.uuids}

    def as_json(self) -> dict[str, object]:
        return {
            "message": self.iri,
            "time": self.time,
            "kind": self.kind,
            "producer": {
                "iri": self.agent,
                "name": self.producer,
                "process": self.process,
                "environment": self.environment,
                "type": self.type,
            },
            "addedUUID": self.added,
            "uuids": [{"position": p, "uuid": u, "label": lb} for p, u, lb in self.uuids],
            "references": [{"reference": r, "owner": o} for r, o in self.references],
            "retries": self.retries,
            "errors": self.errors,
            "softwareVersions": [{"name": n, "version": v} for n, v in self.versions],
            "fixity": [{"method": m, "location": loc} for m, loc in self.validations],
            "executionId": self.execution_id,
            "parentExecutionId": self.parent_execution_id,
            "sha256": self.sha256,
            "informedBy": self.informed_by,
        }


@dataclass
class Trace:
    key: str
    hops: list[Hop]
    uuids: set[str]
    references: set[str]  # references and execution ids

    def as_json(self) -> dict[str, object]:
        return {
            "key": self.key,
            "hops": [h.as_json() for h in self.hops],
            "uuids": sorted(self.uuids),
            "references": sorted(self.references),
        }


def _values(name: str, terms: set[ox.NamedNode] | set[ox.Literal]) -> str:
    return f"VALUES ?{name} {{ {' '.join(str(t) for t in terms)} }}" if terms else ""


def trace(store: Store, key: str) -> Trace:
    """The chain `key` (a UUID, `urn:uuid:…`, or a reference) belongs to; NotFound if none."""
    key = key.strip()
    if not key:
        raise InputError("trace what? give a UUID or a reference", hint="e.g. TDR-2021-GW3")
    uuids: set[str] = set()
    references: set[str] = set()
    if UUID_RE.match(key):
        uuids.add(key if key.startswith("urn:uuid:") else f"urn:uuid:{key.lower()}")
    references.add(key)
    messages: set[str] = set()
    new_uuids, new_refs = set(uuids), set(references)
    for _ in range(MAX_ROUNDS):
        found = _round(store, new_uuids, new_refs) - messages
        if not found:
            break
        messages |= found
        if len(messages) > MAX_HOPS:
            raise InputError(
                f"the chain of {key!r} has more than {MAX_HOPS:,} hops",
                hint="trace a UUID further down the chain, or query with SPARQL",
            )
        keys_u, keys_r = _keys(store, found)
        new_uuids, new_refs = keys_u - uuids, keys_r - references
        uuids |= keys_u
        references |= keys_r
    if not messages:
        raise NotFound(
            f"no message carries the UUID or states the reference {key!r}",
            hint="try a UUID from a message's UUIDs list, or a reference such as TDR-2021-GW3",
        )
    hops = _details(store, messages)
    _link(hops)
    hops.sort(key=lambda h: (h.time or "", len(h.uuids), h.iri))
    return Trace(key, hops, uuids, references)


def _round(store: Store, uuids: set[str], references: set[str]) -> set[str]:
    variants = references | {_PREFIXED.sub("", r) for r in references}
    branches = []
    if uuids:
        branches.append(
            f"{{ {_values('u', {ox.NamedNode(u) for u in uuids})} ?m jt:carriesUUID ?u }}"
        )
    if variants:
        values = _values("r", {ox.Literal(r) for r in variants})
        branches.append(f"{{ {values} ?p jt:reference ?r . ?m jt:parameterSet ?p }}")
        # the 2023 structure: a chain is also executionId ← parentExecutionId, any string
        branches.append(f"{{ {values} ?m jt:executionId ?r }}")
        branches.append(f"{{ {values} ?m jt:parentExecutionId ?r }}")
    if not branches:
        return set()
    query = _sparql("messages").replace("#BRANCHES", " UNION ".join(branches))
    return {row["m"].value for row in store.query(query)}  # type: ignore[union-attr]


def _keys(store: Store, messages: set[str]) -> tuple[set[str], set[str]]:
    query = _sparql("keys").replace("#VALUES", _values("m", {ox.NamedNode(m) for m in messages}))
    uuids, references = set(), set()
    for row in store.query(query):  # type: ignore[union-attr]
        if row["u"] is not None:
            uuids.add(row["u"].value)
        if row["r"] is not None:
            references.add(row["r"].value)
    return uuids, references


def _details(store: Store, messages: set[str]) -> list[Hop]:
    hops = {m: Hop(m) for m in messages}
    query = _sparql("hops").replace("#VALUES", _values("m", {ox.NamedNode(m) for m in messages}))
    for row in store.query(query):  # type: ignore[union-attr]
        hop = hops[row["m"].value]
        what = row["k"].value
        a = row["a"].value if row["a"] is not None else None
        b = row["b"].value if row["b"] is not None else None
        c = row["c"].value if row["c"] is not None else None
        if a is None:
            continue
        if what == "uuid":
            assert b is not None
            hop.uuids.append((int(a), b, c))
        elif what == "reference":
            hop.references.append((a, b))
        elif what == "error":
            hop.errors.append(a)
        elif what == "version":
            hop.versions.append((a, b or ""))
        elif what == "validation":
            hop.validations.append((a, b))
        elif what == "retries":
            hop.retries = max(hop.retries or 0, int(a)) if a.isdigit() else hop.retries
        elif what == "producer":
            hop.agent, hop.producer, hop.process, hop.environment = a, b, c, None
        elif what == "environment":
            hop.environment = a
        elif what == "kind":
            if a.endswith(
                (
                    "TRE2022Message",
                    "TRE2023Message",
                    "JSONLDMessage",
                    "HTTPMessage",
                    "RDFMessage",
                    "JobChange",
                )
            ):
                hop.kind = a.rsplit("#", 1)[-1]
        else:
            setattr(hop, what, a)
    for hop in hops.values():
        hop.uuids.sort()
        hop.errors.sort()
        hop.versions.sort()
        hop.references.sort(key=lambda r: (r[0], r[1] or ""))
        hop.validations.sort(key=lambda v: (v[0], v[1] or ""))
    return list(hops.values())


def _link(hops: list[Hop]) -> None:
    """Each hop is informed by the hop(s) that added the nearest UUID before its own.

    TRE lists a package's UUIDs oldest first, so the nearest is the highest
    position below the hop's own; a 2023 message names its parent directly.
    A hop whose direct parent is not stored is linked to the nearest one that is.
    """
    adders: dict[str, list[str]] = {}
    for h in hops:
        if h.added:
            adders.setdefault(h.added, []).append(h.iri)
    for hop in hops:
        if hop.parent_execution_id:
            parents = [h.iri for h in hops if h.execution_id == hop.parent_execution_id]
            if parents:
                hop.informed_by = sorted(parents)
                continue
        for u in [u for _, u, _ in sorted(hop.uuids, reverse=True)]:
            found = [m for m in adders.get(u, []) if m != hop.iri]
            if u != hop.added and found:
                hop.informed_by = sorted(found)
                break
