"""`jobtrail checkpoint` and `jobtrail audit`: sign the log's tree; check proofs offline.

    jobtrail checkpoint [--key]                 issue a signed checkpoint of the store's log
                                                (--key: print only the verifier key)
    jobtrail audit inclusion RECORD --checkpoint C --proof P --key K
    jobtrail audit consistency C1 C2 --proof P --key K

`audit` needs no store and no server: the record (its RDF as the server answered it:
N-Triples, Turtle, RDF/XML, JSON-LD, N-Quads or TriG, by extension), a checkpoint kept
earlier, the proof (the JSON of /log/proof/…) and the verifier key (the text of /log/key,
or a file holding it). Exit 0: proved; 1: the proof fails, and why; 2: a file does not read.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from jobtrail.base.errors import InputError
from jobtrail.ingest import checkpoint, tree
from jobtrail.ingest.checkpoint import Checkpoint, NoteError, Verifier
from jobtrail.ingest.seal import stored_digest

EXIT_OK, EXIT_FAILED = 0, 1

Command = Callable[[argparse.Namespace, dict[str, Any]], int]


def add_commands(command: Callable[..., argparse.ArgumentParser]) -> None:
    """Add `checkpoint` and `audit` to the parser (`command` is cli/main's helper)."""
    p = command(
        "checkpoint",
        cmd_checkpoint,
        "sign a checkpoint of the log's Merkle tree (and print the verifier key)",
        ("store", "base_url", "log_key_file"),
    )
    p.add_argument("--key", action="store_true", help="print only the verifier key")
    p = command(
        "audit",
        cmd_audit,
        "check a proof from the log offline: a record's inclusion, or two checkpoints' consistency",
        (),
    )
    p.add_argument("kind", choices=("inclusion", "consistency"))
    p.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="inclusion: the record (RDF); consistency: the earlier and the later checkpoint",
    )
    p.add_argument("--checkpoint", help="inclusion: the checkpoint to prove the record in")
    p.add_argument("--proof", required=True, help="the proof (JSON from /log/proof/…)")
    p.add_argument("--key", required=True, help="the verifier key, or a file holding it")


def cmd_checkpoint(args: argparse.Namespace, config: dict[str, Any]) -> int:
    from jobtrail.cli import stores
    from jobtrail.ingest.seal import Log

    spec = str(config["store"])
    if not stores.exists(spec):
        raise stores.missing(spec)
    with stores.open_existing(config, reading=False) as store:
        base = stores.minting_base(store, args, config)
        signer = checkpoint.signer_for(spec, base, str(config.get("log_key_file") or ""))
        if args.key:
            print(signer.verifier)
            return EXIT_OK
        log = Log(store)
        try:
            kept = checkpoint.issue(log, signer)
        finally:
            log.close()
    sys.stdout.write(kept.note)
    print(f"verifier key: {signer.verifier}", file=sys.stderr)
    return EXIT_OK


def kept_roots(store: Any, config: dict[str, Any]) -> dict[int, list[bytes]]:
    """The roots the store's kept checkpoints sign, by tree size, for `verify` to compare
    with the tree it recomputes. A checkpoint whose signature the log's key does not check
    is a finding of its own (InputError names it); with no key file at hand, the roots are
    taken as they read."""
    verifier: Verifier | None = None
    where = checkpoint.key_path(str(config["store"]), str(config.get("log_key_file") or ""))
    if where is not None and where.exists():
        verifier = checkpoint.Signer.load(where, "unused").verifier
    roots: dict[int, list[bytes]] = {}
    for kept in checkpoint.kept(store):
        try:
            signed = verifier.open(kept.note) if verifier is not None else None
        except checkpoint.OtherSigner:  # signed by another key (a store loaded from a dump)
            signed = None
        except NoteError as e:
            raise InputError(f"the kept checkpoint of size {kept.size}: {e}") from None
        if signed is None:
            try:
                signed = checkpoint.parse_checkpoint(kept.note.partition("\n\n")[0] + "\n")
            except NoteError as e:
                raise InputError(f"the kept checkpoint of size {kept.size}: {e}") from None
        roots.setdefault(signed.size, []).append(signed.root)
    return roots


def _read(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeError) as e:
        raise InputError(f"cannot read {what} {path}: {e}") from None


def _verifier(given: str) -> Verifier:
    text = given if "+" in given and not Path(given).exists() else _read(given, "the key")
    try:
        return Verifier.parse(text)
    except NoteError as e:
        raise InputError(str(e)) from None


def _hash(value: Any, what: str) -> bytes:
    try:
        h = base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"the proof's {what} is not base64") from None
    if len(h) != 32:
        raise InputError(f"the proof's {what} is not a SHA-256 hash")
    return h


def _proof(path: str) -> dict[str, Any]:
    try:
        data = json.loads(_read(path, "the proof"))
    except ValueError as e:
        raise InputError(f"the proof {path} is not JSON: {e}") from None
    if not isinstance(data, dict):
        raise InputError(f"the proof {path} is not a JSON object")
    return data


def _number(data: dict[str, Any], name: str) -> int:
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InputError(f"the proof has no {name} (a whole number)")
    return value


def _path(data: dict[str, Any], name: str) -> list[bytes]:
    value = data.get(name)
    if not isinstance(value, list):
        raise InputError(f"the proof has no {name} (a list of base64 hashes)")
    return [_hash(h, name) for h in value]


def _opened(verifier: Verifier, path: str) -> Checkpoint:
    try:
        return verifier.open(_read(path, "the checkpoint"))
    except NoteError as e:
        raise _Failed(f"checkpoint {path}: {e}") from None


class _Failed(Exception):
    """What makes a proof fail (exit 1)."""


def record_leaf(path: str) -> bytes:
    """The leaf hash of the record in an RDF file (`tree.py`: its content digest's entry)."""
    try:
        fmt = ox.RdfFormat.from_extension(Path(path).suffix.lstrip(".")) or ox.RdfFormat.N_TRIPLES
    except ValueError:
        fmt = ox.RdfFormat.N_TRIPLES
    try:
        data = Path(path).read_bytes()
        parsed = list(ox.parse(data, format=fmt))
    except (OSError, SyntaxError, ValueError) as e:
        raise InputError(f"the record {path} does not read as {fmt.name}: {e}") from None
    triples = [
        q if isinstance(q, ox.Triple) else ox.Triple(q.subject, q.predicate, q.object)
        for q in parsed
    ]
    return tree.leaf_hash(tree.entry(stored_digest(triples)))


def cmd_audit(args: argparse.Namespace, config: dict[str, Any]) -> int:
    verifier = _verifier(args.key)
    proof = _proof(args.proof)
    try:
        if args.kind == "inclusion":
            said = _inclusion(args, verifier, proof)
        else:
            said = _consistency(args, verifier, proof)
    except _Failed as e:
        print(f"NOT PROVED: {e}", file=sys.stderr)
        return EXIT_FAILED
    print(said)
    return EXIT_OK


def _inclusion(args: argparse.Namespace, verifier: Verifier, proof: dict[str, Any]) -> str:
    if len(args.files) != 1 or not args.checkpoint:
        raise InputError("audit inclusion RECORD --checkpoint C --proof P --key K")
    signed = _opened(verifier, args.checkpoint)
    leaf = record_leaf(args.files[0])
    index, size = _number(proof, "leafIndex"), _number(proof, "treeSize")
    if size != signed.size:
        raise _Failed(
            f"the proof is for a tree of {size} records, the checkpoint signs {signed.size}"
        )
    if "leafHash" in proof and _hash(proof["leafHash"], "leafHash") != leaf:
        raise _Failed("the record file is not the record the proof is for (its leaf differs)")
    if not tree.verify_inclusion(leaf, index, size, _path(proof, "inclusionPath"), signed.root):
        raise _Failed(
            f"this record is not leaf {index} of the tree the checkpoint signs "
            "(the record was changed, or the log was)"
        )
    return (
        f"proved: the record is leaf {index} of {signed.origin}'s log of {size:,} records, "
        f"as the checkpoint signed by {verifier.name} says"
    )


def _consistency(args: argparse.Namespace, verifier: Verifier, proof: dict[str, Any]) -> str:
    if len(args.files) != 2:
        raise InputError("audit consistency EARLIER LATER --proof P --key K")
    first, second = (_opened(verifier, f) for f in args.files)
    if first.origin != second.origin:
        raise _Failed(f"the checkpoints are of two logs: {first.origin} and {second.origin}")
    if second.size < first.size:
        raise _Failed(
            f"the later checkpoint signs {second.size:,} records, the earlier {first.size:,}: "
            "a log only grows (records were dropped)"
        )
    if (_number(proof, "from"), _number(proof, "to")) != (first.size, second.size):
        raise _Failed(
            f"the proof is from {proof.get('from')} to {proof.get('to')}, the checkpoints sign "
            f"{first.size} and {second.size}"
        )
    path = _path(proof, "consistencyPath")
    if not tree.verify_consistency(first.size, second.size, first.root, second.root, path):
        raise _Failed(
            f"the log of {second.size:,} records does not extend the one of {first.size:,}: "
            "records the earlier checkpoint signed were changed, dropped or reordered"
        )
    return (
        f"proved: {first.origin}'s log of {second.size:,} records extends the one of "
        f"{first.size:,} the earlier checkpoint signed, without rewriting it"
    )
