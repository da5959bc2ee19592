"""The status vocabularies (vocab/status.ttl) and their lookup module (vocab/status.py)."""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files
from pathlib import Path

import pyoxigraph
import pytest
from jobtrail.base.errors import InputError
from jobtrail.vocab import status
from rdflib import RDF, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, RDFS, SKOS

JT = Namespace("https://w3id.org/jobtrail/vocab#")
STATUS = "https://w3id.org/jobtrail/status/"
UWS_SCHEME = URIRef(STATUS + "uws")
SCHEMES = {
    "uws": UWS_SCHEME,
    "fims": URIRef(STATUS + "fims"),
    "mcma": URIRef(STATUS + "mcma"),
    "sif-job": URIRef(STATUS + "sif/job"),
    "sif-phase": URIRef(STATUS + "sif/phase"),
    "ogcapi": URIRef(STATUS + "ogcapi"),
    "openlineage": URIRef(STATUS + "openlineage"),
}
MAPPINGS = (SKOS.exactMatch, SKOS.closeMatch, SKOS.broadMatch, SKOS.narrowMatch, SKOS.relatedMatch)
ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "tests" / "data" / "seeds"


def ttl_bytes() -> bytes:
    return (files("jobtrail.vocab") / "status.ttl").read_bytes()


@cache
def graph() -> Graph:
    return Graph().parse(data=ttl_bytes(), format="turtle")


def concepts() -> list[URIRef]:
    return sorted(s for s in graph().subjects(RDF.type, SKOS.Concept) if isinstance(s, URIRef))


def uws_concepts() -> set[URIRef]:
    return {c for c in concepts() if (c, SKOS.inScheme, UWS_SCHEME) in graph()}


def notations(scheme: URIRef) -> set[str]:
    g = graph()
    return {str(g.value(c, SKOS.notation)) for c in g.subjects(SKOS.inScheme, scheme)}


def seed(name: str) -> str:
    """The text of a source document in tests/data/seeds."""
    return (SEEDS / name).read_text(encoding="utf-8")


def fims_messages() -> str:
    """The FIMS/AME flow's 25 HTTP messages (examples/fims-ame-flow), joined."""
    paths = sorted((ROOT / "examples" / "fims-ame-flow").glob("*.http"))
    assert len(paths) == 25
    return "".join(p.read_text(encoding="utf-8") for p in paths)


def enumeration_on_line(text: str, marker: str) -> list[str]:
    """The comma-separated upper-case tokens ending the one line that contains `marker`."""
    lines = [line for line in text.splitlines() if marker in line]
    assert len(lines) == 1, f"expected one line containing {marker!r}, found {len(lines)}"
    match = re.search(r"([A-Z]+(?:(?:,\s*|\s+or\s+)[A-Z]+)+)", lines[0])
    assert match, f"no token list on the line containing {marker!r}"
    return re.split(r",\s*|\s+or\s+", match.group(1))


# --- structure of status.ttl -------------------------------------------------


def test_parses_with_rdflib_and_pyoxigraph() -> None:
    data = ttl_bytes()
    rdflib_triples = len(Graph().parse(data=data, format="turtle"))
    oxigraph_triples = list(pyoxigraph.parse(data, format=pyoxigraph.RdfFormat.TURTLE))
    assert rdflib_triples > 0
    assert rdflib_triples == len(oxigraph_triples)


def test_every_scheme_is_described() -> None:
    g = graph()
    for scheme in SCHEMES.values():
        assert (scheme, RDF.type, SKOS.ConceptScheme) in g
        assert g.value(scheme, SKOS.prefLabel) is not None, scheme
        source = g.value(scheme, DCTERMS.source)
        assert isinstance(source, URIRef), f"{scheme}: dcterms:source is not an IRI"
        assert g.value(scheme, RDFS.comment) is not None, scheme
    declared = set(g.subjects(RDF.type, SKOS.ConceptScheme))
    assert declared == set(SCHEMES.values())


@pytest.mark.parametrize("prop", [JT.canonicalPhase, JT.isFinal, JT.isActive])
def test_properties_are_declared(prop: URIRef) -> None:
    g = graph()
    for meta in (RDFS.label, RDFS.comment, RDFS.domain, RDFS.range):
        assert g.value(prop, meta) is not None, f"{prop} has no {meta}"


@pytest.mark.parametrize(
    "prop", [SKOS.prefLabel, SKOS.notation, SKOS.definition, SKOS.inScheme, JT.canonicalPhase]
)
def test_every_concept_has_exactly_one(prop: URIRef) -> None:
    g = graph()
    for c in concepts():
        values = list(g.objects(c, prop))
        assert len(values) == 1, f"{c} has {len(values)} {prop}"


def test_concept_iris_follow_scheme_and_notation() -> None:
    g = graph()
    for c in concepts():
        scheme, notation = g.value(c, SKOS.inScheme), g.value(c, SKOS.notation)
        assert str(c) == f"{scheme}/{notation}"
        assert (c, SKOS.topConceptOf, scheme) in g


def test_canonical_phase_is_a_uws_concept() -> None:
    g = graph()
    uws = uws_concepts()
    assert len(uws) == 10
    for c in concepts():
        assert g.value(c, JT.canonicalPhase) in uws, c
    for c in uws:
        assert g.value(c, JT.canonicalPhase) == c, "a UWS concept is its own canonical phase"


def test_non_uws_concepts_map_to_their_canonical_phase() -> None:
    g = graph()
    for c in set(concepts()) - uws_concepts():
        phase = g.value(c, JT.canonicalPhase)
        targets = {o for m in MAPPINGS for o in g.objects(c, m)}
        assert targets == {phase}, f"{c}: mapping targets {targets} but canonical phase {phase}"
        matches = [m for m in MAPPINGS if (c, m, phase) in g]
        assert len(matches) == 1, f"{c}: {len(matches)} mapping relations to {phase}"


def test_sif_phase_states_say_they_are_step_states() -> None:
    g = graph()
    for c in g.subjects(SKOS.inScheme, SCHEMES["sif-phase"]):
        note = g.value(c, SKOS.scopeNote)
        assert note is not None and "phase (step)" in str(note), c


def test_final_and_active_flags() -> None:
    g = graph()
    final = {"COMPLETED", "ERROR", "ABORTED", "ARCHIVED"}
    active = {"QUEUED", "EXECUTING"}
    for c in uws_concepts():
        token = str(g.value(c, SKOS.notation))
        assert g.value(c, JT.isFinal) == Literal(token in final)
        assert g.value(c, JT.isActive) == Literal(token in active)


# --- the seeds' tokens are all there ----------------------------------------


def test_fims_seed_tokens_present() -> None:
    text = fims_messages()
    job_status = set(re.findall(r'"jobStatus":\s*"([^"]+)"', text))
    stop_cause = set(re.findall(r'"stopJobCause":\s*"([^"]+)"', text))
    assert job_status == {"NEW", "QUEUED", "RUNNING", "COMPLETED"}
    assert stop_cause == {"COMPLETED"}
    assert job_status | stop_cause <= notations(SCHEMES["fims"])


def test_sif_seed_tokens_present() -> None:
    text = seed("sif-3.2.1-jobs.txt")
    job_states = enumeration_on_line(text, "jobStateType")
    phase_states = enumeration_on_line(text, "phaseStateType")
    assert job_states == ["NOTSTARTED", "INPROGRESS", "COMPLETED", "FAILED"]
    assert len(phase_states) == 7 and "SKIPPED" in phase_states
    assert set(job_states) == notations(SCHEMES["sif-job"])
    assert set(phase_states) == notations(SCHEMES["sif-phase"])


def test_uws_seed_tokens_present() -> None:
    text = seed("uws-reminder.txt")
    phases = enumeration_on_line(text, "PENDING, QUEUED, EXECUTING")
    assert phases[:3] == ["PENDING", "QUEUED", "EXECUTING"] and "SUSPENDED" in phases
    # the seed is a UWS 1.0-era excerpt; 1.1 adds ARCHIVED
    assert notations(UWS_SCHEME) == set(phases) | {"ARCHIVED"}


# --- status.py ---------------------------------------------------------------


def test_systems_and_tokens_agree_with_the_file() -> None:
    assert status.SYSTEMS == (
        "uws",
        "fims",
        "mcma",
        "sif-job",
        "sif-phase",
        "ogcapi",
        "openlineage",
    )
    for system, scheme in SCHEMES.items():
        assert set(status.tokens(system)) == notations(scheme)
        assert len(status.tokens(system)) == len(notations(scheme))
    assert status.tokens("uws")[:3] == ("PENDING", "QUEUED", "EXECUTING")


@pytest.mark.parametrize(
    ("system", "value", "uws"),
    [
        ("uws", "EXECUTING", "EXECUTING"),
        ("uws", "ARCHIVED", "ARCHIVED"),
        ("fims", "NEW", "PENDING"),
        ("fims", "QUEUED", "QUEUED"),
        ("fims", "RUNNING", "EXECUTING"),
        ("fims", "COMPLETED", "COMPLETED"),
        ("fims", "STOPPED", "COMPLETED"),
        ("fims", "CANCELED", "ABORTED"),
        ("mcma", "Running", "EXECUTING"),
        ("mcma", "running", "EXECUTING"),
        ("mcma", "RUNNING", "EXECUTING"),
        ("mcma", "Assigned", "QUEUED"),
        ("mcma", "scheduled", "QUEUED"),
        ("mcma", "Canceled", "ABORTED"),
        ("sif-job", "NOTSTARTED", "PENDING"),
        ("sif-job", "INPROGRESS", "EXECUTING"),
        ("sif-phase", "PENDING", "QUEUED"),
        ("sif-phase", "SKIPPED", "COMPLETED"),
        ("sif-phase", "FAILED", "ERROR"),
        ("ogcapi", "accepted", "QUEUED"),
        ("ogcapi", "successful", "COMPLETED"),
        ("ogcapi", "dismissed", "ABORTED"),
        ("openlineage", "START", "EXECUTING"),
        ("openlineage", "COMPLETE", "COMPLETED"),
        ("openlineage", "FAIL", "ERROR"),
        ("openlineage", "ABORT", "ABORTED"),
    ],
)
def test_canonical(system: str, value: str, uws: str) -> None:
    assert status.canonical(system, value) == uws


@pytest.mark.parametrize(
    ("system", "value", "iri"),
    [
        ("uws", "QUEUED", STATUS + "uws/QUEUED"),
        ("fims", "RUNNING", STATUS + "fims/RUNNING"),
        ("mcma", "completed", STATUS + "mcma/Completed"),
        ("sif-job", "FAILED", STATUS + "sif/job/FAILED"),
        ("sif-phase", "NOTAPPLICABLE", STATUS + "sif/phase/NOTAPPLICABLE"),
        ("ogcapi", "running", STATUS + "ogcapi/running"),
    ],
)
def test_concept(system: str, value: str, iri: str) -> None:
    assert status.concept(system, value) == iri


@pytest.mark.parametrize(
    ("system", "value"),
    [
        ("uws", "executing"),  # only MCMA is case-insensitive
        ("fims", "running"),
        ("ogcapi", "Running"),
        ("sif-job", "DONE"),
        ("mcma", "Done"),
        ("uws", ""),
    ],
)
def test_unknown_token_raises_with_valid_tokens(system: str, value: str) -> None:
    with pytest.raises(InputError) as caught:
        status.concept(system, value)
    message = str(caught.value)
    assert system in message
    assert all(token in message for token in status.tokens(system))
    with pytest.raises(InputError):
        status.canonical(system, value)


def test_unknown_system_raises() -> None:
    with pytest.raises(InputError, match="uws"):
        status.concept("bpmn", "RUNNING")
    with pytest.raises(InputError):
        status.tokens("sif")


@pytest.mark.parametrize(
    ("uws", "final", "active"),
    [
        ("PENDING", False, False),
        ("QUEUED", False, True),
        ("EXECUTING", False, True),
        ("COMPLETED", True, False),
        ("ERROR", True, False),
        ("ABORTED", True, False),
        ("UNKNOWN", False, False),
        ("HELD", False, False),
        ("SUSPENDED", False, False),
        ("ARCHIVED", True, False),
    ],
)
def test_is_final_and_is_active(uws: str, final: bool, active: bool) -> None:
    assert status.is_final(uws) is final
    assert status.is_active(uws) is active


def test_flags_take_uws_tokens_only() -> None:
    with pytest.raises(InputError):
        status.is_final("RUNNING")
    with pytest.raises(InputError):
        status.is_active("executing")


def test_every_token_has_a_canonical_phase_with_flags() -> None:
    for system in status.SYSTEMS:
        for token in status.tokens(system):
            uws = status.canonical(system, token)
            assert uws in status.tokens("uws")
            assert not (status.is_final(uws) and status.is_active(uws))
