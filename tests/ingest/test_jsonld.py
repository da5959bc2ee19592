"""JSON-LD messages (ingest/jsonld.py through ingest/read.py): the bodies of the FIMS/AME
seed, read through pyld with the local contexts only."""

from __future__ import annotations

import json
import re
import socket
from importlib.resources import files
from typing import Any

import pytest
from jobtrail.base import nt
from jobtrail.base.errors import MalformedInput, UnknownContext
from jobtrail.base.terms import DCTERMS, JT, RDF, RDFS
from jobtrail.ingest import jsonld
from jobtrail.ingest.jsonparse import parse_json
from pyld import jsonld as pyld_jsonld

XSD_DATETIME = "http://www.w3.org/2001/XMLSchema#dateTime"
TRAILING_COMMA = re.compile(r",\s*[}\]]")
SEED_CONTEXTS = {
    "https://job-processor/context/default",
    "https://job-repository/context/default",
    "https://ame-service/context/default",
}


def jsonld_doc(text: str) -> tuple[dict[str, Any], list[str]]:
    """The seed's body as JSON (tolerating its trailing commas), with the parser's notes."""
    doc, notes = parse_json(text, "body")
    return doc, notes


def top_node(view: Any, doc: dict[str, Any]) -> str:
    """The node the body describes: its `id`, else the one node typed as the body says."""
    typed = view.subjects(RDF.type, JT[doc["type"]])
    assert len(typed) == 1, typed
    if "id" in doc:
        assert typed == [f"<{doc['id']}>"]
    return typed[0]


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Any attempt to open a connection, or to use pyld's own loader, is recorded and refused."""
    attempts: list[str] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(repr(args[:2]))
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(pyld_jsonld, "_default_document_loader", refuse)
    return attempts


# ---------------------------------------------------------------- the seed's bodies


def test_every_seed_body_reads_through_the_local_contexts(
    read, view_of, seed000_jsonld_body, no_network
) -> None:
    m = read(seed000_jsonld_body.data)
    assert m.kind == "JSONLDMessage"
    view = view_of(m.graph.triples)
    assert view.has(m.iri, RDF.type, JT.JSONLDMessage)
    assert len(view.parse()) == len(view.triples)
    assert no_network == []


def test_seed_bodies_are_skolemised_under_the_message(read, view_of, seed000_jsonld_body) -> None:
    doc, _ = jsonld_doc(seed000_jsonld_body.text)
    m = read(seed000_jsonld_body.data)
    terms = [t for triple in m.graph.triples for t in triple]
    assert not [t for t in terms if t.startswith("_:")]
    # nested objects without an id (jobProfile, hasRelatedResource, asyncEndpoint, report)
    # become IRIs inside the message; nodes with an id keep it
    view = view_of(m.graph.triples)
    subjects = {s for s, _, _ in view.triples}
    local = {s for s in subjects if s.startswith(f"<{m.iri}#")}
    nested = sum(isinstance(v, dict) for v in doc.values())
    assert len(local) == nested + ("id" not in doc)


def test_seed_bodies_types_literals_and_links(read, view_of, seed000_jsonld_body) -> None:
    doc, _ = jsonld_doc(seed000_jsonld_body.text)
    m = read(seed000_jsonld_body.data)
    view = view_of(m.graph.triples)
    node = top_node(view, doc)
    assert doc["type"] in {"AmeJob", "StartJob", "StopJob", "ProcessJob"}
    if "id" in doc:
        assert view.one(m.iri, JT.about) == f"<{doc['id']}>"
    for key in ("job", "startJob", "outputFile"):  # "@type": "@id" in the context
        if key in doc:
            assert view.objects(node, JT[key]) == [f"<{doc[key]}>"]
    for key in ("jobStatus", "stopJobCause"):
        if key in doc:
            assert view.objects(node, JT[key]) == [nt.lit(doc[key])]
    for key, prop in (("dateCreated", DCTERMS.created), ("dateModified", DCTERMS.modified)):
        if key in doc:
            assert view.objects(node, prop) == [nt.typed(doc[key], XSD_DATETIME)]
    if "hasRelatedResource" in doc:
        essence = view.one(node, JT.hasRelatedResource)
        assert view.has(essence, RDF.type, JT.BMEssence)
        assert view.objects(essence, JT.locator) == [f"<{doc['hasRelatedResource']['locator']}>"]
    if "jobProfile" in doc:
        profile = view.one(node, JT.jobProfile)
        assert view.has(profile, RDF.type, JT.JobProfile)
        assert view.objects(profile, RDFS.label) == [nt.lit("ExtractTechnicalMetadata")]
    if "asyncEndpoint" in doc:
        endpoint = view.one(node, JT.asyncEndpoint)
        for key in ("success", "failure"):
            assert view.objects(endpoint, JT[key]) == [f"<{doc['asyncEndpoint'][key]}>"]
    if "report" in doc:
        assert view.has(view.one(node, JT.report), RDF.type, JT.Report)


def test_the_seed_uses_every_command_type(seed000_http_messages) -> None:
    types = {
        jsonld_doc(b.text.partition("\n\n")[2])[0]["type"]
        for b in seed000_http_messages
        if '"@context"' in b.text
    }
    assert types == {"AmeJob", "StartJob", "StopJob", "ProcessJob"}


def test_trailing_commas_are_tolerated_and_noted(read, view_of, seed000_jsonld_body) -> None:
    m = read(seed000_jsonld_body.data)
    comma_notes = [n for n in m.notes if "trailing comma" in n]
    assert bool(comma_notes) == bool(TRAILING_COMMA.search(seed000_jsonld_body.text))
    view = view_of(m.graph.triples)
    assert sorted(view.values(m.iri, JT.readerNote)) == sorted(m.notes)


def test_repeated_key_of_message_20_is_tolerated_and_noted(
    read, view_of, seed000_http_messages
) -> None:
    body = seed000_http_messages[19].text.partition("\n\n")[2]
    assert body.count('"startJob"') == 2
    m = read(body)
    assert any("'startJob'" in n and "twice" in n for n in m.notes)
    assert any("trailing comma" in n for n in m.notes)
    view = view_of(m.graph.triples)
    node = view.subjects(RDF.type, JT.AmeJob)[0]
    assert len(view.objects(node, JT.startJob)) == 1


# ---------------------------------------------------------------- keys the context does not map


@pytest.mark.parametrize(
    ("extra", "term", "literal"),
    [
        ({"urgency": "high"}, "urgency", nt.lit("high")),
        ({"urgency": 5}, "urgency", nt.integer(5)),
        (
            {"asyncEndpoint": {"success": "https://wo/success", "retryAfter": "PT5S"}},
            "retryAfter",
            nt.lit("PT5S"),
        ),  # nested: kept on the nested node
    ],
    ids=["string", "number", "nested"],
)
def test_unmapped_key_is_kept_as_a_jt_term_and_noted(
    read, view_of, seed000_http_messages, extra, term, literal
) -> None:
    doc, _ = jsonld_doc(seed000_http_messages[4].text.partition("\n\n")[2])  # a StartJob
    doc.update(extra)
    m = read(json.dumps(doc))
    view = view_of(m.graph.triples)
    assert [o for s, p, o in view.triples if p == f"<{JT}{term}>"] == [literal]
    assert any(f"'{term}'" in n and f"jt:{term}" in n for n in m.notes)
    assert not any("'job'" in n for n in m.notes)  # declared terms are not noted


@pytest.mark.parametrize(
    ("key", "value"),
    [("my key", "a space in the key"), ("job", "not a url")],
    ids=["key-with-space", "iri-value-with-space"],
)
def test_a_value_pyld_cannot_turn_into_rdf_is_at_least_noted(read, key, value) -> None:
    doc = {"@context": "https://job-processor/context/default", "type": "StartJob", key: value}
    m = read(json.dumps(doc))
    assert any(key in n for n in m.notes)


@pytest.mark.parametrize(
    "extra",
    [{"job": "http://a/<b>"}, {"jobStatus": {"@value": "NEW", "@language": "en gb"}}],
    ids=["iri-with-angle-brackets", "bad-language-tag"],
)
def test_input_values_never_make_invalid_ntriples(read, view_of, extra) -> None:
    doc = {"@context": "https://job-processor/context/default", "type": "StartJob", **extra}
    try:
        m = read(json.dumps(doc))
    except MalformedInput:
        return  # refusing the message is fine too
    view_of(m.graph.triples).parse()


def test_invalid_jsonld_error_names_the_cause(read) -> None:
    doc = {
        "@context": "https://job-processor/context/default",
        "type": "StartJob",
        "jobStatus": {"@value": "NEW", "@type": "not an iri"},
    }
    with pytest.raises(MalformedInput) as raised:
        read(json.dumps(doc))
    assert "Type: jsonld" not in raised.value.message
    assert "@type" in raised.value.message


# ---------------------------------------------------------------- contexts


@pytest.mark.parametrize(
    "context",
    [
        "https://example.org/unknown/context",
        ["https://job-processor/context/default", "https://example.org/unknown/context"],
        {"@import": "https://example.org/unknown/context"},
    ],
    ids=["string", "in-a-list", "imported"],
)
def test_unknown_remote_context_is_an_error_naming_it(read, no_network, context) -> None:
    doc = {"@context": context, "type": "StartJob", "job": "https://job-processor/Job/1"}
    with pytest.raises(UnknownContext) as raised:
        read(json.dumps(doc))
    assert "https://example.org/unknown/context" in raised.value.message
    assert raised.value.location is not None and raised.value.location.pointer == "/@context"
    assert "index.json" in (raised.value.hint or "")
    assert no_network == []


def test_document_loader_answers_known_urls_locally(no_network) -> None:
    for url in SEED_CONTEXTS:
        answer = jsonld.document_loader(url)
        assert answer["documentUrl"] == url
        assert "@context" in answer["document"]
    with pytest.raises(UnknownContext):
        jsonld.document_loader("https://example.org/other")
    assert no_network == []


def test_index_maps_every_context_url_of_the_seed(seed000_http_messages) -> None:
    used = set(
        re.findall(r'"@context":\s*"([^"]+)"', "".join(b.text for b in seed000_http_messages))
    )
    assert used == SEED_CONTEXTS
    index = json.loads((files("jobtrail.vocab") / "contexts" / "index.json").read_text("utf-8"))
    assert used <= index.keys()
    for url in used:
        assert (files("jobtrail.vocab") / "contexts" / index[url]).is_file()
    assert jsonld.context_index().keys() >= used


def start_job(**extra: Any) -> str:
    return json.dumps(
        {"@context": "https://job-processor/context/default", "type": "StartJob", **extra}
    )


def test_a_reference_that_is_no_iri_is_kept_as_a_string(read, view_of) -> None:
    m = read(start_job(job="not a url"))
    view = view_of(m.graph.triples)
    node = view.subjects(RDF.type, JT.StartJob)[0]
    assert view.objects(node, JT.job) == [nt.lit("not a url")]
    assert any("'job'" in n and "not a url" in n for n in m.notes)


def test_a_relative_id_stays_inside_the_message_not_the_servers_iri_space(read, view_of) -> None:
    m = read(start_job(id="job 1", outputFile="job 1"))
    view = view_of(m.graph.triples)
    (node,) = view.subjects(RDF.type, JT.StartJob)
    assert node.startswith(f"<{m.iri}#")
    # a reference to a node of the same document names that node
    assert view.objects(node, JT.outputFile) == [node]
    assert any("'job 1'" in n for n in m.notes)


def test_a_key_that_is_no_iri_is_kept_percent_encoded(read, view_of) -> None:
    m = read(start_job(**{"my key": "x"}))
    view = view_of(m.graph.triples)
    assert [o for s, p, o in view.triples if p == f"<{JT}my%20key>"] == [nt.lit("x")]


def test_a_bad_language_tag_leaves_a_plain_string(read, view_of) -> None:
    m = read(start_job(jobStatus={"@value": "NEW", "@language": "en gb"}))
    view = view_of(m.graph.triples)
    node = view.subjects(RDF.type, JT.StartJob)[0]
    assert view.objects(node, JT.jobStatus) == [nt.lit("NEW")]
    assert any("'en gb'" in n for n in m.notes)


def test_a_good_language_tag_is_kept(read, view_of) -> None:
    m = read(start_job(jobStatus={"@value": "NEW", "@language": "en-GB"}))
    view = view_of(m.graph.triples)
    node = view.subjects(RDF.type, JT.StartJob)[0]
    assert view.objects(node, JT.jobStatus) == ['"NEW"@en-gb']  # pyld writes tags lowercase


def test_keys_inside_a_json_literal_are_data_and_left_alone(read, view_of) -> None:
    m = read(json.dumps({"@context": "https://w3id.org/jobtrail/context", "value": {"my key": 1}}))
    literal = [o for s, p, o in m.graph.triples if p == f"<{JT.value}>"]
    assert literal == [nt.json_lit({"my key": 1})]
    assert not any("my key" in n for n in m.notes)


def test_rdf_from_the_expanded_document_is_pylds_own(seed000_jsonld_body) -> None:
    # jsonld._to_rdf runs the second half of pyld's toRdf through pyld's own methods;
    # a pyld whose methods changed must still give what its public to_rdf gives
    doc, _ = jsonld_doc(seed000_jsonld_body.text)
    doc = {**doc, "@graph": [{"@id": "_:g", "label": "in a graph"}]}
    options = {"documentLoader": jsonld.document_loader, "base": None}
    processor = pyld_jsonld.JsonLdProcessor()
    expanded = processor.expand(doc, options)
    assert jsonld._to_rdf(processor, expanded, options) == processor.to_rdf(expanded, options)
