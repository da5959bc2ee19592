"""OpenLineage in, against a real server: the openlineage-python client's HttpTransport sends a
pipeline (a parent run, three child runs over four datasets, one failing and retried); its
trace, its dataset lineage, its PROV, the auditor queries and Marquez's read API."""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import jsonschema
import pytest
import yaml
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import (
    InputDataset,
    Job,
    OutputDataset,
    Run,
    RunEvent,
    RunState,
)
from openlineage.client.facet_v2 import (
    error_message_run,
    parent_run,
    processing_engine_run,
)
from openlineage.client.transport.http import (
    ApiKeyTokenProvider,
    HttpConfig,
    HttpTransport,
)

from tests.conftest import PRODUCER, PRODUCER_TOKEN, TDR_TOKEN, jobtrail_server

MARQUEZ = Path(__file__).parents[2] / "data" / "marquez" / "openapi.yml"


def marquez(document: Any, name: str) -> None:
    """`document` is valid as Marquez's own OpenAPI description says (its `components/schemas`
    `name`). Marquez writes a field it has no value for as null, which its description (no
    `nullable`) does not say: a null counts as the field not given."""

    def given(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: given(v) for k, v in value.items() if v is not None}
        if isinstance(value, list):
            return [given(v) for v in value]
        return value

    spec = yaml.safe_load(MARQUEZ.read_text("utf-8"))
    document = given(document)
    if name == "LineageGraph":  # a node's data: the schema its type names (a discriminator)
        for node in document["graph"]:
            marquez(node.pop("data"), {"JOB": "Job", "DATASET": "Dataset"}[node["type"]])
    if name == "RunList":  # a Run is anyOf (IncompleteRun, …): hold each to both
        for run in document["runs"]:
            marquez(run, "IncompleteRun")
    schema = {"components": spec["components"], "$ref": f"#/components/schemas/{name}"}
    jsonschema.Draft4Validator(schema).validate(document)


NS = "pipelines"
LAKE = "s3://lake"
START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@dataclass
class Pipeline:
    base: str
    parent: str
    extract: str
    transform_failed: str
    transform: str
    load: str
    responses: list[int]


def dataset_iri(base: str, name: str) -> str:
    return f"{base}openlineage/datasets/{quote(LAKE, safe='')}/{quote(name, safe='')}"


def send(base: str, token: str = PRODUCER_TOKEN) -> tuple[OpenLineageClient, list[int]]:
    """A client as a pipeline would configure it; the statuses it got back."""
    auth = ApiKeyTokenProvider({"apiKey": token})
    transport = HttpTransport(HttpConfig(url=base, auth=auth))
    statuses: list[int] = []
    real = transport.emit

    def emit(event: Any) -> Any:
        response = real(event)
        statuses.append(response.status_code)
        return response

    transport.emit = emit  # type: ignore[method-assign]
    return OpenLineageClient(transport=transport), statuses


def run_events(
    client: OpenLineageClient,
    run_id: str,
    job: str,
    minute: int,
    end: RunState,
    inputs: list[str],
    outputs: list[str],
    parent: str | None,
    error: str | None = None,
) -> None:
    facets: dict[str, Any] = {
        "processing_engine": processing_engine_run.ProcessingEngineRunFacet(
            version="2.9.1", name="Airflow", openlineageAdapterVersion="1.54.0"
        )
    }
    if parent:
        facets["parent"] = parent_run.ParentRunFacet(
            run=parent_run.Run(runId=parent), job=parent_run.Job(namespace=NS, name="etl")
        )
    ins = [InputDataset(namespace=LAKE, name=n) for n in inputs]
    outs = [OutputDataset(namespace=LAKE, name=n) for n in outputs]
    for state, offset in ((RunState.START, 0), (end, 1)):
        these = dict(facets)
        if state is RunState.FAIL and error:
            these["errorMessage"] = error_message_run.ErrorMessageRunFacet(
                message=error, programmingLanguage="python"
            )
        client.emit(
            RunEvent(
                eventType=state,
                eventTime=(START + timedelta(minutes=minute + offset)).isoformat(),
                run=Run(runId=run_id, facets=these),
                job=Job(namespace=NS, name=job),
                producer="https://github.com/acme/etl/tree/3.1.0/dags",
                inputs=ins,
                outputs=outs,
            )
        )


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    data = tmp_path_factory.mktemp("openlineage") / "data"
    with jobtrail_server(data) as base:
        client, statuses = send(base)
        ids = [str(uuid.uuid4()) for _ in range(5)]
        parent, extract, failed, transform, load = ids
        client.emit(
            RunEvent(
                eventType=RunState.START,
                eventTime=START.isoformat(),
                run=Run(runId=parent),
                job=Job(namespace=NS, name="etl"),
                producer="https://github.com/acme/etl/tree/3.1.0/dags",
            )
        )
        run_events(
            client, extract, "etl.extract", 1, RunState.COMPLETE, ["raw/orders.csv"],
            ["staging/orders"], parent,
        )  # fmt: skip
        run_events(
            client, failed, "etl.transform", 3, RunState.FAIL, ["staging/orders"],
            ["clean/orders"], parent, error="KeyError: 'amount'",
        )  # fmt: skip
        run_events(
            client, transform, "etl.transform", 5, RunState.COMPLETE, ["staging/orders"],
            ["clean/orders"], parent,
        )  # fmt: skip
        run_events(
            client, load, "etl.load", 7, RunState.COMPLETE, ["clean/orders"],
            ["warehouse/orders"], parent,
        )  # fmt: skip
        client.emit(
            RunEvent(
                eventType=RunState.COMPLETE,
                eventTime=(START + timedelta(minutes=9)).isoformat(),
                run=Run(runId=parent),
                job=Job(namespace=NS, name="etl"),
                producer="https://github.com/acme/etl/tree/3.1.0/dags",
            )
        )
        yield Pipeline(base, parent, extract, failed, transform, load, statuses)


def get(p: Pipeline, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(p.base.rstrip("/") + path, timeout=60, **kwargs)


def test_the_client_gets_201_for_every_event(pipeline: Pipeline) -> None:
    assert pipeline.responses == [201] * 10


def test_the_trace_of_the_parent_run_holds_every_run_linked_by_uuid(pipeline: Pipeline) -> None:
    hops = get(pipeline, f"/trace/{pipeline.parent}").json()["hops"]
    added = [h["addedUUID"] for h in hops]
    assert len(hops) == 10
    for run_id in (pipeline.extract, pipeline.transform_failed, pipeline.transform):
        assert added.count(f"urn:uuid:{run_id}") == 2
    parents = {h["message"] for h in hops if h["addedUUID"] == f"urn:uuid:{pipeline.parent}"}
    children = [h for h in hops if h["addedUUID"] != f"urn:uuid:{pipeline.parent}"]
    assert all(set(h["informedBy"]) == parents for h in children)
    failed = [h for h in hops if h["errors"]]
    assert [h["errors"] for h in failed] == [["KeyError: 'amount'"]]
    assert failed[0]["addedUUID"] == f"urn:uuid:{pipeline.transform_failed}"
    assert {"name": "Airflow", "version": "2.9.1"} in hops[1]["softwareVersions"]
    assert all(h["kind"] == "OpenLineageRunEvent" for h in hops)
    # a child's own trace reaches its siblings through the parent and the datasets
    assert len(get(pipeline, f"/trace/{pipeline.load}").json()["hops"]) == 10


def test_the_trace_as_prov_has_the_runs_and_their_informants(pipeline: Pipeline) -> None:
    answer = get(pipeline, f"/trace/{pipeline.parent}.provjson")
    assert answer.status_code == 200
    prov = answer.json()
    assert len(prov["entity"]) >= 10 and prov["wasInformedBy"]
    turtle = get(pipeline, f"/trace/{pipeline.parent}", headers={"Accept": "text/turtle"}).text
    assert "prov:wasInformedBy" in turtle or "wasInformedBy" in turtle


def query(p: Pipeline, name: str, **params: str) -> list[dict[str, str]]:
    answer = get(
        p,
        f"/queries/{name}",
        params=params,
        headers={"Accept": "application/sparql-results+json"},
    )
    assert answer.status_code == 200, answer.text
    return [{k: v["value"] for k, v in row.items()} for row in answer.json()["results"]["bindings"]]


def test_the_dataset_lineage_has_upstream_and_downstream_runs_with_versions(
    pipeline: Pipeline,
) -> None:
    found = query(pipeline, "dataset-lineage", dataset=dataset_iri(pipeline.base, "clean/orders"))
    up = {r["runId"]: r for r in found if r["direction"] == "upstream"}
    down = {r["runId"]: r for r in found if r["direction"] == "downstream"}
    # written by both transform runs (one failed), which read what extract wrote
    assert set(up) == {pipeline.transform_failed, pipeline.transform, pipeline.extract}
    assert set(down) == {pipeline.load}
    assert up[pipeline.transform_failed]["errors"] == "KeyError: 'amount'"
    assert "FAIL" in up[pipeline.transform_failed]["events"].split()
    assert "Airflow 2.9.1" in up[pipeline.transform]["versions"].split(" | ")
    assert up[pipeline.extract]["jobLabel"] == f"{NS}:etl.extract"


def test_a_datasets_page_links_its_lineage_page(pipeline: Pipeline) -> None:
    iri = dataset_iri(pipeline.base, "clean/orders")
    page = get(
        pipeline, iri.removeprefix(pipeline.base.rstrip("/")), headers={"Accept": "text/html"}
    )
    assert page.status_code == 200
    # the runs that wrote and read it link to it; its lineage is a link away
    for run_id in (pipeline.transform_failed, pipeline.transform, pipeline.load):
        assert run_id in page.text
    lineage = f"/queries/dataset-lineage?dataset={quote(iri, safe='')}"
    assert f'href="{lineage}"' in page.text.replace("&amp;", "&")
    table = get(pipeline, lineage, headers={"Accept": "text/html"})
    assert table.status_code == 200
    for run_id in (pipeline.extract, pipeline.transform_failed, pipeline.load):
        assert run_id in table.text
    assert "Airflow 2.9.1" in table.text and "KeyError" in table.text


def test_the_auditor_queries_cover_openlineage_runs(pipeline: Pipeline) -> None:
    errors = query(pipeline, "errors-by-producer", producer=NS)
    assert [(r["producer"], r["errors"], r["messages"]) for r in errors] == [(NS, "1", "10")]
    assert errors[0]["example"] == "KeyError: 'amount'"
    days = query(pipeline, "throughput-per-producer-per-day", producer=NS)
    assert [(r["day"], r["messages"], r["failed"]) for r in days] == [("2026-12-07", "10", "1")]
    retried = query(pipeline, "retries", reference=f"{NS}:etl.transform")
    assert [(r["position"], r["retries"], r["cause"], r["causeFrom"]) for r in retried] == [
        ("2", "1", "KeyError: 'amount'", "previous hop")
    ]
    # no other job of the pipeline was retried (the server holds the seeds' TRE retries too)
    everywhere = query(pipeline, "retries")
    assert [r["reference"] for r in everywhere if r["reference"].startswith(NS)] == [
        f"{NS}:etl.transform"
    ]
    versions = query(pipeline, "software-versions", uuid=pipeline.parent)
    software = {(r["software"], r.get("version", "")) for r in versions}
    assert ("Airflow", "2.9.1") in software
    assert ("https://github.com/acme/etl/tree/3.1.0/dags", "3.1.0") in software


def test_marquez_namespaces_jobs_runs_and_datasets(pipeline: Pipeline) -> None:
    listed = get(pipeline, "/api/v1/namespaces").json()
    marquez(listed, "NamespaceList")
    namespaces = listed["namespaces"]
    assert {n["name"] for n in namespaces} >= {NS, LAKE}
    assert all({"name", "createdAt", "updatedAt", "ownerName"} <= n.keys() for n in namespaces)
    jobs = get(pipeline, f"/api/v1/namespaces/{NS}/jobs").json()
    marquez(jobs, "JobList")
    assert jobs["totalCount"] == 4
    by_name = {j["name"]: j for j in jobs["jobs"]}
    transform = by_name["etl.transform"]
    assert transform["id"] == {"namespace": NS, "name": "etl.transform"}
    assert transform["inputs"] == [{"namespace": LAKE, "name": "staging/orders"}]
    assert transform["outputs"] == [{"namespace": LAKE, "name": "clean/orders"}]
    assert transform["latestRun"]["id"] == pipeline.transform
    assert transform["latestRun"]["state"] == "COMPLETED"
    assert transform["parentJobName"] == "etl"
    runs = get(pipeline, f"/api/v1/namespaces/{NS}/jobs/etl.transform/runs").json()
    marquez(runs, "RunList")
    assert [r["id"] for r in runs["runs"]] == [pipeline.transform, pipeline.transform_failed]
    failed = runs["runs"][1]
    assert failed["state"] == "FAILED" and failed["durationMs"] == 60_000
    assert failed["facets"]["errorMessage"]["message"] == "KeyError: 'amount'"
    assert failed["startedAt"] < failed["endedAt"]
    datasets = get(pipeline, f"/api/v1/namespaces/{quote(LAKE, safe='')}/datasets").json()
    marquez(datasets, "DatasetList")
    assert datasets["totalCount"] == 4
    assert {d["name"] for d in datasets["datasets"]} == {
        "raw/orders.csv",
        "staging/orders",
        "clean/orders",
        "warehouse/orders",
    }
    assert get(pipeline, "/api/v1/namespaces/nope/jobs").status_code == 404


def test_marquez_lineage_graph(pipeline: Pipeline) -> None:
    answer = get(pipeline, "/api/v1/lineage", params={"nodeId": f"dataset:{LAKE}:clean/orders"})
    marquez(answer.json(), "LineageGraph")
    graph = answer.json()["graph"]
    ids = {n["id"] for n in graph}
    assert f"job:{NS}:etl.transform" in ids and f"job:{NS}:etl.load" in ids
    assert f"dataset:{LAKE}:raw/orders.csv" in ids  # two hops up
    node = next(n for n in graph if n["id"] == f"dataset:{LAKE}:clean/orders")
    assert node["type"] == "DATASET"
    assert node["inEdges"] == [
        {"origin": f"job:{NS}:etl.transform", "destination": f"dataset:{LAKE}:clean/orders"}
    ]
    shallow = get(
        pipeline,
        "/api/v1/lineage",
        params={"nodeId": f"dataset:{LAKE}:clean/orders", "depth": "1"},
    ).json()["graph"]
    assert len(shallow) == 3  # the dataset, the job writing it and the one reading it
    missing = get(pipeline, "/api/v1/lineage", params={"nodeId": "job:x:y"})
    assert missing.status_code == 404


def event(run_id: str, **more: Any) -> dict[str, Any]:
    return {
        "eventType": "START",
        "eventTime": "2026-12-07T12:00:00Z",
        "run": {"runId": run_id, "facets": {}},
        "job": {"namespace": NS, "name": "probe"},
        "producer": "https://example.org/probe",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        **more,
    }


def post(p: Pipeline, body: Any, token: str | None = PRODUCER_TOKEN, **kw: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    headers.update(kw.pop("headers", {}))
    url = p.base + "api/v1/lineage"
    if isinstance(body, bytes):
        return httpx.post(url, content=body, headers=headers, timeout=60, **kw)
    return httpx.post(url, json=body, headers=headers, timeout=60, **kw)


def stats(p: Pipeline) -> int:
    return len(query(p, "messages-by-producer"))


def test_an_invalid_event_is_400_naming_it_and_nothing_is_stored(pipeline: Pipeline) -> None:
    before = get(pipeline, "/api/v1/namespaces").json()
    good = event(str(uuid.uuid4()))
    bad = event(str(uuid.uuid4()), eventType="DONE")
    answer = post(pipeline, [good, bad])
    assert answer.status_code == 400
    problem = answer.json()
    assert problem["path"] == "$.eventType" and "DONE" in problem["detail"]
    assert "[1]" in problem["location"]
    assert post(pipeline, {"hello": "world"}).status_code == 400
    assert get(pipeline, f"/trace/{good['run']['runId']}").status_code == 404
    assert get(pipeline, "/api/v1/namespaces").json() == before


def test_posting_needs_a_producer_credential_for_the_namespace(pipeline: Pipeline) -> None:
    assert post(pipeline, event(str(uuid.uuid4())), token=None).status_code == 401
    refused = post(pipeline, event(str(uuid.uuid4())), token=TDR_TOKEN)
    assert refused.status_code == 403 and NS in refused.json()["detail"]


def test_batches_gzip_and_unknown_facets_kept_verbatim(pipeline: Pipeline) -> None:
    custom = {"_producer": "https://acme.example", "_schemaURL": "https://acme.example/C.json"}
    custom["eur"] = 3.25  # type: ignore[assignment]
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    lines = b"\n".join(
        json.dumps(event(r, run={"runId": r, "facets": {"acme_cost": custom}})).encode()
        for r in (first, second)
    )
    answer = post(
        pipeline,
        gzip.compress(lines),
        headers={"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"},
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["stored"] == 2
    message = answer.json()["events"][0]["message"]
    stored = get(
        pipeline, message.removeprefix(pipeline.base.rstrip("/")), headers={"Accept": "text/turtle"}
    )
    assert "acme_cost" in stored.text
    runs = get(pipeline, f"/api/v1/namespaces/{NS}/jobs/probe/runs").json()["runs"]
    kept = {r["id"]: r["facets"] for r in runs}
    assert kept[first]["acme_cost"] == custom
    again = post(pipeline, lines, headers={"Content-Type": "application/x-ndjson"})
    assert (again.status_code, again.json()["duplicates"]) == (200, 2)


def test_the_messages_are_sealed(pipeline: Pipeline, tmp_path: Path) -> None:
    hops = get(pipeline, f"/trace/{pipeline.parent}").json()["hops"]
    proof = get(pipeline, "/log/proof/inclusion", params={"record": hops[0]["message"]})
    assert proof.status_code == 200, proof.text
    assert proof.json()["record"] == hops[0]["message"]
    assert (
        PRODUCER["Authorization"]
        not in get(
            pipeline,
            hops[0]["message"].removeprefix(pipeline.base.rstrip("/")),
            headers={"Accept": "text/turtle"},
        ).text
    )
