"""What UWS 1.1 (REC-20161024) asks, each point against a real server (issue 19).

The `client` fixture (conftest.py) validates every XML document under /uws/ against the
official UWS 1.1 schema; `small` is a second server whose lists hold at most three jobs
and whose execution durations have no maximum of their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from lxml import etree

from tests.bindings.jobservice.test_jobs import basic
from tests.bindings.uws.conftest import validating
from tests.bindings.uws.test_uws import SHA, UWS, create, doc, phase_of, wait_phase
from tests.conftest import job_server

XS_INT_MAX = 2**31 - 1
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory, uws_schema: Any) -> Iterator[httpx.Client]:
    root: Path = tmp_path_factory.mktemp("uws-small")
    settings = {"uws_max_list": "3", "max_execution_duration": "0"}
    with (
        job_server(root / "data", root / "files", **settings) as base,
        validating(base, uws_schema) as client,
    ):
        yield client


def ids(client: httpx.Client, url: str = "/uws/Fixity", **params: Any) -> list[str]:
    return [r.get("id") or "" for r in doc(client, url, **params)]


# --- §2.1.4 execution duration --------------------------------------------------------------


def test_an_execution_duration_over_the_maximum_is_lowered_to_it(
    client: httpx.Client, inputs: dict[str, str]
) -> None:
    """More than an xs:int, or than the server's maximum (86400 s here): the job gets the
    maximum, which its document shows (the client reads back what it got, §2.1.4)."""
    url = create(client, URL=inputs["good"], EXECUTIONDURATION="99999999999")
    assert doc(client, url).findtext(f"{UWS}executionDuration") == "86400"
    changed = client.post(f"{url}/executionduration", data={"EXECUTIONDURATION": "90000"})
    assert changed.status_code == 303
    assert client.get(f"{url}/executionduration").text == "86400"


def test_a_job_made_elsewhere_with_a_huge_duration_still_makes_a_valid_document(
    small: httpx.Client, inputs: dict[str, str]
) -> None:
    made = small.post(
        "/jobs",
        json={"url": inputs["good"], "profile": "Fixity", "executionDuration": 99999999999},
    )
    assert made.status_code == 201, made.text
    job_id = made.headers["location"].rsplit("/", 1)[-1]
    job = doc(small, f"/uws/Fixity/{job_id}")  # validated: an xs:int
    assert job.findtext(f"{UWS}executionDuration") == str(XS_INT_MAX)


def test_past_its_execution_duration_a_job_is_aborted_everywhere(
    client: httpx.Client, uws_served: str, inputs: dict[str, str]
) -> None:
    """ABORTED through UWS and in the job core (SPARQL, /jobs says why: 422)."""
    url = create(client, URL=f"{inputs['good']}?delay=4", expected=SHA, EXECUTIONDURATION="1")
    client.post(f"{url}/phase", data={"PHASE": "RUN"})
    assert wait_phase(client, url, {"ABORTED", "ERROR", "COMPLETED"}) == "ABORTED"
    assert "execution duration" in client.get(f"{url}/error").text
    canonical = f"{uws_served}jobs/{url.rsplit('/', 1)[-1]}"
    problem = client.get(canonical, headers={"Accept": "application/problem+json"})
    assert problem.status_code == 422
    assert (problem.json()["errorType"], problem.json()["phase"]) == (
        "TimeLimitExceeded",
        "ABORTED",
    )


# --- §2.2.2.1 the job list ------------------------------------------------------------------


def test_after_a_creation_time_as_shown_leaves_that_job_out(
    client: httpx.Client, inputs: dict[str, str]
) -> None:
    url = create(client, URL=inputs["good"])
    job_id = url.rsplit("/", 1)[-1]
    shown = client.get(f"{url}/creationTime").text
    assert job_id not in ids(client, AFTER=shown)
    earlier = datetime.fromisoformat(shown) - timedelta(milliseconds=1)
    assert job_id in ids(client, AFTER=earlier.isoformat())


def test_a_list_longer_than_the_maximum_redirects_to_last(
    small: httpx.Client, inputs: dict[str, str]
) -> None:
    """No silent cut: past `uws_max_list` (3 here) the answer is a 303 to the same filters
    with LAST=3, as the spec allows (§2.2.2.1); a LAST over it is redirected too."""
    alice = basic("alice")
    made = [
        small.post("/uws/Fixity", data={"URL": inputs["good"]}, headers=alice).headers["location"]
        for _ in range(4)
    ]
    for params in ({}, {"PHASE": "PENDING"}, {"LAST": "10", "PHASE": "PENDING"}):
        answer = small.get("/uws/Fixity", params=params, headers=alice)
        assert answer.status_code == 303, answer.text
        location = httpx.URL(answer.headers["location"])
        assert location.params.get("LAST") == "3"
        assert location.params.get("PHASE") == params.get("PHASE")
        listed = small.get(location, headers=alice)
        assert listed.status_code == 200
        newest = [u.rsplit("/", 1)[-1] for u in reversed(made[1:])]
        assert [r.get("id") for r in etree.fromstring(listed.content)] == newest
    few = small.get("/uws/Fixity", params={"PHASE": "ABORTED"}, headers=alice)
    assert few.status_code == 200 and len(etree.fromstring(few.content)) == 0


# --- §2.2.3 changing a job: what a client may send ------------------------------------------


@pytest.mark.parametrize("phase", ["SUSPEND", "ARCHIVE", "suspend"])
def test_suspend_and_archive_are_the_services_not_a_clients(
    client: httpx.Client, inputs: dict[str, str], phase: str
) -> None:
    pending = create(client, URL=inputs["good"], expected=SHA)
    done = create(client, URL=inputs["good"], expected=SHA, PHASE="RUN")
    doc(client, done, WAIT="10")
    for url in (pending, done):
        before = client.get(url).content
        for where in (url, f"{url}/phase"):
            answer = client.post(where, data={"PHASE": phase, "RUNID": "changed"})
            assert answer.status_code == 400, answer.text
            assert "RUN or PHASE=ABORT" in answer.text
        assert client.get(url).content == before


def test_a_deleted_job_is_forgotten_here_and_kept_at_its_iri(
    client: httpx.Client, uws_served: str, inputs: dict[str, str]
) -> None:
    url = create(client, URL=inputs["good"])
    assert client.delete(url).status_code == 303
    for path in ("", "/phase", "/parameters", "?WAIT=1"):
        assert client.get(f"{url}{path}").status_code == 404
    assert client.post(url, data={"PHASE": "RUN"}).status_code == 404
    assert client.get(f"{uws_served}jobs/{url.rsplit('/', 1)[-1]}").status_code == 410


@pytest.mark.parametrize(
    "form",
    [
        {"URL": "not a url"},
        {"EXECUTIONDURATION": "soon"},
        {"EXECUTIONDURATION": "-5"},
        {"DESTRUCTION": "tomorrow"},
        {"PHASE": "ABORT"},
        {"ACTION": "DELETE"},
    ],
)
def test_a_job_the_service_will_not_create_is_403(
    client: httpx.Client, form: dict[str, str]
) -> None:
    before = ids(client)
    answer = client.post("/uws/Fixity", data=form)
    assert answer.status_code == 403, answer.text
    assert ids(client) == before


# --- parameters -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pairs",
    [
        [("URL", "http://h/a"), ("url", "http://h/b")],  # one name, case aside
        [("expected", SHA), ("EXPECTED", SHA)],  # same value: refused all the same
        [("RUNID", "a"), ("runId", "b")],
        [("PHASE", "RUN"), ("phase", "RUN")],
    ],
)
def test_a_repeated_parameter_is_refused_naming_it(
    client: httpx.Client, inputs: dict[str, str], pairs: list[tuple[str, str]]
) -> None:
    before = ids(client)
    made = client.post("/uws/Fixity", content=urlencode(pairs), headers=FORM)
    assert made.status_code == 403 and "more than once" in made.text, made.text
    assert ids(client) == before
    url = create(client, URL=inputs["good"])
    snapshot = client.get(url).content
    changed = client.post(url, content=urlencode(pairs), headers=FORM)
    assert changed.status_code == 400 and pairs[1][0] in changed.text, changed.text
    assert client.get(url).content == snapshot


def test_the_forms_charset_is_honoured(client: httpx.Client, inputs: dict[str, str]) -> None:
    latin = {"Content-Type": "application/x-www-form-urlencoded; charset=ISO-8859-1"}
    for body in (b"RUNID=caf%E9", b"RUNID=caf\xe9"):
        made = client.post("/uws/Fixity", content=body, headers=latin)
        assert made.status_code == 303, made.text
        assert client.get(f"{made.headers['location']}/runid").text == "café"
    unknown = {"Content-Type": "application/x-www-form-urlencoded; charset=klingon"}
    refused = client.post("/uws/Fixity", content=b"RUNID=x", headers=unknown)
    assert refused.status_code == 403 and "klingon" in refused.text


def test_a_file_part_is_refused_not_dropped(client: httpx.Client, inputs: dict[str, str]) -> None:
    before = ids(client)
    files = {"upload": ("input.txt", b"inline bytes", "text/plain")}
    made = client.post("/uws/Fixity", data={"URL": inputs["good"]}, files=files)
    assert made.status_code == 403 and "'upload'" in made.text, made.text
    assert ids(client) == before
    url = create(client, URL=inputs["good"])
    changed = client.post(f"{url}/parameters", data={"expected": SHA}, files=files)
    assert changed.status_code == 400 and "'upload'" in changed.text


@pytest.mark.parametrize("name", ["PHASE", "phase", "RUNID", "ACTION"])
def test_a_control_name_is_not_a_parameter(
    client: httpx.Client, inputs: dict[str, str], name: str
) -> None:
    url = create(client, URL=inputs["good"], expected=SHA)
    before = client.get(url).content
    answer = client.post(f"{url}/parameters/{name}", data={name: "RUN", "VALUE": "RUN"})
    assert answer.status_code == 403 and "not a job parameter" in answer.text, answer.text
    assert phase_of(client, url) == "PENDING"
    assert client.get(url).content == before
