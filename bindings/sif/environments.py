"""The SIF 3 Environments infrastructure service, enough for a consumer to register and work.

    POST   /sif/environments/environment   an `environment` document → 201: the environment
                                           with its `sessionToken`, its infrastructure services
                                           (environment, servicesConnector) and the zone's
                                           functional services with their rights
    GET    /sif/environments/{id}          the environment (its owner, or the admin)
    DELETE /sif/environments/{id}          → 204: the session ends

A consumer registers as a jobtrail user: its `applicationKey` is the user name and its
shared secret the user's password, sent as `Authorization: Basic base64(user:password)` or
`SIF_HMACSHA256 base64(user:base64(HMAC-SHA-256(password, user:timestamp)))` with the
`timestamp` header. Afterwards it sends the session token in place of the user name, under
either scheme; every request is then that user's, as if it had sent the user's own Basic
credentials.

Nothing secret is stored: the session token is derived from the environment's id with the
server's key (HMAC-SHA-256, `accounts.key`, kept outside the dataset), so it is checked and
shown again without being kept; the graph `{base}sif/environments/{id}` holds the owner and
what the consumer said of itself (solution, consumer name, application key, instance,
user token, authentication method).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pyoxigraph as ox
from jobtrail.base import nt
from jobtrail.base.errors import Forbidden, InputError, NotFound, Unauthorized
from jobtrail.base.terms import DCTERMS, JT
from jobtrail.jobs.accounts import Accounts, Caller
from jobtrail.jobs.visibility import Role, Viewer
from jobtrail.store import ResourceGraph, Store
from jobtrail.web.requests import viewer_of
from starlette.requests import Request

SCHEMES = ("Basic", "SIF_HMACSHA256")
FRESH = timedelta(minutes=15)
"""How far a SIF_HMACSHA256 `timestamp` may be from the server's clock, either way."""
_TOKEN = re.compile(
    r"([0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12})\.[0-9a-f]{32}"
)
_FIELDS = (
    "solutionId",
    "authenticationMethod",
    "instanceId",
    "userToken",
    "consumerName",
    "applicationKey",
    "supportedInfrastructureVersion",
    "dataModelNamespace",
)
_J = str(JT)


@dataclass(frozen=True)
class Environment:
    id: str
    owner: str
    created: datetime
    fields: dict[str, str]


class Environments:
    """Environments kept in the store; session tokens derived, never kept."""

    def __init__(self, store: Store, base: str, accounts: Accounts):
        self.store = store
        self.base = base
        self.accounts = accounts

    def iri(self, env_id: str) -> str:
        return f"{self.base}sif/environments/{env_id}"

    def token(self, env_id: str) -> str:
        mac = hmac.new(self.accounts.key, f"sif-session {env_id}".encode(), hashlib.sha256)
        return f"{env_id}.{mac.hexdigest()[:32]}"

    def create(self, owner: str, fields: dict[str, str]) -> Environment:
        env = Environment(str(uuid.uuid4()), owner, datetime.now(UTC), fields)
        s = nt.iri(self.iri(env.id))
        triples = [
            (s, nt.A, nt.jt("SifEnvironment")),
            (s, nt.jt("owner"), nt.lit(owner)),
            (s, nt.iri(f"{DCTERMS}created"), nt.datetime_lit(env.created)),
        ]
        triples.append((s, nt.jt("sifConsumer"), nt.json_lit(fields)))
        self.store.replace(ResourceGraph(self.iri(env.id), triples))
        return env

    def get(self, env_id: str) -> Environment | None:
        if not re.fullmatch(r"[0-9a-f-]{36}", env_id):
            return None
        owner, created = None, None
        fields: dict[str, str] = {}
        for t in self.store.read(self.iri(env_id)):
            if isinstance(t.object, ox.Triple):
                continue
            p, value = t.predicate.value, t.object.value
            if p == f"{_J}owner":
                owner = value
            elif p == f"{DCTERMS}created":
                created = datetime.fromisoformat(value.replace("Z", "+00:00"))
            elif p == f"{_J}sifConsumer":
                fields = {str(k): str(v) for k, v in json.loads(value).items()}
        if owner is None or created is None:
            return None
        return Environment(env_id, owner, created, fields)

    def delete(self, env_id: str) -> None:
        self.store.delete(self.iri(env_id))

    def session(self, token: str) -> Environment | None:
        """The environment a session token opens, compared in constant time; None if none."""
        m = _TOKEN.fullmatch(token)
        if m is None or not hmac.compare_digest(token.encode(), self.token(m[1]).encode()):
            return None
        return self.get(m[1])

    # --- who calls ------------------------------------------------------------------

    def sign_in(self, request: Request[Any]) -> None:
        """Take a SIF session token (Basic or SIF_HMACSHA256) or a SIF_HMACSHA256 user as
        the user it stands for; other credentials are left to the server's own checks."""
        header = request.headers.get("authorization")
        if not header or "sif.caller" in request.scope:
            return
        scheme, _, value = header.partition(" ")
        if scheme.lower() not in ("basic", "sif_hmacsha256"):
            return
        name, secret = _pair(value.strip(), scheme)
        if scheme.lower() == "basic":
            if name in self.accounts.users:
                return  # a user's own credentials: checked as everywhere
            env = self.session(name)
            if env is None:
                if _TOKEN.fullmatch(name) is None:
                    return  # the admin token as a Basic password, or a bad user: checked as ever
                raise Forbidden(
                    "this SIF session is not known here: it ended, or the token is wrong",
                    hint="register again: POST /sif/environments/environment with Basic "
                    "base64(user:password); then send base64(sessionToken:password)",
                )
            self._check(env.owner, secret.encode())
            self._adopt(request, env.owner)
            return
        env = self.session(name)
        owner = env.owner if env is not None else name
        if owner not in self.accounts.users:
            raise Forbidden(
                "the SIF_HMACSHA256 credentials name neither a user here nor a SIF session",
                hint="sign base64(user:HMAC) to register, base64(sessionToken:HMAC) afterwards",
            )
        stamp = _timestamp(request.headers.get("timestamp"))
        password = self.accounts.users[owner].encode()
        expected = base64.b64encode(
            hmac.new(password, f"{name}:{stamp}".encode(), hashlib.sha256).digest()
        )
        if not hmac.compare_digest(expected, secret.encode()):
            raise Forbidden(
                "the SIF_HMACSHA256 signature does not check",
                hint="sign token:timestamp (the timestamp header, as sent) with HMAC-SHA-256 "
                "under the password, base64 it, and send base64(token:signature)",
            )
        self._adopt(request, owner)

    def _check(self, owner: str, secret: bytes) -> None:
        known = self.accounts.users.get(owner)
        if known is None or not hmac.compare_digest(known.encode(), secret):
            raise Forbidden("bad password for this SIF session", hint="send the user's password")

    def _adopt(self, request: Request[Any], owner: str) -> None:
        engine = request.state["engine"]
        curator = owner in engine.visibility.curators
        request.scope["jobtrail.viewer"] = Viewer(Role.CURATOR if curator else Role.USER, owner)
        request.scope["sif.caller"] = Caller(owner)


def _pair(value: str, scheme: str) -> tuple[str, str]:
    try:
        name, colon, secret = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise Forbidden(
            f"the {scheme} credentials do not decode (base64 of token:secret)"
        ) from None
    if not colon or not name:
        raise Forbidden(f"the {scheme} credentials are not base64(token:secret)")
    return name, secret


def _timestamp(raw: str | None) -> str:
    """The `timestamp` header as sent, if it is ISO 8601 and within FRESH of now."""
    if not raw:
        raise Unauthorized(
            "SIF_HMACSHA256 needs the timestamp header the signature covers",
            hint="send timestamp: the UTC time in ISO 8601, e.g. 2024-05-01T12:00:00.000Z",
        )
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)", raw.strip())
    try:
        if m is None:
            raise ValueError(raw)
        zone = "+00:00" if m[3] == "Z" else m[3]
        at = datetime.fromisoformat(f"{m[1]}.{(m[2] or '0')[:6]:0<6}{zone}")
    except ValueError:
        raise InputError(
            f"the timestamp {raw!r} is not an ISO 8601 time with its zone",
            hint="e.g. 2024-05-01T12:00:00.000Z",
            details={"header": "timestamp"},
        ) from None
    if abs(datetime.now(UTC) - at) > FRESH:
        raise Forbidden(
            f"the timestamp {raw} is more than {int(FRESH.total_seconds() // 60)} minutes from "
            "this server's clock",
            hint="sign again with the current time (and check the client's clock)",
        )
    return raw


def owned(environments: Environments, request: Request[Any], env_id: str) -> Environment:
    """The environment, if the caller is its owner or the admin; 404 otherwise."""
    env = environments.get(env_id)
    viewer = viewer_of(request)
    if env is None or (viewer.role is not Role.ADMIN and viewer.name != env.owner):
        raise NotFound(
            f"there is no environment {env_id} of yours",
            hint="POST /sif/environments/environment registers one",
        )
    return env


__all__ = ["FRESH", "SCHEMES", "Environment", "Environments", "owned"]
