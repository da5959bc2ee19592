"""A job's results: files on disk under the job's id, described by an OAI-ORE aggregation.

The aggregation `{job}/results` is a named graph of its own, written in the
same transaction that completes the job. It `ore:aggregates` each result file
(served at `{job}/results/{name}` with its media type, size and SHA-256), says
who made it and when, and when the results will be deleted: `schema:expires`
(schema.org: "Date the content expires and is no longer useful or
available"), the standard predicate for when results are deleted. A
rendition of the input is linked from it with `dcterms:hasFormat`.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyoxigraph as ox
from jobtrail.base import nt
from jobtrail.base.terms import DCTERMS, JT, ORE, PROV, SCHEMA
from jobtrail.jobs.core import Job
from jobtrail.jobs.profiles import Outcome
from jobtrail.store import ResourceGraph, Triple

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")


def safe_name(name: str) -> bool:
    """Whether `name` can be a result file's name (no `..`, no `/`, nothing hidden)."""
    return _SAFE_NAME.match(name) is not None


def job_dir(files: Path, job_id: str) -> Path:
    return files / job_id


def file_path(files: Path, job_id: str, name: str) -> Path | None:
    """The result file's path, or None for a name that is not one of ours (no `..`, no `/`)."""
    if not safe_name(name):
        return None
    path = job_dir(files, job_id) / name
    return path if path.is_file() else None


def remove(files: Path, job_id: str) -> None:
    path = job_dir(files, job_id)
    if path.exists():
        shutil.rmtree(path)


def aggregation(
    job: Job,
    outcome: Outcome,
    *,
    results_iri: str,
    output_dir: Path,
    creator: str,
    created: datetime,
    expires: datetime | None,
) -> ResourceGraph:
    """The aggregation graph of what a profile made (files already in `output_dir`)."""
    a = nt.iri(results_iri)
    when = nt.datetime_lit(created)
    out: list[Triple] = [
        (a, nt.A, nt.iri(f"{ORE}Aggregation")),
        (a, nt.A, nt.jt("ResultAggregation")),
        (a, nt.iri(f"{DCTERMS}creator"), nt.lit(creator)),
        (a, nt.iri(f"{DCTERMS}created"), when),
        (a, nt.iri(f"{PROV}wasGeneratedBy"), nt.iri(job.iri)),
    ]
    if outcome.summary:
        out.append((a, nt.iri(f"{DCTERMS}description"), nt.lit(outcome.summary)))
    if expires is not None:
        out.append((a, nt.iri(f"{SCHEMA}expires"), nt.datetime_lit(expires)))
    source = nt.checked_iri(job.input) if job.input else None
    for f in outcome.files:
        if not _SAFE_NAME.match(f.name):
            raise ValueError(f"a profile wrote a result file with an unsafe name: {f.name!r}")
        path = output_dir / f.name
        r = nt.iri(f"{results_iri}/{f.name}")
        out += [
            (a, nt.iri(f"{ORE}aggregates"), r),
            (r, nt.iri(f"{DCTERMS}format"), nt.lit(f.media_type)),
            (r, nt.jt("byteSize"), nt.integer(path.stat().st_size)),
            (r, nt.jt("sha256"), nt.lit(_sha256(path))),
            (r, nt.iri(f"{DCTERMS}created"), when),
            (r, nt.iri(f"{DCTERMS}title"), nt.lit(f.title or f.name)),
            (r, nt.iri(f"{PROV}wasGeneratedBy"), nt.iri(job.iri)),
        ]
        if expires is not None:
            out.append((r, nt.iri(f"{SCHEMA}expires"), nt.datetime_lit(expires)))
        if source is not None:
            out.append((r, nt.iri(f"{PROV}wasDerivedFrom"), source))
            if f.rendition:
                out.append((source, nt.iri(f"{DCTERMS}hasFormat"), r))
    out += outcome.triples
    return ResourceGraph(results_iri, out)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Listed:
    """A result file as its aggregation describes it."""

    name: str
    iri: str
    media_type: str | None
    size: int | None


def listed(triples: Sequence[ox.Triple], results_iri: str) -> list[Listed]:
    """The files an aggregation graph aggregates, by name."""
    facts: dict[ox.NamedNode | ox.BlankNode | ox.Triple, dict[str, str]] = {}
    aggregated: list[str] = []
    for t in triples:
        o = t.object
        value = o.value if isinstance(o, ox.NamedNode | ox.Literal) else str(o)
        facts.setdefault(t.subject, {})[t.predicate.value] = value
        if t.subject == ox.NamedNode(results_iri) and t.predicate.value == f"{ORE}aggregates":
            aggregated.append(value)
    out = []
    for iri in aggregated:
        about = facts.get(ox.NamedNode(iri), {})
        size = about.get(str(JT.byteSize))
        media = about.get(f"{DCTERMS}format")
        out.append(
            Listed(
                iri.rsplit("/", 1)[-1], iri, media, int(size) if size and size.isdigit() else None
            )
        )
    return sorted(out, key=lambda f: f.name)
