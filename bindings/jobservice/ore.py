"""A job and its results as documents: the job's description, and the OAI-ORE resource map.

The resource map (ReM) of a completed job is `/jobs/{id}.{ext}`, one per
format, each `ore:describes` the aggregation `/jobs/{id}/results` (ORE 1.0
Abstract Data Model: every serialisation is a resource map of its own, and
the aggregation `ore:isDescribedBy` each of them). In Atom it follows ORE's
Atom serialisation: the feed is the map, `atom:id` the aggregation, one
entry per aggregated resource with its `alternate` link and type.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape

import pyoxigraph as ox
from jobtrail.base.terms import DCTERMS, ORE, SCHEMA
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
    assert job.results is not None
    agg = job.results
    creator = (_values(aggregation, agg, f"{DCTERMS}creator") or ["jobtrail"])[0]
    entries = []
    for resource in _values(aggregation, agg, f"{_ORE_NS}aggregates"):
        media = next(iter(_values(aggregation, resource, f"{DCTERMS}format")), None)
        title = (_values(aggregation, resource, f"{DCTERMS}title") or [resource])[0]
        created: datetime | str = next(
            iter(_values(aggregation, resource, f"{DCTERMS}created")), job.modified
        )
        expires = _values(aggregation, resource, f"{SCHEMA}expires")
        entries.append(
            atom.Entry(
                id=resource,
                title=title,
                updated=created,
                links=[atom.Link(resource, "alternate", media)],
                summary=f"expires {expires[0]}" if expires else None,
            )
        )
    feed = atom.Feed(
        id=agg,
        title=f"Results of job {job.id} ({job.profile})",
        updated=job.modified,
        authors=[atom.Person(creator)],
        links=[
            atom.Link(rem, "self", "application/atom+xml"),
            atom.Link(agg, ORE_DESCRIBES),
            atom.Link(job.iri, "related", title="the job"),
            *(
                atom.Link(f"{job.iri}{f.extension}", "alternate", f.media_type)
                for f in DOCUMENT_FORMATS
                if f.extension and f is not conneg.ATOM
            ),
        ],
        categories=[atom.Category(f"{_ORE_NS}Aggregation", _ORE_NS, "Aggregation")],
        entries=entries,
    )
    return atom.write(feed)


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
    link = html.link(job.iri, f"job {job.id}")
    intro = f"<p>Results of {link}:</p><ul>{rows}</ul>"
    return page.replace("<nav class=formats>", intro + "<nav class=formats>", 1).encode()
