"""The verifiable log (RFC 9162 proofs over the seal log's Merkle tree, C2SP checkpoints).

    GET  /log                           the log: origin, size, newest checkpoint, key, links
                                        (JSON; HTML by negotiation)
    GET  /log/checkpoint                the newest checkpoint: a C2SP signed note (text/plain)
    POST /log/checkpoint                issue one now (admin token) → 201, Location
    GET  /log/checkpoints               every kept checkpoint, newest first (JSON, HTML)
    GET  /log/checkpoints/{size}        one kept checkpoint (text/plain)
    GET  /log/key                       the verifier key (text/plain); also at
                                        /.well-known/jobtrail-log-key
    GET  /log/proof/inclusion?record=…&size=…   a record's audit path (JSON)
    GET  /log/proof/consistency?from=…&to=…     that a tree extends an earlier one (JSON)

Hashes in proofs are base64, as in checkpoints. `size` defaults to the newest checkpoint's
(one is issued when none covers the record), `to` likewise. A proof about a record is for
whom may read the record (the visibility policy); a checkpoint, the key and a consistency
proof are hashes and sizes only: anyone's.
"""

from __future__ import annotations

import base64
import json
import re
from html import escape
from typing import Any

import pyoxigraph as ox
from jobtrail.base import nt
from jobtrail.base.errors import InputError, NotFound
from jobtrail.base.terms import JT
from jobtrail.bindings.log.runtime import Checkpoints, checkpoints_of
from jobtrail.ingest import checkpoint, tree
from jobtrail.web import conneg, html
from jobtrail.web.requests import authorise, int_param, viewer_of
from jobtrail.web.state import AppRequest
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

JSON = conneg.Format("json", "application/json", ".json", (), "JSON")
TEXT = "text/plain; charset=utf-8"
_SHA256 = re.compile(r"^(?:sha256:)?([0-9a-fA-F]{64})$")
_MOST = 2**62


def _b64(h: bytes) -> str:
    return base64.b64encode(h).decode()


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(data, indent=2, ensure_ascii=False).encode()
    return Response(body, status, headers=headers, media_type="application/json")


def _checkpoint_url(request: AppRequest, size: int) -> str:
    return f"{request.state['engine'].config.base_url}log/checkpoints/{size}"


async def overview(request: AppRequest) -> Response:
    """What the log is: its origin, its size, the newest checkpoint, the key, where to ask."""
    runtime = checkpoints_of(request)
    latest = await run_in_threadpool(runtime.latest)
    base = request.state["engine"].config.base_url
    data = {
        "origin": runtime.signer.name,
        "treeSize": latest.size,
        "checkpoint": latest.note,
        "checkpointIssued": latest.issued,
        "verifierKey": str(runtime.signer.verifier),
        "links": {
            "checkpoint": f"{base}log/checkpoint",
            "checkpoints": f"{base}log/checkpoints",
            "key": f"{base}log/key",
            "inclusion": f"{base}log/proof/inclusion?record={{record}}&size={{size}}",
            "consistency": f"{base}log/proof/consistency?from={{from}}&to={{to}}",
        },
    }
    if conneg.negotiate(request.headers.get("accept"), (JSON, conneg.HTML), JSON) is JSON:
        return _json(data)
    body = (
        "<h1>The log</h1><p>Every sealed record (messages, job changes, hops) is a leaf of one "
        "Merkle tree (RFC 9162). A <b>checkpoint</b> is the tree's size and root hash signed "
        f"with this server's key: keep one, and later ask for proofs against it.</p>"
        f"<table><tr><th>origin</th><td><code>{escape(runtime.signer.name)}</code></td></tr>"
        f"<tr><th>records</th><td>{latest.size:,}</td></tr>"
        f"<tr><th>newest checkpoint</th><td><pre>{escape(latest.note)}</pre>"
        f"issued {escape(latest.issued)}</td></tr>"
        f"<tr><th>verifier key</th><td><code>{escape(str(runtime.signer.verifier))}</code></td>"
        "</tr></table><ul>"
        f"<li>{html.link('/log/checkpoint', 'the newest checkpoint')} (a signed note)</li>"
        f"<li>{html.link('/log/checkpoints', 'every checkpoint kept')}</li>"
        f"<li>{html.link('/log/key', 'the verifier key')}</li></ul>"
        "<p>Proofs: <code>/log/proof/inclusion?record=MESSAGE-IRI-OR-SHA256</code> and "
        "<code>/log/proof/consistency?from=M&amp;to=N</code>; check them with "
        "<code>jobtrail audit</code>, with no store and no server.</p>"
    )
    return Response(html.page("The log", body), media_type="text/html")


async def newest(request: AppRequest) -> Response:
    """The newest checkpoint (GET), or one issued now (POST, the admin token)."""
    runtime = checkpoints_of(request)
    if request.method == "POST":
        authorise(request)
        kept = await run_in_threadpool(runtime.issue)
        url = _checkpoint_url(request, kept.size)
        return Response(kept.note, 201, headers={"Location": url}, media_type=TEXT)
    kept = await run_in_threadpool(runtime.latest)
    return Response(kept.note, media_type=TEXT, headers={"Cache-Control": "no-cache"})


async def kept_list(request: AppRequest) -> Response:
    """Every kept checkpoint, newest first."""
    store = request.state["engine"].store
    limit = int_param(request, "limit", 100, 1, 10_000)
    key = checkpoints_of(request).signer.verifier.key_hash.hex()
    found = await run_in_threadpool(lambda: list(checkpoint.kept(store, key=key, limit=limit)))
    rows = [
        {"treeSize": k.size, "issued": k.issued, "url": _checkpoint_url(request, k.size)}
        for k in found
    ]
    if conneg.negotiate(request.headers.get("accept"), (JSON, conneg.HTML), JSON) is JSON:
        return _json(rows)
    items = "".join(
        f"<tr><td>{html.link(f'/log/checkpoints/{k.size}', f'{k.size:,}')}</td>"
        f"<td>{escape(k.issued)}</td></tr>"
        for k in found
    )
    body = (
        "<h1>Checkpoints</h1><p>Each signs the log's tree at one size; newest first.</p>"
        f"<table><tr><th>records</th><th>issued</th></tr>{items}</table>"
    )
    return Response(html.page("Checkpoints", body), media_type="text/html")


async def one(request: AppRequest) -> Response:
    """One kept checkpoint, by its tree size."""
    raw = request.path_params["size"]
    if not raw.isdigit() or len(raw) > 19:
        raise InputError(f"a checkpoint is named by its tree size, a whole number, not {raw!r}")
    store = request.state["engine"].store
    key = checkpoints_of(request).signer.verifier.key_hash.hex()
    kept = checkpoint.kept(store, size=int(raw), key=key)
    found = await run_in_threadpool(lambda: next(kept, None))
    if found is None:
        raise NotFound(f"no checkpoint of size {raw} is kept", hint="see /log/checkpoints")
    return Response(found.note, media_type=TEXT)


async def key(request: AppRequest) -> Response:
    """The verifier key checkpoints are signed with (C2SP signed-note's `name+hash+key`)."""
    return Response(f"{checkpoints_of(request).signer.verifier}\n", media_type=TEXT)


def _record(request: AppRequest) -> tuple[str, int]:
    """The record named by `record=` (its IRI, or the SHA-256 of its bytes) and its
    position; 400/404 naming the problem, 401/403 when the caller may not read it."""
    engine = request.state["engine"]
    given = (request.query_params.get("record") or "").strip()
    if not given:
        raise InputError("record= is required: a message's IRI or the SHA-256 of its bytes")
    found = _SHA256.match(given)
    if found:
        rows = engine.store.query(
            f"SELECT ?m ?n WHERE {{ GRAPH ?m {{ ?m <{JT}sha256> {nt.lit(found.group(1).lower())} ;"
            f" <{JT}logPosition> ?n }} }} ORDER BY ?n LIMIT 1"
        )
    else:
        try:
            node = ox.NamedNode(given)
        except ValueError:
            raise InputError(f"record= is not an IRI or a SHA-256: {given[:80]!r}") from None
        rows = engine.store.query(
            f"SELECT ?m ?n WHERE {{ GRAPH ?m {{ ?m <{JT}logPosition> ?n }} }} LIMIT 1",
            substitutions={"m": node},
        )
    row = next(iter(rows), None)  # type: ignore[arg-type]
    if row is None:
        raise NotFound(f"no sealed record {given[:200]}", hint="a message's IRI, or sha256")
    iri, position = row["m"].value, int(row["n"].value)
    viewer = viewer_of(request)
    if not engine.visibility.may_read(viewer, iri):
        raise engine.visibility.refuse(viewer, f"record {iri}")
    return iri, position


def _proof_size(runtime: Checkpoints, param: str | None, least: int) -> tuple[int, str | None]:
    if param is None:
        kept = runtime.covering(least)
        return kept.size, kept.note
    return int(param), None


async def inclusion(request: AppRequest) -> Response:
    """The audit path of a record's leaf in the tree of `size` records (RFC 9162 §2.1.3)."""
    runtime = checkpoints_of(request)
    store = request.state["engine"].store
    if request.query_params.get("size") is not None:
        int_param(request, "size", 0, 1, _MOST)
    iri, position = await run_in_threadpool(_record, request)

    def prove() -> dict[str, Any]:
        size, _ = _proof_size(runtime, request.query_params.get("size"), position)
        if position > size:
            raise InputError(
                f"record {iri} is leaf {position - 1}: it is not in a tree of {size}",
                hint=f"ask with size={position} or more, or leave size out",
            )
        fetch = tree.fetcher(store)
        try:
            path = tree.inclusion_path(position - 1, size, fetch)
            root = tree.root_at(size, fetch)
        except tree.ProofError as e:
            raise InputError(f"{e}: the log holds fewer records than {size}") from None
        leaf = fetch([(0, position - 1)])[(0, position - 1)]
        return {
            "record": iri,
            "leafIndex": position - 1,
            "treeSize": size,
            "leafHash": _b64(leaf),
            "inclusionPath": [_b64(h) for h in path],
            "rootHash": _b64(root),
            "checkpoint": _checkpoint_url(request, size),
        }

    return _json(await run_in_threadpool(prove))


async def consistency(request: AppRequest) -> Response:
    """That the tree of `to` records extends the tree of `from` (RFC 9162 §2.1.4)."""
    runtime = checkpoints_of(request)
    store = request.state["engine"].store
    if request.query_params.get("from") is None:
        raise InputError("from= is required: the size of the tree you hold a checkpoint of")
    first = int_param(request, "from", 0, 0, _MOST)
    if request.query_params.get("to") is not None:
        int_param(request, "to", 0, 0, _MOST)

    def prove() -> dict[str, Any]:
        second, _ = _proof_size(runtime, request.query_params.get("to"), first)
        if first > second:
            raise InputError(f"from={first} is past to={second}: a log only grows")
        fetch = tree.fetcher(store)
        try:
            path = tree.consistency_path(first, second, fetch)
            roots = tree.root_at(first, fetch), tree.root_at(second, fetch)
        except tree.ProofError as e:
            raise InputError(f"{e}: the log holds fewer records than {second}") from None
        return {
            "from": first,
            "to": second,
            "consistencyPath": [_b64(h) for h in path],
            "fromRoot": _b64(roots[0]),
            "toRoot": _b64(roots[1]),
            "checkpoint": _checkpoint_url(request, second),
        }

    return _json(await run_in_threadpool(prove))


def routes() -> list[BaseRoute]:
    return [
        Route("/log", overview, methods=["GET", "HEAD"]),
        Route("/log/checkpoint", newest, methods=["GET", "HEAD", "POST"]),
        Route("/log/checkpoints", kept_list, methods=["GET", "HEAD"]),
        Route("/log/checkpoints/{size}", one, methods=["GET", "HEAD"]),
        Route("/log/key", key, methods=["GET", "HEAD"]),
        Route("/.well-known/jobtrail-log-key", key, methods=["GET", "HEAD"]),
        Route("/log/proof/inclusion", inclusion, methods=["GET", "HEAD"]),
        Route("/log/proof/consistency", consistency, methods=["GET", "HEAD"]),
    ]
