"""Job status values of the source systems and their canonical UWS phases.

The vocabulary is `status.ttl` next to this module: one SKOS concept scheme per
source system, each concept pointing at its UWS 1.1 phase with
`jt:canonicalPhase`. The file is read once, on first use.

    >>> canonical("mcma", "Running")
    'EXECUTING'
    >>> is_final("ABORTED"), is_active("QUEUED")
    (True, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from jobtrail.base.errors import InputError

SYSTEMS: tuple[str, ...] = (
    "uws",
    "fims",
    "mcma",
    "sif-job",
    "sif-phase",
    "ogcapi",
    "openlineage",
)

_BASE = "https://w3id.org/jobtrail/status/"
_SCHEMES = {
    "uws": _BASE + "uws",
    "fims": _BASE + "fims",
    "mcma": _BASE + "mcma",
    "sif-job": _BASE + "sif/job",
    "sif-phase": _BASE + "sif/phase",
    "ogcapi": _BASE + "ogcapi",
    "openlineage": _BASE + "openlineage",
}
_CASE_INSENSITIVE = frozenset({"mcma"})  # MCMA clients differ in case

_SKOS = "http://www.w3.org/2004/02/skos/core#"
_JT = "https://w3id.org/jobtrail/vocab#"


@dataclass(frozen=True)
class _Vocabulary:
    tokens: dict[str, tuple[str, ...]]  # system -> tokens, in file order
    concepts: dict[str, dict[str, str]]  # system -> lookup key -> concept IRI
    uws_token: dict[str, str]  # concept IRI -> UWS token of its canonical phase
    final: dict[str, bool]  # UWS token -> jt:isFinal
    active: dict[str, bool]  # UWS token -> jt:isActive
    labels: dict[str, tuple[str, str]]  # concept IRI -> (skos:prefLabel, skos:definition)


@cache
def _vocabulary() -> _Vocabulary:
    from pyoxigraph import Literal, RdfFormat, parse

    data = (files("jobtrail.vocab") / "status.ttl").read_bytes()
    notation: dict[str, str] = {}
    scheme: dict[str, str] = {}
    phase: dict[str, str] = {}
    flags: dict[str, dict[str, bool]] = {"isFinal": {}, "isActive": {}}
    label: dict[str, str] = {}
    definition: dict[str, str] = {}
    for t in parse(data, format=RdfFormat.TURTLE):
        s, p, o = t.subject.value, t.predicate.value, t.object
        if p == _SKOS + "notation":
            notation[s] = o.value
        elif p == _SKOS + "inScheme":
            scheme[s] = o.value
        elif p == _SKOS + "prefLabel":
            label[s] = o.value
        elif p == _SKOS + "definition":
            definition[s] = " ".join(o.value.split())
        elif p == _JT + "canonicalPhase":
            phase[s] = o.value
        elif p in (_JT + "isFinal", _JT + "isActive") and isinstance(o, Literal):
            flags[p.removeprefix(_JT)][s] = o.value in ("true", "1")

    system_of = {iri: key for key, iri in _SCHEMES.items()}
    tokens: dict[str, list[str]] = {key: [] for key in SYSTEMS}
    concepts: dict[str, dict[str, str]] = {key: {} for key in SYSTEMS}
    for iri, token in notation.items():  # dicts keep the file's order
        key = system_of.get(scheme.get(iri, ""))
        if key is not None:
            tokens[key].append(token)
            concepts[key][_key(key, token)] = iri
    return _Vocabulary(
        tokens={key: tuple(values) for key, values in tokens.items()},
        concepts=concepts,
        uws_token={iri: notation[uws] for iri, uws in phase.items()},
        final={notation[iri]: v for iri, v in flags["isFinal"].items()},
        active={notation[iri]: v for iri, v in flags["isActive"].items()},
        labels={iri: (label.get(iri, notation[iri]), definition.get(iri, "")) for iri in notation},
    )


def _key(system: str, value: str) -> str:
    return value.casefold() if system in _CASE_INSENSITIVE else value


def _check_system(system: str) -> None:
    if system not in _SCHEMES:
        raise InputError(
            f"unknown status system {system!r}; known systems: {', '.join(SYSTEMS)}",
            details={"system": system, "valid": list(SYSTEMS)},
        )


def tokens(system: str) -> tuple[str, ...]:
    """The status tokens of `system`, spelled as the system sends them."""
    _check_system(system)
    return _vocabulary().tokens[system]


def concept(system: str, value: str) -> str:
    """The IRI of the SKOS concept for status `value` of `system`.

    MCMA tokens match case-insensitively, all others exactly. An unknown value
    raises `InputError` naming the system and listing its valid tokens.
    """
    _check_system(system)
    vocabulary = _vocabulary()
    iri = vocabulary.concepts[system].get(_key(system, value))
    if iri is None:
        valid = vocabulary.tokens[system]
        raise InputError(
            f"{value!r} is not a {system} status; valid tokens: {', '.join(valid)}",
            hint="MCMA tokens match in any case, other systems' tokens exactly"
            if system in _CASE_INSENSITIVE
            else f"{system} status tokens are case-sensitive",
            details={"system": system, "value": value, "valid": list(valid)},
        )
    return iri


def canonical(system: str, value: str) -> str:
    """The UWS phase token that status `value` of `system` stands for."""
    return _vocabulary().uws_token[concept(system, value)]


def describe(system: str, value: str) -> tuple[str, str]:
    """The label (`skos:prefLabel`) and definition (`skos:definition`) of status `value` of
    `system`, for people; InputError as `concept` for a value the system does not have."""
    return _vocabulary().labels[concept(system, value)]


def is_final(uws_token: str) -> bool:
    """Whether a job in this UWS phase has stopped for good."""
    concept("uws", uws_token)
    return _vocabulary().final[uws_token]


def is_active(uws_token: str) -> bool:
    """Whether a job in this UWS phase is in progress (QUEUED, EXECUTING)."""
    concept("uws", uws_token)
    return _vocabulary().active[uws_token]


__all__ = ["SYSTEMS", "canonical", "concept", "describe", "is_active", "is_final", "tokens"]
