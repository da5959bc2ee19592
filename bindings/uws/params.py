"""A UWS request's parameters and values: names case-insensitive, each given once.

UWS 1.1 (§2.2.3, as DALI says) makes parameter names case-insensitive, so `URL` and
`url` are one name. The rule for a repeated name is one for all: it is refused,
naming it, whether the values differ or not — except `PHASE` when filtering a job
list, which the spec makes repeatable (§2.2.2.1). A form's `charset` is honoured; a
multipart file part is refused (no profile here takes a file inline: the input comes
by `URL=`), never dropped.
"""

from __future__ import annotations

import codecs
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

from jobtrail.base.errors import InputError
from jobtrail.base.xmltext import check_field
from jobtrail.web.requests import read_body
from jobtrail.web.state import AppRequest
from starlette.datastructures import UploadFile

CONTROL = frozenset({"phase", "action", "runid", "executionduration", "destruction", "pass"})
"""Names that control the job or the request: never job parameters."""

INPUT = "url"
"""The parameter that names the job's input."""

XS_INT_MAX = 2**31 - 1
"""The largest execution duration a UWS document can carry (an xs:int)."""


class Params:
    """A request's parameters (query string and form body), names case-insensitive."""

    def __init__(self, pairs: Sequence[tuple[str, str]], repeatable: frozenset[str] = frozenset()):
        self.pairs = list(pairs)
        seen: dict[str, str] = {}
        for name, _ in self.pairs:
            key = name.lower()
            if key in seen and key not in repeatable:
                same = "" if seen[key] == name else f" (as {seen[key]} and {name})"
                raise InputError(
                    f"{name.upper() if key in CONTROL else name} is given more than once{same}: "
                    "parameter names are case-insensitive and each is given once",
                    hint="send each parameter once",
                    details={"parameter": name},
                )
            seen[key] = name

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.pairs if k.lower() == name]

    def one(self, name: str) -> str | None:
        values = self.all(name)
        return values[0] if values else None

    def job_parameters(self) -> list[tuple[str, str]]:
        return [(k, v) for k, v in self.pairs if k.lower() not in CONTROL]


async def params_of(request: AppRequest, repeatable: frozenset[str] = frozenset()) -> Params:
    pairs = list(request.query_params.multi_items())
    if request.method == "POST":
        kind, _, rest = request.headers.get("content-type", "").partition(";")
        kind = kind.strip().lower()
        if kind == "multipart/form-data":
            form = await request.form()
            for name, value in form.multi_items():
                if isinstance(value, UploadFile):
                    raise InputError(
                        f"the part {name!r} is a file ({value.filename!r}): this service takes "
                        "no file inline",
                        hint="give the input by URL (URL=https://…) and other parameters as text",
                        details={"parameter": name},
                    )
                pairs.append((name, value))
        else:
            body = await read_body(request)
            if body and kind not in ("", "application/x-www-form-urlencoded"):
                raise InputError(
                    f"UWS parameters come as a form, not {kind}",
                    hint="POST application/x-www-form-urlencoded, e.g. PHASE=RUN",
                )
            charset = _charset(rest)
            try:
                pairs += parse_qsl(
                    body.decode(charset),
                    keep_blank_values=True,
                    encoding=charset,
                    errors="strict",
                )
            except UnicodeDecodeError as e:
                raise InputError(
                    f"the form is not {charset} ({e})",
                    hint="send UTF-8, or name the form's charset in its Content-Type",
                ) from e
    for name, value in pairs:  # every one may end up in a UWS document: XML 1.0
        check_field(name.upper() if name.lower() in CONTROL else name, value)
        check_field("parameter name", name)
    return Params(pairs, repeatable)


def _charset(parameters: str) -> str:
    """The charset a form's Content-Type names (UTF-8 when it names none)."""
    for item in parameters.split(";"):
        key, _, value = item.partition("=")
        if key.strip().lower() == "charset":
            name = value.strip().strip('"')
            try:
                return codecs.lookup(name).name
            except LookupError:
                raise InputError(
                    f"the form's charset {name!r} is not one this server knows",
                    hint="send UTF-8 (charset=utf-8)",
                ) from None
    return "utf-8"


# --- values ----------------------------------------------------------------------------


def iso(value: datetime) -> str:
    """A time as every UWS document shows it: UTC, to the millisecond."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def shown(value: datetime) -> datetime:
    """A time at the precision `iso` publishes it: whole milliseconds."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def after_shown(value: datetime) -> datetime:
    """The bound that keeps exactly the times shown later than `value` (as `iso` shows them):
    a time is later when its millisecond is, so one created within the millisecond `AFTER`
    names is not listed (UWS 1.1 §2.2.2.1 compares with the creation time as published)."""
    return shown(value) + timedelta(milliseconds=1) - timedelta(microseconds=1)


def when(text: str, name: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            f"{name} is an ISO 8601 time, not {text!r}", hint="e.g. 2030-01-01T00:00:00Z"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def count(text: str, name: str) -> int:
    """A whole number ≥ 0 written in ASCII digits."""
    value = text.strip()
    if not value.isascii() or not value.isdigit():
        if value.startswith("-") and value[1:].isascii() and value[1:].isdigit():
            raise InputError(f"{name} is ≥ 0, not {value}")
        raise InputError(f"{name} is a whole number, not {text!r}")
    return int(value)


def duration(text: str, most: int) -> int:
    """The execution duration to set for an `EXECUTIONDURATION`: seconds ≥ 0 (0: as long as
    allowed), one over the server's maximum (`most`; 0: none but an xs:int's) lowered to it
    — UWS 1.1 §2.1.4 lets the service limit it; the client reads back what it got."""
    value = count(text, "EXECUTIONDURATION (seconds; 0: as long as allowed)")
    return min(value, most or XS_INT_MAX)
