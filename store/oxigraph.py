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

import contextlib
import functools
import os
import select
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, TypeVar, cast

import pyoxigraph as ox
from jobtrail.base.errors import MalformedInput, QueryError, StoreError, StoreLocked
from jobtrail.store import space
from jobtrail.store.base import (
    RDF_FORMATS,
    BulkWriter,
    DumpFormat,
    QueryResult,
    ResourceGraph,
    Store,
)

JOURNAL = "jobtrail.journal"
_STREAM_CHUNK = 1 << 20
_Method = TypeVar("_Method", bound=Callable[..., Any])


def _writes(method: _Method) -> _Method:
    """A write: an `OSError` saying the disk is full becomes `StoreFull` naming the store."""

    @functools.wraps(method)
    def write(self: OxigraphStore | _StreamingWriter, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except OSError as e:
            if not space.is_full(e):
                raise
            path = self.path if isinstance(self, OxigraphStore) else self.store.path
            raise space.full_error(path, e) from e

    return cast(_Method, write)


def _nquads(graphs: Sequence[ResourceGraph]) -> str:
    for graph in graphs:  # an IRI with `>` or a newline would write other quads
        try:
            _graph(graph.iri)
        except ValueError as e:
            raise MalformedInput(f"graph <{graph.iri}>: {e}") from e
    return "".join(g.nquads() for g in graphs)


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
        self.writes = 0
        """Writes completed since the store was opened (`snapshot` tells how many it holds)."""
        self._writes_lock = threading.Lock()
        self._unseen = threading.local()  # this thread's update is one nobody sees
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

    def _journals(self) -> list[Path]:
        return sorted(self.path.glob(JOURNAL + "*")) if self.path is not None else []

    @_writes
    def _recover(self, journal: Path | None = None) -> None:
        """Drop the graphs named in a journal (or in every journal left behind)."""
        for path in [journal] if journal is not None else self._journals():
            if not path.exists():
                continue
            pending = [line for line in path.read_text("utf-8").splitlines() if line]
            if pending:
                self._store.update("".join(f"DROP SILENT GRAPH <{iri}> ;\n" for iri in pending))
                self._store.flush()
            path.unlink()

    @_writes
    def _begin(self, journal: Path, iris: list[str]) -> None:
        """Add graphs to a journal, durably, before any of their quads are written."""
        with open(journal, "a", encoding="utf-8") as f:
            f.write("\n".join(iris) + "\n")
            f.flush()
            os.fsync(f.fileno())

    @_writes
    def _commit(self, journal: Path | None) -> None:
        self._store.flush()
        self._wrote()
        if journal is not None:
            journal.unlink(missing_ok=True)

    # --- resources -------------------------------------------------------

    @_writes
    def add(self, graphs: Sequence[ResourceGraph], *, bulk: bool = False) -> None:
        if not graphs:
            return
        if bulk:
            writer = self.bulk_writer()
            try:
                writer.write(graphs)
                writer.close()
            except BaseException:
                writer.abort()
                raise
            return
        data = _nquads(graphs)
        try:
            # `load` is one transaction: all of it or nothing.
            self._store.load(data, format=ox.RdfFormat.N_QUADS)
        except SyntaxError as e:
            raise MalformedInput(str(e)) from e
        self._wrote()

    def bulk_writer(self) -> _StreamingWriter:
        return _StreamingWriter(self)

    def replace(self, graph: ResourceGraph) -> None:
        g = _checked(graph)
        triples = graph.ntriples()
        self._update(f"DROP SILENT GRAPH {g} ;\nINSERT DATA {{ GRAPH {g} {{\n{triples}}} }}")

    @_writes
    def delete(self, iri: str) -> bool:
        node = _graph(iri)
        if not self._store.contains_named_graph(node):
            return False
        self._store.remove_graph(node)
        self._wrote()
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

    def update_unseen(self, sparql: str) -> None:
        """An update that leaves nothing any reader could see (the write watchdog's quad
        inserted and dropped at once): not counted in `writes`, so the snapshots and the kept
        answers of clients' queries stay current across it."""
        self._unseen.on = True
        try:
            self.update(sparql)
        finally:
            self._unseen.on = False

    @_writes
    def _update(self, sparql: str) -> None:
        try:
            self._store.update(sparql)
        except (SyntaxError, RuntimeError) as e:  # RuntimeError: e.g. DROP of a missing graph
            raise QueryError(str(e)) from e
        if not getattr(self._unseen, "on", False):
            self._wrote()

    def _wrote(self) -> None:
        with self._writes_lock:  # `+=` could lose one of two at once: a snapshot too old
            self.writes += 1

    def snapshot(self, target: str | os.PathLike[str]) -> int:
        """A consistent copy of the store at `target` (a directory not yet there), for
        read-only opening by another process (`ox.Store.read_only`); the number of writes it
        holds at least (`writes` read before it was taken). On disk, the copy hard-links
        the engine's immutable files, so it costs milliseconds, not a copy of the data."""
        if self.path is None:
            raise StoreError("an in-memory store cannot be copied to disk for reading")
        held = self.writes
        try:
            self._store.backup(str(target))
        except OSError as e:
            shutil.rmtree(target, ignore_errors=True)
            if space.is_full(e):
                raise space.full_error(Path(target), e) from e
            raise StoreError(f"cannot copy the store to {target} for reading: {e}") from e
        return held

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

    @_writes
    def import_(self, input: IO[bytes], format: DumpFormat = "nquads") -> None:
        try:
            self._store.bulk_load(input, format=RDF_FORMATS[format])
        except SyntaxError as e:
            raise MalformedInput(str(e)) from e
        self._store.flush()
        self._wrote()

    @_writes
    def close(self) -> None:
        if not hasattr(self, "_store"):  # closed already
            return
        try:
            if self.path is not None and not self.read_only:
                self._store.flush()
        finally:  # released even when the flush fails (a full disk): the WAL holds every write
            del self._store


def _drain(fifo: str) -> None:
    """Read a pipe until its writer closes it, so that the writer never blocks on it."""
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # does not wait for a writer
    try:
        while True:
            try:
                if not os.read(fd, _STREAM_CHUNK):
                    return  # no writer (any more)
            except BlockingIOError:
                select.select([fd], [], [], 1.0)
    finally:
        os.close(fd)


class _StreamingWriter(BulkWriter):
    """One engine bulk load for the whole writer, fed as graphs are written.

    The quads go through a named pipe that Oxigraph reads natively on its own
    thread: no Python is involved on its side, so it parses and indexes without
    the GIL while the caller goes on reading and validating the next messages.
    The journal names every graph before its quads are handed over, so a crash
    or a failure drops them all (see the module docstring).
    """

    store: OxigraphStore

    def __init__(self, store: OxigraphStore):
        super().__init__(store)
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._pipe: IO[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._iris: list[str] = []  # to drop them again if the load fails
        # each writer has a journal of its own: two may be open at once (one closing)
        self._journal = (
            store.path / f"{JOURNAL}.{uuid.uuid4().hex}" if store.path is not None else None
        )

    def _start(self) -> IO[bytes]:
        self._dir = tempfile.TemporaryDirectory(prefix="jobtrail-bulk-")
        fifo = os.path.join(self._dir.name, "quads.nq")
        os.mkfifo(fifo)
        self._thread = threading.Thread(target=self._run, args=(fifo,), name="jobtrail-bulk-load")
        self._thread.daemon = True  # a load left waiting on its pipe must not keep a process alive
        self._thread.start()
        self._pipe = open(fifo, "wb", buffering=_STREAM_CHUNK)  # noqa: SIM115 - closed by close()
        return self._pipe

    def _run(self, fifo: str) -> None:
        try:
            # lenient: IRIs are not parsed a second time. Every IRI a reader takes from
            # input was checked by pyoxigraph's own parser (nt.checked_iri); the rest are ours.
            self.store._store.bulk_load(path=fifo, format=ox.RdfFormat.N_QUADS, lenient=True)
        except BaseException as e:  # handed to the caller by close()
            self._error = e
            _drain(fifo)

    def write(self, graphs: Sequence[ResourceGraph]) -> None:
        if not graphs:
            return
        data = _nquads(graphs).encode("utf-8")
        if self._journal is not None:
            self.store._begin(self._journal, [g.iri for g in graphs])
        self._iris += (g.iri for g in graphs)
        pipe = self._pipe or self._start()
        with contextlib.suppress(BrokenPipeError):  # the load failed; close() says why
            pipe.write(data)

    @_writes
    def close(self) -> None:
        if self._thread is None:
            return
        self._finish()
        if self._error is not None:
            # what was written stays until `abort` (or the journal at the next open): a
            # transaction dropping it now would wait for another writer's engine bulk load
            # running beside this one, whose caller may be waiting for this close
            error, self._error = self._error, None
            if isinstance(error, SyntaxError):
                raise MalformedInput(str(error)) from error
            raise error
        self._iris = []
        self.store._commit(self._journal)

    def abort(self) -> None:
        if self._thread is not None:
            self._finish()
        # a store that refuses the drop too (its disk full) drops them when next opened:
        # the journal names them; the error that made the caller give up is the one to tell
        with contextlib.suppress(OSError, StoreError):
            self._drop()

    def _finish(self) -> None:
        assert self._pipe is not None and self._thread is not None and self._dir is not None
        with contextlib.suppress(BrokenPipeError):
            self._pipe.close()
        self._thread.join()
        self._dir.cleanup()
        self._pipe = self._thread = self._dir = None

    def _drop(self) -> None:
        """Remove what part of the load was written, now rather than at the next open."""
        if self._iris:
            self.store._store.update("".join(f"DROP SILENT GRAPH <{i}> ;\n" for i in self._iris))
            self._iris = []
        if self._journal is not None:
            self.store._recover(self._journal)
