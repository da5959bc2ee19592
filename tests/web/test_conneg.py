"""Content negotiation: q-values, wildcards, specificity, old names, extensions, 406."""

from __future__ import annotations

import pytest
from jobtrail.base.errors import NotAcceptable
from jobtrail.web import conneg
from jobtrail.web.conneg import ATOM, HTML, JSONLD, N3, RDF_FORMATS, RDFXML, TURTLE

JOB_FORMATS = (ATOM, *RDF_FORMATS, HTML)


@pytest.mark.parametrize(
    ("accept", "default", "expected"),
    [
        (None, ATOM, ATOM),  # no Accept: the route's default (Atom for jobs, as the seed says)
        ("", TURTLE, TURTLE),
        ("*/*", ATOM, ATOM),
        ("text/rdf+n3", ATOM, N3),  # the seed's legacy name
        ("text/rdf+n3;charset=utf-8", ATOM, N3),
        ("application/rdf+xml", ATOM, RDFXML),
        (
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            ATOM,
            HTML,
        ),  # a browser
        ("application/ld+json;q=0.5, text/turtle", ATOM, TURTLE),
        ("text/turtle;q=0.2, application/ld+json;q=0.9", TURTLE, JSONLD),
        ("text/*;q=0.5, text/n3;q=0.9", TURTLE, N3),  # the specific range beats the wildcard
        (
            "text/*, text/turtle;q=0",
            TURTLE,
            N3,
        ),  # q=0 refuses even the default; next text/* in order
        ("application/*", ATOM, ATOM),  # ties go to the default
        ("image/png, */*;q=0.1", ATOM, ATOM),
        ("garbage, text/turtle", ATOM, TURTLE),  # a malformed range is skipped
    ],
)
def test_negotiate(accept: str | None, default: conneg.Format, expected: conneg.Format) -> None:
    assert conneg.negotiate(accept, JOB_FORMATS, default) is expected


@pytest.mark.parametrize("accept", ["image/png", "text/plain", "application/pdf;q=1, */*;q=0"])
def test_not_acceptable_lists_what_is_available(accept: str) -> None:
    with pytest.raises(NotAcceptable) as caught:
        conneg.negotiate(accept, JOB_FORMATS, ATOM)
    assert caught.value.status == 406
    assert "application/atom+xml" in caught.value.details["available"]
    assert "text/turtle" in (caught.value.hint or "")


@pytest.mark.parametrize(
    ("path", "base", "fmt"),
    [
        ("/jobs/1.rdf", "/jobs/1", RDFXML),
        ("/jobs/1.atom", "/jobs/1", ATOM),
        ("/jobs/1.ttl", "/jobs/1", TURTLE),
        ("/jobs/1.N3", "/jobs/1", N3),
        ("/jobs/1", "/jobs/1", None),
        ("/jobs/v1.2/x", "/jobs/v1.2/x", None),  # a dot in a directory is not an extension
        ("/jobs/1.exe", "/jobs/1.exe", None),
    ],
)
def test_extension_is_an_explicit_choice(path: str, base: str, fmt: conneg.Format | None) -> None:
    assert conneg.split_extension(path) == (base, fmt)


def test_content_type_carries_a_charset_for_text() -> None:
    assert TURTLE.content_type() == "text/turtle; charset=utf-8"
    assert JSONLD.content_type() == "application/ld+json; charset=utf-8"
