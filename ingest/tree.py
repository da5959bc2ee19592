"""The Merkle tree over the seal log (RFC 9162 §2.1): one leaf per sealed record, in log order.

The seal log (`seal.py`) chains every record to the one before it; the tree over the same
records lets someone who holds only a small signed statement of the log (a checkpoint:
`checkpoint.py`) check in O(log n) that a record is in it (an inclusion proof) and that a
later log extends an earlier one without rewriting it (a consistency proof).

Hashing is RFC 9162's: a leaf is `SHA-256(0x00 || entry)`, a node `SHA-256(0x01 || left ||
right)`, the empty tree `SHA-256("")`. A record's **entry** is the 32 bytes of its content
digest: the SHA-256 of its canonical form (`seal.py`: one line per triple, the record's
triples as a set, seal excluded, sorted), the digest its seal chains. Leaf `i` is the record
sealed at log position `i + 1`.

Where the tree lives: every node of a complete (perfect, aligned) subtree is stored once,
as one triple `<urn:jobtrail:tree:{level}:{index}> <urn:jobtrail:tree#hash> "{hex}"` in the
graph of the record whose append completed it (its leaf and, on average, one node above),
so a record and its part of the tree are written in one transaction, by every writer, on
every engine. Any other subtree hash (the right edge of a tree whose size is not a power of
two) is computed from the stored ones: a proof reads O(log n) stored nodes in one query.
The record's graph also says its leaf index (`jt:leafIndex`). None of these triples is part
of the record's canonical form.

The writer keeps the tree's **frontier** (the hashes of the perfect subtrees the tree is
made of, largest first: one per bit set in its size) in memory, so an append costs a few
hashes and no read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

from jobtrail.base import nt
from jobtrail.base.terms import JT
from jobtrail.store import Store, Triple

GRAPH = "urn:jobtrail:tree"
HASH = f"{GRAPH}#hash"
LEAF_INDEX = f"{JT}leafIndex"
TERMS = frozenset({HASH, LEAF_INDEX})
"""The predicates of the tree's triples in a record's graph (never part of its content)."""
EMPTY = hashlib.sha256(b"").digest()

Key = tuple[int, int]
"""A stored node (level, index): the perfect subtree over leaves [i·2^level, (i+1)·2^level)."""
Frontier = tuple[bytes, ...]


class ProofError(ValueError):
    """A proof the tree cannot give (a size past the tree, an index past the size)."""


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def entry(content_digest: str) -> bytes:
    """A record's leaf entry: its content digest's 32 bytes."""
    return bytes.fromhex(content_digest)


def node_iri(key: Key) -> str:
    return f"{GRAPH}:{key[0]}:{key[1]}"


def key_of(iri: str) -> Key | None:
    parts = iri.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != GRAPH:
        return None
    try:
        return int(parts[1]), int(parts[2])
    except ValueError:
        return None


def append(frontier: Frontier, size: int, leaf: bytes) -> tuple[Frontier, list[tuple[Key, bytes]]]:
    """Add leaf number `size` to a tree of `size` leaves: the new frontier, and the nodes the
    append completed (the leaf first, then each level it closed)."""
    stack, h, level = list(frontier), leaf, 0
    completed: list[tuple[Key, bytes]] = [((0, size), leaf)]
    while (size >> level) & 1:
        h = node_hash(stack.pop(), h)
        level += 1
        completed.append(((level, size >> level), h))
    stack.append(h)
    return tuple(stack), completed


def root_of(frontier: Frontier) -> bytes:
    if not frontier:
        return EMPTY
    h = frontier[-1]
    for left in reversed(frontier[:-1]):
        h = node_hash(left, h)
    return h


def frontier_keys(size: int) -> list[Key]:
    """The stored nodes a tree of `size` leaves is made of, largest first."""
    keys, start = [], 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            keys.append((level, start >> level))
            start += 1 << level
    return keys


def triples(record: str, position: int, completed: Iterable[tuple[Key, bytes]]) -> list[Triple]:
    """What a record's graph holds of the tree: its leaf index and the nodes it completed."""
    out = [(nt.iri(record), nt.iri(LEAF_INDEX), nt.integer(position - 1))]
    out += [(nt.iri(node_iri(k)), nt.iri(HASH), nt.lit(h.hex())) for k, h in completed]
    return out


# --- proofs (RFC 9162 §2.1.3.1, §2.1.4.1) -------------------------------------------------


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _perfect(a: int, b: int) -> list[Key]:
    """The stored nodes MTH(D[a:b]) is made of, when `a` starts a subtree of the RFC's
    recursion: the binary decomposition of b - a, largest first."""
    keys, start = [], a
    for level in range((b - a).bit_length() - 1, -1, -1):
        if (b - a) >> level & 1:
            keys.append((level, start >> level))
            start += 1 << level
    return keys


def _mth(a: int, b: int, nodes: Mapping[Key, bytes]) -> bytes:
    return root_of(tuple(nodes[k] for k in _perfect(a, b)))


def _inclusion_ranges(m: int, a: int, b: int) -> list[tuple[int, int]]:
    """The ranges whose hashes make leaf `m`'s audit path in D[a:b], leaf to root."""
    if b - a <= 1:
        return []
    k = _split(b - a)
    if m < a + k:
        return [*_inclusion_ranges(m, a, a + k), (a + k, b)]
    return [*_inclusion_ranges(m, a + k, b), (a, a + k)]


def _consistency_ranges(m: int, a: int, b: int, whole: bool) -> list[tuple[int, int]]:
    n = b - a
    if m == n:
        return [] if whole else [(a, b)]
    k = _split(n)
    if m <= k:
        return [*_consistency_ranges(m, a, a + k, whole), (a + k, b)]
    return [*_consistency_ranges(m - k, a + k, b, False), (a, a + k)]


Fetch = Callable[[Sequence[Key]], Mapping[Key, bytes]]


def _hashes(ranges: Sequence[tuple[int, int]], fetch: Fetch) -> list[bytes]:
    keys = list(dict.fromkeys(k for a, b in ranges for k in _perfect(a, b)))
    nodes = fetch(keys)
    missing = [k for k in keys if k not in nodes]
    if missing:
        raise ProofError(f"the tree has no node {missing[0]}: run `jobtrail reindex`")
    return [_mth(a, b, nodes) for a, b in ranges]


def inclusion_path(index: int, size: int, fetch: Fetch) -> list[bytes]:
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size}")
    return _hashes(_inclusion_ranges(index, 0, size), fetch)


def consistency_path(first: int, second: int, fetch: Fetch) -> list[bytes]:
    if not 0 <= first <= second:
        raise ProofError(f"a tree of {first} cannot be proved part of one of {second}")
    if first == 0 or first == second:
        return []
    return _hashes(_consistency_ranges(first, 0, second, True), fetch)


def root_at(size: int, fetch: Fetch) -> bytes:
    if size == 0:
        return EMPTY
    return _hashes([(0, size)], fetch)[0]


# --- verification (RFC 9162 §2.1.3.2, §2.1.4.2): no store needed --------------------------


def verify_inclusion(
    leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> bool:
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, path: Sequence[bytes]
) -> bool:
    if not 0 <= first <= second:
        return False
    if first == second:
        return not path and first_root == second_root
    if first == 0:
        return not path and first_root == EMPTY
    if not path:
        return False
    proof = list(path)
    if first & (first - 1) == 0:
        proof.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_root and sr == second_root and sn == 0


# --- the stored nodes -------------------------------------------------------------------


def fetcher(store: Store) -> Fetch:
    """Read stored nodes in one query."""

    def fetch(keys: Sequence[Key]) -> dict[Key, bytes]:
        if not keys:
            return {}
        values = " ".join(f"<{node_iri(k)}>" for k in keys)
        rows = store.query(f"SELECT ?n ?h WHERE {{ VALUES ?n {{ {values} }} ?n <{HASH}> ?h }}")
        out: dict[Key, bytes] = {}
        for row in rows:  # type: ignore[union-attr]
            key = key_of(row["n"].value)
            if key is not None:
                out[key] = bytes.fromhex(row["h"].value)
        return out

    return fetch


def stored_frontier(store: Store, size: int) -> Frontier | None:
    """The frontier of the stored tree at `size` leaves; None when a node is missing (a
    store sealed by a release before the tree: `jobtrail reindex` builds it)."""
    keys = frontier_keys(size)
    nodes = fetcher(store)(keys)
    if any(k not in nodes for k in keys):
        return None
    return tuple(nodes[k] for k in keys)


def stored_nodes(triples: Iterable[object]) -> dict[Key, bytes]:
    """The tree's nodes among a record graph's triples (pyoxigraph triples)."""
    out: dict[Key, bytes] = {}
    for t in triples:
        if getattr(t, "predicate", None) is None or t.predicate.value != HASH:  # type: ignore[attr-defined]
            continue
        key = key_of(t.subject.value)  # type: ignore[attr-defined]
        if key is not None:
            try:
                out[key] = bytes.fromhex(t.object.value)  # type: ignore[attr-defined]
            except ValueError:
                continue
    return out
