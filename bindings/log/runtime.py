"""What the log binding runs: the log's signing key, and checkpoints issued on a schedule."""

from __future__ import annotations

import logging
import threading

from jobtrail.ingest import checkpoint
from jobtrail.ingest.checkpoint import Kept, Signer
from jobtrail.web.state import AppRequest, Engine, Runtime

log = logging.getLogger("jobtrail.log")


class Checkpoints(Runtime):
    """Issues a checkpoint every `checkpoint_every` seconds when the tree has grown since the
    newest one kept (and on demand: `issue`)."""

    def __init__(self, engine: Engine, signer: Signer):
        self.engine = engine
        self.signer = signer
        self.every = engine.config.checkpoint_every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._issuing = threading.Lock()

    def start(self) -> None:
        if self.every > 0:
            self._thread = threading.Thread(target=self._run, name="checkpoints", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def issue(self) -> Kept:
        """A checkpoint of the tree as committed now (the newest kept, when it signs that)."""
        with self._issuing:
            return checkpoint.issue(self.engine.log, self.signer)

    def latest(self) -> Kept:
        """The newest kept checkpoint; one issued now when none is kept yet."""
        return checkpoint.latest(self.engine.store, self.signer) or self.issue()

    def covering(self, size: int) -> Kept:
        """The newest kept checkpoint if it signs at least `size` records, else a new one."""
        found = checkpoint.latest(self.engine.store, self.signer)
        if found is not None and found.size >= size:
            return found
        return self.issue()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                found = checkpoint.latest(self.engine.store, self.signer)
                if found is None or found.size < self.engine.log.committed.position:
                    self.issue()
            except Exception:  # the next round tries again; the server goes on
                log.exception("issuing a checkpoint failed")


def start(engine: Engine) -> Checkpoints:
    config = engine.config
    signer = checkpoint.signer_for(config.store, config.base_url, config.log_key_file)
    return Checkpoints(engine, signer)


def checkpoints_of(request: AppRequest) -> Checkpoints:
    found = request.state["runtimes"]["log"]
    assert isinstance(found, Checkpoints)
    return found
