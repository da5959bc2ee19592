"""SHACL shapes for every stored type, and the validators that apply them.

`validate` is the fast path (the shapes compiled to Python checks, see
compiled.py); `validate_full` runs pySHACL on the same shapes.
"""

from __future__ import annotations

from collections.abc import Iterable

from jobtrail.shapes.compiled import compiled as _compiled
from jobtrail.shapes.files import shapes_graph, shapes_turtle
from jobtrail.shapes.report import Report, Result
from jobtrail.store import Triple


def validate(triples: Iterable[Triple]) -> Report:
    """The fast validator: the shapes compiled to Python checks."""
    return _compiled().validate(triples)


def validate_full(triples: Iterable[Triple]) -> Report:
    """pySHACL over the same shapes: slower, the reference the fast path is tested against."""
    from jobtrail.shapes.pyshacl_runner import run  # pySHACL is slow to import: only here

    return run(triples)


__all__ = ["Report", "Result", "shapes_graph", "shapes_turtle", "validate", "validate_full"]
