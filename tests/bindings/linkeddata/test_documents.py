"""Dereferenceable vocabulary and shapes: /vocab, /vocab/{term}, /vocab/status/…, /shapes."""

from __future__ import annotations

import httpx
import lxml.html
import pyoxigraph as ox
import pytest
import rdflib
from jobtrail.bindings.linkeddata import documents
from jobtrail.web import conneg
from rdflib.namespace import OWL, RDF, RDFS, SH, SKOS

JT = rdflib.Namespace("https://w3id.org/jobtrail/vocab#")
VOCAB = rdflib.URIRef("https://w3id.org/jobtrail/vocab")
UWS = rdflib.Namespace("https://w3id.org/jobtrail/status/uws/")

FORMATS = (conneg.TURTLE, conneg.JSONLD, conneg.RDFXML, conneg.NTRIPLES, conneg.N3, conneg.TRIG)
RDFLIB = {"turtle": "turtle", "jsonld": "json-ld", "rdfxml": "xml", "ntriples": "nt", "n3": "n3"}
RDFLIB.update({"nquads": "nquads", "trig": "trig"})


def expected(path: str, graph: rdflib.Graph) -> None:
    """What each document must hold, whatever the format."""
    if path == "/vocab":
        assert (VOCAB, RDF.type, OWL.Ontology) in graph
        assert (JT.Job, RDFS.label, rdflib.Literal("Job", lang="en")) in graph
        assert (UWS.PENDING, SKOS.notation, rdflib.Literal("PENDING")) in graph
    elif path == "/vocab/Job":
        assert (JT.Job, RDF.type, OWL.Class) in graph
        assert (JT.Job, RDFS.label, rdflib.Literal("Job", lang="en")) in graph
        assert (JT.Job, RDFS.isDefinedBy, VOCAB) in graph
        assert set(graph.subjects()) <= {JT.Job} | set(graph.subjects(None, JT.Job))
        assert len(graph) < 20
    elif path == "/shapes":
        shapes = set(graph.subjects(RDF.type, SH.NodeShape))
        assert len(shapes) >= 3
        assert JT.Message in set(graph.objects(None, SH.targetClass))
    else:  # pragma: no cover
        raise AssertionError(path)


PATHS = ("/vocab", "/vocab/Job", "/shapes")


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.key)
def test_every_format_by_accept_and_extension(served: str, path: str, fmt: conneg.Format) -> None:
    url = served.rstrip("/") + path
    by_accept = httpx.get(url, headers={"Accept": fmt.media_type})
    by_extension = httpx.get(url + str(fmt.extension))
    assert by_accept.status_code == by_extension.status_code == 200
    assert by_accept.headers["content-type"].startswith(fmt.media_type)
    assert by_accept.headers["vary"] == "Accept"
    assert by_accept.content == by_extension.content
    graph = rdflib.Dataset() if fmt is conneg.TRIG else rdflib.Graph()
    graph.parse(data=by_accept.content, format=RDFLIB[fmt.key], publicID=url)
    if isinstance(graph, rdflib.Dataset):
        merged = rdflib.Graph()
        for s, p, o, _ in graph.quads((None, None, None, None)):
            merged.add((s, p, o))
        graph = merged
    expected(path, graph)
    # and Oxigraph's parser reads the same bytes (its JSON-LD parser would have to fetch the
    # context, which it cannot: the N-Triples of the same document stand in for it)
    data = by_accept.content
    media_type = fmt.media_type
    if fmt is conneg.JSONLD:
        data, media_type = httpx.get(url + ".nt").content, "application/n-triples"
    oxi = list(ox.parse(data, format=ox.RdfFormat.from_media_type(media_type)))
    assert len(oxi) == len(graph)


@pytest.mark.parametrize("path", PATHS)
def test_rdflib_dereferences_by_conneg(served: str, path: str) -> None:
    graph = rdflib.Graph().parse(served.rstrip("/") + path)
    expected(path, graph)


def test_turtle_is_the_default(served: str) -> None:
    for accept in (None, "*/*"):
        headers = {"Accept": accept} if accept else {}
        r = httpx.get(served + "vocab", headers=headers)
        assert r.headers["content-type"].startswith("text/turtle")


def test_the_vocabulary_comes_from_the_files_not_the_store(served: str) -> None:
    turtle = httpx.get(served + "vocab.nt").text
    graph = rdflib.Graph().parse(data=turtle, format="nt")
    files = rdflib.Graph()
    for t in documents.vocab_triples():
        files.parse(data=ox.serialize([t], format=ox.RdfFormat.N_TRIPLES), format="nt")
    assert len(graph) == len(files)


def test_term_document_says_what_it_describes(served: str) -> None:
    url = served + "vocab/Job"
    r = httpx.get(url)
    assert '<https://w3id.org/jobtrail/vocab#Job>; rel="describes"' in r.headers["link"]
    graph = rdflib.Graph().parse(data=r.content, format="turtle")
    topic = rdflib.URIRef("http://xmlns.com/foaf/0.1/primaryTopic")
    assert (rdflib.URIRef(url), topic, JT.Job) in graph
    page = httpx.get(url, headers={"Accept": "text/html"}).text
    assert "https://w3id.org/jobtrail/vocab#Job" in page and "describes" in page
    whole = httpx.get(served + "vocab")
    assert '<https://w3id.org/jobtrail/vocab>; rel="describes"' in whole.headers["link"]


def test_vocab_html_lists_every_class_and_property(served: str) -> None:
    r = httpx.get(served + "vocab", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    graph = rdflib.Graph().parse(data=httpx.get(served + "vocab.ttl").text, format="turtle")
    kinds = (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty)
    terms = {s for k in kinds for s in graph.subjects(RDF.type, k) if str(s).startswith(str(JT))}
    assert len(terms) > 40
    for term in terms:
        name = str(term)[len(str(JT)) :]
        assert f'href="/vocab/{name}"' in page, name
        label = graph.value(term, RDFS.label)
        if label is not None:
            assert str(label).replace("&", "&amp;") in page, name
    assert 'type="text/turtle" href="/vocab.ttl"' in page


def test_shapes_html(served: str) -> None:
    page = httpx.get(served + "shapes.html").text
    assert "SHACL shapes" in page and 'id="Message"' in page and "sh:minCount" in page


def test_status_schemes_and_concepts(served: str) -> None:
    scheme = rdflib.Graph().parse(data=httpx.get(served + "vocab/status/uws.ttl").text)
    assert (UWS.EXECUTING, SKOS.inScheme, rdflib.URIRef(str(UWS).rstrip("/"))) in scheme
    concept = httpx.get(served + "vocab/status/uws/PENDING.nt")
    assert concept.status_code == 200
    g = rdflib.Graph().parse(data=concept.text, format="nt")
    assert (UWS.PENDING, SKOS.notation, rdflib.Literal("PENDING")) in g
    assert httpx.get(served + "vocab/status").status_code == 200
    assert httpx.get(served + "vocab/status/nope").status_code == 404


def test_unknown_term_is_404_saying_how_to_find_terms(served: str) -> None:
    r = httpx.get(served + "vocab/Jobb", headers={"Accept": "application/problem+json"})
    assert r.status_code == 404
    problem = r.json()
    assert "/vocab/Job" in problem["hint"] and "/vocab" in problem["hint"]
    assert "Job" in problem["terms"] and "Message" in problem["terms"]
    text = httpx.get(served + "vocab/NoSuchThing").text
    assert "every term is listed at /vocab" in text
    assert httpx.get(served + "vocab.xyz").status_code == 404
    assert httpx.get(served + "shapes.xyz").status_code == 404


def test_not_acceptable(served: str) -> None:
    r = httpx.get(served + "vocab", headers={"Accept": "image/png"})
    assert r.status_code == 406


@pytest.mark.parametrize("path", ["vocab", "vocab/Job", "shapes", "vocab.html"])
def test_head_etag_and_conditional_get(served: str, path: str) -> None:
    r = httpx.get(served + path)
    head = httpx.head(served + path)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == r.headers["etag"]
    assert head.headers["content-length"] == str(len(r.content))
    again = httpx.get(served + path, headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    other = httpx.get(served + path, headers={"If-None-Match": '"other"'})
    assert other.status_code == 200


# --- our own terms resolve here, and read as a person wants them --------------------------------

OURS = tuple(f"https://w3id.org/jobtrail/{n}" for n in ("vocab", "status", "shapes"))


def _page(served: str, path: str) -> lxml.html.HtmlElement:
    r = httpx.get(served + path.lstrip("/"), headers={"Accept": "text/html"}, timeout=30)
    assert r.status_code == 200, (path, r.text[:300])
    return lxml.html.fromstring(r.text)


def _first_message(served: str) -> str:
    feed = rdflib.Graph().parse(
        data=httpx.get(served + "messages.ttl?size=50").text, format="turtle"
    )
    messages = sorted(str(s) for s in feed.subjects(RDF.type, JT.Message))
    return next(m for m in messages if "/messages/" in m)


def test_links_to_our_terms_resolve_on_this_server(served: str) -> None:
    """On the vocabulary, shapes, term and message pages, every link to one of our terms is
    to its page here (never w3id.org), and each of those pages answers."""
    message = _first_message(served)
    pages = ["/vocab", "/shapes", "/vocab/Job", "/vocab/parameterSet", "/vocab/status/uws"]
    pages.append(message.removeprefix(served.rstrip("/")))
    local: set[str] = set()
    for path in pages:
        doc = _page(served, path)
        hrefs = [a.get("href") for a in doc.iter("a")]
        off_site = [h for h in hrefs if h.startswith(OURS)]
        assert not off_site, (path, off_site[:5])
        local |= {h for h in hrefs if h.startswith(("/vocab/", "/shapes#"))}
    assert "/vocab/Message" in local and "/vocab/status/uws/PENDING" in local
    shapes = {e.get("id") for e in _page(served, "/shapes").iter() if e.get("id")}
    for href in sorted(local):
        if href.startswith("/shapes#"):
            assert href.removeprefix("/shapes#") in shapes, href
        else:
            assert httpx.get(served + href.lstrip("/"), timeout=30).status_code == 200, href


def test_a_term_page_says_label_domain_range_and_where_it_is_used(served: str) -> None:
    doc = _page(served, "/vocab/parameterSet")
    summary = doc.xpath("//section[@class='term-summary']")[0]
    rows = {tr.findtext("th"): [a.get("href") for a in tr.iter("a")] for tr in summary.iter("tr")}
    assert "parameter set" in summary.text_content()
    assert rows["domain"] == ["/vocab/Message"] and rows["range"] == ["/vocab/ParameterSet"]
    assert "/shapes#TREMessage" in rows["used by the shapes"]
    job = _page(served, "/vocab/Job").xpath("//section[@class='term-summary']")[0]
    rows = {tr.findtext("th"): [a.get("href") for a in tr.iter("a")] for tr in job.iter("tr")}
    assert "/vocab/phase" in rows["properties with this domain"]
    assert "/vocab/AmeJob" in rows["subclasses"]
    scheme = _page(served, "/vocab/status/uws").xpath("//section[@class='term-summary']")[0]
    rows = {tr.findtext("th"): [a.get("href") for a in tr.iter("a")] for tr in scheme.iter("tr")}
    assert "/vocab/status/uws/EXECUTING" in rows["members"] and len(rows["members"]) >= 8
    concept = _page(served, "/vocab/status/uws/PENDING").xpath("//section")[0]
    rows = {tr.findtext("th"): [a.get("href") for a in tr.iter("a")] for tr in concept.iter("tr")}
    assert rows["in scheme"] == ["/vocab/status/uws"]


def test_sh_in_lists_read_as_their_values(served: str) -> None:
    page = httpx.get(served + "shapes.html").text
    doc = lxml.html.fromstring(page)
    lists = [e.text_content() for e in doc.xpath("//span[@class='rdf-list']")]
    assert any(v.startswith("NEW, QUEUED, RUNNING") and "Canceled" in v for v in lists), lists
    assert "_:" not in doc.text_content() and "rdf:first" not in page
