"""The named queries: headers, the loader, typed binding, and what each returns on the seeds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest
from jobtrail.base.errors import InputError, NotFound
from jobtrail.ingest.load import Loader
from jobtrail.ingest.sources import from_paths
from jobtrail.queries import (
    PARAM_TYPES,
    QueryDefinitionError,
    get_query,
    load_queries,
    parse,
)
from jobtrail.store import Store, open_store

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
QUERIES_DIR = Path(__file__).resolve().parents[2] / "queries"
BASE = "http://127.0.0.1:8000/"
XSD = "http://www.w3.org/2001/XMLSchema#"
JT = "https://w3id.org/jobtrail/vocab#"
TDR_UUID = "0001d50d-a1fc-46c0-a6c7-ebc8309cfaf2"
NASTY = 'TDR-2021-GW3" } UNION { ?x ?y ?z } #\n} ?reference'


@pytest.fixture(scope="module")
def store() -> Iterator[Store]:
    """An in-memory store holding the examples (the seed messages)."""
    s = open_store("memory:")
    report = Loader(s, base=BASE).load(from_paths([str(EXAMPLES)]))
    assert not report.rejected
    yield s
    s.close()


def run(store: Store, name: str, **params: str) -> list[dict[str, Any]]:
    """The rows of a named query, each as {variable: Python value} (None when unbound)."""
    query = get_query(name)
    result = store.query(query.sparql, substitutions=query.bind(params))
    assert isinstance(result, ox.QuerySolutions)
    names = [v.value for v in result.variables]
    return [{n: value(row[n]) for n in names} for row in result]


def value(term: Any) -> Any:
    if term is None:
        return None
    if isinstance(term, ox.Literal):
        dt = term.datatype.value
        if dt == XSD + "integer":
            return int(term.value)
        if dt == XSD + "boolean":
            return term.value == "true"
        return term.value
    return term.value


# --- the files and their headers -------------------------------------------------------


def test_every_rq_file_is_a_named_query_named_after_its_file() -> None:
    files = sorted(p.stem for p in QUERIES_DIR.glob("*.rq"))
    queries = load_queries()
    assert sorted(queries) == files
    assert {"hops-of-reference", "retries", "errors-by-producer", "software-versions"} <= set(files)
    assert {"fixity-per-hop", "stuck-packages", "throughput-per-producer-per-day"} <= set(files)
    for name, q in queries.items():
        assert q.name == name
        assert q.description.strip() and len(q.description) > 20
        assert q.sparql == (QUERIES_DIR / f"{name}.rq").read_text("utf-8")
        for p in q.params:
            assert p.type in PARAM_TYPES
            assert p.doc, f"{name}: param {p.name} has no description"
            assert f"?{p.name}" in q.sparql
        for k in q.examples:
            assert q.param(k) is not None


def test_the_expected_queries_are_there() -> None:
    assert {
        "stats",
        "producers",
        "messages-by-producer",
        "hops-of-reference",
        "messages-carrying-uuid",
        "warnings",
        "errors-reported",
    } <= set(load_queries())


def test_load_queries_is_cached() -> None:
    assert load_queries() is load_queries()


def test_an_unknown_name_is_not_found_listing_the_names() -> None:
    with pytest.raises(NotFound) as e:
        get_query("no-such-query")
    assert "no-such-query" in e.value.message
    assert "hops-of-reference" in (e.value.hint or "")
    assert "stats" in e.value.details["known"]


def test_a_header_is_parsed_with_continuations_params_and_examples() -> None:
    q = parse(
        "# name: demo\n"
        "# description: First line\n"
        "#   and its continuation.\n"
        "#\n"
        "# param: who (string, required) — a name, e.g. TRE\n"
        "# param: n (integer, optional) - a count\n"
        "# example: who=TDR\n"
        "SELECT ?who ?n { ?x <http://p> ?who ; <http://q> ?n }\n",
        "demo",
    )
    assert q.name == "demo"
    assert q.description == "First line and its continuation."
    assert [(p.name, p.type, p.required, p.doc) for p in q.params] == [
        ("who", "string", True, "a name, e.g. TRE"),
        ("n", "integer", False, "a count"),
    ]
    assert q.examples == {"who": "TDR"}


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("# name: other\n# description: d\nSELECT * {}", "differs from the file name"),
        ("# description: d\nSELECT * {}", "no '# name:'"),
        ("# name: demo\nSELECT * {}", "no '# description:'"),
        ("# name: demo\n# description: d\n# param: x (text, optional) — d\nSELECT ?x {}", "type"),
        ("# name: demo\n# description: d\n# param: x optional\nSELECT ?x {}", "bad param"),
        (
            "# name: demo\n# description: d\n# param: y (string, optional) — d\nSELECT ?x {}",
            "not a variable",
        ),
        ("# name: demo\n# description: d\n# author: me\nSELECT * {}", "unknown header field"),
        ("# name: demo\n# description: d\n# example: z=1\nSELECT * {}", "not a param"),
        ("# name: demo\n# name: demo\n# description: d\nSELECT * {}", "two name"),
        ("# name: demo\n# description: d\n# just words\nSELECT * {}", "not a header field"),
    ],
)
def test_a_bad_header_is_refused_saying_why(text: str, complaint: str) -> None:
    with pytest.raises(QueryDefinitionError) as e:
        parse(text, "demo")
    assert complaint in e.value.message
    assert "demo.rq" in e.value.message


# --- typed binding ------------------------------------------------------------------------

TYPED = parse(
    "# name: typed\n# description: every type\n"
    + "".join(f"# param: {t.lower()}Value ({t}, optional) — a {t}\n" for t in PARAM_TYPES)
    + "# param: needed (string, required) — must be given\n"
    + "SELECT * { ?s ?p ?needed . "
    + " ".join(f"?s ?p ?{t.lower()}Value ." for t in PARAM_TYPES)
    + " }\n",
    "typed",
)


def literal(value: str, datatype: str) -> ox.Literal:
    return ox.Literal(value, datatype=ox.NamedNode(XSD + datatype))


@pytest.mark.parametrize(
    ("name", "given", "expected"),
    [
        ("stringValue", ' a "quoted" } value\n', ox.Literal(' a "quoted" } value\n')),
        (
            "iriValue",
            "http://127.0.0.1:8000/messages/abc",
            ox.NamedNode("http://127.0.0.1:8000/messages/abc"),
        ),
        ("iriValue", "urn:uuid:x", ox.NamedNode("urn:uuid:x")),
        ("integerValue", "3", literal("3", "integer")),
        ("integerValue", "007", literal("7", "integer")),
        ("integerValue", "-2", literal("-2", "integer")),
        ("decimalValue", "2.50", literal("2.5", "decimal")),
        ("decimalValue", "3", literal("3.0", "decimal")),
        ("datetimeValue", "2022-08-04T16:47:49Z", literal("2022-08-04T16:47:49Z", "dateTime")),
        (
            "datetimeValue",
            "2022-08-04T16:47:49.5+01:00",
            literal("2022-08-04T16:47:49.5+01:00", "dateTime"),
        ),
        ("booleanValue", "TRUE", literal("true", "boolean")),
        ("booleanValue", "0", literal("false", "boolean")),
        ("uuidValue", TDR_UUID, ox.NamedNode(f"urn:uuid:{TDR_UUID}")),
        ("uuidValue", f"urn:uuid:{TDR_UUID.upper()}", ox.NamedNode(f"urn:uuid:{TDR_UUID}")),
        (
            "uuidValue",
            "0001d50d-a1fc-46c0-a6c7-ebc8309cfag3",  # kept: the seeds have these
            ox.NamedNode("urn:uuid:0001d50d-a1fc-46c0-a6c7-ebc8309cfag3"),
        ),
    ],
)
def test_values_become_typed_terms(name: str, given: str, expected: Any) -> None:
    bound = TYPED.bind({"needed": "x", name: given})
    assert bound[name] == expected
    assert type(bound[name]) is type(expected)
    assert bound["needed"] == ox.Literal("x")


def test_optional_parameters_left_out_or_empty_are_not_bound() -> None:
    assert TYPED.bind({"needed": "x", "integerValue": "", "iriValue": "  "}) == {
        "needed": ox.Literal("x")
    }


@pytest.mark.parametrize(
    ("name", "given", "type_"),
    [
        ("integerValue", "three", "integer"),
        ("integerValue", "1.5", "integer"),
        ("decimalValue", "1,5", "decimal"),
        ("iriValue", "not an iri", "iri"),
        ("iriValue", "relative/path", "iri"),
        ("iriValue", "http://a b", "iri"),
        ("datetimeValue", "yesterday", "dateTime"),
        ("datetimeValue", "2022-13-04T16:47:49Z", "dateTime"),
        ("booleanValue", "yes", "boolean"),
        ("uuidValue", "TDR-2021-GW3", "uuid"),
        ("uuidValue", 'x" } #', "uuid"),
    ],
)
def test_an_ill_typed_value_is_refused_naming_the_parameter_and_type(
    name: str, given: str, type_: str
) -> None:
    with pytest.raises(InputError) as e:
        TYPED.bind({"needed": "x", name: given})
    assert e.value.status == 400
    assert repr(name) in e.value.message
    assert type_ in e.value.message
    assert repr(given) in e.value.message
    assert e.value.details == {"parameter": name, "expected": type_}


def test_an_unknown_parameter_is_refused_naming_it_and_the_known_ones() -> None:
    with pytest.raises(InputError) as e:
        get_query("hops-of-reference").bind({"reference": "x", "refrence": "y"})
    assert "'refrence'" in e.value.message
    assert "reference (string)" in (e.value.hint or "")


def test_a_missing_required_parameter_is_refused_naming_it_and_its_type() -> None:
    with pytest.raises(InputError) as e:
        get_query("hops-of-reference").bind({})
    assert "'reference'" in e.value.message and "string" in e.value.message
    with pytest.raises(InputError, match="'needed'"):
        TYPED.bind({"needed": ""})


# --- every query on the seeds ------------------------------------------------------------


ABOUT_JOBS = {
    "job-as-of": "tests/bindings/jobservice/test_memento.py, on a real server's job",
    "dataset-lineage": "tests/bindings/openlineage/test_lineage.py, on OpenLineage events",
}
"""Queries about what the seeds do not hold (jobs, OpenLineage runs): where each is run."""


@pytest.mark.parametrize("name", sorted(set(load_queries()) - set(ABOUT_JOBS)))
def test_every_query_runs_on_the_seeds_with_its_examples(store: Store, name: str) -> None:
    query = load_queries()[name]
    rows = run(store, name, **query.examples)
    assert rows, f"{name} returned nothing with {query.examples}"
    for p in query.params:  # a bound parameter comes back in every row
        if p.name in query.examples and p.type == "string":
            assert {r[p.name] for r in rows} == {query.examples[p.name]}


@pytest.mark.parametrize(
    "name", sorted(n for n, q in load_queries().items() if not any(p.required for p in q.params))
)
def test_queries_without_required_parameters_run_with_none(store: Store, name: str) -> None:
    assert run(store, name)


def test_stats_counts_messages_by_class(store: Store) -> None:
    rows = {r["class"]: (r["messages"], r["withWarnings"]) for r in run(store, "stats")}
    # every TRE hop of the seed: TNA's JSON Schema wants integer timestamps and an event-name
    assert rows[JT + "Message"] == (31, 6)
    assert rows[JT + "TREMessage"] == (6, 6)
    assert rows[JT + "TRE2022Message"] == (6, 6)
    assert rows[JT + "HTTPMessage"] == (25, 0)
    assert rows[JT + "JSONLDMessage"] == (23, 0)
    assert rows["http://www.w3.org/2011/http#Request"][0] == 13
    assert rows["http://www.w3.org/2011/http#Response"][0] == 12


def test_producers_name_process_environment_and_messages(store: Store) -> None:
    rows = run(store, "producers")
    found = {(r["producer"], r["process"], r["environment"]): r["messages"] for r in rows}
    assert found == {
        ("TDR", "consignment-export", "INT"): 2,
        ("TRE", "receive-and-validate-bag", "INT"): 1,
        ("TRE", "caselaw-export", "INT"): 1,
        ("TRE", "dri-sip-export", "INT"): 1,
        ("Access", "caselaw-retry", "INT"): 1,
    }
    tdr = next(r for r in rows if r["producer"] == "TDR")
    assert tdr["agent"] == f"{BASE}producers/TDR/consignment-export/INT"
    assert tdr["first"] == tdr["last"] == "2022-08-04T16:47:49Z"
    assert [r["producer"] for r in run(store, "producers", producer="TDR")] == ["TDR"]
    assert run(store, "producers", producer="Nobody") == []


def test_messages_by_producer(store: Store) -> None:
    every = run(store, "messages-by-producer")
    assert len(every) == 6
    tre = run(store, "messages-by-producer", producer="TRE")
    assert {r["process"] for r in tre} == {
        "receive-and-validate-bag",
        "caselaw-export",
        "dri-sip-export",
    }
    assert all(r["producer"] == "TRE" for r in tre)
    assert [r["uuids"] for r in tre] == sorted((r["uuids"] for r in tre), reverse=True)
    tdr = run(store, "messages-by-producer", producer="TDR")
    assert [r["uuids"] for r in tdr] == [3, 1]  # newest (longest chain) first
    assert {r["references"] for r in tdr} == {"TDR-2021-GW3"}


def test_hops_of_a_reference_in_time_order(store: Store) -> None:
    rows = run(store, "hops-of-reference", reference="TDR-2021-GW3")
    assert [(r["producer"], r["process"], r["uuids"]) for r in rows] == [
        ("TDR", "consignment-export", 1),
        ("TRE", "receive-and-validate-bag", 2),
        ("TDR", "consignment-export", 3),
        ("Access", "caselaw-retry", 5),
    ]
    assert [r["stated"] for r in rows] == ["TDR-2021-GW3"] * 3 + ["TRE-TDR-2021-GW3"]
    assert [r["retries"] for r in rows] == [0, 1, 1, 1]
    assert rows[0]["added"] == f"urn:uuid:{TDR_UUID}"
    times = [r["time"] for r in rows]
    assert times == sorted(times)
    assert {r["reference"] for r in rows} == {"TDR-2021-GW3"}
    assert len(run(store, "hops-of-reference", reference="TRE-TDR-2022-FT5")) == 2
    assert run(store, "hops-of-reference", reference="GW3") == []


def test_messages_carrying_a_uuid_given_bare_or_as_iri(store: Store) -> None:
    bare = run(store, "messages-carrying-uuid", uuid=TDR_UUID)
    as_iri = run(store, "messages-carrying-uuid", uuid=f"urn:uuid:{TDR_UUID}")
    upper = run(store, "messages-carrying-uuid", uuid=TDR_UUID.upper())
    assert bare == as_iri == upper
    assert len(bare) == 6
    assert [r["chain"] for r in bare] == [1, 2, 3, 4, 4, 5]
    assert [r["added"] for r in bare] == [True, False, False, False, False, False]
    assert {(r["position"], r["label"]) for r in bare} == {(0, "TDR-UUID")}
    assert bare[0]["producer"] == "TDR"
    odd = run(store, "messages-carrying-uuid", uuid="0094551e-a1fc-46c0-a6c7-e45465455455")
    assert [(r["producer"], r["label"], r["added"]) for r in odd] == [
        ("Access", "<name for caselaw>-UUID", True)
    ]


def test_warnings_with_their_text(store: Store) -> None:
    everything = run(store, "warnings")
    rows = [r for r in everything if not r["text"].startswith("TNA's")]  # the shapes'
    assert len(rows) == 8
    assert len({r["message"] for r in rows}) == 4
    schema = [r for r in everything if r["text"].startswith("TNA's JSON Schema tre-event: ")]
    assert len(schema) == len(everything) - 8 and len({r["message"] for r in schema}) == 6
    texts = {r["text"] for r in rows}
    assert "not a UUID: expected 8-4-4-4-12 hexadecimal digits" in texts
    assert any("placeholder" in t for t in texts)
    placeholder = next(r for r in rows if "placeholder" in r["text"])
    assert placeholder["value"] == "<name for caselaw>-UUID"
    assert placeholder["source"].endswith("05-access-retry.json")
    one = run(store, "warnings", message=placeholder["message"])
    shapes_and_schema = (3, 6)  # 05-access-retry: 3 shape warnings, 6 schema findings
    assert len(one) == sum(shapes_and_schema)
    assert {r["message"] for r in one} == {placeholder["message"]}


def test_errors_reported_by_producer(store: Store) -> None:
    rows = run(store, "errors-reported")
    assert {(r["producer"], r["process"], r["owner"], r["error"]) for r in rows} == {
        ("TRE", "receive-and-validate-bag", "TRE", "validation failed"),
        ("TRE", "receive-and-validate-bag", "TRE", "xxxx....."),
    }
    assert {r["reference"] for r in rows} == {"TDR-2021-GW3"}
    assert len(run(store, "errors-reported", producer="TRE", retries="01")) == 2
    assert run(store, "errors-reported", retries="0") == []
    assert run(store, "errors-reported", producer="TDR") == []


# --- values are bound, never spliced ---------------------------------------------------------


def test_a_value_with_quotes_braces_and_a_newline_is_matched_literally(store: Store) -> None:
    query = get_query("hops-of-reference")
    text_before = query.sparql
    assert run(store, "hops-of-reference", reference=NASTY) == []  # matches nothing, breaks nothing
    assert query.sparql == text_before and NASTY not in query.sparql

    evil = 'Evil "q" } UNION { ?agent ?p ?o } #\nname'
    other = open_store("memory:")
    try:
        other.update(
            "PREFIX jt: <https://w3id.org/jobtrail/vocab#> INSERT DATA { GRAPH <urn:x:g> {"
            " <urn:x:agent> a jt:Producer ; jt:producerName "
            + ox.Literal(evil).__str__()
            + ' . <urn:x:other> a jt:Producer ; jt:producerName "Evil" . } }'
        )
        rows = run(other, "producers", producer=evil)
        assert [(r["agent"], r["producer"]) for r in rows] == [("urn:x:agent", evil)]
        assert len(run(other, "producers")) == 2
    finally:
        other.close()
