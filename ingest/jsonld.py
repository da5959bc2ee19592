"""JSON-LD messages (the FIMS/MCMA job flow), read through pyld with local contexts.

pyld is given a document loader that answers from `vocab/contexts/` and
refuses everything else: JSON-LD processing never reaches the network, and a
context we have no copy of is an UnknownContext error naming it.

Our contexts declare `@vocab`, so a key they do not map is kept (as a term of
the jobtrail namespace) rather than silently dropped; the reader notes every
such key so the message says which of its terms are not in the vocabulary.

What pyld would drop or write unchecked is kept and noted instead (see
`triples`): a key that is no IRI is percent-encoded, a reference that is no
absolute IRI is kept as the string it is, a node's relative @id becomes an IRI
inside the message, and a bad language tag or datatype leaves a plain string.
"""

from __future__ import annotations

import json
import re
from functools import cache, lru_cache
from importlib.resources import files
from typing import Any
from urllib.parse import quote

import pyoxigraph as ox
from jobtrail.base import nt
from jobtrail.base.errors import Location, MalformedInput, UnknownContext
from jobtrail.base.terms import JT
from jobtrail.ingest.jsonparse import depth
from jobtrail.store import Triple
from pyld import jsonld

_CONTEXTS = files("jobtrail.vocab") / "contexts"


@cache
def context_index() -> dict[str, str]:
    index: dict[str, str] = json.loads((_CONTEXTS / "index.json").read_text("utf-8"))
    return {url: name for url, name in index.items() if not url.startswith("_")}


@cache
def context_document(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((_CONTEXTS / name).read_text("utf-8"))
    return doc


def document_loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """pyld document loader that only knows the local contexts."""
    name = context_index().get(url) or context_index().get(url.rstrip("/"))
    if name is None:
        raise UnknownContext(
            f"unknown JSON-LD context {url!r}: jobtrail never fetches contexts from the network",
            hint="known contexts: "
            + ", ".join(sorted(context_index()))
            + "; add a local copy to vocab/contexts/index.json",
        )
    return {"contextUrl": None, "documentUrl": url, "document": context_document(name)}


MAX_DEPTH = 256
"""Deepest nesting of a JSON-LD document processed (pyld recurses about twice per level)."""


def is_jsonld(doc: object) -> bool:
    if isinstance(doc, dict):
        return "@context" in doc
    return (
        isinstance(doc, list)
        and bool(doc)
        and all(isinstance(d, dict) and "@context" in d for d in doc)
    )


def triples(doc: Any, m: str, source: str) -> tuple[list[Triple], list[str], str | None]:
    """Content triples, notes on what was kept other than as given, and the top node's IRI.

    pyld drops, without a word, a key that makes no absolute IRI and an `@id`
    that is not one; and it resolves relative `@id`s against the base, which
    would put them inside this server's own IRI space. So keys are made IRIs
    first, the document is expanded with no base (relative stays relative),
    and the expanded document is repaired before it becomes RDF: nothing is
    dropped, and whatever is kept other than as written is noted.
    """
    if depth(doc) > MAX_DEPTH:
        raise MalformedInput(
            f"JSON-LD nested too deep: arrays and objects deeper than the limit of {MAX_DEPTH} "
            "levels (JSON-LD processing takes more stack per level than reading JSON)",
            location=Location(source),
            details={"limit": MAX_DEPTH},
        )
    notes: list[str] = []
    dropped: list[object] = []
    options: dict[str, Any] = {"documentLoader": document_loader, "base": None}
    try:
        processor = jsonld.JsonLdProcessor(on_property_dropped=dropped.append)
    except TypeError:  # a PyLD without the handler: keys are made IRIs beforehand anyway
        processor = jsonld.JsonLdProcessor()
    try:
        expanded = processor.expand(_iri_keys(doc, _context_terms(doc), notes), options)
        notes += [
            f"key {k!r} makes no absolute IRI under the message's @context and is not kept"
            if k is not None
            else "a key the @context maps to null is not kept"
            for k in dict.fromkeys(dropped)
        ]
        _Repair(m, notes).document(expanded)
        dataset = _to_rdf(processor, expanded, options)
    except jsonld.JsonLdError as e:
        cause = _root_cause(e)
        if isinstance(cause, UnknownContext):
            cause.location = Location(source, pointer="/@context")
            raise cause from e
        raise MalformedInput(f"not valid JSON-LD: {_message(e)}", location=Location(source)) from e
    out: list[Triple] = []
    declared = _declared_terms()
    undeclared: set[str] = set()
    for graph_name, graph in dataset.items():
        if graph_name != "@default":
            notes.append(f"named graph {graph_name} is read into the message's own graph")
        for t in graph:
            s, p = _node(t["subject"], m, notes), _predicate(t["predicate"], notes)
            o = _term(t["object"], m, notes)
            out.append((s, p, o))
            for term in (p, o if p == nt.A else ""):
                if term.startswith(f"<{JT}") and term[1:-1] not in declared:
                    undeclared.add(term[1 + len(str(JT)) : -1])
    notes += [
        f"key {k!r} is not in the jobtrail vocabulary; kept as jt:{k}" for k in sorted(undeclared)
    ]
    top = doc.get("id") or doc.get("@id") if isinstance(doc, dict) else None
    return out, notes, top if isinstance(top, str) else None


Dataset = dict[str, list[dict[str, Any]]]
"""pyld's RDF dataset: graph name -> triples of {"type", "value", "datatype", "language"}."""


def _to_rdf(processor: Any, expanded: list[Any], options: dict[str, Any]) -> Dataset:
    """pyld's toRdf of a document already expanded: its second half only.

    The public `to_rdf` expands its input again, which costs as much as the
    first expansion; its second half (node map, then triples) is reached
    through pyld's own methods, and where a pyld lacks them, through `to_rdf`.
    """
    create = getattr(processor, "_create_node_map", None)
    graph_to_rdf = getattr(processor, "_graph_to_rdf", None)
    if create is None or graph_to_rdf is None:
        return _public_to_rdf(processor, expanded, options)
    issuer = jsonld.IdentifierIssuer("_:b")
    node_map: dict[str, Any] = {"@default": {}}
    create(expanded, node_map, "@default", issuer)
    opts = {"produceGeneralizedRdf": False, "processingMode": "json-ld-1.1", **options}
    return {
        name: graph_to_rdf(graph, issuer, opts)
        for name, graph in sorted(node_map.items())
        if name == "@default" or name.startswith("_:") or nt.checked_iri(name)
    }


def _public_to_rdf(processor: Any, expanded: list[Any], options: dict[str, Any]) -> Dataset:
    dataset: Dataset = processor.to_rdf(expanded, options)
    return dataset


@cache
def _declared_terms() -> frozenset[str]:
    return frozenset(str(getattr(JT, name)) for name in JT.__annotations__)


# ---------------------------------------------------------------- before expansion: keys

_NO_PCT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_IRI_SAFE = ":/?#@!$&'()*+,;=~%"


def _repaired_iri(value: str) -> str | None:
    """An IRI with the characters an IRI may not hold percent-encoded; None without a scheme."""
    if not _SCHEME.match(value):
        return None
    fixed = quote(_NO_PCT.sub("%25", value), safe=_IRI_SAFE)
    return fixed if nt.checked_iri(fixed) else None


def _context_terms(doc: Any) -> tuple[frozenset[str], frozenset[str]]:
    """Every term any @context of the document defines (a superset of the active ones),
    and those whose value is a literal as written (`"@type": "@json"`, an alias of @value)."""
    terms: set[str] = set()
    literal: set[str] = set()

    def context(ctx: Any) -> None:
        if isinstance(ctx, list):
            for c in ctx:
                context(c)
        elif isinstance(ctx, str):
            name = context_index().get(ctx) or context_index().get(ctx.rstrip("/"))
            if name is not None:
                context(context_document(name).get("@context"))
        elif isinstance(ctx, dict):
            for term, definition in ctx.items():
                terms.add(term)
                if definition == "@value" or (
                    isinstance(definition, dict) and definition.get("@type") == "@json"
                ):
                    literal.add(term)
                if term == "@import":
                    context(definition)
                elif isinstance(definition, dict) and "@context" in definition:
                    context(definition["@context"])

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            for key, value in node.items():
                if key == "@context":
                    context(value)
                else:
                    walk(value)

    walk(doc)
    return frozenset(terms), frozenset(literal)


def _iri_keys(doc: Any, terms: tuple[frozenset[str], frozenset[str]], notes: list[str]) -> Any:
    """The document with every key that would expand to no valid IRI percent-encoded.

    A key such as "my key" expands (through @vocab) to an IRI with a space,
    which pyld drops; "my%20key" expands to a valid one. Terms a context
    defines are left alone, whatever their spelling, and so is everything
    inside a literal (a JSON literal's keys are data, not properties).
    """
    if isinstance(doc, list):
        return [_iri_keys(item, terms, notes) for item in doc]
    if not isinstance(doc, dict):
        return doc
    defined, literal = terms
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key in ("@context", "@value") or key in literal:
            out[key] = value
            continue
        new = key
        if not key.startswith("@") and key not in defined and not _key_ok(key):
            new = next((c for c in _key_forms(key) if _key_ok(c) and c not in doc), key)
            if new != key:
                notes.append(
                    f"key {key!r} is no valid IRI as it is; kept percent-encoded as {new!r}"
                )
        out[new] = _iri_keys(value, terms, notes)
    return out


def _key_ok(key: str) -> bool:
    # as a compact IRI ("ex:a") or through @vocab: valid in the fragment of a vocabulary IRI
    return nt.checked_iri(f"{JT}{key}") is not None


def _key_forms(key: str) -> tuple[str, str]:
    return quote(key, safe=_IRI_SAFE.replace("%", "").replace("#", "")), quote(key, safe="")


# ---------------------------------------------------------------- after expansion: values


class _Repair:
    """Walks an expanded document, making every @id, property, type and language writable.

    - a reference (`{"@id": v}` as a value) that is not an absolute IRI is the
      string it is (`{"@value": v}`), unless it names a node of this document;
    - a node's own @id that is not absolute becomes an IRI inside the message;
    - a property or type IRI an IRI may not be (a space, `<`) is percent-encoded;
    - a language tag that is not BCP 47, or a datatype that is no IRI, is
      dropped from its value, which stays a plain string.
    Each change is noted, naming the key.
    """

    def __init__(self, m: str, notes: list[str]) -> None:
        self.m, self.notes = m, notes
        self.local: dict[str, str] = {}  # a node's relative @id -> its IRI in the message

    def document(self, expanded: list[Any]) -> None:
        self._collect(expanded)
        for node in expanded:
            self.node(node, "@graph")

    def _collect(self, items: Any) -> None:
        """The @id of every node (not a bare reference) that is no IRI, so references find it."""
        if isinstance(items, list):
            for item in items:
                self._collect(item)
        elif isinstance(items, dict):
            node_id = items.get("@id")
            if isinstance(node_id, str) and len(items) > 1 and not _is_id(node_id):
                self._local(node_id)
            for key, value in items.items():
                if key != "@value":
                    self._collect(value)

    def _local(self, node_id: str) -> str:
        iri = self.local.get(node_id)
        if iri is None:
            iri = self.local[node_id] = f"{self.m}#id-{quote(node_id, safe='')}"
        return iri

    def node(self, node: Any, key: str) -> None:
        if not isinstance(node, dict):
            return
        node_id = node.get("@id")
        if isinstance(node_id, str) and not _is_id(node_id):
            node["@id"] = self._local(node_id)
            where = "" if key.startswith("@") else f"key {_short(key)!r}: "
            self.notes.append(
                f"{where}@id {node_id!r} is no absolute IRI; the node is kept as "
                f"<{node['@id']}>, inside the message"
            )
        types = node.get("@type")
        if isinstance(types, list):
            node["@type"] = [self._iri(t, "@type") for t in types]
        for prop in [k for k in node if not k.startswith("@")]:
            values = node[prop]
            if not nt.checked_iri(prop):
                fixed = _repaired_iri(prop) or f"{self.m}#key-{quote(prop, safe='')}"
                self.notes.append(f"key {prop!r} is no valid IRI; kept as <{fixed}>")
                del node[prop]
                node.setdefault(fixed, []).extend(values)
                prop = fixed
            self.values(values, prop)
        for keyword in ("@graph", "@included"):
            for inner in node.get(keyword, []):
                self.node(inner, keyword)
        for prop, nodes in list(node.get("@reverse", {}).items()):
            for inner in nodes:
                self.node(inner, prop)

    def values(self, values: list[Any], key: str) -> None:
        for i, item in enumerate(values):
            if not isinstance(item, dict):
                continue
            if "@value" in item:
                self.value(item, key)
            elif "@list" in item:
                self.values(item["@list"], key)
            elif set(item) <= {"@id", "@index"} and isinstance(ref := item.get("@id"), str):
                if ref in self.local:
                    item["@id"] = self.local[ref]
                elif not _is_id(ref):
                    values[i] = {"@value": ref}
                    self.notes.append(
                        f"key {_short(key)!r}: {ref!r} is no absolute IRI; kept as a string"
                    )
            else:
                self.node(item, key)

    def value(self, item: dict[str, Any], key: str) -> None:
        language = item.get("@language")
        if isinstance(language, str) and not _language_ok(language):
            del item["@language"]
            self.notes.append(
                f"key {_short(key)!r}: {language!r} is no language tag; the value is kept "
                "as a plain string"
            )
        datatype = item.get("@type")
        if isinstance(datatype, str) and datatype != "@json" and not nt.checked_iri(datatype):
            del item["@type"]
            self.notes.append(
                f"key {_short(key)!r}: datatype {datatype!r} is no IRI; the value is kept "
                "as a plain string"
            )

    def _iri(self, value: str, key: str) -> str:
        if _is_id(value):
            return value
        fixed = _repaired_iri(value) or self._local(value)
        self.notes.append(f"key {key!r}: {value!r} is no valid IRI; kept as <{fixed}>")
        return fixed


def _is_id(value: str) -> bool:
    return value.startswith("_:") or nt.checked_iri(value) is not None


@lru_cache(maxsize=1024)
def _language_ok(tag: str) -> bool:
    try:
        ox.Literal("", language=tag)
    except ValueError:
        return False
    return True


def _short(iri: str) -> str:
    """A key as the document likely wrote it: a jobtrail term without its namespace."""
    return iri.removeprefix(str(JT))


# ---------------------------------------------------------------- pyld's RDF terms as N-Triples


def _node(t: dict[str, str], m: str, notes: list[str]) -> str:
    """A subject: an IRI, or a blank node made an IRI inside the message."""
    if t["type"] == "blank node":
        return nt.iri(f"{m}#{t['value'][2:]}")
    return nt.checked_iri(t["value"]) or _kept_inside(t["value"], m, notes)


def _predicate(t: dict[str, str], notes: list[str]) -> str:
    value = t["value"]
    term = nt.checked_iri(value)
    if term is None:
        fixed = _repaired_iri(value) or f"{JT}{quote(value, safe='')}"
        notes.append(f"property {value!r} is no valid IRI; kept as <{fixed}>")
        term = nt.iri(fixed)
    return term


def _kept_inside(value: str, m: str, notes: list[str]) -> str:
    iri = f"{m}#id-{quote(value, safe='')}"
    notes.append(f"{value!r} is no valid IRI; kept as <{iri}>, inside the message")
    return nt.iri(iri)


def _term(t: dict[str, str], m: str, notes: list[str]) -> str:
    """An object as N-Triples: every IRI and language tag from the input is checked here
    too, so whatever the repair above missed still cannot make invalid N-Triples."""
    kind, value = t["type"], t["value"]
    if kind == "IRI":
        term = nt.checked_iri(value)
        if term is None:
            notes.append(f"{value!r} is no valid IRI; kept as a string")
            return nt.lit(value)
        return term
    if kind == "blank node":
        return nt.iri(f"{m}#{value[2:]}")
    language = t.get("language")
    if language:
        if _language_ok(language):
            return f"{nt.lit(value)}@{language}"
        notes.append(f"{language!r} is no language tag; {value!r} is kept as a plain string")
        return nt.lit(value)
    datatype = t.get("datatype")
    if not datatype or datatype == nt.XSD_STRING:
        return nt.lit(value)
    if nt.checked_iri(datatype) is None:
        notes.append(f"datatype {datatype!r} is no IRI; {value!r} is kept as a plain string")
        return nt.lit(value)
    return nt.typed(value, datatype)


def _root_cause(e: BaseException) -> BaseException:
    seen = e
    while seen.__cause__ is not None and seen.__cause__ is not seen:
        seen = seen.__cause__
    return seen


def _message(e: BaseException) -> str:
    """What went wrong, from pyld's error and its causes: their messages, not their repr."""
    parts: list[str] = []
    seen: BaseException | None = e
    while seen is not None and len(parts) < 8:
        text = str(seen.args[0]) if seen.args else type(seen).__name__
        code = getattr(seen, "code", None)
        if code:
            text += f" ({code})"
        if text not in parts:
            parts.append(text)
        seen = seen.__cause__
    return ": ".join(parts)
