"""Labels for the IRIs a page shows: one query per page, from what the reader may see.

A person reads "TRE message (2022 structure) · 2022-08-04 16:47:49" where the store has
`<…/messages/81e8…>`. What names what:

- a vocabulary term or status concept: its `rdfs:label` / `skos:prefLabel` (from the
  package's own vocabulary files, no query);
- a message: its kind (the labels of its most specific jobtrail classes) and its time
  (`prov:generatedAtTime`, else `jt:storedAt`), with an HTTP message's request line or
  status, a job change's kind;
- a producer: its name, process and environment;
- a job: its profile, the start of its id and its phase;
- anything else: an `rdfs:label`, `skos:prefLabel` or `dcterms:title` stored for it.

`labels` asks the store once for every IRI of the page, within the graphs the reader may
read: the visibility filter of `/messages` (`Policy.sparql_filter`) over the graphs, and
the policy itself for a job's own graphs. A job the reader may not see gets no label, so
the page shows its shortened IRI.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from importlib.resources import files

import pyoxigraph as ox
from jobtrail.jobs.visibility import Policy, Viewer
from jobtrail.store import Store

JT = "https://w3id.org/jobtrail/vocab#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
PROV = "http://www.w3.org/ns/prov#"
HTTP = "http://www.w3.org/2011/http#"
DCTERMS = "http://purl.org/dc/terms/"
_NAMES = (f"{RDFS}label", f"{SKOS}prefLabel", f"{DCTERMS}title")
MAX_IRIS = 500
"""At most this many IRIs are labelled on one page (the rest show shortened)."""


@cache
def _vocab() -> tuple[dict[str, str], dict[str, frozenset[str]]]:
    """The vocabulary's labels (English first) and each class's superclasses."""
    package = files("jobtrail.vocab")
    labels: dict[str, tuple[bool, str]] = {}
    supers: dict[str, set[str]] = {}
    for name in ("jobtrail.ttl", "status.ttl"):
        text = package.joinpath(name).read_text("utf-8")
        for quad in ox.parse(text, format=ox.RdfFormat.TURTLE):
            s, p, o = quad.subject, quad.predicate.value, quad.object
            if not isinstance(s, ox.NamedNode):
                continue
            if p in _NAMES and isinstance(o, ox.Literal):
                english = o.language in ("en", None)
                if s.value not in labels or (english and not labels[s.value][0]):
                    labels[s.value] = (english, o.value)
            elif p == f"{RDFS}subClassOf" and isinstance(o, ox.NamedNode):
                supers.setdefault(s.value, set()).add(o.value)
    return (
        {k: v for k, (_, v) in labels.items()},
        {k: frozenset(v) for k, v in supers.items()},
    )


def vocab_label(iri: str) -> str | None:
    """The label the vocabulary gives a term or status concept, if any."""
    return _vocab()[0].get(iri)


def kind(types: Iterable[str]) -> str:
    """The labels of the most specific jobtrail classes among `types` ("TRE message (2022
    structure)"); "Message" when none is more specific than jt:Message."""
    labels, supers = _vocab()
    mine = {t for t in types if t.startswith(JT)}
    above = {s for t in mine for s in supers.get(t, ())}
    specific = sorted((mine - above - {f"{JT}Message"}) or mine)
    return ", ".join(labels.get(t) or t.rpartition("#")[2] for t in specific) or "Message"


def moment(value: str) -> str:
    """An xsd:dateTime as people read it: `2022-08-04 16:47:49` (UTC marked, fraction cut)."""
    date, _, time = value.partition("T")
    if not time:
        return value
    zone = ""
    for mark in ("Z", "+", "-"):
        if mark in time:
            time, sep, rest = time.partition(mark)
            zone = " UTC" if mark == "Z" or rest in ("00:00", "0000") else f" {sep}{rest}"
            break
    return f"{date} {time.split('.')[0]}{zone}"


def _label(iri: str, facts: dict[str, list[str]], base: str) -> str | None:
    def one(p: str) -> str | None:
        values = facts.get(p)
        return min(values) if values else None

    types = facts.get(RDF_TYPE, [])
    if f"{JT}Message" in types:
        parts = [kind(types)]
        if change := one(f"{JT}changeKind"):
            parts[0] += f" ({change})"
        if method := one(f"{HTTP}methodName"):
            parts.append(f"{method} {one(f'{HTTP}requestURI') or ''}".strip())
        elif status := one(f"{HTTP}statusCodeValue"):
            parts.append(status)
        when = one(f"{PROV}generatedAtTime") or one(f"{JT}storedAt")
        if when:
            parts.append(moment(when))
        return " · ".join(parts)
    if name := one(f"{JT}producerName"):
        rest = [one(f"{JT}process"), one(f"{JT}environment")]
        return " / ".join([name, *(r for r in rest if r)])
    if f"{JT}Job" in types:
        job_id = iri.rstrip("/").rpartition("/")[2]
        profile = one(f"{JT}jobProfile")
        phase = one(f"{JT}phase")
        text = f"{profile + ' ' if profile else ''}job {job_id[:8]}"
        return f"{text} ({phase.rpartition('/')[2]})" if phase else text
    for p in _NAMES:
        if value := one(p):
            return value
    return None


@cache
def _query() -> str:
    path = files("jobtrail.queries") / "internal" / "browse-labels.rq"
    return path.read_text("utf-8")


def labels(
    store: Store, policy: Policy, viewer: Viewer, base: str, iris: Iterable[str]
) -> dict[str, str]:
    """A label for each of `iris` that has one and the viewer may see (one query)."""
    out: dict[str, str] = {}
    asked: list[str] = []
    wanted = list(dict.fromkeys(iris))
    parts = [i.partition("#")[0] for i in wanted if "#" in i]  # `…/messages/x#run`: x's label
    for iri in dict.fromkeys(wanted + parts):
        if (found := vocab_label(iri)) is not None:
            out[iri] = found
        elif len(asked) < MAX_IRIS:
            try:
                asked.append(str(ox.NamedNode(iri)))
            except ValueError:
                continue
    if not asked:
        return out
    query = (
        _query()
        .replace("#VALUES", "VALUES ?s { " + " ".join(asked) + " }")
        .replace("#HIDE", policy.sparql_filter(viewer, "g"))
    )
    facts: dict[str, dict[str, list[str]]] = {}
    readable: dict[str, bool] = {}
    jobs = f"{base}jobs/"
    for row in store.query(query):  # type: ignore[union-attr]
        g = row["g"].value
        if g.startswith(jobs) and not viewer.sees_all:
            if g not in readable:
                readable[g] = policy.may_read(viewer, g)
            if not readable[g]:
                continue
        facts.setdefault(row["s"].value, {}).setdefault(row["p"].value, []).append(row["o"].value)
    for iri, described in facts.items():
        if (text := _label(iri, described, base)) is not None:
            out[iri] = text
    for iri in wanted:
        whole, mark, fragment = iri.partition("#")
        if mark and iri not in out and whole in out:
            out[iri] = f"{out[whole]} #{fragment}"
    return out


__all__ = ["kind", "labels", "moment", "vocab_label"]
