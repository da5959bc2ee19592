"""The Environments infrastructure service's routes (`environments.py` keeps them and
checks sessions): a consumer registers, reads its environment back, and leaves."""

from __future__ import annotations

from jobtrail.base.errors import InputError, Unauthorized
from jobtrail.bindings.sif import protocol
from jobtrail.bindings.sif.documents import child, el, parse, text, to_bytes
from jobtrail.bindings.sif.environments import SCHEMES, Environment, Environments, owned
from jobtrail.bindings.sif.exchange import ALL_METHODS, endpoint, refuse_method, respond, sif_of
from jobtrail.bindings.sif.model import NS
from jobtrail.web.requests import read_body, viewer_of
from jobtrail.web.state import AppRequest
from lxml import etree
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

ZONE = "jobtrail"
CONTEXT = "DEFAULT"
SERVICE_RIGHTS = (
    ("QUERY", "APPROVED"),
    ("CREATE", "APPROVED"),
    ("UPDATE", "REJECTED"),
    ("DELETE", "APPROVED"),
)
"""A functional service's rights in the zone; each phase then says its own."""


def _environments(request: AppRequest) -> Environments:
    found = sif_of(request).environments
    assert found is not None
    return found


@endpoint
async def environment(request: AppRequest) -> Response:
    """POST …/environments/environment registers; GET and DELETE …/environments/{id}."""
    method = protocol.method_of(request)
    name = request.path_params["id"].split(";", 1)[0]
    environments = _environments(request)
    if name == "environment":
        if method != "POST":
            raise refuse_method(request, "POST", "environments/environment")
        return await _register(request, environments)
    if method not in ("GET", "HEAD", "DELETE"):
        raise refuse_method(request, "GET, DELETE", "an environment")
    env = await run_in_threadpool(owned, environments, request, name)
    if method == "DELETE":
        await run_in_threadpool(environments.delete, env.id)
        return respond(request, None, 204)
    return respond(request, to_bytes(_document(request, environments, env)), 200)


async def _register(request: AppRequest, environments: Environments) -> Response:
    viewer = viewer_of(request)  # checks the credentials: a user's, or a SIF_HMACSHA256 user
    if viewer.name is None or viewer.role.value not in ("user", "curator"):
        raise Unauthorized(
            "registering an environment needs a user's credentials",
            hint="send Authorization: Basic base64(applicationKey:secret), the applicationKey "
            "being your user name here and the secret its password (or SIF_HMACSHA256)",
        )
    body = await read_body(request)
    root = parse(body, "environment", "environment document")
    info = child(root, "applicationInfo")
    fields = {k: text(root, k) for k in ("solutionId", "instanceId", "userToken", "consumerName")}
    fields["authenticationMethod"] = text(root, "authenticationMethod") or "Basic"
    if info is not None:
        for k in ("applicationKey", "supportedInfrastructureVersion", "dataModelNamespace"):
            fields[k] = text(info, k)
    method = fields["authenticationMethod"] or ""
    known = {s.lower(): s for s in SCHEMES}
    if method.lower() not in known:
        raise InputError(
            f"authenticationMethod {method!r} is not offered here",
            hint="use " + " or ".join(SCHEMES),
            details={"element": "authenticationMethod"},
        )
    fields["authenticationMethod"] = known[method.lower()]
    kept = {k: v for k, v in fields.items() if v}
    env = await run_in_threadpool(environments.create, viewer.name, kept)
    document = _document(request, environments, env)
    return respond(request, to_bytes(document), 201, headers={"Location": _url(request, env)})


def _url(request: AppRequest, env: Environment) -> str:
    return f"{request.state['engine'].config.base_url}sif/environments/{env.id}"


def _document(request: AppRequest, environments: Environments, env: Environment) -> etree._Element:
    """The environment as SIF 3.2.1 writes it (the schema's order)."""
    base = request.state["engine"].config.base_url
    root = etree.Element(f"{{{NS}}}environment", nsmap={None: NS}, id=env.id, type="DIRECT")
    f = env.fields
    el(root, "sessionToken", environments.token(env.id))
    if "solutionId" in f:
        el(root, "solutionId", f["solutionId"])
    zone = el(root, "defaultZone", id=ZONE)
    el(zone, "description", "jobtrail: one zone; zoneId and contextId are accepted and ignored")
    el(root, "authenticationMethod", f.get("authenticationMethod", "Basic"))
    for k in ("instanceId", "userToken", "consumerName"):
        if k in f:
            el(root, k, f[k])
    info = el(root, "applicationInfo")
    for k in ("applicationKey", "supportedInfrastructureVersion", "dataModelNamespace"):
        if k in f:
            el(info, k, f[k])
    el(info, "transport", "REST")
    services = el(root, "infrastructureServices")
    for name, url in (
        ("environment", _url(request, env)),
        ("servicesConnector", f"{base}sif/jobs"),
    ):
        el(services, "infrastructureService", url).set("name", name)
    zones = el(el(root, "provisionedZones"), "provisionedZone", id=ZONE)
    listed = el(zones, "services")
    for s in sif_of(request).services.values():
        service = el(listed, "service", contextId=CONTEXT, type="FUNCTIONAL")
        service.set("name", s.collection)
        rights = el(service, "rights")
        for kind, value in SERVICE_RIGHTS:
            el(rights, "right", value, type=kind)
    return root


def routes() -> list[BaseRoute]:
    return [Route("/sif/environments/{id}", environment, methods=ALL_METHODS)]


__all__ = ["routes"]
