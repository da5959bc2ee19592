"""RDF messages in any syntax (ingest/rdf.py through ingest/read.py), and N-Quads / TriG
dumps read as one resource graph per named graph (ingest/sources.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from jobtrail.base.errors import MalformedInput
from jobtrail.base.terms import JT, RDF
from jobtrail.ingest import sources
from jobtrail.ingest.message import Message
from jobtrail.ingest.sources import Unreadable

# One small graph: IRIs, a plain, a language-tagged and a typed literal, one blank node.
TURTLE = """@prefix ex: <https://e.org/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
ex:job1 a ex:Job ;
    ex:title "Convert \\"report\\"" ;
    ex:label "rapport"@fr ;
    ex:size "42"^^xsd:integer ;
    ex:input [ ex:url <https://e.org/in.doc> ] .
"""
NTRIPLES = """\
<https://e.org/job1> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://e.org/Job> .
<https://e.org/job1> <https://e.org/title> "Convert \\"report\\"" .
<https://e.org/job1> <https://e.org/label> "rapport"@fr .
<https://e.org/job1> <https://e.org/size> "42"^^<http://www.w3.org/2001/XMLSchema#integer> .
<https://e.org/job1> <https://e.org/input> _:in .
_:in <https://e.org/url> <https://e.org/in.doc> .
"""
RDFXML = """<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="https://e.org/">
  <ex:Job rdf:about="https://e.org/job1">
    <ex:title>Convert "report"</ex:title>
    <ex:label xml:lang="fr">rapport</ex:label>
    <ex:size rdf:datatype="http://www.w3.org/2001/XMLSchema#integer">42</ex:size>
    <ex:input><rdf:Description><ex:url rdf:resource="https://e.org/in.doc"/></rdf:Description></ex:input>
  </ex:Job>
</rdf:RDF>
"""
N3 = """@prefix ex: <https://e.org/> .
ex:job1 a ex:Job .
ex:job1 ex:title "Convert \\"report\\"" ; ex:label "rapport"@fr ; ex:size 42 .
ex:job1 ex:input [ ex:url <https://e.org/in.doc> ] .
"""
SYNTAXES = {
    "text/turtle": TURTLE,
    "application/n-triples": NTRIPLES,
    "application/rdf+xml": RDFXML,
    "text/n3": N3,
}
EXTENSIONS = {
    "text/turtle": ".ttl",
    "application/n-triples": ".nt",
    "application/rdf+xml": ".rdf",
    "text/n3": ".n3",
}


def given(message: Message) -> list[tuple[str, str, str]]:
    """The message's triples from the RDF it was given: all but the envelope's."""
    return [t for t in message.graph.triples if t[0] != f"<{message.iri}>"]


def content(message: Message) -> list[tuple[str, str, str]]:
    """The message's triples from the RDF it was given (not the envelope), with the message's
    IRI and its blank-node IRIs replaced by fixed names, so syntaxes can be compared."""
    skolem = re.compile(re.escape(f"<{message.iri}#") + r"[^>]*>")
    return sorted((skolem.sub("<B>", s), p, skolem.sub("<B>", o)) for s, p, o in given(message))


@pytest.fixture(scope="module")
def expected() -> list[tuple[str, str, str]]:
    return sorted(
        [
            ("<https://e.org/job1>", f"<{RDF.type}>", "<https://e.org/Job>"),
            ("<https://e.org/job1>", "<https://e.org/title>", '"Convert \\"report\\""'),
            ("<https://e.org/job1>", "<https://e.org/label>", '"rapport"@fr'),
            (
                "<https://e.org/job1>",
                "<https://e.org/size>",
                '"42"^^<http://www.w3.org/2001/XMLSchema#integer>',
            ),
            ("<https://e.org/job1>", "<https://e.org/input>", "<B>"),
            ("<B>", "<https://e.org/url>", "<https://e.org/in.doc>"),
        ]
    )


@pytest.mark.parametrize("media_type", SYNTAXES)
def test_each_syntax_reads_to_the_same_triples(read, view_of, expected, media_type) -> None:
    m = read(SYNTAXES[media_type], media_type)
    assert m.kind == "RDFMessage"
    assert content(m) == expected
    view = view_of(m.graph.triples)
    assert view.has(m.iri, RDF.type, JT.RDFMessage)
    assert view.value(m.iri, JT.mediaType) == media_type
    assert len(view.parse()) == len(view.triples)


@pytest.mark.parametrize("media_type", SYNTAXES)
def test_blank_nodes_become_iris_inside_the_message(read, media_type) -> None:
    m = read(SYNTAXES[media_type], media_type)
    terms = [t for triple in m.graph.triples for t in triple]
    assert not [t for t in terms if t.startswith("_:")]
    skolems = {t for t in terms if t.startswith(f"<{m.iri}#")}
    assert len(skolems) == 1


@pytest.mark.parametrize(
    ("media_type", "source"),
    [
        ("text/rdf+n3", "x"),
        ("application/rdf+xml; charset=utf-8", "x"),
        (None, "job.ttl"),
        (None, "job.nt"),
        (None, "job.n3"),
        (None, "job.rdf"),
    ],
)
def test_media_type_aliases_and_extensions(read, expected, media_type, source) -> None:
    # the old N3 name the seeds use, parameters after ";", and the file extension when no
    # type is given
    by_ext = {v: k for k, v in EXTENSIONS.items()}
    text = (
        SYNTAXES[by_ext[Path(source).suffix]]
        if media_type is None
        else (N3 if "n3" in media_type else RDFXML)
    )
    assert content(read(text, media_type, source=source)) == expected


def test_labelled_blank_nodes_are_stable_across_reads(read) -> None:
    first, again = (read(NTRIPLES, "application/n-triples") for _ in range(2))
    assert given(first) == given(again)


@pytest.mark.parametrize("media_type", ["text/turtle", "application/rdf+xml"])
def test_anonymous_blank_nodes_are_stable_across_reads(read, media_type) -> None:
    first, again = (read(SYNTAXES[media_type], media_type) for _ in range(2))
    assert given(first) == given(again)


# ---------------------------------------------------------------- syntax errors

BROKEN = {
    "text/turtle": "@prefix ex: <https://e.org/> .\nex:a ex:p ex:b .\nex:a ex:p .\n",
    "application/n-triples": "<https://e.org/a> <https://e.org/p> <https://e.org/b> .\n\n"
    "<https://e.org/a> <https://e.org/p> .\n",
    "text/n3": "@prefix ex: <https://e.org/> .\n\nex:a ex:p ex:b ex:c .\n",
}


@pytest.mark.parametrize("media_type", BROKEN)
def test_syntax_error_is_malformed_input_with_its_line(read, media_type) -> None:
    with pytest.raises(MalformedInput) as raised:
        read(BROKEN[media_type], media_type, source="bad-input")
    assert "line 3" in raised.value.message
    assert raised.value.location.source == "bad-input"


def test_rdfxml_syntax_error_is_malformed_input(read) -> None:
    # Oxigraph's RDF/XML parser gives no position: the message says what is wrong
    broken = RDFXML.replace("</ex:Job>", "</ex:Jo>")
    with pytest.raises(MalformedInput) as raised:
        read(broken, "application/rdf+xml")
    assert "</ex:Jo>" in raised.value.message


def test_syntax_error_location_has_the_line(read) -> None:
    with pytest.raises(MalformedInput) as raised:
        read(BROKEN["text/turtle"], "text/turtle")
    assert raised.value.location.line == 3


# ---------------------------------------------------------------- datasets


NQUADS = """<https://e.org/job1> <https://e.org/p> "a" <http://127.0.0.1:8000/jobs/1> .
<https://e.org/job1> <https://e.org/q> _:x <http://127.0.0.1:8000/jobs/1> .
<https://e.org/job2> <https://e.org/p> "b" <http://127.0.0.1:8000/jobs/2> .
"""
TRIG = """@prefix ex: <https://e.org/> .
<http://127.0.0.1:8000/jobs/1> { ex:job1 ex:p "a" ; ex:q _:x . }
<http://127.0.0.1:8000/jobs/2> { ex:job2 ex:p "b" . }
"""


@pytest.mark.parametrize(("name", "text"), [("dump.nq", NQUADS), ("dump.trig", TRIG)])
def test_dataset_yields_one_graph_per_named_graph(tmp_path, name, text) -> None:
    path = tmp_path / name
    path.write_text(text)
    items = list(sources.from_file(path))
    assert all(isinstance(i, Message) and i.kind == "graph" for i in items)
    assert [i.iri for i in items] == [
        "http://127.0.0.1:8000/jobs/1",
        "http://127.0.0.1:8000/jobs/2",
    ]
    assert [len(i.graph.triples) for i in items] == [2, 1]
    assert items[0].graph.iri == items[0].iri
    assert all(i.source == str(path) for i in items)
    assert ("<https://e.org/job2>", "<https://e.org/p>", '"b"') in items[1].graph.triples


@pytest.mark.parametrize(
    "text",
    [
        '<https://e.org/a> <https://e.org/p> "default graph" .\n',
        '<https://e.org/a> <https://e.org/p> "x" <http://g/1> .\n'
        "<https://e.org/a> <https://e.org/p> .\n",
    ],
    ids=["default-graph", "syntax-error"],
)
def test_dataset_that_is_no_dump_is_unreadable(tmp_path, text) -> None:
    path = tmp_path / "dump.nq"
    path.write_text(text)
    items = list(sources.from_file(path))
    assert isinstance(items[-1], Unreadable)
    assert isinstance(items[-1].error, MalformedInput)
    assert items[-1].source == str(path)


def test_blank_nodes_are_numbered_in_order_of_appearance(read) -> None:
    m = read("[] <https://e.org/p> [ <https://e.org/q> [] ] .", "text/turtle")
    skolems = [t for triple in given(m) for t in triple if t.startswith(f"<{m.iri}#")]
    assert list(dict.fromkeys(skolems)) == [f"<{m.iri}#b{i}>" for i in range(3)]


def test_text_plain_is_not_read_as_rdf(read) -> None:
    from jobtrail.base.errors import UnsupportedFormat

    with pytest.raises(UnsupportedFormat):
        read("<https://e.org/a> <https://e.org/p> <https://e.org/b> .\n", "text/plain")


def test_rdfxml_with_a_dtd_is_refused_before_parsing(read) -> None:
    from tests.security.test_input_limits import billion_laughs

    with pytest.raises(MalformedInput, match="DOCTYPE is not allowed in RDF/XML"):
        read(billion_laughs(), media_type="application/rdf+xml")
