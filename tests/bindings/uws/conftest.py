"""Fixtures of the UWS tests: a client that validates every UWS document it receives
against the official UWS 1.1 schema, and an input for the jobs to work on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from lxml import etree

from tests.conftest import DocumentServer

DATA = b"the bytes a fixity job checks\n"


def validating(base: str, schema: Any) -> httpx.Client:
    """An httpx client on `base` whose response hook validates each XML document under
    /uws/ against `schema`: a test that reads a document has also checked it."""

    def validate(response: httpx.Response) -> None:
        response.read()
        if "xml" in response.headers.get("content-type", "") and "/uws/" in str(response.url):
            doc = etree.fromstring(response.content)
            assert schema.validate(doc), f"{response.url}: {schema.error_log}"

    return httpx.Client(base_url=base, timeout=15, event_hooks={"response": [validate]})


@pytest.fixture
def client(uws_served: str, uws_schema: Any) -> Iterator[httpx.Client]:
    with validating(uws_served, uws_schema) as c:
        yield c


@pytest.fixture(scope="module")
def inputs(documents: DocumentServer) -> dict[str, str]:
    return {"good": documents.put("/uws/input.txt", DATA, "text/plain")}
