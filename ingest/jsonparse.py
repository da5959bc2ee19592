"""Strict JSON parsing with three tolerated, reported deviations.

Recorded FIMS job flows write trailing commas (`"dateModified": "…",` before
`}`) and once repeats a key, and editors on some systems start a file with a
UTF-8 byte order mark. None is ambiguous, so the message is kept and the
deviation is recorded as a reader note (the original bytes are kept as they
are); anything else that is not JSON is refused with its line and column.
That includes Python's NaN, Infinity and -Infinity, and numbers beyond a
double's range (1e400), which would otherwise be read as infinity.

Two limits bound what a document may cost to read (RFC 8259, section 9, lets a
parser set them): arrays and objects nested at most MAX_DEPTH (512) deep, and
numbers at most MAX_NUMBER (1,000) characters long. Past either the document
is refused, naming the limit: a number before it is built, nesting once the
document is read (a document with fewer brackets than the limit is not walked).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from jobtrail.base.errors import Location, MalformedInput

MAX_DEPTH = 512
"""Deepest nesting of arrays and objects read."""
MAX_NUMBER = 1000
"""Longest number read, in characters (sign, digits, point and exponent)."""


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


class _NotJSON(Exception):
    """Raised from inside json.loads by a hook: (message, the token that is not JSON)."""


def _constant(name: str) -> Any:
    raise _NotJSON(f"{name} is not a JSON value", name)


def _long(text: str) -> None:
    if len(text) > MAX_NUMBER:
        raise _NotJSON(
            f"a number of {len(text):,} characters is longer than the limit of {MAX_NUMBER:,}",
            text,
        )


def _integer(text: str) -> int:
    _long(text)
    return int(text)


def _number(text: str) -> float:
    _long(text)
    value = float(text)
    if math.isinf(value):
        # JSON lets a reader limit the range of numbers (RFC 8259, section 6): past a
        # double's, the value would be read as infinity, which is not the number given
        raise _NotJSON(f"the number {text} is out of range (beyond a 64-bit double)", text)
    return value


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[^\s"{}\[\],:]+')
"""A string, or a run of characters outside strings that is one bare token (a number, a word)."""


def _where(text: str, token: str, source: str) -> Location:
    """Where the first bare `token` outside strings is: the hooks are called in text order."""
    for match in _TOKEN.finditer(text):
        if match.group().startswith(token):
            i = match.start()
            line_start = text.rfind("\n", 0, i) + 1
            return Location(source, text.count("\n", 0, i) + 1, i - line_start + 1)
    return Location(source)


BOM = "\ufeff"
BOM_NOTE = "a UTF-8 byte order mark at the start is ignored (the original bytes keep it)"


def parse_json(data: bytes | str, source: str) -> tuple[Any, list[str]]:
    """Parse JSON; return the value and notes on what was tolerated."""
    text = decode(data, source) if isinstance(data, bytes) else data
    notes: list[str] = []
    bom = text.startswith(BOM)
    if bom:
        # a space, not nothing, so that every position reported stays the input's own
        text = " " + text[1:]

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        for key, value in items:
            if key in obj:
                same = (
                    "the same value" if obj[key] == value else "a different value; the last is used"
                )
                notes.append(f"key {key!r} appears twice in one object, with {same}")
            obj[key] = value
        return obj

    def load(text: str) -> Any:
        try:
            value = json.loads(
                text,
                object_pairs_hook=pairs,
                parse_constant=_constant,
                parse_float=_number,
                parse_int=_integer,
            )
        except _NotJSON as e:
            message, token = e.args
            raise MalformedInput(
                f"not valid JSON: {message}",
                location=_where(text, token[:40], source),
                details={"limit": MAX_NUMBER} if len(token) > MAX_NUMBER else None,
            ) from None
        except RecursionError:  # deeper than Python's own stack allows: past MAX_DEPTH too
            raise _too_deep(source) from None
        if text.count("[") + text.count("{") > MAX_DEPTH and depth(value) > MAX_DEPTH:
            raise _too_deep(source)
        return value

    def malformed(e: json.JSONDecodeError) -> MalformedInput:
        return MalformedInput(
            f"not valid JSON: {e.msg}", location=Location(source, e.lineno, e.colno)
        )

    try:
        value = load(text)
    except json.JSONDecodeError as first:
        fixed, commas = _blank_trailing_commas(text)
        if not commas:
            raise malformed(first) from first
        notes.clear()  # what the first try noted is noted again by the second
        try:
            value = load(fixed)
        except json.JSONDecodeError as real:
            # the commas are blanked, not removed: the positions are the input's own
            raise malformed(real) from real
        where = ", ".join(f"line {ln} column {col}" for ln, col in commas)
        notes.append(f"trailing comma tolerated at {where}")
    if _SURROGATE_ESCAPE.search(text):
        value, lone = _without_lone_surrogates(value)
        if lone:
            notes.append(SURROGATE_NOTE)
    if bom:
        notes.insert(0, BOM_NOTE)
    return value, notes


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_LONE = re.compile("[\ud800-\udfff]")
SURROGATE_NOTE = (
    "a \\u escape of a lone surrogate, which is no character, is read as U+FFFD "
    "(the original bytes keep it)"
)


def _without_lone_surrogates(value: Any) -> tuple[Any, bool]:
    """The value with each lone surrogate (from a `\\udXXX` escape) made U+FFFD; any found?"""
    if isinstance(value, str):
        fixed = _LONE.sub("\ufffd", value)
        return fixed, fixed != value
    found = False
    if isinstance(value, list):
        items = []
        for item in value:
            item, lone = _without_lone_surrogates(item)
            items.append(item)
            found |= lone
        return items, found
    if isinstance(value, dict):
        obj = {}
        for key, item in value.items():
            key, lone_key = _without_lone_surrogates(key)
            item, lone = _without_lone_surrogates(item)
            obj[key] = item
            found |= lone or lone_key
        return obj, found
    return value, False


def _too_deep(source: str) -> MalformedInput:
    return MalformedInput(
        f"JSON nested too deep: arrays and objects deeper than the limit of {MAX_DEPTH} levels",
        location=Location(source),
        details={"limit": MAX_DEPTH},
    )


def depth(value: Any) -> int:
    """How deep arrays and objects nest in a parsed value (a scalar: 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        )
        if children is None:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def _blank_trailing_commas(text: str) -> tuple[str, list[tuple[int, int]]]:
    """Blank (with a space) commas that follow a value and directly precede `}` or `]`.

    A comma after `[`, `{` or another comma is not a trailing comma (`[,]`,
    `[1,,]`): it is left for the parser to refuse.
    """
    out: list[str] = []
    found: list[tuple[int, int]] = []
    in_string = escaped = False
    pending: int | None = None  # index in `out` of a comma not yet known to be trailing
    pending_pos = (0, 0)
    previous = ""  # the last character outside strings that is not whitespace
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
            out[pending] = " "
            found.append(pending_pos)
        pending = None
        if ch == "," and previous not in ("", "[", "{", ","):
            pending, pending_pos = len(out), (line, col)
        elif ch == '"':
            in_string = True
        previous = ch
        out.append(ch)
    return "".join(out), found
