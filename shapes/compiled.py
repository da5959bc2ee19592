"""The shapes compiled to Python checks over N-Triples term strings.

pySHACL takes milliseconds per message; the bulk loader needs microseconds.
This module reads the same shapes files and turns each constraint into a
small function over an index of one message's triples. It understands the
SHACL Core subset listed in `_NODE_KEYS`/`_PROPERTY_KEYS` and refuses to
compile a shape that uses anything else, so a shape can never be silently
ignored; tests run pySHACL and this validator over the same messages and
require the same results (focus node, path, severity).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache
from typing import Any

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection

from jobtrail.ingest import nt
from jobtrail.ingest.nt import parse_term
from jobtrail.store import Triple
from jobtrail.vocab.terms import RDF, RDFS, SH, XSD

from .report import VIOLATION, Report, Result

_TYPE = f"<{RDF.type}>"
_XSD_STRING = str(XSD.string)
_XSD_DECIMAL, _XSD_DOUBLE, _XSD_FLOAT = str(XSD.decimal), str(XSD.double), str(XSD.float)
_XSD_BOOLEAN, _XSD_DATETIME, _XSD_BASE64 = str(XSD.boolean), str(XSD.dateTime), str(XSD.base64Binary)
_SUBCLASS = f"<{RDFS.subClassOf}>"

_IGNORED = {SH.name, SH.description, SH.order, SH.group, RDFS.comment, RDFS.label, RDF.type}
_VALUE_KEYS = {
    SH.datatype, SH.nodeKind, SH.pattern, SH.flags, SH["class"], SH["in"], SH.node,
    SH.minInclusive, SH.maxInclusive, SH.minExclusive, SH.maxExclusive, SH.minLength, SH.maxLength,
}
_NODE_KEYS = _VALUE_KEYS | {
    SH.targetClass, SH.targetNode, SH.targetObjectsOf, SH.targetSubjectsOf,
    SH.property, SH.severity, SH.message, SH.hasValue,
}
_PROPERTY_KEYS = _VALUE_KEYS | {SH.path, SH.minCount, SH.maxCount, SH.severity, SH.message, SH.hasValue}


class ShapeCompileError(ValueError):
    """A shape uses SHACL this compiler does not implement (a programming error)."""


# --------------------------------------------------------------- the data index


class Index:
    """One graph's triples by subject, and rdf:type by node."""

    __slots__ = ("spo", "types", "by_predicate", "by_class", "subclassing")

    def __init__(self, triples: Iterable[Triple], target_predicates: frozenset[str] = frozenset()):
        spo: dict[str, dict[str, list[str]]] = {}
        by_predicate: dict[str, list[tuple[str, str]]] = {}
        for s, p, o in triples:
            preds = spo.get(s)
            if preds is None:
                spo[s] = {p: [o]}
            else:
                objs = preds.get(p)
                if objs is None:
                    preds[p] = [o]
                else:
                    objs.append(o)
            if p in target_predicates:
                by_predicate.setdefault(p, []).append((s, o))
        self.spo = spo
        self.by_predicate = by_predicate
        self.types: dict[str, list[str]] = {s: ps[_TYPE] for s, ps in spo.items() if _TYPE in ps}
        by_class: dict[str, list[str]] = {}
        for node, classes in self.types.items():
            for c in classes:
                by_class.setdefault(c, []).append(node)
        self.by_class = by_class
        # rdfs:subClassOf in the data counts for targets and sh:class (as in pySHACL)
        self.subclassing = any(_SUBCLASS in preds for preds in spo.values())

    def values(self, node: str, predicate: str) -> list[str]:
        preds = self.spo.get(node)
        return preds.get(predicate, []) if preds else []

    def is_instance(self, node: str, cls: str) -> bool:
        if not self.subclassing:
            return cls in self.types.get(node, ())
        seen: set[str] = set()
        todo = list(self.types.get(node, ()))
        while todo:
            t = todo.pop()
            if t == cls:
                return True
            if t not in seen:
                seen.add(t)
                todo += self.values(t, _SUBCLASS)
        return False

    def instances(self, cls: str) -> list[str]:
        if not self.subclassing:
            return self.by_class.get(cls, [])
        return [n for n in self.types if self.is_instance(n, cls)]


# --------------------------------------------------------------- value checks

ValueCheck = Callable[[str, Index], bool]

_INTEGER_TYPES = {
    str(XSD[t]) for t in (
        "integer", "nonNegativeInteger", "positiveInteger", "nonPositiveInteger", "negativeInteger",
        "long", "int", "short", "byte", "unsignedLong", "unsignedInt", "unsignedShort", "unsignedByte",
    )
}
_INT_RE = re.compile(r"^[+-]?\d+$")
_DECIMAL_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_DOUBLE_RE = re.compile(r"^([+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|[+-]?INF|NaN)$")
_DATETIME_RE = re.compile(r"^-?\d{4,}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?$")
_B64_RE = re.compile(r"^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$")


@lru_cache(maxsize=4096)
def _well_formed(value: str, datatype: str) -> bool:
    if datatype in _INTEGER_TYPES:
        if not _INT_RE.match(value):
            return False
        n = int(value)
        if datatype.endswith("nonNegativeInteger") or "unsigned" in datatype:
            return n >= 0
        if datatype.endswith("positiveInteger") and "non" not in datatype:
            return n > 0
        return True
    if datatype == _XSD_DECIMAL:
        return bool(_DECIMAL_RE.match(value))
    if datatype in (_XSD_DOUBLE, _XSD_FLOAT):
        return bool(_DOUBLE_RE.match(value))
    if datatype == _XSD_BOOLEAN:
        return value in ("true", "false", "1", "0")
    if datatype == _XSD_DATETIME:
        match = _DATETIME_RE.match(value)
        if not match:
            return False
        fraction = match.group(1)
        if fraction and len(fraction) > 7:  # Python keeps microseconds only
            value = value.replace(fraction, fraction[:7], 1)
        try:
            datetime.fromisoformat(value)
        except ValueError:
            return False
        return True
    if datatype == _XSD_BASE64:
        return bool(_B64_RE.match(value))
    return True


def _ordered(term: str) -> Any:
    """A literal's value for comparisons, or None when it has no order we know."""
    kind, value, datatype = parse_term(term)
    if kind != "literal" or datatype is None or not _well_formed(value, datatype):
        return None
    try:
        if datatype in _INTEGER_TYPES or datatype in (_XSD_DECIMAL, _XSD_DOUBLE, _XSD_FLOAT):
            return ("number", Decimal(value))
    except InvalidOperation:
        return None
    if datatype == _XSD_DATETIME:
        return ("dateTime", value)
    return None


def _datatype(dt: str) -> ValueCheck:
    if dt == _XSD_STRING:
        # a plain literal is an xsd:string, and ends with the quote (no ^^ and no @)
        return lambda term, idx: term[0] == '"' and term[-1] == '"'

    def check(term: str, idx: Index) -> bool:
        kind, value, datatype = parse_term(term)
        return kind == "literal" and datatype == dt and _well_formed(value, dt)

    return check


_KINDS = {
    SH.IRI: ("iri",), SH.BlankNode: ("bnode",), SH.Literal: ("literal",),
    SH.BlankNodeOrIRI: ("bnode", "iri"), SH.BlankNodeOrLiteral: ("bnode", "literal"),
    SH.IRIOrLiteral: ("iri", "literal"),
}


def _node_kind(kind: URIRef) -> ValueCheck:
    allowed = _KINDS[kind]
    return lambda term, idx: parse_term(term)[0] in allowed


def _pattern(regex: str, flags: str) -> ValueCheck:
    compiled = re.compile(regex, re.IGNORECASE if "i" in flags else 0)

    def check(term: str, idx: Index) -> bool:
        kind, value, _ = parse_term(term)
        return kind != "bnode" and compiled.search(value) is not None

    return check


def _length(bound: int, longest: bool) -> ValueCheck:
    def check(term: str, idx: Index) -> bool:
        kind, value, _ = parse_term(term)
        if kind == "bnode":
            return False
        return len(value) <= bound if longest else len(value) >= bound

    return check


def _compare(bound: str, op: Callable[[Any, Any], bool]) -> ValueCheck:
    limit = _ordered(bound)

    def check(term: str, idx: Index) -> bool:
        value = _ordered(term)
        return value is not None and limit is not None and value[0] == limit[0] and op(value[1], limit[1])

    return check


def _class(cls: str) -> ValueCheck:
    return lambda term, idx: term[0] != '"' and idx.is_instance(term, cls)


def _in(members: frozenset[str]) -> ValueCheck:
    return lambda term, idx: term in members


# --------------------------------------------------------------- shapes


@dataclass
class Shape:
    iri: str
    severity: str = VIOLATION
    message: str | None = None
    path: str | None = None  # N-Triples predicate, for property shapes
    min_count: int | None = None
    max_count: int | None = None
    has_value: str | None = None
    checks: list[tuple[str, ValueCheck]] = field(default_factory=list)
    nodes: list[Shape] = field(default_factory=list)  # sh:node
    properties: list[Shape] = field(default_factory=list)
    target_class: list[str] = field(default_factory=list)
    target_node: list[str] = field(default_factory=list)
    target_objects_of: list[str] = field(default_factory=list)
    target_subjects_of: list[str] = field(default_factory=list)

    def focus_nodes(self, idx: Index) -> Iterable[str]:
        if len(self.target_class) == 1 and not (
            self.target_node or self.target_objects_of or self.target_subjects_of
        ):
            return idx.instances(self.target_class[0])
        found: set[str] = set(self.target_node)
        for cls in self.target_class:
            found.update(idx.instances(cls))
        for p in self.target_objects_of:
            found.update(o for _, o in idx.by_predicate.get(p, ()))
        for p in self.target_subjects_of:
            found.update(s for s, _ in idx.by_predicate.get(p, ()))
        return found

    def validate(self, focus: str, idx: Index, out: list[Result]) -> None:
        if self.path is None:
            self._check_values(focus, (focus,), idx, out)
            if self.has_value is not None and self.has_value != focus:
                self._fail(out, focus, None, "HasValue", f"is not {self.has_value}")
            for prop in self.properties:
                prop.validate(focus, idx, out)
            return
        preds = idx.spo.get(focus)
        values = preds.get(self.path, ()) if preds else ()
        n = len(values)
        if self.min_count is not None and n < self.min_count:
            self._fail(out, focus, None, "MinCount", f"fewer than {self.min_count} values")
        if self.max_count is not None and n > self.max_count:
            self._fail(out, focus, None, "MaxCount", f"more than {self.max_count} values")
        if self.has_value is not None and self.has_value not in values:
            self._fail(out, focus, None, "HasValue", f"no value {self.has_value}")
        if values:
            self._check_values(focus, values, idx, out)

    def _check_values(self, focus: str, values: Iterable[str], idx: Index, out: list[Result]) -> None:
        for value in values:
            for component, check in self.checks:
                if not check(value, idx):
                    self._fail(out, focus, value, component, f"{component} constraint not met")
            for node in self.nodes:
                if not node.conforms(value, idx):
                    self._fail(out, focus, value, "Node", f"value does not conform to {node.iri}")

    def conforms(self, node: str, idx: Index) -> bool:
        found: list[Result] = []
        self.validate(node, idx, found)
        return not found

    def _fail(self, out: list[Result], focus: str, value: str | None, component: str, default: str) -> None:
        out.append(Result(
            focus=_plain(focus),
            path=_plain(self.path) if self.path else None,
            message=self.message or default,
            severity=self.severity,
            shape=self.iri,
            component=f"{SH}{component}ConstraintComponent",
            value=value,
        ))


def _plain(term: str) -> str:
    return term[1:-1] if term.startswith("<") else term


def _nt(term: Any) -> str:
    """An rdflib term as the N-Triples string readers produce."""
    if isinstance(term, URIRef):
        return nt.iri(str(term))
    if isinstance(term, BNode):
        return f"_:{term}"
    assert isinstance(term, Literal)
    if term.language:
        return f"{nt.lit(str(term))}@{term.language}"
    if term.datatype is None or term.datatype == XSD.string:
        return nt.lit(str(term))
    return nt.typed(str(term), str(term.datatype))


class _Compiler:
    def __init__(self, graph: Graph):
        self.g = graph
        self.done: dict[Any, Shape] = {}

    def shape(self, node: Any, *, is_property: bool, parent: str | None = None) -> Shape:
        if node in self.done:
            return self.done[node]
        g = self.g
        # a property shape is usually a blank node: name it by the node shape it belongs to
        shape = Shape(iri=str(node) if isinstance(node, URIRef) else parent or "")
        self.done[node] = shape
        allowed = _PROPERTY_KEYS if is_property else _NODE_KEYS
        for p, o in g.predicate_objects(node):
            if p in _IGNORED:
                continue
            if p not in allowed:
                raise ShapeCompileError(f"shape {node}: {p} is not supported by the compiled validator")
            if p == SH.path:
                if not isinstance(o, URIRef):
                    raise ShapeCompileError(f"shape {node}: only predicate paths are supported")
                shape.path = f"<{o}>"
            elif p == SH.severity:
                shape.severity = str(o)
            elif p == SH.message:
                shape.message = str(o)
            elif p == SH.minCount:
                shape.min_count = int(o)
            elif p == SH.maxCount:
                shape.max_count = int(o)
            elif p == SH.hasValue:
                shape.has_value = _nt(o)
            elif p == SH.property:
                shape.properties.append(self.shape(o, is_property=True, parent=shape.iri))
            elif p == SH.node:
                shape.nodes.append(self.shape(o, is_property=False))
            elif p == SH.targetClass:
                shape.target_class.append(f"<{o}>")
            elif p == SH.targetNode:
                shape.target_node.append(_nt(o))
            elif p == SH.targetObjectsOf:
                shape.target_objects_of.append(f"<{o}>")
            elif p == SH.targetSubjectsOf:
                shape.target_subjects_of.append(f"<{o}>")
            elif p != SH.flags:
                shape.checks.append(self.value_check(node, p, o))
        return shape

    def value_check(self, node: Any, p: Any, o: Any) -> tuple[str, ValueCheck]:
        name = str(p)[len(str(SH)) :]
        component = name[0].upper() + name[1:]
        if p == SH.datatype:
            return component, _datatype(str(o))
        if p == SH.nodeKind:
            return component, _node_kind(o)
        if p == SH.pattern:
            flags = self.g.value(node, SH.flags)
            return component, _pattern(str(o), str(flags or ""))
        if p == SH["class"]:
            return component, _class(f"<{o}>")
        if p == SH["in"]:
            return component, _in(frozenset(_nt(m) for m in Collection(self.g, o)))
        if p in (SH.minLength, SH.maxLength):
            return component, _length(int(o), p == SH.maxLength)
        ops: dict[Any, Callable[[Any, Any], bool]] = {
            SH.minInclusive: lambda a, b: a >= b,
            SH.maxInclusive: lambda a, b: a <= b,
            SH.minExclusive: lambda a, b: a > b,
            SH.maxExclusive: lambda a, b: a < b,
        }
        return component, _compare(_nt(o), ops[p])


class CompiledShapes:
    """All node shapes with targets, ready to validate one graph at a time."""

    def __init__(self, graph: Graph):
        compiler = _Compiler(graph)
        targets = (SH.targetClass, SH.targetNode, SH.targetObjectsOf, SH.targetSubjectsOf)
        roots = sorted({s for t in targets for s in graph.subjects(t, None)}, key=str)
        self.shapes = [compiler.shape(node, is_property=False) for node in roots]
        # compile every shape, targeted or not, so unsupported SHACL fails early
        for node in graph.subjects(RDF.type, SH.NodeShape):
            compiler.shape(node, is_property=False)

        self.target_predicates = frozenset(
            p for shape in self.shapes for p in (*shape.target_objects_of, *shape.target_subjects_of)
        )

    def validate(self, triples: Iterable[Triple]) -> Report:
        idx = Index(triples, self.target_predicates)
        results: list[Result] = []
        for shape in self.shapes:
            for focus in shape.focus_nodes(idx):
                shape.validate(focus, idx, results)
        return Report(results)


@cache
def compiled() -> CompiledShapes:
    from . import shapes_graph

    return CompiledShapes(shapes_graph())

