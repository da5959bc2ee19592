"""Strict JSON parsing with two tolerated, reported deviations.

The FIMS job-flow seed writes trailing commas (`"dateModified": "…",` before
`}`) and once repeats a key. Neither is ambiguous, so the message is kept and
the deviation is recorded as a reader note; anything else that is not JSON is
refused with its line and column.
"""

from __future__ import annotations

import json
from typing import Any

from jobtrail.store.errors import Location, MalformedInput


def decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise MalformedInput(
            f"not UTF-8 text: byte 0x{data[e.start]:02x} at offset {e.start}",
            location=Location(source, line, column),
        ) from e


def parse_json(data: bytes | str, source: str) -> tuple[Any, list[str]]:
    """Parse JSON; return the value and notes on what was tolerated."""
    text = decode(data, source) if isinstance(data, bytes) else data
    notes: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        for key, value in items:
            if key in obj:
                same = "the same value" if obj[key] == value else "a different value; the last is used"
                notes.append(f"key {key!r} appears twice in one object, with {same}")
            obj[key] = value
        return obj

    try:
        return json.loads(text, object_pairs_hook=pairs), notes
    except json.JSONDecodeError as first:
        fixed, commas = _drop_trailing_commas(text)
        if commas:
            try:
                value = json.loads(fixed, object_pairs_hook=pairs)
            except json.JSONDecodeError:
                pass
            else:
                where = ", ".join(f"line {ln} column {col}" for ln, col in commas)
                notes.append(f"trailing comma tolerated at {where}")
                return value, notes
        raise MalformedInput(
            f"not valid JSON: {first.msg}",
            location=Location(source, first.lineno, first.colno),
        ) from first


def _drop_trailing_commas(text: str) -> tuple[str, list[tuple[int, int]]]:
    """Remove commas that directly precede `}` or `]` outside strings."""
    out: list[str] = []
    found: list[tuple[int, int]] = []
    in_string = escaped = False
    pending: int | None = None  # index in `out` of a comma not yet known to be trailing
    pending_pos = (0, 0)
    line, col = 1, 0
    for ch in text:
        col += 1
        if ch == "\n":
            line, col = line + 1, 0
        if in_string:
            out.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if ch in " \t\r\n":
            out.append(ch)
            continue
        if ch in "}]" and pending is not None:
            out[pending] = ""
            found.append(pending_pos)
        pending = None
        if ch == ",":
            pending, pending_pos = len(out), (line, col)
        elif ch == '"':
            in_string = True
        out.append(ch)
    return "".join(out), found
