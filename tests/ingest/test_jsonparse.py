"""Strict JSON with two tolerated, noted deviations (ingest/jsonparse.py)."""

from __future__ import annotations

import pytest
from jobtrail.base.errors import MalformedInput
from jobtrail.ingest.jsonparse import decode, parse_json


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ('{"a": 1\n "b": 2}', 2, 2),  # missing comma
        ('{\n  "a": tru\n}', 2, 8),  # bad literal
        ("[1, 2", 1, 6),  # unterminated
        ('{"a": 1}}', 1, 9),  # extra data
        ("", 1, 1),
        ('{\n\t"a": "\x01"\n}', 2, 8),  # raw control character in a string
        ('{"a": 1,,}', 1, 9),  # two commas: not a trailing comma
    ],
    ids=[
        "missing-comma",
        "bad-literal",
        "unterminated",
        "extra-data",
        "empty",
        "control-char",
        "double-comma",
    ],
)
def test_malformed_json_has_line_and_column(text, line, column) -> None:
    with pytest.raises(MalformedInput) as raised:
        parse_json(text, "input.json")
    location = raised.value.location
    assert (location.source, location.line, location.column) == ("input.json", line, column)
    assert raised.value.message.startswith("not valid JSON")
    assert f"input.json, line {line}, column {column}" in raised.value.describe()


@pytest.mark.parametrize(
    ("data", "offset", "line", "column"),
    [
        (b'{"a": "\xff"}', 7, 1, 8),
        (b'{\n  "a": "caf\xe9"\n}', 13, 2, 12),  # latin-1, not UTF-8
        (b'{"a": "\xe2\x82"}', 7, 1, 8),  # a truncated UTF-8 sequence
    ],
)
def test_non_utf8_bytes_give_the_offset(data, offset, line, column) -> None:
    for parse in (parse_json, decode):
        with pytest.raises(MalformedInput) as raised:
            parse(data, "input.json")
        assert f"at offset {offset}" in raised.value.message
        assert f"0x{data[offset]:02x}" in raised.value.message
        assert (raised.value.location.line, raised.value.location.column) == (line, column)


@pytest.mark.parametrize("data", ['{"a": 1}', b'{"a": 1}'])
def test_bytes_and_text_both_parse(data) -> None:
    assert parse_json(data, "x") == ({"a": 1}, [])


@pytest.mark.parametrize(
    ("text", "value", "where"),
    [
        ('{"a": 1,}', {"a": 1}, ["line 1 column 8"]),
        ("[1, 2, ]", [1, 2], ["line 1 column 6"]),
        ('{\n  "a": [1,\n  ],\n}', {"a": [1]}, ["line 2 column 10", "line 3 column 4"]),
        # commas inside strings are text, not syntax, and are left alone
        ('{"a": "x,}", "b": "y,]",}', {"a": "x,}", "b": "y,]"}, ["line 1 column 24"]),
        ('{"a": "say \\",}\\" twice",}', {"a": 'say ",}" twice'}, ["line 1 column 25"]),
    ],
    ids=["object", "array", "nested-multiline", "in-strings", "escaped-quote"],
)
def test_trailing_commas_are_tolerated_and_noted(text, value, where) -> None:
    parsed, notes = parse_json(text, "x")
    assert parsed == value
    assert notes == [f"trailing comma tolerated at {', '.join(where)}"]


def test_commas_in_strings_of_valid_json_are_untouched() -> None:
    text = '{"a": "x,}", "b": ",]"}'
    assert parse_json(text, "x") == ({"a": "x,}", "b": ",]"}, [])


@pytest.mark.parametrize(
    ("text", "value", "note"),
    [
        ('{"k": 1, "k": 1}', {"k": 1}, "key 'k' appears twice in one object, with the same value"),
        (
            '{"k": 1, "k": 2}',
            {"k": 2},
            "key 'k' appears twice in one object, with a different value; the last is used",
        ),
        (
            '{"o": {"k": [1], "k": [1]}}',
            {"o": {"k": [1]}},
            "key 'k' appears twice in one object, with the same value",
        ),
    ],
)
def test_repeated_keys_are_tolerated_and_noted(text, value, note) -> None:
    assert parse_json(text, "x") == (value, [note])


def test_the_same_key_in_two_objects_is_not_repeated() -> None:
    assert parse_json('[{"k": 1}, {"k": 1}]', "x") == ([{"k": 1}, {"k": 1}], [])


@pytest.mark.parametrize("text", ['{"a": NaN}', '{"a": Infinity}', "[-Infinity]"])
def test_non_json_constants_are_refused(text) -> None:
    with pytest.raises(MalformedInput):
        parse_json(text, "x")


@pytest.mark.parametrize("text", ["[,]", "{,}", '{"a": [,]}'])
def test_a_lone_comma_is_not_a_trailing_comma(text) -> None:
    with pytest.raises(MalformedInput):
        parse_json(text, "x")


def test_a_real_error_after_a_trailing_comma_is_the_one_reported() -> None:
    with pytest.raises(MalformedInput) as raised:
        parse_json('{"a": [1,],\n "b": }', "x")
    assert (raised.value.location.line, raised.value.location.column) == (2, 7)


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [('{"a": NaN}', 1, 7), ("[1,\n -Infinity]", 2, 2), ('["NaN", Infinity]', 1, 9)],
)
def test_non_json_constants_are_located(text, line, column) -> None:
    # a constant inside a string is text: the one reported is the bare one
    with pytest.raises(MalformedInput) as raised:
        parse_json(text, "x")
    assert (raised.value.location.line, raised.value.location.column) == (line, column)


@pytest.mark.parametrize("text", ['{"a": 1e400}', "[-1e999]", '{"a": 1.5E+309}'])
def test_numbers_beyond_a_double_are_refused_not_read_as_infinity(text) -> None:
    with pytest.raises(MalformedInput) as raised:
        parse_json(text, "x")
    assert "out of range" in raised.value.message
    assert raised.value.location.line == 1


def test_large_integers_and_ordinary_floats_are_kept() -> None:
    assert parse_json("[1e308, 12345678901234567890123, -0.5]", "x") == (
        [1e308, 12345678901234567890123, -0.5],
        [],
    )


@pytest.mark.parametrize("data", [b'\xef\xbb\xbf{"a": 1}', '\ufeff{"a": 1}'])
def test_a_byte_order_mark_is_tolerated_and_noted(data) -> None:
    value, notes = parse_json(data, "x")
    assert value == {"a": 1}
    assert len(notes) == 1 and "byte order mark" in notes[0]


def test_positions_after_a_byte_order_mark_are_the_inputs_own() -> None:
    with pytest.raises(MalformedInput) as raised:
        parse_json('\ufeff{"a": 1\n "b": 2}', "x")
    assert (raised.value.location.line, raised.value.location.column) == (2, 2)


def test_repeated_key_is_noted_once_when_a_trailing_comma_is_also_there() -> None:
    _, notes = parse_json('{"o": {"k": 1, "k": 1}, "p": [1,]}', "x")
    assert sum("appears twice" in n for n in notes) == 1


@pytest.mark.parametrize(
    "text, limit",
    [
        ("[" * 100_000, 512),
        ("[" * 513 + "]" * 513, 512),
        ('{"n": ' + "9" * 5000 + "}", 1000),
        ("[-" + "1" * 1000 + "]", 1000),
        ("[1e" + "1" * 1000 + "]", 1000),
    ],
    ids=["unclosed", "513-deep", "5000-digits", "1001-characters", "long-exponent"],
)
def test_depth_and_number_limits(text: str, limit: int) -> None:
    with pytest.raises(MalformedInput, match=f"limit of {limit:,}") as e:
        parse_json(text, "x")
    assert e.value.details["limit"] == limit


def test_within_the_limits() -> None:
    assert parse_json("[" * 512 + "]" * 512, "x")[0] is not None
    assert parse_json("9" * 1000, "x")[0] == int("9" * 1000)
