"""Named queries over HTTP (/queries, /queries/{name}) on a real server, and on the command line."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest
from jobtrail.cli.main import main

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
HOPS = "queries/hops-of-reference"
REF = {"reference": "TDR-2021-GW3"}
SRX = "{http://www.w3.org/2005/sparql-results#}"
TDR_UUID = "0001d50d-a1fc-46c0-a6c7-ebc8309cfaf2"


def get(served: str, path: str, accept: str | None = None, **params: str) -> httpx.Response:
    headers = {"Accept": accept} if accept else {}
    return httpx.get(served + path, params=params, headers=headers, timeout=20)


# --- the list ------------------------------------------------------------------------------


def test_the_list_in_json(served: str) -> None:
    r = get(served, "queries")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    queries = {q["name"]: q for q in r.json()["queries"]}
    assert {"stats", "producers", "hops-of-reference", "messages-carrying-uuid"} <= set(queries)
    hops = queries["hops-of-reference"]
    assert hops["description"]
    assert hops["url"].endswith("/queries/hops-of-reference")
    assert hops["parameters"] == [
        {
            "name": "reference",
            "type": "string",
            "required": True,
            "description": hops["parameters"][0]["description"],
            "example": "TDR-2021-GW3",
        }
    ]
    assert "SELECT" in hops["sparql"]


def test_the_list_in_html(served: str) -> None:
    r = get(served, "queries", accept="text/html,application/xhtml+xml;q=0.9,*/*;q=0.8")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert '<a href="/queries/hops-of-reference">hops-of-reference</a>' in r.text
    assert '<a href="/sparql#named=hops-of-reference">in the editor</a>' in r.text
    assert "<code>reference</code>" in r.text and "(string, required)" in r.text
    assert "Messages each producer emitted" in r.text or "messages each producer" in r.text


def test_the_list_refuses_a_format_it_does_not_have(served: str) -> None:
    assert get(served, "queries", accept="image/png").status_code == 406


# --- running one, in each format ----------------------------------------------------------


def test_run_in_sparql_json_by_default(served: str) -> None:
    r = get(served, HOPS, **REF)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/sparql-results+json")
    doc = r.json()
    assert "reference" in doc["head"]["vars"] and "message" in doc["head"]["vars"]
    rows = doc["results"]["bindings"]
    assert [b["producer"]["value"] for b in rows] == ["TDR", "TRE", "TDR", "Access"]
    assert [int(b["uuids"]["value"]) for b in rows] == [1, 2, 3, 5]
    assert rows[0]["message"]["type"] == "uri"
    assert rows[0]["time"]["datatype"] == "http://www.w3.org/2001/XMLSchema#dateTime"
    assert {b["reference"]["value"] for b in rows} == {"TDR-2021-GW3"}


def test_run_in_sparql_xml(served: str) -> None:
    r = get(served, HOPS, accept="application/sparql-results+xml", **REF)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/sparql-results+xml")
    root = ET.fromstring(r.content)
    results = root.findall(f"{SRX}results/{SRX}result")
    assert len(results) == 4
    producers = [
        res.find(f"{SRX}binding[@name='producer']/{SRX}literal").text  # type: ignore[union-attr]
        for res in results
    ]
    assert producers == ["TDR", "TRE", "TDR", "Access"]


def test_run_in_csv_and_tsv(served: str) -> None:
    r = get(served, HOPS, accept="text/csv", **REF)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["producer"] for row in rows] == ["TDR", "TRE", "TDR", "Access"]
    assert [row["stated"] for row in rows][-1] == "TRE-TDR-2021-GW3"

    r = get(served, HOPS, accept="text/tab-separated-values", **REF)
    assert r.headers["content-type"].startswith("text/tab-separated-values")
    lines = r.text.strip().split("\n")
    header = lines[0].split("\t")
    assert "?producer" in header
    column = header.index("?producer")
    assert [line.split("\t")[column] for line in lines[1:]] == [
        '"TDR"',
        '"TRE"',
        '"TDR"',
        '"Access"',
    ]


@pytest.mark.parametrize(
    ("extension", "media_type"),
    [
        (".srj", "application/sparql-results+json"),
        (".srx", "application/sparql-results+xml"),
        (".csv", "text/csv"),
        (".tsv", "text/tab-separated-values"),
        (".html", "text/html"),
    ],
)
def test_an_extension_chooses_the_format(served: str, extension: str, media_type: str) -> None:
    r = get(served, HOPS + extension, accept="application/json", **REF)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith(media_type)


def test_a_query_without_parameters(served: str) -> None:
    r = get(served, "queries/stats.csv")
    counts = {row["class"]: int(row["messages"]) for row in csv.DictReader(io.StringIO(r.text))}
    assert counts["https://w3id.org/jobtrail/vocab#Message"] == 31
    assert counts["https://w3id.org/jobtrail/vocab#TREMessage"] == 6


def test_typed_parameters_over_http(served: str) -> None:
    r = get(served, "queries/messages-carrying-uuid", uuid=f"urn:uuid:{TDR_UUID.upper()}")
    rows = r.json()["results"]["bindings"]
    assert len(rows) == 6
    assert [b["added"]["value"] for b in rows] == ["true"] + ["false"] * 5
    r = get(served, "queries/errors-reported", retries="1")
    assert len(r.json()["results"]["bindings"]) == 2
    producers = get(served, "queries/producers", producer="TDR").json()["results"]["bindings"]
    assert [(b["process"]["value"], b["environment"]["value"]) for b in producers] == [
        ("consignment-export", "INT")
    ]


def test_a_value_with_quotes_braces_and_newline_is_only_a_value(served: str) -> None:
    nasty = 'TDR-2021-GW3" } UNION { ?s ?p ?o } #\n}'
    r = get(served, HOPS, reference=nasty)
    assert r.status_code == 200
    assert r.json()["results"]["bindings"] == []


# --- the HTML page of a query ---------------------------------------------------------------


def test_the_html_page_has_the_description_sparql_form_and_results(served: str) -> None:
    r = get(served, HOPS, accept="text/html", **REF)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert "<h1>hops-of-reference</h1>" in page
    assert "The hops of a package" in page
    assert '<form method=get action="/queries/hops-of-reference"' in page
    assert 'name="reference" value="TDR-2021-GW3"' in page and " required>" in page
    assert "<table class=results>" in page
    assert page.count("<tr>") == 5  # a header row and four hops
    assert "4 rows (pages show at most 1,000)" in page
    assert "PREFIX jt: &lt;https://w3id.org/jobtrail/vocab#&gt;" in page  # the SPARQL, escaped
    for ext in (".srj", ".srx", ".csv", ".tsv"):
        assert f'href="/queries/hops-of-reference{ext}?reference=TDR-2021-GW3"' in page


def test_the_html_page_without_values_shows_the_form_only(served: str) -> None:
    r = get(served, HOPS, accept="text/html")
    assert r.status_code == 200
    assert "<form method=get" in r.text and "<table class=results>" not in r.text
    r = get(served, "queries/stats", accept="text/html")  # no parameters: it runs at once
    assert "<table class=results>" in r.text and "This query has no parameters" in r.text


def test_the_html_page_shows_a_bad_value_above_the_form(served: str) -> None:
    r = get(served, "queries/errors-reported", accept="text/html", retries="many")
    assert r.status_code == 400
    assert "&#x27;retries&#x27;" in r.text and "integer" in r.text
    assert '<form method=get action="/queries/errors-reported"' in r.text
    assert 'value="many"' in r.text


def test_html_escapes_what_was_typed(served: str) -> None:
    r = get(served, HOPS, accept="text/html", reference='<script>alert(1)</script>"')
    assert r.status_code == 200
    assert "<script>alert" not in r.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;" in r.text


# --- errors ----------------------------------------------------------------------------------


def test_an_unknown_query_is_404_listing_the_known_ones(served: str) -> None:
    r = get(served, "queries/no-such-query", accept="application/problem+json")
    assert r.status_code == 404
    problem = r.json()
    assert "no-such-query" in problem["detail"]
    assert "hops-of-reference" in problem["hint"]
    assert "stats" in problem["known"]
    r = get(served, "queries/no-such-query", accept="text/plain")
    assert r.status_code == 404 and "known queries:" in r.text


def test_a_bad_parameter_is_400_naming_it(served: str) -> None:
    r = get(served, HOPS, accept="application/problem+json", reference="x", foo="1")
    assert r.status_code == 400 and "'foo'" in r.json()["detail"]
    r = get(served, HOPS, accept="application/problem+json")
    assert r.status_code == 400
    assert "'reference'" in r.json()["detail"] and r.json()["parameter"] == "reference"
    r = get(served, "queries/errors-reported", accept="text/plain", retries="1.5")
    assert r.status_code == 400 and "'retries'" in r.text and "integer" in r.text
    r = get(served, "queries/warnings", accept="text/plain", message="not an iri")
    assert r.status_code == 400 and "'message'" in r.text and "iri" in r.text
    r = httpx.get(served + HOPS + "?reference=a&reference=b", timeout=20)
    assert r.status_code == 400 and "given twice" in r.text


def test_a_result_format_nobody_offers_is_406(served: str) -> None:
    assert get(served, HOPS, accept="image/png", **REF).status_code == 406


# --- the command line ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    data = tmp_path_factory.mktemp("cli-queries") / "data"
    assert main(["load", str(EXAMPLES), "--store", str(data), "--silent"]) == 0
    return str(data)


def test_cli_runs_a_named_query_with_params(
    cli_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "query",
            "hops-of-reference",
            "--param",
            "reference=TDR-2021-GW3",
            "--format",
            "csv",
            "--store",
            cli_store,
        ]
    )
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["producer"] for r in rows] == ["TDR", "TRE", "TDR", "Access"]


def test_cli_table_json_and_several_params(
    cli_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "query",
                "errors-reported",
                "--param",
                "producer=TRE",
                "--param",
                "retries=1",
                "--store",
                cli_store,
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "validation failed" in out and "(2 rows)" in out
    assert main(["query", "producers", "--format", "json", "--store", cli_store]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["results"]["bindings"]) == 5


def test_cli_lists_the_named_queries(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "--list"]) == 0
    out = capsys.readouterr().out
    assert "hops-of-reference\n" in out
    assert "--param reference=… (string, required)" in out


def test_cli_refuses_bad_params(cli_store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "hops-of-reference", "--store", cli_store]) == 2
    assert "'reference'" in capsys.readouterr().err
    assert main(["query", "hops-of-reference", "--param", "colour=red", "--store", cli_store]) == 2
    assert "'colour'" in capsys.readouterr().err
    assert main(["query", "errors-reported", "--param", "retries", "--store", cli_store]) == 2
    assert "NAME=VALUE" in capsys.readouterr().err
    sparql = "SELECT * { ?s ?p ?o } LIMIT 1"
    assert main(["query", sparql, "--param", "a=b", "--store", cli_store]) == 2
    assert "only with a named query" in capsys.readouterr().err


def test_cli_still_runs_sparql_text(cli_store: str, capsys: pytest.CaptureFixture[str]) -> None:
    sparql = "SELECT (COUNT(*) AS ?n) { ?m a <https://w3id.org/jobtrail/vocab#TREMessage> }"
    assert main(["query", sparql, "--format", "csv", "--store", cli_store]) == 0
    assert capsys.readouterr().out.splitlines() == ["n", "6"]


def test_cli_in_its_own_process(cli_store: str) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "jobtrail.cli",
            "query",
            "messages-carrying-uuid",
            "--param",
            f"uuid={TDR_UUID}",
            "--format",
            "tsv",
            "--store",
            cli_store,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.strip().split("\n")) == 7  # a header and six messages
