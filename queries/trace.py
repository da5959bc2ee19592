"""Tracing: the whole chain a UUID or a reference belongs to, hop by hop, across producers.

A chain is what the messages themselves connect: a hop carries the UUIDs of
the hops before it (TRE's ordered UUID list; the 2023 structure's
`parentExecutionId`, read as a carried UUID, and `executionId`, read as the
one it added), and names its package by a reference. Starting from the key,
`trace` repeatedly asks the store for the messages that carry any UUID or
state any reference found so far, until no new message turns up: the
connected component of the key, and nothing else — a hop of another chain
shares neither. Each round is one indexed lookup (`jt:carriesUUID`,
`jt:reference` bound by VALUES) and one scan of each new message's own
graph, which gives both its keys for the next round and what the trace
shows of it; so the cost follows the chain's size, not the store's.

Links are computed, not stored: hop B `prov:wasInformedBy` hop A when B
carries the UUID that A added; a hop about a job (`jt:about`: its change
records, its HTTP exchanges) that no UUID links is informed by the hop about
the same job just before it. A hop's run starts when the latest hop it was
informed by was made (or, with none, at its own time) and ends at its own.
Messages are immutable, so a link written when B arrived could not be written
into A's graph anyway; computing them at trace time makes the order of
arrival irrelevant.

The SPARQL is in `internal/trace-*.rq` beside this module.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

import pyoxigraph as ox
from jobtrail.base import nt
from jobtrail.base.errors import InputError, NotFound
from jobtrail.ingest import traceindex
from jobtrail.store import Store

UUID_RE = re.compile(
    r"^(urn:uuid:)?[0-9A-Za-z]{8}-[0-9A-Za-z]{4}-[0-9A-Za-z]{4}-[0-9A-Za-z]{4}-[0-9A-Za-z]{12}$"
)
_IRI_SAFE = re.compile(r'^[^\s<>"{}|\\^`]+$')
_PREFIXED = re.compile(r"^[A-Z][A-Z0-9]*-(?=[A-Z])")  # TRE-TDR-2021-GW3: TRE's name before TDR's
MAX_ROUNDS = 50
MAX_HOPS = 5000
MAX_KEY = 1000
"""The longest key traced, in characters: a UUID, a reference or a message's IRI is far shorter."""


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
    about: list[str] = field(default_factory=list)  # the jobs it is a hop of (`jt:about`)
    changed_by: str | None = None  # a job change: who made it (`jt:changedBy`)
    change: str | None = None  # a job change: created, phase, updated … (`jt:changeKind`)
    started: str | None = None  # when the run that made it began (see `_link`)

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
            "started": self.started,
            "about": self.about,
            "changedBy": self.changed_by,
            "change": self.change,
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


def trace(store: Store, key: str, *, keep: Callable[[Hop], bool] | None = None) -> Trace:
    """The chain `key` (a UUID, `urn:uuid:…`, or a reference) belongs to; NotFound if none.

    `keep`: which hops the reader may see (the visibility policy); a hop it refuses is
    left out and the chain is not followed through it, so what it carries shows nowhere.
    """
    key = checked_key(key)
    uuids: set[str] = set()
    probe: set[str] = set()  # looked up, but a key of the chain only if a hop carries it
    references: set[str] = set()
    if UUID_RE.match(key):
        uuids.add(key if key.startswith("urn:uuid:") else f"urn:uuid:{key.lower()}")
    elif _IRI_SAFE.match(key):
        # a hop's "UUID" that is not one is still stored as `urn:uuid:{it, lowercased}`
        # (the shapes and TNA's schema warn): it stays a key of its chain
        as_uuid = f"urn:uuid:{key.removeprefix('urn:uuid:').lower()}"
        if nt.checked_iri(as_uuid) is not None:  # not `%`, a control character …
            probe.add(as_uuid)
    references.add(key)
    hops: dict[str, Hop] = {}
    left_out: set[str] = set()
    new_uuids, new_refs = uuids | probe, set(references)
    indexed = traceindex.complete(store)
    for _ in range(MAX_ROUNDS):
        if indexed:
            entries = _indexed_round(store, new_uuids, new_refs)
            found = entries.keys() - hops.keys() - left_out
        else:
            found = _round(store, new_uuids, new_refs) - hops.keys() - left_out
        if not found:
            break
        if len(hops) + len(found) > MAX_HOPS:
            raise InputError(
                f"the chain of {key!r} has more than {MAX_HOPS:,} hops",
                hint="trace a UUID further down the chain, or query with SPARQL",
            )
        fetched = {m: entries[m] for m in found} if indexed else _fetch(store, found)
        if keep is not None:
            left_out |= {m for m, h in fetched.items() if not keep(h)}
            fetched = {m: h for m, h in fetched.items() if m not in left_out}
        hops.update(fetched)
        keys_u = {u for h in fetched.values() for u in h.carried}
        keys_r = {r for h in fetched.values() for r, _ in h.references}
        for h in fetched.values():
            keys_r |= {e for e in (h.execution_id, h.parent_execution_id) if e}
        new_uuids, new_refs = keys_u - uuids, keys_r - references
        uuids |= keys_u
        references |= keys_r
    if not hops:
        raise NotFound(
            f"no message carries the UUID or states the reference {key!r}",
            hint="try a UUID from a message's UUIDs list, or a reference such as TDR-2021-GW3",
        )
    _producers(store, list(hops.values()))
    ordered = sorted(hops.values(), key=lambda h: (_instant(h.time), len(h.uuids), h.iri))
    _link(ordered)
    return Trace(key, ordered, uuids, references)


def checked_key(key: str) -> str:
    """The key without surrounding space; InputError (400) for none, or one too long to be one."""
    key = key.strip()
    if not key:
        raise InputError("trace what? give a UUID or a reference", hint="e.g. TDR-2021-GW3")
    if len(key) > MAX_KEY:
        raise InputError(
            f"a key to trace is at most {MAX_KEY:,} characters; this one has {len(key):,}",
            hint="give a UUID, a reference such as TDR-2021-GW3, or a message's IRI",
        )
    return key


@dataclass
class Recent:
    """A key a trace can start from, and when the newest message stating it was stored."""

    key: str
    stored: str | None


RECENT_MESSAGES = 400
"""How many of the newest messages `recent` reads its keys from (a bounded read, whatever
the store's size: ~0.1 s on 20,000 messages)."""


def recent(store: Store, hide: str = "", limit: int = 10) -> list[Recent]:
    """The keys the newest stored messages state (a reference, else an execution id, else the
    UUID the message added), newest first, one each; `hide`: the reader's filter on `?m`
    (`Policy.sparql_filter`)."""
    query = _sparql("recent").replace("#HIDE", hide).replace("#LIMIT", str(RECENT_MESSAGES))
    messages: dict[str, tuple[str, dict[str, set[str]]]] = {}
    for row in store.query(query):  # type: ignore[union-attr]
        _, found = messages.setdefault(row["m"].value, (row["stored"].value, {}))
        for name in ("ref", "execution", "added"):
            if (term := row[name]) is not None:
                found.setdefault(name, set()).add(term.value)
    keys: dict[str, Recent] = {}
    for stored, found in sorted(messages.values(), key=lambda v: _instant(v[0]), reverse=True):
        for name in ("ref", "execution", "added"):
            for key in sorted(found.get(name, ())):
                keys.setdefault(key, Recent(key, stored))
            if name in found:
                break
    return list(keys.values())[:limit]


def close_keys(store: Store, key: str, hide: str = "", n: int = 5) -> list[str]:
    """References and execution ids like `key` (a trace that found nothing): those starting
    with its first half, the closest first; none for a UUID (no UUID is close to another)."""
    key = key.strip()
    if UUID_RE.match(key) or len(key) < 3:
        return []
    prefix = ox.Literal(key[: max(3, len(key) // 2)].lower())
    query = _sparql("close").replace("#PREFIX", str(prefix)).replace("#HIDE", hide)
    found = {row["r"].value for row in store.query(query)}  # type: ignore[union-attr]
    return difflib.get_close_matches(key, sorted(found), n=n, cutoff=0.5)


def message_keys(store: Store, iri: str) -> Hop | None:
    """A stored message as a hop (its UUIDs, references, execution ids, what it is about),
    to trace from; None if `iri` names no message."""
    term = nt.checked_iri(iri) if _IRI_SAFE.match(iri) else None
    if term is None or not bool(
        store.query(f"ASK {{ GRAPH {term} {{ {term} a <{_JT}Message> }} }}")
    ):
        return None
    return _fetch(store, {iri})[iri]


def _instant(time: str | None) -> datetime:
    """A hop's time for ordering: the text's fraction digits vary, so compare instants."""
    try:
        when = datetime.fromisoformat(time) if time else _NEVER
    except ValueError:
        return _NEVER
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


_NEVER = datetime.min.replace(tzinfo=UTC)


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


def _indexed_round(store: Store, uuids: set[str], references: set[str]) -> dict[str, Hop]:
    """`_round` and `_fetch` at once: the messages found by the keys, as `_round` finds
    them, each read from its trace index entry (`ingest/traceindex.py`: one point read)
    rather than its graph."""
    variants = references | {_PREFIXED.sub("", r) for r in references}
    branches = []
    if uuids:
        values = _values("u", {ox.NamedNode(u) for u in uuids})
        branches.append(f"{{ {values} ?m jt:carriesUUID ?u ; trace:hop ?h }}")
    if variants:
        values = _values("r", {ox.Literal(r) for r in variants})
        branches.append(f"{{ {values} ?m trace:reference ?r ; trace:hop ?h }}")
        branches.append(f"{{ {values} ?m jt:executionId ?r ; trace:hop ?h }}")
        branches.append(f"{{ {values} ?m jt:parentExecutionId ?r ; trace:hop ?h }}")
    if not branches:
        return {}
    query = _sparql("indexed").replace("#BRANCHES", " UNION ".join(branches))
    found: dict[str, Hop] = {}
    for row in store.query(query):  # type: ignore[union-attr]
        m = row["m"].value
        if m not in found:
            found[m] = _hop(m, json.loads(row["h"].value))
    return found


_JT = "https://w3id.org/jobtrail/vocab#"


def _fetch(store: Store, messages: set[str]) -> dict[str, Hop]:
    """Each message's graph in one scan per message, read into a Hop.

    One `GRAPH ?m { ?s ?p ?o }` per message is a single prefix scan of the
    graph index, where asking for each fact separately was one lookup per
    fact and message; the original text is left out (it is the bulk).
    """
    query = _sparql("graphs").replace("#VALUES", _values("m", {ox.NamedNode(m) for m in messages}))
    facts: dict[str, dict[str, dict[str, list[str]]]] = {m: {} for m in messages}
    for row in store.query(query):  # type: ignore[union-attr]
        by_subject = facts[row["m"].value].setdefault(row["s"].value, {})
        by_subject.setdefault(row["p"].value, []).append(row["o"].value)
    return {m: _hop(m, traceindex.facts(m, graph)) for m, graph in facts.items()}


def _hop(iri: str, found: dict[str, Any]) -> Hop:
    """A hop from what the message says (`traceindex.facts`: from its graph or its entry)."""
    hop = Hop(iri)
    for name, value in found.items():
        if name == "uuids":
            value = [(int(p), u, label) for p, u, label in value]
        elif name in ("references", "versions", "validations"):
            value = [tuple(v) for v in value]
        setattr(hop, name, value)
    return hop


def _producers(store: Store, hops: list[Hop]) -> None:
    agents = {h.agent for h in hops if h.agent}
    if not agents:
        return
    query = _sparql("producers").replace("#VALUES", _values("a", {ox.NamedNode(a) for a in agents}))
    described: dict[str, tuple[str, str | None, str | None]] = {}
    for row in store.query(query):  # type: ignore[union-attr]
        process, environment = row["process"], row["environment"]
        described[row["a"].value] = (
            row["name"].value,
            process.value if process is not None else None,
            environment.value if environment is not None else None,
        )
    for hop in hops:
        if hop.agent in described:
            hop.producer, hop.process, hop.environment = described[hop.agent]
        elif hop.agent:
            hop.agent = None  # attributed to something that is not a described producer


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
    last_about: dict[str, str] = {}  # a job → its latest hop so far
    by_iri = {h.iri: h for h in hops}
    for hop in hops:  # in time order
        if not hop.informed_by:
            before = {last_about[j] for j in hop.about if j in last_about}
            hop.informed_by = sorted(before)
        for j in hop.about:
            last_about[j] = hop.iri
        times = [by_iri[e].time for e in hop.informed_by if by_iri[e].time]
        earlier = [t for t in times if t and _instant(t) <= _instant(hop.time)]
        hop.started = max(earlier, key=_instant) if earlier and hop.time else hop.time
