"""The store interface every backend implements.

A stored resource (job state, message, command, aggregation) is one named
graph named by the resource's IRI, so it is written, replaced and deleted as
a unit. Triples travel as N-Triples term strings: readers produce them
without building Python term objects, and every backend can hand them to its
engine as text (N-Quads for Oxigraph, INSERT DATA for a SPARQL endpoint).
Reads and queries come back as pyoxigraph objects whatever the backend.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Literal, TypeAlias

import pyoxigraph as ox

Triple: TypeAlias = tuple[str, str, str]
"""Subject, predicate, object, each in N-Triples syntax (`<iri>`, `"lit"^^<dt>`)."""

QueryResult: TypeAlias = ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples
DumpFormat: TypeAlias = Literal["nquads", "trig"]

RDF_FORMATS: dict[str, ox.RdfFormat] = {
    "nquads": ox.RdfFormat.N_QUADS,
    "trig": ox.RdfFormat.TRIG,
}


@dataclass
class ResourceGraph:
    """One resource's named graph, ready to be stored."""

    iri: str
    triples: list[Triple] = field(default_factory=list)

    def nquads(self) -> str:
        g = f"<{self.iri}>"
        return "".join(f"{s} {p} {o} {g} .\n" for s, p, o in self.triples)

    def ntriples(self) -> str:
        return "".join(f"{s} {p} {o} .\n" for s, p, o in self.triples)


class BulkWriter:
    """Writes the graphs of a large load; all of them are stored once `close` returns.

    Nothing written may be reported as stored before `close` returns. The
    default stores each `write` at once with `Store.add(bulk=True)` and raises
    there if the store refuses it (nothing of that write is kept); the embedded
    backend streams every write into one engine bulk load and raises from
    `close`; `abort` then removes what was written (nothing of any write is
    kept; the journal drops it at the next open if the process dies first).
    """

    def __init__(self, store: Store):
        self.store = store

    def write(self, graphs: Sequence[ResourceGraph]) -> None:
        self.store.add(graphs, bulk=True)

    def close(self) -> None:
        """Wait until everything written is stored (and durable)."""

    def abort(self) -> None:
        """Give up: nothing written is kept."""


class TransactionWriter(BulkWriter):
    """Each write is one ordinary transaction (`Store.add`): all of it or none, durable
    when it returns, with no engine bulk load and no flush. For small loads beside other
    writers (POST /messages in the server)."""

    def write(self, graphs: Sequence[ResourceGraph]) -> None:
        if graphs:
            self.store.add(graphs)


class Store(abc.ABC):
    """One interface over embedded, in-memory and remote stores."""

    #: a short description for messages ("embedded store at ./jobtrail-data")
    description: str = "store"
    #: reads are calls into this process (embedded, in memory), not requests to a server
    in_process: bool = True
    #: other processes may write it at the same time (a remote engine): what must happen
    #: once among them happens under a lease held in the engine (`store/leases.py`)
    shared: bool = False

    # --- resources -------------------------------------------------------

    @abc.abstractmethod
    def add(self, graphs: Sequence[ResourceGraph], *, bulk: bool = False) -> None:
        """Store new resource graphs, all or none.

        `bulk=True` allows a faster path for large loads; it is still all or
        none as seen after a restart (see the embedded backend's journal).
        The caller makes sure the graphs do not exist yet (`existing`).
        """

    def bulk_writer(self) -> BulkWriter:
        """A writer for a large load (see BulkWriter)."""
        return BulkWriter(self)

    @abc.abstractmethod
    def replace(self, graph: ResourceGraph) -> None:
        """Atomically replace a resource's graph (creating it if absent)."""

    def apply(
        self,
        *,
        add: Sequence[ResourceGraph] = (),
        replace: Sequence[ResourceGraph] = (),
        delete: Sequence[str] = (),
    ) -> None:
        """Add, replace and delete resource graphs in one transaction: all of it or none.

        A job change is a new message and the job's new state (and, when it
        completes, its result aggregation) at once; a reader never sees one
        without the other.
        """
        drops = [*delete, *(g.iri for g in replace)]
        for iri in drops:
            ox.NamedNode(iri)  # a bad IRI is refused before anything is sent
        parts = [f"DROP SILENT GRAPH <{iri}>" for iri in drops]
        data = "".join(
            f"GRAPH <{ox.NamedNode(g.iri).value}> {{\n{g.ntriples()}}}\n" for g in (*add, *replace)
        )
        if data:
            parts.append(f"INSERT DATA {{\n{data}}}")
        if parts:
            self.update(" ;\n".join(parts))

    @abc.abstractmethod
    def delete(self, iri: str) -> bool:
        """Atomically remove a resource's graph; False if there was none."""

    @abc.abstractmethod
    def existing(self, iris: Iterable[str]) -> set[str]:
        """The subset of `iris` that name stored graphs."""

    def exists(self, iri: str) -> bool:
        return bool(self.existing([iri]))

    @abc.abstractmethod
    def read(self, iri: str) -> list[ox.Triple]:
        """The triples of a resource's graph (empty if it does not exist)."""

    # --- SPARQL ----------------------------------------------------------

    @abc.abstractmethod
    def query(
        self,
        sparql: str,
        *,
        substitutions: dict[str, ox.NamedNode | ox.Literal | ox.BlankNode] | None = None,
        default_graph_union: bool = True,
        default_graphs: Sequence[str] | None = None,
        named_graphs: Sequence[str] | None = None,
    ) -> QueryResult:
        """Run a SPARQL 1.1 query; the default graph is the union of all graphs.

        `substitutions` binds variables to terms before evaluation (values are
        never spliced into the query text). Raises QueryError for a query that
        does not parse, with the engine's message.
        """

    @abc.abstractmethod
    def update(self, sparql: str) -> None:
        """Run a SPARQL 1.1 update as one transaction."""

    # --- whole store ------------------------------------------------------

    @abc.abstractmethod
    def count(self, graph: str | None = None) -> int:
        """Number of quads in the store, or in one graph."""

    @abc.abstractmethod
    def graphs(self) -> Iterator[str]:
        """IRIs of every named graph."""

    @abc.abstractmethod
    def export(self, output: IO[bytes], format: DumpFormat = "nquads") -> None:
        """Write every quad of the store to `output`."""

    @abc.abstractmethod
    def import_(self, input: IO[bytes], format: DumpFormat = "nquads") -> None:
        """Read quads from `input` into the store (bulk)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release files, connections and locks."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
