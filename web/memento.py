"""Memento (RFC 7089) as every binding speaks it: `Accept-Datetime`, `Memento-Datetime`, the
`Link` header of a TimeGate's answer and of a memento, and the link-format TimeMap.

A binding decides what the versions of its resources are (a job's: its change records,
`bindings/jobservice/versions.py`; a producer's: the messages it made); this module only
reads and writes the protocol's headers and documents, so that every one answers alike.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from jobtrail.base.errors import InputError
from jobtrail.web import conneg
from jobtrail.web.state import AppRequest

LINK_FORMAT = conneg.Format(
    "linkformat", "application/link-format", ".link", (), "Link format (RFC 6690)"
)
"""A TimeMap's own format (RFC 7089 §5.1)."""
JSON = conneg.Format("json", "application/json", ".json", (), "JSON")
MEMENTO_FORMATS: tuple[conneg.Format, ...] = (*conneg.RDF_FORMATS, conneg.HTML)
"""What a memento is offered in; Turtle by default."""
TIMEMAP_FORMATS: tuple[conneg.Format, ...] = (LINK_FORMAT, JSON, conneg.HTML)
"""What a TimeMap is offered in; the link format by default."""

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DATE = re.compile(
    rf"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([0-9]{{2}}) ({'|'.join(_MONTHS)}) ([0-9]{{4}}) "
    r"([0-9]{2}):([0-9]{2}):([0-9]{2}) GMT"
)
EXAMPLE = "Accept-Datetime: Tue, 01 Dec 2026 12:00:00 GMT"


@dataclass(frozen=True)
class Memento:
    """One version: its URI and when it began."""

    uri: str
    at: datetime


def http_date(when: datetime) -> str:
    """`when` as an HTTP-date (RFC 1123, GMT), to the second."""
    return format_datetime(when.astimezone(UTC).replace(microsecond=0), usegmt=True)


def accept_datetime(request: AppRequest) -> datetime | None:
    """The Accept-Datetime asked for (RFC 7089 §2.1.1: an RFC 1123 date in GMT), None when
    the request has none; 400 naming what is wrong with one that does not read."""
    raw = request.headers.get("accept-datetime")
    if raw is None:
        return None
    text = raw.strip()
    shown = text if len(text) <= 80 else f"{text[:80]}…"
    found = _DATE.fullmatch(text)
    if found is None:
        raise InputError(
            f"Accept-Datetime: {shown!r} is not an RFC 1123 date in GMT",
            hint=f"e.g. {EXAMPLE} (RFC 7089 §2.1.1)",
        )
    day, month, year, hour, minute, second = found.groups()
    try:
        return datetime(
            int(year),
            _MONTHS.index(month) + 1,
            int(day),
            int(hour),
            int(minute),
            int(second),
            tzinfo=UTC,
        )
    except ValueError as e:
        raise InputError(
            f"Accept-Datetime: {shown!r} names no such time ({e})", hint=f"e.g. {EXAMPLE}"
        ) from None


def timemap_link(timemap: str, first: Memento, last: Memento) -> str:
    return (
        f'<{timemap}>; rel="timemap"; type="{LINK_FORMAT.media_type}"'
        f'; from="{http_date(first.at)}"; until="{http_date(last.at)}"'
    )


def link_header(
    original: str,
    timemap: str,
    first: Memento,
    last: Memento,
    *,
    memento: Memento | None = None,
    prev: Memento | None = None,
    next: Memento | None = None,
) -> str:
    """The Link header of a TimeGate's answer or of a memento: the original resource (its
    own TimeGate), the first and last versions and, around `memento`, the previous and the
    next (RFC 7089 §2.2), each with its datetime, and the TimeMap."""
    rels: dict[str, tuple[list[str], datetime | None]] = {
        original: (["original", "timegate"], None)
    }

    def add(m: Memento | None, rel: str) -> None:
        if m is not None:
            rels.setdefault(m.uri, ([], m.at))[0].append(rel)

    add(first, "first")
    add(prev, "prev")
    add(next, "next")
    add(last, "last")
    add(memento, "memento")
    out = []
    for uri, (names, when) in rels.items():
        if when is not None:  # a memento: "first memento", "prev memento", …
            words = [n for n in names if n != "memento"] + ["memento"]
            out.append(f'<{uri}>; rel="{" ".join(words)}"; datetime="{http_date(when)}"')
        else:
            out.append(f'<{uri}>; rel="{" ".join(names)}"')
    out.append(timemap_link(timemap, first, last))
    return ", ".join(out)


def link_format(
    original: str,
    timemap: str,
    mementos: Sequence[Memento],
    first: Memento,
    last: Memento,
    *,
    more: Sequence[str] = (),
) -> str:
    """A TimeMap (RFC 7089 §5.1): the original, the TimeMap itself, the TimeGate, every
    memento given (the first and the last so marked), and `more` links (a page's next)."""
    lines = [
        f'<{original}>; rel="original"',
        f'<{timemap}>; rel="self"; type="{LINK_FORMAT.media_type}"'
        f'; from="{http_date(first.at)}"; until="{http_date(last.at)}"',
        f'<{original}>; rel="timegate"',
    ]
    for m in mementos:
        rel = " ".join(
            [
                *(["first"] if m.uri == first.uri else []),
                *(["last"] if m.uri == last.uri else []),
                "memento",
            ]
        )
        lines.append(f'<{m.uri}>; rel="{rel}"; datetime="{http_date(m.at)}"')
    return ",\n".join([*lines, *more]) + "\n"


__all__ = [
    "EXAMPLE",
    "LINK_FORMAT",
    "Memento",
    "accept_datetime",
    "http_date",
    "link_format",
    "link_header",
    "timemap_link",
]
