"""The filters and the order of the `/messages` feed: read from the query string, checked, and
written into SPARQL only as escaped literals or checked IRIs.

Filters (each at most once; an empty value is no filter):

- `producer`: a producer's name (`TRE`) or its IRI
- `kind`: a message class: its name (`TREMessage`, `Request`), prefixed name
  (`jt:TREMessage`, `http:Request`) or IRI
- `since`, `until`: when the message was stored (`jt:storedAt`, UTC): a year (`2022`), a month
  (`2022-08`), a day (`2022-08-04`) or a date and time (`2022-08-04T16:47:49Z`; no zone: UTC).
  Both bounds are inclusive: `until=2022-08` keeps all of August.
- `warnings`: `1` the messages stored with validation warnings, `0` those without
- `errors`: `1` the messages that report an error (a TRE message whose parameters state one, as
  the named query `errors-reported` lists; an HTTP response of status 400 or more), `0` others
- `reference`: the messages stating a consignment reference, also as another system prefixed
  it (`TRE-TDR-2021-GW3` for `TDR-2021-GW3`, as the named query `hops-of-reference` counts it)
- `uuid`: the messages carrying a UUID (bare or `urn:uuid:…`)
- `q`: a case-insensitive piece of a reference or a UUID the message carries

`sort` (`time`, `producer`, `kind`) and `order` (`asc`, `desc`; by default newest first, names
A to Z) choose the order; `page`, `size` the page; `pass` is a pass's credential. Any other
parameter is a 400 naming it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from urllib.parse import urlencode

import pyoxigraph as ox
from jobtrail.base import nt
from jobtrail.base.errors import InputError
from jobtrail.base.terms import JT, shorten
from jobtrail.bindings.linkeddata.documents import LABEL, _value, vocab_triples

FILTERS = ("producer", "kind", "since", "until", "warnings", "errors", "reference", "uuid", "q")
"""The filters, in the order links write them."""
SORTS = ("time", "producer", "kind")
ORDERS = ("asc", "desc")
OTHERS = ("sort", "order", "page", "size", "pass")
MAX_VALUE = 500
"""The longest filter value taken (a reference, a name, an IRI)."""
MAX_Q = 200
"""The longest `q` taken."""

HTTP = "http://www.w3.org/2011/http#"
SUBCLASS = "http://www.w3.org/2000/01/rdf-schema#subClassOf"
_MESSAGE = str(JT.Message)
_UUID = re.compile(r"[0-9a-z]{8}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{12}")
_WHEN = re.compile(
    r"(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?:[T ](?P<time>\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)(?P<zone>Z|[+-]\d{2}:\d{2})?)?)?)?"
)
_FLAGS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


# ------------------------------------------------------------------ the kinds of message


@dataclass(frozen=True)
class Kind:
    iri: str
    name: str  # the local name links use: TREMessage, Request
    label: str  # what people read: TRE message (2022 structure)


_LABELS = {"Request": "HTTP request", "Response": "HTTP response"}
"""Labels of the HTTP classes (not in our vocabulary)."""
_PREFIXED = re.compile(r"(?i)(jt|http):(?!//)\S*")
"""A prefixed name of ours (`jt:TREMessage`, `http:Request`), not an IRI."""


@cache
def kinds() -> dict[str, Kind]:
    """The message classes by IRI: jt:Message's subclasses (the vocabulary's) and the HTTP
    request and response classes the HTTP reader gives."""
    subs = _subclasses()
    found = {c for c, supers in subs.items() if _MESSAGE in supers}
    found |= {HTTP + "Request", HTTP + "Response"}
    out = {}
    for iri in sorted(found):
        name = iri.rpartition("#")[2]
        out[iri] = Kind(iri, name, _value(ox.NamedNode(iri), LABEL) or _LABELS.get(name, name))
    return out


@cache
def _subclasses() -> dict[str, frozenset[str]]:
    """Every class of the vocabulary with all its superclasses (transitively)."""
    direct: dict[str, set[str]] = {}
    for t in vocab_triples():
        if (
            t.predicate.value == SUBCLASS
            and isinstance(t.subject, ox.NamedNode)
            and isinstance(t.object, ox.NamedNode)
        ):
            direct.setdefault(t.subject.value, set()).add(t.object.value)

    def above(c: str, seen: frozenset[str] = frozenset()) -> set[str]:
        out: set[str] = set()
        for s in direct.get(c, ()):
            if s not in seen:
                out |= {s, *above(s, seen | {c})}
        return out

    return {c: frozenset(above(c)) for c in direct}


def kind_keys() -> str:
    """A SPARQL block binding `?_kkey` to the label of each jobtrail class of a message, after
    a digit that puts the deepest first (`7TRE message (2022 structure)`): the MIN of it is
    the label of its most specific class (the first in A-Z order when it has several), what
    `sort=kind` orders by, as the feed's kind column shows them. (Readers state every class
    of a message, its superclasses too; a FILTER NOT EXISTS for "no subclass of it" took
    several times as long.)"""
    ours = {i: k for i, k in kinds().items() if i.startswith(str(JT))}
    ours[_MESSAGE] = Kind(_MESSAGE, "Message", "Message")
    subs = _subclasses()
    keys = " ".join(
        f"({nt.iri(i)} {nt.lit(str(9 - len(subs.get(i, frozenset()) & set(ours))) + k.label)})"
        for i, k in ours.items()
    )
    return f"""OPTIONAL {{
    GRAPH ?m {{ ?m a ?_kc }}
    VALUES (?_kc ?_kkey) {{ {keys} }}
  }}"""


PRODUCER_KEYS = """OPTIONAL {
    GRAPH ?m { ?m <http://www.w3.org/ns/prov#wasAttributedTo> ?_pa }
    GRAPH ?_pa {
      ?_pa <https://w3id.org/jobtrail/vocab#producerName> ?_pn
      OPTIONAL { ?_pa <https://w3id.org/jobtrail/vocab#process> ?_pp }
      OPTIONAL { ?_pa <https://w3id.org/jobtrail/vocab#environment> ?_pe }
    }
    BIND(CONCAT(?_pn, " / ", COALESCE(?_pp, "-"), " / ", COALESCE(?_pe, "-")) AS ?_pkey)
  }"""
"""A SPARQL block binding `?_pkey` to a message's producer as the feed shows it."""


def _kind(value: str) -> str:
    """A kind's IRI from its name, prefixed name or IRI; 400 naming the known ones else."""
    known = kinds()
    lowered = value.lower()
    for k in known.values():
        if lowered in (k.name.lower(), shorten(k.iri).lower(), k.iri.lower()):
            return k.iri
    if ":" in value and nt.checked_iri(value) and not _PREFIXED.fullmatch(value):
        return value  # a class the vocabulary does not list: kept as given
    names = ", ".join(sorted(k.name for k in known.values()))
    raise InputError(
        f"kind must be a kind of message, not {value!r}",
        hint=f"the kinds: {names} (or jt:…, http:… or a class's IRI)",
    )


# ------------------------------------------------------------------ times


def _when(name: str, value: str) -> tuple[datetime, datetime | None]:
    """The start of the period a `since`/`until` value names, and the start of the next
    period (None for a date and time: a single instant)."""
    match = _WHEN.fullmatch(value.strip())
    example = "2022, 2022-08, 2022-08-04 or 2022-08-04T16:47:49Z"
    if match is None:
        raise InputError(f"{name} must be a date or a date and time, not {value!r}", hint=example)
    year, month, day = int(match["year"]), int(match["month"] or 1), int(match["day"] or 1)
    try:
        if match["time"]:
            zone = match["zone"] or "Z"
            when = datetime.fromisoformat(
                f"{match['year']}-{match['month']}-{match['day']}T"
                + re.sub(r"(\.\d{6})\d+", r"\1", match["time"])
                + zone.replace("Z", "+00:00")
            )
            return when.astimezone(UTC), None
        start = datetime(year, month, day, tzinfo=UTC)
    except ValueError as e:
        raise InputError(f"{name} is not a date: {value!r} ({e})", hint=example) from None
    try:
        if match["day"]:
            end = start + timedelta(days=1)
        elif match["month"]:
            end = start.replace(year=year + month // 12, month=month % 12 + 1)
        else:
            end = start.replace(year=year + 1)
    except (ValueError, OverflowError):
        end = None  # past year 9999: no end
    return start, end


# ------------------------------------------------------------------ the filters


@dataclass(frozen=True)
class Filters:
    """The filters, the order and the page size given, checked (`given`: as links write them)."""

    given: tuple[tuple[str, str], ...] = ()
    sort: str = "time"
    order: str = "desc"
    patterns: tuple[str, ...] = field(default=(), compare=False)

    @property
    def active(self) -> dict[str, str]:
        return dict(self.given)

    def params(self, **changes: str | None) -> dict[str, str]:
        """The query parameters of these filters and order, with `changes` (None: without)."""
        values = dict(self.given)
        if self.sort != "time" or self.order != "desc":
            values["sort"], values["order"] = self.sort, self.order
        for k, v in changes.items():
            if v is None:
                values.pop(k, None)
            else:
                values[k] = v
        order = [*FILTERS, "sort", "order"]
        return {k: values[k] for k in sorted(values, key=order.index)}

    def query(self, **changes: str | None) -> str:
        params = self.params(**changes)
        return "?" + urlencode(params) if params else ""

    @property
    def sparql(self) -> str:
        """The graph patterns keeping the messages `?m` these filters keep."""
        return "\n  ".join(self.patterns)

    def order_by(self) -> str:
        time = "DESC(?stored) DESC(?generated)" if self.order == "desc" else "?stored ?generated"
        if self.sort == "time":
            return f"{time} ?m"
        key = "?producer" if self.sort == "producer" else "SUBSTR(?kind, 2)"
        # a message with no producer (or no kind) comes last either way
        missing = f"(!BOUND(?{self.sort}))"
        direction = f"DESC({key})" if self.order == "desc" else key
        return f"{missing} {direction} DESC(?stored) DESC(?generated) ?m"

    def keys(self) -> str:
        if self.sort == "producer":
            return PRODUCER_KEYS
        if self.sort == "kind":
            return kind_keys()
        return ""

    def describe(self) -> str:
        """The filters in words (`producer TRE, warnings 1`), or empty."""
        return ", ".join(f"{k} {v}" for k, v in self.given)


def read(params: Mapping[str, str], names: list[str]) -> Filters:
    """The filters of a query string (`names`: every parameter name given, repeats included);
    400 naming the parameter and what it takes for anything unknown, repeated or bad."""
    for name in names:
        if name not in FILTERS and name not in OTHERS:
            raise InputError(
                f"/messages takes no parameter {name!r}",
                hint="the filters: "
                + ", ".join(FILTERS)
                + "; also sort, order, page, size (see the README's /messages section)",
            )
        if names.count(name) > 1:
            raise InputError(f"give {name} once, not {names.count(name)} times")
    given: list[tuple[str, str]] = []
    patterns: list[str] = []
    for name in FILTERS:
        value = params.get(name, "")
        if value.strip() == "":
            continue
        limit = MAX_Q if name == "q" else MAX_VALUE
        if len(value) > limit:
            raise InputError(f"{name} is longer than {limit} characters ({len(value):,})")
        shown, pattern = _FILTER[name](value)
        given.append((name, shown))
        patterns.append(pattern)
    since = next((v for k, v in given if k == "since"), None)
    until = next((v for k, v in given if k == "until"), None)
    if since and until and _when("since", since)[0] > _bound(until):
        raise InputError(f"since ({since}) is after until ({until})")
    sort = params.get("sort") or "time"
    if sort not in SORTS:
        raise InputError(f"sort must be one of {', '.join(SORTS)}, not {sort!r}")
    order = params.get("order") or ("desc" if sort == "time" else "asc")
    if order not in ORDERS:
        raise InputError(f"order must be asc or desc, not {order!r}")
    return Filters(tuple(given), sort, order, tuple(patterns))


def _bound(value: str) -> datetime:
    start, end = _when("until", value)
    return end - timedelta(microseconds=1) if end else start


def _producer(value: str) -> tuple[str, str]:
    if ":" in value:
        term = nt.checked_iri(value)
        if term is None:
            raise InputError(
                f"producer must be a producer's name (e.g. TRE) or its IRI, not {value!r}"
            )
        return value, f"GRAPH ?m {{ ?m <http://www.w3.org/ns/prov#wasAttributedTo> {term} }}"
    return value, (
        "GRAPH ?m { ?m <http://www.w3.org/ns/prov#wasAttributedTo> ?_fp }\n"
        f"  GRAPH ?_fp {{ ?_fp <{JT}producerName> {nt.lit(value)} }}"
    )


def _kind_filter(value: str) -> tuple[str, str]:
    iri = _kind(value)
    known = kinds().get(iri)
    return (known.name if known else iri), f"GRAPH ?m {{ ?m a {nt.iri(iri)} }}"


def _since(value: str) -> tuple[str, str]:
    start, _ = _when("since", value)
    return value.strip(), (
        f"GRAPH ?m {{ ?m <{JT}storedAt> ?_fs }} FILTER(?_fs >= {nt.datetime_lit(start)})"
    )


def _until(value: str) -> tuple[str, str]:
    start, end = _when("until", value)
    if end is not None:
        test = f"?_fu < {nt.datetime_lit(end)}"
    elif _WHEN.fullmatch(value.strip())["time"]:  # type: ignore[index]
        test = f"?_fu <= {nt.datetime_lit(start)}"
    else:
        test = "true"  # a period ending past year 9999
    return value.strip(), f"GRAPH ?m {{ ?m <{JT}storedAt> ?_fu }} FILTER({test})"


# A flag's, a reference's and q's messages are found first (one pass over the triples that
# say so), then joined: a FILTER EXISTS per message took 2 to 3 times as long on 20,000.


def _kept(pattern: str, on: bool = True) -> str:
    """Keep (or, `on` false, leave out) the messages `?m` a pattern over GRAPH ?m finds."""
    if on:
        return f"{{ SELECT DISTINCT ?m WHERE {{ {pattern} }} }}"
    return f"MINUS {{ {pattern} }}"


def _warnings(value: str) -> tuple[str, str]:
    on = _yes(value, "warnings", "stored with validation warnings")
    return ("1" if on else "0"), _kept(f"GRAPH ?m {{ ?m <{JT}validationWarning> ?_fw }}", on)


def _errors(value: str) -> tuple[str, str]:
    on = _yes(value, "errors", "that report an error")
    # the errors first, then their parameter sets' messages: 3 times as fast as the path
    pattern = (
        f"GRAPH ?m {{ {{ ?_fs <{JT}error> ?_fe . ?m <{JT}parameterSet> ?_fs }}"
        f" UNION {{ ?m <{HTTP}statusCodeValue> ?_fc FILTER(?_fc >= 400) }} }}"
    )
    return ("1" if on else "0"), _kept(pattern, on)


def _yes(value: str, name: str, what: str) -> bool:
    flag = _FLAGS.get(value.strip().lower())
    if flag is None:
        raise InputError(
            f"{name} must be 1 or 0, not {value!r}",
            hint=f"{name}=1: only the messages {what}; {name}=0: only the others",
        )
    return flag


def _stating(test: str) -> str:
    """The messages `?m` stating a reference `?_fr` that passes a test, themselves or in a
    parameter set (`jt:reference|jt:parameterSet/jt:reference`): the references first, then
    what states them (20 to 30 times as fast as the path from every message)."""
    return (
        f"{{ SELECT ?_fx ?m WHERE {{ GRAPH ?m {{ ?_fx <{JT}reference> ?_fr }} FILTER({test}) }} }}"
        f" GRAPH ?m {{ {{ ?_fx a <{JT}Message> FILTER(?_fx = ?m) }}"
        f" UNION {{ ?m <{JT}parameterSet> ?_fx }} }}"
    )


def _reference(value: str) -> tuple[str, str]:
    ref = value.strip()
    return ref, _kept(_stating(f"?_fr = {nt.lit(ref)} || STRENDS(?_fr, {nt.lit('-' + ref)})"))


def _uuid(value: str) -> tuple[str, str]:
    bare = value.strip().lower().removeprefix("urn:uuid:")
    if not _UUID.fullmatch(bare):
        raise InputError(
            f"uuid must be a UUID, as urn:uuid:… or bare, not {value!r}",
            hint="e.g. 0001d50d-a1fc-46c0-a6c7-ebc8309cfaf2",
        )
    # stored as the readers store them: lower case, kept even when not hexadecimal
    return bare, f"GRAPH ?m {{ ?m <{JT}carriesUUID> <urn:uuid:{bare}> }}"


def _q(value: str) -> tuple[str, str]:
    text = value.strip()
    piece = nt.lit(text.lower())
    return text, _kept(
        f"{{ {_stating(f'CONTAINS(LCASE(?_fr), {piece})')} }} UNION"
        f" {{ GRAPH ?m {{ ?m <{JT}carriesUUID> ?_fu }} FILTER(CONTAINS(STR(?_fu), {piece})) }}"
    )


_FILTER = {
    "producer": _producer,
    "kind": _kind_filter,
    "since": _since,
    "until": _until,
    "warnings": _warnings,
    "errors": _errors,
    "reference": _reference,
    "uuid": _uuid,
    "q": _q,
}


@cache
def sparql(name: str) -> str:
    """A query of the feed: `queries/internal/feed-{name}.rq`."""
    path = resources.files("jobtrail.queries") / "internal" / f"feed-{name}.rq"
    return path.read_text("utf-8")


_SLOT = re.compile(r"#(FILTERS|HIDE|KEYS|ORDER|LIMIT|OFFSET)\b")


def fill(sparql: str, filters: Filters, hide: str, **more: str) -> str:
    """A feed query with its slots filled in one pass (so a filter's text, say a `q` of
    `#HIDE`, is never read as a slot): FILTERS, HIDE (the reader's visibility filter), and
    `more` (KEYS, ORDER, LIMIT, OFFSET)."""
    slots = {"FILTERS": filters.sparql, "HIDE": hide, **more}
    return _SLOT.sub(lambda m: slots.get(m[1], ""), sparql)


__all__ = ["FILTERS", "Filters", "Kind", "fill", "kinds", "read", "sparql"]
