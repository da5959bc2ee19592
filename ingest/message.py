"""The message record every reader produces: normalised triples plus the original bytes.

A message's IRI is `{base}messages/{sha256 of its bytes}`, so the same bytes
always land on the same graph and are stored once.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

from jobtrail.base import nt
from jobtrail.base.terms import XSD
from jobtrail.shapes.report import Result
from jobtrail.store import ResourceGraph, Triple


@dataclass
class Incoming:
    """Bytes as received, before any reader has looked at them."""

    data: bytes
    source: str
    media_type: str | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class Message:
    """A read message: its graph (envelope + content) and what the reader noticed."""

    iri: str
    kind: str
    graph: ResourceGraph
    notes: list[str] = field(default_factory=list)
    source: str = ""
    shared: list[ResourceGraph] = field(default_factory=list)
    """Resources the message names that live in graphs of their own (its producer),
    created with the first message that names them and never replaced by later ones."""
    warnings: list[Result] = field(default_factory=list)
    """What a published schema of its format says is wrong with it (TNA's, for TRE):
    kept with the message like the shapes' warnings, never a reason to refuse it."""

    @property
    def producer_names(self) -> frozenset[str]:
        """The names of the producers the message claims (`jt:producerName` of its shared
        producer resources): a TRE message's `producer.name` / `properties.producer`."""
        name = nt.jt("producerName")
        return frozenset(
            nt.parse_term(o)[1] for g in self.shared for _, p, o in g.triples if p == name
        )

    def all_triples(self) -> list[Triple]:
        """The message's triples with those of its shared resources: what the shapes see."""
        out = list(self.graph.triples)
        for g in self.shared:
            out += g.triples
        return out


def message_iri(base: str, sha256: str) -> str:
    return f"{base}messages/{sha256}"


def envelope(
    incoming: Incoming,
    *,
    base: str,
    classes: tuple[str, ...],
    media_type: str,
    notes: list[str],
    stored_at: str,
) -> tuple[str, list[Triple]]:
    """The triples every message has, whatever its format."""
    sha = incoming.sha256
    m = message_iri(base, sha)
    s = nt.iri(m)
    triples: list[Triple] = [(s, nt.A, nt.jt("Message"))]
    triples += [(s, nt.A, nt.jt(c)) for c in classes]
    triples += [
        (s, nt.jt("sha256"), nt.lit(sha)),
        (s, nt.jt("mediaType"), nt.lit(media_type)),
        (s, nt.jt("byteSize"), nt.integer(len(incoming.data))),
        (s, nt.jt("storedAt"), stored_at),
        (s, nt.jt("loadedFrom"), nt.lit(incoming.source)),
    ]
    try:
        triples.append((s, nt.jt("originalText"), nt.lit(incoming.data.decode("utf-8"))))
    except UnicodeDecodeError:
        encoded = base64.b64encode(incoming.data).decode("ascii")
        triples.append((s, nt.jt("originalBase64"), nt.typed(encoded, str(XSD.base64Binary))))
    triples += [(s, nt.jt("readerNote"), nt.lit(n)) for n in notes]
    return m, triples


def original_bytes(text: str | None, b64: str | None) -> bytes:
    """The original bytes back from a stored message's literals (for verification)."""
    if text is not None:
        return text.encode("utf-8")
    return base64.b64decode(b64 or "")
