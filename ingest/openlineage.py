"""OpenLineage events (spec 2-0-x): `RunEvent`, `DatasetEvent` and `JobEvent` as messages.

An event is checked against the official JSON Schemas (`openlineage_schemas/`, vendored from
the OpenLineage repository with its Apache-2.0 licence; see its README): the event against
`OpenLineage.json`, each facet whose `_schemaURL` names a facet the spec publishes against
that facet's schema. Every `$ref` resolves in a local `referencing` registry: never a
network fetch. An event that fails is refused whole (`InputError`, 400) with the JSON path
and the schema's message; a facet no vendored schema names (a custom facet) is kept as it
came, as JSON.

The mapping (see the README's "OpenLineage"):

- the message: `prov:generatedAtTime` its `eventTime`, `jt:eventType` and `jt:eventStatus` (the
  OpenLineage status scheme of `vocab/status.ttl`), attributed to the producer
  `{base}producers/{job namespace}/{producer URI}` (so a producer credential names the
  job's namespace);
- the run, `{base}openlineage/runs/{runId}`: a `prov:Activity` started at a START event's
  time and ended at a COMPLETE, FAIL or ABORT event's, `prov:used` its inputs,
  `prov:generated` its outputs, `prov:wasInformedBy` its parent run;
- jobs and datasets, `{base}openlineage/jobs/{namespace}/{name}` and
  `{base}openlineage/datasets/{namespace}/{name}` (each part one segment by
  `base/segments.py`'s rule): resources of their own graphs, as producers are;
- what a trace and the auditor queries read: the run's UUID (and its parent's before it) as
  the message's UUID list, each dataset's IRI as a reference (inputs and outputs), the
  `errorMessage` facet as an error, the `processing_engine` facet and the producer URI as
  software versions; every facet kept as a parameter whose value is its JSON.
"""

from __future__ import annotations

import json
import re
from functools import cache, lru_cache
from importlib import resources
from typing import Any
from urllib.parse import quote

import jsonschema
from jobtrail.base import nt, redact
from jobtrail.base.errors import InputError, Location
from jobtrail.base.segments import segment
from jobtrail.base.terms import PROV, RDFS
from jobtrail.ingest import tre
from jobtrail.ingest.message import Incoming
from jobtrail.store import ResourceGraph, Triple
from jobtrail.vocab import status
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

KINDS = ("OpenLineageRunEvent", "OpenLineageDatasetEvent", "OpenLineageJobEvent")
SUPERCLASSES = {kind: ("OpenLineageEvent",) for kind in KINDS}
"""Classes a message is typed with besides its own (no inference runs)."""

_ENDS = frozenset({"COMPLETE", "FAIL", "ABORT"})
_FACET_URL = re.compile(r"/spec/facets/[0-9-]+/(\w+)\.json(?:#.*)?$")
_VERSION_IN_URI = re.compile(r"/(?:tree|blob|releases/tag)/v?(\d[\w.+-]*)/")
_SECRET_NAME = re.compile(r"(?i)pass|secret|token|key|credential|auth")


def is_openlineage(doc: object) -> bool:
    """Does this JSON look like an OpenLineage event (even a broken one)?"""
    if not isinstance(doc, dict) or "eventTime" not in doc:
        return False
    return bool({"run", "job", "dataset"} & doc.keys()) and bool(
        {"schemaURL", "eventType", "producer"} & doc.keys()
    )


def elements(doc: list[Any], source: str) -> list[Incoming]:
    """A JSON array of events as one message each: an element's bytes are its compact JSON
    (the array's own bytes hold them all, no element's alone), its source `{source}[i]`."""
    return [
        Incoming(
            json.dumps(e, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
            f"{source}[{i}]",
            "application/json",
        )
        for i, e in enumerate(doc)
    ]


def _folder() -> Any:
    return resources.files("jobtrail.ingest") / "openlineage_schemas"


@cache
def _schemas() -> tuple[dict[str, jsonschema.protocols.Validator], dict[str, str], Registry[Any]]:
    """The validators of each kind of event, the facets' `$id`s by facet name, the registry."""
    folder = _folder()
    main = json.loads((folder / "OpenLineage.json").read_text("utf-8"))
    facets = [
        json.loads(f.read_text("utf-8"))
        for f in sorted((folder / "facets").iterdir(), key=lambda f: f.name)
        if f.name.endswith(".json")
    ]
    registry: Registry[Any] = Registry().with_resources(
        (s["$id"], Resource.from_contents(s, default_specification=DRAFT202012))
        for s in [main, *facets]
    )
    by_name = {name: s["$id"] for s in facets for name in s.get("$defs", {})}
    # the event's own `$ref`s inlined: a reference looked up in the registry at each use cost
    # half the time of a check
    defs = main["$defs"]
    validators = {
        kind: _validator(_inline(defs[kind], defs), registry)
        for kind in ("RunEvent", "DatasetEvent", "JobEvent", *_PLACES)
    }
    return validators, by_name, registry


_PLACES = ("RunFacet", "JobFacet", "DatasetFacet", "InputDatasetFacet", "OutputDatasetFacet")


def _inline(schema: Any, defs: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    """`schema` with each `{"$ref": "#/$defs/X"}` replaced by X itself (the event schema has no
    cycle: one would be kept as its reference)."""
    if isinstance(schema, list):
        return [_inline(s, defs, seen) for s in schema]
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/") and ref[8:] not in seen:
        name = ref[8:]
        target = _inline(defs[name], defs, (*seen, name))
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        return {"allOf": [target, _inline(rest, defs, seen)]} if rest else target
    return {k: _inline(v, defs, seen) for k, v in schema.items()}


def _validator(schema: dict[str, Any], registry: Registry[Any]) -> jsonschema.protocols.Validator:
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER  # a runId must be a UUID …
    return jsonschema.Draft202012Validator(schema, registry=registry, format_checker=checker)


@cache
def _facet_validator(schema_id: str, name: str) -> jsonschema.protocols.Validator:
    return _validator({"$ref": f"{schema_id}#/$defs/{name}"}, _schemas()[2])


_FACET_KINDS = {"run": "RunFacet", "job": "JobFacet", "dataset": "DatasetFacet"}


def _split(doc: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str, Any]]]:
    """The event with each object of facets emptied, and each facet with its JSON path and
    the spec's kind of facet at that place (`RunFacet`, `InputDatasetFacet` …)."""
    found: list[tuple[str, str, Any]] = []

    def strip(part: dict[str, Any], key: str, path: str, kind: str) -> dict[str, Any]:
        facets = part.get(key)
        if not isinstance(facets, dict) or not facets:
            return part
        found.extend((f"{path}.{key}.{k}", kind, v) for k, v in facets.items())
        return {**part, key: {}}

    core = dict(doc)
    for key, kind in _FACET_KINDS.items():
        if isinstance(doc.get(key), dict):
            core[key] = strip(doc[key], "facets", f"$.{key}", kind)
    for key, extra, kind in (
        ("inputs", "inputFacets", "InputDatasetFacet"),
        ("outputs", "outputFacets", "OutputDatasetFacet"),
    ):
        items = doc.get(key)
        if not isinstance(items, list):
            continue
        core[key] = []
        for i, item in enumerate(items):
            if isinstance(item, dict):
                item = strip(item, "facets", f"$.{key}[{i}]", "DatasetFacet")
                item = strip(item, extra, f"$.{key}[{i}]", kind)
            core[key].append(item)
    return core, found


def check(doc: object, source: str) -> list[str]:
    """Check an event against the spec's schemas: InputError (400) naming the first problem's
    JSON path and the schema's message; the notes of facets no vendored schema describes.

    The event is checked without its facets, then each facet as the spec's kind of facet at
    its place and as its own schema says: a facet's verdict is kept by its JSON text (a
    pipeline sends the same facets again and again), so each is checked once."""
    validators, _, _ = _schemas()
    # the kind the event says it is, else the one its shape is: each error then names the
    # member at fault (the spec's oneOf of the three kinds would name only the event)
    url = doc.get("schemaURL") if isinstance(doc, dict) else None
    kind = url.rsplit("/", 1)[-1] if isinstance(url, str) else ""
    if kind not in validators:
        shape = doc.keys() if isinstance(doc, dict) else set()
        kind = "DatasetEvent" if "dataset" in shape else "JobEvent"
        kind = "RunEvent" if "run" in shape else kind
    if not isinstance(doc, dict):
        _refuse(_first_error(validators[kind], doc), source, "")
    assert isinstance(doc, dict)
    core, facets = _split(doc)
    _refuse(_core_error(kind, core), source, "")
    notes: list[str] = []
    for path, place, facet in facets:
        known, error = _facet_verdict(place, json.dumps(facet, sort_keys=True))
        _refuse(error, source, path)
        if not known:
            notes.append(f"{path}: a facet no published schema describes, kept as JSON")
    return notes


def _first_error(
    validator: jsonschema.protocols.Validator, doc: object
) -> jsonschema.ValidationError | None:
    return jsonschema.exceptions.best_match(validator.iter_errors(doc))


_CHECKER = jsonschema.Draft202012Validator.FORMAT_CHECKER
_TIME, _UUID = "2000-01-01T00:00:00Z", "00000000-0000-4000-8000-000000000000"


def _core_error(kind: str, core: dict[str, Any]) -> jsonschema.ValidationError | None:
    """The first error of an event without its facets. What differs from event to event of a
    pipeline (its time, its run's UUID) is checked alone and, when right, stands in as a fixed
    value: the rest's verdict is kept by its JSON text, so a job's events are checked once."""
    template = dict(core)
    when, run = core.get("eventTime"), core.get("run")
    if isinstance(when, str) and _CHECKER.conforms(when, "date-time"):
        template["eventTime"] = _TIME
    run_id = run.get("runId") if isinstance(run, dict) else None
    if isinstance(run, dict) and isinstance(run_id, str) and _CHECKER.conforms(run_id, "uuid"):
        template["run"] = {**run, "runId": _UUID}
    return _core_verdict(kind, json.dumps(template, sort_keys=True))


@lru_cache(maxsize=4096)
def _core_verdict(kind: str, text: str) -> jsonschema.ValidationError | None:
    return _first_error(_schemas()[0][kind], json.loads(text))


@lru_cache(maxsize=4096)
def _facet_verdict(place: str, text: str) -> tuple[bool, jsonschema.ValidationError | None]:
    """Whether a facet (its JSON text) has a published schema, and its first error as the
    spec's kind of facet at its place (`place`) or as that schema says."""
    _, by_name, _ = _schemas()
    facet = json.loads(text)
    error = _first_error(_schemas()[0][place], facet)
    if error is not None:
        return True, error
    url = facet.get("_schemaURL") if isinstance(facet, dict) else None
    match = _FACET_URL.search(url) if isinstance(url, str) else None
    if match is None or match.group(1) not in by_name or facet.get("_deleted") is True:
        return False, None
    name = match.group(1)
    return True, _first_error(_facet_validator(by_name[name], name), facet)


def _refuse(error: jsonschema.ValidationError | None, source: str, prefix: str) -> None:
    if error is None:
        return
    path = prefix + error.json_path.removeprefix("$") if prefix else error.json_path
    raise InputError(
        f"not a valid OpenLineage event: {path}: {error.message}",
        location=Location(source, pointer=path),
        hint="the OpenLineage 2-0-2 spec (https://openlineage.io/spec/2-0-2/OpenLineage.json)",
        details={"path": path, "schemaMessage": error.message},
    )


def without_secrets(doc: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The event with secrets replaced by `REDACTED`: the values of environment variables
    whose names say they are secret, and what `base/redact.py` finds in any facet (a URL's
    password, `"password": …`); the names of what was replaced."""
    found: list[str] = []
    run = doc.get("run")
    facets = run.get("facets") if isinstance(run, dict) else None
    env = facets.get("environmentVariables") if isinstance(facets, dict) else None
    variables = env.get("environmentVariables") if isinstance(env, dict) else None
    for variable in variables if isinstance(variables, list) else []:
        name = variable.get("name") if isinstance(variable, dict) else None
        secret = isinstance(name, str) and _SECRET_NAME.search(name)
        if secret and variable.get("value") != redact.REDACTED:
            variable["value"] = redact.REDACTED
            found.append(str(name))
    text, more = redact.text(json.dumps(doc, ensure_ascii=False))
    if more:
        doc = json.loads(text)
    return doc, found + more


def job_iri(base: str, namespace: object, name: object) -> str:
    return f"{base}openlineage/jobs/{segment(namespace)}/{segment(name)}"


def dataset_iri(base: str, namespace: object, name: object) -> str:
    return f"{base}openlineage/datasets/{segment(namespace)}/{segment(name)}"


def run_iri(base: str, run_id: str) -> str:
    return f"{base}openlineage/runs/{segment(run_id.lower())}"


def triples(
    doc: dict[str, Any], m: str, base: str
) -> tuple[str, list[Triple], list[ResourceGraph]]:
    """The content triples of a checked event (`check`): (class name, triples, shared graphs)."""
    s = nt.iri(m)
    out: list[Triple] = []
    shared: list[ResourceGraph] = []
    when = tre.timestamp_literal(doc["eventTime"])
    if when:
        out.append((s, nt.GENERATED_AT, when))
    job: dict[str, Any] | None = doc.get("job")
    owner = job if job is not None else doc["dataset"]
    producer = doc["producer"]
    _producer(out, shared, s, base, owner["namespace"], producer)
    if job is not None:
        j = _resource(
            shared, job_iri(base, job["namespace"], job["name"]), "OpenLineageJob", job, base
        )
        out.append((s, nt.jt("openLineageJob"), j))
        if job.get("facets"):
            _facet_set(out, s, f"{m}#p3", "job.facets", job["facets"])
    if "dataset" in doc:
        d = _datasets(out, shared, s, f"{m}#p1", base, [doc["dataset"]], "dataset")
        out += [(s, nt.jt("openLineageDataset"), x) for x in d]
        return "OpenLineageDatasetEvent", out, shared
    used = _datasets(out, shared, s, f"{m}#p1", base, doc.get("inputs") or [], "inputs")
    generated = _datasets(out, shared, s, f"{m}#p2", base, doc.get("outputs") or [], "outputs")
    if "run" not in doc or job is None:
        return "OpenLineageJobEvent", out, shared
    r = _run(out, s, m, base, doc, when)
    _parameters(out, s, f"{m}#p0", doc["run"].get("facets") or {}, producer)
    out.append((r, nt.jt("runOf"), j))
    out += [(r, nt.iri(str(PROV.used)), d) for d in used]
    out += [(r, nt.iri(str(PROV.generated)), d) for d in generated]
    return "OpenLineageRunEvent", out, shared


def _run(
    out: list[Triple],
    s: str,
    m: str,
    base: str,
    doc: dict[str, Any],
    when: str | None,
) -> str:
    """The run (its IRI), its state, times and parent; its UUID and its parent's as the
    message's UUID list (the parent's first), the run's the one it adds."""
    run = doc["run"]
    run_id: str = run["runId"].lower()
    r = nt.iri(run_iri(base, run_id))
    event_type = doc.get("eventType")
    out += [
        (s, nt.GENERATED_BY, r),
        (s, nt.jt("openLineageRun"), r),
        (r, nt.A, nt.iri(str(PROV.Activity))),
        (r, nt.A, nt.jt("OpenLineageRun")),
        (r, nt.jt("openLineageRunId"), nt.lit(run_id)),
    ]
    if isinstance(event_type, str):
        out.append((s, nt.jt("eventType"), nt.lit(event_type)))
        out.append((s, nt.jt("eventStatus"), nt.iri(status.concept("openlineage", event_type))))
        if when and event_type == "START":
            out.append((r, nt.iri(str(PROV.startedAtTime)), when))
        if when and event_type in _ENDS:
            out.append((r, nt.iri(str(PROV.endedAtTime)), when))
    entries: list[dict[str, str]] = []
    parent = (run.get("facets") or {}).get("parent")
    parent_run = parent.get("run") if isinstance(parent, dict) else None
    if isinstance(parent_run, dict) and isinstance(parent_run.get("runId"), str):
        parent_id = parent_run["runId"].lower()
        entries.append({"parent-UUID": parent_id})
        out.append((r, nt.iri(str(PROV.wasInformedBy)), nt.iri(run_iri(base, parent_id))))
    entries.append({"run-UUID": run_id})
    added: str | None = None
    for i, entry in enumerate(entries):
        added = tre._uuid_entry(out, s, m, i, entry)
    if added:
        out.append((s, nt.jt("addedUUID"), added))
    return r


def _parameters(out: list[Triple], s: str, p: str, facets: dict[str, Any], producer: str) -> None:
    """The run's facets as a parameter set (`#p0`): each facet as JSON, the errorMessage
    facet as an error, the processing engine and the producer URI as software versions."""
    _facet_set(out, s, p, "run.facets", facets)
    ps = nt.iri(p)
    error = facets.get("errorMessage")
    if isinstance(error, dict) and "message" in error:
        e = nt.iri(f"{p}-error")
        out += [(ps, nt.jt("error"), e), (e, nt.A, nt.jt("Error"))]
        out.append((e, nt.jt("errorMessage"), tre.value(error["message"])))
    engine = facets.get("processing_engine")
    if isinstance(engine, dict) and isinstance(engine.get("name"), str):
        tre._software(out, ps, f"{p}-engine", engine["name"], engine.get("version", ""))
        if "openlineageAdapterVersion" in engine:
            adapter = engine["openlineageAdapterVersion"]
            tre._software(out, ps, f"{p}-adapter", "openlineage-adapter", adapter)
    found = _VERSION_IN_URI.search(producer)
    tre._software(out, ps, f"{p}-producer", producer, found.group(1) if found else "")


def _producer(
    out: list[Triple], shared: list[ResourceGraph], s: str, base: str, name: str, uri: str
) -> None:
    """The producer `{base}producers/{namespace}/{producer URI}`, a graph of its own as a TRE
    producer is; the message attributed to it (its run is the OpenLineage run)."""
    iri = tre.producer_iri(base, name, uri)
    agent = nt.iri(iri)
    out.append((s, nt.ATTRIBUTED_TO, agent))
    triples = [
        (agent, nt.A, nt.jt("Producer")),
        (agent, nt.A, nt.iri(str(PROV.SoftwareAgent))),
        (agent, nt.jt("producerName"), nt.lit(name)),
        (agent, nt.jt("process"), nt.lit(uri)),
    ]
    shared.append(ResourceGraph(iri, triples))


def _facet_set(out: list[Triple], s: str, node: str, owner: str, facets: object) -> None:
    p = tre.parameter_set(out, s, node, owner)
    for i, (key, value) in enumerate((facets if isinstance(facets, dict) else {}).items()):
        tre.parameter(out, p, node, i, key, value)


def _resource(
    shared: list[ResourceGraph], iri: str, kind: str, doc: dict[str, Any], base: str
) -> str:
    """A job or dataset, a graph of its own; a dataset `rdfs:seeAlso` its lineage (the named
    query `dataset-lineage`, whose page lists the runs upstream and downstream of it)."""
    term = nt.iri(iri)
    namespace, name = doc.get("namespace"), doc.get("name")
    triples = [(term, nt.A, nt.jt(kind))]
    if kind == "OpenLineageDataset":
        lineage = f"{base}queries/dataset-lineage?dataset={quote(iri, safe='')}"
        triples.append((term, nt.A, nt.iri(str(PROV.Entity))))
        triples.append((term, nt.iri(str(RDFS.seeAlso)), nt.iri(lineage)))
    triples += [
        (term, nt.jt("lineageNamespace"), tre.value(namespace)),
        (term, nt.jt("lineageName"), tre.value(name)),
        (term, nt.LABEL, nt.lit(f"{namespace}:{name}")),
    ]
    shared.append(ResourceGraph(iri, triples))
    return term


def _datasets(
    out: list[Triple],
    shared: list[ResourceGraph],
    s: str,
    node: str,
    base: str,
    items: list[Any],
    owner: str,
) -> list[str]:
    """Datasets named by the event: each its resource, its IRI a reference of the parameter
    set `owner` (so a trace follows a dataset from the run writing it to those reading it),
    and the item whole (with its facets) as a parameter."""
    p = tre.parameter_set(out, s, node, owner)
    terms: list[str] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        iri = dataset_iri(base, item.get("namespace"), item.get("name"))
        terms.append(_resource(shared, iri, "OpenLineageDataset", item, base))
        out.append((p, nt.jt("reference"), nt.lit(iri)))
        if any(item.get(k) for k in ("facets", "inputFacets", "outputFacets")):
            key = f"{item.get('namespace')}:{item.get('name')}"
            tre.parameter(out, p, node, i, key, item)  # its facets, kept as they came
    return terms
