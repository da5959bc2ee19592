"""SHACL shapes for every stored type, and the validators that apply them.

`validate` is the fast path (the shapes compiled to Python checks, see
compiled.py); `validate_full` runs pySHACL on the same shapes.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from importlib.resources import files

from jobtrail.store import Triple
from rdflib import Graph

from .report import Report, Result


@cache
def shapes_graph() -> Graph:
    """Every `*.ttl` of this package, parsed once."""
    g = Graph()
    for entry in sorted(files(__name__).iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".ttl"):
            g.parse(data=entry.read_text("utf-8"), format="turtle")
    return g


def shapes_turtle() -> str:
    return "\n".join(
        e.read_text("utf-8")
        for e in sorted(files(__name__).iterdir(), key=lambda e: e.name)
        if e.name.endswith(".ttl")
    )


def validate(triples: Iterable[Triple]) -> Report:
    """The fast validator: the shapes compiled to Python checks."""
    from .compiled import compiled

    return compiled().validate(triples)


def validate_full(triples: Iterable[Triple]) -> Report:
    """pySHACL over the same shapes: slower, the reference the fast path is tested against."""
    from .pyshacl_runner import run

    return run(triples)


__all__ = ["Report", "Result", "shapes_graph", "shapes_turtle", "validate", "validate_full"]
