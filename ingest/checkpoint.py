"""Signed checkpoints of the log's Merkle tree (`tree.py`), for auditors who trust nothing else.

A checkpoint is C2SP's `tlog-checkpoint` (https://c2sp.org/tlog-checkpoint): three lines,
the log's origin, the tree's size in decimal and its root hash in base64,

    example.org/jobtrail
    1042
    Vg2hN0c5Kq5wZf1…=

signed as a C2SP signed note (https://c2sp.org/signed-note): the text, an empty line, and
one line per signature, `— {key name} {base64(key hash ‖ signature)}`. The key is Ed25519;
its hash is the first four bytes of SHA-256(name ‖ "\\n" ‖ 0x01 ‖ public key); the
verifier key anyone can check a note with is `{name}+{key hash, hex}+{base64(0x01 ‖ public
key)}` (the form Go's `golang.org/x/mod/sumdb/note` reads). The private key is kept outside
the dataset, in a file of its own made on first use (mode 0600), in the same package's form
`PRIVATE+KEY+{name}+{key hash}+{base64(0x01 ‖ seed)}`; the store never holds it.

Checkpoints are kept: each one issued is stored in the graph `urn:jobtrail:checkpoints`
(not a record: what it signs is the tree of records), so an auditor can fetch any earlier
one and a consistency proof from it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jobtrail.base import nt
from jobtrail.base.errors import InputError
from jobtrail.ingest.seal import Log
from jobtrail.store import Store

GRAPH = "urn:jobtrail:checkpoints"
_C = f"{GRAPH}#"
NOTE, SIZE, ISSUED, KEY = f"{_C}note", f"{_C}size", f"{_C}issued", f"{_C}key"
_ED25519 = b"\x01"
_DASH = "\u2014"
_NAME = re.compile(r"^[^\s+]+$")


class NoteError(InputError):
    """A note, checkpoint or key that does not read or does not verify (the message says which)."""


class OtherSigner(NoteError):
    """A note that carries no signature of the key it was checked with (another key's, an
    earlier key's): not a forgery, but nothing that key vouches for."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        lines = [
            self.origin,
            str(self.size),
            base64.b64encode(self.root).decode(),
            *self.extensions,
        ]
        return "".join(f"{line}\n" for line in lines)


def origin_of(base_url: str) -> str:
    """The log's origin (and its key's name) for a server at `base_url`: schemeless, no
    trailing slash (`https://archive.example/jobtrail/` → `archive.example/jobtrail`)."""
    origin = re.sub(r"^[a-z][a-z0-9+.-]*://", "", base_url.strip(), flags=re.I).rstrip("/")
    return origin.replace("+", "%2B").replace(" ", "%20") or "jobtrail"


def _key_hash(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + _ED25519 + public).digest()[:4]


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"{what} is not base64") from None


@dataclass(frozen=True)
class Verifier:
    """A public key that checks notes: `name+hash+key` (`Signer.verifier`)."""

    name: str
    key_hash: bytes
    public: bytes

    @classmethod
    def parse(cls, text: str) -> Verifier:
        parts = text.strip().split("+", 2)  # base64 may hold "+"; a name and a hash do not
        if len(parts) != 3 or not _NAME.match(parts[0]):
            raise NoteError("a verifier key reads name+hash+key (what /log/key answers)")
        name, hash_hex, data = parts
        key = _b64(data, "the verifier key's key")
        if len(key) != 33 or key[:1] != _ED25519:
            raise NoteError("the verifier key is not an Ed25519 key")
        try:
            key_hash = bytes.fromhex(hash_hex)
        except ValueError:
            raise NoteError("the verifier key's hash is not hex") from None
        if key_hash != _key_hash(name, key[1:]):
            raise NoteError("the verifier key's hash does not match its name and key")
        return cls(name, key_hash, key[1:])

    def __str__(self) -> str:
        return (
            f"{self.name}+{self.key_hash.hex()}+{base64.b64encode(_ED25519 + self.public).decode()}"
        )

    def open(self, note: str) -> Checkpoint:
        """The checkpoint a note signed by this key holds; NoteError if it is not one, or
        carries no valid signature of this key."""
        text, signatures = _split(note)
        ok = False
        for name, blob in signatures:
            if name != self.name or blob[:4] != self.key_hash:
                continue
            try:
                Ed25519PublicKey.from_public_bytes(self.public).verify(blob[4:], text.encode())
                ok = True
            except InvalidSignature:
                raise NoteError(
                    f"the signature of {name} does not verify: the note was changed"
                ) from None
        if not ok:
            raise OtherSigner(f"the note has no signature by the key {self}")
        return parse_checkpoint(text)


def _split(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    if "\n\n" not in note:
        raise NoteError("a signed note is text, an empty line, then signature lines")
    text, _, rest = note.partition("\n\n")
    text += "\n"
    signatures = []
    for line in rest.splitlines():
        if not line:
            continue
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != _DASH:
            raise NoteError(f"a signature line reads '{_DASH} name signature', not {line[:60]!r}")
        blob = _b64(parts[2], "a signature")
        if len(blob) < 5:
            raise NoteError("a signature is too short")
        signatures.append((parts[1], blob))
    if not signatures:
        raise NoteError("the note carries no signature")
    return text, signatures


def parse_checkpoint(text: str) -> Checkpoint:
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise NoteError("a checkpoint is at least three lines: origin, tree size, root hash")
    origin, size, root = lines[0], lines[1], lines[2]
    if not origin or not re.fullmatch(r"0|[1-9][0-9]{0,19}", size):
        raise NoteError("a checkpoint's second line is the tree size in decimal")
    digest = _b64(root, "the checkpoint's root hash")
    if len(digest) != 32:
        raise NoteError("the checkpoint's root hash is not a SHA-256 hash")
    return Checkpoint(origin, int(size), digest, tuple(lines[3:-1]))


class Signer:
    """The log's Ed25519 key (module docstring)."""

    def __init__(self, name: str, seed: bytes):
        if not _NAME.match(name):
            raise NoteError(f"a key name has no spaces and no '+': {name!r}")
        self.name = name
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        public = self._key.public_key().public_bytes_raw()
        self.verifier = Verifier(name, _key_hash(name, public), public)

    @classmethod
    def load(cls, path: Path, name: str) -> Signer:
        """The key in `path`; made there first when there is none (named `name`)."""
        try:
            text = path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            signer = cls(name, secrets.token_bytes(32))
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(signer.private() + "\n")
            return signer
        except (OSError, UnicodeError) as e:
            raise NoteError(f"the log key {path} cannot be read: {e}") from None
        parts = text.split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise NoteError(f"{path} holds no log key (PRIVATE+KEY+name+hash+key)")
        seed = _b64(parts[4], f"the key in {path}")
        if len(seed) != 33 or seed[:1] != _ED25519:
            raise NoteError(f"{path} holds no Ed25519 key")
        signer = cls(parts[2], seed[1:])
        if parts[3] != signer.verifier.key_hash.hex():
            raise NoteError(f"the key in {path} does not match its hash")
        return signer

    def private(self) -> str:
        seed = self._key.private_bytes_raw()
        data = base64.b64encode(_ED25519 + seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier.key_hash.hex()}+{data}"

    def sign(self, checkpoint: Checkpoint) -> str:
        text = checkpoint.body()
        blob = self.verifier.key_hash + self._key.sign(text.encode())
        return f"{text}\n{_DASH} {self.name} {base64.b64encode(blob).decode()}\n"


# --- kept checkpoints ---------------------------------------------------------------------


@dataclass(frozen=True)
class Kept:
    size: int
    note: str
    issued: str


def keep(store: Store, note: str, size: int, key: str, at: datetime | None = None) -> None:
    """Store a checkpoint `key` (a key hash, hex) signed: one per tree size and key (the
    same key signs the same text for the same tree: Ed25519 is deterministic)."""
    node = f"<{GRAPH}:{key}:{size}>"
    stamp = nt.datetime_lit(at or datetime.now(UTC))
    store.update(
        f"INSERT {{ GRAPH <{GRAPH}> {{ {node} <{NOTE}> {nt.lit(note)} ; "
        f"<{SIZE}> {nt.integer(size)} ; <{KEY}> {nt.lit(key)} ; <{ISSUED}> {stamp} }} }} "
        f"WHERE {{ FILTER NOT EXISTS {{ GRAPH <{GRAPH}> {{ {node} <{NOTE}> ?n }} }} }}"
    )


def kept(
    store: Store, *, size: int | None = None, key: str | None = None, limit: int | None = None
) -> Iterator[Kept]:
    """Kept checkpoints, newest (largest) first; `size`: of that size only; `key`: signed by
    that key (its hash, hex) only."""
    where = f"FILTER(?s = {nt.integer(size)})" if size is not None else ""
    signed = f"<{KEY}> {nt.lit(key)} ;" if key is not None else ""
    tail = f"LIMIT {int(limit)}" if limit is not None else ""
    rows = store.query(
        f"SELECT ?s ?n ?t WHERE {{ GRAPH <{GRAPH}> {{ ?c <{SIZE}> ?s ; {signed} <{NOTE}> ?n ; "
        f"<{ISSUED}> ?t {where} }} }} ORDER BY DESC(?s) ?t {tail}"
    )
    for row in rows:  # type: ignore[union-attr]
        yield Kept(int(row["s"].value), row["n"].value, row["t"].value)


def key_path(store: str, setting: str = "") -> Path | None:
    """Where the log's signing key is kept: the `log_key_file` setting, else beside the store
    (`jobtrail-data.log-key`; `./jobtrail-log-key` for a remote store); None for a store in
    memory (a key of the process's own, gone with it)."""
    if setting:
        return Path(setting)
    if store == "memory:":
        return None
    if "://" in store:
        return Path("jobtrail-log-key")
    where = Path(store).resolve()
    return where.parent / f"{where.name}.log-key"


def signer_for(store: str, base_url: str, setting: str = "") -> Signer:
    """The log's key for a store (`key_path`), made on first use and named for `base_url`."""
    path = key_path(store, setting)
    name = origin_of(base_url)
    if path is None:
        return Signer(name, secrets.token_bytes(32))
    return Signer.load(path, name)


def issue(log: Log, signer: Signer) -> Kept:
    """A checkpoint of the tree as committed now, signed and kept; the one kept already when
    this key signed this size."""
    with log.held():  # on a shared store: the head as the lease's holder finds it
        head = log.committed
    store, key = log.store, signer.verifier.key_hash.hex()
    found = next(kept(store, size=head.position, key=key), None)
    if found is None:
        note = signer.sign(Checkpoint(signer.name, head.position, head.root))
        keep(store, note, head.position, key)
        found = next(kept(store, size=head.position, key=key), None)
    assert found is not None
    return found


def latest(store: Store, signer: Signer) -> Kept | None:
    """The newest checkpoint this key signed."""
    return next(kept(store, key=signer.verifier.key_hash.hex(), limit=1), None)
