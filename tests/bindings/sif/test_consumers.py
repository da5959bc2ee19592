"""SIF 3.2.1 as the official consumer frameworks call it (issue 19), against a real server.

The requests follow what Access4Learning's .NET and Java frameworks send: a read with a body
as a POST with `methodOverride: GET` (or `X-HTTP-Method-Override`), a delete as a PUT with
`methodOverride: DELETE`, several jobs in one `jobs` or `deleteRequest`, an environment
registered with `Authorization: Basic base64(applicationKey:secret)` (or SIF_HMACSHA256 with
the `timestamp` header) and then the session token in the user's place. Every SIF document
the server sends is validated against the official schemas (bindings/sif/xsd) by a hook.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from lxml import etree

from tests.bindings.jobservice.test_jobs import basic
from tests.bindings.sif.test_routes import NS, N, job_document, schema, state_document, text
from tests.conftest import ADMIN_TOKEN, JOB_USERS, job_server

JOBS = "/sif/jobs/Transfers"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("sif-consumers")
    with job_server(root / "data", root / "files") as base:
        yield base


def _validate(response: httpx.Response) -> None:
    response.read()
    kind = response.headers.get("content-type", "")
    if response.url.path.startswith("/sif/") and kind.startswith("application/xml"):
        root = etree.fromstring(response.content)
        if etree.QName(root).namespace == NS:
            assert schema().validate(root), schema().error_log


@pytest.fixture
def client(served: str) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=served,
        headers={"Content-Type": "application/xml"},
        event_hooks={"response": [_validate]},
    ) as c:
        yield c


def new_job(client: httpx.Client, **headers: str) -> str:
    r = client.post(f"{JOBS}/Transfer", content=job_document(), headers=headers)
    assert r.status_code == 201, r.text
    return str(etree.fromstring(r.content).get("id"))


# --- methodOverride ------------------------------------------------------------------------


@pytest.mark.parametrize("header", ["methodOverride", "X-HTTP-Method-Override"])
def test_a_post_meant_as_get_reads_the_phase_and_changes_nothing(
    client: httpx.Client, header: str
) -> None:
    job_id = new_job(client)
    report = f"{JOBS}/{job_id}/report"
    assert client.post(report, content=b'<report xmlns="urn:x">kept</report>').status_code == 201
    # the .NET consumer's read: a POST with a (query) body and the override
    read = client.post(report, content=b"<query/>", headers={header: "GET"})
    assert read.status_code == 200, read.text
    assert read.content == b'<report xmlns="urn:x">kept</report>'
    assert read.headers["responseAction"] == "QUERY"
    assert client.get(report).content == b'<report xmlns="urn:x">kept</report>'
    # the states and the job read the same way
    states = client.post(f"{JOBS}/{job_id}/package/states", headers={header: "GET"})
    assert states.status_code == 200 and etree.QName(
        etree.fromstring(states.content)
    ).localname == ("states")
    listed = client.post(JOBS, content=b"", headers={header: "GET"})
    assert listed.status_code == 200
    assert job_id in {j.get("id") for j in etree.fromstring(listed.content)}


@pytest.mark.parametrize("header", ["methodOverride", "X-HTTP-Method-Override"])
def test_a_put_meant_as_delete_deletes_and_follows_the_rights(
    client: httpx.Client, header: str
) -> None:
    job_id = new_job(client)
    report = f"{JOBS}/{job_id}/report"
    client.post(report, content=b'<report xmlns="urn:x">old</report>')
    # the Java consumer's delete: a PUT with the override (and, here, a body)
    gone = client.put(report, content=b"<replacement/>", headers={header: "DELETE"})
    assert gone.status_code == 204, gone.text
    assert gone.headers["responseAction"] == "DELETE"
    assert client.get(report).status_code == 204  # deleted, not replaced
    # package does not give DELETE: the override asks for that right, not UPDATE's
    refused = client.put(f"{JOBS}/{job_id}/package", content=b"<x/>", headers={header: "DELETE"})
    assert refused.status_code == 403
    assert "DELETE right" in text(etree.fromstring(refused.content), "s:message")
    assert etree.fromstring(client.get(f"{JOBS}/{job_id}/package").content).get("ref")
    # the job itself
    assert client.put(f"{JOBS}/{job_id}", headers={header: "DELETE"}).status_code == 204
    assert client.get(f"{JOBS}/{job_id}").status_code == 410


@pytest.mark.parametrize(
    ("method", "headers"),
    [
        ("POST", {"methodOverride": "DELETE"}),
        ("GET", {"methodOverride": "DELETE"}),
        ("PUT", {"methodOverride": "GET"}),
        ("POST", {"methodOverride": "GET", "X-HTTP-Method-Override": "DELETE"}),
        ("POST", {"methodOverride": "FETCH"}),
        ("GET", {"requestId": "a" * 300}),
    ],
)
def test_an_override_that_makes_no_sense_is_400_and_changes_nothing(
    client: httpx.Client, method: str, headers: dict[str, str]
) -> None:
    job_id = new_job(client)
    report = f"{JOBS}/{job_id}/report"
    client.post(report, content=b'<report xmlns="urn:x">kept</report>')
    r = client.request(method, report, content=b"<other/>", headers=headers)
    assert r.status_code == 400, r.text
    error = etree.fromstring(r.content)
    assert text(error, "s:code") == "400" and r.headers["messageType"] == "ERROR"
    assert client.get(report).content == b'<report xmlns="urn:x">kept</report>'


# --- several jobs at once ------------------------------------------------------------------


def test_jobs_are_created_and_deleted_several_at_a_time(client: httpx.Client) -> None:
    advisory = str(uuid.uuid4())
    one = job_document().decode().replace("<job ", f'<job id="{advisory}" ', 1)
    two = job_document(timeout=None).decode()
    wrong = job_document(name="Grading").decode()
    body = f'<jobs xmlns="{NS}">{one}{two}{wrong}</jobs>'.replace(
        f' xmlns="{NS}"><name>', "><name>"
    )
    r = client.post(JOBS, content=body.encode())
    assert r.status_code == 200, r.text
    creates = etree.fromstring(r.content).findall("s:creates/s:create", N)
    assert [c.get("statusCode") for c in creates] == ["201", "201", "400"]
    assert creates[0].get("advisoryId") == advisory and creates[0].get("id") != advisory
    assert "not a job of the Transfer service" in text(creates[2], "s:error/s:message")
    made = [str(c.get("id")) for c in creates[:2]]
    for job_id in made:
        assert client.get(f"{JOBS}/{job_id}").status_code == 200
    # mustUseAdvisory keeps the consumer's ids
    kept_id = str(uuid.uuid4())
    document = f'<jobs xmlns="{NS}"><job id="{kept_id}"><name>Transfer</name></job></jobs>'
    kept = client.post(
        JOBS,
        content=document.encode(),
        headers={"mustUseAdvisory": "true"},
    )
    assert kept.status_code == 200, kept.text
    create = etree.fromstring(kept.content).find("s:creates/s:create", N)
    assert create is not None and create.get("id") == kept_id

    missing = str(uuid.uuid4())
    request = (
        f'<deleteRequest xmlns="{NS}"><deletes>'
        + "".join(f'<delete id="{i}"/>' for i in [*made, kept_id, missing])
        + "</deletes></deleteRequest>"
    )
    r = client.put(JOBS, content=request.encode(), headers={"methodOverride": "DELETE"})
    assert r.status_code == 200, r.text
    deletes = etree.fromstring(r.content).findall("s:deletes/s:delete", N)
    assert [(d.get("id"), d.get("statusCode")) for d in deletes] == [
        (made[0], "204"),
        (made[1], "204"),
        (kept_id, "204"),
        (missing, "404"),
    ]
    assert text(deletes[3], "s:error/s:code") == "404"
    assert {client.get(f"{JOBS}/{i}").status_code for i in [*made, kept_id]} == {410}


def test_jobs_are_not_updated(client: httpx.Client) -> None:
    job_id = new_job(client)
    for path in (f"{JOBS}/{job_id}", JOBS):
        r = client.put(path, content=job_document())
        assert r.status_code == 403, (path, r.text)
        assert r.headers["responseAction"] == "UPDATE"
        assert "phases" in text(etree.fromstring(r.content), "s:description")
    assert client.get(f"{JOBS}/{job_id}").status_code == 200


# --- response headers ----------------------------------------------------------------------


def test_answers_and_errors_carry_the_sif_headers(client: httpx.Client) -> None:
    job_id = new_job(client)
    request_id = str(uuid.uuid4())
    for path, status in ((f"{JOBS}/{job_id}/package", 200), (f"{JOBS}/{job_id}/upload", 404)):
        r = client.get(
            f"{path.replace(JOBS, JOBS + ';zoneId=z')}", headers={"requestId": request_id}
        )
        assert r.status_code == status
        h = r.headers
        assert datetime.fromisoformat(h["timestamp"].replace("Z", "+00:00")) > datetime.now(
            UTC
        ) - timedelta(minutes=1)
        assert uuid.UUID(h["messageId"]) and h["requestId"] == request_id
        assert h["responseAction"] == "QUERY" and h["serviceType"] == "FUNCTIONAL"
        assert h["relativeServicePath"] == path.removeprefix("/sif/jobs")
        assert h["messageType"] == ("RESPONSE" if status == 200 else "ERROR")
    made = client.post(f"{JOBS}/Transfer", content=job_document())
    assert made.headers["responseAction"] == "CREATE"
    assert made.headers["messageId"] != client.get(JOBS).headers["messageId"]


# --- environments and sessions -------------------------------------------------------------


def environment(consumer: str = "Transfer consumer", method: str = "Basic") -> bytes:
    return (
        f'<environment xmlns="{NS}"><solutionId>testSolution</solutionId>'
        f"<authenticationMethod>{method}</authenticationMethod><instanceId/><userToken/>"
        f"<consumerName>{consumer}</consumerName><applicationInfo><applicationKey>alice"
        "</applicationKey><supportedInfrastructureVersion>3.2.1</supportedInfrastructureVersion>"
        "<dataModelNamespace>http://www.sifassociation.org/datamodel/au/3.4</dataModelNamespace>"
        "</applicationInfo></environment>"
    ).encode()


def hmac_auth(token: str, secret: str, stamp: str) -> str:
    signature = base64.b64encode(
        hmac.new(secret.encode(), f"{token}:{stamp}".encode(), hashlib.sha256).digest()
    ).decode()
    return "SIF_HMACSHA256 " + base64.b64encode(f"{token}:{signature}".encode()).decode()


def dotnet_now(shift: timedelta = timedelta()) -> str:
    """DateTime.UtcNow.ToString("o"): seven digits of fractions, Z."""
    return (datetime.now(UTC) + shift).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def test_a_consumer_registers_with_basic_and_works_in_its_session(
    client: httpx.Client, served: str
) -> None:
    assert client.post("/sif/environments/environment", content=environment()).status_code == 401
    r = client.post("/sif/environments/environment", content=environment(), headers=basic("alice"))
    assert r.status_code == 201, r.text
    env = etree.fromstring(r.content)
    token = text(env, "s:sessionToken")
    services = {
        s.get("name"): s.text
        for s in env.iterfind("s:infrastructureServices/s:infrastructureService", N)
    }
    assert services["environment"] == r.headers["Location"]
    connector = httpx.URL(str(services["servicesConnector"])).path
    assert connector == "/sif/jobs"
    zone = env.find("s:provisionedZones/s:provisionedZone/s:services/s:service", N)
    assert zone is not None and zone.get("name") == "Transfers" and zone.get("type") == "FUNCTIONAL"
    secret = JOB_USERS["alice"]
    session = {"Authorization": "Basic " + base64.b64encode(f"{token}:{secret}".encode()).decode()}

    # the session is alice: her job, which bob neither sees nor changes
    job_id = new_job(client, **session)
    assert client.get(f"{connector}/Transfers/{job_id}", headers=basic("bob")).status_code == 403
    assert client.get(f"{connector}/Transfers/{job_id}", headers=basic("alice")).status_code == 200
    assert job_id in {
        j.get("id") for j in etree.fromstring(client.get(JOBS, headers=session).content)
    }
    # the environment reads back with the same token; nothing secret is in the store
    again = client.get(r.headers["Location"], headers=session)
    assert (
        again.status_code == 200
        and text(etree.fromstring(again.content), "s:sessionToken") == token
    )
    assert client.get(r.headers["Location"], headers=basic("bob")).status_code == 404
    dump = client.get(
        "/sparql",
        params={"query": "SELECT ?o WHERE { GRAPH ?g { ?s ?p ?o } }"},
        headers={"Accept": "text/csv", "Authorization": "Bearer " + _admin()},
    ).text
    assert token not in dump and token.split(".")[1] not in dump and secret not in dump

    wrong = {"Authorization": "Basic " + base64.b64encode(f"{token}:nope".encode()).decode()}
    assert client.get(JOBS, headers=wrong).status_code == 403
    forged = token[:-1] + ("0" if token[-1] != "0" else "1")
    bad = {"Authorization": "Basic " + base64.b64encode(f"{forged}:{secret}".encode()).decode()}
    assert client.get(JOBS, headers=bad).status_code == 403
    # leaving ends the session
    assert client.delete(r.headers["Location"], headers=session).status_code == 204
    assert client.get(JOBS, headers=session).status_code == 403


def _admin() -> str:
    return ADMIN_TOKEN


def test_a_consumer_registers_and_works_with_sif_hmacsha256(client: httpx.Client) -> None:
    secret = JOB_USERS["bob"]
    stamp = dotnet_now()
    r = client.post(
        "/sif/environments/environment",
        content=environment("HMAC consumer", "SIF_HMACSHA256"),
        headers={"Authorization": hmac_auth("bob", secret, stamp), "timestamp": stamp},
    )
    assert r.status_code == 201, r.text
    env = etree.fromstring(r.content)
    assert text(env, "s:authenticationMethod") == "SIF_HMACSHA256"
    token = text(env, "s:sessionToken")

    def signed(stamp: str, key: str = secret) -> dict[str, str]:
        return {"Authorization": hmac_auth(token, key, stamp), "timestamp": stamp}

    job_id = new_job(client, **signed(dotnet_now()))
    assert client.get(f"{JOBS}/{job_id}", headers=basic("alice")).status_code == 403
    post = client.post(
        f"{JOBS}/{job_id}/package/states/state",
        content=state_document("INPROGRESS"),
        headers=signed(dotnet_now()),
    )
    assert post.status_code == 201, post.text
    assert client.get(f"{JOBS}/{job_id}", headers=signed(dotnet_now())).status_code == 200
    # stale, unsigned, missing timestamp, wrong key
    assert client.get(JOBS, headers=signed(dotnet_now(timedelta(hours=-1)))).status_code == 403
    assert client.get(JOBS, headers=signed(dotnet_now(), "guess")).status_code == 403
    missing = {"Authorization": hmac_auth(token, secret, dotnet_now())}
    assert client.get(JOBS, headers=missing).status_code == 401
    garbled = {**signed(dotnet_now()), "timestamp": "yesterday"}
    assert client.get(JOBS, headers=garbled).status_code in (400, 403)
    stamp = dotnet_now()
    lied = {
        "Authorization": hmac_auth(token, secret, stamp),
        "timestamp": dotnet_now(timedelta(seconds=5)),
    }
    assert client.get(JOBS, headers=lied).status_code == 403


def test_an_environment_document_is_validated_and_its_method_checked(client: httpx.Client) -> None:
    bad = environment().replace(b"<solutionId>", b"<unknown/><solutionId>")
    r = client.post("/sif/environments/environment", content=bad, headers=basic("alice"))
    assert r.status_code == 400 and "unknown" in r.text
    other = environment(method="Bearer")
    r = client.post("/sif/environments/environment", content=other, headers=basic("alice"))
    assert r.status_code == 400 and "SIF_HMACSHA256" in r.text


# --- the optional phase after the job is finished ------------------------------------------


def test_report_takes_states_after_the_job_completed_and_the_job_stays_completed(
    client: httpx.Client,
) -> None:
    job_id = new_job(client)
    for phase in ("package", "validation", "ingest"):
        client.post(f"{JOBS}/{job_id}/{phase}/states/state", content=state_document("COMPLETED"))
    assert text(etree.fromstring(client.get(f"{JOBS}/{job_id}").content), "s:state") == "COMPLETED"
    for kind in ("INPROGRESS", "FAILED", "COMPLETED"):
        r = client.post(f"{JOBS}/{job_id}/report/states/state", content=state_document(kind))
        assert r.status_code == 201, (kind, r.text)
        job = etree.fromstring(client.get(f"{JOBS}/{job_id}").content)
        assert text(job, "s:state") == "COMPLETED"
    assert client.put(f"{JOBS}/{job_id}/report", content=b"<r/>").status_code == 200
    # a required phase that would move the job back is refused
    back = client.post(
        f"{JOBS}/{job_id}/package/states/state", content=state_document("INPROGRESS")
    )
    assert back.status_code == 409
    assert re.search(r"COMPLETED", text(etree.fromstring(back.content), "s:message"))
