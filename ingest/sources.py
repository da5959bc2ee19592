"""Where messages come from: files, directories, JSON Lines, dumps, standard input.

Everything here is lazy: a directory is walked file by file and a JSON Lines
stream line by line, so loading a million messages needs no more memory than
loading one batch.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import IO

from jobtrail.base.errors import InputError, JobtrailError, Location
from jobtrail.ingest import openlineage
from jobtrail.ingest.message import Incoming, Message
from jobtrail.ingest.rdf import DATASETS, EXTENSIONS, dataset_graphs

JSONL_SUFFIXES = {".jsonl", ".ndjson"}
BOM = b"\xef\xbb\xbf"  # kept in the bytes; the JSON reader notes it


@dataclass
class Unreadable:
    """A source that failed before any reader saw it (a file we cannot open)."""

    source: str
    error: JobtrailError
    size: int = 0


Item = Incoming | Message | Unreadable


def from_paths(paths: list[str], media_type: str | None = None) -> Iterator[Item]:
    for p in paths:
        if p == "-":
            yield from from_stream(sys.stdin.buffer, "<stdin>", media_type)
            continue
        path = Path(p)
        if path.is_dir():
            for file in _walk(path):
                yield from from_file(file, media_type)
        elif path.exists():
            yield from from_file(path, media_type)
        else:
            yield Unreadable(p, InputError("no such file or directory", location=Location(p)))


def _walk(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith("."):
                yield Path(dirpath) / name


def from_file(path: Path, media_type: str | None = None) -> Iterator[Item]:
    source = str(path)
    suffix = path.suffix.lower()
    try:
        if media_type in DATASETS or (media_type is None and EXTENSIONS.get(suffix) in DATASETS):
            with open(path, "rb") as f:
                for graph in dataset_graphs(f, media_type or EXTENSIONS[suffix], source):
                    yield Message(iri=graph.iri, kind="graph", graph=graph, source=source)
            return
        if suffix in JSONL_SUFFIXES:
            with open(path, "rb") as f:
                yield from _lines(f, source)
            return
        data = path.read_bytes()
        events = _events(data, source) if suffix == ".json" else None
        yield from events or [Incoming(data, source, media_type)]
    except OSError as e:
        error = InputError(f"cannot read: {e.strerror or e}", location=Location(source))
        yield Unreadable(source, error)
    except JobtrailError as e:
        yield Unreadable(source, e)


def from_stream(stream: IO[bytes], source: str, media_type: str | None = None) -> Iterator[Item]:
    """One document, or JSON Lines when the first line is a whole JSON value.

    Lines of JSON Lines are read alike, the first as every other (numbered as
    the stream's lines, blank ones counted); one document keeps every byte.
    """
    skipped = b""
    first = stream.readline()
    while first and not first.strip():
        skipped += first
        first = stream.readline()
    head = first.removeprefix(BOM) if not skipped else first
    if media_type is None and head.lstrip()[:1] == b"{" and _is_json(head):
        yield from _lines(chain([first], stream), source, start=skipped.count(b"\n") + 1)
        return
    yield Incoming(skipped + first + stream.read(), source, media_type)


def _lines(stream: Iterable[bytes], source: str, start: int = 1) -> Iterator[Incoming]:
    for n, line in enumerate(stream, start=start):
        if line.strip():
            yield Incoming(line.rstrip(b"\r\n"), f"{source}:{n}", "application/json")


def _events(data: bytes, source: str) -> list[Incoming] | None:
    """A `.json` file holding an array of OpenLineage events (as a pipeline's export holds
    them): each event a message of its own; None for any other file."""
    if data.lstrip()[:1] != b"[":
        return None
    try:
        doc = json.loads(data)
    except ValueError:
        return None
    if not doc or not all(openlineage.is_openlineage(e) for e in doc):
        return None
    return openlineage.elements(doc, source)


def _is_json(line: bytes) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True
