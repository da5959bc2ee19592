"""The named queries as data: what `GET /queries` answers in JSON, and what the query
editor's named-query tabs build their parameter forms from. One source: the `.rq` headers
(`jobtrail.queries`), read here into the same JSON for both."""

from __future__ import annotations

from typing import Any

from jobtrail.queries import NamedQuery


def describe(query: NamedQuery, base: str) -> dict[str, Any]:
    """A query as JSON: what it is, where it runs, its parameters (and example values)."""
    return {
        "name": query.name,
        "description": query.description,
        "url": f"{base}queries/{query.name}",
        "parameters": [
            {
                "name": p.name,
                "type": p.type,
                "required": p.required,
                "description": p.doc,
                **({"example": query.examples[p.name]} if p.name in query.examples else {}),
            }
            for p in query.params
        ],
        "sparql": query.sparql,
    }
