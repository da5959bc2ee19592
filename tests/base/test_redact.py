"""Secrets are replaced in place wherever they appear; nothing else changes."""

from __future__ import annotations

import pytest
from jobtrail.base import redact


@pytest.mark.parametrize(
    ("given", "expected", "names"),
    [
        (
            "https://ann:s3cret@h.example/x.doc",
            "https://ann:REDACTED@h.example/x.doc",
            ["userinfo"],
        ),
        ("http://h/x?pass=TOKEN&a=1", "http://h/x?pass=REDACTED&a=1", ["pass"]),
        ("url=http%3A%2F%2Fh%2Fx&pass=TOKEN", "url=http%3A%2F%2Fh%2Fx&pass=REDACTED", ["pass"]),
        (
            '{"url": "http://h/x", "pass": "TO\\"KEN"}',
            '{"url": "http://h/x", "pass": "REDACTED"}',
            ["pass"],
        ),
        (
            "POST /jobs?token=abc HTTP/1.1",
            "POST /jobs?token=abc HTTP/1.1".replace("abc", "REDACTED"),
            ["token"],
        ),
        ("http://ann@h/x?passage=1&compass=2", "http://ann@h/x?passage=1&compass=2", []),
        ("http://h/x?pass=", "http://h/x?pass=", []),
        (
            "url=https%3A%2F%2Fann%3As3cret%40h%2Fx&a=1",
            "url=https%3A%2F%2Fann%3AREDACTED%40h%2Fx&a=1",
            ["userinfo"],
        ),
        ("url=https%3A%2F%2Fh%2Fa%3Ab%40c", "url=https%3A%2F%2Fh%2Fa%3Ab%40c", []),
        ("https://ann:REDACTED@h/x", "https://ann:REDACTED@h/x", []),
    ],
)
def test_secrets_in_text_are_replaced_in_place(given: str, expected: str, names: list[str]) -> None:
    assert redact.text(given) == (expected, names)


def test_headers_keep_their_names_and_lose_their_values() -> None:
    out, names = redact.headers(
        [("Authorization", "Basic YTpi"), ("Accept", "text/turtle"), ("Referer", "http://a:b@h/")]
    )
    assert out == [
        ("Authorization", "REDACTED"),
        ("Accept", "text/turtle"),
        ("Referer", "http://a:REDACTED@h/"),
    ]
    assert names == ["authorization", "userinfo"]


def test_bytes_that_are_not_utf8_are_left_alone() -> None:
    assert redact.data(b"\xff pass=x") == (b"\xff pass=x", [])
    assert redact.data(b"pass=x") == (b"pass=REDACTED", ["pass"])
