"""The verifiable log (issue 23) against a real server and the CLI, as an auditor uses it.

An auditor keeps a checkpoint (the tree's size and root, signed) and the server's verifier
key; later they ask for proofs and check them with `jobtrail audit`, with no store and no
server. The proofs are also checked here by a second implementation of RFC 9162's
verification written from the RFC's text (`rfc_*` below), and the tree's roots by pymerkle,
so that jobtrail's own `ingest/tree.py` is not the only judge of itself. Then the operator
turns bad: a record edited, a record dropped, the log rebuilt from another history, each
time re-sealed and re-signed with the same key; the auditor holding only the earlier
checkpoint finds each.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pyoxigraph as ox
import pytest
from jobtrail.ingest import checkpoint
from jobtrail.ingest.seal import (
    ORIGINAL_BASE64,
    ORIGINAL_TEXT,
    SHA256,
    Log,
    stored_digest,
    unsealed,
)
from jobtrail.store import ResourceGraph, open_store
from pymerkle import InmemoryTree

from tests.conftest import ADMIN_TOKEN, PRODUCER, free_port, jobtrail_server
from tests.security.test_producers import tre

JT = "https://w3id.org/jobtrail/vocab#"
JOBTRAIL = [sys.executable, "-m", "jobtrail.cli"]
RECORDS = f"SELECT ?m ?n WHERE {{ GRAPH ?m {{ ?m <{JT}logPosition> ?n }} }} ORDER BY ?n"


# --- RFC 9162 §2.1.3.2 and §2.1.4.2, written here from the RFC's text ------------------------


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def rfc_inclusion(leaf: bytes, index: int, size: int, path: list[bytes], root: bytes) -> bool:
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            r = _h(b"\x01" + p + r)
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn // 2, sn // 2
        else:
            r = _h(b"\x01" + r + p)
        fn, sn = fn // 2, sn // 2
    return sn == 0 and r == root


def rfc_consistency(m: int, n: int, first: bytes, second: bytes, path: list[bytes]) -> bool:
    if m == n:
        return first == second and not path
    if not path:
        return False
    if m & (m - 1) == 0:  # an exact power of 2
        path = [first, *path]
    fn, sn = m - 1, n - 1
    while fn % 2 == 1:
        fn, sn = fn // 2, sn // 2
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            fr, sr = _h(b"\x01" + c + fr), _h(b"\x01" + c + sr)
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn // 2, sn // 2
        else:
            sr = _h(b"\x01" + sr + c)
        fn, sn = fn // 2, sn // 2
    return sn == 0 and fr == first and sr == second


# --- the server, and the auditor's files ------------------------------------------------------


@dataclass
class Served:
    base: str
    data: Path
    client: httpx.Client
    work: Path

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.client.get(path, **kw)

    def keep(self, name: str, text: str) -> Path:
        """A file the auditor keeps."""
        where = self.work / name
        where.write_text(text, encoding="utf-8")
        return where


def serve(data: Path, work: Path, port: int | None = None) -> Iterator[Served]:
    """A real server over `data` (the examples loaded first); again on the same `port` later."""
    env = {"JOBTRAIL_CHECKPOINT_EVERY": "0.3", "JOBTRAIL_ADMIN_TOKEN": ADMIN_TOKEN}
    with (
        jobtrail_server(data, env=env, port=port or free_port()) as base,
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        yield Served(base, data, client, work)


def port_of(s: Served) -> int:
    return int(s.base.rstrip("/").rsplit(":", 1)[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("log")
    yield from serve(root / "data", root)


def audit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*JOBTRAIL, "audit", *map(str, args)], capture_output=True, text=True)


def records(s: Served) -> list[str]:
    r = s.get("/sparql", params={"query": RECORDS}, headers={"Accept": "application/json"})
    assert r.status_code == 200, r.text
    return [b["m"]["value"] for b in r.json()["results"]["bindings"]]


def path_of(s: Served, iri: str) -> str:
    return "/" + iri.removeprefix(s.base)


def record_file(s: Served, iri: str, name: str, accept: str = "application/n-triples") -> Path:
    r = s.get(path_of(s, iri), headers={"Accept": accept})
    assert r.status_code == 200, r.text
    return s.keep(name, r.text)


def entry_of(s: Served, iri: str) -> bytes:
    """A record's leaf entry computed from what the server answers for it (its N-Triples)."""
    r = s.get(path_of(s, iri), headers={"Accept": "application/n-triples"})
    triples = list(ox.parse(r.content, format=ox.RdfFormat.N_TRIPLES))
    return bytes.fromhex(stored_digest(triples))  # type: ignore[arg-type]


def b64(text: str) -> bytes:
    return base64.b64decode(text)


def post_messages(s: Served, first: int, count: int) -> None:
    for n in range(first, first + count):
        r = s.client.post("/messages", content=tre("01-tdr-export.json", n), headers=PRODUCER)
        assert r.status_code in (200, 201), r.text


def key_file(s: Served) -> Path:
    r = s.get("/log/key")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return s.keep("key.txt", r.text)


def issue(s: Served) -> str:
    r = s.client.post("/log/checkpoint", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert r.status_code == 201, r.text
    return r.text


# --- the honest log ---------------------------------------------------------------------------


def test_a_checkpoint_is_a_signed_note_the_published_key_checks(served: Served) -> None:
    key = served.get("/log/key").text
    assert served.get("/.well-known/jobtrail-log-key").text == key
    note = served.get("/log/checkpoint").text
    body, _, signature = note.partition("\n\n")
    origin, size, root = body.split("\n")
    assert origin == served.base.removeprefix("http://").rstrip("/")
    assert signature.startswith(f"\u2014 {origin} ") and signature.endswith("\n")
    # the signature, checked by hand from the signed-note spec: Ed25519 over the text
    name, key_hash, data = key.strip().split("+", 2)
    public = b64(data)
    assert public[0] == 1 and name == origin
    assert hashlib.sha256(name.encode() + b"\n" + public).digest()[:4].hex() == key_hash
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    blob = b64(signature.split(" ")[2])
    assert blob[:4].hex() == key_hash
    Ed25519PublicKey.from_public_bytes(public[1:]).verify(blob[4:], (body + "\n").encode())
    # the size is the number of sealed records, the root pymerkle's over their entries
    held = records(served)
    assert int(size) == len(held) > 0
    independent = InmemoryTree(algorithm="sha256")
    for iri in held:
        independent.append_entry(entry_of(served, iri))
    assert independent.get_root(int(size)) == b64(root)


def test_every_record_says_its_leaf_and_its_inclusion_proof_checks(served: Served) -> None:
    held = records(served)
    note = served.get("/log/checkpoint").text
    signed = checkpoint.parse_checkpoint(note.partition("\n\n")[0] + "\n")
    for index, iri in enumerate(held):
        r = served.get("/log/proof/inclusion", params={"record": iri})
        assert r.status_code == 200, r.text
        proof = r.json()
        assert proof["leafIndex"] == index and proof["treeSize"] == signed.size
        leaf = _h(b"\x00" + entry_of(served, iri))
        assert b64(proof["leafHash"]) == leaf
        path = [b64(h) for h in proof["inclusionPath"]]
        assert rfc_inclusion(leaf, index, signed.size, path, signed.root), iri
    # the leaf index is in the record's RDF and on its page
    turtle = served.get(path_of(served, held[3]), headers={"Accept": "text/turtle"}).text
    assert "leafIndex" in turtle and " 3 " in turtle.split("leafIndex", 1)[1][:12]
    page = served.get(path_of(served, held[3]), headers={"Accept": "text/html"}).text
    assert "leaf index" in page


def test_an_auditor_proves_a_record_offline_from_its_file_in_any_rdf_syntax(
    served: Served,
) -> None:
    iri = records(served)[5]
    kept = served.keep("c.txt", served.get("/log/checkpoint").text)
    key = key_file(served)
    proof = served.keep("p.json", served.get("/log/proof/inclusion", params={"record": iri}).text)
    for accept, ext in (
        ("application/n-triples", "nt"),
        ("text/turtle", "ttl"),
        ("application/rdf+xml", "rdf"),
    ):
        record = record_file(served, iri, f"record.{ext}", accept)
        done = audit("inclusion", record, "--checkpoint", kept, "--proof", proof, "--key", key)
        assert done.returncode == 0, done.stderr
        assert "proved" in done.stdout and "leaf 5" in done.stdout
    # the verifier key given as text instead of a file
    text_key = key.read_text()
    done = audit("inclusion", record, "--checkpoint", kept, "--proof", proof, "--key", text_key)
    assert done.returncode == 0, done.stderr
    # one triple changed in the record file: not proved, and said why
    text = (served.work / "record.nt").read_text().splitlines()
    edited = [line for line in text if "leafIndex" not in line and "tree" not in line]
    edited[0] = edited[0].replace("http", "https", 1)
    forged = served.keep("forged.nt", "\n".join(edited) + "\n")
    done = audit("inclusion", forged, "--checkpoint", kept, "--proof", proof, "--key", key)
    assert done.returncode == 1 and "not the record the proof is for" in done.stderr
    # a checkpoint whose size was changed no longer verifies under the key
    lines = kept.read_text().split("\n")
    lines[1] = str(int(lines[1]) + 1)
    bent = served.keep("bent.txt", "\n".join(lines))
    done = audit("inclusion", record, "--checkpoint", bent, "--proof", proof, "--key", key)
    assert done.returncode == 1 and "does not verify" in done.stderr


def test_the_log_grows_and_each_later_checkpoint_is_proved_to_extend_the_earlier(
    served: Served,
) -> None:
    key = key_file(served)
    first = served.keep("first.txt", issue(served))
    m = checkpoint.Verifier.parse(key.read_text()).open(first.read_text()).size
    post_messages(served, 100, 5)
    # the schedule issues one (every 0.3 s here) once the tree has grown
    deadline, newest = time.monotonic() + 30, m
    while newest <= m and time.monotonic() < deadline:
        listed = served.get("/log/checkpoints", headers={"Accept": "application/json"}).json()
        newest = listed[0]["treeSize"]
        time.sleep(0.1)
    assert newest == m + 5, "no checkpoint was issued on the schedule after the log grew"
    second = served.keep("second.txt", served.get(f"/log/checkpoints/{newest}").text)
    for a, b in ((m, newest), (1, newest), (m - 1, m), (m, m)):
        r = served.get("/log/proof/consistency", params={"from": a, "to": b})
        assert r.status_code == 200, r.text
        proof = r.json()
        roots = b64(proof["fromRoot"]), b64(proof["toRoot"])
        path = [b64(h) for h in proof["consistencyPath"]]
        assert rfc_consistency(a, b, *roots, path), (a, b)
    proof = served.keep("cp.json", served.get("/log/proof/consistency", params={"from": m}).text)
    done = audit("consistency", first, second, "--proof", proof, "--key", key)
    assert done.returncode == 0, done.stderr
    assert f"{newest:,} records extends the one of {m:,}" in done.stdout
    # the checkpoints given the wrong way round: not proved
    done = audit("consistency", second, first, "--proof", proof, "--key", key)
    assert done.returncode == 1


def test_proofs_and_checkpoints_refuse_bad_input_naming_it(served: Served) -> None:
    size = len(records(served))
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        ("/log/proof/inclusion", {}, 400, "record= is required"),
        ("/log/proof/inclusion", {"record": "not an iri"}, 400, "not an IRI or a SHA-256"),
        ("/log/proof/inclusion", {"record": "0" * 64}, 404, "no sealed record"),
        ("/log/proof/inclusion", {"record": f"{served.base}messages/nothing"}, 404, "no sealed"),
        ("/log/proof/inclusion", {"record": records(served)[0], "size": "x"}, 400, "size"),
        ("/log/proof/inclusion", {"record": records(served)[9], "size": 3}, 400, "leaf 9"),
        ("/log/proof/inclusion", {"record": records(served)[0], "size": size + 99}, 400, "fewer"),
        ("/log/proof/consistency", {}, 400, "from= is required"),
        ("/log/proof/consistency", {"from": 5, "to": 2}, 400, "only grows"),
        ("/log/proof/consistency", {"from": 1, "to": size + 99}, 400, "fewer"),
        ("/log/proof/consistency", {"from": "-1"}, 400, "from"),
        ("/log/checkpoints/abc", {}, 400, "whole number"),
        ("/log/checkpoints/999999", {}, 404, "no checkpoint"),
    ]
    for path, params, status, says in cases:
        r = served.get(path, params=params)
        assert r.status_code == status and says in r.text, (path, params, r.status_code, r.text)
    assert served.client.post("/log/checkpoint").status_code == 401
    bad = {"Authorization": "Bearer wrong"}
    assert served.client.post("/log/checkpoint", headers=bad).status_code == 403


def test_a_record_found_by_the_sha256_of_its_bytes(served: Served) -> None:
    iri = records(served)[2]
    r = served.get("/log/proof/inclusion", params={"record": iri.rsplit("/", 1)[1]})
    assert r.status_code == 200 and r.json()["record"] == iri, r.text


# --- the operator turns bad: an auditor with an earlier checkpoint finds out ------------------


def _graph(store: Any, iri: str) -> ResourceGraph:
    triples = [(str(t.subject), str(t.predicate), str(t.object)) for t in store.read(iri)]
    return ResourceGraph(iri, triples)


def rewrite(
    data: Path, change: Callable[[list[ResourceGraph]], list[ResourceGraph]], hide: bool = True
) -> None:
    """What a dishonest operator with the store and the key does: take the records out, change
    the history, seal it all again from the start (a new chain, a new tree) and sign it."""
    with open_store(str(data)) as store:
        rows = store.query(RECORDS)
        held = [_graph(store, row["m"].value) for row in rows]  # type: ignore[union-attr]
        for record in held:
            store.delete(record.iri)
        if hide:  # the old checkpoints hidden too
            store.update(f"DROP SILENT GRAPH <{checkpoint.GRAPH}>")
        log = Log(store)
        assert log.position == 0
        for record in change([unsealed(r) for r in held]):
            with log.sealing([record]):
                store.add([record])
        signer = checkpoint.Signer.load(data.parent / f"{data.name}.log-key", "unused")
        checkpoint.issue(log, signer)


def _edit(records: list[ResourceGraph]) -> list[ResourceGraph]:
    target = records[4]
    # a statement about the message, not its original bytes nor the SHA-256 naming them: an edit
    # of those `verify` finds by itself, with no checkpoint
    kept = {f"<{term}>" for term in (ORIGINAL_TEXT, ORIGINAL_BASE64, SHA256)}
    s, p, o = min(
        t for t in target.triples if t[2].startswith('"') and "\\n" not in t[2] and t[1] not in kept
    )
    target.triples.remove((s, p, o))
    target.triples.append((s, p, '"rewritten"'))
    return records


def _drop(records: list[ResourceGraph]) -> list[ResourceGraph]:
    return records[:4] + records[5:]


def _fork(records: list[ResourceGraph]) -> list[ResourceGraph]:
    return [records[1], records[0], *records[2:]]


@pytest.mark.parametrize("attack", [_edit, _drop, _fork], ids=["edited", "dropped", "forked"])
def test_a_rewritten_history_is_found_by_an_auditor_holding_an_earlier_checkpoint(
    tmp_path: Path, attack: Callable[[list[ResourceGraph]], list[ResourceGraph]]
) -> None:
    data = tmp_path / "data"
    honest = serve(data, tmp_path)
    s = next(honest)
    key = key_file(s)
    earlier = s.keep("earlier.txt", issue(s))
    m = checkpoint.Verifier.parse(key.read_text()).open(earlier.read_text()).size
    victim = records(s)[4]
    kept_record = record_file(s, victim, "victim.nt")
    kept_proof = s.keep(
        "victim.json", s.get("/log/proof/inclusion", params={"record": victim}).text
    )
    honest.close()  # the server stops; the operator rewrites the store and re-signs
    rewrite(data, attack)
    with open_store(str(data)) as store:  # the rewritten log is whole in itself: verify is clean
        from jobtrail.ingest.seal import verify

        assert list(verify(store)) == []
    again = serve(data, tmp_path, port_of(s))
    s = next(again)
    try:
        post_messages(s, 200, 3)  # the log goes on growing past the size the auditor holds
        later = s.keep("later.txt", issue(s))
        n = checkpoint.Verifier.parse(key.read_text()).open(later.read_text()).size
        proof = s.get("/log/proof/consistency", params={"from": m, "to": n})
        assert proof.status_code == 200, proof.text
        given = s.keep("consistency.json", proof.text)
        done = audit("consistency", earlier, later, "--proof", given, "--key", key)
        assert done.returncode == 1, done.stdout
        assert "does not extend" in done.stderr
        # and by the RFC's own verification: no proof the server could give would do
        data_ = proof.json()
        path = [b64(h) for h in data_["consistencyPath"]]
        first = checkpoint.Verifier.parse(key.read_text()).open(earlier.read_text()).root
        second = checkpoint.Verifier.parse(key.read_text()).open(later.read_text()).root
        assert not rfc_consistency(m, n, first, second, path)
        # the record the auditor kept, with the proof they got then, still proves against the
        # earlier checkpoint: what they hold stays evidence of what the log held
        done = audit(
            "inclusion", kept_record, "--checkpoint", earlier, "--proof", kept_proof, "--key", key
        )
        assert done.returncode == 0, done.stderr
    finally:
        again.close()


def test_a_triple_edited_behind_the_logs_back_fails_its_proof_and_verify(tmp_path: Path) -> None:
    data = tmp_path / "data"
    honest = serve(data, tmp_path)
    s = next(honest)
    key = key_file(s)
    earlier = s.keep("earlier.txt", issue(s))
    victim = records(s)[2]
    honest.close()
    with open_store(str(data)) as store:
        store.update(f'INSERT DATA {{ GRAPH <{victim}> {{ <{victim}> <{JT}note> "slipped in" }} }}')
    done = subprocess.run(
        [*JOBTRAIL, "verify", "--store", str(data)], capture_output=True, text=True
    )
    assert done.returncode == 1 and victim in done.stderr
    again = serve(data, tmp_path, port_of(s))
    s = next(again)
    try:
        record = record_file(s, victim, "now.nt")
        size = checkpoint.Verifier.parse(key.read_text()).open(earlier.read_text()).size
        proof = s.keep(
            "p.json", s.get("/log/proof/inclusion", params={"record": victim, "size": size}).text
        )
        done = audit("inclusion", record, "--checkpoint", earlier, "--proof", proof, "--key", key)
        assert done.returncode == 1, done.stdout
    finally:
        again.close()


def test_the_cli_signs_a_checkpoint_and_prints_the_key(tmp_path: Path) -> None:
    data = tmp_path / "data"
    examples = Path(__file__).parents[3] / "examples"
    subprocess.run([*JOBTRAIL, "load", examples, "--store", data, "--silent"], check=True)
    done = subprocess.run(
        [*JOBTRAIL, "checkpoint", "--store", str(data)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    key = subprocess.run(
        [*JOBTRAIL, "checkpoint", "--store", str(data), "--key"], capture_output=True, text=True
    ).stdout.strip()
    assert done.stderr.strip().endswith(key)
    assert (tmp_path / "data.log-key").stat().st_mode & 0o777 == 0o600
    opened = checkpoint.Verifier.parse(key).open(done.stdout)
    with open_store(str(data)) as store:
        assert opened.size == len(list(store.query(RECORDS)))  # type: ignore[arg-type]


def test_verify_finds_a_rewritten_tree_that_a_kept_checkpoint_contradicts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    examples = Path(__file__).parents[3] / "examples"
    subprocess.run([*JOBTRAIL, "load", examples, "--store", data, "--silent"], check=True)
    subprocess.run([*JOBTRAIL, "checkpoint", "--store", data], check=True, capture_output=True)
    done = subprocess.run([*JOBTRAIL, "verify", "--store", data], capture_output=True, text=True)
    assert done.returncode == 0 and "every kept checkpoint (1)" in done.stdout, (
        done.stdout + done.stderr
    )
    rewrite(data, _fork, hide=False)
    done = subprocess.run([*JOBTRAIL, "verify", "--store", data], capture_output=True, text=True)
    assert done.returncode == 1 and "not the one a kept checkpoint signed" in done.stderr


def test_a_store_loaded_from_a_dump_signs_with_its_own_key(tmp_path: Path) -> None:
    """The dump carries the old store's checkpoints; the new store's key signs its own, and
    `verify` takes the old ones' roots without calling them forged."""
    old, new, dump = tmp_path / "old", tmp_path / "new", tmp_path / "dump.nq"
    examples = Path(__file__).parents[3] / "examples"
    subprocess.run([*JOBTRAIL, "load", examples, "--store", old, "--silent"], check=True)
    subprocess.run([*JOBTRAIL, "checkpoint", "--store", old], check=True, capture_output=True)
    subprocess.run([*JOBTRAIL, "export", "--store", old, "-o", dump], check=True)
    subprocess.run([*JOBTRAIL, "load", dump, "--store", new, "--silent"], check=True)
    signed = subprocess.run(
        [*JOBTRAIL, "checkpoint", "--store", new], capture_output=True, text=True, check=True
    )
    key = signed.stderr.strip().rsplit(" ", 1)[1]
    old_key = subprocess.run(
        [*JOBTRAIL, "checkpoint", "--store", old, "--key"], capture_output=True, text=True
    ).stdout.strip()
    assert key != old_key
    assert checkpoint.Verifier.parse(key).open(signed.stdout).size == 31
    done = subprocess.run([*JOBTRAIL, "verify", "--store", new], capture_output=True, text=True)
    assert done.returncode == 0 and "every kept checkpoint (2)" in done.stdout, done.stderr
