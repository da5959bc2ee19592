"""A producer as of any time (Memento, RFC 7089) on a real server over the examples: its
versions are the messages it made; its IRI is its TimeGate; its TimeMap lists them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import httpx
import pytest
import rdflib
from memento_client import MementoClient

PROV = rdflib.Namespace("http://www.w3.org/ns/prov#")


@pytest.fixture(scope="module")
def client(served: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served, timeout=20) as c:
        yield c


@pytest.fixture(scope="module")
def producer(client: httpx.Client) -> dict[str, Any]:
    """The producer with the most messages made at distinct times."""
    listed = client.get("/producers", params={"size": "1000"}).json()["producers"]
    busiest = max(listed, key=lambda p: (p["messages"], p["producer"]))
    assert busiest["messages"] >= 2
    return dict(busiest)


def versions(client: httpx.Client, iri: str) -> list[dict[str, Any]]:
    answer = client.get(f"{iri}/timemap.json")
    assert answer.status_code == 200, answer.text
    return list(answer.json()["mementos"]["list"])


def test_the_timemap_lists_a_version_for_each_message(
    client: httpx.Client, producer: dict[str, Any]
) -> None:
    iri = producer["producer"]
    listed = versions(client, iri)
    assert len(listed) == producer["messages"]
    times = [parsedate_to_datetime(v["datetime"]) for v in listed]
    assert times == sorted(times)
    assert all(v["uri"].startswith(f"{iri}/versions/") for v in listed)
    link = client.get(f"{iri}/timemap")
    assert link.headers["content-type"].startswith("application/link-format")
    assert link.text.startswith(f'<{iri}>; rel="original"')
    assert link.text.count('memento"; datetime=') == len(listed)
    page = client.get(f"{iri}/timemap", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "Versions of" in page.text


def test_the_producer_as_of_a_time(client: httpx.Client, producer: dict[str, Any]) -> None:
    iri = producer["producer"]
    listed = versions(client, iri)
    for version in (listed[0], listed[-1]):
        gate = client.get(iri, headers={"Accept-Datetime": version["datetime"]})
        assert gate.status_code == 302, gate.text
        assert "accept-datetime" in gate.headers["vary"].lower()
        assert f'<{iri}>; rel="original timegate"' in gate.headers["link"]
        chosen = gate.headers["location"]
        same_second = [v["uri"] for v in listed if v["datetime"] == version["datetime"]]
        assert chosen == same_second[-1]  # the last made in that second
        memento = client.get(chosen, headers={"Accept": "text/turtle"})
        assert memento.status_code == 200
        assert memento.headers["memento-datetime"] == version["datetime"]
        graph = rdflib.Graph().parse(data=memento.text, format="turtle")
        message = next(v["message"] for v in listed if v["uri"] == chosen)
        assert (rdflib.URIRef(chosen), PROV.wasDerivedFrom, rdflib.URIRef(message)) in graph
        assert (rdflib.URIRef(chosen), PROV.specializationOf, rdflib.URIRef(iri)) in graph
    first = parsedate_to_datetime(listed[0]["datetime"])
    before = client.get(
        iri, headers={"Accept-Datetime": format_datetime(first - timedelta(seconds=1), True)}
    )
    assert before.status_code == 404 and "first" in before.text
    assert client.get(iri, headers={"Accept-Datetime": "last week"}).status_code == 400
    plain = client.get(iri, headers={"Accept": "text/turtle"})  # without: as before
    assert plain.status_code == 200 and "memento-datetime" not in plain.headers


def test_the_memento_client_finds_a_producers_memento(
    served: str, client: httpx.Client, producer: dict[str, Any]
) -> None:
    iri = producer["producer"]
    listed = versions(client, iri)
    last = parsedate_to_datetime(listed[-1]["datetime"])
    with MementoClient(timegate_uri="", check_native_timegate=True) as mc:
        info = mc.get_memento_info(iri, (last + timedelta(days=1)).replace(tzinfo=None))
    assert info["mementos"]["closest"]["uri"] == [listed[-1]["uri"]]
    assert info["mementos"]["first"]["uri"] == [listed[0]["uri"]]


def test_what_is_no_producers_version(client: httpx.Client, producer: dict[str, Any]) -> None:
    iri = producer["producer"]
    assert client.get(f"{iri}/versions/{'0' * 64}").status_code == 404
    assert client.get(f"{iri}/timemap.xml").status_code == 404
    assert client.get("/messages/x/timemap").status_code == 404  # not a producer
