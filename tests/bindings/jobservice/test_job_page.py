"""The job page (`GET /jobs/{id}` asked for in HTML) against a real server (issue 21).

A browser gets 200 and one page in every phase: its status with the vocabulary's label
and definition (reloading, every Retry-After seconds, while the job runs), its input,
profile and parameters, its times, its owner, its results with their sizes and SHA-256,
its error in full, its history, the actions its caller may take (forms that work from the
server's own pages, and only from them) and its other views. Machine clients keep their
202/303/424/410. The last tests render a completed and a failed job's page in headless
Chromium (skipped without it); with JOBTRAIL_SCREENSHOTS set they leave screenshots there.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import lxml.html
import pytest

from tests.conftest import (
    ADMIN_TOKEN,
    CHROMIUM,
    JOB_USERS,
    DocumentServer,
    browser_dom,
    href_of,
    job_server,
)

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
RETRY_AFTER = 2


def basic(user: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{JOB_USERS[user]}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


ALICE, BOB = basic("alice"), basic("bob")  # bob is a curator here: he reads every job


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("job-page")
    with job_server(
        root / "data", root / "files", curators="bob", retry_after=str(RETRY_AFTER)
    ) as base:
        yield base


@pytest.fixture
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=20) as c:
        yield c


def same_origin(server: str) -> dict[str, str]:
    """What a browser sends with a form posted from this server's own page."""
    parts = urlsplit(server)
    return {"Origin": f"{parts.scheme}://{parts.netloc}", "Sec-Fetch-Site": "same-origin"}


def post_job(
    client: httpx.Client, url: str, who: dict[str, str] | None = None, profile: str = "Fixity"
) -> str:
    created = client.post(
        "/jobs",
        content=f"url={url}&profile={profile}&note=page+test",
        headers={"Content-Type": "application/x-www-form-urlencoded", **(who or {})},
    )
    assert created.status_code == 201, created.text
    return created.text


def machine(client: httpx.Client, job: str, who: dict[str, str] | None = None) -> httpx.Response:
    return client.get(job, headers={"Accept": "text/turtle", **(who or {})})


def wait_ended(client: httpx.Client, job: str, who: dict[str, str] | None = None) -> None:
    deadline = time.monotonic() + 30
    while machine(client, job, who).status_code == 202:
        assert time.monotonic() < deadline, f"{job} still runs"
        time.sleep(0.1)


def wait_phase(client: httpx.Client, job: str, phase: str, who: dict[str, str]) -> None:
    deadline = time.monotonic() + 30
    while phase not in status_of(page(client, job, who)):
        assert time.monotonic() < deadline, f"{job} never became {phase}"
        time.sleep(0.1)


def page(client: httpx.Client, job: str, who: dict[str, str] | None = None) -> httpx.Response:
    return client.get(job, headers={"Accept": BROWSER, **(who or {})})


def dom(answer: httpx.Response) -> lxml.html.HtmlElement:
    assert answer.headers["content-type"].startswith("text/html"), answer.headers
    return lxml.html.fromstring(answer.text)


def status_of(answer: httpx.Response) -> str:
    return str(dom(answer).xpath("string(//*[contains(@class, 'job-status')])"))


def actions(answer: httpx.Response) -> list[str]:
    return [
        str(v) for v in dom(answer).xpath("//form[@method='post']/input[@name='action']/@value")
    ]


def history(answer: httpx.Response) -> list[list[str]]:
    rows = dom(answer).xpath("//table[contains(@class, 'job-history')]//tr[td]")
    return [[" ".join(td.text_content().split()) for td in row.xpath("td")] for row in rows]


def views(answer: httpx.Response) -> dict[str, str]:
    links = dom(answer).xpath("//ul[contains(@class, 'job-views')]//a")
    return {a.text_content(): a.get("href") for a in links}


@pytest.fixture(scope="module")
def completed(server: str, documents: DocumentServer) -> tuple[str, bytes]:
    """Alice's Fixity job, run to the end; its IRI and the input's bytes."""
    data = b"the job page reads this\n" * 40
    url = documents.put("/page-done.txt", data, "text/plain")
    with httpx.Client(base_url=server, timeout=20) as c:
        job = post_job(c, url, ALICE)
        wait_ended(c, job, ALICE)
    return job, data


@pytest.fixture(scope="module")
def failed(server: str, documents: DocumentServer) -> str:
    """An anonymous job whose input is not there (a long URL: its error is long)."""
    url = f"{documents.url}/missing/{'very-long-segment-' * 12}gone.txt"
    with httpx.Client(base_url=server, timeout=20) as c:
        job = post_job(c, url)
        wait_ended(c, job)
    return job


# --- one page in every phase --------------------------------------------------------------


def test_a_running_job_reloads_itself_every_retry_after(
    client: httpx.Client, documents: DocumentServer
) -> None:
    url = documents.put("/page-slow.txt", b"slow\n", "text/plain")
    job = post_job(client, f"{url}?delay=3", ALICE)
    answer = machine(client, job, ALICE)
    assert answer.status_code == 202, "a machine client still gets 202 while it runs"
    seconds = answer.headers["Retry-After"]
    assert seconds == str(RETRY_AFTER)
    shown = page(client, job, ALICE)
    assert shown.status_code == 200, shown.text
    assert shown.headers["Retry-After"] == seconds
    (refresh,) = dom(shown).xpath("//meta[@http-equiv='refresh']/@content")
    assert refresh == seconds
    text = status_of(shown)
    assert "QUEUED" in text or "EXECUTING" in text, text
    assert "has committed the job" in text or "A processor is working" in text  # the definition
    assert actions(shown) == ["abort", "delete"]
    assert "content-location" not in shown.headers  # {job}.html is the resource map: 404 yet
    assert shown.headers["Link"] == f'<{job}>; rel="canonical"'
    wait_ended(client, job, ALICE)
    ended = page(client, job, ALICE)
    assert ended.status_code == 200
    assert not dom(ended).xpath("//meta[@http-equiv='refresh']"), "it stops reloading"
    assert "Retry-After" not in ended.headers
    assert "COMPLETED" in status_of(ended) and actions(ended) == ["delete"]


def test_a_completed_job_shows_what_it_is_and_its_results(
    client: httpx.Client, completed: tuple[str, bytes], server: str, documents: DocumentServer
) -> None:
    job, data = completed
    assert machine(client, job, ALICE).status_code == 303, "a machine client is still sent on"
    shown = page(client, job, ALICE)
    assert shown.status_code == 200, shown.text
    tree = dom(shown)
    assert "COMPLETED" in status_of(shown) and "run to its end successfully" in status_of(shown)
    about = {
        " ".join(th.text_content().split()): td
        for th, td in zip(
            tree.xpath("//table[contains(@class, 'job-about')]/tr/th"),
            tree.xpath("//table[contains(@class, 'job-about')]/tr/td"),
            strict=True,
        )
    }
    assert about["profile"].xpath("a/@href") == ["/profiles/Fixity"]
    assert about["input"].xpath("a/@href") == [f"{documents.url}/page-done.txt"]
    assert "note" in about["parameters"].text_content()
    assert "page test" in about["parameters"].text_content()
    assert about["owner"].text_content() == "alice"
    for when in ("created", "started", "ended"):
        assert about[when].xpath("time/@datetime"), when
    assert about["duration"].text_content().endswith(" s")
    # results: each file linked, with its size and SHA-256, as served
    (row,) = tree.xpath("//table[contains(@class, 'job-results')]//tr[td]")
    href = row.xpath("td[1]/a/@href")[0]
    assert href.startswith(f"{href_of(job)}/results/")
    body = client.get(href, headers=ALICE).content
    assert f"{len(body):,} bytes" in row.xpath("string(td[3])") or str(len(body)) in row.xpath(
        "string(td[3])"
    )
    assert row.xpath("string(td[4])") == hashlib.sha256(body).hexdigest()
    assert f"{href_of(job)}.html" in tree.xpath("//a/@href")  # the resource map
    # its history: created by alice, then the service moves it on
    rows = history(shown)
    assert rows[0][1].startswith("created") and rows[0][2] == "alice", rows
    assert "POST /jobs" in rows[0][1]
    assert any("EXECUTING → COMPLETED" in r[1] and r[2] == "jobtrail" for r in rows), rows
    assert all(r[3].startswith("#") for r in rows)
    record = tree.xpath("//table[contains(@class, 'job-history')]//tr[td]/td[4]/a/@href")[0]
    assert "/messages/" in record
    # elsewhere: its trace and each binding's view of it, each of which answers
    found = views(shown)
    job_id = job.rsplit("/", 1)[-1]
    assert found["trace"] == f"/trace/{job_id}"  # by path
    assert found["UWS (Fixity)"] == f"/uws/Fixity/{job_id}"
    assert found["MCMA"] == f"/mcma/jobs/{job_id}"
    assert "SIF" not in found  # not a SIF service's job
    for url in found.values():
        assert client.get(url, headers=ALICE).status_code == 200, url


def test_the_resource_map_links_back_to_the_job_page_without_a_loop(
    client: httpx.Client, completed: tuple[str, bytes]
) -> None:
    job, _ = completed
    rem = client.get(f"{job}.html", headers=ALICE)
    assert rem.status_code == 200
    assert href_of(job) in dom(rem).xpath("//a/@href")
    back = client.get(job, headers={"Accept": BROWSER, **ALICE}, follow_redirects=False)
    assert back.status_code == 200 and "job-history" in back.text


def test_a_failed_job_shows_its_error_in_full(client: httpx.Client, failed: str) -> None:
    answer = client.get(failed, headers={"Accept": "application/problem+json"})
    assert answer.status_code == 424, "a machine client still gets the job's error"
    message = answer.json()["detail"].split(": ", 1)[1]
    assert len(message) > 200
    shown = page(client, failed)
    assert shown.status_code == 200
    tree = dom(shown)
    assert "ERROR" in status_of(shown)
    (error,) = tree.xpath("//section[contains(@class, 'job-error')]")
    assert "InputUnavailable" in error.xpath("string(h2)")
    assert error.xpath("string(pre)") == message  # whole, not clipped
    assert any("→ ERROR" in r[1] and "InputUnavailable" in r[1] for r in history(shown))
    assert actions(shown) == ["delete"]  # anonymous job, anonymous caller: theirs to delete


def test_actions_are_shown_only_to_who_may_take_them(
    client: httpx.Client, completed: tuple[str, bytes]
) -> None:
    job, _ = completed
    assert actions(page(client, job, ALICE)) == ["delete"]  # the owner
    assert actions(page(client, job, ADMIN)) == ["delete"]  # the administrator
    curator = page(client, job, BOB)
    assert curator.status_code == 200 and actions(curator) == []  # a curator only reads
    assert not dom(curator).xpath("//form[@method='post']")  # no action (the search box stays)
    assert page(client, job).status_code == 401  # anonymous: as before, nothing shown
    assert "job-history" not in page(client, job).text


# --- the forms ----------------------------------------------------------------------------


def form(
    client: httpx.Client, server: str, job: str, action: str, who: dict[str, str]
) -> httpx.Response:
    return client.post(
        job,
        content=f"action={action}",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            **same_origin(server),
            **who,
        },
    )


def test_abort_from_the_page_ends_a_running_job(
    client: httpx.Client, server: str, documents: DocumentServer
) -> None:
    url = documents.put("/page-abort.txt", b"abort me\n", "text/plain")
    job = post_job(client, f"{url}?delay=5", ALICE)
    cross = client.post(
        job,
        content="action=abort",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": "https://evil.example",
            "Sec-Fetch-Site": "cross-site",
            **ALICE,
        },
    )
    assert cross.status_code == 403, "another site's form changes nothing"
    assert form(client, server, job, "abort", BOB).status_code == 403  # a curator: not his
    assert machine(client, job, ALICE).status_code == 202, "still running"
    done = form(client, server, job, "abort", ALICE)
    assert done.status_code == 303 and done.headers["Location"] == job
    shown = page(client, job, ALICE)
    assert "ABORTED" in status_of(shown) and actions(shown) == ["delete"]
    last = history(shown)[-1]
    assert "→ ABORTED" in last[1] and f"POST /jobs/{job.rsplit('/', 1)[-1]}" in last[1]
    assert "action=abort" in last[1] and last[2] == "alice"
    again = form(client, server, job, "abort", ALICE)
    assert again.status_code == 409, "an ended job has nothing to abort"


def test_delete_from_the_page_leaves_its_history(
    client: httpx.Client, server: str, documents: DocumentServer
) -> None:
    url = documents.put("/page-delete.txt", b"delete me\n", "text/plain")
    job = post_job(client, url, ALICE)
    wait_ended(client, job, ALICE)
    assert form(client, server, job, "delete", BOB).status_code == 403
    done = form(client, server, job, "delete", ALICE)
    assert done.status_code == 303 and done.headers["Location"] == job
    assert machine(client, job, ALICE).status_code == 410, "machine clients: 410 as before"
    gone = page(client, job, ALICE)
    assert gone.status_code == 410
    assert "DELETED" in status_of(gone)
    rows = history(gone)
    assert rows[0][1].startswith("created") and rows[-1][1].startswith("deleted"), rows
    assert "action=delete" in rows[-1][1] and rows[-1][2] == "alice"
    assert page(client, job, BOB).status_code == 410  # the curator reads the history too
    assert page(client, job).status_code == 401  # anonymous: not theirs to know


@pytest.mark.parametrize(
    "content_type, body, status",
    [
        ("application/x-www-form-urlencoded", "action=explode", 400),
        ("application/x-www-form-urlencoded", "", 400),
        ("application/json", '{"action": "abort"}', 415),
        ("text/plain", "abort", 415),
    ],
)
def test_a_form_that_asks_nothing_known_is_a_4xx_naming_it(
    client: httpx.Client,
    server: str,
    completed: tuple[str, bytes],
    content_type: str,
    body: str,
    status: int,
) -> None:
    job, _ = completed
    answer = client.post(
        job, content=body, headers={"Content-Type": content_type, "Accept": "text/plain", **ALICE}
    )
    assert answer.status_code == status, answer.text
    assert "action" in answer.text
    assert machine(client, job, ALICE).status_code == 303  # nothing happened to it


# --- in a real browser ----------------------------------------------------------------------


def render(url: str, profile: Path, name: str) -> lxml.html.HtmlElement:
    """The page as headless Chromium builds it (its DOM); a screenshot into
    JOBTRAIL_SCREENSHOTS when that is set."""
    return lxml.html.fromstring(browser_dom(url, profile, f"{name}.png", window="1280,1600"))


browser = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium)"
)


@browser
def test_a_completed_job_page_in_chromium(
    server: str, documents: DocumentServer, tmp_path: Path
) -> None:
    url = documents.put("/page-chromium.txt", b"rendered by a real browser\n" * 10, "text/plain")
    with httpx.Client(base_url=server, timeout=20) as c:
        job = post_job(c, url)  # anonymous: Chromium sends no credentials
        wait_ended(c, job)
        fixity = json.loads(c.get(f"{job}/results/fixity.json").content)
    tree = render(job, tmp_path / "profile", "completed")
    assert tree.xpath("string(//h1)") == f"Job {job.rsplit('/', 1)[-1]}"
    assert "COMPLETED" in tree.xpath("string(//*[contains(@class, 'job-status')])")
    (row,) = tree.xpath("//table[contains(@class, 'job-results')]//tr[td]")
    assert row.xpath("string(td[1]/a)") == "fixity.json"
    assert len(row.xpath("string(td[4])")) == 64
    assert fixity  # the file it links is there
    assert len(tree.xpath("//table[contains(@class, 'job-history')]//tr[td]")) >= 3
    assert tree.xpath("//form/button[@value='delete']")
    assert not tree.xpath("//meta[@http-equiv='refresh']")


@browser
def test_a_failed_job_page_in_chromium(failed: str, tmp_path: Path) -> None:
    tree = render(failed, tmp_path / "profile", "failed")
    assert "ERROR" in tree.xpath("string(//*[contains(@class, 'job-status')])")
    error = tree.xpath("string(//section[contains(@class, 'job-error')]/pre)")
    assert "gone.txt" in error and len(error) > 200


def test_a_pass_holder_s_page_carries_the_pass_in_its_links_and_forms(
    client: httpx.Client, server: str, documents: DocumentServer
) -> None:
    url = documents.put("/page-pass.txt", b"paid\n", "text/plain")
    mine = {"pass": "rich-pass"}
    job = client.post("/jobs", params={"profile": "Fixity", **mine}, content=url).text
    wait_ended(client, job)
    shown = client.get(job, params=mine, headers={"Accept": BROWSER})
    assert shown.status_code == 200, shown.text
    assert client.get(job, headers={"Accept": BROWSER}).status_code == 401  # without it
    tree = dom(shown)
    (target,) = tree.xpath("//form[input[@value='delete']]/@action")
    assert target == f"{href_of(job)}?pass=rich-pass"
    for href in tree.xpath("//ul[contains(@class, 'job-views')]//a/@href"):
        assert href.endswith("pass=rich-pass"), href
    for href in tree.xpath("//table[contains(@class, 'job-results')]//a/@href"):
        assert client.get(href).status_code == 200, href
    done = client.post(
        target,
        content="action=delete",
        headers={"Content-Type": "application/x-www-form-urlencoded", **same_origin(server)},
    )
    assert done.status_code == 303 and href_of(done.headers["Location"]) == target
    assert client.get(target, headers={"Accept": BROWSER}).status_code == 410
