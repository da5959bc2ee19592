"""SIF 3.2.1 documents in and out: parsing (no DTD, no entities, no network) and validation
against the official infrastructure schemas (`xsd/`), and the `job`, `state` and `error`
elements jobtrail writes."""

from __future__ import annotations

import functools
import uuid
from datetime import UTC, datetime
from importlib.resources import as_file, files
from typing import Any

from jobtrail.base.errors import InputError, JobtrailError, Location, MalformedInput
from jobtrail.base.xmltext import carried, refuse_dtd
from jobtrail.bindings.sif import model as model
from jobtrail.bindings.sif.model import NS, Record
from jobtrail.jobs.core import Job
from lxml import etree

# --- XML in ------------------------------------------------------------------------------


def parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


@functools.cache
def schema() -> etree.XMLSchema:
    """The official SIF Infrastructure 3.2.1 schemas (`xsd/`, vendored with their licence):
    `Collections.xsd` includes the others and declares every root element read here."""
    with as_file(files("jobtrail.bindings.sif") / "xsd" / "Collections.xsd") as path:
        return etree.XMLSchema(etree.parse(str(path), parser()))


def parse(body: bytes, root: str | None, source: str) -> etree._Element:
    """A well-formed document without a DTD; valid against the schema when `root` is named."""
    if not body.strip():
        raise InputError(f"the request has no body: send a {root or 'payload'} document")
    refuse_dtd(body, source)
    try:
        tree = etree.fromstring(body, parser()).getroottree()
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


def child(parent: etree._Element, name: str) -> etree._Element | None:
    found: etree._Element | None = parent.find(f"{{{NS}}}{name}")
    return found


def text(parent: etree._Element, name: str) -> str | None:
    e = child(parent, name)
    return (e.text or "").strip() if e is not None else None


def inner_xml(element: etree._Element) -> str:
    """An element's content as XML text: its text and children, namespaces declared."""
    parts = [element.text or ""]
    parts += [etree.tostring(c, encoding="unicode", with_tail=True) for c in element]
    return "".join(parts)


# --- XML out -----------------------------------------------------------------------------


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def el(parent: etree._Element, name: str, text: str | None = None, **attrs: str) -> Any:
    # what a SIF document brought parsed as XML; what another binding stored may not be
    e = etree.SubElement(parent, f"{{{NS}}}{name}", {k: carried(v) for k, v in attrs.items()})
    if text is not None:
        e.text = carried(text)
    return e


def to_bytes(root: etree._Element) -> bytes:
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
        else el(parent, "state", id=state.id)
    )
    el(e, "type", state.type)
    el(e, "created", iso(state.created))
    el(e, "lastModified", iso(state.modified))
    if state.description is not None:
        el(e, "description", state.description)
    return e


def job_element(parent: etree._Element | None, job: Job, record: Record) -> etree._Element:
    if parent is None:
        root = etree.Element(f"{{{NS}}}job", nsmap={None: NS}, id=job.id)
    else:
        root = el(parent, "job", id=job.id)
    el(root, "name", record.name)
    if record.description is not None:
        el(root, "description", record.description)
    state = model.shown_state(job)
    el(root, "state", state)
    why = record.state_description if state == job.status_value else _why(job)
    if why:
        el(root, "stateDescription", why)
    el(root, "created", iso(job.created))
    el(root, "lastModified", iso(job.modified))
    if record.timeout is not None:
        el(root, "timeout", record.timeout)
    phases = el(root, "phases")
    for phase in record.phases:
        p = el(phases, "phase")
        el(p, "name", phase.name)
        states = el(p, "states")
        for s in phase.states:
            state_element(states, s)
        el(p, "required", "true" if phase.required else "false")
        for kind, rights in (("rights", phase.rights), ("statesRights", phase.states_rights)):
            holder = el(p, kind)
            for right_type, value in rights:
                el(holder, "right", value, type=right_type)
    if record.init_payload is not None:
        init = el(root, "initialization")
        if record.init_phase is not None:
            el(init, "phaseName", record.init_phase)
        payload_into(el(init, "payload"), record.init_payload)
    return root


def _why(job: Job) -> str | None:
    """What ended a job another binding ended (aborted, timed out)."""
    if job.error is not None:
        return job.error.message
    return f"the job is {job.phase}" if job.phase in ("ABORTED", "ARCHIVED") else None


def payload_into(holder: etree._Element, content: str) -> None:
    wrapped = f'<payload xmlns="{NS}">{content}</payload>'.encode()
    parsed = etree.fromstring(wrapped, parser())
    holder.text = parsed.text
    for child in parsed:
        holder.append(child)


def valid(element: etree._Element, source: str) -> None:
    """An element of a larger document (a `job` of `jobs`) valid as a document of its own."""
    copy = etree.fromstring(etree.tostring(element), parser())
    if not schema().validate(copy.getroottree()):
        error = schema().error_log[0]
        message = error.message.replace(f"{{{NS}}}", "")
        name = etree.QName(element).localname
        raise MalformedInput(
            f"the {name} is not a SIF 3.2.1 {name}: {message}",
            location=Location(source, element.sourceline),
            details={"element": _element_named(message) or name},
        )


def error_element(parent: etree._Element | None, error: JobtrailError, scope: str) -> Any:
    """A SIF `error` (code, scope, message, description), as SIF consumers read errors."""
    if parent is None:
        root = etree.Element(f"{{{NS}}}error", nsmap={None: NS}, id=str(uuid.uuid4()))
    else:
        root = el(parent, "error", id=str(uuid.uuid4()))
    parts = [("code", str(error.status)), ("scope", scope[:80]), ("message", error.message[:1024])]
    more = [f"at {error.location}"] if error.location else []
    more += [f"hint: {error.hint}"] if error.hint else []
    more += [f"{k}: {v}" for k, v in error.details.items()]
    if more:
        parts.append(("description", "; ".join(more)))
    for name, content in parts:
        el(root, name, content)
    return root
