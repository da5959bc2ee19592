"""The verifiable log: signed checkpoints of the seal log's Merkle tree, and RFC 9162
inclusion and consistency proofs (routes.py), for auditors who trust only a checkpoint
they kept and the server's public key."""

from __future__ import annotations

from jobtrail.bindings.log import api, routes, runtime
from jobtrail.web.binding import Binding

BINDING = Binding(
    name="log",
    api=api.API,
    routes=routes.routes,
    start=runtime.start,
    links=(("/log", "the verifiable log: signed checkpoints, inclusion and consistency proofs"),),
)
