"""The one rule by which jobtrail writes a value into a path segment of an IRI it mints, and by
which the server reads a requested path back to that IRI.

A segment is the value percent-encoded with nothing kept but RFC 3986's unreserved characters
(`A-Z a-z 0-9 - . _ ~`), in UTF-8, with upper-case hex; so a `/`, a space, a non-ASCII letter
or any character an IRI may not hold never appears bare. A missing value (None) is `-` and the
string "-" is `%2D`; a value that is not a string is `;` and its JSON, encoded the same way.

`canonical_path` applies the rule to a path as a client sent it (its raw bytes, before any
decoding): each segment is decoded to bytes and encoded again. A path already canonical is
unchanged; any other spelling of the same segments (lower-case hex, an unreserved character
encoded, a raw non-ASCII byte) gives the canonical one, so every resource has one URL and an
encoded slash never joins two segments.
"""

from __future__ import annotations

import json
from urllib.parse import quote, unquote_to_bytes


def segment(part: object) -> str:
    """The path segment of one value (see the module's rule)."""
    if part is None:
        return "-"
    if isinstance(part, str):
        return "%2D" if part == "-" else quote(part, safe="")
    return ";" + quote(json.dumps(part, ensure_ascii=False, separators=(",", ":")), safe="")


def canonical_segment(raw: bytes) -> str:
    """The canonical spelling of one segment as sent (bytes, percent-encoded or not)."""
    if raw == b"-":
        return "-"
    if raw.startswith(b";"):
        return ";" + quote(unquote_to_bytes(raw[1:]), safe="")
    value = unquote_to_bytes(raw)
    return "%2D" if value == b"-" else quote(value, safe="")


def canonical_path(raw: bytes) -> str:
    """The canonical spelling of a path as sent: `/a/Z%c3%bcrich` → `/a/Z%C3%BCrich`."""
    return "/".join(canonical_segment(s) for s in raw.split(b"/"))
