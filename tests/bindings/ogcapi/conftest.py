"""Fixtures of the OGC API - Processes tests: a job server, an input, and the standard's own
JSON schemas (Part 1: Core 1.0, vendored in tests/data/ogcapi-processes) that every JSON
document a test reads is validated against."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from jsonschema import Draft4Validator, FormatChecker
from referencing import Registry
from referencing.jsonschema import DRAFT4

from tests.conftest import DocumentServer, job_server

SCHEMAS = Path(__file__).parents[2] / "data" / "ogcapi-processes"
ROOT = "https://schemas.example/ogcapi-processes/1.0/"
"""Where the vendored schemas are registered: their relative `$ref`s resolve among them, and
nothing is fetched (the registry holds every one)."""
DATA = b"the bytes an OGC job checks\n"


def registry(part4: bool = False) -> Registry[Any]:
    """Part 1's schemas; `part4`: with Part 4's status codes (which add `created`)."""
    files = {p.name: p for p in sorted(SCHEMAS.glob("*.yaml"))}
    if part4:
        files["statusCode.yaml"] = SCHEMAS / "part4" / "statusCode.yaml"
    resources = [
        (ROOT + name, DRAFT4.create_resource(yaml.safe_load(p.read_text())))
        for name, p in files.items()
    ]
    return Registry().with_resources(resources)


_REGISTRIES = {False: registry(), True: registry(part4=True)}

BYTES = FormatChecker(formats=())
"""The one format the tests check: `byte` (base64). The standard's `inputValueNoObject` is
`oneOf` a string and a `binaryInputValue` (a string, format byte), so without this check any
string value of a result matches both and fails `oneOf`; with it, text matches the one. (A
base64 value still matches both: the schema's own ambiguity; those are checked by the tests.)"""


@BYTES.checks("byte", raises=(binascii.Error, ValueError))
def _is_base64(value: object) -> bool:
    if isinstance(value, str):
        base64.b64decode(value, validate=True)
    return True


def validate(document: Any, schema: str, part4: bool = False) -> None:
    """Fail unless `document` is valid against the standard's schema `schema` (a file name);
    `part4`: Part 4's status codes allowed."""
    validator = Draft4Validator(
        {"$ref": ROOT + schema}, registry=_REGISTRIES[part4], format_checker=BYTES
    )
    problems = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
    assert not problems, f"not a valid {schema}: {problems}"


SCHEMA_OF: list[tuple[Callable[[str, str], bool], str]] = [
    (lambda path, method: path.endswith("/ogcapi"), "landingPage.yaml"),
    (lambda path, method: path.endswith("/conformance"), "confClasses.yaml"),
    (lambda path, method: path.endswith("/ogcapi/processes"), "processList.yaml"),
    (
        lambda path, method: "/ogcapi/processes/" in path and "/execution" not in path,
        "process.yaml",
    ),
    (lambda path, method: path.endswith("/ogcapi/jobs"), "jobList.yaml"),
    (lambda path, method: path.endswith("/results"), "results.yaml"),
    (lambda path, method: "/ogcapi/jobs/" in path, "statusInfo.yaml"),
]


def schema_for(response: httpx.Response) -> str | None:
    """The standard's schema for an answer under /ogcapi/: an exception for an error, else
    by its path (execution: a statusInfo when 201, results when 200)."""
    path, method = response.url.path, response.request.method
    if response.status_code >= 400:
        return "exception.yaml"
    if path.endswith(("/inputs", "/prov")):
        return None  # Part 4's (draft): checked by the tests themselves
    if path.endswith("/ogcapi/jobs") and method == "POST":
        return "statusInfo.yaml"
    if path.endswith("/results") and method == "POST":
        return "statusInfo.yaml"
    if path.endswith("/execution") and b'"raw"' in response.request.content:
        return None  # the result file itself
    if path.endswith("/execution"):
        return "statusInfo.yaml" if response.status_code == 201 else "results.yaml"
    return next((schema for test, schema in SCHEMA_OF if test(path, method)), None)


def validating(base: str) -> httpx.Client:
    """An httpx client whose every JSON answer under /ogcapi/ is validated against the
    standard's schema for it: a test that reads a document has also checked it."""

    def check(response: httpx.Response) -> None:
        response.read()
        kind = response.headers.get("content-type", "")
        if "/ogcapi" in str(response.url) and "json" in kind:
            schema = schema_for(response)
            if schema is not None:  # a job not started is Part 4's: status created
                validate(response.json(), schema, part4='"created"' in response.text)

    return httpx.Client(base_url=base, timeout=30, event_hooks={"response": [check]})


@pytest.fixture(scope="session")
def ogc_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("ogc-served")
    with job_server(root / "data", root / "files", uws_max_wait="10") as base:
        yield base


@pytest.fixture
def client(ogc_served: str) -> Iterator[httpx.Client]:
    with validating(ogc_served) as c:
        yield c


@pytest.fixture(scope="module")
def inputs(documents: DocumentServer) -> dict[str, str]:
    return {
        "good": documents.put("/ogc/input.txt", DATA, "text/plain"),
        "missing": documents.url + "/ogc/no-such-file.txt",  # 404: the job fails
    }
