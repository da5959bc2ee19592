"""A job and its results as documents: the job's description, and the OAI-ORE resource map.

The resource map (ReM) of a completed job is `/jobs/{id}.{ext}`, one per
format, each `ore:describes` the aggregation `/jobs/{id}/results` (ORE 1.0
Abstract Data Model: every serialisation is a resource map of its own, and
the aggregation `ore:isDescribedBy` each of them). In Atom it follows ORE
1.0's Atom serialisation (not the 2008 betas' feed of one entry per file):
one `atom:entry` is the map, its `ore:describes` link names the aggregation
and its `ore:aggregates` links the files, with their type, title and length;
`oreatom:triples` says the rest (checksums, expiry, provenance).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import datetime
from html import escape

import pyoxigraph as ox
from jobtrail.base.terms import DCTERMS, JT, ORE
from jobtrail.jobs.core import Job
from jobtrail.web import atom, conneg, html, render

DOCUMENT_FORMATS: tuple[conneg.Format, ...] = (
    conneg.ATOM,
    conneg.RDFXML,
    conneg.N3,
    conneg.TURTLE,
    conneg.JSONLD,
    conneg.NTRIPLES,
    conneg.HTML,
)
"""What a job and its resource map are offered in; Atom is the default."""

_ORE_NS = str(ORE)
ORE_DESCRIBES = f"{_ORE_NS}describes"
ORE_AGGREGATES = f"{_ORE_NS}aggregates"
ORE_ATOM = "http://www.openarchives.org/ore/atom/"
"""The namespace of ORE 1.0's `oreatom:triples` element."""
_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
for _prefix, _uri in (
    ("ore", _ORE_NS),
    ("oreatom", ORE_ATOM),
    ("rdf", _RDF),
    ("dcterms", str(DCTERMS)),
    ("jt", str(JT)),
):
    ET.register_namespace(_prefix, _uri)


def _n(iri: str) -> ox.NamedNode:
    return ox.NamedNode(iri)


def _literal(when: datetime) -> ox.Literal:
    text = when.isoformat().replace("+00:00", "Z")
    return ox.Literal(text, datatype=_n("http://www.w3.org/2001/XMLSchema#dateTime"))


def _values(triples: Sequence[ox.Triple], subject: str, predicate: str) -> list[str]:
    return [
        t.object.value
        for t in triples
        if t.subject == _n(subject) and t.predicate == _n(predicate)
        if not isinstance(t.object, ox.Triple)
    ]


# --- the job's description ------------------------------------------------------


def job_entry(job: Job, state: Sequence[ox.Triple]) -> atom.Entry:
    """The job as an Atom entry: its phase as a category, its formats as alternate links."""
    links = [atom.Link(job.iri, "self", "application/atom+xml")]
    links += [
        atom.Link(f"{job.iri}{f.extension}", "alternate", f.media_type)
        for f in DOCUMENT_FORMATS
        if f.extension and f is not conneg.ATOM and job.phase == "COMPLETED"
    ]
    if job.input:
        links.append(atom.Link(job.input, "related", title="input"))
    summary = f"{job.profile} job, {job.phase}"
    if job.error is not None:
        summary += f": {job.error.message}"
    return atom.Entry(
        id=job.iri,
        title=f"Job {job.id} ({job.profile})",
        updated=job.modified,
        published=job.created,
        links=links,
        authors=[atom.Person(job.owner or "anonymous")],
        categories=[
            atom.Category(f"https://w3id.org/jobtrail/status/uws/{job.phase}", label=job.phase)
        ],
        summary=summary,
    )


def job_document(
    job: Job, state: Sequence[ox.Triple], fmt: conneg.Format, *, path: str, base: str
) -> bytes:
    if fmt is conneg.ATOM:
        return atom.write(job_entry(job, state))
    if fmt is conneg.HTML:
        return html.resource(job.iri, path, state, [], base, DOCUMENT_FORMATS).encode()
    return render.rdf(state, fmt, graph=job.iri, base=base)


# --- the resource map ------------------------------------------------------------


def resource_map(
    job: Job,
    aggregation: Sequence[ox.Triple],
    fmt: conneg.Format,
    *,
    base: str,
) -> bytes:
    assert job.results is not None
    rem = f"{job.iri}{fmt.extension}"
    if fmt is conneg.ATOM:
        return _atom(job, aggregation, rem)
    triples = list(aggregation) + _rem_triples(job, rem)
    if fmt is conneg.HTML:
        return _html(job, triples, rem, base)
    return render.rdf(triples, fmt, graph=job.results, base=base)


def _rem_triples(job: Job, rem: str) -> list[ox.Triple]:
    assert job.results is not None
    agg = _n(job.results)
    out = [
        ox.Triple(_n(rem), _n(ORE_DESCRIBES), agg),
        ox.Triple(
            _n(rem),
            _n("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"),
            _n(f"{_ORE_NS}ResourceMap"),
        ),
        ox.Triple(_n(rem), _n(f"{DCTERMS}modified"), _literal(job.modified)),
    ]
    out += [
        ox.Triple(agg, _n(f"{_ORE_NS}isDescribedBy"), _n(f"{job.iri}{f.extension}"))
        for f in DOCUMENT_FORMATS
        if f.extension
    ]
    return out


def _atom(job: Job, aggregation: Sequence[ox.Triple], rem: str) -> bytes:
    """The map as ORE 1.0's Atom serialisation: one entry describing the aggregation.

    ORE 1.0 "Resource Map Implementation in Atom" (2008-10-17), section 4.2's mapping:
    the entry is the resource map (`self`), `ore:describes` names the aggregation,
    `atom:author` is the aggregation's dcterms:creator and `atom:source/atom:author`
    the map's, `atom:published`/`atom:updated` are the aggregation's creation and the
    map's modification, one `ore:aggregates` link per aggregated resource (with its
    type, title and length), and `oreatom:triples` carries in RDF/XML what the Atom
    elements cannot say (each file's sha256, its expiry, its provenance).
    """
    assert job.results is not None
    agg = job.results
    creator = (_values(aggregation, agg, f"{DCTERMS}creator") or ["jobtrail"])[0]
    created = next(iter(_values(aggregation, agg, f"{DCTERMS}created")), None)
    summary = next(iter(_values(aggregation, agg, f"{DCTERMS}description")), None)
    links = [
        atom.Link(rem, "self", conneg.ATOM.media_type),
        atom.Link(agg, ORE_DESCRIBES),
        # Atom wants an alternate link in an entry without content; ORE 1.0 makes it the
        # aggregation's splash page: the map in HTML.
        atom.Link(f"{job.iri}{conneg.HTML.extension}", "alternate", conneg.HTML.media_type),
        atom.Link(job.iri, "related", title="the job"),
    ]
    for resource in _values(aggregation, agg, f"{_ORE_NS}aggregates"):
        media = next(iter(_values(aggregation, resource, f"{DCTERMS}format")), None)
        title = next(iter(_values(aggregation, resource, f"{DCTERMS}title")), None)
        size = next(iter(_values(aggregation, resource, str(JT.byteSize))), None)
        links.append(
            atom.Link(
                resource,
                ORE_AGGREGATES,
                media,
                title,
                int(size) if size is not None and size.isdigit() else None,
            )
        )
    entry = atom.Entry(
        id=rem,
        title=f"Results of job {job.id} ({job.profile})",
        updated=job.modified,
        published=created,
        links=links,
        authors=[atom.Person(creator)],
        categories=[atom.Category(f"{_ORE_NS}Aggregation", _ORE_NS, "Aggregation")],
        summary=summary,
        source=atom.Source(authors=[atom.Person("jobtrail")], generator="jobtrail"),
        extra=[_triples(aggregation, agg, job)],
    )
    return atom.write(entry)


def _triples(aggregation: Sequence[ox.Triple], agg: str, job: Job) -> ET.Element:
    """`oreatom:triples`: the facts the Atom elements do not carry, as RDF/XML descriptions."""
    element = ET.Element(f"{{{ORE_ATOM}}}triples")
    described: dict[str, ET.Element] = {}

    def about(subject: ox.NamedNode | ox.BlankNode) -> ET.Element:
        key = str(subject)
        if key not in described:
            attr = "about" if isinstance(subject, ox.NamedNode) else "nodeID"
            value = subject.value
            described[key] = ET.SubElement(
                element, f"{{{_RDF}}}Description", {f"{{{_RDF}}}{attr}": value}
            )
        return described[key]

    others = [f"{job.iri}{f.extension}" for f in DOCUMENT_FORMATS if f.extension]
    for other in others:
        ET.SubElement(about(_n(agg)), f"{{{_ORE_NS}}}isDescribedBy", {f"{{{_RDF}}}resource": other})
    for t in aggregation:
        o = t.object
        if isinstance(t.subject, ox.Triple) or isinstance(o, ox.Triple):
            continue
        if t.subject == _n(agg) and t.predicate.value == f"{_ORE_NS}aggregates":
            continue  # the ore:aggregates links say it
        cut = max(t.predicate.value.rfind("#"), t.predicate.value.rfind("/")) + 1
        name = f"{{{t.predicate.value[:cut]}}}{t.predicate.value[cut:]}"
        if isinstance(o, ox.NamedNode):
            ET.SubElement(about(t.subject), name, {f"{{{_RDF}}}resource": o.value})
        elif isinstance(o, ox.BlankNode):
            ET.SubElement(about(t.subject), name, {f"{{{_RDF}}}nodeID": o.value})
        else:
            attrs = {}
            if o.language:
                attrs["{http://www.w3.org/XML/1998/namespace}lang"] = o.language
            elif o.datatype.value != _XSD_STRING:
                attrs[f"{{{_RDF}}}datatype"] = o.datatype.value
            ET.SubElement(about(t.subject), name, attrs).text = o.value
    return element


def _html(job: Job, triples: Sequence[ox.Triple], rem: str, base: str) -> bytes:
    assert job.results is not None
    files = _values(triples, job.results, f"{_ORE_NS}aggregates")
    rows = "".join(
        f"<li>{html.link(f, f.rsplit('/', 1)[-1])} "
        f"({escape((_values(triples, f, f'{DCTERMS}format') or ['?'])[0])})</li>"
        for f in files
    )
    path = rem.removesuffix(".html")
    page = html.resource(job.results, path, triples, [], base, DOCUMENT_FORMATS)
    link = html.link(job.iri, f"job {job.id}")  # in HTML: the job page (200), not back here
    intro = f"<p>Results of {link} (its page: status, history, actions):</p><ul>{rows}</ul>"
    return page.replace("<nav class=formats>", intro + "<nav class=formats>", 1).encode()
