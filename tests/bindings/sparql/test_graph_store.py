"""The Graph Store Protocol (/store), the service description, ASK in CSV/TSV, the base IRI
and the update dataset parameters, against a real server with an admin token."""

from __future__ import annotations

import uuid

import httpx
import pyoxigraph as ox

from tests.conftest import ADMIN_TOKEN

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SD = "http://www.w3.org/ns/sparql-service-description#"


def _graph() -> str:
    return f"http://example.org/gsp/{uuid.uuid4()}"


def test_put_get_post_delete_a_graph(sparql_admin_served: str) -> None:
    g = _graph()
    with httpx.Client(base_url=sparql_admin_served, timeout=30) as c:
        assert c.get("/store", params={"graph": g}, headers=AUTH).status_code == 404
        ttl = b"<s> <urn:x:p> 1 ."
        put = c.put(
            "/store",
            params={"graph": g},
            content=ttl,
            headers={**AUTH, "Content-Type": "text/turtle"},
        )
        assert put.status_code == 201, put.text
        got = c.get(
            "/store", params={"graph": g}, headers={**AUTH, "Accept": "application/n-triples"}
        )
        assert got.status_code == 200 and got.headers["content-type"].startswith(
            "application/n-triples"
        )
        assert "<http://example.org/gsp/s>" in got.text  # <s> resolved against the graph's IRI
        more = b"<urn:x:s2> <urn:x:p> 2 ."
        post = c.post(
            "/store",
            params={"graph": g},
            content=more,
            headers={**AUTH, "Content-Type": "text/turtle"},
        )
        assert post.status_code == 204
        got = c.get(
            "/store", params={"graph": g}, headers={**AUTH, "Accept": "application/n-triples"}
        )
        assert len(got.text.strip().splitlines()) == 2
        assert (
            c.put(
                "/store",
                params={"graph": g},
                content=more,
                headers={**AUTH, "Content-Type": "text/turtle"},
            ).status_code
            == 204
        )
        got = c.get(
            "/store", params={"graph": g}, headers={**AUTH, "Accept": "application/n-triples"}
        )
        assert len(got.text.strip().splitlines()) == 1  # replaced
        assert c.delete("/store", params={"graph": g}, headers=AUTH).status_code == 204
        assert c.delete("/store", params={"graph": g}, headers=AUTH).status_code == 404


def test_graph_store_refuses_bad_requests_with_4xx(sparql_admin_served: str) -> None:
    g = _graph()
    with httpx.Client(base_url=sparql_admin_served, timeout=30) as c:
        assert c.get("/store", headers=AUTH).status_code == 400  # no graph named
        assert c.get("/store", params={"graph": "not an iri"}, headers=AUTH).status_code == 400
        both = c.get("/store", params={"graph": g, "default": ""}, headers=AUTH)
        assert both.status_code == 400
        nq = c.put(
            "/store",
            params={"graph": g},
            content=b"",
            headers={**AUTH, "Content-Type": "application/n-quads"},
        )
        assert nq.status_code == 415
        bad = c.put(
            "/store",
            params={"graph": g},
            content=b"<a> <b",
            headers={**AUTH, "Content-Type": "text/turtle"},
        )
        assert bad.status_code == 400 and "Turtle" in bad.text
        anonymous = c.put(
            "/store", params={"graph": g}, content=b"", headers={"Content-Type": "text/turtle"}
        )
        assert anonymous.status_code == 401


def test_get_sparql_without_a_query_describes_the_service(sparql_admin_served: str) -> None:
    r = httpx.get(sparql_admin_served + "sparql", headers={"Accept": "text/turtle"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/turtle")
    triples = [q.triple for q in ox.parse(r.content, format=ox.RdfFormat.TURTLE)]
    endpoint = ox.NamedNode(sparql_admin_served + "sparql")
    assert ox.Triple(endpoint, ox.NamedNode(SD + "endpoint"), endpoint) in triples
    assert any(t.object == ox.NamedNode(SD + "SPARQL11Update") for t in triples)
    xml = httpx.get(sparql_admin_served + "sparql", headers={"Accept": "application/rdf+xml"})
    assert xml.status_code == 200 and "rdf:RDF" in xml.text
    page = httpx.get(sparql_admin_served + "sparql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and '<div id="yasgui">' in page.text  # the query page


def test_ask_in_csv_or_tsv_is_406_naming_json_and_xml(sparql_admin_served: str) -> None:
    for accept in ("text/csv", "text/tab-separated-values"):
        r = httpx.get(
            sparql_admin_served + "sparql", params={"query": "ASK {}"}, headers={"Accept": accept}
        )
        assert r.status_code == 406, r.text
        assert "sparql-results+json" in r.text and "CSV" in r.text
    r = httpx.get(sparql_admin_served + "sparql", params={"query": "ASK {}", "format": "csv"})
    assert r.status_code == 406
    either = {"Accept": "text/csv, application/sparql-results+xml;q=0.5"}
    r = httpx.get(sparql_admin_served + "sparql", params={"query": "ASK {}"}, headers=either)
    assert r.status_code == 200 and r.headers["content-type"].startswith(
        "application/sparql-results+xml"
    )


def test_relative_iris_resolve_against_the_endpoint(sparql_admin_served: str) -> None:
    r = httpx.get(
        sparql_admin_served + "sparql",
        params={"query": "SELECT ?x { BIND(<rel> AS ?x) }"},
        headers={"Accept": "application/sparql-results+json"},
    )
    assert r.json()["results"]["bindings"][0]["x"]["value"] == sparql_admin_served + "rel"


def test_update_dataset_parameters_and_their_conflict(sparql_admin_served: str) -> None:
    g, out = _graph(), _graph()
    update = (
        f"INSERT DATA {{ GRAPH <{g}> {{ <urn:x:a> <urn:x:p> 1 }} }} ;\n"
        f"INSERT {{ GRAPH <{out}> {{ ?s <urn:x:seen> 1 }} }} WHERE {{ ?s <urn:x:p> 1 }}"
    )
    headers = {**AUTH, "Content-Type": "application/sparql-update"}
    r = httpx.post(
        sparql_admin_served + "sparql",
        params={"using-graph-uri": g},
        content=update,
        headers=headers,
    )
    assert r.status_code == 204, r.text
    ask = f"ASK {{ GRAPH <{out}> {{ <urn:x:a> <urn:x:seen> 1 }} }}"
    r = httpx.get(sparql_admin_served + "sparql", params={"query": ask}, headers=AUTH)
    assert r.json()["boolean"] is True
    conflict = f"WITH <{g}> DELETE {{ ?s ?p ?o }} WHERE {{ ?s ?p ?o }}"
    r = httpx.post(
        sparql_admin_served + "sparql",
        params={"using-graph-uri": g},
        content=conflict,
        headers=headers,
    )
    assert r.status_code == 400 and "WITH" in r.text
