"""A full disk: telling it from other I/O errors, naming the disk, and how much room is left.

RocksDB (under pyoxigraph) reports a full disk as a plain `OSError` whose text
says "No space left on device" and which carries no errno; Python's own file
writes carry `errno.ENOSPC` (or `EDQUOT`, a quota reached). `full_error` turns
either into `StoreFull`, naming the store's path and the filesystem it is on.

A failed write leaves an embedded store refusing every later write, even once
space is freed (RocksDB's background error is sticky for the life of the open
database); a new `ox.Store` on the same directory writes again. So a server
that met a full disk waits until `free_bytes` shows room again, then reopens
its store (store/watchdog.py; `jobtrail serve` starts a new server process).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from jobtrail.base.errors import StoreFull

ROOM = 4 << 20  # bytes free on the store's disk before it is worth reopening it
_TEXTS = ("no space left on device", "disk quota exceeded")


def is_full(error: BaseException) -> bool:
    """Whether an error says the disk (or the user's quota on it) is full."""
    if not isinstance(error, OSError):
        return False
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(error).lower()
    return any(t in text for t in _TEXTS)


def mount_point(path: str | os.PathLike[str]) -> Path:
    """The mount point of the filesystem holding `path` (or its nearest existing parent)."""
    p = Path(path).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    while not os.path.ismount(p) and p != p.parent:
        p = p.parent
    return p


def free_bytes(path: str | os.PathLike[str]) -> int | None:
    """Bytes an unprivileged process may still write on the disk holding `path`."""
    p = Path(path).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        st = os.statvfs(p)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


def full_error(path: str | os.PathLike[str] | None, error: BaseException) -> StoreFull:
    """`StoreFull` for a write to the store at `path` that failed with `error`."""
    if path is None:
        return StoreFull(f"out of memory or disk space: {error}")
    where = Path(path).absolute()
    disk = mount_point(where)
    return StoreFull(
        f"disk full at {where}: no room left on the filesystem mounted at {disk} ({error})",
        hint=f"free space on {disk} (or move the store to a larger disk), then try again: "
        "what was reported stored is kept; a running `jobtrail serve` reopens its store by "
        "itself once there is room",
        details={"path": str(where), "disk": str(disk)},
    )
