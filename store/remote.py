"""Remote backend: any SPARQL 1.1 endpoint, over the standard protocols only.

Queries and updates use the SPARQL 1.1 Protocol, reads and exports the Graph
Store Protocol (GSP) when there is a GSP endpoint, else CONSTRUCT queries.
Every write is one SPARQL update request, which the engine runs as one
transaction; that is what makes `add` and `replace` all or nothing.

Term strings are never spliced into update text as given: each graph is
parsed as N-Triples and re-serialized by pyoxigraph first, so a malformed or
hostile term fails as MalformedInput before anything is sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import IO, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx
import pyoxigraph as ox
from jobtrail.base.errors import JobtrailError, MalformedInput, QueryError, RemoteStoreError
from jobtrail.store.base import (
    RDF_FORMATS,
    BulkWriter,
    DumpFormat,
    QueryResult,
    ResourceGraph,
    Store,
)
from jobtrail.store.remote_bulk import bulk_writer

SPARQL_QUERY = "application/sparql-query"
SPARQL_UPDATE = "application/sparql-update"
SPARQL_JSON = "application/sparql-results+json"
N_TRIPLES = "application/n-triples"
QUERY_ACCEPT = (
    f"{SPARQL_JSON}, {N_TRIPLES}, application/sparql-results+xml;q=0.8, text/turtle;q=0.8"
)
MAX_UPDATE_BYTES = 4 * 1024 * 1024  # bulk adds are split above this (in characters)
IMPORT_CHUNK = 10_000  # quads per INSERT DATA request during import_
VALUES_CHUNK = 500  # IRIs per VALUES block in existing()
HINT = "check that the SPARQL endpoint is running and that the URL is right"

T = TypeVar("T")
GraphName = ox.NamedNode | ox.DefaultGraph


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _iri(iri: str) -> str:
    """`<iri>`, checked: a graph IRI that is not an IRI must not reach the query text."""
    try:
        return str(ox.NamedNode(iri))
    except ValueError as e:
        raise MalformedInput(f"not a valid IRI: {iri!r} ({e})") from e


def _ntriples(triples: Iterable[ox.Triple]) -> str:
    data = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES)
    return data.decode() if data else ""


def _canonical(graph: ResourceGraph) -> str:
    try:
        triples = [q.triple for q in ox.parse(graph.ntriples(), format=ox.RdfFormat.N_TRIPLES)]
    except SyntaxError as e:
        raise MalformedInput(f"graph <{graph.iri}>: {e}") from e
    return _ntriples(triples)


def _media_type(response: httpx.Response) -> str:
    return str(response.headers.get("content-type", "")).split(";")[0].strip().lower()


class RemoteStore(Store):
    """A SPARQL 1.1 endpoint (Oxigraph server, Fuseki, ...).

    `from_url` derives the three endpoints from one URL:

    - a server root (`http://host:7878` or `.../`): `/query`, `/update`, `/store`
      (the Oxigraph server layout);
    - a URL ending in `/query`: the sibling `/update` and `/store`;
    - a URL ending in `/sparql`: the sibling `/update`, and no GSP endpoint
      (reads and exports then use CONSTRUCT queries);
    - any other URL is a dataset URL that serves all three protocols itself
      (Fuseki's `http://host:3030/ds`).

    The union default graph (`default_graph_union=True`) is asked for with the
    `union-default-graph` request parameter, which Oxigraph server implements.
    Other engines ignore or refuse it: configure the union there instead
    (Fuseki: `tdb2:unionDefaultGraph true`) and set `union_param = None`. With
    such a configuration `count()` is wrong, as it reads the default graph.

    Graph existence (`existing`, `delete`) means "has at least one triple",
    the only portable definition; Oxigraph also keeps empty named graphs.
    """

    #: request parameter asking the engine for the union default graph
    union_param: str | None = "union-default-graph"
    in_process = False

    def __init__(
        self,
        query_url: str,
        update_url: str,
        gsp_url: str | None = None,
        *,
        auth: httpx.Auth | tuple[str, str] | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.query_url = query_url
        self.update_url = update_url
        self.gsp_url = gsp_url
        self.timeout = timeout
        self.description = f"remote SPARQL endpoint at {query_url}"
        self._client = httpx.Client(auth=auth, timeout=httpx.Timeout(timeout))

    @classmethod
    def from_url(
        cls, url: str, *, auth: httpx.Auth | tuple[str, str] | None = None, timeout: float = 30.0
    ) -> RemoteStore:
        parts = urlsplit(url)
        path = parts.path.rstrip("/")

        def at(p: str) -> str:
            return urlunsplit((parts.scheme, parts.netloc, p, "", ""))

        if path == "":
            return cls(at("/query"), at("/update"), at("/store"), auth=auth, timeout=timeout)
        base, _, last = path.rpartition("/")
        if last == "query":
            return cls(
                at(path), at(f"{base}/update"), at(f"{base}/store"), auth=auth, timeout=timeout
            )
        if last == "sparql":
            return cls(at(path), at(f"{base}/update"), None, auth=auth, timeout=timeout)
        return cls(at(path), at(path), at(path), auth=auth, timeout=timeout)

    # --- HTTP ------------------------------------------------------------

    def _send(
        self,
        method: str,
        url: str,
        *,
        params: list[tuple[str, str]] | None = None,
        content: str | None = None,
        headers: dict[str, str],
        allow: tuple[int, ...] = (),
    ) -> httpx.Response:
        try:
            data = content.encode() if content is not None else None
            query = tuple(params or ())
            response = self._client.request(
                method, url, params=query, content=data, headers=headers
            )
        except httpx.TimeoutException as e:
            raise RemoteStoreError(f"{url} did not answer within {self.timeout}s", hint=HINT) from e
        except httpx.HTTPError as e:
            raise RemoteStoreError(f"cannot reach {url}: {e}", hint=HINT) from e
        if response.is_success or response.status_code in allow:
            return response
        body = response.text.strip()
        if response.status_code == 400:
            raise QueryError(body or "the endpoint refused the request", details={"endpoint": url})
        raise RemoteStoreError(
            f"{url} answered {response.status_code} {response.reason_phrase}: {body[:2000]}",
            hint=HINT if response.status_code >= 500 else None,
        )

    def _update(self, sparql: str) -> None:
        self._send("POST", self.update_url, content=sparql, headers={"content-type": SPARQL_UPDATE})

    def _select(self, sparql: str) -> list[ox.QuerySolution]:
        result = self.query(sparql, default_graph_union=False)
        assert isinstance(result, ox.QuerySolutions)
        return list(result)

    def _ask(self, sparql: str) -> bool:
        result = self.query(sparql, default_graph_union=False)
        assert isinstance(result, ox.QueryBoolean)
        return bool(result)

    def _read(self, graph: GraphName) -> Iterator[ox.Triple]:
        if isinstance(graph, ox.DefaultGraph):
            pattern, params = "?s ?p ?o", [("default", "")]
        else:
            pattern, params = f"GRAPH {graph} {{ ?s ?p ?o }}", [("graph", graph.value)]
        if self.gsp_url is None:
            sparql = f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ {pattern} }}"
            result = self.query(sparql, default_graph_union=False)
            assert isinstance(result, ox.QueryTriples)
            return iter(result)
        response = self._send(
            "GET", self.gsp_url, params=params, headers={"accept": N_TRIPLES}, allow=(404,)
        )
        if response.status_code == 404:
            return iter(())
        fmt = ox.RdfFormat.from_media_type(_media_type(response)) or ox.RdfFormat.N_TRIPLES
        return (q.triple for q in ox.parse(response.content, format=fmt))

    # --- resources -------------------------------------------------------

    def add(self, graphs: Sequence[ResourceGraph], *, bulk: bool = False) -> None:
        blocks = [(g.iri, f"GRAPH {_iri(g.iri)} {{\n{_canonical(g)}}}\n") for g in graphs]
        requests: list[list[tuple[str, str]]] = []
        size = MAX_UPDATE_BYTES
        for block in blocks:
            if not requests or (bulk and size + len(block[1]) > MAX_UPDATE_BYTES):
                requests.append([])
                size = 0
            requests[-1].append(block)
            size += len(block[1])
        done = 0
        try:
            for request in requests:
                self._update("INSERT DATA {\n" + "".join(b for _, b in request) + "}")
                done += 1
        except JobtrailError as e:
            # Undo what may be stored: the requests that went through, and the
            # failed one unless it was refused or never sent (a timeout may
            # come after the commit). The caller made sure the graphs were new.
            # No journal here: a process killed between requests leaves them.
            refused = isinstance(e, QueryError) or isinstance(e.__cause__, httpx.ConnectError)
            undo = [iri for r in requests[: done + (not refused)] for iri, _ in r]
            if undo:
                try:
                    self._update("".join(f"DROP SILENT GRAPH {_iri(i)} ;\n" for i in undo))
                except JobtrailError:
                    e.hint = f"{HINT}; these graphs may be stored, remove them: {undo}"
            raise

    def bulk_writer(self) -> BulkWriter:
        """Quads through the GSP endpoint when it takes them (store/remote_bulk.py)."""
        return bulk_writer(self, self.gsp_url, self._client, self.timeout)

    def replace(self, graph: ResourceGraph) -> None:
        g = _iri(graph.iri)
        self._update(
            f"DROP SILENT GRAPH {g} ;\nINSERT DATA {{ GRAPH {g} {{\n{_canonical(graph)}}} }}"
        )

    def delete(self, iri: str) -> bool:
        g = _iri(iri)
        if not self._ask(f"ASK {{ GRAPH {g} {{ ?s ?p ?o }} }}"):
            return False
        self._update(f"DROP SILENT GRAPH {g}")
        return True

    def existing(self, iris: Iterable[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(dict.fromkeys(iris), VALUES_CHUNK):
            values = " ".join(_iri(i) for i in chunk)
            # FILTER EXISTS stops at a graph's first triple
            has_triples = "FILTER EXISTS { GRAPH ?g { ?s ?p ?o } }"
            rows = self._select(f"SELECT ?g WHERE {{ VALUES ?g {{ {values} }} {has_triples} }}")
            found.update(row["g"].value for row in rows)
        return found

    def read(self, iri: str) -> list[ox.Triple]:
        _iri(iri)
        return list(self._read(ox.NamedNode(iri)))

    # --- SPARQL ----------------------------------------------------------

    def query(
        self,
        sparql: str,
        *,
        substitutions: dict[str, ox.NamedNode | ox.Literal | ox.BlankNode] | None = None,
        default_graph_union: bool = True,
        default_graphs: Sequence[str] | None = None,
        named_graphs: Sequence[str] | None = None,
    ) -> QueryResult:
        """See `Store.query`; a few differences follow from the protocol.

        The protocol cannot bind variables, so `substitutions` become a
        trailing `VALUES` clause of terms serialized by pyoxigraph. It is
        joined with the solutions of the WHERE clause (after any grouping), so
        FILTERs and BINDs inside it do not see the value: bind variables the
        pattern binds and SELECT projects (pyoxigraph requires the latter too).
        Blank nodes cannot be bound. Oxigraph server refuses `named_graphs`
        with the union default graph (QueryError): pass default_graph_union=False.
        """
        params: list[tuple[str, str]] = []
        if default_graphs:
            params += [("default-graph-uri", g) for g in default_graphs]
        elif default_graph_union and self.union_param:
            params.append((self.union_param, "true"))
        params += [("named-graph-uri", g) for g in named_graphs or ()]
        if substitutions:
            if any(isinstance(t, ox.BlankNode) for t in substitutions.values()):
                raise QueryError("a remote endpoint cannot bind a variable to a blank node")
            names = " ".join(str(ox.Variable(name)) for name in substitutions)
            terms = " ".join(str(term) for term in substitutions.values())
            # on a new line: the query may end with a # comment
            sparql = f"{sparql}\nVALUES ({names}) {{ ({terms}) }}"
        response = self._send(
            "POST",
            self.query_url,
            params=params,
            content=sparql,
            headers={"content-type": SPARQL_QUERY, "accept": QUERY_ACCEPT},
        )
        media_type = _media_type(response)
        results_format = ox.QueryResultsFormat.from_media_type(media_type)
        if results_format is not None:
            return ox.parse_query_results(response.content, format=results_format)
        rdf_format = ox.RdfFormat.from_media_type(media_type)
        if rdf_format is None:
            raise RemoteStoreError(f"{self.query_url} answered with unexpected type {media_type!r}")
        # QueryTriples cannot be built directly; an in-memory store makes a
        # real one, so callers get the same type (with .serialize) everywhere.
        graph = ox.Store()
        graph.load(response.content, format=rdf_format)
        return graph.query("CONSTRUCT WHERE { ?s ?p ?o }")

    def update(self, sparql: str) -> None:
        self._update(sparql)

    # --- whole store ------------------------------------------------------

    def count(self, graph: str | None = None) -> int:
        if graph is None:
            where = "{ ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } }"
        else:
            where = f"GRAPH {_iri(graph)} {{ ?s ?p ?o }}"
        rows = self._select(f"SELECT (COUNT(*) AS ?n) WHERE {{ {where} }}")
        return int(rows[0]["n"].value)

    def graphs(self) -> Iterator[str]:
        for row in self._select("SELECT DISTINCT ?g WHERE { GRAPH ?g {} }"):
            yield row["g"].value

    def export(self, output: IO[bytes], format: DumpFormat = "nquads") -> None:
        names: list[GraphName] = [ox.DefaultGraph(), *(ox.NamedNode(g) for g in self.graphs())]
        for name in names:  # one graph in memory at a time
            quads = (ox.Quad(t.subject, t.predicate, t.object, name) for t in self._read(name))
            ox.serialize(quads, output, format=RDF_FORMATS[format])

    def import_(self, input: IO[bytes], format: DumpFormat = "nquads") -> None:
        """Not atomic: chunks sent before a syntax error stay stored.

        Blank node labels are scoped to one update request, so a blank node
        used in quads that land in different chunks becomes several nodes.
        """
        try:
            for chunk in _chunks(ox.parse(input, format=RDF_FORMATS[format]), IMPORT_CHUNK):
                by_graph: dict[ox.NamedNode | ox.BlankNode | ox.DefaultGraph, list[ox.Triple]] = {}
                for quad in chunk:
                    by_graph.setdefault(quad.graph_name, []).append(quad.triple)
                body = ""
                for name, triples in by_graph.items():
                    text = _ntriples(triples)
                    body += (
                        text
                        if isinstance(name, ox.DefaultGraph)
                        else f"GRAPH {name} {{\n{text}}}\n"
                    )
                self._update("INSERT DATA {\n" + body + "}")
        except SyntaxError as e:
            raise MalformedInput(str(e)) from e

    def close(self) -> None:
        self._client.close()
