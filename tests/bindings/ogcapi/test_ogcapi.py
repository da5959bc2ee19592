"""OGC API - Processes 1.0 against a real server: OWSLib drives the landing page,
conformance, processes, an asynchronous execution to its results and its dismissal; every
JSON document read through `client` is validated against the standard's schemas
(conftest.py); a job made here reads the same at /jobs/{id}, in UWS, MCMA and SPARQL."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from jobtrail.base.terms import JT
from openapi_spec_validator import OpenAPIV30SpecValidator
from owslib.ogcapi.processes import Processes

from tests.bindings.ogcapi.conftest import validate

SPARQL = {"Accept": "application/sparql-results+json"}
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
EXCEPTIONS = "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/"
ASYNC = {"Prefer": "respond-async"}


def status_of(client: httpx.Client, job_id: str) -> dict[str, Any]:
    answer = client.get(f"/ogcapi/jobs/{job_id}")
    assert answer.status_code == 200, answer.text
    info: dict[str, Any] = answer.json()
    return info


def wait_status(client: httpx.Client, job_id: str, seconds: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while (info := status_of(client, job_id))["status"] in ("accepted", "running"):
        assert time.monotonic() < deadline, f"job {job_id} stayed {info['status']}"
        time.sleep(0.2)
    return info


def execute(client: httpx.Client, inputs: dict[str, Any], **headers: str) -> httpx.Response:
    return client.post(
        "/ogcapi/processes/Fixity/execution", json={"inputs": inputs}, headers=headers
    )


# --- OWSLib ------------------------------------------------------------------------------


def test_owslib_runs_a_job_from_the_landing_page_to_its_dismissal(
    ogc_served: str, inputs: dict[str, str], client: httpx.Client
) -> None:
    api = Processes(f"{ogc_served}ogcapi/")  # the constructor reads the landing page as JSON
    validate(api.response, "landingPage.yaml")
    rels = {link["rel"] for link in api.links}
    assert {"self", "service-desc", "conformance"} <= rels
    definition = api.api()  # the service-desc link OWSLib looks for: OpenAPI 3.0
    OpenAPIV30SpecValidator(definition).validate()
    assert "/ogcapi/processes/{id}/execution" in definition["paths"]
    assert not [p for p in definition["paths"] if not p.startswith("/ogcapi")]
    conformance = api.conformance()
    validate(conformance, "confClasses.yaml")
    core = "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/"
    assert {
        core + c for c in ("core", "ogc-process-description", "json", "job-list", "dismiss")
    } <= set(conformance["conformsTo"])
    listed = api.processes()
    assert {"Fixity", "DocumentToText"} <= {p["id"] for p in listed}
    fixity = api.process("Fixity")
    validate(fixity, "process.yaml")
    assert set(fixity["jobControlOptions"]) >= {"sync-execute", "async-execute", "dismiss"}
    assert fixity["inputs"]["input"]["minOccurs"] == 1
    assert fixity["inputs"]["algorithm"]["minOccurs"] == 0  # the profile's declared parameters
    assert fixity["inputs"]["expected"]["schema"] == {"type": "string"}
    # asynchronous execution: 201, Location and Preference-Applied
    created = api.execute("Fixity", {"input": inputs["good"]}, async_=True)
    validate(created, "statusInfo.yaml")
    headers = api.response_headers
    assert headers is not None and headers["Preference-Applied"] == "respond-async"
    job_id = created["jobID"]
    assert headers["Location"] == f"{ogc_served}ogcapi/jobs/{job_id}"
    assert created["status"] in ("accepted", "running", "successful")
    # status polling, through OWSLib's own request helper, to successful
    deadline = time.monotonic() + 30
    while (info := api._request(path=f"jobs/{job_id}"))["status"] != "successful":
        assert info["status"] in ("accepted", "running"), info
        assert time.monotonic() < deadline
        time.sleep(0.2)
    validate(info, "statusInfo.yaml")
    assert {"created", "started", "finished", "updated"} <= set(info)
    by_rel = {link["rel"]: link["href"] for link in info["links"]}
    assert by_rel["canonical"] == f"{ogc_served}jobs/{job_id}"
    results_rel = "http://www.opengis.net/def/rel/ogc/1.0/results"
    assert by_rel[results_rel] == f"{ogc_served}ogcapi/jobs/{job_id}/results"
    results = api._request(path=f"jobs/{job_id}/results")
    validate(results, "results.yaml")
    assert results["fixity.json"]["href"] == f"{ogc_served}jobs/{job_id}/results/fixity.json"
    assert results["results"]["href"] == f"{ogc_served}jobs/{job_id}/results"
    assert httpx.get(results["fixity.json"]["href"]).json()  # the file, at the canonical IRI
    # dismiss: an ended job is deleted with its results, then unknown here
    dismissed = api._request(method="DELETE", path=f"jobs/{job_id}")
    assert dismissed["status"] == "dismissed"
    gone = client.get(f"/ogcapi/jobs/{job_id}")
    assert gone.status_code == 404 and gone.json()["type"] == EXCEPTIONS + "no-such-job"
    assert client.get(f"/jobs/{job_id}").status_code == 410  # its history stays


def test_a_bad_input_fails_the_job_with_the_exception(
    client: httpx.Client, inputs: dict[str, str]
) -> None:
    created = execute(client, {"input": {"href": inputs["missing"]}}, **ASYNC)
    assert created.status_code == 201, created.text
    info = wait_status(client, created.json()["jobID"])
    assert info["status"] == "failed"
    assert info["exception"]["title"] == "InputUnavailable"
    assert "404" in info["message"] or "no-such-file" in info["message"]
    results = client.get(f"/ogcapi/jobs/{info['jobID']}/results")
    assert results.status_code == 424
    assert results.json()["type"].endswith("/InputUnavailable")


def test_a_synchronous_execution_answers_the_results(
    client: httpx.Client, inputs: dict[str, str]
) -> None:
    answer = execute(client, {"input": inputs["good"], "algorithm": "sha256"})
    assert answer.status_code == 200, answer.text
    assert "fixity.json" in answer.json()
    job_id = answer.headers["location"].rsplit("/", 1)[-1]
    assert status_of(client, job_id)["status"] == "successful"
    raw = client.post(
        "/ogcapi/processes/Fixity/execution",
        json={"inputs": {"input": inputs["good"]}, "response": "raw"},
    )
    assert raw.status_code == 200 and raw.headers["content-type"].startswith("application/json")
    assert raw.json()  # the one result file itself
    failed = execute(client, {"input": inputs["missing"]})
    assert failed.status_code == 424 and failed.json()["type"].endswith("/InputUnavailable")


def test_dismissing_a_job_not_yet_run_aborts_it(
    client: httpx.Client, inputs: dict[str, str], ogc_served: str
) -> None:
    slow = inputs["good"].replace("/ogc/input.txt", "/ogc/input.txt?delay=3")
    created = execute(client, {"input": slow}, **ASYNC).json()
    dismissed = client.delete(f"/ogcapi/jobs/{created['jobID']}")
    assert dismissed.status_code == 200 and dismissed.json()["status"] == "dismissed"
    assert status_of(client, created["jobID"])["status"] == "dismissed"
    phase = httpx.get(f"{ogc_served}uws/Fixity/{created['jobID']}/phase").text.strip()
    assert phase == "ABORTED"
    not_ready = client.get(f"/ogcapi/jobs/{created['jobID']}/results")
    assert not_ready.status_code == 404
    assert not_ready.json()["type"] == EXCEPTIONS + "result-not-ready"


# --- the jobs list ------------------------------------------------------------------------


def test_the_job_list_filters_and_pages(client: httpx.Client, inputs: dict[str, str]) -> None:
    ids = [execute(client, {"input": inputs["good"]}, **ASYNC).json()["jobID"] for _ in range(3)]
    for job_id in ids:
        wait_status(client, job_id)
    page = client.get("/ogcapi/jobs", params={"limit": 2, "processID": "Fixity"}).json()
    assert len(page["jobs"]) == 2 and page["jobs"][0]["jobID"] == ids[-1]
    following = next(link["href"] for link in page["links"] if link["rel"] == "next")
    rest = client.get(following).json()
    assert rest["jobs"][0]["jobID"] == ids[0]
    done = client.get("/ogcapi/jobs", params={"status": "successful", "limit": 1000}).json()
    assert set(ids) <= {j["jobID"] for j in done["jobs"]}
    assert all(j["status"] == "successful" for j in done["jobs"])
    none = client.get("/ogcapi/jobs", params={"processID": "DocumentToText"}).json()
    assert not set(ids) & {j["jobID"] for j in none["jobs"]}
    early = client.get("/ogcapi/jobs", params={"datetime": "../2001-01-01T00:00:00Z"}).json()
    assert early["jobs"] == []
    since = client.get("/ogcapi/jobs", params={"datetime": "2001-01-01T00:00:00Z/.."}).json()
    assert ids[-1] in {j["jobID"] for j in since["jobs"]}
    long = client.get("/ogcapi/jobs", params={"minDuration": 3600}).json()
    assert long["jobs"] == []
    short = client.get("/ogcapi/jobs", params={"maxDuration": 3600, "limit": 1000}).json()
    assert set(ids) <= {j["jobID"] for j in short["jobs"]}


@pytest.mark.parametrize(
    ("path", "params", "says"),
    [
        ("/ogcapi/jobs", {"status": "napping"}, "napping"),
        ("/ogcapi/jobs", {"limit": "many"}, "limit"),
        ("/ogcapi/jobs", {"limit": "0"}, "limit"),
        ("/ogcapi/jobs", {"datetime": "yesterday"}, "datetime"),
        ("/ogcapi/jobs", {"minDuration": "-1"}, "minDuration"),
        ("/ogcapi/jobs", {"type": "workflow"}, "type"),
        ("/ogcapi", {"f": "pdf"}, "pdf"),
    ],
)
def test_bad_parameters_are_400_exceptions(
    client: httpx.Client, path: str, params: dict[str, str], says: str
) -> None:
    answer = client.get(path, params=params)
    assert answer.status_code == 400, answer.text
    assert says in answer.json()["detail"]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"{not json", "not JSON"),
        (b"[]", "JSON object"),
        (b'{"inputs": {}}', "needs the input(s) input"),
        (b'{"inputs": {"input": "http://h/x", "colour": "red"}}', "no input 'colour'"),
        (b'{"inputs": {"input": ["http://h/x", "http://h/y"]}}', "one value"),
        (b'{"inputs": {"input": {"size": 3}}}', "without href or value"),
        (b'{"inputs": {"input": "not a url"}}', "absolute URL"),
        (b'{"inputs": {"input": "http://h/x"}, "response": "zip"}', "response"),
        (
            b'{"inputs": {"input": "http://h/x"}, "subscriber": {"successUri": "ftp://h/"}}',
            "successUri must be an absolute http(s) URL",
        ),
        (b'{"inputs": {"input": "http://h/x"}, "subscriber": {"nextUri": "http://h/"}}', "nextUri"),
        (
            b'{"inputs": {"input": "http://h/x"}, "subscriber": "http://h/"}',
            "subscriber is an object",
        ),
    ],
)
def test_a_bad_execute_request_is_a_400_exception(
    client: httpx.Client, body: bytes, says: str
) -> None:
    answer = client.post(
        "/ogcapi/processes/Fixity/execution",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 400, answer.text
    assert says in answer.json()["detail"]


def test_unknown_processes_and_jobs_are_the_standards_exceptions(client: httpx.Client) -> None:
    for path in ("/ogcapi/processes/Juggling", "/ogcapi/processes/Juggling/execution"):
        answer = client.request("POST" if "execution" in path else "GET", path, json={})
        assert answer.status_code == 404
        assert answer.json()["type"] == EXCEPTIONS + "no-such-process"
    for path in ("/ogcapi/jobs/nothing", "/ogcapi/jobs/nothing/results"):
        answer = client.get(path)
        assert answer.status_code == 404
        assert answer.json()["type"] == EXCEPTIONS + "no-such-job"


# --- HTML ---------------------------------------------------------------------------------


def test_people_get_html_by_accept_or_f(client: httpx.Client) -> None:
    for path in (
        "/ogcapi",
        "/ogcapi/conformance",
        "/ogcapi/processes",
        "/ogcapi/processes/Fixity",
        "/ogcapi/jobs",
    ):
        page = client.get(path, headers={"Accept": BROWSER})
        assert page.headers["content-type"].startswith("text/html"), path
        assert page.headers["vary"] == "Accept"
        by_f = client.get(path, params={"f": "html"})
        assert by_f.headers["content-type"].startswith("text/html"), (path, by_f.text)
        as_json = client.get(path, params={"f": "json"}, headers={"Accept": BROWSER})
        assert as_json.headers["content-type"] == "application/json"
    landing = client.get("/ogcapi", headers={"Accept": BROWSER}).text
    assert 'href="/ogcapi/processes"' in landing and "<script" not in landing
    assert client.get("/ogcapi/").status_code == 301  # as every path with a slash


# --- the same job in every view -----------------------------------------------------------


def test_a_job_made_here_reads_the_same_in_every_view(
    client: httpx.Client, inputs: dict[str, str], ogc_served: str
) -> None:
    created = execute(client, {"input": inputs["good"], "algorithm": "sha256"}, **ASYNC).json()
    job_id = created["jobID"]
    info = wait_status(client, job_id)
    assert info["status"] == "successful"
    canonical = f"{ogc_served}jobs/{job_id}"
    query = (
        f"SELECT ?phase ?profile WHERE {{ <{canonical}> <{JT.phase}> ?phase ; "
        f"<{JT.jobProfile}> ?profile }}"
    )
    rows = client.get("/sparql", params={"query": query}, headers=SPARQL).json()
    [row] = rows["results"]["bindings"]
    assert row["phase"]["value"].endswith("/uws/COMPLETED")
    assert row["profile"]["value"].endswith("Fixity")
    assert httpx.get(f"{ogc_served}uws/Fixity/{job_id}/phase").text.strip() == "COMPLETED"
    params = httpx.get(f"{ogc_served}uws/Fixity/{job_id}/parameters/algorithm").text
    assert params.strip() == "sha256"
    mcma = httpx.get(f"{ogc_served}mcma/jobs/{job_id}").json()
    assert mcma["status"] == "Completed" and mcma["canonicalJob"] == canonical
    assert mcma["jobInput"]["inputFile"]["url"] == inputs["good"]
    described = httpx.get(canonical, headers={"Accept": "text/turtle"}, follow_redirects=True)
    assert described.status_code == 200 and job_id in described.text
    page = httpx.get(canonical, headers={"Accept": "text/html"}, follow_redirects=True).text
    assert f"/ogcapi/jobs/{job_id}" in page  # the job page links this view
