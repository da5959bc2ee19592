"""The store: one interface, three backends (embedded on disk, in memory, remote SPARQL)."""

from __future__ import annotations

from jobtrail.store.base import QueryResult, ResourceGraph, Store, Triple

DEFAULT_PATH = "./jobtrail-data"
MEMORY = "memory:"


def open_store(spec: str | None = None, *, read_only: bool = False) -> Store:
    """Open the store named by `spec`.

    - a directory path (default `./jobtrail-data`): embedded Oxigraph on disk;
    - `memory:`: an in-memory Oxigraph store, gone when the process ends;
    - an `http(s)://` URL: a remote SPARQL 1.1 endpoint (see `RemoteStore`).
    """
    spec = spec or DEFAULT_PATH
    if spec == MEMORY:
        from jobtrail.store.oxigraph import OxigraphStore

        return OxigraphStore(None)
    if spec.startswith(("http://", "https://")):
        from jobtrail.store.remote import RemoteStore

        return RemoteStore.from_url(spec)
    from jobtrail.store.oxigraph import OxigraphStore

    return OxigraphStore(spec, read_only=read_only)


__all__ = [
    "DEFAULT_PATH",
    "MEMORY",
    "QueryResult",
    "ResourceGraph",
    "Store",
    "Triple",
    "open_store",
]
