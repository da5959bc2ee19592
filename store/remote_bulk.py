"""Bulk loads into a remote engine through the Graph Store Protocol, as N-Quads.

`RemoteStore.add(bulk=True)` sends SPARQL `INSERT DATA` updates: each graph is
parsed and re-serialized in Python and the engine parses SPARQL. An engine whose
Graph Store endpoint takes quads (Oxigraph server: `POST /store` with
`Content-Type: application/n-quads` adds them to the dataset) is fed the
quads themselves instead, one request per batch (`BulkWriter`):

- the request starts with the batch's first `write` and its body is streamed
  from a queue as the loader hands over chunks, so the engine parses a batch
  while the loader reads and validates the rest of it (and, the loader closing
  a batch on another thread, the next one);
- the engine stores the body all or nothing. Oxigraph server loads a POST body
  in one transaction (`Store::load_from_reader`, "atomic") or, with
  `?no_transaction`, with its bulk loader, which since Oxigraph 0.5.1 is atomic
  too (the sorted files it writes are ingested at once when the body has been
  read; a parse error removes them) and twice as cheap for the engine: that is
  the path taken for Oxigraph 0.5.1 or later (its `Server` header says which).
  A batch is therefore stored whole or not at all, even if this process is
  killed in the middle, and a body the engine refuses (400) leaves nothing;
- `abort` ends the body with a line that is not N-Quads, so that the engine
  refuses it rather than commit a truncated batch, waits for its answer, and
  then drops every graph written (`DROP SILENT GRAPH`, as `RemoteStore.add`
  does), in case it had committed (a timeout after the commit);
- while the loader is slow to hand over the next chunk a blank line (valid
  N-Quads) is sent every `KEEPALIVE` seconds, so the engine's read timeout
  (Oxigraph server: 60 s) does not cut the request.

What is written is trusted as the embedded bulk loader trusts it (its `lenient`
load): the readers make the term strings, and check every IRI taken from input
with pyoxigraph. The graph IRIs are checked here, and the body has exactly one
line per triple, so no term can add a quad of its own. `lenient` is not asked
of the engine: Oxigraph's bulk loader would then skip lines it cannot parse
rather than refuse the batch.

`JOBTRAIL_REMOTE_BULK` chooses the path: `gsp` (the default, as above),
`gsp-transaction` (always a plain POST: one transaction in Oxigraph) or `sparql`
(`INSERT DATA` updates, `RemoteStore.add`). `gsp` falls back to `sparql` for an
engine without a GSP endpoint or whose endpoint refuses an empty N-Quads body
(Virtuoso's GSP takes one graph at a time).
"""

from __future__ import annotations

import enum
import logging
import os
import queue
import re
import threading
from collections.abc import Iterator, Sequence

import httpx
import pyoxigraph as ox
from jobtrail.base.errors import JobtrailError, MalformedInput, RemoteStoreError
from jobtrail.store.base import BulkWriter, ResourceGraph, Store

MODE_ENV = "JOBTRAIL_REMOTE_BULK"
MODES = ("gsp", "gsp-transaction", "sparql")
ATOMIC_BULK_LOADER = (0, 5, 1)
"""The first Oxigraph whose bulk loader commits all of a load or none of it."""
N_QUADS = "application/n-quads"
KEEPALIVE = 15.0
"""Seconds without a chunk after which a blank line is sent (Oxigraph server cuts at 60)."""
COMMIT_TIMEOUT = 10
"""The engine's answer to a batch may take this many times the store's timeout (it commits)."""
REFUSE = b"\n!jobtrail: batch aborted\n"
"""Ends the body of an aborted batch: not N-Quads, so the engine refuses the whole batch."""
HINT = "check that the SPARQL endpoint is running and that the URL is right"

log = logging.getLogger("jobtrail.store")


def bulk_writer(
    store: Store, gsp_url: str | None, client: httpx.Client, timeout: float
) -> BulkWriter:
    """The writer for a large load into a remote `store`: quads through its GSP endpoint
    `gsp_url` when it takes them, else `INSERT DATA` updates (`RemoteStore.add`)."""
    mode = os.environ.get(MODE_ENV, "").strip() or "gsp"
    if mode not in MODES:
        raise RemoteStoreError(
            f"{MODE_ENV}={mode!r} is not a bulk path", hint=f"use one of {', '.join(MODES)}"
        )
    if mode == "sparql" or gsp_url is None:
        return BulkWriter(store)
    response = _probe(gsp_url, client)
    if not response.is_success:
        return BulkWriter(store)
    bulk_loader = mode != "gsp-transaction" and _oxigraph(response) >= ATOMIC_BULK_LOADER
    params = {"no_transaction": ""} if bulk_loader else {}
    return GspWriter(store, gsp_url, client, timeout, params=params)


def _probe(url: str, client: httpx.Client) -> httpx.Response:
    """POST an empty N-Quads body: a success says the endpoint adds quads to the dataset."""
    try:
        return client.post(url, content=b"", headers={"content-type": N_QUADS})
    except httpx.HTTPError as e:
        raise RemoteStoreError(f"cannot reach {url}: {e}", hint=HINT) from e


def _oxigraph(response: httpx.Response) -> tuple[int, ...]:
    """The version of Oxigraph server that answered (`Server: Oxigraph/0.5.13`), else ()."""
    server = response.headers.get("server", "")
    match = re.fullmatch(r"Oxigraph/(\d+)\.(\d+)\.(\d+)\S*", server)
    return tuple(int(n) for n in match.groups()) if match else ()


def _nquads(graphs: Sequence[ResourceGraph]) -> bytes:
    """The graphs' quads; one line per triple, in graphs whose names are IRIs."""
    for graph in graphs:  # an IRI with `>` or a newline would write other quads
        try:
            ox.NamedNode(graph.iri)
        except ValueError as e:
            raise MalformedInput(f"graph <{graph.iri}>: {e}") from e
    text = "".join(g.nquads() for g in graphs)
    if "\r" in text or text.count("\n") != sum(len(g.triples) for g in graphs):
        for graph in graphs:  # name the graph with a line break inside a term
            lines = graph.nquads()
            if "\r" in lines or lines.count("\n") != len(graph.triples):
                raise MalformedInput(f"graph <{graph.iri}>: a term has a line break")
    return text.encode("utf-8")


class _Mark(enum.Enum):
    END = "end"  # the request being sent ends here
    STOP = "stop"  # no request after it


class GspWriter(BulkWriter):
    """N-Quads POSTed to a GSP endpoint: one request per writer (a batch), its body streamed
    as graphs are written. (One request per `write` instead, each stored while the next
    chunk is read, was measured no faster: 53-66 s against 45-75 s for 10,000 hops on a
    loaded machine, and a batch would no longer be one transaction.)"""

    def __init__(
        self,
        store: Store,
        url: str,
        client: httpx.Client,
        timeout: float,
        *,
        params: dict[str, str] | None = None,
    ) -> None:
        super().__init__(store)
        self.url, self.client, self.timeout = url, client, timeout
        self.params = params or {}
        self._queue: queue.SimpleQueue[bytes | _Mark] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._failure: BaseException | httpx.Response | None = None  # the first request's
        self._stopping = False  # aborted: no more requests
        self._iris: list[str] = []  # to drop them again if the batch fails

    def write(self, graphs: Sequence[ResourceGraph]) -> None:
        if not graphs:
            return
        data = _nquads(graphs)
        self._iris += (g.iri for g in graphs)
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="jobtrail-remote-load", daemon=True
            )
            self._thread.start()
        self._queue.put(data)  # unbounded: a batch is bounded; after a failure, skipped

    def _run(self) -> None:
        """Send the request (a request per `_Mark.END`); after a failure, skip what is queued."""
        timeout = httpx.Timeout(self.timeout, read=self.timeout * COMMIT_TIMEOUT)
        while (first := self._queue.get()) is not _Mark.STOP:
            if first is _Mark.END or self._failure is not None or self._stopping:
                continue
            try:
                response = self.client.post(
                    self.url,
                    params=self.params,
                    content=self._body(first),
                    headers={"content-type": N_QUADS},
                    timeout=timeout,
                )
            except BaseException as e:  # handed to the caller by close()
                self._failure = e
                continue
            if not response.is_success:
                self._failure = response

    def _body(self, first: bytes) -> Iterator[bytes]:
        yield first
        while True:
            try:
                part = self._queue.get(timeout=KEEPALIVE)
            except queue.Empty:
                yield b"\n"
                continue
            if isinstance(part, _Mark):
                assert part is _Mark.END
                return
            yield part

    def _finish(self, last: bytes | None = None) -> BaseException | httpx.Response | None:
        """End the body (with `last`) and wait for the engine's answer: the failure, if any."""
        if self._thread is None:
            return None
        if last is not None:
            self._queue.put(last)
        self._queue.put(_Mark.END)
        self._queue.put(_Mark.STOP)
        self._thread.join()
        self._thread = None
        failure, self._failure = self._failure, None
        return failure

    def close(self) -> None:
        failure = self._finish()
        if failure is None:
            self._iris = []
            return
        # what was written stays until `abort`, as the loader expects of any writer
        if isinstance(failure, httpx.TimeoutException):
            waited = self.timeout * COMMIT_TIMEOUT
            raise RemoteStoreError(f"{self.url} did not answer within {waited:g}s", hint=HINT)
        if isinstance(failure, httpx.HTTPError):
            raise RemoteStoreError(f"cannot reach {self.url}: {failure}", hint=HINT) from failure
        if isinstance(failure, BaseException):
            raise failure
        body = failure.text.strip()[:2000]
        if failure.status_code == 400:  # refused as a whole (atomic): isolate what it was
            raise MalformedInput(f"the store refused the batch: {body}")
        raise RemoteStoreError(
            f"{self.url} answered {failure.status_code} {failure.reason_phrase}: {body}",
            hint=HINT if failure.status_code >= 500 else None,
        )

    def abort(self) -> None:
        self._stopping = True
        self._finish(REFUSE)  # a body being streamed ends refused; no other request is sent
        if not self._iris:
            return
        iris, self._iris = self._iris, []
        try:
            self.store.update("".join(f"DROP SILENT GRAPH <{iri}> ;\n" for iri in iris))
        except JobtrailError as e:  # the caller's own error is the one to tell
            log.warning("these graphs may be stored, remove them: %s (%s)", iris, e)
