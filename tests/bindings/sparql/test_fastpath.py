"""Queries answered without a query process: point lookups answered in the server
(bindings/sparql/fastpath.py) and the kept answers of repeated queries (answers.py), the same
as a query process gives, within what each caller may read, without waiting for a process.

Against a real `jobtrail serve` holding alice's private job (anonymous callers query the
public copy) with one query process: each point lookup is compared with its twin, the same
query with `FILTER(true)` added, which the fast path does not take.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pyoxigraph as ox
import pytest
from jobtrail.bindings.sparql.fastpath import QUADS, shape

from tests.conftest import ADMIN_TOKEN, JOB_USERS, DocumentServer, job_server

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
ALICE = ("alice", JOB_USERS["alice"])
MARKER = "alice-fastpath-run-0815"
SLOW = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
BIG = "urn:x:big"
FORMATS = {
    "json": ox.QueryResultsFormat.JSON,
    "xml": ox.QueryResultsFormat.XML,
    "csv": ox.QueryResultsFormat.CSV,
    "tsv": ox.QueryResultsFormat.TSV,
}


@pytest.mark.parametrize(
    "text",
    [
        "SELECT ?p ?o WHERE { <http://x/a> ?p ?o }",
        "select * { <a> ?p ?o . }",
        "PREFIX jt: <https://w3id.org/jobtrail/vocab#> SELECT DISTINCT ?o { jt:x a ?o } LIMIT 5",
        'ASK { <a> <b> "x"@en }',
        'SELECT ?s { <a> <b> "1"^^<http://www.w3.org/2001/XMLSchema#integer> } OFFSET 2',
        "BASE <http://x/> SELECT ?o WHERE { <a> <p> ?o } # a comment",
    ],
)
def test_point_lookups_are_recognised(text: str) -> None:
    assert shape(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        "SELECT ?o { ?s ?p ?o }",  # no subject
        "SELECT ?o { _:b ?p ?o }",
        "SELECT ?p ?o WHERE { <a> ?p ?o } ORDER BY ?o",  # sorting: the engine's known aborts
        "SELECT ?o { <a> <p>* ?o }",  # a path
        "SELECT ?o { <a> ?p ?o ; ?q ?r }",  # two patterns
        "SELECT ?o { <a> ?p ?o . <b> ?q ?r }",
        "SELECT (COUNT(*) AS ?n) { <a> ?p ?o }",
        "SELECT ?o FROM <g> { <a> ?p ?o }",
        "SELECT ?o { <a> ?p ?o FILTER(?o) }",
        "SELECT ?o { GRAPH ?g { <a> ?p ?o } }",
        "SELECT ?o { SERVICE <http://x/> { <a> ?p ?o } }",
        'SELECT ?o { <a> ?p "\\u0022" }',  # an escape may stand for any character
        "SELECT ?o { <a> ?p ?o } VALUES ?o { 1 }",
        "CONSTRUCT { <a> ?p ?o } WHERE { <a> ?p ?o }",
        "SELECT ?o { <a> ?p ?o } LIMIT 1 LIMIT 2",
        "ASK {}",  # no pattern, or half of one
        "SELECT * { <a> ?p",
        "SELECT * { <a>",
    ],
)
def test_everything_else_goes_to_a_query_process(text: str) -> None:
    assert shape(text) is None


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, documents: DocumentServer
) -> Iterator[tuple[str, str]]:
    """A server with alice's private job and a subject with more quads than the fast path
    reads; the job's IRI."""
    root = tmp_path_factory.mktemp("fastpath")
    with job_server(root / "data", root / "files", query_workers="1", query_timeout="6") as base:
        url = documents.put("/input.txt", b"alice's input\n", "text/plain")
        job = httpx.post(f"{base}uws/Fixity", data={"INPUT": url, "RUNID": MARKER}, auth=ALICE)
        assert job.status_code == 303, job.text
        triples = " ".join(f"<{BIG}> <urn:x:p{i}> {i} ." for i in range(QUADS + 200))
        update = httpx.post(
            f"{base}update",
            content=f"INSERT DATA {{ GRAPH <urn:x:g> {{ {triples} }} }}",
            headers={"Content-Type": "application/sparql-update", **ADMIN},
            timeout=30,
        )
        assert update.status_code == 204, update.text
        yield base, f"{base}jobs/{job.headers['location'].rsplit('/', 1)[1]}"


def ask(base: str, text: str, fmt: str = "json", **kwargs: Any) -> httpx.Response:
    deadline = time.monotonic() + 30
    while True:
        answer = httpx.get(
            f"{base}sparql", params={"query": text, "format": fmt}, timeout=30, **kwargs
        )
        if answer.status_code != 503 or time.monotonic() > deadline:  # 503: the public copy
            return answer
        time.sleep(0.2)


def rows(answer: httpx.Response, fmt: str) -> Any:
    assert answer.status_code == 200, answer.text
    if fmt == "csv":  # lossy: no parser; its lines, header first
        head, *lines = answer.text.splitlines()
        return head, sorted(lines)
    parsed = ox.parse_query_results(answer.content, format=FORMATS[fmt])
    if isinstance(parsed, ox.QueryBoolean):
        return bool(parsed)
    names = [v.value for v in parsed.variables]
    return names, sorted(tuple(str(s[n]) for n in names) for s in parsed)


def twin(text: str) -> str:
    """The same query, in a shape the fast path does not take."""
    head, _, tail = text.rpartition("}")
    return f"{head} FILTER(true) }}{tail}"


WHO = {"anonymous": {}, "alice": {"auth": ALICE}, "admin": {"headers": ADMIN}}


@pytest.mark.parametrize("who", WHO)
def test_point_lookups_answer_as_the_query_process_does(served: tuple[str, str], who: str) -> None:
    base, job = served
    message = ask(base, "SELECT ?m { GRAPH ?m { ?m a ?t } } LIMIT 1", headers=ADMIN)
    iri = message.json()["results"]["bindings"][0]["m"]["value"]
    queries = [
        f"SELECT ?p ?o WHERE {{ <{iri}> ?p ?o }}",
        f"SELECT ?p ?o WHERE {{ <{job}> ?p ?o }}",
        f"PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> "
        f"SELECT DISTINCT ?t {{ <{iri}> rdf:type ?t }}",
        f"ASK {{ <{job}> ?p ?o }}",
        "SELECT * { <urn:x:nothing-here> ?p ?o }",
        f"SELECT ?p ?o {{ <{BIG}> ?p ?o }}",  # past QUADS: a query process answers
    ]
    for text in queries:
        for fmt in ("json", "xml", "csv", "tsv") if "ASK" not in text else ("json", "xml"):
            here = rows(ask(base, text, fmt, **WHO[who]), fmt)
            there = rows(ask(base, twin(text), fmt, **WHO[who]), fmt)
            assert here == there, (text, fmt)
    everything = str(rows(ask(base, queries[1], **WHO[who]), "json"))
    assert (MARKER in everything) is (who == "admin")  # the public copy for the others
    if who == "admin":  # the admin's update is not in the public copy
        big = rows(ask(base, queries[-1], **WHO[who]), "json")
        assert len(big[1]) == QUADS + 200


def test_point_lookups_answer_while_every_query_process_is_busy(
    served: tuple[str, str],
) -> None:
    base, _ = served
    slow: dict[str, httpx.Response] = {}
    thread = threading.Thread(target=lambda: slow.update(r=ask(base, SLOW, headers=ADMIN)))
    thread.start()
    try:
        time.sleep(1.0)  # the one query process is busy with SLOW until its time limit
        started = time.monotonic()
        answer = ask(base, "SELECT ?p ?o { <urn:x:none> ?p ?o } LIMIT 3")
        took = time.monotonic() - started
    finally:
        thread.join()
    assert rows(answer, "json") == (["p", "o"], [])
    assert took < 2.0, took
    assert slow["r"].status_code == 503, slow["r"].text  # it ran to the limit meanwhile


def test_a_point_lookup_with_a_mistake_is_a_400_pointing_at_it(served: tuple[str, str]) -> None:
    base, _ = served
    answer = ask(base, "SELECT ?o { ex:a ?p ?o }")
    assert answer.status_code == 400
    assert "ex:" in answer.text and "^" in answer.text
    page = ask(base, "SELECT ?p ?o { <urn:x:big> ?p ?o }", "html", headers=ADMIN)
    assert page.status_code == 200 and "urn:x:p1" in page.text


COUNTED = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH <urn:x:counted> { ?s ?p ?o } }"


def count(base: str, text: str = COUNTED, **kwargs: Any) -> int:
    answer = ask(base, text, **kwargs)
    assert answer.status_code == 200, answer.text
    return int(answer.json()["results"]["bindings"][0]["n"]["value"])


def test_a_repeated_query_is_answered_again_until_a_write_changes_it(
    served: tuple[str, str],
) -> None:
    base, _ = served
    before = count(base, headers=ADMIN)
    assert count(base, headers=ADMIN) == before
    slow: dict[str, httpx.Response] = {}
    thread = threading.Thread(target=lambda: slow.update(r=ask(base, SLOW, headers=ADMIN)))
    thread.start()
    try:
        time.sleep(1.0)  # the one query process is busy until its time limit
        started = time.monotonic()
        again = count(base, headers=ADMIN)  # kept: no process needed
        took = time.monotonic() - started
        update = httpx.post(
            f"{base}update",
            content="INSERT DATA { GRAPH <urn:x:counted> { <urn:x:a> <urn:x:b> 1 } }",
            headers={"Content-Type": "application/sparql-update", **ADMIN},
            timeout=30,
        )
        assert update.status_code == 204, update.text
    finally:
        thread.join()
    assert again == before and took < 2.0, (again, took)
    assert count(base, headers=ADMIN) == before + 1  # the write is seen at once


def test_kept_answers_are_each_callers_own(served: tuple[str, str]) -> None:
    base, _ = served
    everything = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <urn:x:g> {{ <{BIG}> ?p ?o }} }}"
    for _ in range(2):  # the admin's update is in the whole store, not in the public copy
        assert count(base, everything, headers=ADMIN) == QUADS + 200
        assert count(base, everything) == 0
        assert count(base, everything, auth=ALICE) == 0


def test_a_query_with_a_new_value_at_every_run_is_run_every_time(
    served: tuple[str, str],
) -> None:
    base, _ = served
    text = "SELECT (STRUUID() AS ?u) WHERE {}"
    seen = {ask(base, text, headers=ADMIN).json()["results"]["bindings"][0]["u"]["value"]}
    seen.add(ask(base, text, headers=ADMIN).json()["results"]["bindings"][0]["u"]["value"])
    assert len(seen) == 2


def test_clients_asking_the_same_query_together_get_its_answer(served: tuple[str, str]) -> None:
    base, _ = served
    text = f"SELECT (COUNT(*) AS ?n) WHERE {{ <{BIG}> ?p ?o . FILTER(?o != {time.time_ns()}) }}"
    counts: list[int] = []
    threads = [
        threading.Thread(target=lambda: counts.append(count(base, text, headers=ADMIN)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counts == [QUADS + 200] * 8
