"""HTTP details on a real server: repeated Accept headers, bad q-values, Content-Location,
trailing slashes, OPTIONS without Origin."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import rdflib

SHA = "/messages/"


@pytest.fixture(scope="module")
def client(served: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served, timeout=10) as c:
        yield c


@pytest.fixture(scope="module")
def message(client: httpx.Client) -> str:
    """The path of one stored message (from the Atom feed's first entry)."""
    feed = client.get("/messages", headers={"Accept": "application/atom+xml"}).text
    start = feed.index(client.base_url.join(SHA).path)
    return feed[start : feed.index("<", start)].split('"')[0]


def test_two_accept_headers_are_combined(client: httpx.Client, message: str) -> None:
    # RFC 9110 §5.3: two Accept fields are one list; the second here says what is wanted
    answer = client.get(
        message, headers=[("Accept", "text/html;q=0.1"), ("Accept", "application/n-triples")]
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/n-triples")
    rdflib.Graph().parse(data=answer.text, format="nt")


@pytest.mark.parametrize("q", ["abc", "1.5", "0.1234", "-1", ""])
def test_an_invalid_q_value_is_ignored(client: httpx.Client, message: str, q: str) -> None:
    answer = client.get(message, headers={"Accept": f"application/n-triples;q={q}"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/n-triples")


def test_a_negotiated_answer_says_where_that_format_is(client: httpx.Client, message: str) -> None:
    answer = client.get(message, headers={"Accept": "application/n-triples"})
    location = answer.headers["Content-Location"]
    assert location.endswith(f"{message}.nt")
    direct = client.get(location)
    assert direct.status_code == 200 and direct.content == answer.content


@pytest.mark.parametrize("path", ["/sparql/", "/vocab/", "/messages/", "/trace/TDR-2021-GW3/"])
def test_a_trailing_slash_redirects_to_the_resource(client: httpx.Client, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code in (301, 308), answer.text
    assert httpx.URL(answer.headers["Location"]).path == path.rstrip("/")


def test_a_trailing_slash_on_a_message_redirects(client: httpx.Client, message: str) -> None:
    answer = client.get(message + "/")
    assert answer.status_code in (301, 308) and answer.headers["Location"].endswith(message)


@pytest.mark.parametrize("path", ["/messages", "/sparql", "/jobs", "/vocab"])
def test_options_without_origin_answers_allow(client: httpx.Client, path: str) -> None:
    answer = client.options(path)
    assert answer.status_code in (200, 204), answer.text
    allowed = {m.strip() for m in answer.headers["Allow"].split(",")}
    assert {"GET", "OPTIONS"} <= allowed
