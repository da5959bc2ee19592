"""The SIF job model: declarations, derived state, rights, the record graph, the walk."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from jobtrail.base.errors import Conflict, Forbidden, Gone, InputError, NotFound
from jobtrail.bindings.sif import BINDING
from jobtrail.bindings.sif.model import (
    Outcome,
    Phase,
    Record,
    Sif,
    State,
    derived_state,
    duration_end,
    from_triples,
    load_services,
    shown_state,
    to_triples,
)
from jobtrail.jobs.core import Jobs
from jobtrail.store import ResourceGraph, Store
from jobtrail.store.oxigraph import OxigraphStore

BASE = "http://s/"
T0 = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)


@pytest.fixture
def mem() -> Iterator[Store]:
    with OxigraphStore(None) as store:
        yield store


@pytest.fixture
def sif(mem: Store) -> Sif:
    return Sif(Jobs(mem, BASE, parts=BINDING.side_graphs), load_services(None))


def new_job(sif: Sif, timeout: str | None = None) -> Outcome:
    return sif.create(
        sif.services["Transfer"],
        name="Transfer",
        description=None,
        timeout=timeout,
        init_phase=None,
        init_payload=None,
        owner=None,
        request={},
    )


def phase(name: str, *types: str, required: bool = True) -> Phase:
    states = tuple(State(str(uuid.uuid4()), t, T0, T0) for t in types)
    return Phase(name, required, (("QUERY", "APPROVED"),), (("CREATE", "APPROVED"),), states)


@pytest.mark.parametrize(
    ("phases", "expected"),
    [
        ([phase("a", "NOTSTARTED"), phase("b", "NOTSTARTED")], "NOTSTARTED"),
        ([phase("a", "NOTSTARTED", "PENDING"), phase("b", "NOTSTARTED")], "INPROGRESS"),
        ([phase("a", "COMPLETED"), phase("b", "NOTSTARTED")], "INPROGRESS"),
        ([phase("a", "COMPLETED"), phase("b", "COMPLETED")], "COMPLETED"),
        ([phase("a", "COMPLETED"), phase("r", "NOTSTARTED", required=False)], "COMPLETED"),
        ([phase("a", "COMPLETED"), phase("b", "FAILED")], "FAILED"),
        ([phase("a", "COMPLETED"), phase("r", "FAILED", required=False)], "COMPLETED"),
        ([phase("a", "COMPLETED"), phase("b", "SKIPPED")], "INPROGRESS"),
        (
            [phase("r", "COMPLETED", required=False), phase("s", "SKIPPED", required=False)],
            "COMPLETED",
        ),
        ([phase("r", "NOTAPPLICABLE", required=False)], "NOTSTARTED"),
    ],
)
def test_the_job_state_follows_the_phases(phases: list[Phase], expected: str) -> None:
    assert derived_state(phases)[0] == expected


def test_a_failed_required_phase_says_which_and_why() -> None:
    failing = Phase("b", True, (), (), (State("x", "FAILED", T0, T0, "checksum mismatch"),))
    assert derived_state([phase("a", "COMPLETED"), failing]) == (
        "FAILED",
        "required phase b failed: checksum mismatch",
    )


@pytest.mark.parametrize(
    ("lexical", "expected"),
    [
        ("PT30M", datetime(2026, 1, 31, 12, 30, tzinfo=UTC)),
        ("P1D", datetime(2026, 2, 1, 12, 0, tzinfo=UTC)),
        ("P1M", datetime(2026, 2, 28, 12, 0, tzinfo=UTC)),  # the calendar, not 30 days
        ("P1Y1MT1.5S", datetime(2027, 2, 28, 12, 0, 1, 500000, tzinfo=UTC)),
        ("PT0S", None),  # no timeout
    ],
)
def test_timeouts_are_xsd_durations(lexical: str, expected: datetime | None) -> None:
    assert duration_end(T0, lexical) == expected


@pytest.mark.parametrize("lexical", ["P", "PT", "-P1D", "1 day", "PT1H30", "P1DT"])
def test_a_bad_timeout_is_refused_naming_the_element(lexical: str) -> None:
    with pytest.raises(InputError) as e:
        duration_end(T0, lexical)
    assert e.value.details["element"] == "timeout"


def test_the_default_services_declare_phases_with_rights() -> None:
    services = load_services(None)
    transfer = services["Transfer"]
    assert transfer.collection == "Transfers"
    assert [p.name for p in transfer.phases] == ["package", "validation", "ingest", "report"]
    assert [p.required for p in transfer.phases] == [True, True, True, False]
    assert dict(transfer.phases[1].rights)["UPDATE"] == "REJECTED"


def grading() -> dict[str, Any]:
    """A one-phase service, as a declaration file holds it."""
    return {
        "name": "Grading",
        "phases": [
            {
                "name": "marks",
                "required": True,
                "rights": {"QUERY": "APPROVED"},
                "statesRights": {"QUERY": "APPROVED"},
            }
        ],
    }


def test_services_come_from_a_file(tmp_path: Path) -> None:
    declared = {"services": [grading()]}
    path = tmp_path / "sif.json"
    path.write_text(json.dumps(declared))
    assert list(load_services(str(path))) == ["Grading"]
    assert list(load_services(json.dumps(declared))) == ["Grading"]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda s: s["phases"][0]["rights"].update(QUERY="MAYBE"), "QUERY=MAYBE"),
        (lambda s: s["phases"][0]["rights"].update(READ="APPROVED"), "READ=APPROVED"),
        (lambda s: s.update(name="bad name"), "bad name"),
        (lambda s: s["phases"].append(dict(s["phases"][0])), "unique"),
        (lambda s: s["phases"][0].pop("statesRights"), "statesRights"),
    ],
)
def test_a_bad_declaration_is_refused_naming_what(change: object, named: str) -> None:
    service = grading()
    change(service)  # type: ignore[operator]
    with pytest.raises(InputError, match="sif_services") as e:
        load_services(json.dumps({"services": [service]}))
    assert named in e.value.message


def test_only_approved_allows_and_the_refusal_names_the_right() -> None:
    p = Phase("v", True, (("QUERY", "APPROVED"), ("UPDATE", "SUPPORTED")), (), ())
    p.require("QUERY")
    with pytest.raises(Forbidden) as e:
        p.require("UPDATE")
    assert e.value.details == {"phase": "v", "right": "UPDATE", "value": "SUPPORTED"}
    with pytest.raises(Forbidden, match="no such right"):
        p.require("DELETE")
    with pytest.raises(Forbidden, match="on its states"):
        p.require("CREATE", on_states=True)


def test_the_record_graph_reads_back_as_written() -> None:
    record = Record(
        "Transfer",
        "Transfer",
        (
            phase("a", "NOTSTARTED", "INPROGRESS"),
            Phase(
                "b",
                False,
                (("QUERY", "APPROVED"), ("DELETE", "REJECTED")),
                (("QUERY", "APPROVED"),),
                (State("6c0ab9f0-5f8e-4b8e-9d53-1b0d8b1c2a01", "NOTSTARTED", T0, T0, "wait"),),
                "<x/>",
                "application/xml",
            ),
        ),
        description="d",
        state_description="why",
        timeout="P1D",
        init_phase="a",
        init_payload='<p xmlns="urn:x">1 &amp; 2</p>',
    )
    with OxigraphStore(None) as store:
        store.add([ResourceGraph("http://s/jobs/1/sif", to_triples("http://s/jobs/1", record))])
        assert from_triples("http://s/jobs/1", store.read("http://s/jobs/1/sif")) == record


def test_states_walk_the_job_through_the_uws_phases(sif: Sif) -> None:
    created = new_job(sif)
    job = created.job
    assert (job.phase, job.status_value, shown_state(job)) == (
        "PENDING",
        "NOTSTARTED",
        "NOTSTARTED",
    )
    began = sif.add_state(job, "package", type="INPROGRESS", description=None, by="t", request={})
    assert began.steps == ["QUEUED", "EXECUTING"]
    assert (began.job.phase, shown_state(began.job)) == ("EXECUTING", "INPROGRESS")
    for name in ("package", "validation"):
        same = sif.add_state(job, name, type="COMPLETED", description=None, by="t", request={})
        assert same.steps == [] and same.job.phase == "EXECUTING"
    done = sif.add_state(job, "ingest", type="COMPLETED", description=None, by="t", request={})
    assert (done.job.phase, shown_state(done.job), done.steps) == (
        "COMPLETED",
        "COMPLETED",
        ["COMPLETED"],
    )
    with pytest.raises(Conflict, match="cannot become INPROGRESS"):
        sif.add_state(job, "ingest", type="INPROGRESS", description=None, by="t", request={})
    # the refused change left the record as it was
    assert sif.read(done.job).phase("ingest").current.type == "COMPLETED"


def test_a_failed_required_phase_is_an_error_of_the_job(sif: Sif) -> None:
    job = new_job(sif).job
    failed = sif.add_state(
        job, "validation", type="FAILED", description="bad checksum", by="t", request={}
    )
    assert failed.job.phase == "ERROR" and failed.steps == ["ERROR"]
    assert failed.job.error is not None
    assert failed.job.error.message == "required phase validation failed: bad checksum"
    assert failed.record.state_description == failed.job.error.message


def test_bad_creations_name_the_problem_and_store_nothing(sif: Sif, mem: Store) -> None:
    service = sif.services["Transfer"]
    common = {"description": None, "timeout": None, "owner": None, "request": {}}
    with pytest.raises(InputError, match="not a job of the Transfer service"):
        sif.create(service, name="Grading", init_phase=None, init_payload=None, **common)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="phase 'upload', which a Transfer job does not"):
        sif.create(service, name="Transfer", init_phase="upload", init_payload="<x/>", **common)  # type: ignore[arg-type]
    assert sif.jobs.ids() == []


def test_deleting_a_job_drops_its_record(sif: Sif, mem: Store) -> None:
    job = new_job(sif, timeout="PT1H").job
    assert job.destruction is not None and mem.read(sif.record_iri(job.id))
    sif.jobs.delete(job.id, by="t")
    assert mem.read(sif.record_iri(job.id)) == []
    with pytest.raises(Gone):
        sif.jobs.get(job.id)


def test_a_job_of_another_binding_is_not_a_sif_job(sif: Sif) -> None:
    job = sif.jobs.create(profile="Fixity", input="http://h/x")
    with pytest.raises(NotFound, match="not a SIF job"):
        sif.read(job)
    assert not sif.runs_elsewhere(job)
