"""The National Archives' TDR/TRE messages, in both structures.

2022 (TNA's "enhanced message structure", as in its json-examples):
`version`, `timestamp` (epoch seconds as a string, or integer nanoseconds),
the ordered `UUIDs` list that each hop extends, `producer` (name, process,
type, environment, event-name) and `parameters` per producer or event.

2023 (json-examples-new-schema): `properties` (messageType, timestamp,
function, producer, executionId, parentExecutionId …) and `parameters`.

The reader never judges: whatever the input says is written down, typed as
JSON typed it, and the shapes decide what is a violation (no UUIDs, no
producer, a timestamp that is not a time) and what is only a warning (a
"UUID" that is not one, a placeholder UUID label).
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Any

from jobtrail.base import nt
from jobtrail.base.segments import segment
from jobtrail.base.terms import PROV, XSD
from jobtrail.store import ResourceGraph, Triple

UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
_ISO_RE = re.compile(r"^-?\d{4,}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?$")
_XSD_INT = str(XSD.integer)
_UUID_ENTRY = nt.jt("UUIDEntry")
_PARAMETER = nt.jt("Parameter")
_SOFTWARE_VERSION = nt.jt("SoftwareVersion")


def is_tre(doc: object) -> bool:
    """Does this JSON look like a TRE message (of either structure), even a broken one?"""
    if not isinstance(doc, dict):
        return False
    return "properties" in doc or bool({"UUIDs", "producer"} & doc.keys())


def triples(
    doc: dict[str, Any], m: str, base: str
) -> tuple[str, list[Triple], list[ResourceGraph]]:
    """The content triples of a TRE message: (class name, triples, the producer's own graph).

    A producer is a resource of its own, shared by every message it emitted:
    it gets its own graph, created with its first message, rather than a copy
    in each message's graph (which the union default graph would repeat).
    """
    producers: list[ResourceGraph] = []
    if "properties" in doc and "UUIDs" not in doc:
        return "TRE2023Message", _v2023(doc, m, base, producers), producers
    return "TRE2022Message", _v2022(doc, m, base, producers), producers


SUPERCLASSES = {"TRE2022Message": ("TREMessage",), "TRE2023Message": ("TREMessage",)}
"""Classes a message is typed with besides its own: no inference runs, so types are explicit."""


def _v2022(doc: dict[str, Any], m: str, base: str, producers: list[ResourceGraph]) -> list[Triple]:
    s = nt.iri(m)
    out: list[Triple] = []
    if "version" in doc:
        out.append((s, nt.jt("messageVersion"), value(doc["version"])))
    _timestamp(out, s, doc.get("timestamp"))
    producer = doc.get("producer")
    if isinstance(producer, dict):
        _producer(
            out,
            producers,
            s,
            m,
            base,
            producer.get("name"),
            (producer.get("process"), producer.get("environment")),
        )
        for key, prop in (("type", "producerType"), ("event-name", "eventName")):
            if key in producer:
                out.append((s, nt.jt(prop), value(producer[key])))
    uuids = doc.get("UUIDs")
    if isinstance(uuids, list):
        # the hop's own UUID is the last entry, and only that one: when it is not a
        # UUID IRI there is no jt:addedUUID (the shapes report it), never an earlier one
        last: str | None = None
        for i, entry in enumerate(uuids):
            last = _uuid_entry(out, s, m, i, entry)
        if last:
            out.append((s, nt.jt("addedUUID"), last))
    params = doc.get("parameters")
    if isinstance(params, dict):
        for i, (owner, values) in enumerate(params.items()):
            _parameter_set(out, s, f"{m}#p{i}", owner, values)
    elif params is not None:
        _parameter_set(out, s, f"{m}#p0", "parameters", params)
    return out


def _v2023(doc: dict[str, Any], m: str, base: str, producers: list[ResourceGraph]) -> list[Triple]:
    s = nt.iri(m)
    out: list[Triple] = []
    props = doc.get("properties")
    props = props if isinstance(props, dict) else {}
    _timestamp(out, s, props.get("timestamp"))
    _producer(out, producers, s, m, base, props.get("producer"), (props.get("function"),))
    known = {"timestamp", "producer", "function"}
    for key, prop in (
        ("messageType", "messageType"),
        ("executionId", "executionId"),
        ("parentExecutionId", "parentExecutionId"),
        ("messageId", "messageId"),
        ("parentMessageId", "parentMessageId"),
    ):
        known.add(key)
        v = props.get(key)
        if v is None:
            continue
        out.append((s, nt.jt(prop), value(v)))
        if key in ("executionId", "parentExecutionId") and isinstance(v, str) and UUID_RE.match(v):
            uuid = nt.iri(f"urn:uuid:{v.lower()}")
            # the added UUID is carried too (addedUUID is a sub-property; no inference
            # runs), so a trace walking jt:carriesUUID finds 2023 hops as it finds 2022 ones
            out.append((s, nt.jt("carriesUUID"), uuid))
            if key == "executionId":
                out.append((s, nt.jt("addedUUID"), uuid))
    extra = {k: v for k, v in props.items() if k not in known}
    if extra:
        _parameter_set(out, s, f"{m}#p1", "properties", extra)
    if "parameters" in doc:
        _parameter_set(out, s, f"{m}#p0", "parameters", doc["parameters"])
    return out


def value(v: object) -> str:
    """A JSON scalar as a literal typed the way JSON typed it; objects and arrays as rdf:JSON."""
    if isinstance(v, str):
        return nt.lit(v)
    if isinstance(v, bool):
        return nt.boolean(v)
    if isinstance(v, int):
        return nt.integer(v)
    if isinstance(v, float):
        return nt.typed(repr(v) if math.isfinite(v) else _XSD_SPECIAL[repr(v)], nt.XSD_DOUBLE)
    return nt.json_lit(v)


_XSD_SPECIAL = {"inf": "INF", "-inf": "-INF", "nan": "NaN"}
"""xsd:double's lexical forms of the values Python writes as inf, -inf and nan (parse_json
refuses them in JSON text, but a document built in Python may still hold them)."""


def timestamp_literal(raw: object) -> str | None:
    """Epoch seconds, milli-, micro- or nanoseconds (number or digit string), or ISO 8601."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
        raw = int(raw.strip())
    if isinstance(raw, int):
        n = abs(raw)
        scale = 10**9 if n >= 10**17 else 10**6 if n >= 10**14 else 10**3 if n >= 10**11 else 1
        seconds, fraction = divmod(raw, scale)
        try:
            when = datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
        digits = {10**9: 9, 10**6: 6, 10**3: 3, 1: 0}[scale]
        frac = f".{fraction:0{digits}d}" if digits else ""
        return nt.typed(f"{when:%Y-%m-%dT%H:%M:%S}{frac}Z", nt.XSD_DATETIME)
    if isinstance(raw, float):
        try:
            when = datetime.fromtimestamp(raw, UTC)
        except (OverflowError, OSError, ValueError):
            return None
        return nt.datetime_lit(when)
    if isinstance(raw, str) and _ISO_RE.match(raw.strip()):
        try:
            datetime.fromisoformat(raw.strip())
        except ValueError:
            return None
        return nt.typed(raw.strip(), nt.XSD_DATETIME)
    return None


def _timestamp(out: list[Triple], s: str, raw: object) -> None:
    if raw is None:
        return
    text = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False)
    out.append((s, nt.jt("rawTimestamp"), nt.lit(text)))
    when = timestamp_literal(raw)
    if when:
        out.append((s, nt.GENERATED_AT, when))


def producer_iri(base: str, name: str, *parts: object) -> str:
    """`{base}producers/{name}/{process}/{environment}` (2022) or `…/{name}/{function}` (2023).

    Each part is one segment by `base/segments.py`'s rule, the one the server resolves with.

    Every part has its segment, so producers that differ in which part they lack
    stay apart: a missing part (absent or null) is `-`, a part that is the string
    "-" is `%2D`, and a part that is not a string is `;` and its JSON, percent-encoded
    (a string's segment never holds a bare `;`, so `;42` is not the string "42").
    """
    return f"{base}producers/" + "/".join([segment(name), *(segment(p) for p in parts)])


def _producer(
    out: list[Triple],
    producers: list[ResourceGraph],
    s: str,
    m: str,
    base: str,
    name: object,
    parts: tuple[object, ...],
) -> None:
    """The producer: (process, environment) in the 2022 structure, (function,) in 2023."""
    if not isinstance(name, str) or not name:
        return
    process = parts[0]
    env = parts[1] if len(parts) > 1 else None
    iri = producer_iri(base, name, *parts)
    agent, run = nt.iri(iri), nt.iri(f"{m}#run")
    out += [
        (s, nt.ATTRIBUTED_TO, agent),
        (s, nt.GENERATED_BY, run),
        (run, nt.A, nt.jt("ProducerRun")),
        (run, nt.ASSOCIATED_WITH, agent),
    ]
    graph = ResourceGraph(
        iri,
        [
            (agent, nt.A, nt.jt("Producer")),
            (agent, nt.A, nt.iri(str(PROV.SoftwareAgent))),
            (agent, nt.jt("producerName"), nt.lit(name)),
        ],
    )
    if process is not None:
        graph.triples.append((agent, nt.jt("process"), value(process)))
    if env is not None:
        graph.triples.append((agent, nt.jt("environment"), value(env)))
    producers.append(graph)


def uuid_term(v: object) -> str:
    """`urn:uuid:` IRI for a UUID (kept even if malformed; the shapes warn), else a literal."""
    if isinstance(v, str):
        term = nt.checked_iri(f"urn:uuid:{v.strip().lower()}")
        if term:
            return term
    return value(v)


def _uuid_entry(out: list[Triple], s: str, m: str, i: int, entry: object) -> str | None:
    e = nt.iri(f"{m}#u{i}")
    out += [
        (s, nt.jt("uuidEntry"), e),
        (e, nt.A, _UUID_ENTRY),
        (e, nt.jt("position"), nt.integer(i)),
    ]
    if isinstance(entry, dict) and len(entry) == 1:
        ((label, v),) = entry.items()
        out.append((e, nt.jt("uuidLabel"), nt.lit(label)))
    else:
        v = entry
    term = uuid_term(v)
    out.append((e, nt.jt("uuid"), term))
    if term[0] == "<":
        out.append((s, nt.jt("carriesUUID"), term))
        return term
    return None


def parameter_set(out: list[Triple], s: str, node: str, owner: str) -> str:
    """`s jt:parameterSet <node>`, a set of `owner`'s parameters: the set's term."""
    p = nt.iri(node)
    out += [
        (s, nt.jt("parameterSet"), p),
        (p, nt.A, nt.jt("ParameterSet")),
        (p, nt.jt("parameterOwner"), nt.lit(owner)),
    ]
    return p


def _parameter_set(out: list[Triple], s: str, node: str, owner: str, values: object) -> None:
    p = parameter_set(out, s, node, owner)
    if not isinstance(values, dict):
        parameter(out, p, node, 0, owner, values)
        return
    for i, (key, v) in enumerate(values.items()):
        handler = _KNOWN.get(key)
        if handler is not None:
            handler(out, p, f"{node}-{i}", v)
        elif key.endswith("-version") and isinstance(v, str):
            _software(out, p, f"{node}-{i}", key.removesuffix("-version"), v)
        else:
            parameter(out, p, node, i, key, v)


def parameter(out: list[Triple], p: str, node: str, i: int, key: str, v: object) -> None:
    """`p jt:parameter <node-i>`: a key and its JSON value, kept whole."""
    n = nt.iri(f"{node}-{i}")
    out += [
        (p, nt.jt("parameter"), n),
        (n, nt.A, _PARAMETER),
        (n, nt.jt("key"), nt.lit(key)),
        (n, nt.jt("value"), nt.json_lit(v)),
    ]


def _scalar(prop: str) -> Any:
    def handle(out: list[Triple], p: str, node: str, v: object) -> None:
        out.append((p, nt.jt(prop), value(v)))

    return handle


def _retries(out: list[Triple], p: str, node: str, v: object) -> None:
    if isinstance(v, str) and v.strip().lstrip("-").isdigit():
        v = int(v.strip())
    out.append((p, nt.jt("numberOfRetries"), value(v)))


def _errors(out: list[Triple], p: str, node: str, v: object) -> None:
    items = v if isinstance(v, list) else [v]
    for k, item in enumerate(items):
        e = nt.iri(f"{node}-{k}")
        text = item.get("error") if isinstance(item, dict) and len(item) == 1 else item
        out += [(p, nt.jt("error"), e), (e, nt.A, nt.jt("Error"))]
        out.append((e, nt.jt("errorMessage"), value(text)))


def _locator(prop: str, *classes: str) -> Any:
    types = [nt.jt(c) for c in classes]

    def handle(out: list[Triple], p: str, node: str, v: object) -> None:
        r = nt.iri(node)
        out.append((p, nt.jt(prop), r))
        out += [(r, nt.A, t) for t in types]
        if not isinstance(v, dict):
            out.append((r, nt.jt("location"), value(v)))
            return
        for key, target in (
            ("resource-type", "resourceType"),
            ("access-type", "accessType"),
            ("validation-method", "validationMethod"),
        ):
            if key in v:
                out.append((r, nt.jt(target), value(v[key])))
        if "value" in v:
            loc = v["value"]
            term = nt.checked_iri(loc) if isinstance(loc, str) else None
            out.append((r, nt.jt("location"), term or value(loc)))

    return handle


def _software(out: list[Triple], p: str, node: str, name: str, version: object) -> None:
    n = nt.iri(node)
    out += [
        (p, nt.jt("softwareVersion"), n),
        (n, nt.A, _SOFTWARE_VERSION),
        (n, nt.jt("softwareName"), nt.lit(name)),
        (n, nt.jt("version"), value(version)),
    ]


def _functions(out: list[Triple], p: str, node: str, v: object) -> None:
    items = v if isinstance(v, list) else [v]
    for k, item in enumerate(items):
        if isinstance(item, dict) and len(item) == 1:
            ((name, version),) = item.items()
            _software(out, p, f"{node}-{k}", name, version)
        else:
            parameter(out, p, node, k, "lambda-functions-version", item)


_KNOWN: dict[str, Any] = {
    "reference": _scalar("reference"),
    "originator": _scalar("originator"),
    "number-of-retries": _retries,
    "errors": _errors,
    "resource": _locator("resource", "ResourceLocator"),
    # typed with its superclass too: types are explicit, no inference runs
    "resource-validation": _locator("resourceValidation", "ResourceValidation", "ResourceLocator"),
    "lambda-functions-version": _functions,
}
