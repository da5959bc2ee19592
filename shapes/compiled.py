"""The shapes compiled to Python checks over N-Triples term strings.

pySHACL takes milliseconds per message; the bulk loader needs microseconds.
This module reads the same shapes files and turns each constraint into a
small function over an index of one message's triples. It understands the
SHACL Core subset listed in `_NODE_KEYS`/`_PROPERTY_KEYS` and refuses to
compile a shape that uses anything else, so a shape can never be silently
ignored; tests run pySHACL and this validator over the same messages and
require the same results (focus node, path, severity).

What is implemented, exactly, and what is refused (ShapeCompileError):

- Targets: sh:targetClass, sh:targetNode, sh:targetObjectsOf,
  sh:targetSubjectsOf, and the implicit class target of a shape that is also
  an rdfs:Class or owl:Class; on node shapes and on property shapes.
- sh:datatype: the lexical space of each datatype is XSD 1.1's, checked
  exactly, for xsd:string, rdf:langString, the integer types (with their
  ranges), xsd:decimal, xsd:double, xsd:float, xsd:boolean, xsd:dateTime,
  xsd:date and xsd:base64Binary; xsd:anyURI (XSD 1.1: any string, as in
  pySHACL) and rdf:JSON (not checked by rdflib either) accept any lexical
  form. Any other datatype is refused. Where rdflib (so pySHACL) accepts
  forms XSD does not, this validator follows XSD (tests/shapes lists each
  known difference).
- sh:minInclusive/maxInclusive/minExclusive/maxExclusive: numeric bounds
  (all numeric types compared as exact decimals; NaN is incomparable) and
  xsd:dateTime bounds (XSD's partial order: instants when both have a time
  zone, local times when neither has, and with one time zone missing only
  when the two are more than 14 hours apart). Bounds of any other type are
  refused.
- sh:pattern with sh:flags "i" and "m" (as pySHACL; "s", "x", "q" refused).
- Recursive shapes (a shape reaching itself through sh:node/sh:property)
  are refused: SHACL leaves their meaning undefined.
- Known limits, where the fast path follows rdflib rather than XSD:
  sh:pattern is a Python regular expression (as in pySHACL), so "$" also
  matches before a final newline.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache
from typing import Any

from jobtrail.base import nt
from jobtrail.base.nt import parse_term
from jobtrail.base.terms import OWL, RDF, RDFS, SH, XSD
from jobtrail.shapes.files import shapes_graph
from jobtrail.shapes.report import VIOLATION, Report, Result
from jobtrail.store import Triple
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection

_TYPE = f"<{RDF.type}>"
_XSD_STRING = str(XSD.string)
_XSD_DECIMAL, _XSD_DOUBLE, _XSD_FLOAT = str(XSD.decimal), str(XSD.double), str(XSD.float)
_XSD_BOOLEAN, _XSD_DATETIME = str(XSD.boolean), str(XSD.dateTime)
_XSD_BASE64 = str(XSD.base64Binary)
_XSD_DATE, _XSD_ANYURI = str(XSD.date), str(XSD.anyURI)
_RDF_LANGSTRING, _RDF_JSON = str(RDF.langString), str(RDF.JSON)
_SUBCLASS = f"<{RDFS.subClassOf}>"

_UNBOUNDED = sys.maxsize
_NO_PREDICATES: dict[str, list[str]] = {}
_IGNORED = {SH.name, SH.description, SH.order, SH.group, RDFS.comment, RDFS.label}
_SHAPE_TYPES = {SH.NodeShape, SH.PropertyShape}
_CLASS_TYPES = {RDFS.Class, OWL.Class}
_TARGET_KEYS = {SH.targetClass, SH.targetNode, SH.targetObjectsOf, SH.targetSubjectsOf}
_VALUE_KEYS = {
    SH.datatype,
    SH.nodeKind,
    SH.pattern,
    SH.flags,
    SH["class"],
    SH["in"],
    SH.node,
    SH.minInclusive,
    SH.maxInclusive,
    SH.minExclusive,
    SH.maxExclusive,
    SH.minLength,
    SH.maxLength,
}
_NODE_KEYS = _VALUE_KEYS | _TARGET_KEYS | {SH.property, SH.severity, SH.message, SH.hasValue}
_PROPERTY_KEYS = (
    _VALUE_KEYS
    | _TARGET_KEYS
    | {
        SH.path,
        SH.minCount,
        SH.maxCount,
        SH.severity,
        SH.message,
        SH.hasValue,
    }
)


class ShapeCompileError(ValueError):
    """A shape uses SHACL this compiler does not implement (a programming error)."""


# --------------------------------------------------------------- the data index


class Index:
    """One graph's triples by subject, and rdf:type by node.

    An RDF graph is a set: a triple given twice is indexed once.
    """

    __slots__ = ("spo", "types", "by_predicate", "by_class", "subclassing")

    def __init__(self, triples: Iterable[Triple], target_predicates: frozenset[str] = frozenset()):
        spo: dict[str, dict[str, list[str]]] = {}
        by_predicate: dict[str, list[tuple[str, str]]] = {}
        multi: list[list[str]] = []  # lists given a second value: the only ones that can repeat
        for s, p, o in triples:
            preds = spo.get(s)
            if preds is None:
                spo[s] = {p: [o]}
            else:
                objs = preds.get(p)
                if objs is None:
                    preds[p] = [o]
                else:
                    if len(objs) == 1:
                        multi.append(objs)
                    objs.append(o)
            if p in target_predicates:
                by_predicate.setdefault(p, []).append((s, o))
        for objs in multi:
            if len(set(objs)) != len(objs):
                objs[:] = dict.fromkeys(objs)
        self.spo = spo
        self.by_predicate = by_predicate  # may repeat a pair: read into sets only
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


# --------------------------------------------------------------- lexical spaces (XSD 1.1)

# [0-9], not \d (which matches any Unicode digit), and fullmatch, not $ (which
# matches before a final newline): XSD's lexical spaces are ASCII and exact.
_INT_RE = re.compile(r"[+-]?[0-9]+")
_DECIMAL_RE = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")
_DOUBLE_RE = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?|[+-]?INF|NaN")
_YEAR_MONTH_DAY = r"(-?(?:[1-9][0-9]{3,}|0[0-9]{3}))-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
_TIME_ZONE = r"(Z|[+-](?:(?:0[0-9]|1[0-3]):[0-5][0-9]|14:00))?"
_DATE_RE = re.compile(_YEAR_MONTH_DAY + _TIME_ZONE)
_DATETIME_RE = re.compile(
    _YEAR_MONTH_DAY + r"T([01][0-9]|2[0-4]):([0-5][0-9]):([0-5][0-9])(?:\.([0-9]+))?" + _TIME_ZONE
)
_B64 = "A-Za-z0-9+/"
_B64_RE = re.compile(rf"(?:[{_B64}]{{4}})*(?:[{_B64}]{{2}}[AEIMQUYcgkosw048]=|[{_B64}][AQgw]==)?")

# the value ranges of XSD's built-in integer types
_INTEGER_RANGES: dict[str, tuple[int | None, int | None]] = {
    str(XSD[name]): bounds
    for name, bounds in {
        "integer": (None, None),
        "nonNegativeInteger": (0, None),
        "positiveInteger": (1, None),
        "nonPositiveInteger": (None, 0),
        "negativeInteger": (None, -1),
        "long": (-(2**63), 2**63 - 1),
        "int": (-(2**31), 2**31 - 1),
        "short": (-(2**15), 2**15 - 1),
        "byte": (-(2**7), 2**7 - 1),
        "unsignedLong": (0, 2**64 - 1),
        "unsignedInt": (0, 2**32 - 1),
        "unsignedShort": (0, 2**16 - 1),
        "unsignedByte": (0, 2**8 - 1),
    }.items()
}
_NUMERIC = {*_INTEGER_RANGES, _XSD_DECIMAL, _XSD_DOUBLE, _XSD_FLOAT}


def _integer(low: int | None, high: int | None) -> Callable[[str], bool]:
    if low is None and high is None:
        return lambda value: _INT_RE.fullmatch(value) is not None

    @lru_cache(maxsize=4096)
    def check(value: str) -> bool:
        if _INT_RE.fullmatch(value) is None:
            return False
        n = int(value)
        return (low is None or n >= low) and (high is None or n <= high)

    return check


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 in the proleptic Gregorian calendar with a year zero (XSD 1.1)."""
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _zone_seconds(zone: str) -> int:
    if zone == "Z":
        return 0
    seconds = int(zone[1:3]) * 3600 + int(zone[4:6]) * 60
    return -seconds if zone[0] == "-" else seconds


@lru_cache(maxsize=4096)
def _datetime_key(value: str) -> tuple[bool, int, str] | None:
    """An xsd:dateTime as (has a time zone, whole seconds, fraction digits), or None if
    ill-formed: seconds since 1970 in UTC when zoned, on the local time line when not."""
    m = _DATETIME_RE.fullmatch(value)
    if m is None:
        return None
    year, month, day = int(m[1]), int(m[2]), int(m[3])
    hour, minute, second, fraction = int(m[4]), int(m[5]), int(m[6]), (m[7] or "").rstrip("0")
    if day > _days_in_month(year, month):
        return None
    if hour == 24 and (minute or second or fraction):  # 24:00:00 is the end of the day
        return None
    seconds = _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
    zone = m[8]
    if zone is not None:
        seconds -= _zone_seconds(zone)
    return zone is not None, seconds, fraction


@lru_cache(maxsize=4096)
def _date(value: str) -> bool:
    m = _DATE_RE.fullmatch(value)
    return m is not None and int(m[3]) <= _days_in_month(int(m[1]), int(m[2]))


def _base64(value: str) -> bool:
    # not cached: the values are whole messages, and unique
    if " " in value:  # XSD allows one space between any two characters
        if value[0] == " " or value[-1] == " " or "  " in value:
            return False
        value = value.replace(" ", "")
    return _B64_RE.fullmatch(value) is not None


def _any(value: str) -> bool:
    return True


_LEXICAL: dict[str, Callable[[str], bool]] = {
    **{dt: _integer(*bounds) for dt, bounds in _INTEGER_RANGES.items()},
    _XSD_DECIMAL: lambda value: _DECIMAL_RE.fullmatch(value) is not None,
    _XSD_DOUBLE: lambda value: _DOUBLE_RE.fullmatch(value) is not None,
    _XSD_FLOAT: lambda value: _DOUBLE_RE.fullmatch(value) is not None,
    _XSD_BOOLEAN: lambda value: value in ("true", "false", "1", "0"),
    _XSD_DATETIME: lambda value: _datetime_key(value) is not None,
    _XSD_DATE: _date,
    _XSD_BASE64: _base64,
    # XSD 1.1: any string is an anyURI's lexical form (pySHACL accepts any, too)
    _XSD_ANYURI: _any,
    # rdflib does not check rdf:JSON, so pySHACL accepts any lexical form; so do we
    _RDF_JSON: _any,
}


# --------------------------------------------------------------- value checks

ValueCheck = Callable[[str, Index], bool]


def _datatype(dt: str) -> ValueCheck | None:
    if dt == _XSD_STRING:
        # a plain literal is an xsd:string, and ends with the quote (no ^^ and no @)
        return lambda term, idx: term[0] == '"' and term[-1] == '"'
    if dt == _RDF_LANGSTRING:
        # a language-tagged literal: '"…"@tag' (a typed literal ends with '>')
        return lambda term, idx: term[0] == '"' and term[-1] != '"' and term[-1] != ">"
    lexical = _LEXICAL.get(dt)
    if lexical is None:
        return None
    suffix = f'"^^<{dt}>'
    cut = len(suffix)

    def check(term: str, idx: Index) -> bool:
        if term[0] != '"' or not term.endswith(suffix):
            return False
        value = term[1:-cut]
        if "\\" in value:  # escaped: let the N-Triples reader unescape it
            value = parse_term(term)[1]
        return lexical(value)

    return check


_ORDER_NUMBER, _ORDER_DATETIME = "number", "dateTime"
_FOURTEEN_HOURS = 14 * 3600


@lru_cache(maxsize=4096)
def _ordered(term: str) -> tuple[str, Any] | None:
    """A literal's value for comparisons, or None when it has none (NaN, an ill-formed
    literal, a type without an order we implement)."""
    kind, value, datatype = parse_term(term)
    if kind != "literal" or datatype is None:
        return None
    if datatype in _NUMERIC:
        if not _LEXICAL[datatype](value):
            return None
        try:
            number = Decimal(value)
        except InvalidOperation:
            return None
        return None if number.is_nan() else (_ORDER_NUMBER, number)
    if datatype == _XSD_DATETIME:
        key = _datetime_key(value)
        return None if key is None else (_ORDER_DATETIME, key)
    return None


def _order_datetimes(a: tuple[bool, int, str], b: tuple[bool, int, str]) -> int | None:
    """XSD's partial order of two dateTimes: -1, 0, 1, or None where it is indeterminate."""
    zoned_a, seconds_a, fraction_a = a
    zoned_b, seconds_b, fraction_b = b
    if zoned_a == zoned_b:
        # fractions are digit strings without trailing zeros: they compare as strings
        x, y = (seconds_a, fraction_a), (seconds_b, fraction_b)
        return (x > y) - (x < y)
    # one has no time zone: it may be anywhere from -14:00 to +14:00
    if zoned_a:
        order = _order_datetimes(b, a)
        return None if order is None else -order
    if (seconds_a + _FOURTEEN_HOURS, fraction_a) < (seconds_b, fraction_b):
        return -1
    if (seconds_a - _FOURTEEN_HOURS, fraction_a) > (seconds_b, fraction_b):
        return 1
    return None


def _order(a: tuple[str, Any], b: tuple[str, Any]) -> int | None:
    if a[0] != b[0]:
        return None
    if a[0] == _ORDER_NUMBER:
        return (a[1] > b[1]) - (a[1] < b[1])  # type: ignore[no-any-return]
    return _order_datetimes(a[1], b[1])


def _compare(limit: tuple[str, Any], accepted: frozenset[int]) -> ValueCheck:
    """Passes a value whose order against the bound is one of `accepted` (-1, 0, 1)."""

    def check(term: str, idx: Index) -> bool:
        value = _ordered(term)
        return value is not None and _order(value, limit) in accepted

    return check


_KINDS = {
    SH.IRI: ("iri",),
    SH.BlankNode: ("bnode",),
    SH.Literal: ("literal",),
    SH.BlankNodeOrIRI: ("bnode", "iri"),
    SH.BlankNodeOrLiteral: ("bnode", "literal"),
    SH.IRIOrLiteral: ("iri", "literal"),
}


def _node_kind(kind: URIRef) -> ValueCheck:
    allowed = _KINDS[kind]
    return lambda term, idx: parse_term(term)[0] in allowed


# SPARQL's (XPath's) flags this compiler implements, as pySHACL does: "i" and "m".
# pySHACL ignores "s", "x" and "q" (and reads flags case-insensitively), so they are refused.
_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE}


def _pattern(regex: str, flags: str) -> ValueCheck:
    compiled = re.compile(regex, sum(_FLAGS[f] for f in set(flags)))

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
    min_count: int = 0  # 0 and _UNBOUNDED: no sh:minCount, no sh:maxCount
    max_count: int = _UNBOUNDED
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
            if self.checks or self.nodes:
                self._check_values(focus, (focus,), idx, out)
            if self.has_value is not None and self.has_value != focus:
                self._fail(out, focus, None, "HasValue", f"is not {self.has_value}")
            if self.properties:
                here = idx.spo.get(focus) or _NO_PREDICATES  # once for all the properties
                for prop in self.properties:
                    prop._validate_values(focus, here.get(prop.path, ()), idx, out)  # type: ignore[arg-type]
            return
        preds = idx.spo.get(focus)
        self._validate_values(focus, preds.get(self.path, ()) if preds else (), idx, out)

    def _validate_values(
        self, focus: str, values: list[str] | tuple[()], idx: Index, out: list[Result]
    ) -> None:
        """A property shape's constraints on the values of its path at one focus node."""
        n = len(values)
        if n < self.min_count:
            self._fail(out, focus, None, "MinCount", f"fewer than {self.min_count} values")
        if n > self.max_count:
            self._fail(out, focus, None, "MaxCount", f"more than {self.max_count} values")
        if self.has_value is not None and self.has_value not in values:
            self._fail(out, focus, None, "HasValue", f"no value {self.has_value}")
        if values:
            self._check_values(focus, values, idx, out)

    def _check_values(
        self, focus: str, values: Iterable[str], idx: Index, out: list[Result]
    ) -> None:
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

    def _fail(
        self, out: list[Result], focus: str, value: str | None, component: str, default: str
    ) -> None:
        out.append(
            Result(
                focus=_plain(focus),
                path=_plain(self.path) if self.path else None,
                message=self.message or default,
                severity=self.severity,
                shape=self.iri,
                component=f"{SH}{component}ConstraintComponent",
                value=value,
            )
        )


def _plain(term: str) -> str:
    return term[1:-1] if term.startswith("<") else term


def _nt(term: Any) -> str:
    """An rdflib term as the N-Triples string readers produce."""
    text: str
    if isinstance(term, URIRef):
        text = nt.iri(str(term))
    elif isinstance(term, BNode):
        text = f"_:{term}"
    else:
        assert isinstance(term, Literal)
        if term.language:
            text = f"{nt.lit(str(term))}@{term.language}"
        elif term.datatype is None or term.datatype == XSD.string:
            text = nt.lit(str(term))
        else:
            text = nt.typed(str(term), str(term.datatype))
    return text


def _name(node: Any) -> str:
    return str(node) if isinstance(node, URIRef) else f"[] ({node})"


class _Compiler:
    def __init__(self, graph: Graph):
        self.g = graph
        self.done: dict[Any, Shape] = {}
        self.compiling: list[Any] = []  # the shapes being compiled, outermost first

    def shape(self, node: Any, *, is_property: bool, parent: str | None = None) -> Shape:
        if node in self.compiling:
            cycle = [*self.compiling[self.compiling.index(node) :], node]
            raise ShapeCompileError(
                "recursive shapes are not supported (SHACL leaves their meaning undefined): "
                + " -> ".join(_name(n) for n in cycle)
            )
        if node in self.done:
            return self.done[node]
        self.compiling.append(node)
        try:
            shape = self._compile(node, is_property=is_property, parent=parent)
        finally:
            self.compiling.pop()
        return shape

    def _compile(self, node: Any, *, is_property: bool, parent: str | None) -> Shape:
        g = self.g
        has_path = (node, SH.path, None) in g
        if has_path != is_property:
            used, must = ("sh:property", "must") if is_property else ("sh:node", "must not")
            raise ShapeCompileError(f"shape {node}: a shape used as {used} {must} have an sh:path")
        # a property shape is usually a blank node: name it by the node shape it belongs to
        shape = Shape(iri=str(node) if isinstance(node, URIRef) else parent or "")
        self.done[node] = shape
        allowed = _PROPERTY_KEYS if is_property else _NODE_KEYS
        types = set(g.objects(node, RDF.type))
        if types - _SHAPE_TYPES - _CLASS_TYPES:
            raise ShapeCompileError(
                f"shape {node}: rdf:type {sorted(map(str, types - _SHAPE_TYPES - _CLASS_TYPES))}: "
                "a shape may only be an sh:NodeShape, sh:PropertyShape, rdfs:Class or owl:Class"
            )
        if types & _CLASS_TYPES:
            # SHACL 2.1.3.3, implicit class target: a shape that is a class targets its instances
            if not types & _SHAPE_TYPES or not isinstance(node, URIRef):
                raise ShapeCompileError(
                    f"shape {node}: a class used as a shape must be an IRI typed sh:NodeShape or "
                    "sh:PropertyShape (implicit class target)"
                )
            shape.target_class.append(f"<{node}>")
        for p, o in g.predicate_objects(node):
            if p in _IGNORED or p == RDF.type:
                continue
            if p not in allowed:
                raise ShapeCompileError(
                    f"shape {node}: {p} is not supported by the compiled validator"
                )
            if p == SH.path:
                if not isinstance(o, URIRef):
                    raise ShapeCompileError(f"shape {node}: only predicate paths are supported")
                if shape.path is not None:
                    raise ShapeCompileError(f"shape {node}: more than one sh:path")
                shape.path = f"<{o}>"
            elif p == SH.severity:
                shape.severity = str(o)
            elif p == SH.message:
                shape.message = str(o)
            elif p == SH.minCount:
                shape.min_count = int(str(o))
            elif p == SH.maxCount:
                shape.max_count = int(str(o))
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
            check = _datatype(str(o))
            if check is None:
                raise ShapeCompileError(
                    f"shape {node}: sh:datatype {o}: the compiled validator does not check this "
                    "datatype's lexical forms"
                )
            return component, check
        if p == SH.nodeKind:
            return component, _node_kind(o)
        if p == SH.pattern:
            flags = str(self.g.value(node, SH.flags) or "")
            if set(flags) - set(_FLAGS):
                raise ShapeCompileError(
                    f"shape {node}: sh:flags {flags!r}: only the flags 'i' and 'm' are supported"
                )
            return component, _pattern(str(o), flags)
        if p == SH["class"]:
            return component, _class(f"<{o}>")
        if p == SH["in"]:
            return component, _in(frozenset(_nt(m) for m in Collection(self.g, o)))
        if p in (SH.minLength, SH.maxLength):
            return component, _length(int(o), p == SH.maxLength)
        accepted = {
            SH.minInclusive: frozenset({0, 1}),
            SH.maxInclusive: frozenset({-1, 0}),
            SH.minExclusive: frozenset({1}),
            SH.maxExclusive: frozenset({-1}),
        }[p]
        limit = _ordered(_nt(o)) if isinstance(o, Literal) else None
        if limit is None:
            raise ShapeCompileError(
                f"shape {node}: {p} {o!r}: only well-formed numeric and xsd:dateTime bounds "
                "are supported"
            )
        return component, _compare(limit, accepted)


class CompiledShapes:
    """All shapes with targets, ready to validate one graph at a time."""

    def __init__(self, graph: Graph):
        compiler = _Compiler(graph)
        roots = {s for t in _TARGET_KEYS for s in graph.subjects(t, None)}
        roots |= {  # implicit class targets
            s
            for c in _CLASS_TYPES
            for s in graph.subjects(RDF.type, c)
            if any((s, RDF.type, t) in graph for t in _SHAPE_TYPES)
        }
        self.shapes = [
            compiler.shape(node, is_property=(node, SH.path, None) in graph)
            for node in sorted(roots, key=str)
        ]
        # compile every shape, targeted or not, so unsupported SHACL fails early
        for node in graph.subjects(RDF.type, SH.NodeShape):
            compiler.shape(node, is_property=False)
        for node in graph.subjects(RDF.type, SH.PropertyShape):
            compiler.shape(node, is_property=True)

        self.target_predicates = frozenset(
            p
            for shape in self.shapes
            for p in (*shape.target_objects_of, *shape.target_subjects_of)
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
    return CompiledShapes(shapes_graph())
