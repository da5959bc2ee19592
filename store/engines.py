"""What differs between SPARQL engines behind the same protocols (their dialects), and how a
remote store tells which one it speaks to.

Every engine speaks the SPARQL 1.1 Protocol, but not in the same way:

- **Oxigraph server** gives the union default graph when a request asks for it
  (`union-default-graph`); its default graph is otherwise a graph of its own.
- **Virtuoso** (7.2) answers queries only as a form POST (`query=`) or a GET: a POST of
  `application/sparql-query` never gets a byte back. Updates go to the query endpoint
  (`/sparql`; there is no `/update`), the Graph Store Protocol to `/sparql-graph-crud`. Its
  default graph already is the union of every graph, its own among them (`virtrdf#`, `ldp#`,
  …: `count`, `graphs` and `export` leave them out; its `DEFINE input:…-graph-exclude`
  pragmas would too, but with them a `COUNT(*)` of nothing says 1). It answers an
  `ASK` as a one-row `SELECT` (`__ASK_RETVAL`), a `CONSTRUCT` as rows when the Accept header
  names a results format first, cuts every answer at `ResultSetMaxRows` rows (saying so in an
  `X-SPARQL-MaxRows` header), ignores `DROP ALL`, refuses blank nodes in `INSERT DATA` (and
  mishandles them in an `INSERT {…} WHERE {}` over several graphs), and refuses an update
  request of many operations.
- **Apache Jena** (Fuseki, TDB2) ignores `union-default-graph`: its default graph is the union
  only when the dataset is configured so (`tdb2:unionDefaultGraph true`); otherwise every query
  without `GRAPH` finds nothing. `check_union` finds that out by the protocol alone.

The remote store picks the dialect from the `Server` header of its first request
(`from_server_header`: `Virtuoso/…`, `Oxigraph/…`, `Apache Jena Fuseki …`); anything else is
`SPARQL`, the plain protocol. But for Virtuoso it then checks whether the default graph is the
union of the named graphs as it is, or when the union parameter asks for it, and refuses to go
on when neither. A URL fragment
(`http://host:3030/ds#engine=jena`) names the dialect instead (`named`), for an engine behind a
proxy that hides its `Server` header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from jobtrail.base.errors import RemoteStoreError

QueryForm = Literal["SELECT", "ASK", "CONSTRUCT", "DESCRIBE"]

SPARQL_JSON = "application/sparql-results+json"
N_TRIPLES = "application/n-triples"
ACCEPT: dict[QueryForm | None, str] = {
    "SELECT": f"{SPARQL_JSON}, application/sparql-results+xml;q=0.8",
    "ASK": f"{SPARQL_JSON}, application/sparql-results+xml;q=0.8",
    "CONSTRUCT": f"{N_TRIPLES}, text/turtle;q=0.8",
    "DESCRIBE": f"{N_TRIPLES}, text/turtle;q=0.8",
    None: f"{SPARQL_JSON}, {N_TRIPLES}, application/sparql-results+xml;q=0.8, text/turtle;q=0.8",
}
"""The Accept header for each query form: one kind of answer only, as Virtuoso answers a
CONSTRUCT with rows when a results format comes first."""

VIRTUOSO_OWN_GRAPHS = (
    "http://www.openlinksw.com/schemas/virtrdf#",
    "http://www.w3.org/ns/ldp#",
    "http://localuriqaserver/sparql",
)
"""The graphs a fresh Virtuoso 7.2 holds for itself (its RDF views' metadata, the LDP and
URIQA vocabularies)."""

UNION_HINT = (
    "configure the union default graph in the engine: for Fuseki with TDB2, "
    "`tdb2:unionDefaultGraph true` on the tdb2:DatasetTDB2; for an in-memory dataset, a "
    "ja:RDFDataset whose ja:defaultGraph is a ja:UnionModel (see the README's engine table)"
)


@dataclass(frozen=True)
class Dialect:
    """How to speak to one kind of engine."""

    name: str
    #: request parameter asking for the union default graph (None: the engine's default graph
    #: is the union already, or cannot be)
    union_param: str | None = None
    #: the engine's default graph is the union of its named graphs (not a graph of its own)
    default_is_union: bool = False
    #: send queries as a form POST (`query=…`), not as `application/sparql-query`
    form_queries: bool = False
    #: updates go to the query URL
    update_at_query_url: bool = False
    #: the Graph Store Protocol endpoint, a path on the query URL's server (None: as given)
    gsp_path: str | None = None
    #: its Graph Store endpoint adds a POST of N-Quads to the dataset (a bulk load's path);
    #: Virtuoso's takes one graph per request
    gsp_quads: bool = True
    #: the engine's own graphs, left out of the store's graphs, count and export
    own_graphs: tuple[str, ...] = ()
    #: an ASK comes back as a one-row SELECT of `__ASK_RETVAL`
    ask_as_rows: bool = False
    #: an update request is all or nothing even when one of its operations fails as it runs
    #: (Virtuoso keeps what the operations before it did; one refused as it is read, before
    #: any runs, changes nothing there either)
    atomic_updates: bool = True
    #: INSERT DATA may hold blank nodes (Virtuoso refuses them there)
    blank_nodes_in_data: bool = True
    #: the most operations one update request may hold (None: no limit). Virtuoso compiles a
    #: request's operations together, in time growing faster than their number, and refuses
    #: one of some 500-800 (`SQ156 … Query too large`)
    max_operations: int | None = None
    #: the size of one request of a bulk add (None: the store's own, 4 MiB). Virtuoso takes
    #: 2,000 graphs of 44 triples in requests of 256 KiB about twice as fast as in 4 MiB ones
    #: (Oxigraph server the other way round)
    bulk_request_bytes: int | None = None
    #: what to take out of a blank node's id in a results document (Virtuoso's `nodeID://`,
    #: which no parser takes as a blank node label); group 1 is kept
    blank_node_ids: re.Pattern[bytes] | None = None
    #: the union default graph was checked (or needs no check)
    union_known: bool = False

    def own_graphs_filter(self, variable: str = "?g") -> str:
        """A FILTER leaving the engine's own graphs out of `GRAPH ?g` (empty for none)."""
        if not self.own_graphs:
            return ""
        return f"FILTER({variable} NOT IN ({', '.join(f'<{g}>' for g in self.own_graphs)}))"


OXIGRAPH = Dialect("Oxigraph server", union_param="union-default-graph")
"""Checked too: `oxigraph serve --union-default-graph` makes its default graph the union."""
VIRTUOSO = Dialect(
    "Virtuoso",
    default_is_union=True,
    form_queries=True,
    update_at_query_url=True,
    gsp_path="/sparql-graph-crud",
    gsp_quads=False,
    own_graphs=VIRTUOSO_OWN_GRAPHS,
    ask_as_rows=True,
    blank_nodes_in_data=False,
    max_operations=100,
    bulk_request_bytes=256 * 1024,
    atomic_updates=False,
    blank_node_ids=re.compile(rb'("type": "bnode", "value": ")nodeID://'),
    union_known=True,
)
JENA = Dialect("Apache Jena")
"""Fuseki/Jena: no union parameter (Jena ignores it); `check_union` finds out whether the
dataset is configured with the union default graph."""
SPARQL = Dialect("SPARQL 1.1", union_param="union-default-graph")
"""Any other engine: the plain protocol, with the union parameter (an engine that knows it
gives the union, others ignore it); `check_union` finds out whether the union is given."""

DIALECTS = {"oxigraph": OXIGRAPH, "virtuoso": VIRTUOSO, "jena": JENA, "sparql": SPARQL}


def named(fragment: str) -> Dialect | None:
    """The dialect a URL fragment names (`engine=virtuoso`), None for no fragment."""
    if not fragment:
        return None
    key, _, value = fragment.partition("=")
    if key != "engine" or value.lower() not in DIALECTS:
        raise RemoteStoreError(
            f"unknown store URL fragment #{fragment}",
            hint=f"name the engine with #engine= and one of {', '.join(DIALECTS)}",
        )
    return DIALECTS[value.lower()]


def from_server_header(server: str) -> Dialect:
    """The dialect of an engine that says its name in its `Server` header."""
    if server.startswith("Virtuoso/"):
        return VIRTUOSO
    if server.startswith("Oxigraph/"):
        return OXIGRAPH
    if "Jena" in server or "Fuseki" in server:
        return JENA
    return SPARQL


_SKIP = re.compile(
    r"""\s+|\#[^\n]*|BASE\s*<[^>]*>|PREFIX\s+[^\s:]*:\s*<[^>]*>|DEFINE\s+\S+\s+(?:<[^>]*>|"[^"]*"|\S+)""",
    re.IGNORECASE,
)
_FORM = re.compile(r"(SELECT|ASK|CONSTRUCT|DESCRIBE)\b", re.IGNORECASE)


def query_form(sparql: str) -> tuple[QueryForm | None, int]:
    """SELECT, ASK, CONSTRUCT or DESCRIBE: the first keyword after the prologue, and where
    it starts (None when the text does not start like a query; the engine then says what is
    wrong)."""
    at = 0
    while found := _SKIP.match(sparql, at):
        if found.end() == at:
            break
        at = found.end()
    form = _FORM.match(sparql, at)
    return (form[1].upper() if form else None), at  # type: ignore[return-value]
