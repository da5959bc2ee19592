"""The UWS 1.1 documents (`uws:job`, `uws:jobs`, `uws:results`, `uws:parameters`) and the
URLs they name, valid against the official UWS 1.1 schema."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jobtrail.base.xmltext import carried
from jobtrail.bindings.uws.params import INPUT, XS_INT_MAX, iso
from jobtrail.jobs import results as result_files
from jobtrail.jobs.core import Job
from jobtrail.web.state import AppRequest
from lxml import etree
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

UWS_NS = "http://www.ivoa.net/xml/UWS/v1.0"
XLINK_NS = "http://www.w3.org/1999/xlink"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
JT_NS = "https://w3id.org/jobtrail/vocab#"
NSMAP = {"uws": UWS_NS, "xlink": XLINK_NS, "xsi": XSI_NS}
XML = "application/xml"


@dataclass(frozen=True)
class JobList:
    name: str
    profile: str


def base_url(request: AppRequest) -> str:
    base: str = request.state["engine"].config.base_url
    return base


def list_url(request: AppRequest, job_list: JobList) -> str:
    return f"{base_url(request)}uws/{job_list.name}"


def job_url(request: AppRequest, job_list: JobList, job: Job) -> str:
    return f"{list_url(request, job_list)}/{job.id}"


def _text(value: object) -> str:
    return value if isinstance(value, str) else str(value)


def parameters_of(job: Job) -> list[tuple[str, str]]:
    shown = [(INPUT.upper(), job.input)] if job.input else []
    return shown + [(k, _text(v)) for k, v in sorted(job.parameters.items())]


# --- documents -------------------------------------------------------------------------


def _el(parent: etree._Element, name: str, text: str | None = None, **attrs: str) -> Any:
    # a job another binding made may hold what XML cannot carry: U+FFFD in its place
    e = etree.SubElement(parent, f"{{{UWS_NS}}}{name}", {k: carried(v) for k, v in attrs.items()})
    if text is not None:
        e.text = carried(text)
    return e


def _nil(parent: etree._Element, name: str, value: str | None) -> None:
    e = _el(parent, name, value)
    if value is None:
        e.set(f"{{{XSI_NS}}}nil", "true")


def xml_bytes(root: etree._Element) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def job_document(request: AppRequest, job_list: JobList, job: Job) -> bytes:
    root = etree.Element(f"{{{UWS_NS}}}job", nsmap=NSMAP, version="1.1")
    _el(root, "jobId", job.id)
    if job.run_id is not None:
        _el(root, "runId", job.run_id)
    _nil(root, "ownerId", job.owner)
    _el(root, "phase", job.phase)
    _nil(root, "quote", iso(job.quote) if job.quote else None)
    _el(root, "creationTime", iso(job.created))
    _nil(root, "startTime", iso(job.started) if job.started else None)
    _nil(root, "endTime", iso(job.ended) if job.ended else None)
    # a job made through another binding may ask for more than an xs:int holds (68 years)
    _el(root, "executionDuration", str(min(job.execution_duration, XS_INT_MAX)))
    _nil(root, "destruction", iso(job.destruction) if job.destruction else None)
    root.append(parameters_element(job))
    root.append(results_element(request, job_list, job))
    if ended_with_error(job):
        assert job.error is not None
        summary = _el(root, "errorSummary", type=_error_type(job), hasDetail="true")
        _el(summary, "message", job.error.message)
    info = etree.SubElement(root, f"{{{UWS_NS}}}jobInfo", nsmap={"jt": JT_NS})
    for name, value in (("canonical", job.iri), ("profile", job.profile), ("list", job_list.name)):
        etree.SubElement(info, f"{{{JT_NS}}}{name}").text = carried(value)
    return xml_bytes(root)


def parameters_element(job: Job) -> etree._Element:
    root = etree.Element(f"{{{UWS_NS}}}parameters", nsmap=NSMAP)
    for name, value in parameters_of(job):
        _el(root, "parameter", value, id=name)
    return root


def results_element(request: AppRequest, job_list: JobList, job: Job) -> etree._Element:
    root = etree.Element(f"{{{UWS_NS}}}results", nsmap=NSMAP)
    for f in files_of(request):
        attrs = {f"{{{XLINK_NS}}}type": "simple", f"{{{XLINK_NS}}}href": f.iri}
        if f.size is not None:
            attrs["size"] = str(f.size)
        if f.media_type:
            attrs["mime-type"] = f.media_type
        _el(root, "result", id=f.name, **attrs)
    return root


def ended_with_error(job: Job) -> bool:
    """An ERROR job with its error, or one the service ABORTED saying why (its execution
    duration ran out, UWS 1.1 §2.1.4): both have an error summary and `/error`."""
    return job.phase in ("ERROR", "ABORTED") and job.error is not None


def _error_type(job: Job) -> str:
    """`transient` when trying again may succeed (the input was unavailable, time ran out)."""
    assert job.error is not None
    return "transient" if job.error.type in ("InputUnavailable", "TimeLimitExceeded") else "fatal"


def jobs_document(request: AppRequest, job_list: JobList, found: Sequence[Job]) -> bytes:
    root = etree.Element(f"{{{UWS_NS}}}jobs", nsmap=NSMAP, version="1.1")
    for job in found:
        ref = _el(
            root,
            "jobref",
            id=job.id,
            **{
                f"{{{XLINK_NS}}}type": "simple",
                f"{{{XLINK_NS}}}href": job_url(request, job_list, job),
            },
        )
        _el(ref, "phase", job.phase)
        if job.run_id is not None:
            _el(ref, "runId", job.run_id)
        _nil(ref, "ownerId", job.owner)
        _el(ref, "creationTime", iso(job.created))
    return xml_bytes(root)


def respond(
    body: bytes, job: Job | None = None, media_type: str = XML, vary: bool = False
) -> Response:
    """`vary`: the document is one of two renditions (`pages.py`: HTML for a browser)."""
    headers = {"Link": f'<{job.iri}>; rel="canonical"'} if job is not None else {}
    if vary:
        headers["Vary"] = "Accept"
    return Response(body, media_type=media_type, headers=headers)


FILES_KEY = "jobtrail.uws.files"  # the request's scope key for the files read


async def with_files(request: AppRequest, job: Job) -> None:
    """Read the job's result files into the request, for the documents that list them."""
    if job.results is None:
        request.scope[FILES_KEY] = []
        return
    store = request.state["engine"].jobs.store
    # An embedded read takes ~0.1 ms; through the threadpool a woken waiter would queue
    # behind the writers finishing jobs, which is most of its wake-up latency.
    if store.in_process:
        triples = store.read(job.results)
    else:
        triples = await run_in_threadpool(store.read, job.results)
    request.scope[FILES_KEY] = result_files.listed(triples, job.results)


def files_of(request: AppRequest) -> list[result_files.Listed]:
    """The result files `_with_files` read for this request (none if it did not)."""
    files: list[result_files.Listed] = request.scope.get(FILES_KEY, [])
    return files
