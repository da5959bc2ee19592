"""UWS documents a browser can read: HTML by negotiation for a client that prefers it,
the UWS 1.1 XML for every other (pyvo sends `Accept: */*`), against a real server.

The Chromium tests render the pages in headless Chromium (under the server's CSP) and
are skipped without it; with `$JOBTRAIL_SCREENSHOTS` set they leave screenshots there.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import lxml.html
import pytest

from tests.bindings.uws.test_uws import create, wait_phase
from tests.conftest import CHROMIUM, browser_dom, href_of

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
"""What Chromium and Firefox send for a page."""


def test_a_browser_gets_html_and_uws_clients_keep_the_xml(
    client: httpx.Client, inputs: dict[str, str]
) -> None:
    url = create(client, URL=inputs["good"], RUNID="browser-1")
    job_id = url.rsplit("/", 1)[-1]
    for accept in (None, "*/*", "application/xml", "text/xml", "application/xml, text/html;q=0.5"):
        headers = {"Accept": accept} if accept else {}
        for where in (url, "/uws/Fixity"):
            answer = client.get(where, headers=headers)
            assert answer.status_code == 200, answer.text
            assert answer.headers["content-type"].startswith("application/xml"), (accept, where)
            assert answer.headers["vary"] == "Accept"
    page = client.get(url, headers={"Accept": BROWSER})
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["vary"] == "Accept"
    assert page.headers["link"] == f'<{client.base_url}jobs/{job_id}>; rel="canonical"'
    dom = lxml.html.fromstring(page.text)
    assert dom.xpath("string(//b[contains(@class,'phase')])") == "PENDING"
    assert f"/jobs/{job_id}" in dom.xpath("//a/@href")  # the job's own page (by path)
    assert "browser-1" in page.text and inputs["good"] in dom.xpath("//a/@href")
    listed = lxml.html.fromstring(client.get("/uws/Fixity", headers={"Accept": BROWSER}).text)
    assert href_of(url) in listed.xpath("//table[@class='uws-jobs']//a/@href")
    # the page's Run button: a same-origin form POST, answered 303 back to the job
    form = dom.xpath("//form[.//input[@name='PHASE' and @value='RUN']]")[0]
    assert form.get("action") == href_of(url) and form.get("method") == "post"
    run = client.post(url, data={"PHASE": "RUN"}, headers={"Accept": BROWSER})
    assert run.status_code == 303 and run.headers["location"] == url
    assert wait_phase(client, url, {"COMPLETED"}) == "COMPLETED"
    done = lxml.html.fromstring(client.get(url, headers={"Accept": BROWSER}).text)
    assert done.xpath("string(//b[contains(@class,'phase')])") == "COMPLETED"
    assert done.xpath("//ul[@class='results']/li/a/text()") == ["fixity.json"]
    only = client.get("/uws/Fixity", params={"PHASE": "COMPLETED"}, headers={"Accept": BROWSER})
    assert 'value="COMPLETED" checked' in only.text and href_of(url) in only.text


def test_a_bad_filter_is_still_a_400_for_a_browser(client: httpx.Client) -> None:
    answer = client.get("/uws/Fixity", params={"PHASE": "NAPPING"}, headers={"Accept": BROWSER})
    assert answer.status_code == 400
    assert "NAPPING" in answer.text


def _render(url: str, tmp_path: Path, shot: str) -> str:
    return browser_dom(url, tmp_path / f"profile-{shot}", shot, window="1200,900")


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium)"
)
def test_chromium_shows_the_phase_and_the_links(
    client: httpx.Client, inputs: dict[str, str], tmp_path: Path
) -> None:
    url = create(client, URL=inputs["good"], RUNID="seen-in-chromium")
    job_id = url.rsplit("/", 1)[-1]
    dom = lxml.html.fromstring(_render(url, tmp_path, "uws-job.png"))
    assert dom.xpath("string(//h1)") == f"UWS job {job_id}"
    assert dom.xpath("string(//b[contains(@class,'phase')])") == "PENDING"
    assert f"/jobs/{job_id}" in dom.xpath("//a/@href")
    assert "/uws/Fixity" in dom.xpath("//a/@href")
    listed = lxml.html.fromstring(_render(f"{client.base_url}uws/Fixity", tmp_path, "uws-list.png"))
    rows = listed.xpath("//table[@class='uws-jobs']//tr[td]")
    mine = [r for r in rows if r.xpath(f".//a[@href='{href_of(url)}']")]
    assert mine and mine[0].xpath("string(.//b)") == "PENDING"
