"""Dereferencing on a real server: every producer IRI the server mints answers at one URL."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
import rdflib

from tests.conftest import EXAMPLES_DIR, PRODUCER, jobtrail_server

PROV_ATTRIBUTED = rdflib.URIRef("http://www.w3.org/ns/prov#wasAttributedTo")
TEMPLATE = EXAMPLES_DIR / "tre-enhanced-messages" / "04-tre-to-access.json"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with jobtrail_server(tmp_path_factory.mktemp("dereference") / "data") as base:
        yield base


@pytest.fixture
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=10, headers=PRODUCER) as c:
        yield c


def producer_of(client: httpx.Client, n: int, **producer: str) -> str:
    """POST a TRE hop from this producer; the producer IRI the server minted for it."""
    doc = json.loads(TEMPLATE.read_text())
    doc["timestamp"] = str(1710000000 + n)
    doc["producer"].update(producer)
    answer = client.post("/messages", content=json.dumps(doc).encode())
    assert answer.status_code == 201, answer.text
    graph = rdflib.Graph()
    message = client.get(answer.headers["Location"], headers={"Accept": "application/n-triples"})
    graph.parse(data=message.text, format="nt")
    (iri,) = set(graph.objects(rdflib.URIRef(answer.headers["Location"]), PROV_ATTRIBUTED))
    return str(iri)


@pytest.mark.parametrize(
    "n, name",
    [
        (1, "Zürich"),  # non-ASCII: was 404
        (2, "two words"),  # a space: was 500
        (3, 'a<b>"c"{d}|e\\f^g`h'),  # every character an IRI may not hold: was 500
        (4, "a/b"),  # a slash inside a name
        (5, "a%2Fb"),  # a name holding what looks like an escape
    ],
)
def test_a_minted_producer_iri_dereferences(client: httpx.Client, n: int, name: str) -> None:
    iri = producer_of(client, n, name=name)
    answer = client.get(iri, headers={"Accept": "application/n-triples"})
    assert answer.status_code == 200, answer.text
    graph = rdflib.Graph().parse(data=answer.text, format="nt")
    assert (rdflib.URIRef(iri), None, None) in graph  # the very IRI, not a decoded cousin
    assert answer.url == httpx.URL(iri)  # no redirect: the minted IRI is the canonical URL


def test_another_spelling_redirects_to_the_one_url(client: httpx.Client) -> None:
    iri = producer_of(client, 6, name="Zürich", process="α β")
    lower = iri.replace("%C3%BC", "%c3%bc").replace("Z", "%5A", 1)
    assert lower != iri
    answer = client.get(lower)
    assert answer.status_code == 301 and answer.headers["Location"].endswith(
        httpx.URL(iri).raw_path.decode()
    )
    assert client.get(lower, follow_redirects=True).status_code == 200


def test_an_encoded_slash_is_not_a_second_url(client: httpx.Client) -> None:
    iri = producer_of(client, 7, name="TDR", process="p", environment="e")
    assert iri.endswith("/producers/TDR/p/e")
    assert client.get(iri).status_code == 200
    joined = iri.replace("TDR/p", "TDR%2Fp")
    assert client.get(joined).status_code == 404


@pytest.mark.parametrize(
    "path", ["/producers/%20x", "/producers/%3Cx%3E", "/messages/%22", "/x%00"]
)
def test_an_encoded_character_an_iri_may_not_hold_is_a_404(client: httpx.Client, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 404, answer.text
