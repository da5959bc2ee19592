"""The outputs an execute request asks for, and how (OGC API - Processes 1.0, §7.11.2 and
the results document): by value or by reference, all of them or a selection.

A job's outputs are `results` (its OAI-ORE aggregation, RDF) and each file it made, named by
its file name. An execute request without `outputs` gets every one by reference, the way
every other view of the job links them. With `outputs`, only the outputs it names are
given, each as its `transmissionMode` says (`value` when it says nothing: the standard's
default):

- by value, a text file (text/*, JSON, XML, RDF) as its text, any other file as base64
  (`encoding: base64`), both qualified with their `mediaType`; the aggregation in the RDF
  syntax its `format.mediaType` names (Turtle when it names none);
- by reference, a link `{href, type, rel}`.

A file larger than `INLINE_MAX` is given by reference even when asked by value, and its link's
title says why: the results document stays a size a client can hold. The selection is kept
beside the job (`{job}/ogcapi`, `jt:ogcOutputs`, the JSON it was given), so an asynchronous
job's results honour it when they are asked for, from any process.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from jobtrail.base import nt
from jobtrail.base.errors import InputError
from jobtrail.base.terms import JT
from jobtrail.jobs import results as result_files
from jobtrail.jobs.core import Job
from jobtrail.store import Store, Triple
from jobtrail.web import conneg, render

RESULTS = "results"
"""The output that is the job's aggregation; every other output is one of its files."""
INLINE_MAX = 16 * 1024 * 1024
"""The largest file given by value, in bytes."""
RDF_FORMATS = (conneg.TURTLE, conneg.JSONLD, conneg.RDFXML, conneg.NTRIPLES)
"""The syntaxes the aggregation is given in by value."""
MODES = ("value", "reference")
_TERM = "ogcOutputs"
_TEXT_TYPES = ("application/json", "application/xml", "application/n-triples", "text/")
_TEXT_SUFFIXES = ("+json", "+xml")


@dataclass(frozen=True)
class Wanted:
    """One output as an execute request asks for it."""

    mode: str
    media_type: str | None = None


Selection = Mapping[str, Wanted]
"""The outputs asked for, by id; empty: every output, by reference."""


def selection_of(doc: Mapping[str, Any]) -> dict[str, Wanted]:
    """The `outputs` of an execute request; InputError naming what is wrong in it."""
    given = doc.get("outputs", {})
    if not isinstance(given, Mapping):
        raise InputError("outputs is an object, by output id")
    out: dict[str, Wanted] = {}
    for name, spec in given.items():
        if name != RESULTS and not result_files.safe_name(name):
            raise InputError(
                f"there can be no output {name!r}",
                hint=f"outputs are {RESULTS} and the job's files, each by its file name",
            )
        if spec is None:
            spec = {}
        if not isinstance(spec, Mapping):
            raise InputError(f"output {name!r} is an object: transmissionMode, format")
        mode = spec.get("transmissionMode", "value")
        if mode not in MODES:
            raise InputError(
                f"output {name!r}: transmissionMode is value or reference, not {mode!r}"
            )
        fmt = spec.get("format", {})
        if not isinstance(fmt, Mapping) or not isinstance(fmt.get("mediaType", ""), str):
            raise InputError(f"output {name!r}: format is an object with a mediaType string")
        media_type = fmt.get("mediaType") or None
        if name == RESULTS and media_type is not None and _rdf(media_type) is None:
            raise InputError(
                f"output {RESULTS} is RDF: {media_type!r} is not a syntax it is given in",
                hint="mediaType: " + ", ".join(f.media_type for f in RDF_FORMATS),
            )
        out[name] = Wanted(str(mode), media_type)
    return out


def _rdf(media_type: str) -> conneg.Format | None:
    asked = media_type.split(";")[0].strip().lower()
    return next((f for f in RDF_FORMATS if asked in (f.media_type, *f.aliases)), None)


# --- kept beside the job ------------------------------------------------------------------


def asked(wanted: Wanted) -> dict[str, Any]:
    """One output as an execute request says it."""
    out: dict[str, Any] = {"transmissionMode": wanted.mode}
    if wanted.media_type:
        out["format"] = {"mediaType": wanted.media_type}
    return out


def triples(side_graph: str, selection: Selection) -> list[Triple]:
    """The selection as kept in the job's side graph (none for no selection)."""
    if not selection:
        return []
    kept = {name: asked(w) for name, w in selection.items()}
    return [(nt.iri(side_graph), nt.jt(_TERM), nt.json_lit(kept))]


def kept(side: Sequence[ox.Triple]) -> dict[str, Wanted]:
    """The selection read back from the job's side graph (empty when none was made)."""
    for t in side:
        if t.predicate.value == str(JT[_TERM]) and isinstance(t.object, ox.Literal):
            return selection_of({"outputs": json.loads(t.object.value)})
    return {}


# --- the results document -----------------------------------------------------------------


def _is_text(media_type: str | None) -> bool:
    kind = (media_type or "").split(";")[0].strip().lower()
    return kind.startswith(_TEXT_TYPES) or kind.endswith(_TEXT_SUFFIXES) or _rdf(kind) is not None


def _link(href: str, media_type: str, title: str | None = None) -> dict[str, str]:
    out = {"href": href, "type": media_type, "rel": "related"}
    if title:
        out["title"] = title
    return out


def document(
    job: Job,
    files: Sequence[result_files.Listed],
    selection: Selection,
    *,
    aggregation: Callable[[], Sequence[ox.Triple]],
    read: Callable[[str], bytes | None],
    base: str,
) -> dict[str, Any]:
    """The results document: the outputs asked for (all, by reference, for none asked), each
    by value or by reference. `aggregation` reads the results graph, `read` a file's bytes
    (None once it is gone); both only for outputs asked by value."""
    by_name = {f.name: f for f in files}
    wanted = dict(selection) or {
        **({RESULTS: Wanted("reference")} if job.results else {}),
        **{f.name: Wanted("reference") for f in files},
    }
    out: dict[str, Any] = {}
    for name, w in wanted.items():
        if name == RESULTS:
            if job.results is None:
                continue
            fmt = _rdf(w.media_type) if w.media_type else conneg.TURTLE
            assert fmt is not None  # checked when the request came
            if w.mode == "reference":
                out[name] = _link(job.results, fmt.media_type)
                continue
            body = render.rdf(aggregation(), fmt, graph=job.results, base=base)
            out[name] = {"value": body.decode("utf-8"), "mediaType": fmt.media_type}
            continue
        listed = by_name.get(name)
        if listed is None:
            continue  # the job made no such file: nothing to give
        media_type = listed.media_type or "application/octet-stream"
        if w.mode == "reference":
            out[name] = _link(listed.iri, media_type)
            continue
        if listed.size is not None and listed.size > INLINE_MAX:
            out[name] = _link(
                listed.iri,
                media_type,
                f"by reference: {listed.size:,} bytes is more than the {INLINE_MAX:,} "
                "given by value",
            )
            continue
        data = read(name)
        if data is None:
            continue
        if _is_text(media_type):
            try:
                out[name] = {"value": data.decode("utf-8"), "mediaType": media_type}
                continue
            except UnicodeDecodeError:
                pass
        out[name] = {
            "value": base64.b64encode(data).decode("ascii"),
            "mediaType": media_type,
            "encoding": "base64",
        }
    return out


def side_graph(job: Job) -> str:
    """Where the selection is kept: the binding's graph beside the job."""
    return f"{job.iri}/ogcapi"


def results_of(store: Store, files: Path, job: Job, base: str) -> dict[str, Any]:
    """A job's results document, as its execute request asked for it (reads the store and,
    for outputs by value, the result files: call it in a thread)."""
    selection = kept(store.read(side_graph(job)))
    if job.results is None:
        listed: list[result_files.Listed] = []
        graph: Sequence[ox.Triple] = []
    else:
        graph = store.read(job.results)
        listed = result_files.listed(graph, job.results)

    def read(name: str) -> bytes | None:
        path = result_files.file_path(files, job.id, name)
        return path.read_bytes() if path is not None else None

    return document(job, listed, selection, aggregation=lambda: graph, read=read, base=base)
