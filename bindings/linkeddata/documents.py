"""The vocabulary and the shapes, dereferenceable: /vocab, /vocab/{term}, /vocab/status/…, /shapes.

They are read from the package's own .ttl files (never from the store), parsed
once. Every RDF format by negotiation or extension (Turtle by default), HTML
for browsers.

A term's IRI (`https://w3id.org/jobtrail/vocab#Job`) is the name of the term;
`/vocab/Job` is a document describing it. The response says so with
`Link: <https://w3id.org/jobtrail/vocab#Job>; rel="describes"` (RFC 6892), the
RDF with `<…/vocab/Job> foaf:primaryTopic jt:Job` and `jt:Job rdfs:isDefinedBy
<https://w3id.org/jobtrail/vocab>`, and the HTML page in words.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from html import escape
from importlib.resources import files
from urllib.parse import quote

import pyoxigraph as ox
from jobtrail.base import nt
from jobtrail.base.errors import NotFound
from jobtrail.shapes import shapes_turtle
from jobtrail.web import conneg, html, render
from jobtrail.web.resources import respond
from jobtrail.web.state import AppRequest
from jobtrail.web.vocabpaths import JT, SHAPES, STATUS, VOCAB, local_href
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
SH = "http://www.w3.org/ns/shacl#"
FOAF_PRIMARY_TOPIC = ox.NamedNode("http://xmlns.com/foaf/0.1/primaryTopic")

TYPE = ox.NamedNode(RDF + "type")
LABEL = ox.NamedNode(RDFS + "label")
COMMENT = ox.NamedNode(RDFS + "comment")
IS_DEFINED_BY = ox.NamedNode(RDFS + "isDefinedBy")
IN_SCHEME = ox.NamedNode(SKOS + "inScheme")

FORMATS: tuple[conneg.Format, ...] = (*conneg.RDF_FORMATS, conneg.HTML)

Subject = ox.NamedNode | ox.BlankNode
SHAPES_INDEX = "shapes"  # which index `_cell` reads a blank node from


def _parse(text: str) -> tuple[ox.Triple, ...]:
    return tuple(q.triple for q in ox.parse(text, format=ox.RdfFormat.TURTLE))


@cache
def vocab_triples() -> tuple[ox.Triple, ...]:
    """The ontology and the status schemes, from vocab/jobtrail.ttl and vocab/status.ttl."""
    package = files("jobtrail.vocab")
    seen: dict[ox.Triple, None] = {}
    for name in ("jobtrail.ttl", "status.ttl"):
        for t in _parse(package.joinpath(name).read_text("utf-8")):
            seen.setdefault(t, None)
    return tuple(seen)


@cache
def shape_triples() -> tuple[ox.Triple, ...]:
    return _parse(shapes_turtle())


@cache
def _by_subject(which: str) -> dict[Subject, tuple[ox.Triple, ...]]:
    triples = vocab_triples() if which == "vocab" else shape_triples()
    index: dict[Subject, list[ox.Triple]] = {}
    for t in triples:
        assert not isinstance(t.subject, ox.Triple)
        index.setdefault(t.subject, []).append(t)
    return {s: tuple(ts) for s, ts in index.items()}


def _cbd(subjects: Iterable[Subject], which: str = "vocab") -> list[ox.Triple]:
    """The concise bounded description of the subjects: their triples and their blank nodes'."""
    index = _by_subject(which)
    out: list[ox.Triple] = []
    seen: set[Subject] = set()
    todo = list(subjects)
    while todo:
        s = todo.pop(0)
        if s in seen:
            continue
        seen.add(s)
        for t in index.get(s, ()):
            out.append(t)
            if isinstance(t.object, ox.BlankNode):
                todo.append(t.object)
    return out


@cache
def vocab_terms() -> tuple[str, ...]:
    """The local names of every jt: term the vocabulary describes."""
    return tuple(
        sorted(
            s.value[len(JT) :]
            for s in _by_subject("vocab")
            if isinstance(s, ox.NamedNode) and s.value.startswith(JT)
        )
    )


# ------------------------------------------------------------------ links


FIRST, REST, NIL = (ox.NamedNode(RDF + n) for n in ("first", "rest", "nil"))


def _rdf_list(node: ox.BlankNode, which: str) -> list[ox.NamedNode | ox.BlankNode | ox.Literal]:
    """The members of the RDF list `node` heads (a chain of blank nodes), or [] if it
    heads none; a chain that loops or branches is read up to where it does."""
    index = _by_subject(which)
    members: list[ox.NamedNode | ox.BlankNode | ox.Literal] = []
    seen: set[ox.BlankNode] = set()
    current: object = node
    while isinstance(current, ox.BlankNode) and current not in seen:
        seen.add(current)
        facts = index.get(current, ())
        first = [t.object for t in facts if t.predicate == FIRST]
        rest = [t.object for t in facts if t.predicate == REST]
        if len(first) != 1 or len(rest) != 1 or isinstance(first[0], ox.Triple):
            break
        members.append(first[0])
        current = rest[0]
    return members if current == NIL else []


def _cell(
    t: ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple, base: str, which: str = "vocab"
) -> str:
    """A term as HTML: our own terms linked to their pages here, an RDF list (`sh:in`) as
    its members, another blank node as what it says."""
    if isinstance(t, ox.NamedNode):
        text = html.short(t.value)
        if t.value.startswith(STATUS):  # a scheme's concept: its scheme and name
            text = "status:" + t.value[len(STATUS) :]
        return html.link(local_href(t.value), text)
    if isinstance(t, ox.BlankNode):
        members = _rdf_list(t, which)
        if members:
            return (
                "<span class=rdf-list>"
                + ", ".join(_cell(m, base, which) for m in members)
                + "</span>"
            )
        facts = _by_subject(which).get(t, ())
        if facts and len(facts) <= 8:
            inner = "; ".join(
                f"{escape(html.short(f.predicate.value))} "
                + (
                    _cell(f.object, base, which)
                    if not isinstance(f.object, ox.BlankNode)
                    else "[…]"
                )
                for f in facts
            )
            return f"[ {inner} ]"
    return html.term(t, base)


def _value(subject: Subject, predicate: ox.NamedNode, which: str = "vocab") -> str:
    """The first value (an English one if any) of a property: labels and comments."""
    values = [
        t.object
        for t in _by_subject(which).get(subject, ())
        if t.predicate == predicate and isinstance(t.object, ox.Literal)
    ]
    values.sort(key=lambda v: (v.language not in ("en", None), v.value))
    return values[0].value if values else ""


def _objects(
    subject: Subject, predicate: ox.NamedNode, which: str = "vocab"
) -> list[ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple]:
    return [t.object for t in _by_subject(which).get(subject, ()) if t.predicate == predicate]


def _links_header(response: Response, target: str, rel: str) -> Response:
    link = f'<{target}>; rel="{rel}"'
    existing = response.headers.get("link")
    response.headers["Link"] = f"{existing}, {link}" if existing else link
    return response


def _answer(
    request: AppRequest,
    triples: Sequence[ox.Triple],
    *,
    path: str,
    chosen: conneg.Format | None,
    describes: str,
    page: Callable[[], str],
) -> Response:
    fmt = chosen or conneg.negotiate(request.headers.get("accept"), FORMATS, conneg.TURTLE)
    base: str = request.state["engine"].config.base_url
    body = page().encode("utf-8") if fmt is conneg.HTML else render.rdf(triples, fmt, base=base)
    response = respond(request, body, fmt, path=path, formats=FORMATS, negotiated=chosen is None)
    return _links_header(response, describes, "describes")


def _split(request: AppRequest, expected: str | None = None) -> tuple[str, conneg.Format | None]:
    """The path without its extension and the format it chooses; 404 for an unknown extension."""
    path, chosen = conneg.split_extension(request.url.path)
    if expected is not None and path != expected:
        raise NotFound(
            f"no document at {request.url.path}",
            hint=f"{expected} is offered as "
            + ", ".join(f"{expected}{f.extension}" for f in FORMATS if f.extension),
        )
    return path, chosen


# ------------------------------------------------------------------ /vocab


def _kinds() -> dict[str, list[ox.NamedNode]]:
    classes, properties, schemes, others = [], [], [], []
    for s, ts in _by_subject("vocab").items():
        if not isinstance(s, ox.NamedNode):
            continue
        types = {
            t.object.value for t in ts if t.predicate == TYPE and isinstance(t.object, ox.NamedNode)
        }
        if types & {OWL + "Class", RDFS + "Class"}:
            classes.append(s)
        elif any(x.endswith("Property") for x in types):
            properties.append(s)
        elif SKOS + "ConceptScheme" in types:
            schemes.append(s)
        elif s.value.startswith(JT):
            others.append(s)
    key = lambda n: n.value.lower()  # noqa: E731
    return {
        "classes": sorted(classes, key=key),
        "properties": sorted(properties, key=key),
        "schemes": sorted(schemes, key=key),
        "others": sorted(others, key=key),
    }


def _term_table(terms: Sequence[ox.NamedNode], extra: Sequence[tuple[str, str]], base: str) -> str:
    head = (
        "<tr><th>term</th><th>label</th><th>comment</th>"
        + "".join(f"<th>{escape(h)}</th>" for h, _ in extra)
        + "</tr>"
    )
    rows = []
    for n in terms:
        cells = [
            _cell(n, base),
            escape(_value(n, LABEL)),
            escape(_value(n, COMMENT)),
            *(", ".join(_cell(o, base) for o in _objects(n, ox.NamedNode(p))) for _, p in extra),
        ]
        rows.append(
            f'<tr id="{escape(n.value.rpartition("#")[2])}">'
            + "".join(f"<td>{c}</td>" for c in cells)
            + "</tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def _vocab_page(path: str, base: str) -> str:
    head, nav = html.alternates(path, FORMATS)
    kinds = _kinds()
    ontology = ox.NamedNode(VOCAB)
    schemes = "".join(
        f"<li>{_cell(s, base)} — {escape(_value(s, ox.NamedNode(SKOS + 'prefLabel')))}</li>"
        for s in kinds["schemes"]
    )
    body = (
        f"<h1>{escape(_value(ontology, LABEL) or 'jobtrail vocabulary')}</h1>{nav}"
        f"<p>{escape(_value(ontology, COMMENT))}</p>"
        f"<p>This document describes the vocabulary <code>{escape(VOCAB)}</code>; its terms "
        f"are named <code>{escape(JT)}Name</code>, and <code>/vocab/Name</code> on this server "
        "describes each one.</p>"
        f"<h2>Classes ({len(kinds['classes'])})</h2>"
        + _term_table(kinds["classes"], [("subclass of", RDFS + "subClassOf")], base)
        + f"<h2>Properties ({len(kinds['properties'])})</h2>"
        + _term_table(
            kinds["properties"], [("domain", RDFS + "domain"), ("range", RDFS + "range")], base
        )
        + (
            f"<h2>Other terms ({len(kinds['others'])})</h2>"
            + _term_table(kinds["others"], [], base)
            if kinds["others"]
            else ""
        )
        + f"<h2>Status schemes ({len(kinds['schemes'])})</h2><ul>{schemes}</ul>"
    )
    return html.page("vocabulary", body, head=head)


async def vocab(request: AppRequest) -> Response:
    """The jobtrail vocabulary: the ontology and the status schemes."""
    path, chosen = _split(request, "/vocab")
    base: str = request.state["engine"].config.base_url
    return _answer(
        request,
        vocab_triples(),
        path=path,
        chosen=chosen,
        describes=VOCAB,
        page=lambda: _vocab_page(path, base),
    )


def _links(terms: Iterable[ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple], base: str) -> str:
    return ", ".join(_cell(t, base) for t in sorted(set(terms), key=str)) or "—"


def _subjects_with(predicate: str, value: ox.NamedNode) -> list[ox.NamedNode]:
    """The vocabulary's named terms that have `value` for `predicate`."""
    node = ox.NamedNode(predicate)
    return sorted(
        {
            t.subject
            for t in vocab_triples()
            if t.predicate == node and t.object == value and isinstance(t.subject, ox.NamedNode)
        },
        key=lambda n: n.value.lower(),
    )


def _shapes_using(term: ox.NamedNode) -> dict[str, list[str]]:
    """The node shapes that target the term, check it as a property's class, or constrain it
    as a property's path: shape name → how."""
    index = _by_subject(SHAPES_INDEX)
    found: dict[str, list[str]] = {}
    sh_property = ox.NamedNode(SH + "property")
    for shape, facts in index.items():
        if not isinstance(shape, ox.NamedNode):
            continue
        name = shape.value.rpartition("#")[2]
        if any(t.predicate == ox.NamedNode(SH + "targetClass") and t.object == term for t in facts):
            found.setdefault(name, []).append("targets it")
        for p in (t.object for t in facts if t.predicate == sh_property):
            if not isinstance(p, ox.NamedNode | ox.BlankNode):
                continue
            for t in index.get(p, ()):
                if t.object != term:
                    continue
                if t.predicate == ox.NamedNode(SH + "path"):
                    found.setdefault(name, []).append("constrains it")
                elif t.predicate == ox.NamedNode(SH + "class"):
                    found.setdefault(name, []).append("expects it as a value's class")
    return found


def _summary(iri: str, base: str) -> str:
    """What a person wants first: the term's label and comment, its domain and range, the
    terms around it, where the shapes use it; a scheme's members, a concept's scheme."""
    node = ox.NamedNode(iri)
    rows: list[tuple[str, str]] = []
    types = _objects(node, TYPE)
    if types:
        rows.append(("is a", _links(types, base)))
    for name, predicate in (
        ("domain", RDFS + "domain"),
        ("range", RDFS + "range"),
        ("subclass of", RDFS + "subClassOf"),
        ("subproperty of", RDFS + "subPropertyOf"),
        ("in scheme", SKOS + "inScheme"),
        ("notation", SKOS + "notation"),
    ):
        if values := _objects(node, ox.NamedNode(predicate)):
            rows.append((name, _links(values, base)))
    for name, predicate in (
        ("subclasses", RDFS + "subClassOf"),
        ("subproperties", RDFS + "subPropertyOf"),
        ("properties with this domain", RDFS + "domain"),
        ("properties with this range", RDFS + "range"),
        ("members", SKOS + "inScheme"),
    ):
        if users := _subjects_with(predicate, node):
            rows.append((name, _links(users, base)))
    used = _shapes_using(node)
    if used:
        shapes = [
            html.link("/shapes#" + quote(n, safe=""), n) + f" ({', '.join(sorted(set(how)))})"
            for n, how in sorted(used.items())
        ]
        rows.append(("used by the shapes", "; ".join(shapes)))
    label = _value(node, LABEL) or _value(node, ox.NamedNode(SKOS + "prefLabel"))
    comment = _value(node, COMMENT) or _value(node, ox.NamedNode(SKOS + "definition"))
    table = "".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return (
        f"<section class=term-summary><p><b>{escape(label or html.short(iri))}</b>"
        + (f" — {escape(comment)}" if comment else "")
        + f"</p><table>{table}</table></section>"
    )


def _description_page(
    iri: str, path: str, triples: Sequence[ox.Triple], base: str, intro: str
) -> str:
    head, nav = html.alternates(path, FORMATS)
    by_subject: dict[str, list[ox.Triple]] = {}
    for t in triples:
        by_subject.setdefault(str(t.subject), []).append(t)
    main = f"<h1>{escape(html.short(iri))}</h1>{nav}{_summary(iri, base)}<p>{intro}</p>"
    main += "<h2>Every statement</h2>"
    for s in sorted(by_subject, key=lambda s: (s != f"<{iri}>", s)):
        rows = "".join(
            f"<tr><th>{_cell(t.predicate, base)}</th><td>{_cell(t.object, base)}</td></tr>"
            for t in sorted(by_subject[s], key=lambda t: (t.predicate.value, str(t.object)))
        )
        main += f"<h2>{_cell(by_subject[s][0].subject, base)}</h2><table>{rows}</table>"
    return html.page(html.short(iri), main, head=head)


async def vocab_term(request: AppRequest) -> Response:
    """One term of the vocabulary (or a status scheme or concept): its description."""
    path, chosen = _split(request)
    name = path.removeprefix("/vocab/").strip("/")
    base: str = request.state["engine"].config.base_url
    if nt.checked_iri(JT + name) is None:  # `<`, a space: no term has such a name
        raise _unknown(name)
    if name == "status" or name.startswith("status/"):
        rest = name.removeprefix("status").strip("/")
        iri = STATUS + rest if rest else STATUS.rstrip("/")
        subjects = _status_subjects(iri)
    else:
        iri = JT + name
        subjects = [ox.NamedNode(iri)] if ox.NamedNode(iri) in _by_subject("vocab") else []
    if not subjects:
        raise _unknown(name)
    triples = _cbd(subjects)
    document = base.rstrip("/") + path
    subject = ox.NamedNode(iri)
    triples.append(ox.Triple(ox.NamedNode(document), FOAF_PRIMARY_TOPIC, subject))
    if iri.startswith(JT) and not any(
        t.predicate == IS_DEFINED_BY and t.subject == subject for t in triples
    ):
        triples.append(ox.Triple(subject, IS_DEFINED_BY, ox.NamedNode(VOCAB)))
    intro = (
        f"This page, <code>{escape(document)}</code>, describes the term "
        f"<code>{escape(iri)}</code>: the IRI names the term, this "
        f'document is about it (<code>Link: &lt;{escape(iri)}&gt;; rel="describes"</code>, '
        "and <code>foaf:primaryTopic</code> in every RDF format). "
        f'The whole vocabulary is at <a href="/vocab">/vocab</a>.'
    )
    return _answer(
        request,
        triples,
        path=path,
        chosen=chosen,
        describes=iri,
        page=lambda: _description_page(iri, path, triples, base, intro),
    )


def _status_subjects(iri: str) -> list[Subject]:
    index = _by_subject("vocab")
    if iri == STATUS.rstrip("/"):  # every scheme and concept
        return [s for s in index if isinstance(s, ox.NamedNode) and s.value.startswith(STATUS)]
    node = ox.NamedNode(iri)
    if node not in index:
        return []
    members = [t.subject for t in vocab_triples() if t.predicate == IN_SCHEME and t.object == node]
    return [node, *(m for m in members if not isinstance(m, ox.Triple))]


def _unknown(name: str) -> NotFound:
    terms = vocab_terms()
    close = difflib.get_close_matches(name, terms, n=3, cutoff=0.6)
    hint = "every term is listed at /vocab (/vocab.html in a browser); a term is at /vocab/{Name}"
    if close:
        hint = "did you mean " + ", ".join(f"/vocab/{c}" for c in close) + "? " + hint
    return NotFound(
        f"the vocabulary has no term {name!r}",
        hint=hint,
        details={"vocabulary": "/vocab", "terms": list(terms)},
    )


# ------------------------------------------------------------------ /shapes


def _shapes_page(path: str, base: str) -> str:
    head, nav = html.alternates(path, FORMATS)
    index = _by_subject(SHAPES_INDEX)
    node_shapes = sorted(
        (
            s
            for s, ts in index.items()
            if any(t.predicate == TYPE and t.object == ox.NamedNode(SH + "NodeShape") for t in ts)
        ),
        key=lambda s: str(s),
    )
    main = (
        f"<h1>SHACL shapes</h1>{nav}<p>The shapes every stored resource is checked against: "
        "a violation rejects the data, a warning is stored with it.</p>"
    )

    def cell(t: ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple) -> str:
        return _cell(t, base, SHAPES_INDEX)

    skip = {ox.NamedNode(SH + "property"), TYPE}
    sh_path = ox.NamedNode(SH + "path")
    for shape in node_shapes:
        rows = "".join(
            f"<tr><th>{cell(t.predicate)}</th><td>{cell(t.object)}</td></tr>"
            for t in index[shape]
            if t.predicate not in skip
        )
        props = []
        for p in _objects(shape, ox.NamedNode(SH + "property"), SHAPES_INDEX):
            if not isinstance(p, ox.NamedNode | ox.BlankNode):
                continue
            pts = index.get(p, ())
            path_cell = ", ".join(cell(t.object) for t in pts if t.predicate == sh_path)
            rest = "; ".join(
                f"{escape(html.short(t.predicate.value))} {cell(t.object)}"
                for t in sorted(pts, key=lambda t: t.predicate.value)
                if t.predicate != sh_path
            )
            props.append(f"<tr><td>{path_cell}</td><td>{rest}</td></tr>")
        name = shape.value if isinstance(shape, ox.NamedNode) else str(shape)
        main += (
            f'<h2 id="{escape(name.rpartition("#")[2])}">{escape(name.rpartition("#")[2])} '
            f"<span class=muted>{escape(name)}</span></h2>"
            f"<table>{rows}</table>"
        )
        if props:
            main += f"<table><tr><th>path</th><th>constraints</th></tr>{''.join(props)}</table>"
    return html.page("shapes", main, head=head)


async def shapes(request: AppRequest) -> Response:
    """The SHACL shapes every stored resource is validated against."""
    path, chosen = _split(request, "/shapes")
    base: str = request.state["engine"].config.base_url
    return _answer(
        request,
        shape_triples(),
        path=path,
        chosen=chosen,
        describes=SHAPES,
        page=lambda: _shapes_page(path, base),
    )


def routes() -> list[BaseRoute]:
    """The routes, to put before the catch-all dereferencing route."""
    methods = ["GET", "HEAD"]
    return [
        Route("/vocab", vocab, methods=methods),
        Route("/vocab.{ext}", vocab, methods=methods),
        Route("/vocab/{term:path}", vocab_term, methods=methods),
        Route("/shapes", shapes, methods=methods),
        Route("/shapes.{ext}", shapes, methods=methods),
    ]
