"""Secrets out of everything recorded: credentials in URLs, secret parameters, auth headers.

What the server keeps of a request (a hop's bytes, a job-change record, a job's input) is
passed through here first. A secret is replaced by `REDACTED` in place, so the record
stays honest about having been changed, and the caller is told which names were
redacted (a hop says so in a `Jobtrail-Redacted` header).

Secret, wherever it appears in text: the password of a URL's userinfo
(`https://user:REDACTED@host/…`) and the value of a parameter named in
`SECRET_PARAMETERS` (`?pass=REDACTED`, `pass=REDACTED` in a form, `"pass": "REDACTED"` in
JSON). Secret headers (`SECRET_HEADERS`) keep their name with the value `REDACTED`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

REDACTED = "REDACTED"
NOTE_HEADER = "Jobtrail-Redacted"

SECRET_PARAMETERS = frozenset(
    {"pass", "password", "passwd", "token", "access_token", "api_key", "apikey", "secret"}
)
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"}
)

_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^/\s:@\"'<>]*:)([^@\s/\"'<>]+)@")
_ENCODED_USERINFO = re.compile(
    r"(?i)(%3A%2F%2F(?:(?!%2F|%40)[^&\s/@])*%3A)((?:(?!%2F)[^&\s/@])+?)%40"
)
"""The same in a percent-encoded URL (a form field's value): `…%3A%2F%2Fuser%3Apw%40host`."""


@lru_cache(maxsize=64)
def _named(extra: frozenset[str]) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The patterns of secret parameters and JSON members: `SECRET_PARAMETERS` and `extra`
    (what a profile declares secret). A parameter starts a query, a form, a line, or a JSON
    string (`"body": "pass=…&url=…"` in a job-change record)."""
    names = SECRET_PARAMETERS | {n.lower() for n in extra}
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return (
        re.compile(rf"(?i)(^|[?&;\s\"])({alternatives})=([^&;\s\"'<>#]*)"),
        re.compile(rf'(?i)("({alternatives})"\s*:\s*)"((?:[^"\\]|\\.)*)"'),
    )


def text(value: str, names: frozenset[str] = frozenset()) -> tuple[str, list[str]]:
    """`value` with every secret replaced, and the names of what was replaced; `names`:
    more parameter names whose values are secret (a profile's declared ones)."""
    found: list[str] = []

    def userinfo(m: re.Match[str]) -> str:
        if m.group(2) == REDACTED:
            return m.group(0)
        found.append("userinfo")
        return f"{m.group(1)}{REDACTED}@"

    def parameter(m: re.Match[str]) -> str:
        if m.group(3) in ("", REDACTED):
            return m.group(0)
        found.append(m.group(2).lower())
        return f"{m.group(1)}{m.group(2)}={REDACTED}"

    def member(m: re.Match[str]) -> str:
        if m.group(3) == REDACTED:
            return m.group(0)
        found.append(m.group(2).lower())
        return f'{m.group(1)}"{REDACTED}"'

    def encoded(m: re.Match[str]) -> str:
        if m.group(2) == REDACTED:
            return m.group(0)
        found.append("userinfo")
        return f"{m.group(1)}{REDACTED}%40"

    value = _USERINFO.sub(userinfo, value)
    value = _ENCODED_USERINFO.sub(encoded, value)
    parameters, members = _named(names)
    value = parameters.sub(parameter, value)
    value = members.sub(member, value)
    return value, sorted(set(found))


def structure(value: Any, names: frozenset[str] = frozenset()) -> tuple[Any, list[str]]:
    """A JSON value (a document, parameters) with every secret in its text replaced."""
    out, found = text(json.dumps(value, ensure_ascii=False), names)
    return (json.loads(out) if found else value), found


def data(value: bytes) -> tuple[bytes, list[str]]:
    """A body's bytes with every secret replaced (bytes that are not UTF-8 are kept as they are)."""
    try:
        decoded = value.decode("utf-8")
    except UnicodeDecodeError:
        return value, []
    out, found = text(decoded)
    return (out.encode("utf-8") if found else value), found


def headers(pairs: Sequence[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[str]]:
    """Headers with secret values replaced (the header stays, so the record shows it came)."""
    out: list[tuple[str, str]] = []
    found: list[str] = []
    for name, value in pairs:
        if name.lower() in SECRET_HEADERS:
            out.append((name, REDACTED))
            if value.strip() != REDACTED:
                found.append(name.lower())
        else:
            redacted, more = text(value)
            out.append((name, redacted))
            found += more
    return out, sorted(set(found))


def message(value: bytes) -> tuple[bytes, list[str]]:
    """An HTTP message (a hop) with every secret replaced: in its request line, its headers
    and its body; Content-Length follows the body, and a `Jobtrail-Redacted` header names
    what was taken out (with what an earlier redaction named). Not an HTTP message: `data`."""
    head, sep, body = value.partition(b"\r\n\r\n")
    try:
        first, *fields = head.decode("utf-8").split("\r\n")
    except UnicodeDecodeError:
        return value, []
    if not sep or not all(":" in f for f in fields):
        return data(value)
    first, found = text(first)
    pairs, more = headers([(k, v.strip()) for k, _, v in (f.partition(":") for f in fields)])
    body, in_body = data(body)
    found = sorted({*found, *more, *in_body})
    if not found:
        return value, []
    noted = [v for k, v in pairs if k.lower() == NOTE_HEADER.lower()]
    names = sorted({*found, *(n.strip() for v in noted for n in v.split(",") if n.strip())})
    pairs = [
        (k, str(len(body)) if k.lower() == "content-length" else v)
        for k, v in pairs
        if k.lower() != NOTE_HEADER.lower()
    ]
    pairs.append((NOTE_HEADER, ", ".join(names)))
    lines = [first, *(f"{k}: {v}" for k, v in pairs)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body, found
