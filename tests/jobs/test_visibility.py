"""The visibility policy and the public copy, on stores in memory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyoxigraph as ox
import pytest
from jobtrail.base.errors import Forbidden, Unauthorized
from jobtrail.ingest.load import Loader
from jobtrail.ingest.seal import Log
from jobtrail.ingest.sources import from_paths
from jobtrail.jobs.core import Jobs
from jobtrail.jobs.public import MARKER, PublicCopy
from jobtrail.jobs.visibility import ANONYMOUS_VIEWER, STORE, Policy, Role, Viewer
from jobtrail.store import ResourceGraph, Store
from jobtrail.store.oxigraph import OxigraphStore

BASE = "http://s/"
JT = "https://w3id.org/jobtrail/vocab#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
EXAMPLES = Path(__file__).parents[2] / "examples"
ANN, BOB = Viewer(Role.USER, "ann"), Viewer(Role.USER, "bob")
CURATOR, ADMIN = Viewer(Role.CURATOR, "carol"), Viewer(Role.ADMIN, "admin")
PRODUCER = Viewer(Role.PRODUCER, "producer:0123")


@pytest.fixture
def store() -> Iterator[Store]:
    with OxigraphStore(None) as s:
        yield s


@pytest.fixture
def log(store: Store) -> Log:
    return Log(store)


@pytest.fixture
def jobs(store: Store, log: Log) -> Jobs:
    return Jobs(store, BASE, log=log)


def messages_about(store: Store, job_iri: str) -> list[str]:
    rows = store.query(
        f"SELECT ?m ?job WHERE {{ GRAPH ?m {{ ?m <{JT}about> ?job }} }}",
        substitutions={"job": ox.NamedNode(job_iri)},
    )
    return sorted(row["m"].value for row in rows)  # type: ignore[union-attr]


def test_a_job_and_everything_about_it_are_its_owners(store: Store, jobs: Jobs) -> None:
    job = jobs.create(profile="Fixity", owner="ann")
    jobs.delete(job.id, by="ann")  # the state goes; the history stays ann's
    policy = Policy(store, BASE)
    records = messages_about(store, job.iri)
    assert len(records) == 2
    for iri in [job.iri, f"{job.iri}/results", f"{job.iri}/mcma", *records]:
        assert policy.owners_of(iri) == {"ann"}, iri
        assert policy.may_read(ANN, iri)
        assert policy.may_read(CURATOR, iri) and policy.may_read(ADMIN, iri)
        for other in (ANONYMOUS_VIEWER, BOB, PRODUCER):
            assert not policy.may_read(other, iri), (other, iri)


def test_anonymous_jobs_follow_the_anonymous_setting(store: Store, jobs: Jobs) -> None:
    job = jobs.create(profile="Fixity")
    [record] = messages_about(store, job.iri)
    assert Policy(store, BASE).may_read(ANONYMOUS_VIEWER, record)
    closed = Policy(store, BASE, anonymous_jobs=False)
    assert not closed.may_read(ANONYMOUS_VIEWER, record)
    assert not closed.may_read(ANN, job.iri)
    assert closed.may_read(CURATOR, job.iri)


def test_a_pass_balance_is_the_pass_holders(store: Store) -> None:
    policy = Policy(store, BASE)
    iri = f"{BASE}passes/{'ab' * 32}"
    holder = Viewer(Role.PASS, "pass:" + "ab" * 8)
    assert policy.may_read(holder, iri)
    assert not policy.may_read(ANN, iri) and not policy.may_read(ANONYMOUS_VIEWER, iri)


def test_provenance_is_everyones(store: Store) -> None:
    Loader(store, base=BASE).load(from_paths([str(EXAMPLES)]))
    policy = Policy(store, BASE)
    rows = store.query(f"SELECT ?m WHERE {{ GRAPH ?m {{ ?m a <{JT}Message> }} }} LIMIT 5")
    for row in rows:  # type: ignore[union-attr]
        assert policy.owners_of(row["m"].value) == frozenset()
        assert policy.may_read(ANONYMOUS_VIEWER, row["m"].value)
    assert not policy.holds_private()


def test_changing_needs_the_owner_or_the_admin(store: Store) -> None:
    policy = Policy(store, BASE)
    assert policy.may_change(ANN, "ann") and policy.may_change(ADMIN, "ann")
    assert not policy.may_change(CURATOR, "ann") and not policy.may_change(BOB, "ann")
    assert policy.may_change(ANONYMOUS_VIEWER, None)  # an anonymous job, allowed
    assert isinstance(policy.refuse(ANONYMOUS_VIEWER, "x"), Unauthorized)
    assert isinstance(policy.refuse(BOB, "x"), Forbidden)


def test_the_store_holds_private_data_once_an_owned_job_existed(store: Store, jobs: Jobs) -> None:
    jobs.create(profile="Fixity")
    assert not Policy(store, BASE).holds_private()
    owned = jobs.create(profile="Fixity", owner="ann")
    jobs.delete(owned.id, by="ann")
    fresh = Policy(store, BASE)  # a new process: only the history says so
    assert fresh.holds_private()
    assert not fresh.sees_whole_store(ANN) and fresh.sees_whole_store(CURATOR)
    with pytest.raises(Unauthorized):
        fresh.check_whole_store(ANONYMOUS_VIEWER)


def test_the_feed_filter_is_the_same_rule(store: Store, jobs: Jobs) -> None:
    mine, theirs = (
        jobs.create(profile="Fixity", owner="ann"),
        jobs.create(profile="Fixity", owner="bob"),
    )
    anonymous = jobs.create(profile="Fixity")
    policy = Policy(store, BASE)

    def listed(viewer: Viewer) -> set[str]:
        query = (
            f"SELECT ?m WHERE {{ GRAPH ?m {{ ?m a <{JT}Message> }} "
            f"{policy.sparql_filter(viewer)} }}"
        )
        return {row["m"].value for row in store.query(query)}  # type: ignore[union-attr]

    records = {j.iri: messages_about(store, j.iri)[0] for j in (mine, theirs, anonymous)}
    assert listed(ANN) == {records[mine.iri], records[anonymous.iri]}
    assert listed(ANONYMOUS_VIEWER) == {records[anonymous.iri]}
    assert listed(CURATOR) == set(records.values())
    for viewer in (ANN, ANONYMOUS_VIEWER, BOB):
        for record in records.values():
            assert (record in listed(viewer)) == policy.may_read(viewer, record)
    policy = Policy(store, BASE, anonymous_jobs=False)  # the same rule where they are off
    assert listed(ANN) == {records[mine.iri]} and listed(ANONYMOUS_VIEWER) == set()
    for viewer in (ANN, ANONYMOUS_VIEWER, BOB, CURATOR):
        for record in records.values():
            assert (record in listed(viewer)) == policy.may_read(viewer, record)


def test_the_public_copy_holds_what_anyone_may_read(store: Store, jobs: Jobs, log: Log) -> None:
    Loader(store, base=BASE, log=log).load(from_paths([str(EXAMPLES)]))
    owned = jobs.create(profile="Fixity", owner="ann", run_id="ann's secret run")
    anonymous = jobs.create(profile="Fixity")
    with OxigraphStore(None) as copy_store:
        copy = PublicCopy(store, copy_store, log, Policy(store, BASE))
        assert not copy.caught_up.is_set()
        looked = copy.step()
        assert looked == log.position and copy.caught_up.is_set()
        copied = set(copy_store.graphs())
        assert messages_about(store, anonymous.iri)[0] in copied
        assert not copied & set(messages_about(store, owned.iri))
        assert owned.iri not in copied and anonymous.iri not in copied  # no mutable state
        messages = store.query(f"SELECT ?m WHERE {{ GRAPH ?m {{ ?m a <{JT}TREMessage> }} }}")
        for row in messages:  # type: ignore[union-attr]
            assert row["m"].value in copied
        producers = [g for g in copied if g.startswith(f"{BASE}producers/")]
        assert producers, "the producers messages are attributed to come along"
        text = str(list(copy_store.query("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }")))
        assert "ann's secret run" not in text and '"ann"' not in text
        # what comes later is copied by the next step; a restart resumes at the marker
        later = jobs.create(profile="Fixity")
        assert copy.step() == 1
        assert messages_about(store, later.iri)[0] in set(copy_store.graphs())
        again = PublicCopy(store, copy_store, log, Policy(store, BASE))
        assert again.done == log.position and again.step() == 0
        assert MARKER in set(copy_store.graphs())


def test_a_gap_in_the_log_is_passed_over_once_later_records_exist(
    store: Store, jobs: Jobs, log: Log
) -> None:
    log.seal(ResourceGraph(f"{BASE}messages/lost"))  # sealed, never written: an old release's gap
    jobs.create(profile="Fixity")
    with OxigraphStore(None) as copy_store:
        copy = PublicCopy(store, copy_store, log, Policy(store, BASE), gap_grace=3600)
        assert copy.step() == 0 and not copy.caught_up.is_set()  # waited for, first
        copy.gap_grace = 0
        assert copy.step() == 2 and copy.caught_up.is_set()


def test_a_scrub_record_is_for_curators_only(store: Store) -> None:
    """It lists records of every owner (jobtrail scrub): the store's, not provenance."""
    iri = f"{BASE}messages/{'ab' * 32}"
    store.add(
        [
            ResourceGraph(
                iri,
                [
                    (f"<{iri}>", f"<{RDF_TYPE}>", f"<{JT}Message>"),
                    (f"<{iri}>", f"<{RDF_TYPE}>", f"<{JT}Scrub>"),
                ],
            )
        ]
    )
    policy = Policy(store, BASE)
    for triples in (None, store.read(iri)):
        assert policy.owners_of(iri, triples) == {STORE}
    assert not policy.may_read(ANONYMOUS_VIEWER, iri) and not policy.may_read(ANN, iri)
    assert policy.may_read(CURATOR, iri) and policy.may_read(ADMIN, iri)
    query = "SELECT ?m WHERE {{ GRAPH ?m {{ ?m a <{}Message> }} {} }}"
    hidden = store.query(query.format(JT, policy.sparql_filter(ANN)))
    assert list(hidden) == []  # type: ignore[arg-type]
    shown = store.query(query.format(JT, policy.sparql_filter(CURATOR)))
    assert [row["m"].value for row in shown] == [iri]  # type: ignore[union-attr]
