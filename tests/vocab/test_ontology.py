"""The ontology (vocab/jobtrail.ttl, with the jt: terms of vocab/status.ttl), the closed JT
namespace of vocab/terms.py, and the JSON-LD contexts (vocab/contexts/)."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files

import pytest
from jobtrail.base import terms
from rdflib import OWL, RDF, RDFS, Graph, URIRef

JT = "https://w3id.org/jobtrail/vocab#"
PROV = "http://www.w3.org/ns/prov#"
ORE = "http://www.openarchives.org/ore/terms/"
VOCAB = files("jobtrail.vocab")
CONTEXTS = VOCAB / "contexts"
TTL = ("jobtrail.ttl", "status.ttl")


@cache
def ontology() -> Graph:
    g = Graph()
    for name in TTL:
        g.parse(data=(VOCAB / name).read_text("utf-8"), format="turtle")
    return g


@cache
def declared() -> frozenset[str]:
    """Local names of the jt: terms the two files declare (give a type to)."""
    g = ontology()
    return frozenset(
        str(s)[len(JT) :]
        for s in g.subjects(RDF.type, None)
        if isinstance(s, URIRef) and str(s).startswith(JT)
    )


def context_names() -> list[str]:
    return sorted(p.name for p in CONTEXTS.iterdir() if p.name.endswith(".jsonld"))


def test_the_files_declare_terms() -> None:
    # guards the parametrised tests below against an empty list
    assert len(declared()) > 50
    assert {"Job", "Message", "canonicalPhase", "isFinal"} <= declared()


def test_every_jt_term_used_is_declared() -> None:
    g = ontology()
    used = {
        str(t)[len(JT) :] for t in g.all_nodes() if isinstance(t, URIRef) and str(t).startswith(JT)
    }
    used |= {str(p)[len(JT) :] for p in g.predicates() if str(p).startswith(JT)}
    assert used - declared() == set()


@pytest.mark.parametrize("name", sorted(declared()))
@pytest.mark.parametrize("prop", [RDFS.label, RDFS.comment], ids=["label", "comment"])
def test_every_term_has_one_label_and_one_comment(name, prop) -> None:
    values = list(ontology().objects(URIRef(JT + name), prop))
    assert len(values) == 1, f"jt:{name} has {len(values)} {prop}"
    assert str(values[0]).strip()


def test_terms_py_lists_exactly_the_declared_terms() -> None:
    listed = set(terms.JT.__annotations__)
    assert listed - declared() == set(), "in terms.py, not in the .ttl files"
    assert declared() - listed == set(), "in the .ttl files, not in terms.py"


def test_jt_namespace_is_closed() -> None:
    assert str(terms.JT.Job) == JT + "Job"
    with pytest.raises(AttributeError):
        terms.JT.Jbo  # noqa: B018  (a typo must fail, not mint an IRI)


@pytest.mark.parametrize(
    ("cls", "parent"),
    [
        ("Job", PROV + "Activity"),
        ("AmeJob", PROV + "Activity"),
        ("ProducerRun", PROV + "Activity"),
        ("Message", PROV + "Entity"),
        ("TREMessage", PROV + "Entity"),
        ("TRE2022Message", PROV + "Entity"),
        ("TRE2023Message", PROV + "Entity"),
        ("HTTPMessage", PROV + "Entity"),
        ("JSONLDMessage", PROV + "Entity"),
        ("RDFMessage", PROV + "Entity"),
        ("Command", PROV + "Entity"),
        ("StartJob", PROV + "Entity"),
        ("Producer", PROV + "SoftwareAgent"),
        ("ResultAggregation", ORE + "Aggregation"),
    ],
)
def test_classes_reuse_prov_and_ore(cls, parent) -> None:
    g = ontology()
    ancestors = set(g.transitive_objects(URIRef(JT + cls), RDFS.subClassOf))
    assert URIRef(parent) in ancestors
    assert (URIRef(JT + cls), RDF.type, OWL.Class) in g


def test_every_message_class_is_a_message() -> None:
    g = ontology()
    for name in (
        "TREMessage",
        "TRE2022Message",
        "TRE2023Message",
        "HTTPMessage",
        "JSONLDMessage",
        "RDFMessage",
    ):
        assert URIRef(JT + "Message") in set(
            g.transitive_objects(URIRef(JT + name), RDFS.subClassOf)
        )


def test_added_uuid_is_a_carried_uuid() -> None:
    assert (URIRef(JT + "addedUUID"), RDFS.subPropertyOf, URIRef(JT + "carriesUUID")) in ontology()


# ---------------------------------------------------------------- contexts


def test_there_are_contexts() -> None:
    assert {"fims-ame.jsonld", "jobtrail.jsonld"} <= set(context_names())


@pytest.mark.parametrize("name", context_names())
def test_context_maps_only_declared_jt_terms(name) -> None:
    ctx = json.loads((CONTEXTS / name).read_text("utf-8"))["@context"]
    prefixes = {k: v for k, v in ctx.items() if isinstance(v, str) and v.endswith(("#", "/"))}
    assert ctx.get("@vocab") == JT  # unmapped keys are kept as jt: terms, never dropped
    mapped = []
    for key, value in ctx.items():
        if key.startswith("@") or key in prefixes:
            continue
        iri = value if isinstance(value, str) else value.get("@id", "")
        if iri.startswith("@"):
            continue  # "id": "@id", "type": "@type"
        prefix, _, local = iri.partition(":")
        full = prefixes[prefix] + local if prefix in prefixes else iri
        assert full.startswith("http"), f"{key} maps to {iri!r}, which does not expand"
        if full.startswith(JT):
            mapped.append(full[len(JT) :])
    assert mapped
    assert set(mapped) - declared() == set()


def test_context_index_points_at_existing_contexts() -> None:
    index = json.loads((CONTEXTS / "index.json").read_text("utf-8"))
    urls = {k: v for k, v in index.items() if not k.startswith("_")}
    assert urls
    for url, name in urls.items():
        assert url.startswith("https://")
        assert name in context_names()
        json.loads((CONTEXTS / name).read_text("utf-8"))
