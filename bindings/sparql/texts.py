"""What the endpoint does to a client's SPARQL text before it runs, and to its errors after.

- `based`: relative IRIs resolve against the endpoint's own URL (the SPARQL 1.1
  Protocol: a service defines the base IRI, "which MAY be the service endpoint"). The text
  is given `BASE <…/sparql>` in front, on its first line, so a `BASE` of the client's own
  (which comes after) still wins, and a syntax error's line numbers are unchanged;
  `with_caret` (`queries/syntax.py`, shared with `jobtrail query`) takes the prefix off the
  first line's columns again, and names the `PREFIX` line a query lacks.
- `using`: the protocol's `using-graph-uri` and `using-named-graph-uri` for an update,
  written into the text as `USING <g>` and `USING NAMED <g>` before the `WHERE` of each
  DELETE/INSERT operation (the others have no dataset). An update that names its own
  dataset (`USING`, `USING NAMED`, `WITH`) together with those parameters is refused, as
  the protocol requires; so is `DELETE WHERE`, whose short form has no place for `USING`.
  The text is read the way the SPARQL grammar tokenizes it: comments, strings and IRIs
  are skipped, and only keywords outside every `{ … }` count.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin

import pyoxigraph as ox
from jobtrail.base.errors import QueryError
from jobtrail.queries.syntax import with_caret

_TOKENS = re.compile(
    r"""
      (?P<comment>\#[^\n\r]*)
    | (?P<string>'''(?:[^'\\]|\\.|'(?!''))*'''|\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"
                 |'(?:[^'\\\n\r]|\\.)*'|"(?:[^"\\\n\r]|\\.)*")
    | (?P<iri><(?:[^<>"{}|^`\\\x00-\x20]|\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8})*>)
    | (?P<name>[?$]\w+|[\w\-.]*:[\w\-.:%\\]*|\w+)
    | (?P<open>\{)
    | (?P<close>\})
    """,
    re.VERBOSE | re.DOTALL,
)


def endpoint_iri(base_url: str) -> str:
    """The endpoint's URL: the base IRI of clients' queries and updates."""
    return urljoin(base_url, "sparql")


def base_prefix(base_url: str) -> str:
    return f"BASE <{endpoint_iri(base_url)}> "


def based(text: str, base_url: str) -> str:
    """`text` with the endpoint's URL as its base IRI (see the module's notes)."""
    return base_prefix(base_url) + text


def using(text: str, graphs: list[str], named: list[str]) -> str:
    """The update `text` with the protocol's dataset (`using-graph-uri`, `using-named-graph-uri`)
    written into each of its DELETE/INSERT operations; `text` itself without either."""
    if not graphs and not named:
        return text
    for iri in (*graphs, *named):
        try:
            ox.NamedNode(iri)
        except ValueError as e:
            raise QueryError(
                f"using-graph-uri/using-named-graph-uri {iri!r} is not an absolute IRI ({e})"
            ) from e
    clause = "".join(f"USING <{g}> " for g in graphs) + "".join(
        f"USING NAMED <{g}> " for g in named
    )
    depth, previous, places = 0, "", []
    for token in _TOKENS.finditer(text):
        kind = token.lastgroup
        if kind == "open":
            depth += 1
        elif kind == "close":
            depth -= 1
            previous = "}"
        elif kind == "name" and depth == 0:
            word = token.group().upper()
            if word in ("USING", "WITH"):
                raise QueryError(
                    f"this update names its own dataset ({word}) and the request gives "
                    "using-graph-uri or using-named-graph-uri too; the protocol allows "
                    "one or the other",
                    hint="drop the parameters, or the update's USING/WITH clauses",
                )
            if word == "WHERE":
                if previous == "DELETE":
                    raise QueryError(
                        "DELETE WHERE has no place for the dataset that using-graph-uri "
                        "and using-named-graph-uri give",
                        hint="write it as DELETE { … } WHERE { … }",
                    )
                places.append(token.start())
            previous = word
    for at in reversed(places):
        text = text[:at] + clause + text[at:]
    return text


__all__ = ["base_prefix", "based", "endpoint_iri", "using", "with_caret"]
