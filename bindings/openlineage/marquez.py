"""What Marquez's read API answers, computed from the stored OpenLineage events.

Marquez keeps a current state (namespaces, jobs, runs, datasets) that each event updates; here
the events are the record and the state is folded from them on each request, from three
queries (`events.rq`, `datasets.rq`, `facets.rq`) over what the reader may see. The JSON
shapes are Marquez's (its `spec/openapi.yml`: `NamespaceList`, `JobList`, `RunList`,
`DatasetList`, `LineageGraph`); fields jobtrail does not know (job versions, dataset fields,
tags, sources) are empty or null, as Marquez gives them for a job or dataset without them.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

from jobtrail.store import Store

_STATES = {
    "START": "RUNNING",
    "RUNNING": "RUNNING",
    "OTHER": "RUNNING",
    "COMPLETE": "COMPLETED",
    "FAIL": "FAILED",
    "ABORT": "ABORTED",
}
"""An OpenLineage event type → the Marquez run state it leaves the run in (OTHER: no change,
so only when it is the only event)."""
_ENDS = frozenset({"COMPLETE", "FAIL", "ABORT"})


@cache
def _sparql(name: str) -> str:
    return (resources.files("jobtrail.bindings.openlineage") / f"{name}.rq").read_text("utf-8")


@dataclass
class Run:
    id: str
    job: tuple[str, str]
    events: list[tuple[str, str, str]] = field(default_factory=list)  # time, type, message
    parent: str | None = None
    facets: dict[str, Any] = field(default_factory=dict)
    inputs: set[tuple[str, str]] = field(default_factory=set)
    outputs: set[tuple[str, str]] = field(default_factory=set)

    def as_json(self) -> dict[str, Any]:
        events = sorted(self.events, key=lambda e: _instant(e[0]))
        typed = [e for e in events if e[1] != "OTHER"] or events
        started = next((t for t, kind, _ in events if kind == "START"), None)
        ended = next((t for t, kind, _ in reversed(events) if kind in _ENDS), None)
        duration = None
        if started and ended:
            duration = int((_instant(ended) - _instant(started)).total_seconds() * 1000)
        return {
            "id": self.id,
            "createdAt": events[0][0],
            "updatedAt": events[-1][0],
            "nominalStartTime": _nominal(self.facets, "nominalStartTime"),
            "nominalEndTime": _nominal(self.facets, "nominalEndTime"),
            "state": _STATES.get(typed[-1][1], "NEW"),
            "startedAt": started,
            "endedAt": ended,
            "durationMs": duration,
            "args": {},
            "jobVersion": {"namespace": self.job[0], "name": self.job[1], "version": None},
            # Marquez's dataset versions are ids it mints as runs write; OpenLineage events
            # name none (the version facet is optional): none are made up here
            "inputDatasetVersions": [],
            "outputDatasetVersions": [],
            "context": {},
            "facets": self.facets,
        }


@dataclass
class Lineage:
    """The state folded from the events a reader may see."""

    runs: dict[str, Run] = field(default_factory=dict)
    jobs: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # → its events' times
    datasets: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    job_io: dict[tuple[str, str], tuple[set[tuple[str, str]], set[tuple[str, str]]]] = field(
        default_factory=dict
    )

    def namespaces(self) -> dict[str, Any]:
        times: dict[str, list[str]] = {}
        for (ns, _), seen in [*self.jobs.items(), *self.datasets.items()]:
            times.setdefault(ns, []).extend(seen)
        return {
            "namespaces": [
                {
                    "name": ns,
                    "createdAt": _first(seen),
                    "updatedAt": _last(seen),
                    "ownerName": "anonymous",
                    "description": None,
                    "isHidden": False,
                }
                for ns, seen in sorted(times.items())
            ]
        }

    def job(self, key: tuple[str, str]) -> dict[str, Any]:
        inputs, outputs = self.job_io.get(key, (set(), set()))
        runs = self.runs_of(key)
        parent = next((r.parent for r in runs if r.parent), None)
        parent_job = self.runs[parent].job if parent in self.runs else None
        return {
            "id": _id(key),
            "type": "BATCH",
            "name": key[1],
            "simpleName": key[1].rsplit(".", 1)[-1],
            "parentJobName": parent_job[1] if parent_job else None,
            "parentJobUuid": None,
            "createdAt": _first(self.jobs[key]),
            "updatedAt": _last(self.jobs[key]),
            "namespace": key[0],
            "inputs": [_id(d) for d in sorted(inputs)],
            "outputs": [_id(d) for d in sorted(outputs)],
            "location": None,
            "description": None,
            "latestRun": runs[0].as_json() if runs else None,
            "facets": {},
            "currentVersion": None,
            "labels": [],
            "tags": [],
        }

    def runs_of(self, key: tuple[str, str]) -> list[Run]:
        """The job's runs, the newest first (by their first event), as Marquez lists them."""
        found = [r for r in self.runs.values() if r.job == key]
        return sorted(found, key=lambda r: min(_instant(e[0]) for e in r.events), reverse=True)

    def dataset(self, key: tuple[str, str]) -> dict[str, Any]:
        return {
            "id": _id(key),
            "type": "DB_TABLE",
            "name": key[1],
            "physicalName": key[1],
            "createdAt": _first(self.datasets[key]),
            "updatedAt": _last(self.datasets[key]),
            "namespace": key[0],
            "sourceName": key[0],
            "fields": [],
            "tags": [],
            "lastModifiedAt": self._modified(key),
            "lastLifecycleState": None,
            "description": None,
            "currentVersion": None,
            "facets": {},
            "deleted": False,
        }

    def _modified(self, key: tuple[str, str]) -> str | None:
        ends = [
            t
            for r in self.runs.values()
            if key in r.outputs
            for t, kind, _ in r.events
            if kind == "COMPLETE"
        ]
        return _last(ends) if ends else None

    def graph(self, node: tuple[str, str, str], depth: int) -> dict[str, Any]:
        """Marquez's lineage graph around `node` (JOB or DATASET, namespace, name): every job
        and dataset within `depth` hops, each with its in and out edges."""
        seen = {node}
        queue = deque([(node, 0)])
        while queue:
            current, d = queue.popleft()
            if d >= depth:
                continue
            for other in self._neighbours(current):
                if other not in seen:
                    seen.add(other)
                    queue.append((other, d + 1))
        out = []
        for kind, ns, name in sorted(seen):
            key = (ns, name)
            edges_in, edges_out = self._edges((kind, ns, name))
            out.append(
                {
                    "id": _node_id(kind, key),
                    "type": kind,
                    "data": self.job(key) if kind == "JOB" else self.dataset(key),
                    "inEdges": edges_in,
                    "outEdges": edges_out,
                }
            )
        return {"graph": out}

    def _neighbours(self, node: tuple[str, str, str]) -> list[tuple[str, str, str]]:
        kind, ns, name = node
        if kind == "JOB":
            inputs, outputs = self.job_io.get((ns, name), (set(), set()))
            return [("DATASET", *d) for d in sorted(inputs | outputs)]
        return [
            ("JOB", *job)
            for job, (inputs, outputs) in sorted(self.job_io.items())
            if (ns, name) in inputs | outputs
        ]

    def _edges(self, node: tuple[str, str, str]) -> tuple[list[Any], list[Any]]:
        kind, ns, name = node
        here = _node_id(kind, (ns, name))
        edges_in: list[dict[str, str]] = []
        edges_out: list[dict[str, str]] = []
        for job, (inputs, outputs) in sorted(self.job_io.items()):
            j = _node_id("JOB", job)
            for d in sorted(inputs):
                edge = {"origin": _node_id("DATASET", d), "destination": j}
                if here == j:
                    edges_in.append(edge)
                elif here == edge["origin"]:
                    edges_out.append(edge)
            for d in sorted(outputs):
                edge = {"origin": j, "destination": _node_id("DATASET", d)}
                if here == j:
                    edges_out.append(edge)
                elif here == edge["destination"]:
                    edges_in.append(edge)
        return edges_in, edges_out

    def node(self, node_id: str) -> tuple[str, str, str] | None:
        """A Marquez node id (`job:{namespace}:{name}`, `dataset:{namespace}:{name}`) as a node
        known here: a namespace may hold `:` (`postgres://db:5432`), so each split is tried."""
        kind, _, rest = node_id.partition(":")
        known = {"job": ("JOB", self.jobs), "dataset": ("DATASET", self.datasets)}.get(kind)
        if known is None:
            return None
        label, keys = known
        for i, c in enumerate(rest):
            if c == ":" and (rest[:i], rest[i + 1 :]) in keys:
                return (label, rest[:i], rest[i + 1 :])
        return None


def load(store: Store, hide: str) -> Lineage:
    """The state folded from every event the reader may see (`hide`: `Policy.sparql_filter`)."""
    lineage = Lineage()
    by_message: dict[str, Run] = {}
    job_of: dict[str, tuple[str, str]] = {}
    times: dict[str, str] = {}
    for row in store.query(_sparql("events").replace("#HIDE", hide)):  # type: ignore[union-attr]
        m, time = row["m"].value, row["time"].value
        times[m] = time
        if row["jobNs"] is not None:
            job = (row["jobNs"].value, row["jobName"].value)
            job_of[m] = job
            lineage.jobs.setdefault(job, []).append(time)
            lineage.job_io.setdefault(job, (set(), set()))
            if row["runId"] is not None:
                run_id = row["runId"].value
                run = lineage.runs.setdefault(run_id, Run(run_id, job))
                event = (time, row["type"].value if row["type"] else "OTHER", m)
                if event not in run.events:
                    run.events.append(event)
                if row["parent"] is not None:
                    run.parent = row["parent"].value.rsplit("/", 1)[-1]
                by_message[m] = run
    for row in store.query(_sparql("datasets").replace("#HIDE", hide)):  # type: ignore[union-attr]
        m, how = row["m"].value, row["how"].value
        key = (row["ns"].value, row["name"].value)
        lineage.datasets.setdefault(key, []).append(times.get(m, ""))
        if m in job_of and how in ("inputs", "outputs"):
            inputs, outputs = lineage.job_io[job_of[m]]
            (inputs if how == "inputs" else outputs).add(key)
        if m in by_message and how in ("inputs", "outputs"):
            run = by_message[m]
            (run.inputs if how == "inputs" else run.outputs).add(key)
    latest: dict[tuple[str, str], str] = {}
    for row in store.query(_sparql("facets").replace("#HIDE", hide)):  # type: ignore[union-attr]
        m = row["m"].value
        if m not in by_message:
            continue
        run, key = by_message[m], row["key"].value
        # a facet as the run's latest event that carries it says it
        if _instant(times[m]) >= _instant(latest.get((run.id, key))):
            latest[(run.id, key)] = times[m]
            run.facets[key] = json.loads(row["value"].value)
    return lineage


def _id(key: tuple[str, str]) -> dict[str, str]:
    return {"namespace": key[0], "name": key[1]}


def _node_id(kind: str, key: tuple[str, str]) -> str:
    return f"{kind.lower()}:{key[0]}:{key[1]}"


def _nominal(facets: dict[str, Any], name: str) -> str | None:
    nominal = facets.get("nominalTime")
    value = nominal.get(name) if isinstance(nominal, dict) else None
    return value if isinstance(value, str) else None


_NEVER = datetime.fromisoformat("0001-01-01T00:00:00+00:00")


def _instant(time: str | None) -> datetime:
    if not time:
        return _NEVER
    try:
        when = datetime.fromisoformat(time)
    except ValueError:
        return _NEVER
    return when if when.tzinfo is not None else when.replace(tzinfo=_NEVER.tzinfo)


def _first(times: list[str]) -> str | None:
    return min(times, key=_instant) if times else None


def _last(times: list[str]) -> str | None:
    return max(times, key=_instant) if times else None
