"""HTTP messages (`message/http`): the requests and responses of a job flow.

A FIMS/AME job flow is a sequence of HTTP exchanges; each one, request or
response, is a hop. Its start line and headers are described with the W3C
"HTTP Vocabulary in RDF"; its body is read by the reader for its kind (JSON-LD,
TRE JSON, RDF) into the same graph, or kept verbatim when no reader fits.
Recorded exchanges (as in the examples/ flow) write `Content-Length: xxx` and
omit the HTTP version in places, so lengths are not checked and the version is
optional.
"""

from __future__ import annotations

import re

from jobtrail.base import nt
from jobtrail.base.errors import Location, MalformedInput
from jobtrail.base.terms import HTTP
from jobtrail.store import Triple

_REQUEST = re.compile(r"^([A-Z][A-Z-]*) +(\S+)(?: +HTTP/(\d(?:\.\d)?))?$")
_RESPONSE = re.compile(r"^HTTP/(\d(?:\.\d)?) +(\d{3})(?: +(.*))?$")


def looks_like_http(data: bytes) -> bool:
    first = data.lstrip()[:64].split(b"\n", 1)[0].decode("latin-1").strip()
    return bool(_REQUEST.match(first) or _RESPONSE.match(first))


def _h(name: str) -> str:
    return nt.iri(f"{HTTP}{name}")


_BLANK_LINE = re.compile(rb"\r?\n\r?\n")


def split(data: bytes, source: str) -> tuple[str, list[tuple[str, str]], bytes, int]:
    """Start line, headers, body (bytes, verbatim) and the start line's line number.

    Head and body are split on bytes, so a binary body never stops the head
    from being read. Leading blank lines are skipped but counted, so the line
    numbers reported are the input's own.
    """
    rest = data.lstrip(b"\r\n")
    first_line = data[: len(data) - len(rest)].count(b"\n") + 1
    blank = _BLANK_LINE.search(rest)
    head, body = (rest[: blank.start()], rest[blank.end() :]) if blank else (rest, b"")
    lines = _decode_head(head).replace("\r\n", "\n").rstrip("\n").split("\n")
    headers: list[tuple[str, str]] = []
    for n, line in enumerate(lines[1:], start=first_line + 1):
        name, colon, value = line.partition(":")
        if not colon or not name.strip() or " " in name.strip():
            raise MalformedInput(
                f"not an HTTP header line: {line!r}", location=Location(source, n, 1)
            )
        headers.append((name.strip(), value.strip()))
    return lines[0].strip(), headers, body, first_line


def _decode_head(head: bytes) -> str:
    """UTF-8 when it is (as recorded flows are), else ISO-8859-1, HTTP's historical charset."""
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError:
        return head.decode("latin-1")


def triples(
    start: str, headers: list[tuple[str, str]], m: str, source: str, line: int = 1
) -> list[Triple]:
    s = nt.iri(m)
    out: list[Triple] = []
    if request := _REQUEST.match(start):
        method, target, version = request.groups()
        out += [
            (s, nt.A, _h("Request")),
            (s, _h("methodName"), nt.lit(method)),
            (s, _h("requestURI"), nt.lit(target)),
        ]
    elif response := _RESPONSE.match(start):
        version, code, reason = response.groups()
        out += [(s, nt.A, _h("Response")), (s, _h("statusCodeValue"), nt.integer(int(code)))]
        if reason:
            out.append((s, _h("reasonPhrase"), nt.lit(reason)))
    else:
        raise MalformedInput(
            f"not an HTTP request or status line: {start!r}", location=Location(source, line, 1)
        )
    if version:
        out.append((s, _h("httpVersion"), nt.lit(version)))
    for i, (name, value) in enumerate(headers):
        h = nt.iri(f"{m}#h{i}")
        out += [
            (s, _h("headers"), h),
            (h, nt.A, _h("MessageHeader")),
            (h, _h("fieldName"), nt.lit(name)),
            (h, _h("fieldValue"), nt.lit(value)),
            (h, nt.jt("position"), nt.integer(i)),
        ]
    return out


def content_type(headers: list[tuple[str, str]]) -> str | None:
    for name, value in headers:
        if name.lower() == "content-type":
            return value.split(";")[0].strip().lower()
    return None
