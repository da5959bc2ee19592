"""SIF 3.2.1 functional services: jobs with phases, states and rights, over the job core."""

from __future__ import annotations

import re
import uuid
from typing import Any

from jobtrail.base.errors import JobtrailError
from jobtrail.bindings.sif import routes
from jobtrail.bindings.sif.model import NS, Sif, load_services
from jobtrail.web import conneg
from jobtrail.web.binding import Binding, ErrorStyle
from jobtrail.web.state import Config, Engine, JobKind
from lxml import etree
from starlette.requests import Request

ERROR = conneg.Format("sif", "application/xml", None, ("text/xml",))


def error_document(request: Request[Any], error: JobtrailError) -> tuple[bytes, dict[str, str]]:
    """A SIF `error` (code, scope, message, description), as SIF consumers read errors."""
    root = etree.Element(f"{{{NS}}}error", nsmap={None: NS}, id=str(uuid.uuid4()))
    parts = [
        ("code", str(error.status)),
        ("scope", f"{request.method} {request.url.path}"[:80]),
        ("message", error.message[:1024]),
    ]
    more = [f"at {error.location}"] if error.location else []
    more += [f"hint: {error.hint}"] if error.hint else []
    more += [f"{k}: {v}" for k, v in error.details.items()]
    if more:
        parts.append(("description", "; ".join(more)))
    for name, text in parts:
        etree.SubElement(root, f"{{{NS}}}{name}").text = text
    body = bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
    return body, {"messageType": "ERROR"}


def kinds(config: Config) -> list[JobKind]:
    return [
        JobKind(s.name, f"sif/jobs/{s.collection}")
        for s in load_services(config.sif_services).values()
    ]


def start(engine: Engine) -> Sif:
    return Sif(engine.jobs, load_services(engine.config.sif_services), engine.hops)


BINDING = Binding(
    name="sif",
    routes=routes.routes,
    side_graphs=("sif",),  # the phases, their states and rights
    start=start,
    kinds=kinds,
    errors=(ErrorStyle(re.compile(r"^/sif/"), (ERROR,), error_document),),
    links=(("/sif/jobs", "SIF 3.2.1 functional services: jobs with phases, states and rights"),),
)
