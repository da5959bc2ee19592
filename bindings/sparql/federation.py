"""Federation is off unless configured: `SERVICE` in a query and `LOAD` in an update.

The engine runs `SERVICE <endpoint>` by sending the query to that endpoint itself, and
`LOAD <url>` by fetching the URL: either would make the server connect wherever a
client's text says, loopback and private addresses included. So before a client's query
or update runs, its text is read for those two keywords, the way the SPARQL grammar
tokenizes it (comments, strings and IRIs are skipped; a keyword is whole, in any case):

- none configured (setting `sparql_federation` empty, the default): either keyword is
  refused with a 400 naming the setting;
- otherwise the endpoint must be written as an absolute http(s) IRI (not a variable, a
  prefixed name or a relative IRI, which could not be checked before the engine resolves
  them), be one of the configured URLs exactly, and pass the egress policy
  (`jobs/egress.py`: a loopback or private address needs `fetch_allow_private` too).

The reading errs on the side of refusing: a prefixed name whose local part is `service`
after a dot (`ex:a.service`) is taken for the keyword too.
"""

from __future__ import annotations

import re

from jobtrail.base.errors import QueryError
from jobtrail.jobs import egress

_TOKENS = re.compile(
    r"""
      (?P<comment>\#[^\n\r]*)
    | (?P<string>'''(?:[^'\\]|\\.|'(?!''))*'''|\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"
                 |'(?:[^'\\\n\r]|\\.)*'|"(?:[^"\\\n\r]|\\.)*")
    | (?P<iri><(?:[^<>"{}|^`\\\x00-\x20]|\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8})*>)
    | (?P<word>(?<![\w:?$\-])(?:SERVICE|LOAD|SILENT)(?![\w:\-]))
    """,
    re.VERBOSE | re.IGNORECASE | re.DOTALL,
)
_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_BLANK = re.compile(r"(?:\s|#[^\n\r]*)*")
SETTING = "sparql_federation (--sparql-federation, JOBTRAIL_SPARQL_FEDERATION, or jobtrail.toml)"


def allowed(setting: str | None) -> tuple[str, ...]:
    """The endpoints the setting names (comma-separated URLs)."""
    return tuple(u.strip() for u in (setting or "").split(",") if u.strip())


def reached(text: str) -> list[tuple[str, str | None]]:
    """Each SERVICE or LOAD in `text` (outside comments, strings and IRIs), with the IRI
    written right after it (after SILENT), unescaped; None where it is not a plain IRI."""
    found: list[tuple[str, str | None]] = []
    for match in _TOKENS.finditer(text):
        word = match.group("word")
        if word is None or word.upper() == "SILENT":
            continue
        at = _BLANK.match(text, match.end()).end()  # type: ignore[union-attr]
        silent = re.match(r"SILENT(?![\w:\-])", text[at:], re.IGNORECASE)
        if silent:
            at = _BLANK.match(text, at + silent.end()).end()  # type: ignore[union-attr]
        iri = _TOKENS.match(text, at)
        target = None
        if iri is not None and iri.group("iri") is not None:
            target = _unescape(iri.group("iri")[1:-1])
        found.append((word.upper(), target))
    return found


def _unescape(iri: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), iri)


def check(text: str, setting: str | None, allow_private: bool) -> None:
    """Refuse (QueryError, 400) a query or update whose SERVICE or LOAD reaches an endpoint
    not allowed; see the module docstring for the rule."""
    endpoints = allowed(setting)
    for keyword, target in reached(text):
        what = "SERVICE (a federated query)" if keyword == "SERVICE" else "LOAD"
        if not endpoints:
            raise QueryError(
                f"{what} is off on this server: a query or update may not make it connect "
                "to another server",
                hint=f"the administrator can name the endpoints allowed: setting {SETTING}",
                details={"keyword": keyword, "setting": "sparql_federation"},
            )
        if target is None or not target.lower().startswith(("http://", "https://")):
            raise QueryError(
                f"{keyword} must name its endpoint as an absolute http(s) IRI, <http://…>, "
                "so that it can be checked before the query runs",
                hint="not a variable, a prefixed name or a relative IRI; the endpoints "
                "allowed: " + ", ".join(endpoints),
                details={"keyword": keyword, "setting": "sparql_federation"},
            )
        if target not in endpoints:
            raise QueryError(
                f"{keyword} <{target}> is not one of the endpoints this server may reach",
                hint="the endpoints allowed: " + ", ".join(endpoints) + f" (setting {SETTING})",
                details={"keyword": keyword, "endpoint": target, "setting": "sparql_federation"},
            )
        refused = egress.refusal(target, allow_private)
        if refused:
            raise QueryError(
                f"{keyword} <{target}> is refused by the egress policy: {refused}",
                details={"keyword": keyword, "endpoint": target},
            )
