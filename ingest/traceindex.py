"""The trace index: what a trace shows of a message, kept beside it in a graph of its own.

A trace (`queries/trace.py`) walks a chain round by round: the messages carrying a UUID or
stating a reference found so far, then what each shows. Read from the messages' own graphs
that is a scan of ~60 quads per message, every term looked up by value; in a large
bulk-loaded store every lookup costs more (more files to look in). The index makes each
message one point read: for each message a trace can reach (one that carries a UUID,
states a reference or has an execution id), the graph `<{message}#trace>` holds

    <message> <urn:jobtrail:trace#hop> "{…}"          what a trace shows of it, as JSON (`facts`)
    <message> <urn:jobtrail:trace#reference> "…"      each reference its parameter sets state

(terms of the store's own, like the store's base URL: not the ontology's). A round finds the
messages by the keys on their own node (`jt:carriesUUID`, `jt:executionId`,
`jt:parentExecutionId`, and the references copied here: reached through the parameter set,
the engine's join read far more than the few keys) and reads each one's `hop` in the same
query.
Every writer of a message writes its entry in the same transaction (`with_entries`: the
loader, `jobs/hops.py`, the job core's change records); a load from a dump drops the
dump's entries and computes them again from the graphs it restores.

It is not a second source of truth: an entry is computed from the message's graph alone
(`entry`), and `stale` (run by `jobtrail verify`) computes every message's again from what
the store holds and names each entry that differs, is missing, or has no message.
`jobtrail reindex` writes them all again.

A store written by an earlier release has no entries. The graph `<urn:jobtrail:trace>`
says the index is complete (`complete`): written by the first load or server into a store
with no sealed record (`settle`, `mark`) and by `jobtrail reindex`; without it a trace
reads the messages' own graphs as before.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import pyoxigraph as ox
from jobtrail.base import nt
from jobtrail.ingest.seal import _NORMALISE, POSITION
from jobtrail.store import ResourceGraph, Store

GRAPH = "urn:jobtrail:trace"
"""The index's own graph: the marker saying every message has its entry."""
SUFFIX = "#trace"
_T = f"{GRAPH}#"
HOP, REFERENCE, COMPLETE = f"{_T}hop", f"{_T}reference", f"{_T}complete"
VERSION = "1"
"""The entries' format; a store whose marker names another is indexed again (`reindex`)."""

_JT = "https://w3id.org/jobtrail/vocab#"
_PROV = "http://www.w3.org/ns/prov#"
_RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
_KINDS = (
    "TRE2022Message",
    "TRE2023Message",
    "JSONLDMessage",
    "HTTPMessage",
    "RDFMessage",
    "JobChange",
    "OpenLineageRunEvent",
    "OpenLineageDatasetEvent",
    "OpenLineageJobEvent",
)
_SCALARS = {
    f"{_PROV}generatedAtTime": "time",
    f"{_PROV}wasAttributedTo": "agent",
    f"{_JT}producerType": "type",
    f"{_JT}addedUUID": "added",
    f"{_JT}executionId": "execution_id",
    f"{_JT}parentExecutionId": "parent_execution_id",
    f"{_JT}sha256": "sha256",
    f"{_JT}changedBy": "changed_by",
    f"{_JT}changeKind": "change",
}
PREDICATES = frozenset(
    [
        *_SCALARS,
        *(
            f"{_JT}{p}"
            for p in [
                "uuidEntry",
                "position",
                "uuid",
                "uuidLabel",
                "parameterSet",
                "reference",
                "parameterOwner",
                "numberOfRetries",
                "error",
                "errorMessage",
                "softwareVersion",
                "softwareName",
                "version",
                "resourceValidation",
                "validationMethod",
                "location",
                "about",
                "carriesUUID",
            ]
        ),
    ]
)
"""The predicates a hop is made of (the type too, of the message's own node)."""

Graph = dict[str, dict[str, list[str]]]
"""A message's graph as subject → predicate → object values."""


def index_iri(message: str) -> str:
    return message + SUFFIX


def is_index(iri: str) -> bool:
    """A graph of the index (an entry, or the marker): never a message, never restored."""
    return iri == GRAPH or (iri.endswith(SUFFIX) and iri.startswith(("http://", "https://")))


def facts(iri: str, graph: Graph) -> dict[str, Any]:
    """What a trace shows of the message `iri`, from its graph: the fields of a trace's hop
    (`queries/trace.Hop`) the message itself says, each list sorted."""
    this = graph.get(iri, {})
    out: dict[str, Any] = {}

    def one(node: str, predicate: str) -> str | None:
        values = graph.get(node, {}).get(f"{_JT}{predicate}")
        return min(values) if values else None

    for predicate, attribute in _SCALARS.items():
        if values := this.get(predicate):
            out[attribute] = min(values)
    kinds = [t.rsplit("#", 1)[-1] for t in this.get(_RDF_TYPE, []) if t.endswith(_KINDS)]
    if kinds:
        out["kind"] = min(kinds)
    uuids: list[tuple[int, str, str | None]] = []
    for entry in this.get(f"{_JT}uuidEntry", []):
        position, uuid = one(entry, "position"), one(entry, "uuid")
        if position is not None and uuid is not None:
            uuids.append((int(position), uuid, one(entry, "uuidLabel")))
    references: list[tuple[str, str | None]] = []
    errors: list[str] = []
    versions: list[tuple[str, str]] = []
    validations: list[tuple[str, str | None]] = []
    retries: int | None = None
    for p in this.get(f"{_JT}parameterSet", []):
        params = graph.get(p, {})
        owner = one(p, "parameterOwner")
        references += [(r, owner) for r in params.get(f"{_JT}reference", [])]
        counted = [int(n) for n in params.get(f"{_JT}numberOfRetries", []) if n.isdigit()]
        if counted:
            retries = max([retries or 0, *counted])
        for e in params.get(f"{_JT}error", []):
            errors += graph.get(e, {}).get(f"{_JT}errorMessage", [])
        for v in params.get(f"{_JT}softwareVersion", []):
            if (name := one(v, "softwareName")) is not None:
                versions.append((name, one(v, "version") or ""))
        for v in params.get(f"{_JT}resourceValidation", []):
            validations.append((one(v, "validationMethod") or "unstated", one(v, "location")))
    if retries is not None:
        out["retries"] = retries
    lists: dict[str, list[Any]] = {
        "uuids": sorted(uuids, key=lambda u: (u[0], u[1], u[2] or "")),
        "references": sorted(references, key=lambda r: (r[0], r[1] or "")),
        "errors": sorted(errors),
        "versions": sorted(versions),
        "validations": sorted(validations, key=lambda v: (v[0], v[1] or "")),
        "about": sorted(this.get(f"{_JT}about", [])),
    }
    out.update({k: v for k, v in lists.items() if v})
    return out


def entry(graph: ResourceGraph) -> ResourceGraph | None:
    """The index entry of a message graph about to be written (N-Triples terms); None for
    a graph a trace cannot reach (no UUID, reference or execution id: a producer …)."""
    values: Graph = {}
    references: dict[str, list[str]] = {}  # parameter set → its references, as terms
    for s, p, o in graph.triples:
        predicate = p[1:-1]
        if predicate not in PREDICATES and not (predicate == _RDF_TYPE and s[1:-1] == graph.iri):
            continue
        subject = nt.parse_term(s)[1]
        values.setdefault(subject, {}).setdefault(predicate, []).append(_value(o))
        if predicate == _REFERENCE:
            references.setdefault(subject, []).append(o)
    return _entry(graph.iri, values, _stated(graph.iri, values, references))


def stored_entry(iri: str, triples: Iterable[ox.Triple]) -> ResourceGraph | None:
    """The index entry of a stored message graph (as `Store.read` returns it)."""
    values: Graph = {}
    references: dict[str, list[str]] = {}
    for t in triples:
        predicate, subject = t.predicate.value, str(t.subject)
        if isinstance(t.subject, ox.NamedNode | ox.BlankNode):
            subject = t.subject.value
        if predicate not in PREDICATES and not (predicate == _RDF_TYPE and subject == iri):
            continue
        values.setdefault(subject, {}).setdefault(predicate, []).append(_stored_value(t.object))
        if predicate == _REFERENCE:
            references.setdefault(subject, []).append(str(t.object))
    return _entry(iri, values, _stated(iri, values, references))


def _stored_value(term: object) -> str:
    """A stored term's value, typed values normalised as `_value` does: an engine that keeps
    a literal's lexical form (Virtuoso's `.438480`) gives what Oxigraph's (`.43848`) gives."""
    if isinstance(term, ox.Literal):
        normalise = _NORMALISE.get(term.datatype.value)
        if normalise is not None and term.language is None:
            return normalise(term.value)
        return term.value
    return str(getattr(term, "value", term))


def _stated(iri: str, graph: Graph, references: dict[str, list[str]]) -> list[str]:
    """The references (as terms) the message's parameter sets state, in order."""
    return [
        r for p in graph.get(iri, {}).get(f"{_JT}parameterSet", []) for r in references.get(p, [])
    ]


def _entry(iri: str, graph: Graph, references: list[str]) -> ResourceGraph | None:
    this = graph.get(iri, {})
    if not references and not any(this.get(f"{_JT}{p}") for p in _KEYS):
        return None
    hop = json.dumps(facts(iri, graph), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    s = nt.iri(iri)
    triples = [(s, f"<{REFERENCE}>", r) for r in dict.fromkeys(references)]
    return ResourceGraph(index_iri(iri), [*triples, (s, f"<{HOP}>", nt.lit(hop))])


_KEYS = ("carriesUUID", "executionId", "parentExecutionId")
_REFERENCE = f"{_JT}reference"


def _value(term: str) -> str:
    """An N-Triples term's value as the store gives it back (typed values normalised as
    Oxigraph stores them: `01` as `1`, `+00:00` as `Z`, as the seal's digest does)."""
    kind, value, extra = nt.parse_term(term)
    if kind == "literal" and extra is not None and not extra.startswith("@"):
        normalise = _NORMALISE.get(extra)
        if normalise is not None:
            return normalise(value)
    return value


def with_entries(graphs: Sequence[ResourceGraph]) -> list[ResourceGraph]:
    """`graphs` and the index entries of those a trace can reach: written together, in one
    transaction, by every writer of messages."""
    out = list(graphs)
    for graph in graphs:
        if (found := entry(graph)) is not None:
            out.append(found)
    return out


# --- the whole index ---------------------------------------------------------------------

_MARKER = f"ASK {{ GRAPH <{GRAPH}> {{ <{GRAPH}> <{COMPLETE}> {json.dumps(VERSION)} }} }}"
_SEALED = f"ASK {{ GRAPH ?m {{ ?m <{POSITION}> ?n }} }}"
_MESSAGES = "SELECT ?m WHERE { GRAPH ?m { ?m a <https://w3id.org/jobtrail/vocab#Message> } }"
_ENTRIES = f"SELECT DISTINCT ?g WHERE {{ GRAPH ?g {{ ?s <{HOP}> ?h }} }}"


def complete(store: Store) -> bool:
    """Whether every message of the store has its entry (the marker)."""
    return bool(store.query(_MARKER))


def mark(store: Store) -> None:
    """Say that every message of the store has its entry."""
    marker = f'<{GRAPH}> <{COMPLETE}> "{VERSION}"'
    store.update(f"DROP SILENT GRAPH <{GRAPH}> ;\nINSERT DATA {{ GRAPH <{GRAPH}> {{ {marker} }} }}")


def unmarked_and_empty(store: Store) -> bool:
    """Whether the store holds no sealed record and no marker: a load into it can mark it
    once it has stored something."""
    return not complete(store) and not bool(store.query(_SEALED))


def settle(store: Store) -> bool:
    """Mark a store that holds no sealed record yet as indexed (every writer writes the
    entries from now on); whether the store's index is complete."""
    if complete(store):
        return True
    if bool(store.query(_SEALED)):
        return False  # written by an earlier release: `jobtrail reindex`
    mark(store)
    return True


def messages(store: Store) -> list[str]:
    return sorted({row["m"].value for row in store.query(_MESSAGES)})  # type: ignore[union-attr]


def reindex(
    store: Store, progress: Callable[[int, int], None] | None = None, batch: int = 500
) -> int:
    """Write every message's entry again (and drop entries without a message), then mark
    the index complete; the number of entries written."""
    names = messages(store)
    orphans = _orphans(store, set(names))
    written = 0
    for start in range(0, len(names), batch):
        entries: list[ResourceGraph] = []
        drops: list[str] = []
        for iri in names[start : start + batch]:
            found = stored_entry(iri, store.read(iri))
            if found is None:
                drops.append(index_iri(iri))
            else:
                entries.append(found)
        store.apply(replace=entries, delete=[d for d in drops if store.exists(d)])
        written += len(entries)
        if progress is not None:
            progress(min(start + batch, len(names)), len(names))
    store.apply(delete=orphans)
    mark(store)
    return written


def _orphans(store: Store, names: set[str]) -> list[str]:
    found = {row["g"].value for row in store.query(_ENTRIES)}  # type: ignore[union-attr]
    return sorted(g for g in found if g.removesuffix(SUFFIX) not in names)


def stale(store: Store) -> Iterator[tuple[str, str]]:
    """Each message whose index entry is not the one its graph gives now (missing,
    different, or there when it should not be), and each entry without a message, with what
    is wrong: (message IRI, problem). Nothing when the store's index is not complete."""
    if not complete(store):
        return
    names = messages(store)
    for iri in names:
        expected = stored_entry(iri, store.read(iri))
        held = {_triple_key(t) for t in store.read(index_iri(iri))}
        if expected is None:
            if held:
                yield iri, "its trace index entry is there, but it carries no key a trace follows"
            continue
        wanted = {_term_key(t) for t in expected.triples}
        if not held:
            yield iri, "it has no trace index entry (`jobtrail reindex` writes it)"
        elif held != wanted:
            yield iri, "its trace index entry is not what its triples give (`jobtrail reindex`)"
    for g in _orphans(store, set(names)):
        yield g.removesuffix(SUFFIX), "a trace index entry names it, but there is no such message"


def _triple_key(t: ox.Triple) -> tuple[str, str, str]:
    return (str(t.subject), str(t.predicate), str(t.object))


def _term_key(t: tuple[str, str, str]) -> tuple[str, str, str]:
    """An N-Triples triple as the store gives it back (`str` of its terms)."""
    s, p, o = t
    kind, value, extra = nt.parse_term(o)
    if kind == "literal":
        literal = (
            ox.Literal(_value(o), language=extra[1:])
            if extra is not None and extra.startswith("@")
            else ox.Literal(_value(o), datatype=ox.NamedNode(extra or ""))
        )
        return (s, p, str(literal))
    if kind == "bnode":
        return (s, p, o)
    return (s, p, str(ox.NamedNode(value)))
