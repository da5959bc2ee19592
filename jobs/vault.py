"""Secrets a job needs to run but the dataset must never hold, kept outside it.

A job's input URL may carry credentials (`https://user:password@host/…`). The job core
stores the URL with its password replaced (`base/redact.py`); the vault keeps the real
one, by job id, for the worker that fetches it. With a directory, each entry is a file
readable by the server's user only, so a restart keeps them; an entry goes when its job
is deleted or destroyed.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

_ID = re.compile(r"[A-Za-z0-9._-]+")


class Vault:
    def __init__(self, directory: Path | None = None):
        self.directory = directory
        self._entries: dict[str, str] = {}
        self._lock = threading.Lock()

    def _path(self, job_id: str) -> Path | None:
        if self.directory is None or not _ID.fullmatch(job_id):
            return None
        return self.directory / job_id

    def put(self, job_id: str, secret: str) -> None:
        with self._lock:
            if self._entries.get(job_id) == secret:
                return  # kept already (a record written again): no file written again
            self._entries[job_id] = secret
            path = self._path(job_id)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    f.write(secret)

    def get(self, job_id: str) -> str | None:
        with self._lock:
            if job_id in self._entries:
                return self._entries[job_id]
            path = self._path(job_id)
            if path is not None and path.is_file():
                secret = path.read_text("utf-8")
                self._entries[job_id] = secret
                return secret
            return None

    def drop(self, job_id: str) -> None:
        with self._lock:
            self._entries.pop(job_id, None)
            path = self._path(job_id)
            if path is not None:
                path.unlink(missing_ok=True)
