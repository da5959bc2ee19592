"""The command line when people get something wrong: a mistyped store, command, query name or
prefix, a missing file; and the store's own base URL, which a later command keeps to."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import httpx
import pytest
from jobtrail.base.terms import PREFIXES
from jobtrail.cli.main import main

from tests.cli.test_scrub import jobtrail

EXAMPLES = Path(__file__).parents[2] / "examples"
JT = "https://w3id.org/jobtrail/vocab#"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A store holding the examples, loaded under the default base URL."""
    data = str(tmp_path_factory.mktemp("mistakes") / "data")
    assert main(["load", str(EXAMPLES), "--store", data, "--silent"]) == 0
    return data


# --- a store that is not there ---------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["stats"],
        ["verify"],
        ["export"],
        ["query", "producers"],
        ["trace", "TDR-2021-GW3"],
        ["validate"],
        ["scrub", "--dry-run"],
    ],
)
def test_a_read_command_refuses_a_store_that_is_not_there(
    command: list[str], tmp_path: Path
) -> None:
    done = jobtrail(*command, "--store", "./stroe", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "error: no store at ./stroe" in done.stderr
    assert "`jobtrail load FILES --store ./stroe` creates one" in done.stderr
    assert "the default store is ./jobtrail-data" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "stroe").exists()  # nothing was made there


def test_verify_says_when_there_was_nothing_to_verify(tmp_path: Path) -> None:
    data = tmp_path / "data"
    done = jobtrail("load", str(tmp_path / "nothing-here.json"), "--store", str(data), cwd=tmp_path)
    assert done.returncode == 2
    (tmp_path / "empty.nq").write_text("")
    assert jobtrail("load", "empty.nq", "--store", str(data), cwd=tmp_path).returncode == 0
    checked = jobtrail("verify", "--store", str(data), cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "the store holds no sealed records" in checked.stdout
    assert "every seal matches" not in checked.stdout


# --- loading ---------------------------------------------------------------------------------


def test_load_of_a_path_that_is_not_there(tmp_path: Path) -> None:
    done = jobtrail("load", "missing-path", "--store", "data", cwd=tmp_path)
    assert done.returncode == 2
    assert "error: no such file or directory: missing-path" in done.stderr
    assert "rejected" not in done.stderr
    assert not (tmp_path / "data").exists()


def test_load_names_the_messages_with_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["load", str(EXAMPLES), "--store", str(tmp_path / "data")]) == 0
    err = capsys.readouterr().err
    tre = EXAMPLES / "tre-enhanced-messages"
    named = f"with warnings: {tre / '01-tdr-export.json'}, {tre / '02-tre-retry.json'}, "
    assert named in err
    assert "and 3 more; `jobtrail query warnings` lists them" in err
    assert main(["query", "warnings", "--store", str(tmp_path / "data"), "--format", "csv"]) == 0
    assert "01-tdr-export.json" in capsys.readouterr().out


def test_stats_says_the_kinds_overlap(loaded: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "--store", loaded]) == 0
    out = capsys.readouterr().out
    counts = {
        m[1].strip(): int(m[2].replace(",", ""))
        for m in re.finditer(r"^(.+?)\s+([\d,]+)$", out, re.M)
    }
    kinds = ["TRE messages", "JSON-LD messages", "HTTP messages", "RDF messages"]
    assert sum(counts[k] for k in kinds) > counts["messages"]  # so they do overlap
    assert "the kinds overlap: a message may be of several" in out


# --- queries ---------------------------------------------------------------------------------


def test_the_projects_prefixes_need_no_declaring(
    loaded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    count = "SELECT (COUNT(DISTINCT ?m) AS ?n) { ?m a jt:Message OPTIONAL { ?m prov:used ?u } }"
    assert main(["query", count, "--store", loaded, "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[1] == "31"
    # a prefix the query declares is its own
    own = "PREFIX jt: <urn:x:nothing#>\n" + count
    assert main(["query", own, "--store", loaded, "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[1] == "0"


def test_a_syntax_error_points_at_its_place(
    loaded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["query", "SELECT ?x WHERE { ?x ?y }", "--store", loaded]) == 2
    err = capsys.readouterr().err
    assert "error: syntax error at line 1, column 26: expected one of" in err
    assert "SELECT ?x WHERE { ?x ?y }\n" + " " * 25 + "^" in err  # the columns are the text's
    # a prefix nobody declared, on the second line
    assert main(["query", "SELECT ?m WHERE {\n  ?m a foo:Message }", "--store", loaded]) == 2
    err = capsys.readouterr().err
    assert "syntax error at line 2, column 8: undefined prefix `foo:`" in err
    assert "  ?m a foo:Message }\n       ^" in err
    assert "u{00C0}" not in err  # not the characters a name may hold
    assert "the prefixes jobtrail knows: jt:, rdf:" in err


def test_the_endpoint_names_the_prefix_line_to_add(served: str) -> None:
    answer = httpx.get(
        served + "sparql",
        params={"query": "SELECT ?m WHERE {\n  ?m a jt:Message }"},
        headers={"Accept": "text/plain"},
        timeout=30,
    )
    assert answer.status_code == 400
    assert f"undefined prefix `jt:` — add PREFIX jt: <{PREFIXES['jt']}>" in answer.text
    assert "line 2, column 8" in answer.text and "u{00C0}" not in answer.text


def test_a_mistyped_query_name(loaded: str, tmp_path: Path) -> None:
    done = jobtrail("query", "producer", "--store", loaded, cwd=tmp_path)
    assert done.returncode == 2
    assert "error: no named query `producer` — did you mean `producers`?" in done.stderr
    assert "`jobtrail query --list`" in done.stderr
    assert "Traceback" not in done.stderr and "syntax error" not in done.stderr
    nothing = jobtrail("query", "zzzz", "--store", loaded, cwd=tmp_path)
    assert nothing.returncode == 2 and "no named query `zzzz`" in nothing.stderr
    assert "did you mean" not in nothing.stderr


def test_a_query_file_that_is_not_there(loaded: str, tmp_path: Path) -> None:
    done = jobtrail("query", "@missing.rq", "--store", loaded, cwd=tmp_path)
    assert done.returncode == 2
    assert "error: cannot read the query file missing.rq: No such file or directory" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_format_the_result_has_not(loaded: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "producers", "--store", loaded, "--format", "turtle"]) == 2
    err = capsys.readouterr().err
    assert "--format turtle is for the graph a CONSTRUCT or DESCRIBE gives" in err
    assert "SELECT gives a table" in err and "csv" in err
    graph = "CONSTRUCT { ?p a jt:Producer } WHERE { ?p a jt:Producer }"
    assert main(["query", graph, "--store", loaded, "--format", "csv"]) == 2
    assert "a CONSTRUCT or DESCRIBE gives a graph" in capsys.readouterr().err
    assert main(["query", graph, "--store", loaded, "--format", "turtle"]) == 0
    assert "jt:Producer" in capsys.readouterr().out


# --- the command itself ----------------------------------------------------------------------


def test_version(tmp_path: Path) -> None:
    done = jobtrail("--version", cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout.strip() == f"jobtrail {metadata.version('jobtrail')}"


def test_a_mistyped_command(tmp_path: Path) -> None:
    done = jobtrail("stat", cwd=tmp_path)
    assert done.returncode == 2
    assert "no command 'stat' — did you mean `stats`?" in done.stderr
    assert "commands: load, validate" in done.stderr


# --- the base URL the store was minted under -------------------------------------------------


def test_the_store_keeps_the_base_it_was_minted_under(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(tmp_path / "data")
    base = "http://example.org/jt/"
    assert main(["load", str(EXAMPLES / "tre-enhanced-messages"), "--store", data]) == 0
    capsys.readouterr()
    # another base given for the same store: refused, naming both and the fix
    other = ["load", str(EXAMPLES / "fims-ame-flow"), "--store", data, "--base-url", base]
    assert main(other) == 2
    err = capsys.readouterr().err
    assert f"the store {data} holds IRIs minted under http://127.0.0.1:8000/" in err
    assert f"under the base URL {base} none of them would be found" in err
    assert "leave out --base-url" in err
    # none given: the store's own
    assert main(["load", str(EXAMPLES / "fims-ame-flow"), "--store", data, "--silent"]) == 0
    iris = "SELECT DISTINCT ?g { GRAPH ?g { ?s ?p ?o } FILTER(isIRI(?g)) }"
    assert main(["query", iris, "--store", data, "--format", "csv"]) == 0
    graphs = capsys.readouterr().out.split()[1:]
    assert all(g.startswith(("http://127.0.0.1:8000/", "urn:jobtrail:")) for g in graphs)
    # the record is no message, and breaks neither verify nor a dump's round trip
    assert main(["verify", "--store", data]) == 0
    assert "verified 31 messages" in capsys.readouterr().out
    assert main(["export", "--store", data, "-o", str(tmp_path / "dump.nq")]) == 0
    assert "urn:jobtrail:store" in (tmp_path / "dump.nq").read_text()
    copy = str(tmp_path / "copy")
    assert main(["load", str(tmp_path / "dump.nq"), "--store", copy]) == 0
    assert "36 graphs from dumps" in capsys.readouterr().err  # the record is not one of them
    assert main(["load", str(tmp_path / "dump.nq"), "--store", copy]) == 0
    assert "36 already stored" in capsys.readouterr().err
    assert main(["export", "--store", copy, "-o", str(tmp_path / "copy.nq")]) == 0
    a = sorted((tmp_path / "dump.nq").read_text().splitlines())
    b = sorted((tmp_path / "copy.nq").read_text().splitlines())
    assert a == b


def test_trace_names_itself_under_the_stores_base(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(tmp_path / "data")
    base = "http://example.org/jt/"
    assert main(["load", str(EXAMPLES), "--store", data, "--base-url", base, "--silent"]) == 0
    assert main(["trace", "TDR-2021-GW3", "--store", data, "--format", "turtle"]) == 0
    assert f"<{base}trace/TDR-2021-GW3>" in capsys.readouterr().out
