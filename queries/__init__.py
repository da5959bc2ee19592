"""Named SPARQL queries: the `*.rq` files beside this module, and their loader.

Each file starts with a header of `#` comment lines, in this format:

    # name: hops-of-reference
    # description: The hops of a package: every message whose parameters state a
    #   reference, in time order.
    # param: reference (string, required) — a reference as some message states it
    # param: retries (integer, optional) — only parameters stating this number of retries
    # example: reference=TDR-2021-GW3

- `name` (once, required) must equal the file's stem.
- `description` (once, required); a line indented by two or more spaces after the `#`
  continues the field above it. A bare `#` line is allowed and ignored.
- `param` (any number): `NAME (TYPE, required|optional) — DOC` (`-` or `—` before the doc).
  TYPE is one of string, iri, integer, decimal, dateTime, boolean, uuid. NAME is a SPARQL
  variable of the query, projected by its SELECT.
- `example` (any number): `NAME=VALUE`, a value to try (shown in forms, run by the tests).

The header ends at the first line that is not a comment.

Parameter values are bound with the engine's `substitutions` (an initial binding of the
variable), never spliced into the query text. The queries are written so that this is
sound: every parameter variable is bound by a triple pattern of the WHERE clause and
projected by the SELECT; so an optional parameter left out leaves the variable free and
the query returns every row, and a value given restricts the pattern to it. (A FILTER
that tests `BOUND(?param)` does not work: Oxigraph's optimiser sees the variable as
never bound by the pattern. A remote store turns the binding into a trailing VALUES
clause, which is joined after grouping, so the same rule makes it work there too.)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import resources
from typing import Literal as TypingLiteral
from typing import TypeAlias

import pyoxigraph as ox
from jobtrail.base.errors import InputError, JobtrailError, NotFound

ParamType: TypeAlias = TypingLiteral[
    "string", "iri", "integer", "decimal", "dateTime", "boolean", "uuid"
]
Term: TypeAlias = ox.NamedNode | ox.Literal

XSD = "http://www.w3.org/2001/XMLSchema#"

PARAM_TYPES: dict[str, str] = {
    "string": "any text",
    "iri": "an absolute IRI, e.g. http://127.0.0.1:8000/messages/…",
    "integer": "a whole number, e.g. 3 (xsd:integer)",
    "decimal": "a decimal number, e.g. 2.5 (xsd:decimal)",
    "dateTime": "a date and time, e.g. 2022-08-04T16:47:49Z (xsd:dateTime)",
    "boolean": "true or false (xsd:boolean)",
    "uuid": "a UUID, as urn:uuid:… or bare, e.g. 0001d50d-a1fc-46c0-a6c7-ebc8309cfaf2",
}
"""Every parameter type, with what a value of it looks like (for messages and forms)."""


class QueryDefinitionError(JobtrailError):
    """A `.rq` file whose header does not follow the format (a fault of the package)."""

    title = "Invalid named query"


@dataclass(frozen=True)
class Param:
    name: str
    type: ParamType
    required: bool
    doc: str = ""

    @property
    def expected(self) -> str:
        return PARAM_TYPES[self.type]

    def convert(self, raw: str, query: str = "") -> Term:
        """The value as a typed term; InputError naming the parameter when it is not one."""
        value = raw.strip() if self.type != "string" else raw
        try:
            return _CONVERT[self.type](value)
        except ValueError as e:
            where = f" of query {query!r}" if query else ""
            raise InputError(
                f"parameter {self.name!r}{where} must be {self.type}: {self.expected}; got {raw!r}",
                hint=str(e) if str(e) else None,
                details={"parameter": self.name, "expected": self.type},
            ) from e


@dataclass(frozen=True)
class NamedQuery:
    name: str
    description: str
    sparql: str
    """The whole file, header included (it is a comment, so the text runs as it is)."""
    params: tuple[Param, ...] = ()
    examples: dict[str, str] = field(default_factory=dict)

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def bind(self, raw: Mapping[str, str]) -> dict[str, Term]:
        """Typed terms for the given parameter values, for `store.query(substitutions=…)`.

        An empty value counts as not given (an HTML form sends every field). Unknown
        parameters, missing required ones and ill-typed values are InputErrors naming
        the parameter and the type expected.
        """
        known = ", ".join(f"{p.name} ({p.type})" for p in self.params) or "none"
        for name in raw:
            if self.param(name) is None:
                raise InputError(
                    f"query {self.name!r} has no parameter {name!r}",
                    hint=f"its parameters: {known}",
                    details={"parameter": name, "parameters": [p.name for p in self.params]},
                )
        bound: dict[str, Term] = {}
        for p in self.params:
            value = raw.get(p.name)
            if value is None or value.strip() == "":
                if p.required:
                    raise InputError(
                        f"query {self.name!r} needs parameter {p.name!r} ({p.type}: {p.expected})",
                        hint=f"its parameters: {known}",
                        details={"parameter": p.name, "expected": p.type},
                    )
                continue
            bound[p.name] = p.convert(value, self.name)
        return bound


# --- parameter conversion ----------------------------------------------------------

_DATETIME = re.compile(
    r"-?\d{4,}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-4]):[0-5]\d:[0-5]\d(\.\d+)?"
    r"(Z|[+-](0\d|1[0-4]):[0-5]\d)?"
)
_UUID = re.compile(r"[0-9a-z]{8}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{12}")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def _typed(value: str, datatype: str) -> ox.Literal:
    return ox.Literal(value, datatype=ox.NamedNode(XSD + datatype))


def _iri(value: str) -> ox.NamedNode:
    if not _SCHEME.match(value):
        raise ValueError("an IRI starts with a scheme, such as http: or urn:")
    return ox.NamedNode(value)  # ValueError for anything not an IRI


def _integer(value: str) -> ox.Literal:
    if not re.fullmatch(r"[+-]?\d+", value):
        raise ValueError("")
    return _typed(str(int(value)), "integer")  # canonical: `01` matches a stored `1`


def _decimal(value: str) -> ox.Literal:
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", value):
        raise ValueError("")
    try:
        number = Decimal(value)
    except InvalidOperation as e:  # pragma: no cover - the pattern rules it out
        raise ValueError("") from e
    text = format(number.normalize(), "f")
    return _typed(text if "." in text else text + ".0", "decimal")


def _datetime(value: str) -> ox.Literal:
    if not _DATETIME.fullmatch(value):
        raise ValueError("")
    return _typed(value, "dateTime")


def _boolean(value: str) -> ox.Literal:
    lowered = value.lower()
    if lowered in ("true", "1"):
        return _typed("true", "boolean")
    if lowered in ("false", "0"):
        return _typed("false", "boolean")
    raise ValueError("")


def _uuid(value: str) -> ox.NamedNode:
    bare = value.lower().removeprefix("urn:uuid:")
    if not _UUID.fullmatch(bare):
        raise ValueError("")
    # stored as the readers store them: lower case, kept even when not hexadecimal
    return ox.NamedNode(f"urn:uuid:{bare}")


_CONVERT: dict[str, Callable[[str], Term]] = {
    "string": lambda v: ox.Literal(v),
    "iri": _iri,
    "integer": _integer,
    "decimal": _decimal,
    "dateTime": _datetime,
    "boolean": _boolean,
    "uuid": _uuid,
}


# --- headers --------------------------------------------------------------------------

_FIELD = re.compile(r"#\s?(?P<key>[a-z]+):\s*(?P<value>.*)")
_CONTINUATION = re.compile(r"#\s{2,}(?P<value>\S.*)")
_PARAM = re.compile(
    r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*\(\s*(?P<type>[A-Za-z]+)\s*,\s*"
    r"(?P<required>required|optional)\s*\)\s*(?:(?:—|--|-)\s*(?P<doc>.*))?"
)
_NAME = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


def parse(text: str, stem: str) -> NamedQuery:
    """A NamedQuery from a `.rq` file's text; QueryDefinitionError when its header is wrong."""

    def fail(message: str, line: int | None = None) -> QueryDefinitionError:
        where = f"{stem}.rq" + (f", line {line}" if line else "")
        return QueryDefinitionError(f"{where}: {message}")

    fields: list[tuple[str, str, int]] = []  # (key, value, line)
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped.startswith("#"):
            break
        if stripped == "#":
            continue
        cont = _CONTINUATION.fullmatch(stripped)
        found = _FIELD.fullmatch(stripped)
        if cont and fields and not found:
            key, text_so_far, at = fields[-1]
            fields[-1] = (key, text_so_far + " " + cont.group("value").strip(), at)
            continue
        if not found:
            raise fail(f"not a header field: {stripped!r} (expected '# key: value')", number)
        fields.append((found.group("key"), found.group("value").strip(), number))

    name = description = None
    params: list[Param] = []
    examples: dict[str, str] = {}
    for key, value, at in fields:
        if key == "name":
            if name is not None:
                raise fail("two name fields", at)
            name = value
        elif key == "description":
            if description is not None:
                raise fail("two description fields", at)
            description = value
        elif key == "param":
            m = _PARAM.fullmatch(value)
            if not m:
                raise fail(
                    f"bad param {value!r}: expected 'NAME (TYPE, required|optional) — DOC'", at
                )
            if m.group("type") not in PARAM_TYPES:
                raise fail(
                    f"param {m.group('name')!r} has unknown type {m.group('type')!r} "
                    f"(known: {', '.join(PARAM_TYPES)})",
                    at,
                )
            if any(p.name == m.group("name") for p in params):
                raise fail(f"param {m.group('name')!r} declared twice", at)
            params.append(
                Param(
                    m.group("name"),
                    m.group("type"),  # type: ignore[arg-type]
                    m.group("required") == "required",
                    (m.group("doc") or "").strip(),
                )
            )
        elif key == "example":
            k, eq, v = value.partition("=")
            if not eq:
                raise fail(f"bad example {value!r}: expected NAME=VALUE", at)
            examples[k.strip()] = v.strip()
        else:
            raise fail(
                f"unknown header field {key!r} (known: name, description, param, example)", at
            )

    if name is None:
        raise fail("no '# name:' field")
    if name != stem:
        raise fail(f"name {name!r} differs from the file name {stem!r}")
    if not _NAME.fullmatch(name):
        raise fail(f"name {name!r} is not lower-case words joined by '-'")
    if not description:
        raise fail("no '# description:' field")
    for p in params:
        if not re.search(rf"[?$]{p.name}\b", text):
            raise fail(f"param {p.name!r} is not a variable of the query")
    for k in examples:
        if not any(p.name == k for p in params):
            raise fail(f"example names {k!r}, which is not a param")
    return NamedQuery(name, description, text, tuple(params), examples)


@cache
def load_queries() -> dict[str, NamedQuery]:
    """Every named query of the package, by name, in name order (read once)."""
    found: dict[str, NamedQuery] = {}
    for entry in sorted(resources.files(__name__).iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".rq") and entry.is_file():
            stem = entry.name.removesuffix(".rq")
            found[stem] = parse(entry.read_text("utf-8"), stem)
    return found


def get_query(name: str) -> NamedQuery:
    """The named query, or NotFound listing the names there are."""
    queries = load_queries()
    if name not in queries:
        known = ", ".join(queries)
        raise NotFound(
            f"no named query {name!r}",
            hint=f"known queries: {known}",
            details={"known": list(queries)},
        )
    return queries[name]


__all__ = [
    "PARAM_TYPES",
    "NamedQuery",
    "Param",
    "ParamType",
    "QueryDefinitionError",
    "Term",
    "get_query",
    "load_queries",
    "parse",
]
