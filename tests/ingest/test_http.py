"""HTTP messages (ingest/http.py through ingest/read.py): the 25 exchanges of the FIMS/AME
seed, each a hop, described with the W3C HTTP vocabulary."""

from __future__ import annotations

import base64
import json
import re

import pytest
from jobtrail.base import nt
from jobtrail.base.errors import MalformedInput
from jobtrail.base.terms import HTTP, JT, RDF

HTTP_TYPE = "message/http"
REQUEST = re.compile(r"^([A-Z]+) (\S+)(?: HTTP/(\S+))?$")
RESPONSE = re.compile(r"^HTTP/(\S+) (\d{3}) (.*)$")


def head_of(text: str) -> tuple[str, list[tuple[str, str]]]:
    """Start line and headers of a seed message, as the seed writes them."""
    head = text.partition("\n\n")[0].rstrip("\n").split("\n")
    return head[0], [
        (n.strip(), v.strip()) for n, _, v in (line.partition(":") for line in head[1:])
    ]


def test_every_seed_message_reads(read, view_of, seed000_http) -> None:
    m = read(seed000_http.data, HTTP_TYPE)
    body = seed000_http.text.partition("\n\n")[2]
    expected = "JSONLDMessage" if '"@context"' in body else "HTTPMessage"
    assert m.kind == expected
    view = view_of(m.graph.triples)
    assert view.has(m.iri, RDF.type, JT.HTTPMessage)
    assert view.has(m.iri, RDF.type, JT[expected])
    assert view.value(m.iri, JT.mediaType) == HTTP_TYPE
    assert view.value(m.iri, JT.originalText).encode() == seed000_http.data
    assert len(view.parse()) == len(view.triples)


def test_the_seed_has_25_messages_numbered_as_in_the_seed(seed000_http_messages) -> None:
    assert [b.number for b in seed000_http_messages] == list(range(1, 26))
    assert seed000_http_messages[5].text.startswith("GET /Job/")
    assert seed000_http_messages[24].text.startswith("POST /success")


def test_start_line(read, view_of, seed000_http) -> None:
    m = read(seed000_http.data, HTTP_TYPE)
    view = view_of(m.graph.triples)
    start, _ = head_of(seed000_http.text)
    if request := REQUEST.match(start):
        method, target, version = request.groups()
        assert view.has(m.iri, RDF.type, HTTP.Request)
        assert view.objects(m.iri, HTTP.methodName) == [nt.lit(method)]
        assert view.objects(m.iri, HTTP.requestURI) == [nt.lit(target)]
        assert view.objects(m.iri, HTTP.statusCodeValue) == []
    else:
        version, code, reason = RESPONSE.match(start).groups()
        assert view.has(m.iri, RDF.type, HTTP.Response)
        assert view.objects(m.iri, HTTP.statusCodeValue) == [nt.integer(int(code))]
        assert view.values(m.iri, HTTP.reasonPhrase) == [reason]
        assert view.objects(m.iri, HTTP.methodName) == []
    # the seed leaves out the version on some requests (21, 22, 25)
    assert view.values(m.iri, HTTP.httpVersion) == ([version] if version else [])


def test_headers_in_order(read, view_of, seed000_http) -> None:
    m = read(seed000_http.data, HTTP_TYPE)
    view = view_of(m.graph.triples)
    _, expected = head_of(seed000_http.text)
    headers = view.objects(m.iri, HTTP.headers)
    by_position = {int(view.value(h, JT.position)): h for h in headers}
    assert sorted(by_position) == list(range(len(expected)))
    for i, (name, value) in enumerate(expected):
        h = by_position[i]
        assert view.has(h, RDF.type, HTTP.MessageHeader)
        assert (view.value(h, HTTP.fieldName), view.value(h, HTTP.fieldValue)) == (name, value)


def test_message_6_get_without_body(read, view_of, seed000_http_messages) -> None:
    m = read(seed000_http_messages[5].data, HTTP_TYPE)
    assert m.kind == "HTTPMessage"
    assert m.notes == []
    view = view_of(m.graph.triples)
    assert view.values(m.iri, HTTP.methodName) == ["GET"]
    assert view.objects(m.iri, JT.parameter) == []
    assert view.objects(m.iri, JT.about) == []


def test_message_25_body_without_context_keeps_its_keys(
    read, view_of, seed000_http_messages
) -> None:
    block = seed000_http_messages[24]
    body = json.loads(block.text.partition("\n\n")[2])
    m = read(block.data, HTTP_TYPE)
    assert m.kind == "HTTPMessage"
    assert any("no @context" in n for n in m.notes)
    view = view_of(m.graph.triples)
    kept = {
        view.value(p, JT.key): json.loads(view.value(p, JT.value))
        for p in view.objects(m.iri, JT.parameter)
    }
    assert kept == body
    assert view.values(m.iri, JT.readerNote) == m.notes


def test_body_of_a_jsonld_message_is_linked(read, view_of, seed000_http_messages) -> None:
    # message 3 answers with the job it created: the hop is about that job
    m = read(seed000_http_messages[2].data, HTTP_TYPE)
    view = view_of(m.graph.triples)
    job = "https://job-repository/Job/50f8a0cb-d722-43a9-bef9-2f4c0ebb3e14"
    assert view.objects(m.iri, JT.about) == [f"<{job}>"]
    assert view.values(job, JT.jobStatus) == ["NEW"]
    assert any("trailing comma" in n for n in m.notes)


def test_crlf_line_endings_read_the_same(read, view_of, seed000_http_messages) -> None:
    block = seed000_http_messages[2]
    lf, crlf = (read(data, HTTP_TYPE) for data in (block.data, block.data.replace(b"\n", b"\r\n")))
    assert lf.iri != crlf.iri  # other bytes, another message
    envelope = {f"<{JT}{p}>" for p in ("sha256", "byteSize", "storedAt", "originalText")}

    def content(m):  # the triples but the envelope's, with the message IRI factored out
        return sorted(
            (s.replace(m.iri, "M"), p, o.replace(m.iri, "M"))
            for s, p, o in m.graph.triples
            if p not in envelope
        )

    assert content(lf) == content(crlf)


def test_tre_message_as_http_body(read, view_of, seed004_messages) -> None:
    text = "POST /messages HTTP/1.1\nContent-Type: application/json\n\n" + seed004_messages[0].text
    m = read(text, HTTP_TYPE)
    assert m.kind == "TRE2022Message"
    view = view_of(m.graph.triples)
    for cls in ("HTTPMessage", "TREMessage", "TRE2022Message"):
        assert view.has(m.iri, RDF.type, JT[cls])
    assert [g.iri.rsplit("/producers/", 1)[1] for g in m.shared] == ["TDR/consignment-export/INT"]


def test_turtle_body(read, view_of) -> None:
    text = (
        "HTTP/1.1 200 OK\nContent-Type: text/turtle\n\n"
        "<https://example.org/job/1> <https://example.org/p> [ <https://example.org/q> 1 ] .\n"
    )
    m = read(text, HTTP_TYPE)
    view = view_of(m.graph.triples)
    assert view.has(m.iri, RDF.type, JT.RDFMessage)
    node = view.one("https://example.org/job/1", "https://example.org/p")
    assert node.startswith(f"<{m.iri}#")


def test_body_of_another_type_is_kept_verbatim_only(read, view_of) -> None:
    data = b"HTTP/1.1 200 OK\nContent-Type: text/html\n\n<p>done</p>\n"
    m = read(data, HTTP_TYPE)
    assert m.kind == "HTTPMessage"
    assert m.notes == ["body of type text/html is kept verbatim only"]
    assert view_of(m.graph.triples).value(m.iri, JT.originalText).encode() == data


def test_binary_body_is_kept_verbatim_as_base64(read, view_of) -> None:
    data = b"HTTP/1.1 200 OK\nContent-Type: image/png\n\n\x89PNG\r\n"
    m = read(data, HTTP_TYPE)
    assert m.notes == ["body of type image/png is kept verbatim only"]
    view = view_of(m.graph.triples)
    assert base64.b64decode(view.value(m.iri, JT.originalBase64)) == data


def test_plain_text_body_is_kept_verbatim(read) -> None:
    m = read(
        "HTTP/1.1 500 Internal Server Error\nContent-Type: text/plain\n\nsomething broke\n",
        HTTP_TYPE,
    )
    assert m.kind == "HTTPMessage"


# ---------------------------------------------------------------- what cannot be read


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("POST /Job HTTP/1.1\nHost job-processor\n\n{}", 2),  # no colon
        (
            "POST /Job HTTP/1.1\nHost: job-processor\nContent Type: text/plain\n\n",
            3,
        ),  # space in name
        ("POST /Job HTTP/1.1\r\nHost: a\r\n: no name\r\n\r\n", 3),
        ("HTTP/1.1 200 OK\nContent-Type: application/json\nnot a header\n", 3),
        ("FETCH-ME-THIS please now\nHost: a\n\n", 1),  # not a start line
    ],
    ids=["no-colon", "space-in-name", "no-name-crlf", "response", "start-line"],
)
def test_malformed_head_is_refused_with_its_line(read, text, line) -> None:
    with pytest.raises(MalformedInput) as raised:
        read(text, HTTP_TYPE, source="flow.http")
    assert raised.value.location.source == "flow.http"
    assert raised.value.location.line == line
    assert f"line {line}" in raised.value.describe()


def test_line_numbers_count_leading_blank_lines(read) -> None:
    with pytest.raises(MalformedInput) as raised:
        read("\n\nGET / HTTP/1.1\nHost: a\nbad\n\n", HTTP_TYPE)
    assert raised.value.location.line == 5


def test_malformed_json_body_is_located_in_the_body(read) -> None:
    text = (
        'POST /Job HTTP/1.1\nContent-Type: application/json\n\n{\n  "type": "AmeJob"\n  "x": 1\n}\n'
    )
    with pytest.raises(MalformedInput) as raised:
        read(text, HTTP_TYPE, source="flow.http")
    assert raised.value.location.source == "flow.http (body)"
    assert (raised.value.location.line, raised.value.location.column) == (3, 3)


def test_start_line_error_counts_leading_blank_lines(read) -> None:
    with pytest.raises(MalformedInput) as raised:
        read("\r\n\nFETCH-ME-THIS please now\nHost: a\n\n", HTTP_TYPE)
    assert raised.value.location.line == 3


def test_a_head_in_latin_1_still_reads(read, view_of) -> None:
    data = b"HTTP/1.1 200 OK\nX-Note: caf\xe9\nContent-Type: image/png\n\n\x89PNG"
    m = read(data, HTTP_TYPE)
    view = view_of(m.graph.triples)
    (header,) = [s for s, p, o in view.triples if o == nt.lit("X-Note")]
    assert view.value(header, HTTP.fieldValue) == "café"
    assert view.value(m.iri, JT.originalBase64)


def test_a_crlf_body_inside_an_lf_message_is_not_where_the_head_ends(read, view_of) -> None:
    data = b"HTTP/1.1 200 OK\nContent-Type: text/html\n\n<p>a</p>\r\n\r\n<p>b</p>"
    m = read(data, HTTP_TYPE)
    assert m.notes == ["body of type text/html is kept verbatim only"]
    fields = [o for s, p, o in view_of(m.graph.triples).triples if p == f"<{HTTP.fieldName}>"]
    assert fields == [nt.lit("Content-Type")]
