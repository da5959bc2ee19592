"""The facets of the `/messages` page: how many of the messages the current filters keep fall
under each producer, kind, storage day (or month, or year) and flag (stored with warnings,
reporting an error). One query per facet (a GROUP BY, or a count for a flag),
each with the same visibility filter as the list, so no count tells a reader of messages they
may not see.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pyoxigraph as ox
from jobtrail.bindings.linkeddata.filters import Filters, fill, kinds, sparql
from jobtrail.store import Store

MAX_VALUES = 20
"""The most values a facet lists (the largest counts); the rest are summed up as more."""
MAX_DAYS = 31
"""Past this many days, the time facet counts months; past MAX_MONTHS months, years."""
MAX_MONTHS = 36


@dataclass(frozen=True)
class Value:
    value: str  # what the filter takes
    label: str  # what people read
    count: int
    since: str | None = None  # the time facet: since= and until= (the same period)


@dataclass(frozen=True)
class Facet:
    name: str  # the filter it sets: producer, kind, since (the time facet), warnings, errors
    title: str
    values: tuple[Value, ...]
    more: int = 0  # values left out (MAX_VALUES)


def _rows(store: Store, query: str) -> list[ox.QuerySolution]:
    result = store.query(query)
    assert isinstance(result, ox.QuerySolutions)
    return list(result)


def _text(row: ox.QuerySolution, name: str) -> str | None:
    value = row[name]
    return None if value is None else str(value.value)


def _capped(name: str, title: str, values: list[Value]) -> Facet:
    return Facet(name, title, tuple(values[:MAX_VALUES]), max(0, len(values) - MAX_VALUES))


def producers(store: Store, filters: Filters, hide: str) -> Facet:
    values = []
    for row in _rows(store, fill(sparql("facet-producer"), filters, hide)):
        iri = str(_text(row, "value"))
        parts = [_text(row, k) for k in ("name", "process", "environment")]
        label = " / ".join(p or "-" for p in parts) if parts[0] else iri
        values.append(Value(iri, label, int(_text(row, "n") or 0)))
    return _capped("producer", "Producer", values)


def kinds_of(store: Store, filters: Filters, hide: str) -> Facet:
    known = kinds()
    values = []
    for row in _rows(store, fill(sparql("facet-kind"), filters, hide)):
        iri = str(_text(row, "value"))
        kind = known.get(iri)
        value, label = (kind.name, kind.label) if kind else (iri, iri.rpartition("#")[2] or iri)
        values.append(Value(value, label, int(_text(row, "n") or 0)))
    return _capped("kind", "Kind", values)


def times(store: Store, filters: Filters, hide: str) -> Facet:
    """Per day stored (UTC), newest first; per month past MAX_DAYS days, per year past
    MAX_MONTHS months (summed here from the one query's days)."""
    days: dict[str, int] = {}
    for row in _rows(store, fill(sparql("facet-day"), filters, hide)):
        day = _text(row, "value")
        if day:
            days[day] = days.get(day, 0) + int(_text(row, "n") or 0)
    title, width = "Stored per day", 10
    if len(days) > MAX_DAYS:
        title, width = "Stored per month", 7
        if len({d[:7] for d in days}) > MAX_MONTHS:
            title, width = "Stored per year", 4
    periods: dict[str, int] = {}
    for day, n in days.items():
        periods[day[:width]] = periods.get(day[:width], 0) + n
    values = [Value(p, p, n, since=p) for p, n in sorted(periods.items(), reverse=True)]
    return _capped("since", title, values)


def _count(store: Store, name: str, filters: Filters, hide: str) -> int:
    rows = _rows(store, fill(sparql(f"facet-{name}"), filters, hide))
    return int(_text(rows[0], "n") or 0) if rows else 0


def flags(warnings: int, errors: int, total: int) -> list[Facet]:
    """The messages with and without warnings, and reporting an error or not (`total`: how
    many the filters keep)."""
    return [
        Facet(
            "warnings",
            "Validation warnings",
            (Value("1", "with warnings", warnings), Value("0", "none", total - warnings)),
        ),
        Facet(
            "errors",
            "Errors reported",
            (Value("1", "reporting an error", errors), Value("0", "none", total - errors)),
        ),
    ]


def read_facets(store: Store, filters: Filters, hide: str, total: int) -> list[Facet]:
    """Every facet of the messages these filters keep (`total` of them): one query each, the
    five at once (the engine lets go of the interpreter while it evaluates, so they share the
    cores: measured 0.19 s against 0.37 s for four GROUP BYs over 200,000 graphs on 2 cores)."""
    with ThreadPoolExecutor(max_workers=5, thread_name_prefix="facets") as pool:
        producer = pool.submit(producers, store, filters, hide)
        kind = pool.submit(kinds_of, store, filters, hide)
        time = pool.submit(times, store, filters, hide)
        warnings = pool.submit(_count, store, "warnings", filters, hide)
        errors = pool.submit(_count, store, "errors", filters, hide)
        return [
            producer.result(),
            kind.result(),
            time.result(),
            *flags(warnings.result(), errors.result(), total),
        ]


__all__ = ["Facet", "Value", "flags", "read_facets"]
