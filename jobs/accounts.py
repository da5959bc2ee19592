"""Who is calling, what they may see, and what a job costs them.

Users (HTTP Basic) and passes (`?pass=`, as pay-per-use job services take them) come
from the settings (`users = "alice:secret,bob:other"`, `passes =
"TOKEN:credit,…"`). A job is owned by the user who made it, by its pass
(`pass:` and the first 16 hex digits of the token's HMAC-SHA-256 under the server's
key, kept outside the dataset, so neither the token nor a plain digest of it is
stored), or by nobody (anonymous, allowed only when the `anonymous` setting is on).
Bad credentials are a 403 (they were read and refused); no credentials where they
are needed is a 401 (RFC 9110 §15.5.2).

Credit: a pass starts with the credit configured for it; each job debits its
price, computed from the size a HEAD on the input reports (`price_per_job` +
`price_per_mb` × MB, unknown sizes priced at the fetch limit, a job created
without an input at `price_per_job`). The balance is the pass's graph in the
store (`{base}passes/{hash}`), replaced in the same transaction that creates
the job (`Jobs.create(payer=…)`, whatever the binding), so a job is never paid
for twice or not at all, and the balance never goes below zero.

Producers: who may post messages (`POST /messages`). The `producers` setting names each
producer credential (a bearer token) and the producers it may speak for
(`TOKEN:TDR|TRE,TOKEN2:*`; `*`: any, messages that name no producer too). A stored
message records who submitted it by a label: `producer:` and the first 16 hex digits of
the token's HMAC-SHA-256 under the server's key (never the token), or `admin`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import math
import os
import secrets
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from jobtrail.base import nt
from jobtrail.base.errors import Forbidden, InputError, PaymentRequired, Unauthorized
from jobtrail.base.terms import JT, XSD
from jobtrail.store import ResourceGraph, Store


@dataclass(frozen=True)
class Caller:
    name: str | None = None  # the owner jobs are made for; None: anonymous
    pass_token: str | None = None

    @property
    def label(self) -> str:
        return self.name or "anonymous"


ANONYMOUS = Caller()

ANY_PRODUCER = "*"


@dataclass(frozen=True)
class Submitter:
    """Who posts messages: a label recorded beside each message, the producer names the
    credential may speak for (None: any, and messages that name no producer)."""

    label: str
    names: frozenset[str] | None = None

    def refusal(self, named: frozenset[str]) -> Forbidden | None:
        """Why this submitter may not post a message naming these producers, or None."""
        if self.names is None or (named and named <= self.names):
            return None
        allowed = ", ".join(sorted(self.names)) or "none"
        if not named:
            return Forbidden(
                "this message names no producer; only a credential for any producer (*) may "
                f"post it (this one may speak for: {allowed})",
                details={"allowed": sorted(self.names)},
            )
        foreign = sorted(named - self.names)
        return Forbidden(
            f"this credential may not speak for producer {', '.join(foreign)} "
            f"(it may speak for: {allowed})",
            hint="post it with that producer's own credential",
            details={"producer": foreign, "allowed": sorted(self.names)},
        )


ADMIN_SUBMITTER = Submitter("admin")


def producer_label(token: str, key: bytes) -> str:
    """How a producer credential is named beside the messages it posted (never the token)."""
    return "producer:" + pass_digest(token, key)[:16]


def parse_producers(text: str | None) -> dict[str, frozenset[str] | None]:
    """`TOKEN:TDR|TRE,TOKEN2:*` → {TOKEN: {TDR, TRE}, TOKEN2: None (any)}."""
    out: dict[str, frozenset[str] | None] = {}
    for n, (token, names) in enumerate(parse_pairs(text, "producers").items(), start=1):
        listed = frozenset(x.strip() for x in names.split("|") if x.strip())
        if not listed:
            raise InputError(  # not the token: an error message may be logged
                f"producer credential {n} names no producer",
                hint="write producers as TOKEN:Name|Name2,TOKEN2:* (*: any producer)",
            )
        out[token] = None if ANY_PRODUCER in listed else listed
    return out


def pass_digest(token: str, key: bytes) -> str:
    """A pass's name in the store: HMAC-SHA-256 of the token under the server's key.

    Keyed, so a stored name cannot be checked against guessed tokens without the key,
    which is kept outside the dataset (`load_key`)."""
    return hmac.new(key, token.encode("utf-8"), hashlib.sha256).hexdigest()


def pass_owner(token: str, key: bytes) -> str:
    return "pass:" + pass_digest(token, key)[:16]


def load_key(path: Path) -> bytes:
    """The server's secret key, made (32 random bytes, readable by its user only) on first use.

    Several server processes may start at once: the key is written to a file of its own,
    then linked into place, so every process reads the one key that won."""
    try:
        text = path.read_text("ascii").strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_hex(32) + "\n")
        try:
            os.link(fresh, path)  # atomic; fails if another process got there first
        except FileExistsError:
            pass
        finally:
            fresh.unlink()
        text = path.read_text("ascii").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < 16:
        raise InputError(
            f"{path} does not hold a key (64 hex digits)",
            hint="remove it to have a new one made (pass names change with it), or restore it",
        )
    return key


def parse_pairs(text: str | None, what: str) -> dict[str, str]:
    """`a:1,b:2` → {a: 1, b: 2}; the setting's format for users and passes."""
    pairs: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, colon, value = part.strip().partition(":")
        if not colon or not name:
            raise InputError(
                f"bad {what} entry {part.strip()!r}", hint=f"write {what} as name:value,…"
            )
        pairs[name] = value
    return pairs


@dataclass
class Accounts:
    store: Store
    base: str
    users: Mapping[str, str] = field(default_factory=dict)
    passes: Mapping[str, float] = field(default_factory=dict)
    anonymous: bool = True
    price_per_job: float = 0.0
    price_per_mb: float = 0.0
    max_bytes: int = 100_000_000
    size_of: Callable[[str], int | None] = lambda url: None
    """The size of a job's input in bytes (a HEAD), None when unknown."""
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    """The server's secret key for pass names (`load_key`); by default one for this process."""
    producers: Mapping[str, frozenset[str] | None] = field(default_factory=dict)
    """Producer credentials (`parse_producers`): token → the names it may speak for."""
    lock: contextlib.AbstractContextManager[Any] = field(default_factory=threading.Lock)
    """Held from reading a balance to storing the new one; on a store other processes write
    too, the log's lease (`Log.held`), so no two processes spend the same credit."""

    # --- who ------------------------------------------------------------------

    def identify(self, authorization: str | None, pass_token: str | None) -> Caller:
        if pass_token is not None:
            if pass_token not in self.passes:
                raise Forbidden("this pass is not known here", hint="check the ?pass= value")
            return Caller(pass_owner(pass_token, self.key), pass_token)
        if authorization:
            scheme, _, value = authorization.partition(" ")
            if scheme.lower() != "basic":
                raise Forbidden(f"{scheme} credentials are not accepted here; use HTTP Basic")
            try:
                user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError) as e:
                raise Forbidden("the Basic credentials do not decode") from e
            known = self.users.get(user)
            # as bytes: compare_digest refuses str with characters outside ASCII (a 500)
            if known is None or not hmac.compare_digest(known.encode(), password.encode()):
                raise Forbidden("bad user name or password")
            return Caller(user)
        return ANONYMOUS

    def producer(self, token: str) -> Submitter | None:
        """The producer credential this token is, compared in constant time; None if none."""
        found: Submitter | None = None
        for known, names in self.producers.items():
            # every token is compared (as bytes: compare_digest refuses non-ASCII str)
            if hmac.compare_digest(known.encode(), token.encode()):
                found = Submitter(producer_label(known, self.key), names)
        return found

    def require(self, caller: Caller) -> None:
        """Refuse an anonymous caller where anonymous jobs are not allowed."""
        if caller.name is None and not self.anonymous:
            raise Unauthorized(
                "anonymous jobs are not allowed here",
                hint="send HTTP Basic credentials or add ?pass=YOUR-PASS",
            )

    def may_see(self, caller: Caller, owner: str | None) -> bool:
        if owner is None:
            return self.anonymous
        return caller.name == owner

    # --- credit ---------------------------------------------------------------

    def priced(self) -> bool:
        return self.price_per_job > 0 or self.price_per_mb > 0

    def price(self, size: int | None) -> float:
        size = self.max_bytes if size is None else size
        return round(self.price_per_job + self.price_per_mb * math.ceil(size / 1e6), 6)

    def iri(self, token: str) -> str:
        return f"{self.base}passes/{pass_digest(token, self.key)}"

    def balance(self, token: str) -> float:
        for t in self.store.read(self.iri(token)):
            if t.predicate.value == str(JT.credit) and isinstance(t.object, ox.Literal):
                return float(t.object.value)
        return float(self.passes.get(token, 0.0))  # not yet used: its configured credit

    def debit(self, token: str, price: float, add_credit_hint: str) -> ResourceGraph:
        """The pass's graph after paying `price`; PaymentRequired when its credit is short.

        The graph must be stored while the accounts' lock is held (`Payer.debited`),
        so that two jobs cannot spend the same credit.
        """
        left = self.balance(token)
        if price > left:
            raise PaymentRequired(
                f"this job costs {price:g} and the pass has {left:g} left",
                hint=add_credit_hint,
                details={"cost": price, "credit": left, "currency": "credit units"},
            )
        return self._graph(token, left - price)

    def credit(self, token: str, amount: float) -> float:
        if token not in self.passes:
            raise InputError("no such pass is configured", hint="add it to the passes setting")
        with self.lock:
            left = self.balance(token) + amount
            self.store.replace(self._graph(token, left))
        return left

    def credit_hint(self) -> str:
        return (
            f"ask the service to add credit to your pass (POST {self.base}credit with "
            "pass= and amount=, by its administrator), then send the job again"
        )

    def payer(self, caller: Caller) -> Payer | None:
        """Who pays for the caller's jobs: their pass, where jobs have a price; else None."""
        if caller.pass_token is None or not self.priced():
            return None
        return Payer(self, caller.pass_token)

    def _graph(self, token: str, credit: float) -> ResourceGraph:
        s = nt.iri(self.iri(token))
        return ResourceGraph(
            self.iri(token),
            [
                (s, nt.A, nt.jt("Pass")),
                (s, nt.jt("credit"), nt.typed(format(round(credit, 6), "f"), f"{XSD}decimal")),
            ],
        )


@dataclass(frozen=True)
class Payer:
    """A pass paying for a job, in the transaction that creates it (`Jobs.create(payer=…)`)."""

    accounts: Accounts
    token: str

    def price(self, input: str | None) -> float:
        """What a job on `input` costs (a HEAD on it); without an input, the price per job."""
        return self.quote(input)[0]

    def quote(self, input: str | None) -> tuple[float, int]:
        """What a job on `input` costs, and the size in bytes that price pays for: the size a
        HEAD reports, the fetch limit when it reports none, 0 without an input. The job's
        input download stops past that size (`jt:paidBytes`)."""
        size = self.accounts.size_of(input) if input else 0
        size = self.accounts.max_bytes if size is None else size
        return self.accounts.price(size), size

    @contextlib.contextmanager
    def debited(self, price: float) -> Iterator[ResourceGraph]:
        """The pass's graph after paying `price`, to be stored before the block ends.

        The accounts' lock is held for the whole block, so the balance read here is
        still the balance when the graph is stored; PaymentRequired when it is short.
        """
        with self.accounts.lock:
            yield self.accounts.debit(self.token, price, self.accounts.credit_hint())
