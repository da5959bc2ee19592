"""The `jobtrail` command as a curator uses it: load, validate, export, query, stats."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyoxigraph as ox
import pytest
from jobtrail.cli.main import main

EXAMPLES = Path(__file__).parents[2] / "examples"
TRE_SEED = EXAMPLES / "tre-enhanced-messages" / "01-tdr-export.json"


def jobtrail(
    *args: str, stdin: bytes | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The real command in its own process."""
    return subprocess.run(
        [sys.executable, "-m", "jobtrail.cli", *args],
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def tre_lines(n: int) -> bytes:
    doc = json.loads(TRE_SEED.read_text())
    lines = []
    for i in range(n):
        doc["timestamp"] = str(1659631669 + i)
        lines.append(json.dumps(doc))
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def data(tmp_path: Path) -> str:
    return str(tmp_path / "data")


def test_load_the_examples_then_stats(data: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["load", str(EXAMPLES), "--store", data]) == 0
    err = capsys.readouterr().err
    assert "stored 31 messages, 6 with warnings" in err
    assert main(["stats", "--store", data]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^messages +31$", out, re.M)
    assert re.search(r"^  TRE messages +6$", out, re.M)
    assert re.search(r"^producers +5$", out, re.M)


def test_rejections_name_the_file_the_place_and_the_reason(
    data: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "a-good.json").write_bytes(TRE_SEED.read_bytes())
    (inputs / "b-malformed.json").write_text('{\n  "version": "1.0.0"\n  "UUIDs": []\n}')
    (inputs / "c-context.jsonld").write_text(
        '{"@context": "https://example.org/ctx", "type": "AmeJob"}'
    )
    (inputs / "d-no-producer.json").write_text(
        json.dumps({**json.loads(TRE_SEED.read_text()), "producer": {}})
    )
    assert main(["load", str(inputs), "--store", data]) == 1
    err = capsys.readouterr().err
    assert (
        f"{inputs / 'b-malformed.json'}, line 3, column 3: not valid JSON: Expecting ',' delimiter"
        in err
    )
    assert "unknown JSON-LD context 'https://example.org/ctx'" in err
    assert "hint: known contexts: https://ame-service/context/default" in err
    assert "d-no-producer.json" in err and "names no producer" in err
    assert "stored 1 message, 1 with warnings, 3 rejected" in err  # TNA's schema: the seed
    assert (
        main(
            [
                "query",
                "--store",
                data,
                "--format",
                "csv",
                "SELECT (COUNT(*) AS ?n) { ?m a <https://w3id.org/jobtrail/vocab#Message> }",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.splitlines()[1] == "1"


def test_load_json_lines_from_stdin(data: str) -> None:
    result = jobtrail("load", "-", "--store", data, stdin=tre_lines(50))
    assert result.returncode == 0, result.stderr
    assert "stored 50 messages" in result.stderr


def test_export_then_load_the_dump_elsewhere(
    data: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["load", str(EXAMPLES), "--store", data, "--silent"])
    for name in ("dump.nq", "dump.trig"):
        dump = tmp_path / name
        assert main(["export", "--store", data, "-o", str(dump)]) == 0
        copy = str(tmp_path / f"copy-{name}")
        assert main(["load", str(dump), "--store", copy]) == 0
        # 31 message graphs and 5 producer graphs, validated again on the way in
        assert (
            "stored 0 messages and 36 graphs from dumps, 4 with warnings" in capsys.readouterr().err
        )
    # the copies hold exactly the same quads
    main(["export", "--store", data, "-o", str(tmp_path / "a.nq")])
    main(["export", "--store", str(tmp_path / "copy-dump.nq"), "-o", str(tmp_path / "b.nq")])
    a = sorted((tmp_path / "a.nq").read_text().splitlines())
    b = sorted((tmp_path / "b.nq").read_text().splitlines())
    assert a == b and len(a) > 1000


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("table", "(6 rows)"),
        ("csv", "name\r\n"),
        ("json", '"vars":["name"]'),
    ],
)
def test_query_formats(
    data: str, fmt: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["load", str(EXAMPLES / "tre-enhanced-messages"), "--store", data, "--silent"])
    query = (
        "SELECT ?name { ?m <http://www.w3.org/ns/prov#wasAttributedTo> ?p . "
        "?p <https://w3id.org/jobtrail/vocab#producerName> ?name }"
    )
    assert main(["query", query, "--store", data, "--format", fmt]) == 0
    assert expected in capsys.readouterr().out


def test_query_from_a_file_and_a_malformed_query(
    data: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty.nq").write_text("")
    assert main(["load", str(tmp_path / "empty.nq"), "--store", data]) == 0  # an empty store
    (tmp_path / "q.rq").write_text("ASK { ?s ?p ?o }")
    assert main(["query", f"@{tmp_path / 'q.rq'}", "--store", data]) == 0
    assert capsys.readouterr().out.strip() == "false"
    assert main(["query", "SELECT ?x WHERE { ?x ?y }", "--store", data]) == 2
    assert "syntax error at line 1, column 26:" in capsys.readouterr().err


def test_validate_files_and_the_store(
    data: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**json.loads(TRE_SEED.read_text()), "UUIDs": "none"}))
    assert main(["validate", str(bad), str(TRE_SEED)]) == 1
    out = capsys.readouterr().out
    assert "does not conform" in out and "carries no UUIDs" in out
    assert "01-tdr-export.json" not in out  # valid files are not listed
    main(["load", str(EXAMPLES), "--store", data, "--silent"])
    assert main(["validate", "--store", data]) == 0
    captured = capsys.readouterr()
    assert "all valid" in captured.err
    assert "conforms, with warnings" in captured.out  # the seed's imperfect UUIDs


def test_a_store_held_by_another_process(data: str) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time, pyoxigraph; s = pyoxigraph.Store(sys.argv[1]); "
            "print('ready', flush=True); time.sleep(60)",
            data,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        result = jobtrail("load", str(TRE_SEED), "--store", data)
        assert result.returncode == 2
        assert f"{data} is in use by another process" in result.stderr
        assert "hint: stop the other jobtrail process" in result.stderr
        stats = jobtrail("stats", "--store", data)  # reading still works, from a snapshot
        assert stats.returncode == 0, stats.stderr
        assert "reading a snapshot" in stats.stderr
    finally:
        holder.kill()
        holder.wait()


def test_kill_9_mid_load_loses_nothing_reported(data: str, tmp_path: Path) -> None:
    """Messages reported stored (-v prints one line per committed message) survive SIGKILL."""
    source = tmp_path / "hops.jsonl"
    source.write_bytes(tre_lines(6000))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jobtrail.cli",
            "load",
            str(source),
            "--store",
            data,
            "-v",
            "--batch-size",
            "500",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    reported: list[str] = []
    deadline = time.monotonic() + 60
    while len(reported) < 1200 and time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        if line.startswith("stored "):
            reported.append(line.split(" -> ")[1].strip())
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert len(reported) >= 1000, "the load ended before it could be killed"
    store = ox.Store(data)  # reopening runs the journal's recovery
    try:
        graphs = {g.value for g in store.named_graphs()}
        assert set(reported) <= graphs
        # every message graph present is complete: it has its original text and its hash
        for g in graphs:
            if g.endswith("#trace"):  # a message's trace index entry goes with the message
                assert g.removesuffix("#trace") in graphs
                continue
            if "/messages/" in g:
                triples = list(store.quads_for_pattern(None, None, None, ox.NamedNode(g)))
                predicates = {q.predicate.value.rsplit("#", 1)[-1] for q in triples}
                assert {"sha256", "originalText", "addedUUID", "uuidEntry"} <= predicates, g
    finally:
        del store


def test_the_same_commands_against_a_remote_endpoint(
    oxigraph_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real `oxigraph serve` on loopback, reached over the SPARQL 1.1 protocols."""
    from jobtrail.store import open_store

    with open_store(oxigraph_server) as remote:
        remote.update("DROP ALL")
    assert main(["load", str(EXAMPLES), "--store", oxigraph_server]) == 0
    assert "stored 31 messages, 6 with warnings" in capsys.readouterr().err
    assert main(["load", str(EXAMPLES), "--store", oxigraph_server]) == 0
    assert "stored 0 messages, 31 already stored" in capsys.readouterr().err
    assert main(["stats", "--store", oxigraph_server]) == 0
    assert re.search(r"^messages +31$", capsys.readouterr().out, re.M)
    dump = tmp_path / "remote.nq"
    assert main(["export", "--store", oxigraph_server, "-o", str(dump)]) == 0
    local = str(tmp_path / "local")
    assert main(["load", str(dump), "--store", local]) == 0
    assert "36 graphs from dumps" in capsys.readouterr().err


def test_output_cut_short_by_its_reader_is_no_error(tmp_path: Path) -> None:
    """`jobtrail export | head -1`: no traceback when the reader closes the pipe."""
    data = tmp_path / "data"
    assert jobtrail("load", str(EXAMPLES), "--store", str(data)).returncode == 0
    assert len(jobtrail("export", "--store", str(data)).stdout) > 1 << 17  # over a pipe's buffer
    command = [sys.executable, "-m", "jobtrail.cli", "export", "--store", str(data)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdout is not None and process.stderr is not None
        process.stdout.readline()
        process.stdout.close()  # like `head -1`
        errors = process.stderr.read().decode()
        assert process.wait(timeout=60) == 0
    assert "Traceback" not in errors
