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
        (  # a form body kept as a JSON string (a job-change record's request)
            '{"body": "pass=TOKEN&url=x"}',
            '{"body": "pass=REDACTED&url=x"}',
            ["pass"],
        ),
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


def test_an_http_message_is_redacted_in_every_part() -> None:
    body = b'{"locator": "http://reader:hunter2@host/x", "note": "kept"}'
    raw = (
        b"POST /mcma/Job?pass=tok123 HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer abc\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    ) + body
    out, found = redact.message(raw)
    assert found == ["authorization", "pass", "userinfo"]
    head, _, rest = out.partition(b"\r\n\r\n")
    for secret in (b"tok123", b"abc", b"hunter2"):
        assert secret not in out
    assert b"kept" in rest and f"Content-Length: {len(rest)}".encode() in head
    assert b"Jobtrail-Redacted: authorization, pass, userinfo" in head
    again, more = redact.message(out)  # redacting twice changes nothing
    assert again == out and more == []


def test_a_message_without_secrets_is_left_as_it_is() -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    assert redact.message(raw) == (raw, [])
