"""SIF Infrastructure 3.2.1 functional services (the `jobs` object) over the job core.

    GET    /sif/jobs                               the services here, their phases and rights
    GET    /sif/jobs/{svc}s                        jobs (navigationPage, navigationPageSize)
    POST   /sif/jobs/{svc}s/{svc}                  a job document → 201, the created job
    GET    /sif/jobs/{svc}s/{id}                   job
    DELETE /sif/jobs/{svc}s/{id}                   → 204; its history stays
    GET|POST|PUT|DELETE /sif/jobs/{svc}s/{id}/{phase}
                                                   the phase's payload, as its rights allow
                                                   (QUERY, CREATE, UPDATE, DELETE) → 403 naming
                                                   the right otherwise
    GET    /sif/jobs/{svc}s/{id}/{phase}/states    states (statesRights QUERY)
    POST   /sif/jobs/{svc}s/{id}/{phase}/states/state
                                                   a new state (statesRights CREATE) → 201
    GET    /sif/jobs/{svc}s/{id}/{phase}/states/{state id}

A SIF job is the job core's job: `Link: rel=canonical` names its IRI `/jobs/{id}`,
where it reads the same as Turtle, through UWS and through MCMA. Zone and context
matrix parameters (`;zoneId=…;contextId=…`) are accepted and ignored: this is one
zone. Documents are parsed with entities and network access off; a DOCTYPE is
refused before anything is stored. Every request that changes a job is a hop of it,
its bytes verbatim, with jobtrail's answer. A caller sees their own jobs and anonymous
ones, a curator and the admin every job; only its owner (anyone, for an anonymous job)
and the admin change one.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from importlib.resources import as_file, files
from typing import Any

from jobtrail.base.errors import InputError, Location, MalformedInput, NotFound
from jobtrail.base.xmltext import carried, refuse_dtd
from jobtrail.bindings.sif import model as model
from jobtrail.bindings.sif.model import NS, Outcome, Record, Service, Sif
from jobtrail.jobs.core import Job
from jobtrail.jobs.hops import response_bytes
from jobtrail.web import html
from jobtrail.web.requests import caller_of, read_body, received_bytes, viewer_of, visible_job
from jobtrail.web.state import AppRequest
from lxml import etree
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

XML = "application/xml"
BINDING = "SIF 3.2.1"


def sif_of(request: AppRequest) -> Sif:
    sif = request.state["runtimes"]["sif"]
    assert isinstance(sif, Sif)
    return sif


# --- XML in ------------------------------------------------------------------------------


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


@functools.cache
def schema() -> etree.XMLSchema:
    """The official SIF Infrastructure 3.2.1 schemas (`xsd/`, vendored with their licence):
    `Collections.xsd` includes the others and declares every root element read here."""
    with as_file(files("jobtrail.bindings.sif") / "xsd" / "Collections.xsd") as path:
        return etree.XMLSchema(etree.parse(str(path), _parser()))


def parse(body: bytes, root: str | None, source: str) -> etree._Element:
    """A well-formed document without a DTD; valid against the schema when `root` is named."""
    if not body.strip():
        raise InputError(f"the request has no body: send a {root or 'payload'} document")
    refuse_dtd(body, source)
    try:
        tree = etree.fromstring(body, _parser()).getroottree()
    except etree.XMLSyntaxError as e:
        line, column = e.position if e.position else (None, None)
        raise MalformedInput(
            f"the XML does not parse: {e.msg}",
            location=Location(source, line, column),
        ) from None
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        _no_doctype(source)  # one the byte scan missed (another encoding)
    element = tree.getroot()
    if root is None:
        return element
    if element.tag != f"{{{NS}}}{root}":
        raise MalformedInput(
            f"the document is <{etree.QName(element).localname}> in "
            f"{etree.QName(element).namespace or 'no namespace'}, not <{root}> in {NS}",
            location=Location(source, element.sourceline),
            details={"element": etree.QName(element).localname},
        )
    if not schema().validate(tree):
        error = schema().error_log[0]
        message = error.message.replace(f"{{{NS}}}", "")
        raise MalformedInput(
            f"the {root} document is not a SIF 3.2.1 {root}: {message}",
            location=Location(source, error.line, error.column),
            details={"element": _element_named(message) or root},
        )
    return element


def _no_doctype(source: str) -> None:
    raise MalformedInput(
        "a DOCTYPE is not allowed here: its entities are neither expanded nor loaded",
        location=Location(source, 1),
        hint="send the document without a <!DOCTYPE …> declaration",
    )


def _element_named(message: str) -> str | None:
    """The element a libxml2 schema error names (`Element 'payload': …`)."""
    if message.startswith("Element '"):
        name = message[len("Element '") :].split("'", 1)[0]
        return name.split("}")[-1]
    return None


def _child(parent: etree._Element, name: str) -> etree._Element | None:
    found: etree._Element | None = parent.find(f"{{{NS}}}{name}")
    return found


def _text(parent: etree._Element, name: str) -> str | None:
    e = _child(parent, name)
    return (e.text or "").strip() if e is not None else None


def inner_xml(element: etree._Element) -> str:
    """An element's content as XML text: its text and children, namespaces declared."""
    parts = [element.text or ""]
    parts += [etree.tostring(c, encoding="unicode", with_tail=True) for c in element]
    return "".join(parts)


# --- XML out -----------------------------------------------------------------------------


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _el(parent: etree._Element, name: str, text: str | None = None, **attrs: str) -> Any:
    # what a SIF document brought parsed as XML; what another binding stored may not be
    e = etree.SubElement(parent, f"{{{NS}}}{name}", {k: carried(v) for k, v in attrs.items()})
    if text is not None:
        e.text = carried(text)
    return e


def _bytes(root: etree._Element) -> bytes:
    """Indented for people, payloads excepted: their whitespace is the consumer's."""
    held = [(p, p.text, list(p)) for p in root.iter(f"{{{NS}}}payload")]
    for p, _, children in held:
        p.text = None
        for c in children:
            p.remove(c)
    etree.indent(root, space="  ")
    for p, text, children in held:
        p.text = text
        p.extend(children)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def state_element(parent: etree._Element | None, state: model.State) -> etree._Element:
    e = (
        etree.Element(f"{{{NS}}}state", nsmap={None: NS}, id=state.id)
        if parent is None
        else _el(parent, "state", id=state.id)
    )
    _el(e, "type", state.type)
    _el(e, "created", _iso(state.created))
    _el(e, "lastModified", _iso(state.modified))
    if state.description is not None:
        _el(e, "description", state.description)
    return e


def job_element(parent: etree._Element | None, job: Job, record: Record) -> etree._Element:
    if parent is None:
        root = etree.Element(f"{{{NS}}}job", nsmap={None: NS}, id=job.id)
    else:
        root = _el(parent, "job", id=job.id)
    _el(root, "name", record.name)
    if record.description is not None:
        _el(root, "description", record.description)
    state = model.shown_state(job)
    _el(root, "state", state)
    why = record.state_description if state == job.status_value else _why(job)
    if why:
        _el(root, "stateDescription", why)
    _el(root, "created", _iso(job.created))
    _el(root, "lastModified", _iso(job.modified))
    if record.timeout is not None:
        _el(root, "timeout", record.timeout)
    phases = _el(root, "phases")
    for phase in record.phases:
        p = _el(phases, "phase")
        _el(p, "name", phase.name)
        states = _el(p, "states")
        for s in phase.states:
            state_element(states, s)
        _el(p, "required", "true" if phase.required else "false")
        for kind, rights in (("rights", phase.rights), ("statesRights", phase.states_rights)):
            holder = _el(p, kind)
            for right_type, value in rights:
                _el(holder, "right", value, type=right_type)
    if record.init_payload is not None:
        init = _el(root, "initialization")
        if record.init_phase is not None:
            _el(init, "phaseName", record.init_phase)
        _payload(_el(init, "payload"), record.init_payload)
    return root


def _why(job: Job) -> str | None:
    """What ended a job another binding ended (aborted, timed out)."""
    if job.error is not None:
        return job.error.message
    return f"the job is {job.phase}" if job.phase in ("ABORTED", "ARCHIVED") else None


def _payload(holder: etree._Element, content: str) -> None:
    wrapped = f'<payload xmlns="{NS}">{content}</payload>'.encode()
    parsed = etree.fromstring(wrapped, _parser())
    holder.text = parsed.text
    for child in parsed:
        holder.append(child)


def _respond(
    body: bytes | None,
    status: int,
    job: Job | None = None,
    headers: dict[str, str] | None = None,
    media_type: str = XML,
) -> Response:
    headers = dict(headers or {})
    if job is not None:
        headers["Link"] = f'<{job.iri}>; rel="canonical"'
    headers.setdefault("messageType", "RESPONSE")
    return Response(body, status, headers, media_type=media_type if body is not None else None)


# --- requests -------------------------------------------------------------------------------


def _collection(request: AppRequest) -> Service:
    name = request.path_params["collection"].split(";", 1)[0]  # matrix parameters
    return sif_of(request).service(name)


async def _job(
    request: AppRequest, service: Service, job_id: str, change: bool = False
) -> tuple[Job, Record]:
    """The job and its SIF record, if the caller may see it (`change`: may change it; a
    curator reads every job but changes only their own)."""
    job = await run_in_threadpool(lambda: visible_job(request, job_id, change=change))
    if job.profile != service.name:
        raise NotFound(
            f"job {job.id} is not a {service.name} job",
            hint=f"it is a {job.profile} job: {job.iri}",
        )
    record = await run_in_threadpool(sif_of(request).read, job)
    return job, record


def _record(request: AppRequest, **more: Any) -> dict[str, Any]:
    """The request as the job's change message keeps it (its body is in the hop)."""
    return {
        "binding": BINDING,
        "method": request.method,
        "path": request.url.path,
        "contentType": request.headers.get("content-type"),
        **more,
    }


async def _hop(request: AppRequest, job_id: str, body: bytes, response: Response) -> None:
    """The exchange as two hops of the job: the request verbatim, then the answer."""
    hops = sif_of(request).hops
    what = f"SIF {request.method} {request.url.path}"
    sent = received_bytes(request, body)
    answer = response_bytes(
        response.status_code,
        bytes(response.body) if response.body else None,
        [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"],
    )
    await run_in_threadpool(hops.record, job_id, sent, f"received: {what}")
    await run_in_threadpool(hops.record, job_id, answer, f"answered: {what}")


def _page(request: AppRequest, name: str, default: int) -> int:
    raw = request.headers.get(name) or request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InputError(f"{name} is a whole number, not {raw!r}") from None
    if value < 1:
        raise InputError(f"{name} counts from 1, not {value}")
    return value


# --- endpoints -----------------------------------------------------------------------------


async def services(request: AppRequest) -> Response:
    """The SIF functional services here, each with its phases and their rights."""
    base = request.state["engine"].config.base_url
    rows = []
    for s in sif_of(request).services.values():
        phases = "".join(
            f"<li><b>{escape(p.name)}</b>{' (required)' if p.required else ''}: rights "
            f"{escape(', '.join(f'{k}={v}' for k, v in p.rights))}; states "
            f"{escape(', '.join(f'{k}={v}' for k, v in p.states_rights))}</li>"
            for p in s.phases
        )
        url = f"{base}sif/jobs/{s.collection}"
        rows.append(
            f"<h2>{html.link(url, s.collection)}</h2>"
            f"<p>{escape(s.description)}</p><p>Create a job: POST a <code>job</code> document "
            f"to <code>{escape(url)}/{escape(s.name)}</code>.</p><ul>{phases}</ul>"
        )
    body = (
        "<h1>SIF 3.2.1 functional services</h1><p>Jobs in the <code>jobs</code> object of "
        f"the namespace <code>{NS}</code>; each is also a job at <code>/jobs/{{id}}</code>."
        f"</p>{''.join(rows)}"
    )
    return Response(html.page("SIF functional services", body), media_type="text/html")


async def collection(request: AppRequest) -> Response:
    """The service's jobs the caller may see, oldest first, a page at a time."""
    service = _collection(request)
    asked = any(
        n in request.headers or n in request.query_params
        for n in ("navigationPage", "navigationPageSize")
    )
    size = min(
        _page(request, "navigationPageSize", 10**9), request.state["engine"].config.uws_max_list
    )
    page = _page(request, "navigationPage", 1)
    viewer = viewer_of(request)  # a curator and the admin see every job
    sif = sif_of(request)

    def listing() -> tuple[list[tuple[Job, Record]], bool]:
        found = request.state["engine"].jobs.list(
            owner=viewer.owner,
            anonymous=request.state["engine"].visibility.anonymous_jobs,
            everyone=viewer.sees_all,
            profiles=[service.name],
            oldest_first=True,
            limit=size + 1,  # one more: is there a next page?
            offset=(page - 1) * size,
        )
        return [(j, sif.read(j)) for j in found[:size]], len(found) > size

    shown, more = await run_in_threadpool(listing)
    root = etree.Element(f"{{{NS}}}jobs", nsmap={None: NS})
    for job, record in shown:
        job_element(root, job, record)
    headers = {}
    if asked:
        headers = {"navigationPage": str(page), "navigationPageSize": str(size)}
        if not more:
            headers["navigationLastPage"] = str(page)
    return _respond(_bytes(root), 200, headers=headers)


async def item(request: AppRequest) -> Response:
    """POST to /{svc}s/{svc}: a new job. GET or DELETE /{svc}s/{id}: that job."""
    service = _collection(request)
    if request.method == "POST":
        if request.path_params["item"] != service.name:
            raise InputError(
                f"a job is created by POSTing to {service.collection}/{service.name}",
                hint=f"POST the job document to /sif/jobs/{service.collection}/{service.name}",
            )
        return await _create(request, service)
    deleting = request.method == "DELETE"
    job, record = await _job(request, service, request.path_params["item"], deleting)
    if deleting:
        by = viewer_of(request).label
        await run_in_threadpool(
            lambda: request.state["engine"].jobs.delete(job.id, by=by, request=_record(request))
        )
        response = _respond(None, 204, job)
        await _hop(request, job.id, b"", response)
        return response
    return _respond(_bytes(job_element(None, job, record)), 200, job)


async def _create(request: AppRequest, service: Service) -> Response:
    accounts = request.state["engine"].accounts
    caller = caller_of(request)
    accounts.require(caller)
    body = await read_body(request)
    root = parse(body, "job", "job document")
    sif = sif_of(request)
    init = _child(root, "initialization")
    payload = _child(init, "payload") if init is not None else None
    given_id = root.get("id") if request.headers.get("mustUseAdvisory") == "true" else None
    outcome = await run_in_threadpool(
        lambda: sif.create(
            service,
            name=_text(root, "name") or "",
            description=_text(root, "description"),
            timeout=_text(root, "timeout"),
            init_phase=_text(init, "phaseName") if init is not None else None,
            init_payload=inner_xml(payload) if payload is not None else None,
            owner=caller.name,
            request=_record(request),
            job_id=given_id,
            payer=accounts.payer(caller),
        )
    )
    job = outcome.job
    location = f"{request.state['engine'].config.base_url}sif/jobs/{service.collection}/{job.id}"
    response = _respond(
        _bytes(job_element(None, job, outcome.record)), 201, job, {"Location": location}
    )
    await _hop(request, job.id, body, response)
    return response


async def phase(request: AppRequest) -> Response:
    """A phase's payload: QUERY (GET), CREATE (POST), UPDATE (PUT), DELETE, as its rights allow."""
    service = _collection(request)
    operation = model.OPERATIONS[request.method]
    changes = operation != "QUERY"
    job, record = await _job(request, service, request.path_params["id"], changes)
    name = request.path_params["phase"]
    current = record.phase(name)
    if operation == "QUERY":
        current.require("QUERY")
        if current.payload is None:
            return _respond(None, 204, job)
        shown = current.media_type or XML
        return _respond(current.payload.encode("utf-8"), 200, job, media_type=shown)
    current.require(operation)  # before the body is read or anything stored
    body: bytes = b""
    payload: str | None = None
    media: str | None = None
    if operation != "DELETE":
        body = await read_body(request)
        payload, media = _phase_payload(request, body)
    by = viewer_of(request).label
    outcome = await run_in_threadpool(
        lambda: sif_of(request).set_payload(
            job,
            name,
            operation=operation,
            payload=payload,
            media_type=media,
            by=by,
            request=_record(request, phase=name),
        )
    )
    if operation == "DELETE":
        response = _respond(None, 204, outcome.job)
    else:
        status = 201 if operation == "CREATE" else 200
        response = _respond(body, status, outcome.job, media_type=media or XML)
    await _hop(request, job.id, body, response)
    return response


def _phase_payload(request: AppRequest, body: bytes) -> tuple[str, str]:
    media = request.headers.get("content-type", XML).split(";")[0].strip() or XML
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"the payload is not UTF-8 ({e})") from None
    if media.endswith(("/xml", "+xml")):
        parse(body, None, "phase payload")  # well-formed, no DOCTYPE
    return text, media


async def states(request: AppRequest) -> Response:
    """A phase's states (statesRights QUERY)."""
    service = _collection(request)
    job, record = await _job(request, service, request.path_params["id"])
    current = record.phase(request.path_params["phase"])
    current.require("QUERY", on_states=True)
    root = etree.Element(f"{{{NS}}}states", nsmap={None: NS})
    for s in current.states:
        state_element(root, s)
    return _respond(_bytes(root), 200, job)


async def state(request: AppRequest) -> Response:
    """POST …/states/state: a new state of the phase (statesRights CREATE); GET one state."""
    service = _collection(request)
    creating = request.method == "POST"
    job, record = await _job(request, service, request.path_params["id"], creating)
    name = request.path_params["phase"]
    current = record.phase(name)
    if not creating:
        current.require("QUERY", on_states=True)
        for s in current.states:
            if s.id == request.path_params["state"]:
                return _respond(_bytes(state_element(None, s)), 200, job)
        raise NotFound(f"phase {name!r} has no state {request.path_params['state']}")
    if request.path_params["state"] != "state":
        raise InputError("a state is created by POSTing to …/states/state")
    current.require("CREATE", on_states=True)
    body = await read_body(request)
    root = parse(body, "state", "state document")
    by = viewer_of(request).label
    outcome: Outcome = await run_in_threadpool(
        lambda: sif_of(request).add_state(
            job,
            name,
            type=_text(root, "type") or "",
            description=_text(root, "description"),
            by=by,
            request=_record(request, phase=name),
        )
    )
    assert outcome.state is not None
    location = f"{request.url}".rsplit("/", 1)[0] + f"/{outcome.state.id}"
    response = _respond(
        _bytes(state_element(None, outcome.state)), 201, outcome.job, {"Location": location}
    )
    await _hop(request, job.id, body, response)
    return response


READ = ["GET", "HEAD"]


def routes() -> list[BaseRoute]:
    prefix = "/sif/jobs/{collection}"
    return [
        Route("/sif/jobs", services, methods=["GET", "HEAD"]),
        Route(prefix, collection, methods=["GET", "HEAD"]),
        Route(f"{prefix}/{{item}}", item, methods=["GET", "HEAD", "POST", "DELETE"]),
        Route(f"{prefix}/{{id}}/{{phase}}", phase, methods=[*READ, "POST", "PUT", "DELETE"]),
        Route(f"{prefix}/{{id}}/{{phase}}/states", states, methods=READ),
        Route(f"{prefix}/{{id}}/{{phase}}/states/{{state}}", state, methods=[*READ, "POST"]),
    ]


__all__: Sequence[str] = ["parse", "routes", "schema"]
