"""The shapes files of this package (`*.ttl`), as one rdflib graph or as their text."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from rdflib import Graph

_PACKAGE = "jobtrail.shapes"


@cache
def shapes_graph() -> Graph:
    """Every `*.ttl` of this package, parsed once."""
    g = Graph()
    for entry in sorted(files(_PACKAGE).iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".ttl"):
            g.parse(data=entry.read_text("utf-8"), format="turtle")
    return g


def shapes_turtle() -> str:
    return "\n".join(
        e.read_text("utf-8")
        for e in sorted(files(_PACKAGE).iterdir(), key=lambda e: e.name)
        if e.name.endswith(".ttl")
    )
