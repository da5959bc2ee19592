"""Which store a command opens, and the base URL its IRIs are minted under.

Only `load` and `serve` (and `scrub`, which changes a store in place) write; every other command
reads, and refuses a store path that does not exist rather than making an empty store there (a
mistyped `--store` would otherwise answer "0 messages"). The base URL a store's IRIs were
minted under is recorded in it (`store/origin.py`): a command given no base URL uses that one,
and one given another is refused, since a server under another base would find none of them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from jobtrail.base.errors import InputError, StoreLocked
from jobtrail.server import settings
from jobtrail.store import DEFAULT_PATH, MEMORY, Store, open_store, origin


def exists(spec: str) -> bool:
    """Whether there is a store at `spec` (memory: and endpoints always are)."""
    return spec == MEMORY or "://" in spec or Path(spec).exists()


def missing(spec: str) -> InputError:
    return InputError(
        f"no store at {spec}",
        hint=f"`jobtrail load FILES --store {spec}` creates one; the default store is "
        f"{DEFAULT_PATH} (--store, or JOBTRAIL_STORE, names another)",
    )


def open_existing(config: dict[str, Any], *, reading: bool = True) -> Store:
    """The store named by the settings, which must exist; a snapshot of it when `reading` and
    another process holds it."""
    spec = str(config["store"])
    if not exists(spec):
        raise missing(spec)
    try:
        return open_store(spec)
    except StoreLocked:
        if not reading:
            raise
        print(
            f"note: {spec} is in use by another process; reading a snapshot of it", file=sys.stderr
        )
        return open_store(spec, read_only=True)


def minting_base(store: Store, args: argparse.Namespace, config: dict[str, Any]) -> str:
    """The base URL to mint IRIs under: the store's own, else the one given (or the default);
    InputError when one is given that differs from the store's (`store/origin.py`)."""
    return origin.settle(
        store,
        str(config["base_url"]),
        given=settings.given(args, "base_url"),
        name=str(config["store"]),
    )


__all__ = ["exists", "minting_base", "missing", "open_existing"]
