"""One page of the `/messages` feed, read from the store: the messages the filters keep, in
their order, and what the feed shows of each (`Item`). The representations are in `feeds.py`
(Atom, RDF) and `feed_html.py` (HTML).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from urllib.parse import urlencode

import pyoxigraph as ox
from jobtrail.base.terms import JT
from jobtrail.bindings.linkeddata.documents import LABEL, _by_subject, _value
from jobtrail.bindings.linkeddata.filters import Filters, fill, sparql
from jobtrail.store import Store

SUBCLASS = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#subClassOf")


@dataclass
class Item:
    """One message as the feed shows it."""

    iri: str
    stored: str | None
    generated: str | None
    types: list[str] = field(default_factory=list)
    producer: str | None = None
    producer_name: str | None = None
    references: list[str] = field(default_factory=list)
    request_line: str | None = None
    status_line: str | None = None
    warned: bool = False  # stored with validation warnings

    @property
    def specific(self) -> list[str]:
        """Its most specific jobtrail classes (`jt:TRE2022Message`, not `jt:TREMessage`)."""
        jt = [t for t in self.types if t.startswith(str(JT))]
        supers = {str(o.value) for t in jt for o in _objects_of(t)}
        return [t for t in jt if t not in supers] or jt

    @property
    def kind(self) -> str:
        """Labels of its most specific jobtrail classes (`TRE message (2022 structure)`)."""
        labels = sorted(
            _value(ox.NamedNode(t), LABEL) or t.rpartition("#")[2] for t in self.specific
        )
        return ", ".join(labels) or "Message"

    @property
    def title(self) -> str:
        parts = [self.kind]
        if self.producer_name:
            parts.append(f"from {self.producer_name}")
        if self.references:
            parts.append(", ".join(sorted(set(self.references))))
        if self.request_line:
            parts.append(self.request_line)
        if self.status_line:
            parts.append(self.status_line)
        return " — ".join(parts)

    @property
    def updated(self) -> str:
        return self.stored or self.generated or "1970-01-01T00:00:00Z"


def _objects_of(iri: str) -> list[ox.NamedNode]:
    return [
        t.object
        for t in _by_subject("vocab").get(ox.NamedNode(iri), ())
        if t.predicate == SUBCLASS and isinstance(t.object, ox.NamedNode)
    ]


@dataclass
class Page:
    base: str
    number: int
    size: int
    total: int
    newest: str | None
    items: list[Item]
    default_size: int

    filters: Filters = field(default_factory=Filters)

    @property
    def feed_iri(self) -> str:
        """The feed's IRI: the same for every page (RFC 5005); a filtered feed is another."""
        return self.base + "messages" + self.filters.query(sort=None, order=None)

    @property
    def last(self) -> int:
        return max(1, -(-self.total // self.size))

    def url(self, number: int, extension: str = "", **changes: str | None) -> str:
        """A page of this feed, its filters and order kept (or changed: `changes`)."""
        params: dict[str, str] = self.filters.params(**changes)
        if number != 1:
            params["page"] = str(number)
        if self.size != self.default_size:
            params["size"] = str(self.size)
        query = "?" + urlencode(params) if params else ""
        return f"{self.base}messages{extension}{query}"

    @property
    def title(self) -> str:
        described = self.filters.describe()
        return "jobtrail: stored messages" + (f" ({described})" if described else "")

    @property
    def order(self) -> str:
        """The order in words: `newest first`, `by producer (asc)`."""
        sort, order = self.filters.sort, self.filters.order
        if sort == "time":
            return "newest first" if order == "desc" else "oldest first"
        return f"by {sort}, " + ("A to Z" if order == "asc" else "Z to A")

    def paging(self) -> list[tuple[str, int]]:
        rels = [("first", 1), ("last", self.last)]
        if self.number > 1:
            rels.append(("previous", min(self.number - 1, self.last)))
        if self.number < self.last:
            rels.append(("next", self.number + 1))
        return rels


@cache
def _details() -> list[str]:
    """The queries of `feed-details.rq`: its prefixes before each."""
    prefixes, *queries = sparql("details").split("\n# ---\n")
    return [prefixes + "\n" + q for q in queries]


def _solutions(store: Store, sparql: str) -> ox.QuerySolutions:
    result = store.query(sparql)
    assert isinstance(result, ox.QuerySolutions)
    return result


def _text(row: ox.QuerySolution, name: str) -> str | None:
    value = row[name]
    return None if value is None else str(value.value)


def read_page(
    store: Store,
    base: str,
    number: int,
    size: int,
    default_size: int,
    hide: str = "",
    filters: Filters | None = None,
) -> Page:
    """One page of the feed; `hide`: a filter on `?m` leaving out what the reader may not
    see (`Policy.sparql_filter`); `filters`: the messages kept and their order."""
    filters = filters or Filters()
    summary = next(iter(_solutions(store, fill(sparql("summary"), filters, hide))))
    total = int(_text(summary, "n") or 0)
    newest = _text(summary, "newest")
    page_query = fill(
        sparql("page"),
        filters,
        hide,
        KEYS=filters.keys(),
        ORDER=filters.order_by(),
        LIMIT=str(size),
        OFFSET=str((number - 1) * size),
    )
    items = [
        Item(str(_text(row, "m")), _text(row, "stored"), _text(row, "generated"))
        for row in _solutions(store, page_query)
    ]
    by_iri = {i.iri: i for i in items}
    if items:
        values = " ".join(f"<{i.iri}>" for i in items)  # IRIs the store answered: valid
        rows = (
            row
            for query in _details()
            for row in _solutions(store, query.replace("#VALUES", values))
        )
        for row in rows:
            item = by_iri[str(_text(row, "m"))]
            if (t := _text(row, "type")) and t not in item.types:
                item.types.append(t)
            if p := _text(row, "producer"):
                item.producer = p
                name = [_text(row, k) for k in ("name", "process", "environment")]
                if name[0]:
                    item.producer_name = " / ".join(n or "-" for n in name)
            if (r := _text(row, "ref")) and r not in item.references:
                item.references.append(r)
            if m := _text(row, "method"):
                item.request_line = f"{m} {_text(row, 'uri') or ''}".strip()
            if c := _text(row, "code"):
                item.status_line = f"{c} {_text(row, 'reason') or ''}".strip()
            if _text(row, "warning"):
                item.warned = True
    return Page(base, number, size, total, newest, items, default_size, filters)


__all__ = ["Item", "Page", "read_page"]
