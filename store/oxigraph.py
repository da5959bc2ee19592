"""Embedded Oxigraph backends: on disk (the default) and in memory.

Queries run on Oxigraph's own SPARQL engine through pyoxigraph, never through
rdflib's Python evaluator (oxrdflib would hand SPARQL to rdflib).

Bulk loads use `Store.bulk_load`, which is fast but not transactional: a
process killed in the middle may leave part of a batch behind. The journal
makes it all-or-nothing as seen after a restart: before a batch is written
its graph IRIs are written to `jobtrail.journal` (fsynced), after it is
written and flushed the journal is emptied, and opening a store whose
journal is not empty drops those graphs first. A graph is only reported as
stored once its batch is committed, so a crash loses nothing reported.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO

import pyoxigraph as ox

from .base import RDF_FORMATS, DumpFormat, QueryResult, ResourceGraph, Store
from .errors import MalformedInput, QueryError, StoreError, StoreLocked

JOURNAL = "jobtrail.journal"


def _graph(iri: str) -> ox.NamedNode:
    return ox.NamedNode(iri)


def _checked(graph: ResourceGraph) -> str:
    """`<iri>` of a graph whose IRI and triples are valid, as they are spliced into text."""
    try:
        g = str(_graph(graph.iri))
        for _ in ox.parse(graph.ntriples(), format=ox.RdfFormat.N_TRIPLES):
            pass
    except (ValueError, SyntaxError) as e:
        raise MalformedInput(f"graph <{graph.iri}>: {e}") from e
    return g


class OxigraphStore(Store):
    """Oxigraph on disk at `path`, or in memory when `path` is None."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, read_only: bool = False):
        self.path = Path(path) if path is not None else None
        self.read_only = read_only
        if self.path is None:
            self.description = "in-memory store"
            self._store = ox.Store()
            return
        self.description = f"embedded store at {self.path}"
        try:
            if read_only:
                self._store = ox.Store.read_only(str(self.path))
            else:
                self.path.mkdir(parents=True, exist_ok=True)
                self._store = ox.Store(str(self.path))
        except OSError as e:
            if "lock" in str(e).lower():
                raise StoreLocked(
                    f"{self.path} is in use by another process",
                    hint="stop the other jobtrail process (a running `jobtrail serve`?), "
                    "or give another directory with --store PATH",
                ) from e
            raise StoreError(f"cannot open {self.path}: {e}") from e
        if not read_only:
            self._recover()

    # --- journal ---------------------------------------------------------

    @property
    def _journal(self) -> Path | None:
        return self.path / JOURNAL if self.path is not None else None

    def _recover(self) -> None:
        journal = self._journal
        if journal is None or not journal.exists():
            return
        pending = [line for line in journal.read_text("utf-8").splitlines() if line]
        if pending:
            self._store.update("".join(f"DROP SILENT GRAPH <{iri}> ;\n" for iri in pending))
            self._store.flush()
        journal.unlink()

    def _begin(self, iris: list[str]) -> None:
        journal = self._journal
        assert journal is not None
        with open(journal, "w", encoding="utf-8") as f:
            f.write("\n".join(iris) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def _commit(self) -> None:
        journal = self._journal
        assert journal is not None
        self._store.flush()
        journal.unlink()

    # --- resources -------------------------------------------------------

    def add(self, graphs: Sequence[ResourceGraph], *, bulk: bool = False) -> None:
        if not graphs:
            return
        for graph in graphs:  # an IRI with `>` or a newline would write other quads
            try:
                _graph(graph.iri)
            except ValueError as e:
                raise MalformedInput(f"graph <{graph.iri}>: {e}") from e
        data = "".join(g.nquads() for g in graphs)
        try:
            if not bulk:
                # `load` is one transaction: all of it or nothing.
                self._store.load(data, format=ox.RdfFormat.N_QUADS)
                return
            if self._journal is not None:
                self._begin([g.iri for g in graphs])
            try:
                self._store.bulk_load(data, format=ox.RdfFormat.N_QUADS)
            except BaseException:
                self._recover()  # drop what was written now, not at the next open
                raise
        except SyntaxError as e:
            raise MalformedInput(str(e)) from e
        if self._journal is not None:
            self._commit()

    def replace(self, graph: ResourceGraph) -> None:
        g = _checked(graph)
        triples = graph.ntriples()
        self._update(f"DROP SILENT GRAPH {g} ;\nINSERT DATA {{ GRAPH {g} {{\n{triples}}} }}")

    def delete(self, iri: str) -> bool:
        node = _graph(iri)
        if not self._store.contains_named_graph(node):
            return False
        self._store.remove_graph(node)
        return True

    def existing(self, iris: Iterable[str]) -> set[str]:
        contains = self._store.contains_named_graph
        return {iri for iri in iris if contains(ox.NamedNode(iri))}

    def read(self, iri: str) -> list[ox.Triple]:
        return [q.triple for q in self._store.quads_for_pattern(None, None, None, _graph(iri))]

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
        kwargs: dict[str, object] = {}
        if default_graphs:
            kwargs["default_graph"] = [_graph(i) for i in default_graphs]
        else:
            kwargs["use_default_graph_as_union"] = default_graph_union
        if named_graphs:
            kwargs["named_graphs"] = [_graph(i) for i in named_graphs]
        if substitutions:
            kwargs["substitutions"] = {ox.Variable(k): v for k, v in substitutions.items()}
        try:
            return self._store.query(sparql, **kwargs)  # type: ignore[arg-type]
        except (SyntaxError, RuntimeError) as e:  # RuntimeError: e.g. a substitution not projected
            raise QueryError(str(e), details={"query": sparql}) from e

    def update(self, sparql: str) -> None:
        self._update(sparql)

    def _update(self, sparql: str) -> None:
        try:
            self._store.update(sparql)
        except (SyntaxError, RuntimeError) as e:  # RuntimeError: e.g. DROP of a missing graph
            raise QueryError(str(e)) from e

    # --- whole store ------------------------------------------------------

    def count(self, graph: str | None = None) -> int:
        if graph is None:
            return len(self._store)
        return sum(1 for _ in self._store.quads_for_pattern(None, None, None, _graph(graph)))

    def graphs(self) -> Iterator[str]:
        for g in self._store.named_graphs():
            yield g.value

    def export(self, output: IO[bytes], format: DumpFormat = "nquads") -> None:
        self._store.dump(output, format=RDF_FORMATS[format])

    def import_(self, input: IO[bytes], format: DumpFormat = "nquads") -> None:
        try:
            self._store.bulk_load(input, format=RDF_FORMATS[format])
        except SyntaxError as e:
            raise MalformedInput(str(e)) from e
        self._store.flush()

    def close(self) -> None:
        if not hasattr(self, "_store"):  # closed already
            return
        if self.path is not None and not self.read_only:
            self._store.flush()
        del self._store
