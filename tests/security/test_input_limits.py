"""Parsers refuse what they cannot bound; no input gives a 500 (issue 17), on a real server.

For every refused input: a 4xx, a message naming the limit or the field, and nothing stored
(the number of quads in the store is the same before and after).
"""

from __future__ import annotations

import base64
import html
import http.client
import io
import json
import re
import socket
import tarfile
import time
import zipfile
from collections.abc import Iterator
from urllib.parse import quote

import docx
import httpx
import lxml.html
import pytest
import rdflib
from lxml import etree

from tests.bindings.jobservice.test_jobs import wait_done
from tests.bindings.sif.test_routes import job_document
from tests.conftest import EXAMPLES_DIR, PRODUCER, DocumentServer, job_server, jobtrail_server

RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with jobtrail_server(tmp_path_factory.mktemp("input-limits") / "data") as base:
        yield base


@pytest.fixture
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=30) as c:
        yield c


def quads(client: httpx.Client) -> int:
    query = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"
    r = client.get(
        "/sparql", params={"query": query}, headers={"Accept": "application/sparql-results+json"}
    )
    assert r.status_code == 200, r.text
    return int(r.json()["results"]["bindings"][0]["n"]["value"])


def refused(
    client: httpx.Client, status: int, words: str, method: str, url: str, **kwargs: object
) -> httpx.Response:
    """The request is answered `status`, its message says `words`, and nothing is stored."""
    before = quads(client)
    r = client.request(method, url, **kwargs)  # type: ignore[arg-type]
    assert r.status_code == status, r.text[:2000]
    assert words.lower() in r.text.lower(), r.text[:2000]
    assert quads(client) == before
    return r


# --- 1. RDF/XML entities ------------------------------------------------------------------


def billion_laughs(levels: int = 9) -> bytes:
    entities = '<!ENTITY a0 "' + "a" * 40 + '">\n'
    for i in range(1, levels + 1):
        entities += f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">\n'
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [\n{entities}]>\n'
        f'<rdf:RDF xmlns:rdf="{RDF_NS}" xmlns:e="http://example.org/">'
        f'<rdf:Description rdf:about="http://example.org/x"><e:p>&a{levels};</e:p>'
        "</rdf:Description></rdf:RDF>"
    ).encode()


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("application/rdf+xml", billion_laughs()),
        ("application/rdf+xml", billion_laughs(2)),  # small enough to expand: still refused
        (
            "message/http",
            b"POST /x HTTP/1.1\r\nHost: example.org\r\nContent-Type: application/rdf+xml\r\n\r\n"
            + billion_laughs(),
        ),
    ],
    ids=["rdfxml-bomb", "rdfxml-small-dtd", "http-body-rdfxml-bomb"],
)
def test_rdfxml_with_a_dtd_is_refused_unexpanded(
    client: httpx.Client, content_type: str, body: bytes
) -> None:
    started = time.monotonic()
    r = refused(
        client,
        400,
        "DOCTYPE is not allowed",
        "POST",
        "/messages",
        content=body,
        headers={**PRODUCER, "Content-Type": content_type},
    )
    assert time.monotonic() - started < 5
    assert len(r.content) < 4000


# --- 3. JSON limits, nesting in other syntaxes ---------------------------------------------


def tre_message(**parameters: object) -> bytes:
    doc = json.loads((EXAMPLES_DIR / "tre-enhanced-messages" / "01-tdr-export.json").read_text())
    doc["parameters"] = {**doc.get("parameters", {}), **parameters}
    doc["timestamp"] = str(1700000000 + len(json.dumps(parameters)))
    return json.dumps(doc).encode()


def nested(levels: int) -> object:
    value: object = "x"
    for _ in range(levels):
        value = {"a": value}
    return value


LD = {
    "@context": "https://job-processor/context/default",
    "type": "StopJob",
    "id": "https://job-processor/StopJob/deep",
    "job": "https://job-processor/Job/1",
    "stopJobCause": "COMPLETED",
}


@pytest.mark.parametrize(
    "content_type, body, words",
    [
        ("application/json", b"[" * 100_000, "limit of 512"),
        ("application/json", b'{"a": ' * 600 + b"1" + b"}" * 600, "limit of 512"),
        ("application/json", tre_message(n="?").replace(b'"?"', b"9" * 5000), "limit of 1,000"),
        (
            "application/json",
            tre_message(n="?").replace(b'"?"', b"1." + b"1" * 2000),
            "limit of 1,000",
        ),
        ("application/ld+json", json.dumps({**LD, "notes": nested(300)}).encode(), "limit of 256"),
        (
            "message/http",
            b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n\r\n"
            + b"[" * 100_000,
            "limit of 512",
        ),
    ],
    ids=["deep-array", "deep-object", "long-integer", "long-float", "deep-jsonld", "deep-http"],
)
def test_json_past_its_limits_is_refused(
    client: httpx.Client, content_type: str, body: bytes, words: str
) -> None:
    refused(
        client,
        400,
        words,
        "POST",
        "/messages",
        content=body,
        headers={**PRODUCER, "Content-Type": content_type, "Accept": "application/problem+json"},
    )


def test_json_within_the_limits_is_stored(client: httpx.Client) -> None:
    body = tre_message(deep=nested(500), n="?").replace(b'"?"', b"9" * 999)
    r = client.post(
        "/messages", content=body, headers={**PRODUCER, "Content-Type": "application/json"}
    )
    assert r.status_code == 201, r.text[:2000]


@pytest.mark.parametrize(
    "url, body",
    [
        ("/jobs", b"[" * 100_000),
        ("/jobs", b'{"url": "http://example.org/x.pdf", "n": ' + b"9" * 5000 + b"}"),
        ("/mcma/jobs", b"[" * 100_000),
        ("/mcma/jobs", b'{"@type": "JobProfile", "n": ' + b"9" * 5000 + b"}"),
    ],
    ids=["jobs-deep", "jobs-long-number", "mcma-deep", "mcma-long-number"],
)
def test_json_request_bodies_have_the_same_limits(
    client: httpx.Client, url: str, body: bytes
) -> None:
    r = refused(
        client,
        400,
        "limit of",
        "POST",
        url,
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert "1,000" in r.text or "512" in r.text


@pytest.mark.parametrize(
    "content_type, body",
    [
        (
            "text/turtle",
            b"<http://example.org/a> <http://example.org/p> "
            + b"[ <http://example.org/p> " * 20_000
            + b"[]"
            + b" ]" * 20_000
            + b" .",
        ),
        (
            "text/turtle",
            b"<http://example.org/a> <http://example.org/p> "
            + b"( " * 20_000
            + b")" * 20_000
            + b" .",
        ),
        ("text/turtle", b"<http://example.org/a> <http://example.org/p> " + b"[ " * 100_000),
        ("text/n3", b"<http://example.org/a> <http://example.org/p> " + b"{ " * 100_000),
    ],
    ids=["turtle-deep-blank-nodes", "turtle-deep-lists", "turtle-unclosed", "n3-unclosed"],
)
def test_deeply_nested_rdf_is_never_a_500(
    client: httpx.Client, content_type: str, body: bytes
) -> None:
    r = client.post("/messages", content=body, headers={**PRODUCER, "Content-Type": content_type})
    assert r.status_code < 500, r.text[:2000]


# --- 4. Characters XML 1.0 cannot carry ----------------------------------------------------

NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def well_formed(r: httpx.Response, kind: str) -> None:
    assert r.status_code == 200, r.text[:2000]
    if kind == "xml":
        etree.fromstring(r.content)  # raises on a character XML cannot carry
    elif kind == "rdfxml":
        rdflib.Graph().parse(data=r.content, format="xml")
    elif kind == "turtle":
        rdflib.Graph().parse(data=r.content, format="turtle")
    else:
        assert not NOT_XML.search(r.content.decode("utf-8")), "HTML with a control character"


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("text/turtle", b'<http://example.org/a> <http://example.org/p> "a\\u0001b\\uFFFF" .'),
        ("text/turtle", b'<http://example.org/b> <http://example.org/p> "raw\x01\x0bbytes" .'),
        ("application/ld+json", json.dumps({**LD, "stopJobCause": "DONE\u0001"}).encode()),
        ("application/json", tre_message(note="lone \ud800 surrogate")),
    ],
    ids=["turtle-escaped", "turtle-raw", "jsonld", "tre-lone-surrogate"],
)
def test_a_message_with_characters_xml_cannot_carry_stays_well_formed(
    client: httpx.Client, content_type: str, body: bytes
) -> None:
    r = client.post("/messages", content=body, headers={**PRODUCER, "Content-Type": content_type})
    assert r.status_code == 201, r.text[:2000]
    iri = r.headers["Location"]
    well_formed(client.get(iri, headers={"Accept": "application/rdf+xml"}), "rdfxml")
    well_formed(client.get(iri, headers={"Accept": "text/turtle"}), "turtle")
    well_formed(client.get(iri, headers={"Accept": "text/html"}), "html")
    well_formed(client.get("/messages", headers={"Accept": "application/atom+xml"}), "xml")
    well_formed(client.get("/messages", headers={"Accept": "text/html"}), "html")
    query = f"SELECT ?o WHERE {{ GRAPH <{iri}> {{ ?s ?p ?o }} }}"
    results = client.get(
        "/sparql", params={"query": query}, headers={"Accept": "application/sparql-results+xml"}
    )
    well_formed(results, "xml")
    # the original bytes are kept verbatim
    turtle = rdflib.Graph().parse(
        data=client.get(iri, headers={"Accept": "text/turtle"}).content, format="turtle"
    )
    jt = rdflib.Namespace("https://w3id.org/jobtrail/vocab#")
    text = turtle.value(rdflib.URIRef(iri), jt.originalText)
    b64 = turtle.value(rdflib.URIRef(iri), jt.originalBase64)
    kept = str(text).encode("utf-8") if text is not None else base64.b64decode(str(b64))
    assert kept == body


def test_a_trace_with_characters_xml_cannot_carry_stays_well_formed(client: httpx.Client) -> None:
    doc = json.loads(tre_message())
    doc["UUIDs"] = [{"TDR-UUID": "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"}]
    doc["parameters"] = {"TDR": {"reference": "TDR-2026-CTRL", "note": "bell\u0007"}}
    doc["producer"] = {**doc["producer"], "name": "TDR\u0001"}
    r = client.post("/messages", json=doc, headers=PRODUCER)
    assert r.status_code == 201, r.text[:2000]
    for accept in ("application/rdf+xml", "text/html"):
        found = client.get("/trace/TDR-2026-CTRL", headers={"Accept": accept})
        well_formed(found, "rdfxml" if "xml" in accept else "html")


@pytest.mark.parametrize(
    "key",
    [
        "<script>alert(1)</script>",
        'TDR-"quoted"',
        "a b\tc",
        "\x00",
        "line\nbreak",
        "urn:uuid:",
        "urn:uuid:not-a-uuid",
        "javascript:alert(1)",
        "http://",
        "https://example.org/<x>",
        "\ufffe",
        "\ud800".encode("utf-8", "surrogatepass").decode("latin-1"),
        "%",
        "../../etc/passwd",
        "{}\\^`|",
    ],
)
def test_an_odd_trace_key_is_a_4xx_naming_it(client: httpx.Client, key: str) -> None:
    for accept in ("text/html", "application/problem+json", "image/svg+xml"):
        search = client.get("/trace", params={"key": key}, headers={"Accept": accept})
        assert 400 <= search.status_code < 500, (key, search.status_code, search.text[:500])
        path = client.get(f"/trace/{quote(key, safe='')}", headers={"Accept": accept})
        assert 400 <= path.status_code < 500, (key, path.status_code, path.text[:500])
        if search.headers["content-type"].startswith("text/html"):
            assert "<script>" not in search.text.split("<main>", 1)[1]


def test_a_huge_trace_key_is_refused_saying_how_long_it_may_be(client: httpx.Client) -> None:
    key = "TDR-" + "9" * 20_000
    search = client.get("/trace", params={"key": key}, headers={"Accept": "application/json"})
    assert search.status_code == 400 and "1,000 characters" in search.text, search.text[:500]
    path = client.get(f"/trace/{key}", headers={"Accept": "application/problem+json"})
    assert path.status_code == 400 and "1,000 characters" in path.text, path.text[:500]
    way_too_long = client.get("/trace", params={"key": "x" * 60_000})
    assert 400 <= way_too_long.status_code < 500


def test_markup_in_a_producer_name_or_reference_stays_inert_in_a_trace(
    client: httpx.Client,
) -> None:
    doc = json.loads(tre_message())
    doc["UUIDs"] = [{"TDR-UUID": "3c7e1d2b-9f4a-4c8e-b1a2-6d5f4e3c2b1a"}]
    evil = '"><script>alert("ref")</script>'
    doc["parameters"] = {"TDR": {"reference": f"TDR-2026-{evil}"}}
    doc["producer"] = {**doc["producer"], "name": '<script>alert("p")</script>"', "process": "'&"}
    doc["timestamp"] = "1790000000"  # the newest: on the landing page's recent keys
    r = client.post("/messages", json=doc, headers=PRODUCER)
    assert r.status_code == 201, r.text[:2000]
    key = quote(f"TDR-2026-{evil}", safe="")
    svg = client.get(f"/trace/{key}.svg")
    assert svg.status_code == 200, svg.text[:500]
    root = etree.fromstring(svg.content)  # well-formed
    assert not root.xpath("//*[local-name()='script']")
    assert not [a for e in root.iter() for a in e.attrib if a.lower().startswith("on")]
    titles = " ".join(root.xpath("//*[local-name()='title']/text()"))
    assert '<script>alert("p")</script>"' in titles and evil in titles  # shown as text
    for url in (f"/trace/{key}", "/trace", f"/trace?key={key}"):
        page = client.get(url, headers={"Accept": "text/html"}, follow_redirects=True)
        assert page.status_code == 200, (url, page.text[:500])
        dom = lxml.html.fromstring(page.text)
        assert not dom.xpath("//script"), url
        assert not [a for e in dom.iter() for a in e.attrib if a.lower().startswith("on")], url
        assert "<script>" not in page.text, url
    text = lxml.html.fromstring(client.get(f"/trace/{key}.html").text).text_content()
    assert evil in text and '<script>alert("p")</script>"' in text


@pytest.mark.parametrize(
    "form, field",
    [
        ({"RUNID": "run\x01"}, "RUNID"),
        ({"RUNID": "run\ufffe"}, "RUNID"),
        ({"algorithm": "sha256\x1f"}, "algorithm"),
        ({"INPUT": "http://example.org/x", "note\x0b": "x"}, "parameter name"),
    ],
    ids=["runid-control", "runid-fffe", "parameter-value", "parameter-name"],
)
def test_uws_fields_xml_cannot_carry_are_refused(
    client: httpx.Client, form: dict[str, str], field: str
) -> None:
    # a job the service will not create is a 403 in UWS 1.1 (§2.2.3.1)
    refused(client, 403, repr(field), "POST", "/uws/Fixity", data=form)
    well_formed(client.get("/uws/Fixity"), "xml")


def test_uws_runid_change_xml_cannot_carry_is_refused(client: httpx.Client) -> None:
    r = client.post("/uws/Fixity", data={"RUNID": "fine"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    job = r.headers["Location"]
    refused(client, 400, "'RUNID'", "POST", job, data={"RUNID": "bad\x02"})
    well_formed(client.get(job), "xml")
    well_formed(client.get("/uws/Fixity"), "xml")


@pytest.mark.parametrize(
    "doc, field",
    [
        ({"url": "http://example.org/x.pdf", "parameters": {"note": "a\u0001"}}, "note"),
        ({"url": "http://example.org/x.pdf", "parameters": {"n": ["ok", {"k": "\uffff"}]}}, "n"),
    ],
    ids=["parameter", "nested-parameter"],
)
def test_job_fields_xml_cannot_carry_are_refused(
    client: httpx.Client, doc: dict[str, object], field: str
) -> None:
    refused(client, 400, field, "POST", "/jobs", json=doc)
    well_formed(client.get("/uws/DocumentToText"), "xml")


# --- 2. Archive and Office bombs ------------------------------------------------------------


def docx_bomb(paragraphs: int = 400_000) -> bytes:
    """A .docx whose document.xml repeats one paragraph: small zipped, huge parsed."""
    document = docx.Document()
    document.add_paragraph("x")
    plain = io.BytesIO()
    document.save(plain)
    source = zipfile.ZipFile(io.BytesIO(plain.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "word/document.xml":
                text = data.decode()
                at = text.index("<w:body>") + len("<w:body>")
                data = (text[:at] + "<w:p><w:r><w:t>a</w:t></w:r></w:p>" * paragraphs).encode()
                data += text[at:].encode()
            z.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return out.getvalue()


def zip_of(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return out.getvalue()


def tar_gz_of(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return out.getvalue()


@pytest.fixture(scope="module")
def job_client(
    tmp_path_factory: pytest.TempPathFactory, documents: DocumentServer
) -> Iterator[httpx.Client]:
    root = tmp_path_factory.mktemp("input-limits-jobs")
    limits = {
        "unpack_max_bytes": "5000000",
        "unpack_max_members": "100",
        "body_timeout": "1",
        "header_timeout": "2",
    }
    with (
        job_server(root / "data", root / "files", **limits) as base,
        httpx.Client(base_url=base, timeout=30) as c,
    ):
        yield c


@pytest.mark.parametrize(
    "name, profile, data, words",
    [
        ("bomb.docx", "DocumentToText", docx_bomb(), "over 5,000,000 bytes, the limit"),
        (
            "many.zip",
            "BagValidation",
            zip_of({f"bag/data/{i}.txt": b"x" for i in range(150)}),
            "over 100 members, the limit",
        ),
        (
            "many.tar.gz",
            "BagValidation",
            tar_gz_of({f"bag/data/{i}.txt": b"x" for i in range(150)}),
            "over 100 members, the limit",
        ),
        (
            "zeros.zip",
            "BagValidation",
            zip_of({"bag/data/zeros.bin": bytes(50_000_000)}),
            "the limit (unpack_max_bytes)",
        ),
        (
            "zeros.tar.gz",
            "BagValidation",
            tar_gz_of({"bag/data/zeros.bin": bytes(50_000_000)}),
            "the limit",
        ),
    ],
    ids=["docx-bomb", "zip-members", "tar-members", "zip-bomb", "tar-gz-bomb"],
)
def test_an_archive_over_the_limits_fails_the_job_naming_them(
    job_client: httpx.Client,
    documents: DocumentServer,
    name: str,
    profile: str,
    data: bytes,
    words: str,
) -> None:
    url = documents.put(f"/limits/{name}", data, "application/octet-stream")
    r = job_client.post("/jobs", json={"url": url, "profile": profile})
    assert r.status_code in (201, 202), r.text
    failed = wait_done(
        job_client, r.text.strip(), 60, headers={"Accept": "text/turtle, application/problem+json"}
    )
    assert failed.status_code == 422, failed.text
    assert words in failed.json()["detail"], failed.json()


# --- 5. Other 500s --------------------------------------------------------------------------


@pytest.mark.parametrize("password", ["wönderland", "пароль", "\u00e9"])
def test_a_non_ascii_basic_password_is_403(job_client: httpx.Client, password: str) -> None:
    auth = "Basic " + base64.b64encode(f"alice:{password}".encode()).decode()
    refused(
        job_client,
        403,
        "bad user name or password",
        "POST",
        "/jobs",
        content=b"http://example.org/x.pdf",
        headers={"Authorization": auth},
    )


@pytest.mark.parametrize(
    "path",
    [
        "/x<y",
        "/x<y.ttl",
        "/%3Cx%3E",
        '/x"y',
        "/x%20y",
        "/x{y}",
        "/messages/<a>",
        "/producers/a<b",
        "/producers/a<b/timemap",
        "/producers/a<b/versions/x",
        "/jobs/<x>",
        "/jobs/<x>/results/a.txt",
        "/jobs/<x>/timemap",
        "/jobs/<x>/versions/1",
        "/uws/Fixity/<x>",
        "/uws/Fixity/<x>/phase",
        "/sif/jobs/Transfers/<x>",
        "/mcma/jobs/<x>",
        "/ogcapi/jobs/<x>",
        "/ogcapi/jobs/<x>/results",
        "/ogcapi/processes/<x>",
        "/ogcapi/jobs/<x>/inputs",
        "/ogcapi/jobs/<x>/prov",
        "/vocab/<x>",
        "/vocab/status/<x>",
    ],
)
@pytest.mark.parametrize("accept", ["text/turtle", "text/html", "application/rdf+xml"])
def test_a_path_that_makes_no_iri_is_404(client: httpx.Client, path: str, accept: str) -> None:
    # httpx would percent-encode `<`: the request line is written as given
    port = client.base_url.port
    assert port is not None
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"Accept": accept})
        r = connection.getresponse()
        if r.status == 301:  # another spelling of a path: to the one the server mints, here
            location = r.getheader("location") or ""
            r.read()
            assert location.startswith("/") and not location.startswith("//"), location
            assert all(c not in location for c in '<>"{} '), location
            connection.request("GET", location, headers={"Accept": accept})
            r = connection.getresponse()
        assert r.status == 404, r.read()[:500]
        r.read()
    finally:
        connection.close()


@pytest.mark.parametrize(
    "timeout", ["P99999999999Y", "P9000Y", "P999999999999999999D", "PT99999999999999999999H"]
)
def test_a_sif_timeout_past_year_9999_is_refused(client: httpx.Client, timeout: str) -> None:
    headers = {"Content-Type": "application/xml", "Accept": "application/xml"}
    refused(
        client,
        400,
        "timeout",
        "POST",
        "/sif/jobs/Transfers/Transfer",
        content=job_document(timeout=timeout),
        headers=headers,
    )


@pytest.mark.parametrize("duration", ["9" * 30, "2147483648", "86401"])
def test_uws_execution_duration_over_the_maximum_is_lowered_to_it(
    client: httpx.Client, duration: str
) -> None:
    """UWS 1.1 §2.1.4 lets the service limit it: the job gets the maximum (86400 s here),
    which the client reads back; never more than an xs:int, never a 500."""
    r = client.post("/uws/Fixity", data={"EXECUTIONDURATION": duration}, follow_redirects=False)
    assert r.status_code == 303, r.text
    job = r.headers["Location"]
    assert client.get(f"{job}/executionduration").text.strip() == "86400"
    changed = client.post(job, data={"EXECUTIONDURATION": duration}, follow_redirects=False)
    assert changed.status_code == 303, changed.text
    assert client.get(f"{job}/executionduration").text.strip() == "86400"
    well_formed(client.get(job), "xml")


def test_uws_execution_duration_zero_gets_the_maximum(client: httpx.Client) -> None:
    r = client.post("/uws/Fixity", data={"EXECUTIONDURATION": "0"}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get(f"{r.headers['Location']}/executionduration").text.strip() == "86400"


def _whole_answer(s: socket.socket) -> bytes:
    """Head and body of one HTTP answer, however many reads they take to arrive."""
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = s.recv(4096)
        if not chunk:
            return answer
        answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    while len(body) < length:
        chunk = s.recv(4096)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def test_a_body_sent_too_slowly_is_408(job_client: httpx.Client) -> None:
    port = job_client.base_url.port
    before = quads(job_client)
    with socket.create_connection(("127.0.0.1", port or 80), timeout=10) as s:
        s.sendall(
            b"POST /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
            b"Content-Length: 100\r\n\r\nhttp://"
        )
        started = time.monotonic()
        answer = _whole_answer(s)
        assert time.monotonic() - started < 5
    assert answer.startswith(b"HTTP/1.1 408"), answer[:300]
    assert b"body_timeout" in answer
    assert quads(job_client) == before


def test_a_head_sent_a_byte_at_a_time_is_408_and_closed(job_client: httpx.Client) -> None:
    port = job_client.base_url.port
    with socket.create_connection(("127.0.0.1", port or 80), timeout=10) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started, answer = time.monotonic(), b""
        s.settimeout(0.3)
        while time.monotonic() - started < 8:  # a slowloris: one header byte at a time
            try:
                s.sendall(b"X")
                chunk = s.recv(4096)
            except TimeoutError:
                continue
            except OSError:  # closed by the server while we were still sending
                break
            if not chunk:
                break
            answer += chunk
        held = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408"), answer[:300]
    assert held < 6, f"the connection was held {held:.1f} s (header_timeout is 2)"


def test_a_kept_alive_connection_has_the_same_limit_for_its_next_head(
    job_client: httpx.Client,
) -> None:
    port = job_client.base_url.port
    with socket.create_connection(("127.0.0.1", port or 80), timeout=10) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert _whole_answer(s).startswith(b"HTTP/1.1 200")  # a head sent at once: answered
        s.sendall(b"GET /health HTTP/1.1\r\n")  # the next one never ends
        started = time.monotonic()
        answer = _whole_answer(s)
        assert time.monotonic() - started < 6
    assert answer.startswith(b"HTTP/1.1 408"), answer[:300]


def test_a_head_over_16_kib_is_431_and_closed_while_one_under_is_answered(
    job_client: httpx.Client,
) -> None:
    port = job_client.base_url.port or 80
    fits = job_client.get("/health", headers={"X-Padding": "x" * 15_000})
    assert fits.status_code == 200
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        for _ in range(40):  # 40 headers of 1 KB, never ending the head
            try:
                s.sendall(b"X-Padding: " + b"x" * 1000 + b"\r\n")
            except OSError:  # closed by the server while we were still sending
                break
        answer = _whole_answer(s)
        try:
            rest = s.recv(4096)
        except ConnectionResetError:  # closed with what we sent unread: a reset
            rest = b""
        assert rest == b""  # and closed
    assert answer.startswith(b"HTTP/1.1 431"), answer[:300]
    assert b"16384 bytes" in answer


def test_a_sif_field_xml_cannot_carry_is_refused(client: httpx.Client) -> None:
    body = job_document().replace(b"Transfer TDR-2021-GW3", b"Transfer &#1; TDR")
    headers = {"Content-Type": "application/xml", "Accept": "application/xml"}
    refused(
        client,
        400,
        "does not parse",
        "POST",
        "/sif/jobs/Transfers/Transfer",
        content=body,
        headers=headers,
    )
    well_formed(client.get("/sif/jobs/Transfers", headers={"Accept": "application/xml"}), "xml")


# --- 6. The browsing indexes and search (issue 21) ------------------------------------------


@pytest.mark.parametrize(
    "params, named",
    [
        ({"page": "0"}, "page"),
        ({"page": "1e3"}, "page"),
        ({"page": "9" * 40}, "page"),
        ({"size": "-5"}, "size"),
        ({"size": "100000"}, "size"),
        ({"size": "\x00"}, "size"),
    ],
)
@pytest.mark.parametrize("path", ["/producers", "/references.html", "/uuids.json"])
def test_bad_paging_of_an_index_is_400_naming_it(
    client: httpx.Client, path: str, params: dict[str, str], named: str
) -> None:
    refused(client, 400, named, "GET", path, params=params)


@pytest.mark.parametrize(
    "q, words",
    [("x" * 201, "characters long"), ("é" * 1000, "characters long"), ("a\x00b", "control")],
)
@pytest.mark.parametrize("accept", ["application/json", "text/html"])
def test_a_search_it_cannot_take_is_400(
    client: httpx.Client, q: str, words: str, accept: str
) -> None:
    refused(client, 400, words, "GET", "/search", params={"q": q}, headers={"Accept": accept})


@pytest.mark.parametrize(
    "path", ["/producers.atom", "/references.ttl", "/search.xml", "/uuids.csv", "/index.atom"]
)
def test_an_index_in_a_format_it_has_not_is_404(client: httpx.Client, path: str) -> None:
    refused(client, 404, "offered as", "GET", path)


# --- the /messages filters: a 400 naming the parameter, never a 500 -----------------------


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"q": "x" * 10_000}, "q is longer than 200 characters"),
        ({"reference": "TDR-" * 1000}, "reference is longer than 500 characters"),
        ({"producer": "http://example.org/" + "a" * 1000}, "producer is longer than 500"),
        ({"producer": "http://exa mple.org/>{"}, "producer must be a producer's name"),
        ({"kind": "http://example.org/> } #"}, "kind must be a kind of message"),
        ({"uuid": '"} UNION {'}, "uuid must be a UUID"),
        ({"since": "2022-08-04T25:00:00Z"}, "since is not a date"),
        ({"since": "0000-01-01"}, "since is not a date"),
        ({"until": "99999"}, "until must be a date"),
        ({"warnings": "1\n0"}, "warnings must be 1 or 0"),
        ({"sort": "?m"}, "sort must be one of"),
        ({"filter": "x"}, "takes no parameter 'filter'"),
    ],
)
@pytest.mark.parametrize("path", ["/messages", "/messages.html", "/messages.ttl"])
def test_bad_message_filters_are_400_naming_them(
    client: httpx.Client, params: dict[str, str], words: str, path: str
) -> None:
    refused(client, 400, words, "GET", path, params=params)


@pytest.mark.parametrize(
    "value", ['"', "'", "}", "{", ">", "<", "a\nb", "\\", '"}>\n#HIDE', "\x00\x01", "é" * 190]
)
@pytest.mark.parametrize("name", ["q", "reference", "producer"])
def test_message_filters_with_sparql_syntax_are_plain_text(
    client: httpx.Client, name: str, value: str
) -> None:
    """Quotes, braces, `>`, newlines reach the query only as an escaped literal: nothing
    matches them (between markers no message holds: other tests here store `<` and `"`),
    and the answers are well formed."""
    value = f"zq{value}zq"
    atom = client.get("/messages", params={name: value})
    assert atom.status_code == 200, atom.text[:500]
    assert etree.fromstring(atom.content).find("{http://www.w3.org/2005/Atom}entry") is None
    page = client.get("/messages.html", params={name: value})
    assert page.status_code == 200, page.text[:500]
    assert "No message is kept by these filters" in page.text
    lxml.html.fromstring(page.text)


@pytest.mark.parametrize("path", ["/openapi.json", "/openapi"])
def test_the_api_description_takes_no_input(client: httpx.Client, path: str) -> None:
    """Its query, a strange Accept and a body change nothing; writes are 405, never a 500."""
    plain = client.get(path)
    odd = client.get(path, params={"x": "<script>", "url": "https://evil.example/spec.json"},
                     headers={"Accept": "image/png;q=abc, */*;q=0.1"})  # fmt: skip
    assert plain.status_code == odd.status_code == 200
    assert odd.content == plain.content
    assert b"evil.example" not in odd.content
    for method in ("POST", "PUT", "DELETE"):
        answer = client.request(method, path, content=b"x" * 1000)
        assert answer.status_code == 405, f"{method} {path}: {answer.status_code}"


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"query": ["a", "b"]}, "query is given 2 times"),
        ({"format": ["csv"]}, "'format'"),
        ({"query": ["x"], "<script>": ["1"]}, "'<script>'"),
    ],
)
def test_the_plain_sparql_form_refuses_other_input_naming_it(
    client: httpx.Client, params: dict[str, list[str]], named: str
) -> None:
    r = client.get("/sparql/form", params=params, headers={"Accept": "text/html"})
    assert r.status_code == 400, r.text[:500]
    assert named in html.unescape(r.text)
    assert "<script>" not in r.text  # named, escaped


@pytest.mark.parametrize(
    "accept", ["text/html;q=abc", "text/html;q=2", "*/*;q=0", "text/*", "a/b, text/html;q=0.1"]
)
def test_uws_answers_any_accept_without_a_500(client: httpx.Client, accept: str) -> None:
    r = client.get("/uws/Fixity", headers={"Accept": accept})
    assert r.status_code == 200, r.text[:500]
    kind = r.headers["content-type"]
    assert kind.startswith(("application/xml", "text/html")), kind


@pytest.mark.parametrize(
    "body, words",
    [
        (b"\xff\xfe{", "not JSON"),
        (b"{" * 100_000, "not JSON"),  # deeper than the parser goes: refused, not a 500
        (b'"inputs"', "JSON object"),
        (b'{"inputs": []}', "inputs is an object"),
        (b'{"inputs": {"input": "http://h/x"}, "outputs": 3}', "outputs is an object"),
        (b'{"inputs": {"input": 12}}', "absolute URL"),
        (b'{"inputs": {"input": null}}', "one value"),
        (b'{"inputs": {"input": {"href": 3}}}', "without href or value"),
        (b'{"inputs": {"input": "http://h/\u0000x"}}', "absolute URL"),
        (b'{"inputs": {"input": "http://h/x", "algorithm": "a\u0000b"}}', "character"),
        (b'{"inputs": {"input": "http://h/x"}, "response": ["raw"]}', "response"),
        (b'{"inputs": {"input": "http://h/x"}, "subscriber": {"failedUri": "x"}}', "failedUri"),
    ],
)
def test_an_ogc_execute_request_is_refused_naming_the_problem(
    client: httpx.Client, body: bytes, words: str
) -> None:
    headers = {"Content-Type": "application/json"}
    path = "/ogcapi/processes/Fixity/execution"
    r = refused(client, 400, words, "POST", path, content=body, headers=headers)
    assert r.headers["content-type"] == "application/json"  # the standard's exception
    assert r.json()["status"] == 400


@pytest.mark.parametrize(
    "body, words",
    [
        (b"\xff", "not JSON"),
        (b"[1]", "JSON object"),
        (b'{"process": ["Fixity"]}', "give process"),
        (
            b'{"process": "Fixity", "inputs": {"input": "http://h/x", "algorithm": {"a": 1}}}',
            "without href or value",
        ),
    ],
)
def test_an_ogc_job_to_create_is_refused_naming_the_problem(
    client: httpx.Client, body: bytes, words: str
) -> None:
    headers = {"Content-Type": "application/json"}
    refused(client, 400, words, "POST", "/ogcapi/jobs", content=body, headers=headers)


@pytest.mark.parametrize(
    "params, named",
    [
        ({"limit": "9" * 40}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"offset": "x"}, "offset"),
        ({"status": "Completed"}, "Completed"),
        ({"datetime": "2026-13-40T99:00:00Z"}, "datetime"),
        ({"datetime": "<script>/.."}, "datetime"),
        ({"maxDuration": "1e9"}, "maxDuration"),
        ({"type": "<b>"}, "type"),
        ({"f": "xml"}, "f="),
    ],
)
@pytest.mark.parametrize("accept", [None, "text/html"])
def test_ogc_job_list_parameters_are_refused_naming_them(
    client: httpx.Client, params: dict[str, str], named: str, accept: str | None
) -> None:
    r = client.get("/ogcapi/jobs", params=params, headers={"Accept": accept} if accept else {})
    assert r.status_code == 400, r.text[:500]
    assert named in html.unescape(r.text)
    if accept == "text/html":
        assert "<script>" not in r.text and "'<b>'" not in r.text  # named, escaped


@pytest.mark.parametrize(
    "accept", ["text/html;q=abc", "text/html;q=2", "*/*;q=0", "text/*", "a/b, text/html;q=0.1"]
)
def test_ogc_answers_any_accept_without_a_500(client: httpx.Client, accept: str) -> None:
    r = client.get("/ogcapi/processes", headers={"Accept": accept})
    assert r.status_code in (200, 406), r.text[:500]
    if r.status_code == 200:
        assert r.headers["content-type"].startswith(("application/json", "text/html"))


@pytest.mark.parametrize(
    "content_type, body, status, words",
    [
        ("application/x-www-form-urlencoded", b"action=explode", 400, "action='explode'"),
        ("application/x-www-form-urlencoded", b"", 400, "no action given"),
        ("application/x-www-form-urlencoded", b"action=%FF%FE", 400, "is not something"),
        ("application/x-www-form-urlencoded", b"action=\xff\xfe", 400, "not UTF-8"),
        ("application/x-www-form-urlencoded", b"action=" + b"a" * 20_000, 413, "over the limit"),
        ("application/json", b'{"action": "abort"}', 415, "is a form"),
        ("multipart/form-data; boundary=x", b"--x--", 415, "is a form"),
    ],
)
def test_a_job_page_form_that_asks_nothing_known_is_a_4xx(
    job_client: httpx.Client,
    documents: DocumentServer,
    content_type: str,
    body: bytes,
    status: int,
    words: str,
) -> None:
    """POST /jobs/{id} (the job page's abort and delete buttons): bad input names the problem,
    and the job is as it was."""
    alice = {"Authorization": "Basic " + base64.b64encode(b"alice:wonderland").decode()}
    url = documents.put("/limits/form.txt", b"form\n", "text/plain")
    job = job_client.post(
        "/jobs?profile=Fixity", content=url, headers={**alice, "Content-Type": "text/plain"}
    )
    assert job.status_code == 201, job.text
    before = wait_done(job_client, job.text, headers={"Accept": "text/turtle", **alice})
    r = job_client.post(
        job.text,
        content=body,
        headers={"Content-Type": content_type, "Accept": "text/plain", **alice},
    )
    assert r.status_code == status, r.text[:2000]
    assert words.lower() in r.text.lower(), r.text[:2000]
    after = job_client.get(job.text, headers={"Accept": "text/turtle", **alice})
    assert after.status_code == before.status_code == 303  # completed, and still there


def test_a_job_page_form_for_no_job_is_404(job_client: httpx.Client) -> None:
    r = job_client.post(
        "/jobs/no-such-job",
        content="action=delete",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/plain"},
    )
    assert r.status_code == 404, r.text


# --- Memento: Accept-Datetime and version numbers ----------------------------------------------


@pytest.fixture(scope="module")
def memento_job(job_client: httpx.Client, documents: DocumentServer) -> tuple[str, dict[str, str]]:
    """A completed job of alice's, and her credentials."""
    alice = {"Authorization": "Basic " + base64.b64encode(b"alice:wonderland").decode()}
    url = documents.put("/limits/memento.txt", b"as of\n", "text/plain")
    job = job_client.post(
        "/jobs?profile=Fixity", content=url, headers={**alice, "Content-Type": "text/plain"}
    )
    assert job.status_code == 201, job.text
    wait_done(job_client, job.text, headers={"Accept": "text/turtle", **alice})
    return job.text, alice


@pytest.mark.parametrize(
    "when",
    [
        "",
        "now",
        "2026-12-01T12:00:00Z",
        "Tue, 01 Dec 2026 12:00:00 +0000",
        "Tuesday, 01-Dec-26 12:00:00 GMT",
        "Tue Dec  1 12:00:00 2026",
        "Tue, 31 Feb 2026 12:00:00 GMT",
        "Tue, 01 Dec 2026 25:61:61 GMT",
        "Tue, 01 Dec 0000 12:00:00 GMT",
        "x" * 5000,
    ],
)
def test_an_accept_datetime_that_is_no_rfc_1123_date_is_400(
    job_client: httpx.Client, memento_job: tuple[str, dict[str, str]], when: str
) -> None:
    job, alice = memento_job
    r = job_client.get(job, headers={"Accept-Datetime": when, "Accept": "text/plain", **alice})
    assert r.status_code == 400, r.text[:500]
    assert "rfc 1123" in r.text.lower() or "no such time" in r.text.lower(), r.text[:500]
    assert len(r.text) < 2000  # a huge header is not echoed whole


@pytest.mark.parametrize(
    "number", ["0", "-1", "1.5", "01", "one", "1e3", "9" * 19, "%00", "1%202", " 1"]
)
def test_a_version_that_is_no_whole_number_is_400(
    job_client: httpx.Client, memento_job: tuple[str, dict[str, str]], number: str
) -> None:
    job, alice = memento_job
    r = job_client.get(f"{job}/versions/{number}", headers={"Accept": "text/plain", **alice})
    assert r.status_code == 400, r.text[:500]
    assert "whole number" in r.text, r.text[:500]


def test_a_version_or_timemap_the_job_has_not_is_404(
    job_client: httpx.Client, memento_job: tuple[str, dict[str, str]]
) -> None:
    job, alice = memento_job
    for path in ("/versions/999", "/versions/1.atom", "/timemap.xml", "/timemap.ttl"):
        r = job_client.get(f"{job}{path}", headers={"Accept": "text/plain", **alice})
        assert r.status_code == 404, (path, r.text[:500])
    r = job_client.get(f"{job}/timemap", headers={"Accept": "image/png", **alice})
    assert r.status_code == 406
    before = job_client.get(
        job, headers={"Accept-Datetime": "Mon, 01 Jan 1990 00:00:00 GMT", **alice}
    )
    assert before.status_code == 404 and "did not exist yet" in before.text


def test_a_producer_asked_with_a_bad_accept_datetime_is_400(client: httpx.Client) -> None:
    listed = client.get("/producers").json()["producers"]
    iri = listed[0]["producer"]
    for when in ("yesterday", "Tue, 01 Dec 2026 12:00:00 UTC", "x" * 3000):
        r = client.get(iri, headers={"Accept-Datetime": when, "Accept": "text/plain"})
        assert r.status_code == 400, r.text[:500]
        assert "rfc 1123" in r.text.lower()
    assert client.get(f"{iri}/timemap", params={"page": "0"}).status_code == 400
    assert client.get(f"{iri}/timemap", params={"page": "999"}).status_code == 404
