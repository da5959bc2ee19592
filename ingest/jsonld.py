"""JSON-LD messages (the FIMS/MCMA job flow), read through pyld with local contexts.

pyld is given a document loader that answers from `vocab/contexts/` and
refuses everything else: JSON-LD processing never reaches the network, and a
context we have no copy of is an UnknownContext error naming it.

Our contexts declare `@vocab`, so a key they do not map is kept (as a term of
the jobtrail namespace) rather than silently dropped; the reader notes every
such key so the message says which of its terms are not in the vocabulary.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

from pyld import jsonld  # type: ignore[import-untyped]

from jobtrail.store import Triple
from jobtrail.store.errors import Location, MalformedInput, UnknownContext
from jobtrail.vocab.terms import JT

from . import nt

_CONTEXTS = files("jobtrail.vocab") / "contexts"


@cache
def context_index() -> dict[str, str]:
    index: dict[str, str] = json.loads((_CONTEXTS / "index.json").read_text("utf-8"))
    return {url: name for url, name in index.items() if not url.startswith("_")}


@cache
def _context_document(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((_CONTEXTS / name).read_text("utf-8"))
    return doc


def document_loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """pyld document loader that only knows the local contexts."""
    name = context_index().get(url) or context_index().get(url.rstrip("/"))
    if name is None:
        raise UnknownContext(
            f"unknown JSON-LD context {url!r}: jobtrail never fetches contexts from the network",
            hint="known contexts: " + ", ".join(sorted(context_index()))
            + "; add a local copy to vocab/contexts/index.json",
        )
    return {"contextUrl": None, "documentUrl": url, "document": _context_document(name)}


def is_jsonld(doc: object) -> bool:
    return isinstance(doc, dict) and "@context" in doc or (
        isinstance(doc, list) and bool(doc) and all(isinstance(d, dict) and "@context" in d for d in doc)
    )


def triples(doc: Any, m: str, source: str) -> tuple[list[Triple], list[str], str | None]:
    """Content triples, notes on undeclared keys, and the IRI of the top node if it has one."""
    options = {"documentLoader": document_loader, "base": m}
    try:
        dataset: dict[str, list[dict[str, Any]]] = jsonld.to_rdf(doc, options)
    except jsonld.JsonLdError as e:
        cause = _root_cause(e)
        if isinstance(cause, UnknownContext):
            cause.location = Location(source, pointer="/@context")
            raise cause from e
        raise MalformedInput(f"not valid JSON-LD: {_message(e)}", location=Location(source)) from e
    out: list[Triple] = []
    notes: list[str] = []
    declared = _declared_terms()
    undeclared: set[str] = set()
    for graph_name, graph in dataset.items():
        if graph_name != "@default":
            notes.append(f"named graph {graph_name} is read into the message's own graph")
        for t in graph:
            s, p, o = _term(t["subject"], m), _term(t["predicate"], m), _term(t["object"], m)
            out.append((s, p, o))
            for term in (p, o if p == nt.A else ""):
                if term.startswith(f"<{JT}") and term[1:-1] not in declared:
                    undeclared.add(term[1 + len(str(JT)) : -1])
    notes += [
        f"key {k!r} is not in the jobtrail vocabulary; kept as jt:{k}" for k in sorted(undeclared)
    ]
    top = doc.get("id") or doc.get("@id") if isinstance(doc, dict) else None
    return out, notes, top if isinstance(top, str) else None


@cache
def _declared_terms() -> frozenset[str]:
    return frozenset(str(getattr(JT, name)) for name in JT.__annotations__)


def _term(t: dict[str, str], m: str) -> str:
    """A pyld RDF term as N-Triples; blank nodes become IRIs inside the message."""
    kind, value = t["type"], t["value"]
    if kind == "IRI":
        return nt.iri(value)
    if kind == "blank node":
        return nt.iri(f"{m}#{value[2:]}")
    if t.get("language"):
        return f"{nt.lit(value)}@{t['language']}"
    datatype = t.get("datatype")
    return nt.typed(value, datatype) if datatype and datatype != nt.XSD_STRING else nt.lit(value)


def _root_cause(e: BaseException) -> BaseException:
    seen = e
    while True:
        nxt = getattr(seen, "cause", None) or seen.__cause__
        if nxt is None or nxt is seen:
            return seen
        seen = nxt


def _message(e: Any) -> str:
    parts = [str(getattr(e, "message", e))]
    cause = getattr(e, "cause", None)
    if cause is not None and cause is not e:
        parts.append(str(getattr(cause, "message", cause)))
    return ": ".join(parts)
