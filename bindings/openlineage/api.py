"""OpenAPI declarations of the OpenLineage binding's routes (web/openapi.py); the read API's
schemas are Marquez's (its `spec/openapi.yml`), as far as jobtrail fills them."""

from __future__ import annotations

from typing import Any

from jobtrail.web.openapi import (
    ANYONE,
    INTEGER,
    SUBMITTER,
    Api,
    Body,
    Operation,
    Param,
    Reply,
    ok,
    ref,
)

JSON = ("application/json",)
_ID = {
    "type": "object",
    "properties": {"namespace": {"type": "string"}, "name": {"type": "string"}},
}
_TIME = {"type": ["string", "null"], "format": "date-time"}
RUN: dict[str, Any] = {
    "type": "object",
    "required": ["id", "createdAt", "updatedAt", "state"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "createdAt": _TIME,
        "updatedAt": _TIME,
        "nominalStartTime": _TIME,
        "nominalEndTime": _TIME,
        "state": {"enum": ["NEW", "RUNNING", "COMPLETED", "FAILED", "ABORTED"]},
        "startedAt": _TIME,
        "endedAt": _TIME,
        "durationMs": {"type": ["integer", "null"]},
        "args": {"type": "object"},
        "jobVersion": {"type": "object"},
        "inputDatasetVersions": {"type": "array"},
        "outputDatasetVersions": {"type": "array"},
        "context": {"type": "object"},
        "facets": {"type": "object"},
    },
}
_NAMED: dict[str, Any] = {
    "id": _ID,
    "type": {"type": "string"},
    "name": {"type": "string"},
    "createdAt": _TIME,
    "updatedAt": _TIME,
    "namespace": {"type": "string"},
    "facets": {"type": "object"},
}
"""What Marquez says alike of a job and a dataset."""
JOB: dict[str, Any] = {
    "type": "object",
    "required": ["id", "type", "name", "namespace", "inputs", "outputs", "latestRun"],
    "properties": {
        **_NAMED,
        "simpleName": {"type": "string"},
        "parentJobName": {"type": ["string", "null"]},
        "inputs": {"type": "array", "items": _ID},
        "outputs": {"type": "array", "items": _ID},
        "latestRun": {"anyOf": [ref("MarquezRun"), {"type": "null"}]},
    },
}
DATASET: dict[str, Any] = {
    "type": "object",
    "required": ["id", "type", "name", "physicalName", "namespace", "sourceName", "fields"],
    "properties": {
        **_NAMED,
        "physicalName": {"type": "string"},
        "sourceName": {"type": "string"},
        "fields": {"type": "array"},
    },
}
NAMESPACE: dict[str, Any] = {
    "type": "object",
    "required": ["name", "createdAt", "updatedAt", "ownerName"],
    "properties": {
        "name": {"type": "string"},
        "createdAt": _TIME,
        "updatedAt": _TIME,
        "ownerName": {"type": "string"},
        "description": {"type": ["string", "null"]},
    },
}
_EDGE = {
    "type": "object",
    "properties": {"origin": {"type": "string"}, "destination": {"type": "string"}},
}
NODE: dict[str, Any] = {
    "type": "object",
    "required": ["id", "type", "data", "inEdges", "outEdges"],
    "properties": {
        "id": {"type": "string"},
        "type": {"enum": ["JOB", "DATASET"]},
        "data": {"anyOf": [ref("MarquezJob"), ref("MarquezDataset")]},
        "inEdges": {"type": "array", "items": _EDGE},
        "outEdges": {"type": "array", "items": _EDGE},
    },
}
OUTCOMES: dict[str, Any] = {
    "type": "object",
    "required": ["stored", "duplicates", "rejected", "events"],
    "properties": {
        "stored": {"type": "integer"},
        "duplicates": {"type": "integer"},
        "rejected": {"type": "integer"},
        "events": {"type": "array", "items": {"type": "object"}},
    },
}
_PAGE = (
    Param("limit", "how many (0–10,000; 100)", schema=INTEGER),
    Param("offset", "how many to skip (0)", schema=INTEGER),
)
_NS = Param("namespace", "the namespace, as events name it", where="path")


def _list(name: str, item: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": [name],
        "properties": {name: {"type": "array", "items": ref(item)}, "totalCount": INTEGER},
    }


API = Api(
    {
        ("POST", "/api/v1/lineage"): Operation(
            "Store OpenLineage events (Marquez's path: an OpenLineage HttpTransport works as is)",
            description="One RunEvent, DatasetEvent or JobEvent of the 2-0-x spec (as a "
            "client's HttpTransport sends it, gzipped or not), a JSON array of them, or JSON "
            "Lines. Every event is checked against the spec's JSON Schemas first: one that "
            "fails is `400` naming its JSON path, and nothing is stored. Each event is stored "
            "verbatim as a message, sealed, recording the credential that sent it; a "
            "producer credential speaks for the job namespaces it names.",
            body=Body(
                ("application/json", "application/jsonl", "application/x-ndjson"),
                schema={"type": ["object", "array"]},
            ),
            replies=(
                Reply(201, "stored", JSON, ref("LineageOutcome"), ("Location",)),
                Reply(
                    200, "every event was stored before: nothing new", JSON, ref("LineageOutcome")
                ),
            ),
            errors=(400, 401, 403, 413, 422),
            security=SUBMITTER,
        ),
        ("GET", "/api/v1/lineage"): Operation(
            "The lineage graph around a job or dataset (Marquez's LineageGraph)",
            params=(
                Param(
                    "nodeId",
                    "job:{namespace}:{name} or dataset:{namespace}:{name}",
                    required=True,
                ),
                Param("depth", "how many hops from the node (0–100; 20)", schema=INTEGER),
            ),
            replies=(
                ok(
                    "the graph",
                    JSON,
                    schema={
                        "type": "object",
                        "properties": {"graph": {"type": "array", "items": ref("MarquezNode")}},
                    },
                ),
            ),
            errors=(400, 404),
            security=ANYONE,
        ),
        ("GET", "/api/v1/namespaces"): Operation(
            "Every namespace of a job or dataset (Marquez's NamespaceList)",
            params=_PAGE,
            replies=(
                ok(
                    "the namespaces",
                    JSON,
                    schema={
                        "type": "object",
                        "properties": {
                            "namespaces": {"type": "array", "items": ref("MarquezNamespace")}
                        },
                    },
                ),
            ),
            errors=(400,),
            security=ANYONE,
        ),
        ("GET", "/api/v1/namespaces/{namespace:path}/jobs"): Operation(
            "The namespace's jobs, each with its latest run (Marquez's JobList)",
            params=(_NS, *_PAGE),
            replies=(ok("the jobs", JSON, schema=_list("jobs", "MarquezJob")),),
            errors=(400, 404),
            security=ANYONE,
        ),
        ("GET", "/api/v1/namespaces/{namespace:path}/jobs/{job:path}/runs"): Operation(
            "The job's runs, newest first (Marquez's RunList)",
            params=(_NS, Param("job", "the job's name", where="path"), *_PAGE),
            replies=(ok("the runs", JSON, schema=_list("runs", "MarquezRun")),),
            errors=(400, 404),
            security=ANYONE,
        ),
        ("GET", "/api/v1/namespaces/{namespace:path}/datasets"): Operation(
            "The namespace's datasets (Marquez's DatasetList)",
            params=(_NS, *_PAGE),
            replies=(ok("the datasets", JSON, schema=_list("datasets", "MarquezDataset")),),
            errors=(400, 404),
            security=ANYONE,
        ),
    },
    schemas={
        "LineageOutcome": OUTCOMES,
        "MarquezRun": RUN,
        "MarquezJob": JOB,
        "MarquezDataset": DATASET,
        "MarquezNamespace": NAMESPACE,
        "MarquezNode": NODE,
    },
)
