"""The job core: one model of a job, every change a stored message, illegal transitions refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pyoxigraph as ox
import pytest
from jobtrail.base.errors import Conflict, Gone, InputError, JobFailed, NotFound, QueryError
from jobtrail.jobs.core import PHASES, TRANSITIONS, Change, Jobs
from jobtrail.store import ResourceGraph, Store
from jobtrail.store.oxigraph import OxigraphStore

BASE = "http://s/"
JT = "https://w3id.org/jobtrail/vocab#"


@pytest.fixture
def mem() -> Iterator[Store]:
    with OxigraphStore(None) as store:
        yield store


@pytest.fixture
def jobs(mem: Store) -> Jobs:
    return Jobs(mem, BASE)


def history(store: Store, iri: str) -> list[dict[str, object]]:
    """The job's change messages, oldest first, from their original bytes."""
    rows = store.query(
        f"SELECT ?job ?text WHERE {{ ?m <{JT}about> ?job ; <{JT}originalText> ?text ; "
        f"<{JT}sequence> ?n }} ORDER BY ?n",
        substitutions={"job": ox.NamedNode(iri)},
    )
    return [json.loads(row["text"].value) for row in rows]  # type: ignore[union-attr]


def test_create_stores_state_and_a_creation_message(jobs: Jobs, mem: Store) -> None:
    job = jobs.create(
        profile="Fixity",
        input="http://h/x.doc",
        owner="alice",
        run_id="first try",
        parameters={"expected": "ab", "n": [1, 2]},
        execution_duration=30,
    )
    again = jobs.get(job.id)
    assert again == job
    assert again.iri == f"{BASE}jobs/{job.id}"
    assert again.parameters == {"expected": "ab", "n": [1, 2]}
    assert [h["change"] for h in history(mem, job.iri)] == ["created"]
    assert history(mem, job.iri)[0]["by"] == "alice"


def test_a_job_walks_its_phases_and_each_step_is_a_message(jobs: Jobs, mem: Store) -> None:
    job = jobs.create(profile="Fixity", input="http://h/x", execution_duration=10)
    jobs.set_phase(job.id, "QUEUED")
    running = jobs.set_phase(job.id, "EXECUTING")
    assert running.started is not None and running.ended is None
    assert running.deadline() == running.started + timedelta(seconds=10)
    done = jobs.set_phase(job.id, "COMPLETED")
    assert done.ended is not None and done.sequence == 4
    steps = [(h["from"], h["to"]) for h in history(mem, job.iri)]
    assert steps == [
        (None, "PENDING"),
        ("PENDING", "QUEUED"),
        ("QUEUED", "EXECUTING"),
        ("EXECUTING", "COMPLETED"),
    ]


def test_a_trace_of_the_job_id_is_its_history_in_order(jobs: Jobs, mem: Store) -> None:
    from jobtrail.queries.trace import trace

    job = jobs.create(profile="Fixity", input="http://h/x")
    other = jobs.create(profile="Fixity", input="http://h/y")
    for phase in ("QUEUED", "EXECUTING", "COMPLETED"):
        jobs.set_phase(job.id, phase)
    jobs.set_phase(other.id, "QUEUED")
    hops = trace(mem, job.id).hops
    assert [h.kind for h in hops] == ["JobChange"] * 4
    steps = [json.loads(_text(mem, h.iri))["to"] for h in hops]
    assert steps == ["PENDING", "QUEUED", "EXECUTING", "COMPLETED"]


def _text(store: Store, message: str) -> str:
    (row,) = store.query(
        f"SELECT ?m ?t WHERE {{ ?m <{JT}originalText> ?t }}",
        substitutions={"m": ox.NamedNode(message)},
    )  # type: ignore[misc]
    return str(row["t"].value)


@pytest.mark.parametrize(
    "path, refused",
    [
        ((), "COMPLETED"),  # PENDING → COMPLETED skips running
        (("QUEUED", "EXECUTING", "COMPLETED"), "EXECUTING"),  # a finished job does not restart
        (("ABORTED",), "QUEUED"),
        (("QUEUED", "EXECUTING", "ERROR", "ARCHIVED"), "COMPLETED"),
    ],
)
def test_an_illegal_transition_is_a_409_naming_the_current_phase(
    jobs: Jobs, mem: Store, path: tuple[str, ...], refused: str
) -> None:
    job = jobs.create(profile="Fixity", input="http://h/x")
    for phase in path:
        jobs.set_phase(job.id, phase)
    before = len(history(mem, job.iri))
    with pytest.raises(Conflict) as caught:
        jobs.set_phase(job.id, refused)
    current = path[-1] if path else "PENDING"
    assert caught.value.status == 409
    assert caught.value.details["phase"] == current
    assert current in caught.value.message and refused in caught.value.message
    assert len(history(mem, job.iri)) == before  # nothing written


def test_every_phase_has_a_row_in_the_transition_table() -> None:
    assert set(TRANSITIONS) == set(PHASES)
    assert all(targets <= set(PHASES) for targets in TRANSITIONS.values())


def test_expect_keeps_a_worker_off_an_aborted_job(jobs: Jobs) -> None:
    job = jobs.create(profile="Fixity", input="http://h/x", phase="QUEUED")
    jobs.set_phase(job.id, "ABORTED")
    with pytest.raises(Conflict):
        jobs.set_phase(job.id, "EXECUTING", expect=("QUEUED",))


def test_error_and_results_are_stored_with_the_final_phase(jobs: Jobs, mem: Store) -> None:
    job = jobs.create(profile="Fixity", input="http://h/x", phase="QUEUED")
    jobs.set_phase(job.id, "EXECUTING")
    report = ResourceGraph(
        jobs.results_iri(job.id),
        [(f"<{jobs.results_iri(job.id)}>", f"<{JT}about>", f"<{job.iri}>")],
    )
    failed = jobs.set_phase(
        job.id, "ERROR", error=JobFailed("SHA-256 mismatch", hint="check the file"), results=report
    )
    assert failed.error is not None and failed.error.type == "JobFailed"
    assert jobs.get(job.id).error == failed.error
    assert mem.exists(jobs.results_iri(job.id))
    archived = jobs.set_phase(job.id, "ARCHIVED")
    assert archived.results is None and not mem.exists(jobs.results_iri(job.id))
    assert jobs.get(job.id).error == failed.error  # the description stays


def test_parameters_are_frozen_once_the_job_runs(jobs: Jobs) -> None:
    job = jobs.create(profile="Fixity", input="http://h/x")
    assert jobs.update(job.id, by="alice", parameters={"a": 1}).parameters == {"a": 1}
    jobs.set_phase(job.id, "QUEUED")
    with pytest.raises(Conflict, match="QUEUED"):
        jobs.update(job.id, by="alice", parameters={"a": 2})
    later = datetime(2030, 1, 1, tzinfo=UTC)
    assert jobs.update(job.id, by="alice", destruction=later).destruction == later
    with pytest.raises(InputError, match="phase"):
        jobs.update(job.id, by="alice", phase="COMPLETED")


def test_delete_removes_state_and_results_but_keeps_history(jobs: Jobs, mem: Store) -> None:
    job = jobs.create(profile="Fixity", input="http://h/x")
    jobs.delete(job.id, by="alice")
    with pytest.raises(Gone):
        jobs.get(job.id)
    assert not mem.exists(job.iri)
    assert [h["change"] for h in history(mem, job.iri)] == ["created", "deleted"]
    with pytest.raises(NotFound):
        jobs.get("no-such-job")


def test_list_shows_owners_their_jobs_and_anonymous_ones_when_allowed(jobs: Jobs) -> None:
    a = jobs.create(profile="Fixity", input="http://h/a", owner="alice")
    b = jobs.create(profile="Fixity", input="http://h/b", owner="bob")
    anon = jobs.create(profile="Fixity", input="http://h/c")
    assert {j.id for j in jobs.list(owner="alice")} == {a.id, anon.id}
    assert {j.id for j in jobs.list(owner="alice", anonymous=False)} == {a.id}
    assert {j.id for j in jobs.list(owner=None)} == {anon.id}
    assert {j.id for j in jobs.list(everyone=True)} == {a.id, b.id, anon.id}
    assert [j.id for j in jobs.list(everyone=True, limit=1)] == [anon.id]  # newest first
    assert jobs.list(everyone=True, phases=["QUEUED"]) == []


def test_listeners_hear_every_change(jobs: Jobs) -> None:
    heard: list[Change] = []
    jobs.listen(heard.append)
    job = jobs.create(profile="Fixity", input="http://h/x")
    jobs.set_phase(job.id, "QUEUED")
    jobs.delete(job.id, by="x")
    assert [(c.kind, c.previous) for c in heard] == [
        ("created", None),
        ("phase", "PENDING"),
        ("deleted", "QUEUED"),
    ]


@pytest.mark.parametrize("bad", ["not a url", "relative/path", ""])
def test_a_job_input_must_be_an_absolute_url(jobs: Jobs, mem: Store, bad: str) -> None:
    with pytest.raises(InputError):
        jobs.create(profile="Fixity", input=bad or "x y")
    assert list(mem.graphs()) == []


def test_a_change_is_all_or_nothing(jobs: Jobs, mem: Store) -> None:
    """A graph the store refuses makes the whole change fail: no message, no new state."""
    job = jobs.create(profile="Fixity", input="http://h/x", phase="QUEUED")
    jobs.set_phase(job.id, "EXECUTING")
    broken = ResourceGraph("http://s/r", [("<http://s/r>", "<http://p>", '"unterminated')])
    with pytest.raises(QueryError):  # the update carrying the change does not parse
        jobs.set_phase(job.id, "COMPLETED", results=broken)
    assert jobs.get(job.id).phase == "EXECUTING"
    assert len(history(mem, job.iri)) == 2


def test_priority_and_deadline_are_kept_and_an_unknown_priority_is_refused(jobs: Jobs) -> None:
    due = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    job = jobs.create(profile="Fixity", priority="urgent", due=due)
    again = jobs.get(job.id)
    assert (again.priority, again.due) == ("urgent", due)
    with pytest.raises(InputError) as refused:
        jobs.create(profile="Fixity", priority="whenever")
    assert "whenever" in refused.value.message
    assert refused.value.hint == "one of immediate, urgent, high, medium, low"


def test_a_stale_run_cannot_finish_a_restarted_job(jobs: Jobs) -> None:
    job = jobs.create(profile="Fixity", phase="QUEUED")
    first = jobs.set_phase(job.id, "EXECUTING")
    jobs.set_phase(job.id, "QUEUED")
    second = jobs.set_phase(job.id, "EXECUTING")
    with pytest.raises(Conflict, match="restarted"):
        jobs.set_phase(job.id, "COMPLETED", expect_started=first.started)
    done = jobs.set_phase(job.id, "COMPLETED", expect_started=second.started)
    assert done.phase == "COMPLETED"


def test_list_bounds_creation_time_and_orders_either_way(jobs: Jobs) -> None:
    times = iter(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=i) for i in range(10))
    jobs.clock = lambda: next(times)
    made = [jobs.create(profile="Fixity").id for _ in range(5)]
    jobs.clock = lambda: datetime(2026, 2, 1, tzinfo=UTC)
    after, before = (
        datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC),
        datetime(2026, 1, 1, 0, 3, tzinfo=UTC),
    )
    newest = [j.id for j in jobs.list(everyone=True, after=after, before=before)]
    oldest = [j.id for j in jobs.list(everyone=True, after=after, before=before, oldest_first=True)]
    assert newest == [made[2], made[1]] and oldest == [made[1], made[2]]


def test_a_parameter_the_profile_declares_secret_is_never_stored(mem: Store) -> None:
    jobs = Jobs(mem, BASE, secret_parameters=lambda profile: frozenset({"signingKey"}))
    job = jobs.create(
        profile="Signer",
        parameters={"signingKey": "k-8f3e2", "token": "t-1", "level": 3},
        request={"form": {"signingKey": "k-8f3e2", "level": "3"}},
    )
    assert job.parameters == {"signingKey": "REDACTED", "token": "REDACTED", "level": 3}
    dumped = "".join(str(q) for q in mem.query("SELECT * WHERE { GRAPH ?g { ?s ?p ?o } }"))  # type: ignore[union-attr]
    assert "k-8f3e2" not in dumped and "t-1" not in dumped
    assert "REDACTED" in dumped  # the change record says it was changed
    # the worker runs it with the real values, from the vault
    assert jobs.parameters_of(job) == {"signingKey": "k-8f3e2", "token": "t-1", "level": 3}
    jobs.update(job.id, by="x", parameters={"signingKey": "k-new", "level": 4})
    again = jobs.get(job.id)
    assert again.parameters["signingKey"] == "REDACTED"
    assert jobs.parameters_of(again) == {"signingKey": "k-new", "level": 4}
    jobs.delete(job.id, by="x")
    assert jobs.vault.get(f"{job.id}.parameters") is None
