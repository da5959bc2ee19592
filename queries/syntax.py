"""SPARQL as people type it: the project's prefixes, and parser errors that point at the place.

- `with_prefixes`: the text with a `PREFIX` line for each of the project's prefixes
  (`base/terms.PREFIXES`, the ones the web form fills in) the text does not declare itself, all
  put in front of its first line, so the parser's line numbers stay the text's own; the
  columns of the first line move by the length returned, which `with_caret` takes off again.
  `jobtrail query` runs people's text this way; the SPARQL endpoint keeps standard SPARQL and
  adds nothing.
- `with_caret`: the parser's error (`error at LINE:COLUMN: …`) as one line naming the line and
  column, then the offending line with a caret under the place. A prefix the text does not
  declare (Oxigraph lists the characters a name may hold, five lines of Unicode ranges) becomes
  "undefined prefix `jt:`", with the `PREFIX` line to add when it is one of the project's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from jobtrail.base.errors import QueryError
from jobtrail.base.terms import PREFIXES

_POSITION = re.compile(r"error at (\d+):(\d+): (.*)", re.DOTALL)
_DECLARED = re.compile(r"\bPREFIX\s+([A-Za-z][\w.-]*)?\s*:", re.IGNORECASE)
_NAME_END = re.compile(r"[\w.%\\:-]*$")
_MISSING_PREFIX = "Prefix not found"


def declared(text: str) -> set[str]:
    """The prefixes `text` declares (`PREFIX jt: <…>`; the empty prefix as '')."""
    return {m[1] or "" for m in _DECLARED.finditer(_without_comments(text))}


def _without_comments(text: str) -> str:
    return re.sub(r"#[^\n<>\"']*$", "", text, flags=re.M)


def with_prefixes(text: str, prefixes: Mapping[str, str] = PREFIXES) -> tuple[str, int]:
    """`text` with the prefixes it does not declare put in front of its first line, and how
    many characters were put there (for `with_caret`'s `shift`)."""
    mine = declared(text)
    head = "".join(f"PREFIX {p}: <{ns}> " for p, ns in prefixes.items() if p not in mine)
    return head + text, len(head)


def with_caret(
    error: QueryError, text: str, shift: int = 0, prefixes: Mapping[str, str] = PREFIXES
) -> QueryError:
    """The parser's message as one line, then the offending line of `text` with a caret under
    the column; `shift`: characters put in front of `text`'s first line before it was parsed.
    An error without a position is returned as it is."""
    found = _POSITION.match(error.message)
    if not found:
        return error
    line_no, column, what = int(found[1]), int(found[2]), found[3]
    if line_no == 1:
        column -= shift
    lines = text.split("\n")
    line = lines[line_no - 1].rstrip("\r") if 0 < line_no <= len(lines) else ""
    column = max(1, min(column, len(line) + 1))
    hint = None
    if _MISSING_PREFIX in what:
        name = _NAME_END.search(line[: column - 1])
        word = name[0] if name else ""
        prefix = word.split(":", 1)[0] if ":" in word else ""
        if name is not None and ":" in word:
            column = name.start() + 1
        if prefix in prefixes:
            what = f"undefined prefix `{prefix}:` — add PREFIX {prefix}: <{prefixes[prefix]}>"
        else:
            what = f"undefined prefix `{prefix}:` — declare it: PREFIX {prefix}: <…>"
            hint = "the prefixes jobtrail knows: " + ", ".join(f"{p}:" for p in prefixes)
    else:
        what = " ".join(what.split())
    pad = "".join("\t" if c == "\t" else " " for c in line[: column - 1])
    excerpt = f"{line}\n{pad}^"
    return QueryError(
        f"syntax error at line {line_no}, column {column}: {what}\n\n{excerpt}",
        hint=hint,
        details={"line": line_no, "column": column, "excerpt": excerpt},
    )


__all__ = ["declared", "with_caret", "with_prefixes"]
