"""Egress through SPARQL: `SERVICE` and `LOAD` reach nothing unless the administrator says.

Against real servers: with federation off (the default), every way of writing a SERVICE
or a LOAD is refused with a 400 naming the setting, and a listener on loopback sees no
connection; with an endpoint allowed, the egress policy still applies, and a query
federates to a real `oxigraph serve` once both allow it.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from jobtrail.bindings.sparql.federation import reached

from tests.conftest import ADMIN_TOKEN, jobtrail_server

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
JSON = {"Accept": "application/sparql-results+json"}


class Listener:
    """A TCP listener on loopback that counts the connections made to it."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(16)
        self.port = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/sparql"
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.connections += 1
            connection.close()


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    found = Listener()
    yield found
    found.socket.close()


@pytest.fixture(scope="module")
def closed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server with federation off (the default)."""
    data = tmp_path_factory.mktemp("federation-off") / "data"
    with jobtrail_server(data, env={"JOBTRAIL_ADMIN_TOKEN": ADMIN_TOKEN}) as base:
        yield base


def ways(endpoint: str, server: str) -> list[str]:
    """SERVICE written every way the grammar allows, and a nested call back to the server."""
    escaped = endpoint.replace("http", "\\u0068ttp", 1)
    folder = endpoint.rsplit("/", 1)[0]
    nested = f"SERVICE <{server}sparql> {{ SERVICE <{server}sparql> {{ ?s ?p ?o }} }}"
    return [
        f"SELECT * WHERE {{ SERVICE <{endpoint}> {{ ?s ?p ?o }} }}",
        f"select * where {{ service silent <{endpoint}> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ ?a ?b ?c .SERVICE <{endpoint}> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ SERVICE # a comment\n <{endpoint}> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ SERVICE <{escaped}> {{ ?s ?p ?o }} }}",
        f"PREFIX e: <{folder}/> SELECT * WHERE {{ SERVICE e:sparql {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ BIND(<{endpoint}> AS ?e) SERVICE ?e {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ {nested} }}",
    ]


def test_service_is_refused_and_connects_nowhere(closed: str, listener: Listener) -> None:
    for text in ways(listener.url, closed):
        for headers in (JSON, {**JSON, **ADMIN}):  # the administrator too: it is the setting
            answer = httpx.get(f"{closed}sparql", params={"query": text}, headers=headers)
            assert answer.status_code == 400, (text, answer.text)
            assert "sparql_federation" in answer.text, text
    posted = httpx.post(
        f"{closed}sparql",
        content=ways(listener.url, closed)[0],
        headers={"Content-Type": "application/sparql-query", **JSON},
    )
    assert posted.status_code == 400
    time.sleep(0.5)
    assert listener.connections == 0


def test_load_is_refused_and_connects_nowhere(closed: str, listener: Listener) -> None:
    for text in (
        f"LOAD <{listener.url}>",
        f"load silent <{listener.url}> into graph <urn:x:g>",
        f"INSERT {{ ?s ?p ?o }} WHERE {{ SERVICE <{listener.url}> {{ ?s ?p ?o }} }}",
    ):
        answer = httpx.post(
            f"{closed}update",
            content=text,
            headers={"Content-Type": "application/sparql-update", **ADMIN},
        )
        assert answer.status_code == 400, (text, answer.text)
        assert "sparql_federation" in answer.text
    time.sleep(0.5)
    assert listener.connections == 0


def test_words_that_only_look_like_service_are_not_refused(closed: str) -> None:
    for text in (
        'SELECT ?service WHERE { ?s ?p "SERVICE <http://127.0.0.1/>" } LIMIT 1',
        "SELECT * WHERE { ?s <urn:x:SERVICE> ?o } # SERVICE <http://127.0.0.1/>",
        "SELECT * WHERE { ?s ?p ?o } LIMIT 1",
    ):
        answer = httpx.get(f"{closed}sparql", params={"query": text}, headers=JSON)
        assert answer.status_code == 200, (text, answer.text)


def test_the_reading_finds_what_the_grammar_would() -> None:
    assert reached("SELECT * { SERVICE <http://a/> {} }") == [("SERVICE", "http://a/")]
    assert reached("select * { Service Silent <http://a/> {} }") == [("SERVICE", "http://a/")]
    assert reached("SELECT * { SERVICE <http://\\u0061/> {} }") == [("SERVICE", "http://a/")]
    assert reached("SELECT * { ?o ?p ?q .SERVICE ?e {} }") == [("SERVICE", None)]
    assert reached("LOAD <http://x/y> INTO GRAPH <urn:g>") == [("LOAD", "http://x/y")]
    assert reached("SELECT ?service { ?s ex:SERVICE ?o . SERVICE:x ?p ?o }") == []
    assert reached('SELECT * { ?s ?p """a\nSERVICE <http://a/> {}""" }') == []
    assert reached("SELECT * { <urn:x#SERVICE> ?p ?o } # LOAD <http://a/>") == []


def test_an_allowed_endpoint_still_obeys_the_egress_policy(
    tmp_path_factory: pytest.TempPathFactory, oxigraph_server: str
) -> None:
    endpoint = f"{oxigraph_server}/query"
    marker = f"urn:x:federated:{uuid.uuid4()}"
    insert = f'INSERT DATA {{ <{marker}> <urn:x:said> "from the other endpoint" }}'
    httpx.post(
        f"{oxigraph_server}/update",
        content=insert,
        headers={"Content-Type": "application/sparql-update"},
    ).raise_for_status()
    text = f"SELECT ?o WHERE {{ SERVICE <{endpoint}> {{ <{marker}> <urn:x:said> ?o }} }}"
    env = {"JOBTRAIL_ADMIN_TOKEN": ADMIN_TOKEN, "JOBTRAIL_SPARQL_FEDERATION": endpoint}
    data = tmp_path_factory.mktemp("federation-private") / "data"
    with jobtrail_server(data, env=env) as base:  # allowed, but on loopback
        answer = httpx.get(f"{base}sparql", params={"query": text}, headers=JSON)
        assert answer.status_code == 400, answer.text
        assert "egress policy" in answer.text and "loopback" in answer.text
        other = text.replace(endpoint, f"{oxigraph_server}/other")
        answer = httpx.get(f"{base}sparql", params={"query": other}, headers=JSON)
        assert answer.status_code == 400 and "not one of the endpoints" in answer.text
    env["JOBTRAIL_FETCH_ALLOW_PRIVATE"] = "true"
    data = tmp_path_factory.mktemp("federation-open") / "data"
    with jobtrail_server(data, env=env) as base:
        answer = httpx.get(f"{base}sparql", params={"query": text}, headers=JSON, timeout=30)
        assert answer.status_code == 200, answer.text
        (row,) = answer.json()["results"]["bindings"]
        assert row["o"]["value"] == "from the other endpoint"
