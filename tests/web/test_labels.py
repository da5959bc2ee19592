"""web/labels.py over a real (in-memory) store: what names an IRI, in one query, within
what the viewer may read; and web/html.py's shortened IRIs and datatypes."""

from __future__ import annotations

from collections.abc import Iterator

import lxml.html
import pyoxigraph as ox
import pytest
from jobtrail.jobs.visibility import ANONYMOUS_VIEWER, Policy, Role, Viewer
from jobtrail.store import Store, open_store
from jobtrail.web import html
from jobtrail.web.labels import kind, labels, moment

BASE = "http://example.org/"
JT = "https://w3id.org/jobtrail/vocab#"
MESSAGE = f"{BASE}messages/{'ab' * 32}"
RECORD = f"{BASE}messages/{'cd' * 32}"
PRODUCER = f"{BASE}producers/TDR/consignment-export/INT"
JOB = f"{BASE}jobs/0f5c0b6e-1111-4000-8000-000000000001"
ANN = Viewer(Role.USER, "ann")
BOB = Viewer(Role.USER, "bob")
ADMIN = Viewer(Role.ADMIN, "admin")


@pytest.fixture
def store() -> Iterator[Store]:
    s = open_store("memory:")
    s.update(f"""
PREFIX jt: <{JT}>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
INSERT DATA {{
  GRAPH <{MESSAGE}> {{
    <{MESSAGE}> a jt:Message, jt:TREMessage, jt:TRE2022Message ;
      prov:generatedAtTime "2022-08-04T16:47:49Z"^^xsd:dateTime ;
      prov:wasAttributedTo <{PRODUCER}> .
  }}
  GRAPH <{PRODUCER}> {{
    <{PRODUCER}> a jt:Producer ; jt:producerName "TDR" ; jt:process "consignment-export" ;
      jt:environment "INT" .
  }}
  GRAPH <{JOB}> {{
    <{JOB}> a jt:Job ; jt:owner "ann" ; jt:phase <https://w3id.org/jobtrail/status/uws/COMPLETED> ;
      jt:jobProfile <{BASE}profiles/Fixity> .
    <{BASE}profiles/Fixity> rdfs:label "Fixity" .
  }}
  GRAPH <{RECORD}> {{
    <{RECORD}> a jt:Message, jt:JobChange ; jt:about <{JOB}> ; jt:changeKind "created" ;
      jt:changedBy "ann" ; jt:storedAt "2026-01-02T03:04:05.123456Z"^^xsd:dateTime ;
      rdfs:label "ann's secret label" .
  }}
}}""")
    yield s
    s.close()


def named(store: Store, viewer: Viewer) -> dict[str, str]:
    policy = Policy(store, BASE)
    return labels(store, policy, viewer, BASE, [MESSAGE, PRODUCER, JOB, RECORD, f"{JT}Job"])


def test_messages_producers_jobs_and_terms_are_named(store: Store) -> None:
    found = named(store, ANN)
    assert found[MESSAGE] == "TRE message (2022 structure) · 2022-08-04 16:47:49 UTC"
    assert found[PRODUCER] == "TDR / consignment-export / INT"
    assert found[JOB] == "Fixity job 0f5c0b6e (COMPLETED)"
    assert found[RECORD].startswith("Job change (created) · 2026-01-02 03:04:05")
    assert found[f"{JT}Job"] == "Job"
    assert named_too(store, ANN, f"{JOB}#parameter-1") == f"{found[JOB]} #parameter-1"


def named_too(store: Store, viewer: Viewer, iri: str) -> str | None:
    return labels(store, Policy(store, BASE), viewer, BASE, [iri]).get(iri)


def test_a_fragment_of_a_hidden_job_is_not_named(store: Store) -> None:
    assert named_too(store, BOB, f"{JOB}#parameter-1") is None


@pytest.mark.parametrize("viewer", [ANONYMOUS_VIEWER, BOB])
def test_a_job_the_viewer_may_not_see_keeps_its_iri(store: Store, viewer: Viewer) -> None:
    found = named(store, viewer)
    assert JOB not in found and RECORD not in found  # nor its record's label
    assert "ann's secret label" not in found.values()
    assert found[PRODUCER] == "TDR / consignment-export / INT"  # provenance: anyone's


def test_the_admin_sees_every_label(store: Store) -> None:
    assert {MESSAGE, PRODUCER, JOB, RECORD} <= named(store, ADMIN).keys()


def test_kind_is_the_most_specific_class() -> None:
    assert kind([f"{JT}Message", f"{JT}TREMessage", f"{JT}TRE2022Message"]) == (
        "TRE message (2022 structure)"
    )
    assert kind([f"{JT}Message"]) == "Message"


def test_moment_reads_like_a_time() -> None:
    assert moment("2022-08-04T16:47:49.123Z") == "2022-08-04 16:47:49 UTC"
    assert moment("2022-08-04T16:47:49+02:00") == "2022-08-04 16:47:49 +02:00"
    assert moment("yesterday") == "yesterday"


# --- web/html.py ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "iri, shown",
    [
        (f"{JT}Job", "jt:Job"),
        (MESSAGE, "/messages/abababab…ababab"),
        (f"{MESSAGE}#run", "/messages/abababab…ababab#run"),
        (
            "urn:uuid:0f5c0b6e-1111-4000-8000-000000000001",
            "urn:uuid:0f5c0b6e-1111-4000-8000-000000000001",
        ),
        ("https://example.com/a/b", "https://example.com/a/b"),
        (
            "https://example.com/one/two/three/four/five/six/seven/eight/nine/ten/eleven",
            "https://example.com/…/ten/eleven",
        ),
    ],
)
def test_long_iris_are_shortened(iri: str, shown: str) -> None:
    assert html.short_iri(iri, BASE) == shown


def test_an_iri_shows_its_label_with_the_full_iri_on_hover() -> None:
    a = lxml.html.fromstring(html.iri(MESSAGE, label="TRE message · 2022", base=BASE))
    assert a.tag == "a" and a.get("href") == MESSAGE and a.get("data-iri") == MESSAGE
    assert a.text_content() == "TRE message · 2022"
    assert a.get("title").startswith(MESSAGE)
    bare = lxml.html.fromstring(html.iri(MESSAGE, base=BASE))
    assert bare.text_content() == "/messages/abababab…ababab" and bare.get("title") == MESSAGE


def test_a_uuid_links_to_its_trace_and_an_unsafe_iri_is_text() -> None:
    uuid = "urn:uuid:0f5c0b6e-1111-4000-8000-000000000001"
    assert lxml.html.fromstring(html.iri(uuid)).get("href") == f"/trace/{uuid}"
    unsafe = lxml.html.fromstring(html.iri("javascript:alert(1)"))
    assert unsafe.tag == "span" and unsafe.get("href") is None
    assert unsafe.get("data-iri") == "javascript:alert(1)"


@pytest.mark.parametrize(
    "literal, suffix",
    [
        (ox.Literal("x"), None),
        (
            ox.Literal(
                "2022-08-04T16:47:49Z",
                datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#dateTime"),
            ),
            None,
        ),
        (ox.Literal("3", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")), None),
        (
            ox.Literal(
                "{}", datatype=ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#JSON")
            ),
            "rdf:JSON",
        ),
        (
            ox.Literal("ab", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#hexBinary")),
            "xsd:hexBinary",
        ),
        (ox.Literal("chat", language="fr"), "@fr"),
    ],
)
def test_datatypes_show_where_they_matter(literal: ox.Literal, suffix: str | None) -> None:
    shown = html.term(literal, BASE)
    if suffix is None:
        assert "muted" not in shown
    else:
        assert f"<span class=muted>{suffix}</span>" in shown


def test_a_resource_page_uses_the_labels_it_is_given() -> None:
    triples = [
        ox.Triple(
            ox.NamedNode(MESSAGE),
            ox.NamedNode("http://www.w3.org/ns/prov#wasAttributedTo"),
            ox.NamedNode(PRODUCER),
        )
    ]
    page = html.resource(
        MESSAGE, "/messages/x", triples, [], BASE, [], labels={PRODUCER: "TDR / c / INT"}
    )
    tree = lxml.html.fromstring(page)
    assert tree.xpath(f"//a[@data-iri='{PRODUCER}']")[0].text_content() == "TDR / c / INT"
    assert tree.xpath("//p[@class='iri-full']//code")[0].text == MESSAGE
    assert html.iris_of(triples) == [MESSAGE, "http://www.w3.org/ns/prov#wasAttributedTo", PRODUCER]
