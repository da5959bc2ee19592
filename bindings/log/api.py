"""OpenAPI declarations of the log binding's routes (web/openapi.py)."""

from __future__ import annotations

from typing import Any

from jobtrail.web import conneg
from jobtrail.web.openapi import ADMIN, ANYONE, INTEGER, Api, Operation, Param, Reply, ok

TEXT = ("text/plain",)
_HASHES = {"type": "array", "items": {"type": "string", "contentEncoding": "base64"}}
INCLUSION: dict[str, Any] = {
    "type": "object",
    "required": ["record", "leafIndex", "treeSize", "leafHash", "inclusionPath", "rootHash"],
    "properties": {
        "record": {"type": "string", "format": "iri"},
        "leafIndex": {"type": "integer", "minimum": 0},
        "treeSize": {"type": "integer", "minimum": 1},
        "leafHash": {"type": "string", "contentEncoding": "base64"},
        "inclusionPath": _HASHES,
        "rootHash": {"type": "string", "contentEncoding": "base64"},
        "checkpoint": {"type": "string", "format": "uri"},
    },
}
CONSISTENCY: dict[str, Any] = {
    "type": "object",
    "required": ["from", "to", "consistencyPath", "fromRoot", "toRoot"],
    "properties": {
        "from": {"type": "integer", "minimum": 0},
        "to": {"type": "integer", "minimum": 0},
        "consistencyPath": _HASHES,
        "fromRoot": {"type": "string", "contentEncoding": "base64"},
        "toRoot": {"type": "string", "contentEncoding": "base64"},
        "checkpoint": {"type": "string", "format": "uri"},
    },
}
_SIZE = Param("size", "the tree's size (default: the newest checkpoint's)", schema=INTEGER)

API = Api(
    {
        ("GET", "/log"): Operation(
            "The log: its origin, size, newest checkpoint, verifier key and where to ask",
            replies=(ok("the log", ("application/json", conneg.HTML)),),
            security=ANYONE,
        ),
        ("GET", "/log/checkpoint"): Operation(
            "The newest checkpoint (C2SP tlog-checkpoint in a signed note)",
            replies=(ok("the signed note", TEXT),),
            security=ANYONE,
        ),
        ("POST", "/log/checkpoint"): Operation(
            "Issue a checkpoint of the tree as it is now",
            replies=(Reply(201, "the signed note", TEXT, None, ("Location",)),),
            errors=(401, 403),
            security=ADMIN,
        ),
        ("GET", "/log/checkpoints"): Operation(
            "Every kept checkpoint, newest first",
            params=(Param("limit", "how many (1–10,000; 100)", schema=INTEGER),),
            replies=(ok("the list", ("application/json", conneg.HTML)),),
            errors=(400,),
            security=ANYONE,
        ),
        ("GET", "/log/checkpoints/{size}"): Operation(
            "One kept checkpoint, by the tree size it signs",
            params=(Param("size", "the tree size", where="path", schema=INTEGER),),
            replies=(ok("the signed note", TEXT),),
            errors=(400, 404),
            security=ANYONE,
        ),
        ("GET", "/log/key"): Operation(
            "The verifier key checkpoints are signed with (name+hash+key)",
            replies=(ok("the key", TEXT),),
            security=ANYONE,
        ),
        ("GET", "/.well-known/jobtrail-log-key"): Operation(
            "The verifier key (as /log/key)",
            replies=(ok("the key", TEXT),),
            security=ANYONE,
        ),
        ("GET", "/log/proof/inclusion"): Operation(
            "A record's audit path in the tree (RFC 9162 §2.1.3)",
            params=(
                Param("record", "a message's IRI, or the SHA-256 of its bytes", required=True),
                _SIZE,
            ),
            replies=(ok("the proof", ("application/json",), schema=INCLUSION),),
            errors=(400, 401, 403, 404),
            security=ANYONE,
        ),
        ("GET", "/log/proof/consistency"): Operation(
            "That the tree of `to` records extends the tree of `from` (RFC 9162 §2.1.4)",
            params=(
                Param("from", "the earlier size", schema=INTEGER, required=True),
                Param("to", "the later size (default: the newest checkpoint's)", schema=INTEGER),
            ),
            replies=(ok("the proof", ("application/json",), schema=CONSISTENCY),),
            errors=(400,),
            security=ANYONE,
        ),
    }
)
