"""Provenance has authenticated authors (issue 17), on a real server.

`POST /messages` needs a producer credential (the `producers` setting) or the admin token; a
credential speaks only for the producers it names, and each stored message records who
submitted it (`jt:submittedBy`, a keyed label, never the token), sealed with it.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest
from jobtrail.jobs.accounts import load_key, producer_label

from tests.conftest import ADMIN_TOKEN, EXAMPLES_DIR, PRODUCER_TOKEN, TDR_TOKEN, jobtrail_server

SEED = EXAMPLES_DIR / "tre-enhanced-messages"
TNA_2023 = (
    Path(__file__).resolve().parents[1]
    / "data"
    / "tna-da-transform-schemas"
    / "json-examples-new-schema"
    / "bag-available.json"
)
SUBMITTED_BY = "https://w3id.org/jobtrail/vocab#submittedBy"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def tre(name: str, n: int) -> bytes:
    """A seed TRE message (2022 structure) made new bytes by its timestamp."""
    doc = json.loads((SEED / name).read_text())
    doc["timestamp"] = str(1900000000 + n)
    return json.dumps(doc).encode()


def tre2023(producer: str, n: int) -> bytes:
    doc = json.loads(TNA_2023.read_text())
    doc["properties"]["producer"] = producer
    doc["properties"]["timestamp"] = f"2030-01-01T00:00:{n:02d}.000Z"
    return json.dumps(doc).encode()


JSONLD = json.dumps(
    {
        "@context": "https://job-processor/context/default",
        "type": "StopJob",
        "id": "https://job-processor/StopJob/producers",
        "job": "https://job-processor/Job/producers",
        "stopJobCause": "COMPLETED",
    }
).encode()


TURTLE = b'<urn:x:producers> <http://www.w3.org/2000/01/rdf-schema#label> "a hop" .\n'


class Served(NamedTuple):
    base: str
    data: Path
    key: bytes


@contextlib.contextmanager
def producers_server(root: Path) -> Iterator[Served]:
    """A real server with the test producer credentials, an admin token and a known key."""
    key_file = root / "key"
    env = {"JOBTRAIL_ADMIN_TOKEN": ADMIN_TOKEN, "JOBTRAIL_KEY_FILE": str(key_file)}
    with jobtrail_server(root / "data", env=env) as base:
        yield Served(base, root / "data", load_key(key_file))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with producers_server(tmp_path_factory.mktemp("producers")) as s:
        yield s


@pytest.fixture
def client(served: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.base, timeout=30) as c:
        yield c


def post(
    client: httpx.Client, body: bytes, token: str | None, kind: str = "application/json"
) -> httpx.Response:
    headers = {"Content-Type": kind, **(bearer(token) if token is not None else {})}
    return client.post("/messages", content=body, headers=headers)


def submitted_by(client: httpx.Client, message: str) -> list[str]:
    """The jt:submittedBy of a message, read from its own graph."""
    query = f"SELECT ?by WHERE {{ GRAPH <{message}> {{ <{message}> <{SUBMITTED_BY}> ?by }} }}"
    r = client.get("/sparql", params={"query": query}, headers={"Accept": "application/json"})
    assert r.status_code == 200, r.text
    return [b["by"]["value"] for b in r.json()["results"]["bindings"]]


def stored(client: httpx.Client, body: bytes) -> bool:
    """Whether a message with these bytes is in the store (found by its original text)."""
    text = json.dumps(body.decode())
    query = f"ASK {{ GRAPH ?m {{ ?m <https://w3id.org/jobtrail/vocab#originalText> {text} }} }}"
    r = client.get("/sparql", params={"query": query}, headers={"Accept": "application/json"})
    assert r.status_code == 200, r.text
    return bool(r.json()["boolean"])


# --- credentials ------------------------------------------------------------------------------


def test_no_credential_is_401_naming_what_to_send(client: httpx.Client) -> None:
    body = tre("01-tdr-export.json", 1)
    r = post(client, body, None)
    assert r.status_code == 401, r.text
    assert "Bearer" in r.text and "producer" in r.text.lower()
    assert not stored(client, body)


@pytest.mark.parametrize("token", ["not-a-producer", PRODUCER_TOKEN + "x", ADMIN_TOKEN[:-1]])
def test_an_unknown_credential_is_403(client: httpx.Client, token: str) -> None:
    body = tre("01-tdr-export.json", 2)
    r = post(client, body, token)
    assert r.status_code == 403, r.text
    assert not stored(client, body)


def test_a_credential_outside_ascii_is_403_not_500(client: httpx.Client) -> None:
    body = tre("01-tdr-export.json", 4)
    headers = {"Authorization": "Bearer é-token".encode(), "Content-Type": "application/json"}
    r = client.post("/messages", content=body, headers=headers)
    assert r.status_code == 403, r.text


def test_a_basic_password_that_is_no_credential_is_403(client: httpx.Client) -> None:
    body = tre("01-tdr-export.json", 3)
    r = client.post("/messages", content=body, auth=("someone", "wrong"))
    assert r.status_code == 403, r.text


# --- who may speak for whom -------------------------------------------------------------------


def test_a_tdr_credential_posts_a_tdr_message(client: httpx.Client, served: Served) -> None:
    r = post(client, tre("01-tdr-export.json", 10), TDR_TOKEN)
    assert r.status_code == 201, r.text
    label = producer_label(TDR_TOKEN, served.key)
    assert submitted_by(client, r.headers["Location"]) == [label]
    assert label.startswith("producer:") and len(label) == len("producer:") + 16


def test_a_tdr_credential_posts_a_2023_tdr_message(client: httpx.Client) -> None:
    r = post(client, tre2023("TDR", 11), TDR_TOKEN)
    assert r.status_code == 201, r.text


@pytest.mark.parametrize(
    "body, producer",
    [
        (tre("02-tre-retry.json", 20), "TRE"),
        (tre("05-access-retry.json", 21), "Access"),
        (tre2023("TRE", 22), "TRE"),
    ],
    ids=["2022-TRE", "2022-Access", "2023-TRE"],
)
def test_a_tdr_credential_may_not_speak_for_another_producer(
    client: httpx.Client, body: bytes, producer: str
) -> None:
    before = client.get("/messages", headers={"Accept": "text/turtle"}, params={"size": 1}).text
    r = post(client, body, TDR_TOKEN)
    assert r.status_code == 403, r.text
    problem = r.json()
    assert producer in problem["detail"] and "TDR" in problem["detail"]
    assert problem["producer"] == [producer] and problem["allowed"] == ["TDR"]
    assert not stored(client, body)
    after = client.get("/messages", headers={"Accept": "text/turtle"}, params={"size": 1}).text
    assert before == after


@pytest.mark.parametrize(
    "body, kind",
    [
        (JSONLD, "application/ld+json"),
        (
            b'<urn:x:producers> <http://www.w3.org/2000/01/rdf-schema#label> "a hop" .\n',
            "text/turtle",
        ),
    ],
    ids=["jsonld", "turtle"],
)
def test_a_message_naming_no_producer_needs_any(
    client: httpx.Client, served: Served, body: bytes, kind: str
) -> None:
    refused = post(client, body, TDR_TOKEN, kind)
    assert refused.status_code == 403, refused.text
    assert "names no producer" in refused.text
    r = post(client, body, PRODUCER_TOKEN, kind)
    assert r.status_code == 201, r.text
    assert submitted_by(client, r.headers["Location"]) == [
        producer_label(PRODUCER_TOKEN, served.key)
    ]


def test_any_credential_posts_any_producer(client: httpx.Client) -> None:
    for n, name in enumerate(["02-tre-retry.json", "05-access-retry.json"]):
        r = post(client, tre(name, 30 + n), PRODUCER_TOKEN)
        assert r.status_code == 201, r.text


def test_the_admin_token_posts_anything(client: httpx.Client) -> None:
    r = post(client, tre("04-tre-to-access.json", 40), ADMIN_TOKEN)
    assert r.status_code == 201, r.text
    assert submitted_by(client, r.headers["Location"]) == ["admin"]


def test_json_lines_with_a_foreign_line_reject_that_line_only(client: httpx.Client) -> None:
    lines = [
        tre("01-tdr-export.json", 50),
        tre("02-tre-retry.json", 51),  # TRE: not TDR's to post
        tre("03-tdr-retry-response.json", 52),
    ]
    r = client.post(
        "/messages",
        content=b"\n".join(lines) + b"\n",
        headers={"Content-Type": "application/x-ndjson", **bearer(TDR_TOKEN)},
    )
    assert r.status_code == 422, r.text
    summary = r.json()
    assert (summary["stored"], summary["rejected"]) == (2, 1)
    (rejected,) = [m for m in summary["messages"] if m["outcome"] == "rejected"]
    assert rejected["source"] == "POST /messages:2"
    assert rejected["error"]["status"] == 403 and "TRE" in rejected["error"]["detail"]
    assert stored(client, lines[0]) and stored(client, lines[2])
    assert not stored(client, lines[1])


def test_messages_loaded_from_the_command_line_name_no_submitter(client: httpx.Client) -> None:
    query = (
        "SELECT ?m WHERE { GRAPH ?m { ?m <https://w3id.org/jobtrail/vocab#loadedFrom> ?f "
        'FILTER(CONTAINS(?f, "01-tdr-export.json")) '
        f"FILTER NOT EXISTS {{ ?m <{SUBMITTED_BY}> ?by }} }} }}"
    )
    r = client.get("/sparql", params={"query": query}, headers={"Accept": "application/json"})
    assert r.status_code == 200, r.text
    assert r.json()["results"]["bindings"]  # the examples `jobtrail load` stored


def test_the_token_itself_is_never_stored(client: httpx.Client) -> None:
    post(client, tre("01-tdr-export.json", 60), TDR_TOKEN)
    for token in (TDR_TOKEN, PRODUCER_TOKEN, ADMIN_TOKEN):
        query = f'ASK {{ GRAPH ?g {{ ?s ?p ?o FILTER(CONTAINS(STR(?o), "{token}")) }} }}'
        r = client.get("/sparql", params={"query": query}, headers={"Accept": "application/json"})
        assert r.json()["boolean"] is False, token


# --- the seal covers who submitted ------------------------------------------------------------


def test_verify_passes_and_covers_submitted_by(tmp_path: Path) -> None:
    with producers_server(tmp_path) as s, httpx.Client(base_url=s.base, timeout=30) as client:
        assert post(client, tre("01-tdr-export.json", 70), TDR_TOKEN).status_code == 201
        assert post(client, JSONLD, PRODUCER_TOKEN, "application/ld+json").status_code == 201
        admin = post(client, tre("06-tre-to-dri-sip.json", 71), ADMIN_TOKEN)
        assert admin.status_code == 201
        message = admin.headers["Location"]
    command = [sys.executable, "-m", "jobtrail.cli", "verify", "--store", str(s.data)]
    checked = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # change who submitted a message: verify names it
    from jobtrail.store.oxigraph import OxigraphStore

    store = OxigraphStore(s.data)
    try:
        store.update(
            f'DELETE {{ GRAPH <{message}> {{ <{message}> <{SUBMITTED_BY}> "admin" }} }} '
            f'INSERT {{ GRAPH <{message}> {{ <{message}> <{SUBMITTED_BY}> "producer:0" }} }} '
            "WHERE {}"
        )
    finally:
        store.close()
    tampered = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert tampered.returncode != 0
    assert message in tampered.stdout + tampered.stderr
