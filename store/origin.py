"""The base URL a store's IRIs were minted under, kept in the store itself.

Every IRI jobtrail mints (`{base}messages/…`, `{base}jobs/…`, `{base}producers/…`) starts with
the base URL of the load or server that wrote it; a server answering under another base finds
none of them. So the first `jobtrail load` or `jobtrail serve` that writes to a store records its
base as one triple of the graph `urn:jobtrail:store`:

    GRAPH <urn:jobtrail:store> { <urn:jobtrail:store> <urn:jobtrail:store#baseURL> "http://…/" }

and later ones read it. The graph is not a message and is not sealed (the seal log, `verify`,
the public copy and the message feeds never see it); `export` writes it like any graph, so a
dump loaded into a new store brings the base its IRIs were minted under. A store written before
the record existed is read for a message's IRI instead (`{base}messages/{sha256}`).
"""

from __future__ import annotations

import pyoxigraph as ox
from jobtrail.base.errors import InputError
from jobtrail.store.base import Store

GRAPH = "urn:jobtrail:store"
BASE_URL = f"{GRAPH}#baseURL"  # a term of the store's own, as jobs/public.py's marker
_MESSAGE = "https://w3id.org/jobtrail/vocab#Message"
_RECORDED = f"SELECT ?b WHERE {{ GRAPH <{GRAPH}> {{ <{GRAPH}> <{BASE_URL}> ?b }} }} LIMIT 1"
_A_MESSAGE = f"SELECT ?m WHERE {{ GRAPH ?m {{ ?m a <{_MESSAGE}> }} }} LIMIT 1"


def recorded(store: Store, *, inferred: bool = True) -> str | None:
    """The base URL recorded in the store, else (`inferred`) the one its messages' IRIs were
    minted under, else None (an empty store, or one whose writer left no trace of its base)."""
    for row in _rows(store, _RECORDED):
        value = row["b"]
        if isinstance(value, ox.Literal):
            return value.value
    if not inferred:
        return None
    for row in _rows(store, _A_MESSAGE):
        iri = row["m"]
        if isinstance(iri, ox.NamedNode) and "/messages/" in iri.value:
            return iri.value.rsplit("/messages/", 1)[0] + "/"
    return None


def _rows(store: Store, select: str) -> ox.QuerySolutions:
    rows = store.query(select)
    assert isinstance(rows, ox.QuerySolutions)
    return rows


def record(store: Store, base: str) -> None:
    """Record `base` as the base the store's IRIs are minted under (replacing any other)."""
    literal = ox.Literal(base)
    store.update(
        f"DROP SILENT GRAPH <{GRAPH}> ;\n"
        f"INSERT DATA {{ GRAPH <{GRAPH}> {{ <{GRAPH}> <{BASE_URL}> {literal} }} }}"
    )


def settle(store: Store, wanted: str, *, given: bool, name: str) -> str:
    """The base URL to mint and serve the store's IRIs under: the store's own, else `wanted`.
    InputError when `wanted` was `given` (a flag, the environment, a config file) and differs
    from the store's: under it none of the store's IRIs would be found. `name`: the store's."""
    held = recorded(store)
    if held is None:
        return wanted
    if held != wanted and given:
        raise InputError(
            f"the store {name} holds IRIs minted under {held}; under the base URL {wanted} "
            "none of them would be found",
            hint=f"leave out --base-url (and JOBTRAIL_BASE_URL) to use {held}, or give "
            f"--store a new store for {wanted}",
            details={"store_base_url": held, "base_url": wanted},
        )
    return held


def keep(store: Store, base: str) -> None:
    """Record `base` unless the store records one already (the first writer's base stays); a
    store written before the record existed keeps the base its messages were minted under."""
    if recorded(store, inferred=False) is None:
        record(store, recorded(store) or base)


__all__ = ["BASE_URL", "GRAPH", "keep", "record", "recorded", "settle"]
