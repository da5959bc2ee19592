"""The error hierarchy's public surface: the module docstring draws every class with its status."""

from __future__ import annotations

import inspect
import re

import pytest
from jobtrail.base import errors

CLASSES = [
    c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, errors.JobtrailError)
]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_error_is_drawn_in_the_docstring_with_its_status(cls: type) -> None:
    doc = errors.__doc__ or ""
    line = next((ln for ln in doc.splitlines() if re.search(rf"\b{cls.__name__}\b", ln)), None)
    assert line is not None, f"{cls.__name__} is missing from the hierarchy drawing"
    drawn = re.search(r"\((\d{3})\)", line)
    parent_status = (
        next(b.status for b in cls.__mro__[1:] if issubclass(b, errors.JobtrailError))
        if cls is not errors.JobtrailError
        else None
    )
    if drawn:
        assert int(drawn.group(1)) == cls.status  # type: ignore[attr-defined]
    else:  # drawn without a status: it keeps its parent's
        assert cls.status == parent_status  # type: ignore[attr-defined]
    assert cls.__doc__, f"{cls.__name__} says when it is raised"


def test_every_drawn_name_is_a_class() -> None:
    drawn = re.findall(r"── (\w+)", errors.__doc__ or "")
    assert sorted(drawn) == sorted(c.__name__ for c in CLASSES if c is not errors.JobtrailError)
