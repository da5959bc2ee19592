"""web/html.py: which targets become links (tests/security/test_browser.py checks pages)."""

from __future__ import annotations

import pyoxigraph as ox
import pytest
from jobtrail.web import html


@pytest.mark.parametrize(
    "target",
    [
        "http://example.org/x",
        "HTTPS://example.org/x?y#z",
        "/jobs/1.html",
        "#hop-2",
        "?page=2",
        "profiles/x.html",
    ],
)
def test_http_and_relative_targets_are_links(target: str) -> None:
    assert html.safe_href(target) == target
    assert html.link(target, "t").startswith("<a href=")


@pytest.mark.parametrize(
    "target",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "java\tscript:alert(1)",
        "java\nscript:alert(1)",
        " javascript:alert(1)",
        "\x01javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
        "urn:uuid:0f5c0b6e-0000-4000-8000-000000000000",
        "",
    ],
)
def test_other_targets_are_text(target: str) -> None:
    assert html.safe_href(target) is None
    shown = html.link(target, "<b>")
    assert "href" not in shown and "<b>" not in shown and "&lt;b&gt;" in shown


def test_a_term_is_escaped_either_way() -> None:
    assert 'href="javascript' not in html.term(ox.NamedNode("javascript:alert(1)"), "/")
    linked = html.term(ox.NamedNode("http://example.org/?a=1&b=2"), "/")
    assert 'href="http://example.org/?a=1&amp;b=2"' in linked
