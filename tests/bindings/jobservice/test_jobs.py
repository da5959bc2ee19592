"""The linked-data job service against a real server, as the seed (001) describes it.

Clients nobody here wrote read what it answers: httpx for the exchange,
rdflib for the resource maps, feedparser for the Atom documents.
"""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import feedparser
import httpx
import pytest
import rdflib
from rdflib.namespace import DCTERMS

from tests.conftest import (
    ADMIN_TOKEN,
    JOB_USERS,
    DocumentServer,
    free_port,
    href_of,
    job_server,
)
from tests.jobs.worddoc import word97

ORE = rdflib.Namespace("http://www.openarchives.org/ore/terms/")
SCHEMA = rdflib.Namespace("https://schema.org/")
JT = rdflib.Namespace("https://w3id.org/jobtrail/vocab#")

FORMATS = {
    ".atom": "application/atom+xml",
    ".rdf": "application/rdf+xml",
    ".n3": "text/n3",
    ".ttl": "text/turtle",
    ".jsonld": "application/ld+json",
    ".nt": "application/n-triples",
    ".html": "text/html",
}
PROBLEM = {"Accept": "text/turtle, application/problem+json"}  # while running, then if it fails
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
"""SPARQL sees the whole store: once it holds someone's job, only the admin (or a curator) asks."""
RDFLIB = {".rdf": "xml", ".n3": "n3", ".ttl": "turtle", ".jsonld": "json-ld", ".nt": "nt"}


def basic(user: str, password: str | None = None) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password or JOB_USERS[user]}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def docx_bytes(text: str, title: str) -> bytes:
    import docx

    document = docx.Document()
    document.core_properties.title = title
    document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def wait_done(client: httpx.Client, job: str, seconds: float = 20, **kw: object) -> httpx.Response:
    """Poll a job as the seed's client does until it stops answering 202."""
    deadline = time.monotonic() + seconds
    while True:
        answer = client.get(job, **kw)  # type: ignore[arg-type]
        if answer.status_code != 202:
            return answer
        assert "Retry-After" in answer.headers
        if time.monotonic() > deadline:
            pytest.fail(f"{job} still running after {seconds} s")
        time.sleep(0.05)


@pytest.fixture
def client(jobs_served: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=jobs_served, timeout=10) as c:
        yield c


@pytest.fixture(scope="module")
def completed(jobs_served: str, documents: DocumentServer) -> str:
    """A DocumentToText job on a .docx, run to completion; its IRI."""
    url = documents.put(
        "/x.docx",
        docx_bytes("Hello from the seed", "My Document"),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    )
    created = httpx.post(f"{jobs_served}jobs", content=url, headers={"Content-Type": "text/plain"})
    assert created.status_code == 201
    with httpx.Client(timeout=10) as c:
        assert wait_done(c, created.text).status_code == 303
    return created.text


def test_a_running_job_links_to_nothing_that_is_404(
    client: httpx.Client, documents: DocumentServer
) -> None:
    """The 202 names no resource map (they are 404 until the job completes): every link it
    gives, and its Content-Location, answer."""
    slow = documents.put("/links.doc", word97(["Links while running."]))
    job = client.post("/jobs", content=f"{slow}?delay=2").text
    running = client.get(job, headers={"Accept": "text/turtle"})
    assert running.status_code == 202, running.text
    links = [v.split(">")[0].lstrip(" <") for v in running.headers["Link"].split(",")]
    for target in [*links, running.headers.get("Content-Location")]:
        if target is not None:
            assert client.get(target).status_code != 404, (target, running.headers)
    wait_done(client, job)


def test_the_seed_exchange(client: httpx.Client, documents: DocumentServer) -> None:
    """POST → 201 → 202 → 303 → the document, with the seed's Accept: text/rdf+n3."""
    slow = documents.put(
        "/slow.docx",
        docx_bytes("Converted by a worker", "My Document"),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    )
    created = client.post("/jobs", content=f"{slow}?delay=1")
    assert created.status_code == 201
    job = created.text
    assert created.headers["Location"] == job and job.startswith(str(client.base_url))
    first = client.get(job, headers={"Accept": "text/rdf+n3"})
    assert first.status_code == 202, first.text
    assert first.headers["content-type"].startswith("text/n3")
    assert int(first.headers["Retry-After"]) >= 1
    running = rdflib.Graph().parse(data=first.text, format="n3")
    assert (rdflib.URIRef(job), JT.phase, None) in running
    done = wait_done(client, job, headers={"Accept": "text/rdf+n3"})
    assert done.status_code == 303
    assert done.headers["Location"] == f"{job}.n3"
    rem = client.get(done.headers["Location"])
    assert rem.status_code == 200 and rem.headers["content-type"].startswith("text/n3")
    graph = rdflib.Graph().parse(data=rem.text, format="n3")
    aggregation = rdflib.URIRef(f"{job}/results")
    (text_file,) = graph.objects(aggregation, ORE.aggregates)
    assert (rdflib.URIRef(f"{slow}?delay=1"), DCTERMS.hasFormat, text_file) in graph
    assert str(graph.value(text_file, DCTERMS.format)) == "text/plain"
    assert str(graph.value(text_file, DCTERMS.title)) == "My Document"
    assert graph.value(text_file, SCHEMA.expires) is not None
    assert graph.value(aggregation, DCTERMS.creator) is not None
    assert graph.value(aggregation, DCTERMS.created) is not None
    converted = client.get(str(text_file))
    assert converted.status_code == 200 and "Converted by a worker" in converted.text
    assert converted.headers["content-type"].startswith("text/plain")


@pytest.mark.skipif(shutil.which("antiword") is None, reason="antiword is not installed")
def test_the_seed_exchange_with_a_word_97_document(
    client: httpx.Client, documents: DocumentServer
) -> None:
    """The seed's own case: http://h/x.doc, converted to text by antiword, read as RDF/XML."""
    url = documents.put(
        "/x.doc", word97(["My Document", "Antiword did this."]), "application/msword"
    )
    created = client.post("/jobs", content=url)
    assert created.status_code == 201
    done = wait_done(client, created.text, headers={"Accept": "application/rdf+xml"})
    assert done.status_code == 303 and done.headers["Location"] == f"{created.text}.rdf"
    graph = rdflib.Graph().parse(data=client.get(done.headers["Location"]).content, format="xml")
    (rendition,) = graph.objects(rdflib.URIRef(url), DCTERMS.hasFormat)
    assert str(rendition).endswith("/x.txt")
    text = client.get(str(rendition)).text
    assert "My Document" in text and "Antiword did this." in text


@pytest.mark.parametrize("ext", list(FORMATS))
def test_the_resource_map_in_every_format(client: httpx.Client, completed: str, ext: str) -> None:
    answer = client.get(f"{completed}{ext}")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith(FORMATS[ext])
    aggregation = f"{completed}/results"
    if ext == ".atom":
        parsed = feedparser.parse(answer.content)  # an entry document: feedparser reads it too
        assert not parsed.bozo, parsed.get("bozo_exception")
        (entry,) = parsed.entries
        links = {link["rel"]: link["href"] for link in entry.links}
        assert links["self"] == f"{completed}.atom"
        assert links[str(ORE.describes)] == aggregation
        assert links[str(ORE.aggregates)].startswith(f"{aggregation}/")
    elif ext == ".html":
        assert f'href="{href_of(aggregation)}/' in answer.text
    else:
        graph = rdflib.Graph().parse(data=answer.content, format=RDFLIB[ext])
        rem = rdflib.URIRef(f"{completed}{ext}")
        assert (rem, ORE.describes, rdflib.URIRef(aggregation)) in graph
        assert len(list(graph.objects(rdflib.URIRef(aggregation), ORE.aggregates))) == 1


ATOM_NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "oreatom": "http://www.openarchives.org/ore/atom/",
}


def test_the_atom_resource_map_reads_as_ore_1_0(client: httpx.Client, completed: str) -> None:
    """What an ORE 1.0 client reads, checked from "Resource Map Implementation in Atom" 1.0.

    The map is one atom:entry (not the betas' feed): `self` is the map, the `ore:describes`
    link the aggregation, the Aggregation category, one `ore:aggregates` link per file with
    its type and length, the aggregation's creator as atom:author and the map's as
    atom:source/atom:author; `oreatom:triples` is RDF/XML, here with each file's checksum.
    """
    from lxml import etree

    answer = client.get(f"{completed}.atom")
    assert answer.status_code == 200
    root = etree.fromstring(answer.content)
    assert root.tag == "{http://www.w3.org/2005/Atom}entry"

    def one(path: str) -> str:
        (value,) = root.xpath(path, namespaces=ATOM_NS)
        return str(value)

    aggregation = f"{completed}/results"
    assert one("atom:link[@rel='self']/@href") == f"{completed}.atom"
    assert one("atom:link[@rel='self']/@type") == "application/atom+xml"
    assert one(f"atom:link[@rel='{ORE.describes}']/@href") == aggregation
    assert one("atom:id/text()")  # required by Atom, any URI
    assert one("atom:updated/text()") and one("atom:title/text()")
    category = root.xpath(f"atom:category[@scheme='{ORE}']", namespaces=ATOM_NS)
    assert [c.get("term") for c in category] == [str(ORE.Aggregation)]
    assert one("atom:author/atom:name/text()")  # the aggregation's dcterms:creator
    # the map's dcterms:creator
    assert one("atom:source/atom:author/atom:name/text()") == "jobtrail"
    # Atom: an entry without content has an alternate link (ORE: the splash page)
    assert one("atom:link[@rel='alternate']/@type") == "text/html"
    (aggregated,) = root.xpath(f"atom:link[@rel='{ORE.aggregates}']", namespaces=ATOM_NS)
    href = aggregated.get("href")
    assert href.startswith(f"{aggregation}/") and href.endswith(".txt")
    assert aggregated.get("type") == "text/plain"
    body = client.get(href).content
    assert int(aggregated.get("length")) == len(body)
    (triples,) = root.xpath("oreatom:triples", namespaces=ATOM_NS)
    rdfxml = (
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        + "".join(etree.tostring(d, encoding="unicode") for d in triples)
        + "</rdf:RDF>"
    )
    graph = rdflib.Graph().parse(data=rdfxml, format="xml")
    assert str(graph.value(rdflib.URIRef(href), JT.sha256)) == hashlib.sha256(body).hexdigest()
    assert str(graph.value(rdflib.URIRef(href), DCTERMS.format)) == "text/plain"
    described = set(graph.objects(rdflib.URIRef(aggregation), ORE.isDescribedBy))
    assert rdflib.URIRef(f"{completed}.rdf") in described
    # no feed-of-entries: nothing else claims to be an aggregated resource
    assert not root.xpath("atom:entry", namespaces=ATOM_NS)


@pytest.mark.parametrize(
    "accept, location",
    [
        ("application/rdf+xml", ".rdf"),
        ("text/turtle", ".ttl"),
        ("application/ld+json", ".jsonld"),
        (None, ".atom"),  # the seed: Atom by default
    ],
)
def test_a_completed_job_redirects_to_the_format_asked_for(
    client: httpx.Client, completed: str, accept: str | None, location: str
) -> None:
    headers = {"Accept": accept} if accept else {}
    answer = client.get(completed, headers=headers)
    assert answer.status_code == 303
    assert answer.headers["Location"] == completed + location


def test_a_browser_gets_the_job_page_not_a_redirect(client: httpx.Client, completed: str) -> None:
    """HTML is the job page (test_job_page.py), 200; its resource map stays at {job}.html."""
    answer = client.get(completed, headers={"Accept": "text/html,application/xhtml+xml;q=0.9"})
    assert answer.status_code == 200 and "job-history" in answer.text
    assert f'href="{href_of(completed)}.html"' in answer.text


def test_no_format_fits_is_406_listing_what_is_offered(
    client: httpx.Client, completed: str
) -> None:
    answer = client.get(completed, headers={"Accept": "image/png"})
    assert answer.status_code == 406
    assert "application/rdf+xml" in answer.text


def test_the_resource_map_is_404_until_the_job_is_complete(
    client: httpx.Client, documents: DocumentServer
) -> None:
    url = documents.put("/later.docx", docx_bytes("later", "Later"))
    job = client.post("/jobs", content=f"{url}?delay=2").text
    early = client.get(f"{job}.atom")
    assert early.status_code == 404 and "no results yet" in early.text
    assert wait_done(client, job).status_code == 303
    assert client.get(f"{job}.atom").status_code == 200


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("text/uri-list", "# one document\r\n{url}\r\n"),
        ("application/x-www-form-urlencoded", "url={url}&profile=Fixity"),
        ("application/json", '{{"url": "{url}", "profile": "Fixity"}}'),
    ],
)
def test_a_job_can_be_posted_as_uri_list_form_or_json(
    client: httpx.Client, documents: DocumentServer, content_type: str, body: str
) -> None:
    url = documents.put("/hello.txt", b"hello\n", "text/plain")
    created = client.post(
        "/jobs", content=body.format(url=url), headers={"Content-Type": content_type}
    )
    assert created.status_code == 201, created.text
    expected = "DocumentToText" if content_type == "text/uri-list" else "Fixity"
    listed = client.get("/jobs", headers={"Accept": "text/turtle"})
    graph = rdflib.Graph().parse(data=listed.text, format="turtle")
    profile = graph.value(
        graph.value(rdflib.URIRef(created.text), JT.jobProfile), rdflib.RDFS.label
    )
    assert str(profile) == expected


@pytest.mark.parametrize(
    "body, status, words",
    [
        ("", 400, "names no document"),
        ("not a url", 400, "not an absolute URL"),
        ("http://h/a\nhttp://h/b", 400, "one document per job"),
    ],
)
def test_a_bad_job_request_is_refused_and_nothing_is_stored(
    client: httpx.Client, body: str, status: int, words: str
) -> None:
    def jobs() -> set[str]:  # the jobs there are (others' states may change meanwhile)
        listed = client.get("/jobs", params={"size": 1000}, headers={"Accept": "text/turtle"})
        graph = rdflib.Graph().parse(data=listed.text, format="turtle")
        return {str(job) for job in graph.subjects(JT.jobProfile, None)}

    before = jobs()
    answer = client.post("/jobs", content=body)
    assert answer.status_code == status and words in answer.text
    assert jobs() == before


def test_an_unknown_profile_is_named(client: httpx.Client) -> None:
    answer = client.post("/jobs?profile=Nope", content="http://h/x.doc")
    assert answer.status_code == 400 and "Nope" in answer.text and "Fixity" in answer.text


@pytest.mark.parametrize("algorithm", ["sha256", "md5"])
def test_fixity_pass_and_fail(
    client: httpx.Client, documents: DocumentServer, algorithm: str
) -> None:
    data = b"fixity matters\n"
    url = documents.put(f"/fixity-{algorithm}.bin", data)
    right = hashlib.new(algorithm, data).hexdigest()
    good = client.post(
        "/jobs",
        json={
            "url": url,
            "profile": "Fixity",
            "parameters": {"algorithm": algorithm, "expected": right},
        },
    ).text
    assert wait_done(client, good).status_code == 303
    bad = client.post(
        "/jobs",
        json={
            "url": url,
            "profile": "Fixity",
            "parameters": {"algorithm": algorithm, "expected": "0" * len(right)},
        },
    ).text
    failed = wait_done(client, bad, headers=PROBLEM)
    assert failed.status_code == 422
    problem = failed.json()
    assert problem["job"] == bad and "mismatch" in problem["detail"]
    report = client.get(f"{bad}.ttl")  # the failed check's report is kept
    assert report.status_code == 200 and "fail" in report.text.lower()


def test_an_oversized_input_fails_the_job_with_424(
    client: httpx.Client, documents: DocumentServer
) -> None:
    url = documents.put("/big.bin", b"x" * 2_500_000)
    job = client.post("/jobs", json={"url": url, "profile": "Fixity"}).text
    failed = wait_done(client, job, headers=PROBLEM)
    assert failed.status_code == 424
    assert failed.json()["errorType"] == "InputUnavailable"
    assert "2,000,000" in failed.json()["detail"] or "2000000" in failed.json()["detail"]


def test_an_unreachable_input_fails_the_job_with_424(client: httpx.Client) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nobody listens there
    job = client.post("/jobs", content=f"http://127.0.0.1:{port}/gone.doc").text
    failed = wait_done(client, job)
    assert failed.status_code == 424
    assert f"127.0.0.1:{port}" in failed.text


def test_402_when_a_pass_has_too_little_credit(
    client: httpx.Client, documents: DocumentServer
) -> None:
    url = documents.put("/priced.txt", b"a" * 1500, "text/plain")
    poor = client.post("/jobs?pass=poor-pass", content=url, headers={"Accept": "application/json"})
    assert poor.status_code == 402
    problem = poor.json()
    assert problem["cost"] == 2.0 and problem["credit"] == 0.5  # 1 per job + 1 per MB started
    assert "credit" in problem["hint"]
    added = client.post(
        "/credit",
        data={"pass": "poor-pass", "amount": "5"},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert added.status_code == 200 and added.json()["credit"] == 5.5
    for _ in range(2):  # 5.5 → 3.5 → 1.5
        job = client.post("/jobs?pass=poor-pass", content=url)
        assert job.status_code == 201
    history = client.get(
        "/sparql",
        params={
            "query": f"SELECT ?t WHERE {{ ?m <{JT.about}> <{job.text}> ; <{JT.originalText}> ?t }}"
        },
        headers={"Accept": "text/csv", **ADMIN},
    ).text
    assert url in history and "poor-pass" not in history  # the request is kept, the secret is not
    again = client.post("/jobs?pass=poor-pass", content=url, headers={"Accept": "application/json"})
    assert again.status_code == 402 and again.json()["credit"] == 1.5


@pytest.mark.parametrize(
    "how",
    [
        {"headers": basic("alice", "wrong")},
        {"params": {"pass": "no-such-pass"}},
        {"headers": {"Authorization": "Digest username=alice"}},
    ],
    ids=["bad-password", "unknown-pass", "digest"],
)
def test_bad_credentials_are_403(client: httpx.Client, how: dict[str, object]) -> None:
    answer = client.post("/jobs", content="http://h/x.doc", **how)  # type: ignore[arg-type]
    assert answer.status_code == 403


def test_owners_see_their_jobs_and_nobody_else_does(
    client: httpx.Client, documents: DocumentServer
) -> None:
    url = documents.put("/alice.txt", b"alice's\n", "text/plain")
    job = client.post("/jobs?profile=Fixity", content=url, headers=basic("alice")).text
    assert client.get(job, headers=basic("bob")).status_code == 403
    anonymous = client.get(job)  # credentials could help: 401 asks for them
    assert anonymous.status_code == 401 and "WWW-Authenticate" in anonymous.headers
    assert client.delete(job, headers=basic("bob")).status_code == 403
    assert client.delete(job).status_code == 401
    assert wait_done(client, job, headers=basic("alice")).status_code == 303
    feed = feedparser.parse(client.get("/jobs", headers=basic("alice")).content)
    assert job in [e.id for e in feed.entries]
    assert job not in [
        e.id for e in feedparser.parse(client.get("/jobs", headers=basic("bob")).content).entries
    ]


def test_the_job_list_is_atom_by_default_and_paged(
    client: httpx.Client, documents: DocumentServer
) -> None:
    url = documents.put("/paged.txt", b"p\n", "text/plain")
    for _ in range(3):
        client.post("/jobs?profile=Fixity", content=url, headers=basic("bob"))
    first = client.get("/jobs", params={"size": 2}, headers=basic("bob"))
    assert first.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(first.content)
    assert len(feed.entries) == 2
    following = {link["rel"]: link["href"] for link in feed.feed.links}["next"]
    second = feedparser.parse(client.get(following, headers=basic("bob")).content)
    assert {e.id for e in second.entries}.isdisjoint({e.id for e in feed.entries})


def test_delete_removes_the_job_and_its_results_and_keeps_its_history(
    client: httpx.Client, documents: DocumentServer
) -> None:
    url = documents.put("/deleted.docx", docx_bytes("bye", "Bye"))
    job = client.post("/jobs", content=url).text
    done = wait_done(client, job)
    assert done.status_code == 303
    rem = rdflib.Graph().parse(data=client.get(f"{job}.ttl").text, format="turtle")
    (result,) = rem.objects(rdflib.URIRef(f"{job}/results"), ORE.aggregates)
    assert client.delete(job).status_code == 200
    assert client.get(job).status_code == 410
    assert client.get(str(result)).status_code == 410
    history = client.get(
        "/sparql",
        params={
            "query": f"SELECT ?kind WHERE {{ ?m <{JT.about}> <{job}> ; <{JT.changeKind}> ?kind }}"
        },
        headers={"Accept": "text/csv", **ADMIN},
    )
    assert {"created", "phase", "deleted"} <= set(history.text.split())


def test_profiles_say_what_is_available(client: httpx.Client) -> None:
    listed = client.get("/profiles").json()
    names = {p["name"]: p for p in listed}
    assert {"DocumentToText", "Fixity", "ExtractTechnicalMetadata", "BagValidation"} <= set(names)
    assert all(p["available"] == (p["unavailable"] is None) for p in listed)
    assert names["DocumentToText"]["limits"] == (
        []
        if shutil.which("antiword")
        else ["antiword is not installed: .doc files cannot be converted"]
    )
    page = client.get("/profiles", headers={"Accept": "text/html"})
    assert "Fixity" in page.text


def test_a_job_executing_when_the_server_stops_is_requeued_and_finishes(
    tmp_path: Path, documents: DocumentServer
) -> None:
    url = documents.put("/restart.txt", b"restart\n", "text/plain")
    data, files = tmp_path / "data", tmp_path / "files"
    port = free_port()
    with job_server(data, files, port=port) as base, httpx.Client(timeout=10) as c:
        job = c.post(f"{base}jobs?profile=Fixity", content=f"{url}?delay=3").text
        deadline = time.monotonic() + 5
        while "EXECUTING" not in c.get(job, headers={"Accept": "text/turtle"}).text:
            assert time.monotonic() < deadline, "the job never started"
            time.sleep(0.05)
    with job_server(data, files, port=port) as again, httpx.Client(timeout=10) as c:
        assert again == base
        assert wait_done(c, job).status_code == 303
        kinds = c.get(
            f"{base}sparql",
            params={
                "query": f"SELECT ?text WHERE {{ ?m <{JT.about}> <{job}> ; "
                f"<{JT.originalText}> ?text }}"
            },
            headers={"Accept": "text/csv", **ADMIN},
        ).text
        assert "requeued" in kinds


def test_a_job_past_its_execution_duration_is_an_error(
    client: httpx.Client, documents: DocumentServer
) -> None:
    url = documents.put("/too-slow.txt", b"slow\n", "text/plain")
    job = client.post(
        "/jobs", json={"url": f"{url}?delay=3", "profile": "Fixity", "executionDuration": 1}
    ).text
    started = time.monotonic()
    failed = wait_done(client, job, headers=PROBLEM)
    assert failed.status_code == 422
    assert failed.json()["errorType"] == "TimeLimitExceeded"
    assert time.monotonic() - started < 2.5  # at the deadline, not when the fetch ends
