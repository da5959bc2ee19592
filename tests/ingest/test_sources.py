"""Where messages come from (ingest/sources.py): files, directories, JSON Lines, streams."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest
from jobtrail.base.errors import InputError
from jobtrail.ingest import sources
from jobtrail.ingest.message import Incoming
from jobtrail.ingest.sources import Unreadable

LINES = [b'{"n": 1}', b'{"n": 2, "s": "a, b"}', b'{"n": 3}']


def make_tree(root: Path, files: list[str]) -> None:
    for name in files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f'{{"file": "{name}"}}')


# ---------------------------------------------------------------- files and directories


def test_directory_walk_is_sorted_and_skips_dot_files(tmp_path) -> None:
    make_tree(
        tmp_path,
        [
            "b.json",
            "a.json",
            "B.json",
            ".hidden.json",
            "z/c.json",
            "m/d.json",
            "m/.e.json",
            ".git/objects/x.json",
            "m/.cache/y.json",
        ],
    )
    items = list(sources.from_paths([str(tmp_path)]))
    assert all(isinstance(i, Incoming) for i in items)
    names = [str(Path(i.source).relative_to(tmp_path)) for i in items]
    # each folder's files in order, then its sub-folders in order; nothing starting with "."
    assert names == ["B.json", "a.json", "b.json", "m/d.json", "z/c.json"]
    assert items[1].data == b'{"file": "a.json"}'


def test_a_file_keeps_its_bytes_and_given_type(tmp_path) -> None:
    path = tmp_path / "m.txt"
    path.write_bytes(b"\xef\xbb\xbfanything\r\n")
    (item,) = sources.from_paths([str(path)], media_type="text/turtle")
    assert (item.data, item.source, item.media_type) == (
        b"\xef\xbb\xbfanything\r\n",
        str(path),
        "text/turtle",
    )


def test_paths_are_read_in_the_order_given(tmp_path) -> None:
    make_tree(tmp_path, ["x/2.json", "y/1.json"])
    items = list(sources.from_paths([str(tmp_path / "y"), str(tmp_path / "x")]))
    assert [Path(i.source).name for i in items] == ["1.json", "2.json"]


@pytest.mark.parametrize("suffix", [".jsonl", ".ndjson", ".JSONL"])
def test_json_lines_file_yields_one_message_per_line(tmp_path, suffix) -> None:
    path = tmp_path / f"messages{suffix}"
    # blank lines are skipped but still counted; CRLF and a missing final newline are fine
    path.write_bytes(LINES[0] + b"\n\n" + LINES[1] + b"\r\n   \n" + LINES[2])
    items = list(sources.from_paths([str(path)]))
    assert [i.source for i in items] == [f"{path}:1", f"{path}:3", f"{path}:5"]
    assert [i.data for i in items] == LINES
    assert {i.media_type for i in items} == {"application/json"}


def test_json_lines_inside_a_directory(tmp_path) -> None:
    (tmp_path / "a.jsonl").write_bytes(b"\n".join(LINES) + b"\n")
    make_tree(tmp_path, ["b.json"])
    items = list(sources.from_paths([str(tmp_path)]))
    assert [Path(i.source).name for i in items] == ["a.jsonl:1", "a.jsonl:2", "a.jsonl:3", "b.json"]


# ---------------------------------------------------------------- streams


def test_stream_whose_first_line_is_a_json_object_is_json_lines() -> None:
    stream = io.BytesIO(b"\n".join(LINES) + b"\n\n")
    items = list(sources.from_stream(stream, "<stdin>"))
    assert [i.source for i in items] == ["<stdin>:1", "<stdin>:2", "<stdin>:3"]
    assert [i.data.strip() for i in items] == LINES


@pytest.mark.parametrize(
    "data",
    [
        b'{\n  "UUIDs": [],\n  "producer": {"name": "TDR"}\n}\n',  # pretty-printed
        b'{"a": 1,\n "b": 2}\n',  # first line not a whole value
        b"@prefix ex: <https://example.org/> .\nex:a ex:b ex:c .\n",  # not JSON at all
        b'[{"a": 1}]\n[{"a": 2}]\n',  # an array first: not JSON Lines of objects
    ],
    ids=["pretty", "split-object", "turtle", "array"],
)
def test_stream_of_one_document_is_one_message(data) -> None:
    items = list(sources.from_stream(io.BytesIO(data), "<stdin>"))
    assert [(i.data, i.source) for i in items] == [(data, "<stdin>")]


def test_stream_with_a_media_type_is_one_document() -> None:
    data = b"\n".join(LINES)
    (item,) = sources.from_stream(io.BytesIO(data), "<stdin>", "application/json")
    assert (item.data, item.media_type) == (data, "application/json")


def test_dash_reads_standard_input(monkeypatch) -> None:
    class Stdin:
        buffer = io.BytesIO(b"\n".join(LINES))

    monkeypatch.setattr(sys, "stdin", Stdin())
    items = list(sources.from_paths(["-"]))
    assert [i.source for i in items] == ["<stdin>:1", "<stdin>:2", "<stdin>:3"]


def test_first_line_of_a_stream_is_read_like_the_others(tmp_path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_bytes(b"\n".join(LINES) + b"\n")
    from_file = list(sources.from_paths([str(path)]))
    from_stream = list(sources.from_stream(io.BytesIO(path.read_bytes()), "<stdin>"))
    assert [(i.data, i.media_type) for i in from_stream] == [
        (i.data, i.media_type) for i in from_file
    ]


def test_stream_line_numbers_count_leading_blank_lines() -> None:
    items = list(sources.from_stream(io.BytesIO(b"\n\n" + b"\n".join(LINES)), "<stdin>"))
    assert [i.source for i in items] == ["<stdin>:3", "<stdin>:4", "<stdin>:5"]


# ---------------------------------------------------------------- what cannot be read


def test_missing_path_is_unreadable(tmp_path) -> None:
    missing = str(tmp_path / "nope.json")
    (item,) = sources.from_paths([missing])
    assert isinstance(item, Unreadable)
    assert item.source == missing
    assert isinstance(item.error, InputError)
    assert "no such file or directory" in item.error.describe()
    assert missing in item.error.describe()


def _unreadable_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.json"
    path.write_text("{}")
    path.chmod(0)
    return path


def _directory_as_file(tmp_path: Path) -> Path:
    path = tmp_path / "folder.json"
    path.mkdir()
    return path


def _broken_symlink(tmp_path: Path) -> Path:
    path = tmp_path / "link.json"
    path.symlink_to(tmp_path / "gone.json")
    return path


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (_unreadable_file, "Permission denied"),
        (_directory_as_file, "Is a directory"),
        (_broken_symlink, "No such file or directory"),
    ],
    ids=["chmod-000", "directory-as-file", "broken-symlink"],
)
def test_file_that_cannot_be_opened_is_unreadable(tmp_path, make, reason) -> None:
    if make is _unreadable_file and os.geteuid() == 0:
        pytest.skip("root reads a chmod 000 file; the other cases cover an open that fails")
    path = make(tmp_path)
    (item,) = sources.from_file(path)
    assert isinstance(item, Unreadable)
    assert item.source == str(path)
    assert isinstance(item.error, InputError)
    assert item.error.describe() == f"{path}: cannot read: {reason}"


def test_broken_symlink_in_a_directory_does_not_stop_the_walk(tmp_path) -> None:
    make_tree(tmp_path, ["a.json", "c.json"])
    _broken_symlink(tmp_path)
    items = list(sources.from_paths([str(tmp_path)]))
    assert [type(i).__name__ for i in items] == ["Incoming", "Incoming", "Unreadable"]
    assert [Path(i.source).name for i in items] == ["a.json", "c.json", "link.json"]


def test_a_stream_of_one_document_keeps_its_leading_blank_lines() -> None:
    data = b"\n\n@prefix ex: <https://example.org/> .\nex:a ex:b ex:c .\n"
    (item,) = sources.from_stream(io.BytesIO(data), "<stdin>")
    assert item.data == data


def test_a_stream_starting_with_a_byte_order_mark_is_still_json_lines() -> None:
    data = b"\xef\xbb\xbf" + b"\n".join(LINES)
    items = list(sources.from_stream(io.BytesIO(data), "<stdin>"))
    assert [i.data for i in items] == [b"\xef\xbb\xbf" + LINES[0], *LINES[1:]]
