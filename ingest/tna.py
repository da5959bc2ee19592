"""TRE messages checked against The National Archives' published schemas.

The schemas are TNA's own (`tna_schemas/`, MIT licence, copied unchanged from
`nationalarchives/da-transform-schemas`; see its README). A message is checked
by the `jsonschema` library, beside the shapes, and never refused for what a
schema says: each finding is kept with the message as a warning, like the
shapes' warnings (`Loader`, `warning_triples`).

- 2022 structure (`UUIDs`, `producer`): the JSON Schema whose `event-name`
  enum names the message's `producer.event-name` (each `$ref`s `tre-event`),
  else `tre-event` itself.
- 2023 structure (`properties`): TNA publishes Avro schemas only; the record
  whose full name is the message's `properties.messageType` is read as a JSON
  Schema (a record is an object with exactly its fields, an enum its symbols,
  a union any of its branches), and a message whose type no schema names is
  checked against the common `TREEvent` properties. The one JSON Schema of this
  structure (`tre-parsed-judgement.json`, draft-04) is used for its messageType.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import jsonschema
from jobtrail.shapes.report import WARNING, Result
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

_TRE_EVENT = "https://nationalarchives.gov.uk/da-transform/tre/schemas/tre-event"
_PROPERTIES = "uk.gov.nationalarchives.common.messages.Properties"
_AVRO_SCALARS = {
    "string": {"type": "string"},
    "int": {"type": "integer"},
    "long": {"type": "integer"},
    "float": {"type": "number"},
    "double": {"type": "number"},
    "boolean": {"type": "boolean"},
    "null": {"type": "null"},
    "bytes": {"type": "string"},
}


def _folder() -> Traversable:
    return resources.files("jobtrail.ingest") / "tna_schemas"


@cache
def _json_schemas() -> tuple[dict[str, dict[str, Any]], Registry[Any]]:
    """TNA's JSON Schemas (2022 structure) by event name, and the registry of their `$id`s."""
    schemas = [s for s in _json_files() if "$id" in s]
    registry: Registry[Any] = Registry().with_resources(
        (s["$id"], Resource.from_contents(s, default_specification=DRAFT202012)) for s in schemas
    )
    by_event: dict[str, dict[str, Any]] = {}
    for schema in schemas:
        producer = schema.get("properties", {}).get("producer", {})
        for name in producer.get("properties", {}).get("event-name", {}).get("enum", []):
            by_event[name] = schema
    by_event[""] = next(s for s in schemas if s["$id"] == _TRE_EVENT)
    return by_event, registry


def _json_files() -> list[dict[str, Any]]:
    return [
        json.loads(f.read_text("utf-8"))
        for f in sorted(_folder().iterdir(), key=lambda f: f.name)
        if f.name.endswith(".json")
    ]


def _avro_files(folder: Traversable) -> Iterator[Traversable]:
    for child in sorted(folder.iterdir(), key=lambda f: f.name):
        if child.is_dir():
            yield from _avro_files(child)
        elif child.name.endswith(".avsc"):
            yield child


@cache
def _avro_schemas() -> dict[str, dict[str, Any]]:
    """Every named Avro type of TNA's 2023 schemas, by full name, read as a JSON Schema."""
    named: dict[str, Any] = {}
    tops: list[str] = []

    def collect(avro: Any, namespace: str) -> None:
        if isinstance(avro, list):
            for branch in avro:
                collect(branch, namespace)
        elif isinstance(avro, dict):
            namespace = avro.get("namespace", namespace)
            if avro.get("type") in ("record", "enum", "fixed") and "name" in avro:
                name = avro["name"]
                named[name if "." in name else f"{namespace}.{name}"] = (avro, namespace)
            for field in avro.get("fields", []):
                collect(field.get("type"), namespace)
            for key in ("items", "values"):
                collect(avro.get(key), namespace)

    for f in _avro_files(_folder() / "avro"):
        avro = json.loads(f.read_text("utf-8"))
        collect(avro, "")
        if isinstance(avro, dict) and "name" in avro:
            tops.append(f"{avro.get('namespace', '')}.{avro['name']}")

    def convert(avro: Any, namespace: str, seen: frozenset[str]) -> dict[str, Any]:
        if isinstance(avro, list):
            return {"anyOf": [convert(b, namespace, seen) for b in avro]}
        if isinstance(avro, str):
            if avro in _AVRO_SCALARS:
                return dict(_AVRO_SCALARS[avro])
            full = avro if "." in avro else f"{namespace}.{avro}"
            if full in seen or full not in named:
                return {}  # recursive or unknown: anything
            definition, its_namespace = named[full]
            return convert(definition, its_namespace, seen | {full})
        kind = avro.get("type")
        if kind == "record":
            fields = avro.get("fields", [])
            return {
                "type": "object",
                "properties": {f["name"]: convert(f["type"], namespace, seen) for f in fields},
                "required": [f["name"] for f in fields if "default" not in f],
                "additionalProperties": False,
            }
        if kind == "enum":
            return {"enum": list(avro.get("symbols", []))}
        if kind == "array":
            return {"type": "array", "items": convert(avro.get("items"), namespace, seen)}
        if kind == "map":
            return {
                "type": "object",
                "additionalProperties": convert(avro.get("values"), namespace, seen),
            }
        if kind == "fixed":
            return {"type": "string"}
        return convert(kind, namespace, seen)  # {"type": "string", "logicalType": …}

    out = {name: convert(name, "", frozenset()) for name in [*tops, _PROPERTIES]}
    for name in tops:  # some messages name the record's namespace (ayrmetadata.loaded)
        out.setdefault(name.rpartition(".")[0], out[name])
    for schema in _json_files():  # a JSON Schema of the 2023 structure names its messageType
        props = schema.get("properties", {}).get("properties", {}).get("properties", {})
        if isinstance(default := props.get("messageType", {}).get("default"), str):
            out[default] = schema
    return out


def _where(error: jsonschema.ValidationError) -> str:
    return "/" + "/".join(str(p) for p in error.absolute_path)


def schema_warnings(doc: object, m: str) -> list[Result]:
    """What TNA's schema for this TRE message finds wrong with it, as warnings on `m`."""
    if not isinstance(doc, dict):
        return []
    if "properties" in doc and "UUIDs" not in doc:
        schemas = _avro_schemas()
        props = doc.get("properties")
        message_type = props.get("messageType") if isinstance(props, dict) else None
        if isinstance(message_type, str) and message_type in schemas:
            name, schema = message_type, schemas[message_type]
        else:
            name = _PROPERTIES
            schema = {
                "type": "object",
                "properties": {"properties": schemas[_PROPERTIES]},
                "required": ["properties", "parameters"],
            }
        validator = jsonschema.validators.validator_for(schema, jsonschema.Draft202012Validator)(
            schema
        )
        label = f"TNA's schema {name}"
    else:
        by_event, registry = _json_schemas()
        producer = doc.get("producer")
        event = producer.get("event-name") if isinstance(producer, dict) else None
        schema = by_event.get(event if isinstance(event, str) else "", by_event[""])
        validator = jsonschema.Draft202012Validator(schema, registry=registry)
        label = f"TNA's JSON Schema {schema['$id'].rsplit('/', 1)[-1]}"
    found = sorted(validator.iter_errors(doc), key=lambda e: (_where(e), e.message))
    return [
        Result(
            focus=m,
            path=None,
            message=f"{label}: at {_where(e)}: {e.message}"[:1000],
            severity=WARNING,
        )
        for e in found
    ]
