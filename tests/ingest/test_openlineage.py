"""OpenLineage events read into messages: checked by the spec's schemas, mapped, redacted,
loaded from JSON Lines, traced by run UUID and dataset."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from jobtrail.base import nt
from jobtrail.base.errors import InputError
from jobtrail.ingest.load import Loader
from jobtrail.ingest.message import Incoming
from jobtrail.ingest.read import read_message
from jobtrail.ingest.sources import from_paths
from jobtrail.queries.trace import trace
from jobtrail.store.oxigraph import OxigraphStore

BASE = "http://127.0.0.1:8000/"
JT = "https://w3id.org/jobtrail/vocab#"
PROV = "http://www.w3.org/ns/prov#"
SPEC = "https://openlineage.io/spec"
PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.54.0/client/python"
PARENT = "0b3c4f3a-7d2e-4c1a-9f00-000000000001"
CHILD = "0b3c4f3a-7d2e-4c1a-9f00-000000000002"
READER = "0b3c4f3a-7d2e-4c1a-9f00-000000000003"


def facet(kind: str, spec: str, **fields: Any) -> dict[str, Any]:
    url = f"{SPEC}/facets/{spec}/{kind}.json#/$defs/{kind}"
    return {"_producer": PRODUCER, "_schemaURL": url, **fields}


def event(
    run_id: str,
    event_type: str = "START",
    *,
    job: str = "etl.step",
    inputs: list[str] = (),  # type: ignore[assignment]
    outputs: list[str] = (),  # type: ignore[assignment]
    parent: str | None = PARENT,
    **run_facets: Any,
) -> dict[str, Any]:
    facets = dict(run_facets)
    if parent:
        facets["parent"] = facet(
            "ParentRunFacet",
            "1-1-0",
            run={"runId": parent},
            job={"namespace": "pipelines", "name": "etl"},
        )
    return {
        "eventType": event_type,
        "eventTime": "2026-12-07T10:00:00.000Z",
        "run": {"runId": run_id, "facets": facets},
        "job": {"namespace": "pipelines", "name": job, "facets": {}},
        "inputs": [{"namespace": "s3://lake", "name": n} for n in inputs],
        "outputs": [{"namespace": "s3://lake", "name": n} for n in outputs],
        "producer": PRODUCER,
        "schemaURL": f"{SPEC}/2-0-2/OpenLineage.json#/$defs/RunEvent",
    }


def read(doc: dict[str, Any]) -> Any:
    data = json.dumps(doc).encode()
    return read_message(Incoming(data, "event.json"), base=BASE, stored_at=nt.now())


def objects(message: Any, predicate: str) -> list[str]:
    return [nt.parse_term(o)[1] for _, p, o in message.all_triples() if p == f"<{predicate}>"]


def test_a_run_event_is_a_run_with_its_job_datasets_parent_error_and_versions() -> None:
    doc = event(
        CHILD,
        "FAIL",
        inputs=["raw/a.csv"],
        outputs=["clean/a.parquet"],
        errorMessage=facet(
            "ErrorMessageRunFacet", "1-0-1", message="disk full", programmingLanguage="python"
        ),
        processing_engine=facet("ProcessingEngineRunFacet", "1-1-1", name="Airflow", version="2.9"),
    )
    m = read(doc)
    assert m.kind == "OpenLineageRunEvent"
    run = f"{BASE}openlineage/runs/{CHILD}"
    assert objects(m, f"{JT}openLineageRun") == [run]
    assert objects(m, f"{JT}eventStatus") == ["https://w3id.org/jobtrail/status/openlineage/FAIL"]
    assert objects(m, f"{PROV}endedAtTime") == ["2026-12-07T10:00:00.000Z"]
    assert objects(m, f"{PROV}startedAtTime") == []
    assert objects(m, f"{PROV}wasInformedBy") == [f"{BASE}openlineage/runs/{PARENT}"]
    assert objects(m, f"{PROV}used") == [f"{BASE}openlineage/datasets/s3%3A%2F%2Flake/raw%2Fa.csv"]
    assert objects(m, f"{JT}runOf") == [f"{BASE}openlineage/jobs/pipelines/etl.step"]
    assert objects(m, f"{JT}errorMessage") == ["disk full"]
    assert set(objects(m, f"{JT}softwareName")) == {"Airflow", PRODUCER}
    assert "1.54.0" in objects(m, f"{JT}version")
    assert objects(m, f"{JT}addedUUID") == [f"urn:uuid:{CHILD}"]
    assert set(objects(m, f"{JT}carriesUUID")) == {f"urn:uuid:{CHILD}", f"urn:uuid:{PARENT}"}
    assert m.producer_names == frozenset({"pipelines"})
    assert m.notes == []


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda d: d.update(eventType="FINISHED"), "$.eventType"),
        (lambda d: d["run"].update(runId="not-a-uuid"), "$.run.runId"),
        (lambda d: d["job"].pop("name"), "$.job"),
        (lambda d: d.pop("producer"), "$"),
        (
            lambda d: d["run"]["facets"].update(
                errorMessage=facet("ErrorMessageRunFacet", "1-0-1", message="no language")
            ),
            "$.run.facets.errorMessage",
        ),
    ],
)
def test_an_invalid_event_is_refused_naming_the_path_and_the_schemas_message(
    change: Any, path: str
) -> None:
    doc = event(CHILD)
    change(doc)
    with pytest.raises(InputError) as caught:
        read(doc)
    assert caught.value.status == 400
    assert caught.value.details["path"] == path
    assert caught.value.details["schemaMessage"] in caught.value.message


def test_an_unknown_facet_is_kept_verbatim_with_a_note() -> None:
    custom = {"_producer": PRODUCER, "_schemaURL": "https://acme.example/Cost.json", "eur": 3.5}
    m = read(event(CHILD, acme_cost=custom))
    assert any("acme_cost" in n and "kept as JSON" in n for n in m.notes)
    assert custom in [json.loads(v) for v in objects(m, f"{JT}value")]


def test_secrets_in_environment_variables_and_urls_are_never_stored() -> None:
    env = facet(
        "EnvironmentVariablesRunFacet",
        "1-0-1",
        environmentVariables=[
            {"name": "DB_PASSWORD", "value": "hunter2"},
            {"name": "REGION", "value": "eu-west-2"},
        ],
    )
    doc = event(CHILD, environmentVariables=env)
    doc["inputs"] = [{"namespace": "postgres://app:s3cret@db:5432", "name": "public.orders"}]
    m = read(doc)
    text = " ".join(o for _, _, o in m.all_triples())
    assert "hunter2" not in text and "s3cret" not in text
    assert "eu-west-2" in text
    assert any("DB_PASSWORD" in n for n in m.notes)


def test_dataset_and_job_events_are_read() -> None:
    dataset = {
        "eventTime": "2026-12-07T10:00:00Z",
        "dataset": {"namespace": "s3://lake", "name": "raw/a.csv", "facets": {}},
        "producer": PRODUCER,
        "schemaURL": f"{SPEC}/2-0-2/OpenLineage.json#/$defs/DatasetEvent",
    }
    assert read(dataset).kind == "OpenLineageDatasetEvent"
    job = {
        "eventTime": "2026-12-07T10:00:00Z",
        "job": {"namespace": "pipelines", "name": "etl"},
        "inputs": [{"namespace": "s3://lake", "name": "raw/a.csv"}],
        "producer": PRODUCER,
        "schemaURL": f"{SPEC}/2-0-2/OpenLineage.json#/$defs/JobEvent",
    }
    assert read(job).kind == "OpenLineageJobEvent"


def test_json_lines_of_events_load_sealed_and_trace_by_run_and_dataset(tmp_path: Path) -> None:
    events = [
        event(PARENT, parent=None, job="etl"),
        event(CHILD, outputs=["clean/a.parquet"]),
        event(CHILD, "COMPLETE", outputs=["clean/a.parquet"]),
        # another pipeline's run reads what CHILD wrote: a hand-off by dataset
        event(READER, parent=None, job="report", inputs=["clean/a.parquet"]),
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    store = OxigraphStore(None)
    report = Loader(store, base=BASE).load(from_paths([str(path)]))
    assert (report.stored, report.rejected) == (4, [])
    assert bool(store.query(f"ASK {{ GRAPH ?m {{ ?m <{JT}logPosition> ?n }} }}"))
    chain = trace(store, PARENT)
    assert len(chain.hops) == 4  # the parent, the child's two events, the reader by dataset
    child_events = [h for h in chain.hops if h.added == f"urn:uuid:{CHILD}"]
    parent_events = [h.iri for h in chain.hops if h.added == f"urn:uuid:{PARENT}"]
    assert all(h.informed_by == parent_events for h in child_events)
    # the same event again is stored once; a modified copy is a new message
    again = Loader(store, base=BASE).load(from_paths([str(path)]))
    assert (again.stored, again.duplicates) == (0, 4)
    # a .json file holding an array of events: each a message of its own
    array = tmp_path / "export.json"
    array.write_text(json.dumps([event(str(uuid.uuid4()), parent=None) for _ in range(3)]))
    exported = Loader(store, base=BASE).load(from_paths([str(array)]))
    assert (exported.stored, exported.rejected) == (3, [])
    retried = copy.deepcopy(events[1])
    retried["eventTime"] = "2026-12-07T10:05:00Z"
    assert Loader(store, base=BASE).load([Incoming(json.dumps(retried).encode(), "x")]).stored == 1
