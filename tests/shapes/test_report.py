"""The validation report people read: shapes/report.py, as both validators fill it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from jobtrail.shapes import validate, validate_full
from jobtrail.shapes.report import INFO, VIOLATION, WARNING, Report, Result

VALIDATORS = {"fast": validate, "full": validate_full}
JT = "https://w3id.org/jobtrail/vocab#"
PROV = "http://www.w3.org/ns/prov#"


@pytest.fixture
def placeholder_message(message_of: Callable[..., Any], seed004_messages: Any) -> Any:
    """Seed 004's fifth message: a placeholder UUID label and two non-hex "UUIDs" (warnings)."""
    return message_of(seed004_messages[4].data, source="seed004-5")


@pytest.fixture
def untimed_message(message_of: Callable[..., Any], seed004_messages: Any) -> Any:
    """Seed 004's first message without its timestamp (a violation)."""
    doc = json.loads(seed004_messages[0].data)
    del doc["timestamp"]
    return message_of(json.dumps(doc), source="seed004-1-untimed")


@pytest.mark.parametrize("which", list(VALIDATORS))
def test_text_names_focus_path_and_message_of_a_warning(
    which: str, placeholder_message: Any
) -> None:
    report = VALIDATORS[which](placeholder_message.all_triples())
    text = report.text()
    label = next(r for r in report.results if r.path == f"{JT}uuidLabel")
    line = next(line for line in text.splitlines() if "jt:uuidLabel" in line)
    assert line.startswith("Warning: ")
    assert label.focus in line  # the UUIDs entry, in full
    assert "looks like a placeholder" in line and label.message in line
    assert '"<name for caselaw>-UUID"' in line  # the value
    # a node-level result has no path: "Warning: <focus>: <message>"
    assert "Warning: urn:uuid:0001d50d-a1fc-46c0-a6c7-ebc8309cfag3: not a UUID" in text


@pytest.mark.parametrize("which", list(VALIDATORS))
def test_text_names_focus_path_and_message_of_a_violation(which: str, untimed_message: Any) -> None:
    report = VALIDATORS[which](untimed_message.all_triples())
    assert not report.conforms
    (line,) = report.text(indent="  ").splitlines()
    assert line == (
        f"  Violation: {untimed_message.iri} prov:generatedAtTime: the message has no timestamp "
        "that reads as a time (epoch seconds, milli-, micro- or nanoseconds, or ISO 8601)"
    )


def test_text_lists_violations_before_warnings() -> None:
    report = Report(
        [
            Result("urn:a", None, "only a warning", WARNING),
            Result("urn:b", f"{JT}reference", "a violation", VIOLATION),
            Result("urn:c", None, "only information", INFO),
        ]
    )
    lines = report.text().splitlines()
    assert lines[0] == "Violation: urn:b jt:reference: a violation"
    assert sorted(lines[1:]) == ["Info: urn:c: only information", "Warning: urn:a: only a warning"]


@pytest.mark.parametrize("which", list(VALIDATORS))
def test_as_json_is_json_with_severity_names(
    which: str, placeholder_message: Any, untimed_message: Any
) -> None:
    for message in (placeholder_message, untimed_message):
        report = VALIDATORS[which](message.all_triples())
        items = json.loads(json.dumps(report.as_json()))
        assert len(items) == len(report.results) > 0
        for item, result in zip(items, report.results, strict=True):
            assert item["severity"] in ("Violation", "Warning")
            assert item["severity"] == result.severity_name
            assert item["focusNode"] == result.focus
            assert item["message"] == result.message
            assert item.get("resultPath") == result.path
            assert None not in item.values()


def test_as_json_leaves_out_what_is_unknown() -> None:
    (item,) = Report([Result("urn:a", None, "m", INFO)]).as_json()
    assert item == {"severity": "Info", "focusNode": "urn:a", "message": "m"}


@pytest.mark.parametrize("which", list(VALIDATORS))
def test_warnings_do_not_make_a_message_fail(which: str, placeholder_message: Any) -> None:
    report = VALIDATORS[which](placeholder_message.all_triples())
    assert report.results and report.conforms
    assert report.warnings == report.results and report.violations == []


def test_conforms_counts_violations_only() -> None:
    warning = Result("urn:a", f"{PROV}wasAttributedTo", "w", WARNING)
    info = Result("urn:a", None, "i", INFO)
    violation = Result("urn:b", None, "v")
    assert Report([]).conforms
    assert Report([warning, info]).conforms
    assert not Report([warning, violation]).conforms
    report = Report([warning, info, violation])
    assert report.violations == [violation] and report.warnings == [warning, info]


def test_result_key_is_focus_path_severity() -> None:
    r = Result("urn:a", f"{JT}uuid", "message", WARNING, shape="s", component="c", value="v")
    assert r.key() == ("urn:a", f"{JT}uuid", WARNING)
    assert r.key() == Result("urn:a", f"{JT}uuid", "another message", WARNING).key()
    assert Result("urn:a", None, "m").severity_name == "Violation"
    assert Result("urn:a", None, "m", "urn:custom-severity").severity_name == "urn:custom-severity"


def test_both_validators_write_values_alike(placeholder_message: Any) -> None:
    triples = placeholder_message.all_triples()
    fast = sorted((r.key(), r.value) for r in validate(triples).results)
    full = sorted((r.key(), r.value) for r in validate_full(triples).results)
    assert fast == full
