"""Where this server describes the terms of its own vocabulary and shapes.

The vocabulary's IRIs (`https://w3id.org/jobtrail/vocab#Job`, the status schemes under
`https://w3id.org/jobtrail/status/`, the shapes) name terms on w3id.org; this server
describes each one itself (`/vocab/Job`, `/vocab/status/…`, `/shapes`), so a page links
there rather than off-site.
"""

from __future__ import annotations

from urllib.parse import quote

VOCAB = "https://w3id.org/jobtrail/vocab"
JT = VOCAB + "#"
STATUS = "https://w3id.org/jobtrail/status/"
SHAPES = "https://w3id.org/jobtrail/shapes"


def local_href(iri: str) -> str:
    """Where this server describes an IRI of the vocabulary, else the IRI itself."""
    if iri.startswith(JT) and len(iri) > len(JT):
        return "/vocab/" + quote(iri[len(JT) :], safe="/")
    if iri in (VOCAB, JT):
        return "/vocab"
    if iri.startswith(STATUS) and len(iri) > len(STATUS):
        return "/vocab/status/" + quote(iri[len(STATUS) :], safe="/")
    if iri == STATUS.rstrip("/"):
        return "/vocab/status"
    if iri == SHAPES:
        return "/shapes"
    if iri.startswith(SHAPES + "#"):
        return "/shapes#" + quote(iri[len(SHAPES) + 1 :], safe="")  # the shape's section
    return iri


__all__ = ["JT", "SHAPES", "STATUS", "VOCAB", "local_href"]
