"""Scrubbing a store an earlier release wrote: its secrets taken out, its passes re-keyed.

Earlier releases stored what this one never writes: pass tokens (`?pass=` in hops,
`pass=` in job-change records), `Authorization` headers, URL passwords (job inputs,
hops, change records, MCMA records, outbox calls), and pass balances and owner labels
named by the plain SHA-256 of the token. `scrub` walks every graph of a store and
rewrites those the server wrote (a job's graphs, its records and hops, outbox calls,
balances; with `provenance`, messages producers posted or a load read too, which this
release stores as they came) in place:

- every IRI and literal through `redact.text` (a literal keeps its datatype or language;
  an IRI stays an IRI: only its password or a secret parameter's value becomes
  `REDACTED`), a secret header's value (`http:fieldValue` of `Authorization` …) to
  `REDACTED`, and a record's original bytes through `redact.message` (an HTTP hop: its
  head's triples then follow the redacted head, `Jobtrail-Redacted` included) or
  `redact.data`;
- what a job still to run needs (its input URL, its secret parameters) and the target of
  an outbox call still to send go into the vault (`vault`), where the worker and the
  outbox look for them, as they do for what the job core and the outbox redact now;
- for each pass token given (the `passes` setting, with the server's key): the token
  itself wherever it appears, the plain digest of it (`{base}passes/{sha256}`, and the
  owner label `pass:` + its first 16 hex digits, in state graphs, change records and
  JSON text) to the keyed one (`pass_digest`), the balance kept — unless a balance
  under the keyed name is there already, which then wins and the old one goes.

A graph that is not sealed (a job's state, `{job}/mcma`, an outbox call, a balance) is
simply replaced. A sealed record (a message, a hop, a change record) changed that way no
longer matches its seal: each batch writes one `jt:Scrub` record (`ingest/seal.py`
`scrub_record`) listing every record it changed with its content digest before and
after, sealed at the head of the log and stored in the same transaction as the graphs
it changed, so `jobtrail verify` accepts exactly those changes. A record keeps its IRI
and its `jt:sha256` (they name the bytes as received) and its seal. A scrub record is
never rewritten. A second scrub finds nothing to do and writes nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyoxigraph as ox
from jobtrail.base import nt, redact
from jobtrail.base.errors import InputError
from jobtrail.base.terms import HTTP, JT, PROV, RDF, XSD
from jobtrail.ingest import http
from jobtrail.ingest.seal import (
    ORIGINAL_BASE64,
    ORIGINAL_TEXT,
    POSITION,
    SCRUB,
    SEAL,
    SHA256,
    Log,
    Scrubbed,
    content_digest,
    scrub_record,
    stored_digest,
)
from jobtrail.jobs.accounts import pass_digest
from jobtrail.jobs.core import ACTIVE
from jobtrail.jobs.vault import Vault
from jobtrail.store import ResourceGraph, Store, Triple

_J = str(JT)
_TYPE = str(RDF.type)
_FIELD_NAME, _FIELD_VALUE, _HEADERS = (
    f"{HTTP}fieldName",
    f"{HTTP}fieldValue",
    f"{HTTP}headers",
)
_MEDIA_TYPE = f"{_J}mediaType"
_BASE64 = f"{XSD}base64Binary"
_PHASE, _STATE, _TARGET = (f"{_J}phase", f"{_J}deliveryState", f"{_J}callTarget")
_USED = f"{PROV}used"
_NEEDED = frozenset({_USED, _TARGET})
_RDF_JSON = f"{RDF}JSON"
_KEY, _VALUE, _ABOUT = f"{_J}key", f"{_J}value", f"{_J}about"
_PAIRS: dict[str, tuple[str, frozenset[str]]] = {
    _FIELD_NAME: (_FIELD_VALUE, redact.SECRET_HEADERS),
    _KEY: (_VALUE, redact.SECRET_PARAMETERS),
}
"""A name and the value beside it: a secret header's, a secret parameter's."""
_KEPT = SEAL | {SHA256, ORIGINAL_TEXT, ORIGINAL_BASE64}
"""Predicates of a record's own node never rewritten term by term (the seal, the hash
that names it) or rewritten as bytes (its original bytes)."""

PASS_TOKEN, PASS_DIGEST = "pass-token", "pass-digest"
"""Names in the report and the scrub records besides `redact`'s: a configured pass's token
found as it is, and a pass named by the plain digest of its token (re-keyed)."""


@dataclass
class ScrubReport:
    """What a scrub did (or, in a dry run, would do)."""

    graphs: int = 0
    """Graphs looked at."""
    changed: int = 0
    """Graphs changed: replaced, renamed or dropped."""
    sealed: int = 0
    """Sealed records among them (each listed in a scrub record)."""
    records: list[str] = field(default_factory=list)
    """The scrub records written (in a dry run, one placeholder per batch that needs one)."""
    passes: int = 0
    """Pass balances re-keyed (moved from the plain digest's name to the keyed one)."""
    provenance: int = 0
    """Graphs of provenance left as they came (without `provenance`)."""
    vaulted: int = 0
    """Secrets a job still to run or an outbox call still to send needs, put in the vault."""
    dropped: list[str] = field(default_factory=list)
    """Balances under a plain digest dropped: the pass had one under the keyed name."""
    names: Counter[str] = field(default_factory=Counter)
    """What was taken out: each name (`userinfo`, `pass`, `authorization` …) and the
    number of values it was taken out of."""
    dry_run: bool = False

    def summary(self) -> str:
        would = "would be " if self.dry_run else ""
        lines = [
            f"looked at {self.graphs:,} graphs: {self.changed:,} {would}changed, "
            f"{self.sealed:,} of them sealed records, listed in {len(self.records):,} "
            f"scrub record(s); {self.passes:,} pass balance(s) {would}re-keyed"
        ]
        if self.names:
            taken = ", ".join(f"{n} {c:,}" for n, c in sorted(self.names.items()))
            lines.append(f"{'would take' if self.dry_run else 'took'} out: {taken}")
        if self.provenance:
            lines.append(
                f"left {self.provenance:,} graph(s) of provenance as they came (messages "
                "producers posted or a load read, their producers; --provenance scrubs them too)"
            )
        if self.vaulted:
            lines.append(
                f"{self.vaulted:,} secret(s) a job still to run or a call still to send "
                "needs: kept in the vault"
            )
        for iri in self.dropped:
            lines.append(
                f"dropped {iri}: the pass has a balance under its keyed name, which is kept"
            )
        if not self.changed:
            lines.append("nothing to scrub: no secret an earlier release stored is left")
        return "\n".join(lines)


@dataclass
class _Change:
    iri: str  # the graph as it is now
    graph: ResourceGraph | None  # what replaces it (under its new name); None: dropped
    names: list[str]
    entry: Scrubbed | None = None  # a sealed record's line in the scrub record
    rekeyed: bool = False


class _Rewriter:
    """Text with the secrets taken out and the configured passes' plain digests re-keyed."""

    def __init__(self, tokens: Iterable[str], key: bytes | None):
        tokens = sorted({t for t in tokens if t}, key=len, reverse=True)
        if tokens and key is None:
            raise InputError("re-keying passes needs the server's key")
        self.keyed: dict[str, str] = {}
        for token in tokens:
            plain = hashlib.sha256(token.encode("utf-8")).hexdigest()
            keyed = pass_digest(token, key or b"")
            self.keyed[plain] = keyed
            self.keyed[f"pass:{plain[:16]}"] = f"pass:{keyed[:16]}"
        self._tokens = (
            re.compile(
                r"(?<![\w.~-])(?:" + "|".join(re.escape(t) for t in tokens) + r")(?![\w.~-])"
            )
            if tokens
            else None
        )
        self._digests = (
            re.compile(
                r"(?<![0-9a-fA-F])(?:"
                + "|".join(re.escape(d) for d in sorted(self.keyed, key=len, reverse=True))
                + r")(?![0-9a-fA-F])"
            )
            if self.keyed
            else None
        )

    def passes(self, value: str) -> tuple[str, list[str]]:
        """The configured passes out of `value`: tokens redacted, plain digests re-keyed."""
        names: list[str] = []
        if self._tokens is not None:
            value, found = self._tokens.subn(redact.REDACTED, value)
            if found:
                names.append(PASS_TOKEN)
        if self._digests is not None:
            value, found = self._digests.subn(lambda m: self.keyed[m.group(0)], value)
            if found:
                names.append(PASS_DIGEST)
        return value, names

    def text(self, value: str) -> tuple[str, list[str]]:
        value, names = redact.text(value)
        value, more = self.passes(value)
        return value, sorted({*names, *more})

    def data(self, value: bytes, is_http: bool) -> tuple[bytes, list[str]]:
        """A record's original bytes: `redact.message` (a hop: its head then says what was
        taken out) or `redact.data`, then the passes (a hop's Content-Length follows)."""
        value, names = redact.message(value) if is_http else redact.data(value)
        try:
            decoded = value.decode("utf-8")
        except UnicodeDecodeError:
            return value, names
        replaced, more = self.passes(decoded)
        if not more:
            return value, names
        value = replaced.encode("utf-8")
        if is_http:
            value = _content_length(value)
        return value, sorted({*names, *more})


class Scrubber:
    """Walks a store's graphs and rewrites those that hold secrets (module docstring)."""

    def __init__(
        self,
        store: Store,
        base: str,
        *,
        passes: Iterable[str] = (),
        key: bytes | None = None,
        log: Log | None = None,
        dry_run: bool = False,
        batch_size: int = 500,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        vault: Vault | None = None,
        provenance: bool = False,
    ):
        self.provenance = provenance
        """Scrub provenance too: messages producers posted or `jobtrail load` read, and
        their producers (this release stores those as they came)."""
        self.vault = vault
        """Where the URLs an active job or a pending outbox call still needs go, their
        passwords redacted in the store (the server's vault: `{files}/.vault`)."""
        self.store = store
        self.base = base
        self.rewriter = _Rewriter(passes, key)
        self.dry_run = dry_run
        self.log = log if log is not None or dry_run else Log(store)
        self.batch_size = max(1, batch_size)
        self.clock = clock
        self.report = ScrubReport(dry_run=dry_run)
        self._named: set[str] = set()  # graph names this run writes (renamed balances)

    def run(self, progress: Callable[[int, int], None] | None = None) -> ScrubReport:
        """Scrub every graph; `progress(looked at, of)` after each one."""
        names = sorted(self.store.graphs())
        batch: list[_Change] = []
        for n, iri in enumerate(names, start=1):
            change = self.graph(iri)
            self.report.graphs += 1
            if change is not None:
                batch.append(change)
                if len(batch) >= self.batch_size:
                    self._flush(batch)
                    batch = []
            if progress is not None:
                progress(n, len(names))
        if batch:
            self._flush(batch)
        return self.report

    # --- one graph ------------------------------------------------------------------

    def graph(self, iri: str) -> _Change | None:
        """What the graph becomes (None: it holds nothing to scrub)."""
        triples = self.store.read(iri)
        own = ox.NamedNode(iri)
        mine = [t for t in triples if t.subject == own]
        if any(t.predicate.value == _TYPE and _value(t.object) == SCRUB for t in mine):
            return None  # a scrub record: names and digests only, and never rewritten
        if not self.provenance and not self._ours(iri, mine):
            self.report.provenance += 1
            return None
        position = next((_value(t.object) for t in mine if t.predicate.value == POSITION), None)
        sealed = position is not None
        secret = _secret_values(triples)
        names: list[str] = []
        out: list[Triple] = []
        changed = False
        needed: dict[str, Any] = {}  # what a job or call may still need, as it was
        keys = {t.subject: _value(t.object) for t in triples if t.predicate.value == _KEY}
        for t in triples:
            was = (str(t.subject), str(t.predicate), str(t.object))
            if t.subject == own and t.predicate.value in _KEPT or t.predicate.value in SEAL:
                out.append(was)
                continue
            terms: list[str] = []
            for i, term in enumerate((t.subject, t.predicate, t.object)):
                found: list[str] = []
                if sealed and term == own:
                    text = str(term)
                elif i == 2 and (t.subject, t.predicate.value) in secret:
                    text, found = _secret_value(term, secret[t.subject, t.predicate.value])
                else:
                    text, found = self._term(term)
                terms.append(text)
                names += found
            triple = (terms[0], terms[1], terms[2])
            if triple != was:
                changed = True
                if t.predicate.value in _NEEDED and isinstance(t.object, ox.NamedNode):
                    needed[t.predicate.value] = t.object.value
                elif t.predicate.value == _VALUE and t.subject in keys:
                    needed.setdefault(_VALUE, {})[keys[t.subject]] = _json(t.object)
            out.append(triple)
        sha = None
        original = self._original(iri, mine)
        if original is not None:
            out, sha, found = original(out)
            names += found
            changed = changed or bool(found)
        if not changed:
            return None
        if sealed:
            assert position is not None
            entry = Scrubbed(
                iri,
                int(position),
                stored_digest(triples),
                content_digest(out),
                sha,
                tuple(sorted(set(names))),
            )
            return _Change(iri, ResourceGraph(iri, out), names, entry)
        self._keep(iri, mine, needed)
        renamed, _ = self.rewriter.text(iri)
        if renamed == iri or nt.checked_iri(renamed) is None:
            return _Change(iri, ResourceGraph(iri, out), names)
        rekeyed = renamed.startswith(f"{self.base}passes/")
        if renamed in self._named or self.store.exists(renamed):
            self.report.dropped.append(iri)
            return _Change(iri, None, names)
        self._named.add(renamed)
        return _Change(iri, ResourceGraph(renamed, out), names, rekeyed=rekeyed)

    def _ours(self, iri: str, mine: Sequence[ox.Triple]) -> bool:
        """Did the server write the graph: a job's (its state, results, side graphs), a
        pass's balance, an outbox call, or a record about a job (a change, a hop)?"""
        if any(t.predicate.value == _ABOUT for t in mine):
            return True
        return iri.startswith(tuple(f"{self.base}{p}/" for p in ("jobs", "outbox", "passes")))

    def _keep(self, iri: str, mine: Sequence[ox.Triple], needed: dict[str, Any]) -> None:
        """What a job still to run (its input URL, its parameters' secrets) and an outbox
        call still to send (its target) need, into the vault, where the worker and the
        outbox look for them, as they do for what the job core and the outbox redact now."""
        if self.vault is None or self.dry_run or not needed:
            return
        values = {t.predicate.value: _value(t.object) for t in mine}
        jobs, outbox = f"{self.base}jobs/", f"{self.base}outbox/"
        name = iri.rpartition("/")[2]
        kept: list[tuple[str, str | None]] = []
        if iri == f"{jobs}{name}" and values.get(_PHASE, "").rpartition("/")[2] in ACTIVE:
            taken = needed.get(_VALUE)
            kept += [(name, needed.get(_USED))]
            kept += [(f"{name}.parameters", json.dumps(taken) if taken else None)]
        elif iri == f"{outbox}{name}" and values.get(_STATE) == "pending":
            kept += [(f"call-{name}", needed.get(_TARGET))]
        for key, secret in kept:
            if secret is not None and self.vault.get(key) is None:
                self.vault.put(key, secret)
                self.report.vaulted += 1

    def _term(self, term: object) -> tuple[str, list[str]]:
        if isinstance(term, ox.NamedNode):
            value, found = self.rewriter.text(term.value)
            if not found:
                return str(term), []
            if nt.checked_iri(value) is None:  # cannot happen: REDACTED is letters
                raise InputError(f"scrubbing <{term.value}> would make no IRI")
            return str(ox.NamedNode(value)), found
        if isinstance(term, ox.Literal):
            value, found = self.rewriter.text(term.value)
            if not found:
                return str(term), []
            if term.language:
                return str(ox.Literal(value, language=term.language)), found
            return str(ox.Literal(value, datatype=term.datatype)), found
        return str(term), []  # a blank node, a quoted triple

    def _original(
        self, iri: str, mine: Sequence[ox.Triple]
    ) -> Callable[[list[Triple]], tuple[list[Triple], str | None, list[str]]] | None:
        """How the record's original bytes are rewritten, if it has any: a function of its
        rewritten triples returning them with the new bytes, the bytes' SHA-256 (None when
        they did not change) and what was taken out."""
        values = {
            t.predicate.value: t.object.value for t in mine if isinstance(t.object, ox.Literal)
        }
        text, b64 = values.get(ORIGINAL_TEXT), values.get(ORIGINAL_BASE64)
        try:
            if text is not None:
                data = text.encode("utf-8")
            elif b64 is not None:
                data = base64.b64decode(b64)
            else:
                return None
        except (binascii.Error, ValueError):
            return None
        media = values.get(_MEDIA_TYPE, "").split(";")[0].strip().lower()
        is_http = media == "message/http"
        new, names = self.rewriter.data(data, is_http)
        if new == data:
            return None

        def rewrite(triples: list[Triple]) -> tuple[list[Triple], str | None, list[str]]:
            s = nt.iri(iri)
            out = [t for t in triples if not (t[0] == s and t[1] in _BYTES)]
            if text is not None:
                out.append((s, nt.iri(ORIGINAL_TEXT), nt.lit(new.decode("utf-8"))))
            else:
                encoded = base64.b64encode(new).decode("ascii")
                out.append((s, nt.iri(ORIGINAL_BASE64), nt.typed(encoded, _BASE64)))
            if is_http:
                out = _head(iri, out, data, new)
            return out, hashlib.sha256(new).hexdigest(), names

        return rewrite

    # --- storing --------------------------------------------------------------------

    def _flush(self, batch: list[_Change]) -> None:
        """One transaction: the batch's graphs, and the scrub record listing its sealed ones."""
        entries = [c.entry for c in batch if c.entry is not None]
        add: list[ResourceGraph] = []
        if entries:
            rekeyed = sum(c.rekeyed for c in batch)
            record = scrub_record(
                entries,
                base=self.base,
                at=self.clock(),
                counts={
                    "unsealedGraphsChanged": len(batch) - len(entries),
                    "passesRekeyed": rekeyed,
                },
            )
            add.append(record)
            self.report.records.append(record.iri)
        replace = [c.graph for c in batch if c.graph is not None]
        delete = [
            c.iri for c in batch if c.graph is None or c.graph.iri != c.iri
        ]  # dropped or renamed
        if not self.dry_run:
            assert self.log is not None
            with self.log.sealing(add):  # sealed and committed in one critical section
                self.store.apply(add=add, replace=replace, delete=delete)
        for c in batch:
            self.report.changed += 1
            self.report.sealed += c.entry is not None
            self.report.passes += c.rekeyed
            self.report.names.update(c.names)


_BYTES = frozenset({nt.iri(ORIGINAL_TEXT), nt.iri(ORIGINAL_BASE64)})
_LENGTH = re.compile(rb"(?im)^(content-length:[ \t]*)\d+")


def _value(term: ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple) -> str:
    return "" if isinstance(term, ox.Triple) else term.value


def _secret_values(triples: Sequence[ox.Triple]) -> dict[tuple[object, str], str]:
    """(node, predicate) of every value named secret beside it: a secret header's
    `http:fieldValue`, a secret parameter's `jt:value` (a job's, a TRE message's); the name."""
    out: dict[tuple[object, str], str] = {}
    for t in triples:
        pair = _PAIRS.get(t.predicate.value)
        name = _value(t.object).strip().lower()
        if pair is not None and name in pair[1]:
            out[t.subject, pair[0]] = name
    return out


def _json(term: object) -> Any:
    """A literal's value: parsed, for rdf:JSON."""
    if not isinstance(term, ox.Literal):
        return str(term)
    if term.datatype.value == _RDF_JSON:
        try:
            return json.loads(term.value)
        except ValueError:
            pass
    return term.value


def _secret_value(term: object, name: str) -> tuple[str, list[str]]:
    """A value named secret: REDACTED (a JSON string for an rdf:JSON literal)."""
    if not isinstance(term, ox.Literal):
        return str(term), []
    json_ = term.datatype.value == _RDF_JSON
    value = f'"{redact.REDACTED}"' if json_ else redact.REDACTED
    if term.value.strip() == value:
        return str(term), []
    kept = ox.Literal(value, datatype=term.datatype) if json_ else ox.Literal(value)
    return str(kept), [name]


def _content_length(message: bytes) -> bytes:
    """An HTTP message whose body changed, its Content-Length following."""
    head, sep, body = message.partition(b"\r\n\r\n")
    if not sep:
        return message
    return _LENGTH.sub(lambda m: m.group(1) + str(len(body)).encode(), head) + sep + body


def _head(iri: str, triples: list[Triple], old: bytes, new: bytes) -> list[Triple]:
    """A hop's header triples made again from its redacted head (a secret header's value,
    Content-Length, `Jobtrail-Redacted`), when they are the ones the reader made from the
    head as it was; else left as they are (values already redacted term by term)."""
    try:
        start, before, _, line = http.split(old, iri)
        start, after, _, line = http.split(new, iri)
        made = http.triples(start, after, iri, iri, line)
    except Exception:  # noqa: BLE001 — a head the reader cannot read: keep the triples
        return triples
    prefix, link = f"<{iri}#h", nt.iri(_HEADERS)

    def header(t: Triple) -> bool:
        return t[1] == link or t[0].startswith(prefix)

    held = {t[2] for t in triples if t[1] == link}
    if len(held) != len(before):
        return triples
    return [t for t in triples if not header(t)] + [t for t in made if header(t)]


def scrub(
    store: Store,
    base: str,
    *,
    passes: Iterable[str] = (),
    key: bytes | None = None,
    log: Log | None = None,
    dry_run: bool = False,
    batch_size: int = 500,
    progress: Callable[[int, int], None] | None = None,
    vault: Vault | None = None,
    provenance: bool = False,
) -> ScrubReport:
    """Scrub every graph of `store` (module docstring); the report of what was done."""
    scrubber = Scrubber(
        store,
        base,
        passes=passes,
        key=key,
        log=log,
        dry_run=dry_run,
        batch_size=batch_size,
        vault=vault,
        provenance=provenance,
    )
    return scrubber.run(progress)


__all__ = ["PASS_DIGEST", "PASS_TOKEN", "ScrubReport", "Scrubber", "scrub"]
