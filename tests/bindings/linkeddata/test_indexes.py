"""Browsing for people (issue 21): labels on resource pages, the home page, /producers,
/references, /uuids and /search, on a real server over the examples; what an anonymous
visitor sees of alice's private job (nothing) against what the administrator sees."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import lxml.html
import pytest

from tests.bindings.jobservice.test_jobs import basic, wait_done
from tests.conftest import (
    ADMIN_TOKEN,
    CHROMIUM,
    EXAMPLES_DIR,
    DocumentServer,
    headless_chromium,
    job_server,
)

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
JSON = {"Accept": "application/json"}
HTML = {"Accept": "text/html"}
REFERENCE = "TDR-2021-GW3"
UUID = "0001d50d-a1fc-46c0-a6c7-ebc8309cfaf2"


@dataclass
class Served:
    base: str
    client: httpx.Client
    documents: DocumentServer
    store: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("indexes")
    docs = DocumentServer()
    with (
        job_server(root / "data", root / "files") as base,
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        yield Served(base, client, docs, root / "data")
    docs.close()


@pytest.fixture(scope="module")
def private_job(served: Served) -> str:
    """A job of alice's (users' jobs are private to them), run to its end."""
    url = served.documents.put("/browse-input.txt", b"alice's file\n", "text/plain")
    made = served.client.post(
        "/jobs", data={"url": url, "profile": "Fixity"}, headers=basic("alice")
    )
    assert made.status_code == 201, made.text
    job: str = made.headers["location"]
    wait_done(served.client, job, headers={**basic("alice"), "Accept": "text/turtle"})
    return job


def page_of(r: httpx.Response) -> lxml.html.HtmlElement:
    assert r.status_code == 200, r.text[:500]
    assert r.headers["content-type"].startswith("text/html")
    return lxml.html.fromstring(r.text)


def examples_stats(tmp: Path, base: str) -> dict[str, int]:
    """`jobtrail stats` of a store holding the examples, as the server's was loaded."""
    cli = [sys.executable, "-m", "jobtrail.cli"]
    store = str(tmp / "stats-data")
    load = [*cli, "load", str(EXAMPLES_DIR), "--store", store, "--base-url", base, "--silent"]
    subprocess.run(load, check=True)
    out = subprocess.run([*cli, "stats", "--store", store], check=True, capture_output=True)
    found = re.findall(r"^(\s*[\w -]+?)\s+([\d,]+)$", out.stdout.decode(), re.M)
    return {k.strip(): int(v.replace(",", "")) for k, v in found}


# --- the home page ---------------------------------------------------------------------------


def test_home_counts_match_jobtrail_stats_for_the_admin(served: Served, tmp_path: Path) -> None:
    stats = examples_stats(tmp_path, served.base)
    counts = served.client.get("/index.json", headers=ADMIN).json()
    assert counts["messages"] == stats["messages"]
    assert counts["messagesWithWarnings"] == stats["with warnings"]
    assert counts["producers"] == stats["producers"]
    assert counts["jobs"] == 0
    # the page says the same, links to the lists, and shows a search box
    tree = page_of(served.client.get("/", headers=ADMIN))
    shown = {
        dt.text_content(): dd.text_content().replace(",", "")
        for dt, dd in zip(tree.xpath("//dl/div/dt"), tree.xpath("//dl/div/dd"), strict=True)
    }
    assert shown["messages"] == str(stats["messages"])
    assert shown["with warnings"] == str(stats["with warnings"])
    assert tree.xpath("//form[@action='/search']//input[@name='q']")


def test_the_home_page_shows_no_filesystem_path_to_visitors(served: Served) -> None:
    text = served.client.get("/").text
    assert str(served.store) not in text and "embedded store" not in text
    assert "embedded store" in served.client.get("/", headers=ADMIN).text  # the admin: which store


def test_the_latest_messages_are_labelled_and_linked(served: Served) -> None:
    tree = page_of(served.client.get("/"))
    rows = tree.xpath("//table[@class='latest']//tr[td]")
    assert 0 < len(rows) <= 8
    first = rows[0].xpath(".//a[@class='iri']")
    message, producer = first[0], first[1]
    assert message.get("href").startswith("/messages/")  # by path
    assert message.get("title").startswith(served.base + message.get("href")[1:])  # on hover
    assert message.get("data-iri") == served.base + message.get("href")[1:]
    assert "TRE message" in message.text_content()  # its kind, not its digest
    assert " / " in producer.text_content()  # name / process / environment


def test_anonymous_counts_fewer_jobs_than_the_admin(served: Served, private_job: str) -> None:
    admin = served.client.get("/index.json", headers=ADMIN).json()
    anonymous = served.client.get("/index.json").json()
    alice = served.client.get("/index.json", headers=basic("alice")).json()
    assert admin["jobs"] >= 1 and alice["jobs"] >= 1
    assert anonymous["jobs"] == admin["jobs"] - 1
    assert anonymous["messages"] < admin["messages"]  # the job's change records are hers
    assert sum(alice["jobsByPhase"].values()) == alice["jobs"]
    job_id = private_job.rsplit("/", 1)[1]
    for answer in (served.client.get("/"), served.client.get("/index.json")):
        assert job_id not in answer.text
    # her job's change records are among the latest messages: for the admin, not anonymous
    assert "Job change (" in served.client.get("/", headers=ADMIN).text
    assert "Job change (" not in served.client.get("/").text
    # the named queries see the whole store: linked for the admin only, once it holds hers
    assert 'href="/queries/warnings"' in served.client.get("/", headers=ADMIN).text
    assert 'href="/queries/warnings"' not in served.client.get("/").text


# --- labels on resource pages ----------------------------------------------------------------


def a_message(served: Served) -> str:
    feed = served.client.get("/messages.ttl", params={"size": "50"}).text
    found = re.findall(rf"<({re.escape(served.base)}messages/[0-9a-f]{{64}})>", feed)
    for iri in found:
        if "TRE" in served.client.get(iri, headers={"Accept": "text/turtle"}).text:
            return iri
    raise AssertionError("no TRE message among the examples")


def test_a_message_page_names_what_it_links_to(served: Served) -> None:
    iri = a_message(served)
    tree = page_of(served.client.get(iri, headers=HTML))
    assert "TRE message" in tree.xpath("//h1")[0].text_content()
    assert tree.xpath(f"//p[@class='iri-full']//code[.='{iri}']")  # the full IRI, to copy
    links = {a.get("data-iri"): a for a in tree.xpath("//a[@data-iri]")}
    producer = next(v for k, v in links.items() if "/producers/" in k)
    assert re.fullmatch(r"\w+ / [\w-]+ / \w+", producer.text_content())
    assert producer.get("data-iri") == served.base + producer.get("href")[1:]
    # a vocabulary term by its label; a UUID links to its trace
    assert links["https://w3id.org/jobtrail/vocab#carriesUUID"].text_content() == "carries UUID"
    uuid = next(v for k, v in links.items() if k.startswith("urn:uuid:"))
    assert uuid.get("href") == "/trace/" + uuid.get("data-iri")
    # no IRI shows in full as a link's text: each is a label or shortened
    for a in tree.xpath("//a[@class='iri']"):
        assert len(a.text_content()) <= 80, a.text_content()


def test_datatypes_show_only_where_they_matter(served: Served) -> None:
    text = served.client.get(a_message(served), headers=HTML).text
    assert "xsd:string" not in text and "xsd:dateTime" not in text and "xsd:integer" not in text


def test_a_private_jobs_label_shows_only_to_whom_may_see_it(
    served: Served, private_job: str
) -> None:
    """Her job's change record links to the job: labelled for her, a bare IRI otherwise."""
    admin = served.client.get("/messages.ttl", params={"size": "5"}, headers=ADMIN).text
    record = next(
        m
        for m in re.findall(rf"<({re.escape(served.base)}messages/[0-9a-f]{{64}})>", admin)
        if private_job in served.client.get(m, headers={**ADMIN, "Accept": "text/turtle"}).text
    )
    mine = page_of(served.client.get(record, headers={**basic("alice"), **HTML}))
    job_link = mine.xpath(f"//a[@data-iri='{private_job}']")[0]
    assert "Fixity job" in job_link.text_content()
    assert "(COMPLETED)" in job_link.text_content() or "(ERROR)" in job_link.text_content()
    # bob may not read the record at all; the label query itself keeps to what he may read
    assert served.client.get(record, headers={**basic("bob"), **HTML}).status_code == 403


# --- the indexes -----------------------------------------------------------------------------


def test_producers_are_listed_with_their_message_counts(served: Served) -> None:
    listed = served.client.get("/producers").json()
    stats = served.client.get("/queries/producers", headers={**ADMIN, **JSON}).json()
    wanted = {
        row["agent"]["value"]: int(row["messages"]["value"]) for row in stats["results"]["bindings"]
    }
    assert {p["producer"]: p["messages"] for p in listed["producers"]} == wanted
    assert listed["total"] == len(wanted)
    tree = page_of(served.client.get("/producers.html"))
    assert len(tree.xpath("//table[@class='index']//tr[td]")) == len(wanted)


def test_producers_are_offered_as_rdf_too(served: Served) -> None:
    import rdflib

    listed = served.client.get("/producers").json()["producers"]
    turtle = served.client.get("/producers.ttl")
    assert turtle.headers["content-type"].startswith("text/turtle")
    graph = rdflib.Graph().parse(data=turtle.text, format="turtle")
    index = rdflib.URIRef(f"{served.base}producers")
    members = set(graph.objects(index, rdflib.URIRef("http://www.w3.org/ns/prov#hadMember")))
    assert members == {rdflib.URIRef(p["producer"]) for p in listed}
    label = graph.value(rdflib.URIRef(listed[0]["producer"]), rdflib.RDFS.label)
    assert str(label) == listed[0]["label"]
    negotiated = served.client.get("/producers", headers={"Accept": "application/ld+json"})
    assert negotiated.headers["content-type"].startswith("application/ld+json")
    assert served.client.get("/producers", headers=JSON).json()["producers"] == listed


def test_references_link_to_their_trace_and_messages(served: Served) -> None:
    listed = {r["reference"]: r for r in served.client.get("/references").json()["references"]}
    assert listed[REFERENCE]["messages"] >= 1
    assert listed[REFERENCE]["trace"] == f"{served.base}trace/{REFERENCE}"
    hops = served.client.get(listed[REFERENCE]["trace"]).json()["hops"]
    stating = [h for h in hops if REFERENCE in [r["reference"] for r in h["references"]]]
    assert listed[REFERENCE]["messages"] == len(stating)
    tree = page_of(served.client.get("/references", headers=HTML))
    hrefs = [a.get("href") for a in tree.xpath("//table//a")]
    assert f"/trace/{REFERENCE}" in hrefs and f"/messages?reference={REFERENCE}" in hrefs


def test_uuids_are_paged_and_each_links_to_its_trace(served: Served) -> None:
    first = served.client.get("/uuids", params={"size": "2"})
    doc = first.json()
    assert len(doc["uuids"]) == 2 and doc["pages"] == -(-doc["total"] // 2)
    assert 'rel="next"' in first.headers["link"]
    seen = [u["uuid"] for u in doc["uuids"]]
    for n in range(2, doc["pages"] + 1):
        seen += [
            u["uuid"]
            for u in served.client.get(doc["next"].replace("page=2", f"page={n}")).json()["uuids"]
        ]
    assert len(seen) == len(set(seen)) == doc["total"]
    assert f"urn:uuid:{UUID}" in seen
    chain = served.client.get(f"/trace/urn:uuid:{UUID}").json()
    assert chain["hops"]
    too_far = served.client.get("/uuids", params={"size": "2", "page": str(doc["pages"] + 1)})
    assert too_far.status_code == 404


@pytest.mark.parametrize(
    "params", [{"page": "0"}, {"page": "x"}, {"size": "0"}, {"size": "1001"}, {"page": "-1"}]
)
@pytest.mark.parametrize("path", ["/producers", "/references", "/uuids"])
def test_bad_paging_is_a_400_naming_it(served: Served, path: str, params: dict[str, str]) -> None:
    r = served.client.get(path, params=params)
    assert r.status_code == 400 and next(iter(params)) in r.text


# --- search ----------------------------------------------------------------------------------


def test_search_finds_references_uuids_and_producers(served: Served) -> None:
    found = served.client.get("/search", params={"q": "tdr"}).json()
    assert REFERENCE in [r["reference"] for r in found["references"]]
    assert any(p["label"].startswith("TDR") for p in found["producers"])
    by_uuid = served.client.get("/search", params={"q": UUID[:8]}).json()
    assert f"urn:uuid:{UUID}" in [u["uuid"] for u in by_uuid["uuids"]]
    tree = page_of(served.client.get("/search", params={"q": "tdr"}, headers=HTML))
    assert [h.text_content().split(" (")[0] for h in tree.xpath("//h2")] == [
        "References",
        "Producers",
    ]
    assert tree.xpath("//input[@name='q']/@value") == ["tdr"]


@pytest.mark.parametrize(
    "q, where",
    [
        (REFERENCE, f"/trace/{REFERENCE}"),
        (UUID, f"/trace/urn:uuid:{UUID}"),
        (f"urn:uuid:{UUID.upper()}", f"/trace/urn:uuid:{UUID}"),
    ],
)
def test_an_exact_reference_or_uuid_goes_to_its_trace(served: Served, q: str, where: str) -> None:
    r = served.client.get("/search", params={"q": q}, headers=HTML)
    assert r.status_code == 303 and r.headers["location"] == where
    assert served.client.get(where).status_code == 200


def test_search_does_not_find_what_the_visitor_may_not_see(
    served: Served, private_job: str
) -> None:
    job_id = private_job.rsplit("/", 1)[1]
    mine = served.client.get("/search", params={"q": job_id[:13]}, headers=basic("alice"))
    assert f"urn:uuid:{job_id}" in [u["uuid"] for u in mine.json()["uuids"]]
    for headers in ({}, basic("bob")):
        found = served.client.get("/search", params={"q": job_id[:13]}, headers=headers)
        assert found.status_code == 200 and job_id not in found.text
        exact = served.client.get("/search", params={"q": job_id}, headers=headers)
        assert exact.status_code == 200 and job_id not in exact.text.replace(f'"q": "{job_id}"', "")
        uuids = served.client.get("/uuids", params={"size": "1000"}, headers=headers)
        assert job_id not in uuids.text


@pytest.mark.parametrize("q", ["x" * 201, "a\x01b"])
def test_a_search_it_cannot_take_is_a_400(served: Served, q: str) -> None:
    r = served.client.get("/search", params={"q": q})
    assert r.status_code == 400 and "q " in r.text


def test_search_text_cannot_change_the_query(served: Served) -> None:
    for q in ['") } } } SELECT * WHERE { ?s ?p ?o } #', "\\", '"""', "tdr' ||"]:
        r = served.client.get("/search", params={"q": q})
        assert r.status_code == 200, r.text
        assert r.json()["references"] == []


# --- in a browser ----------------------------------------------------------------------------


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium)"
)
def test_home_and_a_message_page_render_in_chromium(served: Served, tmp_path: Path) -> None:
    """Both render under the server's CSP with their labels; with JOBTRAIL_SCREENSHOTS set,
    screenshots (a laptop's width and a phone's) are written there."""
    shots = os.environ.get("JOBTRAIL_SCREENSHOTS")
    pages = {"home": served.base, "message": a_message(served) + ".html"}
    for name, url in pages.items():
        dom = subprocess.run(
            headless_chromium(tmp_path / f"profile-{name}", "--dump-dom", url),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert dom.returncode == 0, dom.stderr[-2000:]
        tree = lxml.html.fromstring(dom.stdout)
        assert tree.xpath("//a[@class='iri']"), name
        assert "TRE message" in dom.stdout
        if shots:
            Path(shots).mkdir(parents=True, exist_ok=True)
            for size, width in (("laptop", "1280,900"), ("phone", "390,844")):
                target = Path(shots) / f"{name}-{size}.png"
                subprocess.run(
                    headless_chromium(
                        tmp_path / f"profile-{name}-{size}",
                        f"--screenshot={target}",
                        f"--window-size={width}",
                        url,
                    ),
                    capture_output=True,
                    timeout=60,
                    check=True,
                )
                assert target.stat().st_size > 1000


def test_an_iri_on_a_page_is_quoted_for_its_trace() -> None:
    from jobtrail.bindings.linkeddata.indexes import trace_href

    assert trace_href("TDR 1/2") == "/trace/" + quote("TDR 1/2", safe=":")
    assert trace_href(f"urn:uuid:{UUID}") == f"/trace/urn:uuid:{UUID}"
