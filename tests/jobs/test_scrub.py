"""Scrubbing a store an earlier release wrote: no secret left, passes re-keyed, and
`verify` accepting exactly what the scrub changed and nothing else."""

from __future__ import annotations

import json
from pathlib import Path

import pyoxigraph as ox
import pytest
from jobtrail.base.terms import HTTP
from jobtrail.ingest.load import Loader
from jobtrail.ingest.message import Incoming
from jobtrail.ingest.seal import Log, Tally, verify
from jobtrail.jobs.accounts import Accounts, pass_digest, pass_owner
from jobtrail.jobs.core import Jobs
from jobtrail.jobs.public import PublicCopy
from jobtrail.jobs.scrub import scrub
from jobtrail.jobs.vault import Vault
from jobtrail.jobs.visibility import Policy
from jobtrail.shapes import validate
from jobtrail.store import ResourceGraph, Store
from jobtrail.store.oxigraph import OxigraphStore

from tests.jobs.oldstore import (
    ANON_JOB,
    BASE,
    CALLBACK,
    INPUT,
    JT,
    KEY,
    PAID_JOB,
    PASSWORD,
    PLAIN,
    SECRETS,
    TOKEN,
    Old,
    build,
    dump,
)

SCRUBBED = 4  # the two creation records and the two hops


@pytest.fixture
def mem() -> OxigraphStore:
    return OxigraphStore(None)


def findings(store: Store) -> tuple[list[str], Tally]:
    tally = Tally()
    return [f"#{f.position} {f.message}: {f.problem}" for f in verify(store, tally=tally)], tally


def positions(store: Store) -> list[int]:
    rows = store.query(f"SELECT ?n WHERE {{ ?m <{JT}logPosition> ?n }} ORDER BY ?n")
    return [int(r["n"].value) for r in rows]  # type: ignore[union-attr]


def one(store: Store, graph: str, predicate: str, subject: str | None = None) -> str:
    node = ox.NamedNode(subject or graph)
    (value,) = [
        t.object.value  # type: ignore[union-attr]
        for t in store.read(graph)
        if t.subject == node and t.predicate.value == predicate
    ]
    return value


def tamper(store: OxigraphStore, graph: str, predicate: str, value: str) -> None:
    """Change one triple of a record straight in the engine, behind jobtrail's back."""
    engine = store._store
    g = ox.NamedNode(graph)
    for quad in list(engine.quads_for_pattern(g, ox.NamedNode(predicate), None, g)):
        engine.remove(quad)
    engine.add(ox.Quad(g, ox.NamedNode(predicate), ox.Literal(value), g))


def scrub_record(store: Store) -> str:
    rows = store.query(f"SELECT ?s WHERE {{ GRAPH ?s {{ ?s a <{JT}Scrub> }} }}")
    (iri,) = [r["s"].value for r in rows]  # type: ignore[union-attr]
    return str(iri)


def test_an_old_store_keeps_no_secret_and_still_verifies(store: Store) -> None:
    build(store)
    assert findings(store) == ([], Tally())
    head = positions(store)[-1]
    report = scrub(store, BASE, passes=[TOKEN], key=KEY)
    text = dump(store)
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} is still in the store"
    assert "REDACTED" in text
    problems, tally = findings(store)
    assert problems == []
    assert tally.scrubbed == SCRUBBED and len(tally.scrubs) == 1
    assert positions(store)[-1] == head + 1  # the scrub record, at the head of the log
    assert report.changed == 9 and report.sealed == SCRUBBED and report.passes == 1
    assert len(report.records) == 1 and report.records == sorted(tally.scrubs)
    assert {"authorization", "pass", "pass-digest", "password", "userinfo"} <= set(report.names)


def test_a_second_scrub_changes_nothing(mem: OxigraphStore) -> None:
    build(mem)
    scrub(mem, BASE, passes=[TOKEN], key=KEY)
    before, log = dump(mem), positions(mem)
    again = scrub(mem, BASE, passes=[TOKEN], key=KEY)
    assert again.changed == 0 and again.records == [] and not again.names
    assert "nothing to scrub" in again.summary()
    assert dump(mem) == before and positions(mem) == log


def test_a_dry_run_says_what_would_change_and_changes_nothing(mem: OxigraphStore) -> None:
    build(mem)
    before = dump(mem)
    report = scrub(mem, BASE, passes=[TOKEN], key=KEY, dry_run=True)
    assert report.changed == 9 and report.sealed == SCRUBBED and len(report.records) == 1
    assert "would be changed" in report.summary()
    assert dump(mem) == before


def test_the_pass_is_rekeyed_and_keeps_its_balance_and_its_jobs(mem: OxigraphStore) -> None:
    old = build(mem)
    scrub(mem, BASE, passes=[TOKEN], key=KEY)
    accounts = Accounts(mem, BASE, passes={TOKEN: 10.0}, key=KEY)
    assert not mem.exists(old.passes)
    assert accounts.iri(TOKEN) == f"{BASE}passes/{pass_digest(TOKEN, KEY)}"
    assert accounts.balance(TOKEN) == 7.5  # not the configured 10: the balance it had
    owner = pass_owner(TOKEN, KEY)
    assert Jobs(mem, BASE).get(PAID_JOB).owner == owner
    assert one(mem, old.change, f"{JT}changedBy") == owner
    assert json.loads(one(mem, old.change, f"{JT}originalText"))["by"] == owner
    job = f"{BASE}jobs/{PAID_JOB}"
    assert Policy(mem, BASE).job_owners(job) == frozenset({owner})  # the pass sees its job


def test_a_balance_under_the_keyed_name_wins(mem: OxigraphStore) -> None:
    old = build(mem)
    accounts = Accounts(mem, BASE, passes={TOKEN: 10.0}, key=KEY)
    accounts.credit(TOKEN, -7.0)  # the new release has been running: 3 left
    report = scrub(mem, BASE, passes=[TOKEN], key=KEY)
    assert report.dropped == [old.passes] and report.passes == 0
    assert accounts.balance(TOKEN) == 3.0
    assert PLAIN not in dump(mem)


def test_a_hop_says_what_was_taken_out(mem: OxigraphStore) -> None:
    old = build(mem)
    sha = one(mem, old.request, f"{JT}sha256")
    scrub(mem, BASE, passes=[TOKEN], key=KEY)
    text = one(mem, old.request, f"{JT}originalText")
    head, _, body = text.partition("\r\n\r\n")
    assert head.startswith("POST /jobs?pass=REDACTED HTTP/1.1\r\n")
    assert "Authorization: REDACTED" in head
    assert "Jobtrail-Redacted: authorization, pass, userinfo" in head
    assert f"Content-Length: {len(body.encode())}" in head
    assert one(mem, old.request, f"{JT}sha256") == sha and old.request.endswith(sha)
    headers = {
        one(mem, old.request, f"{HTTP}fieldName", h.value): one(
            mem, old.request, f"{HTTP}fieldValue", h.value
        )
        for h in (
            t.object
            for t in mem.read(old.request)
            if t.predicate.value == f"{HTTP}headers" and isinstance(t.object, ox.NamedNode)
        )
    }
    assert headers["Authorization"] == "REDACTED"
    assert headers["Jobtrail-Redacted"] == "authorization, pass, userinfo"
    assert headers["Content-Length"] == str(len(body.encode()))
    assert one(mem, old.request, f"{HTTP}requestURI") == "/jobs?pass=REDACTED"


def test_the_scrub_record_lists_each_record_and_the_shapes_accept_it(mem: OxigraphStore) -> None:
    old = build(mem)
    scrub(mem, BASE, passes=[TOKEN], key=KEY)
    iri = scrub_record(mem)
    triples = [(str(t.subject), str(t.predicate), str(t.object)) for t in mem.read(iri)]
    report = validate(triples)
    assert report.conforms, report.text()
    document = json.loads(one(mem, iri, f"{JT}originalText"))
    listed = {r["record"]: r for r in document["records"]}
    assert set(listed) == {old.change, old.anonymous, old.request, old.response}
    assert all(r["before"] != r["after"] and "sha256After" in r for r in listed.values())
    assert listed[old.change]["redacted"] == ["pass", "pass-digest", "userinfo"]
    assert document["passesRekeyed"] == 1 and document["unsealedGraphsChanged"] == 5
    scrubbed = {t[2] for t in triples if t[1] == f"<{JT}scrubbed>"}
    assert scrubbed == {f"<{r}>" for r in listed}


@pytest.mark.parametrize("predicate", [f"{JT}changeKind", f"{JT}originalText"])
def test_a_scrubbed_record_changed_afterwards_is_a_finding(
    mem: OxigraphStore, predicate: str
) -> None:
    old = build(mem)
    scrub(mem, BASE, passes=[TOKEN], key=KEY)
    tamper(mem, old.change, predicate, "deleted")
    problems, tally = findings(mem)
    assert problems and all(old.change in p for p in problems)
    assert "not the ones it was stored with" in problems[0]
    assert tally.scrubbed == SCRUBBED - 1


def test_an_edited_scrub_record_is_a_finding_and_vouches_for_nothing(mem: OxigraphStore) -> None:
    old = build(mem)
    scrub(mem, BASE, passes=[TOKEN], key=KEY)
    iri = scrub_record(mem)
    document = json.loads(one(mem, iri, f"{JT}originalText"))
    document["records"] = document["records"][:1]
    tamper(mem, iri, f"{JT}originalText", json.dumps(document))
    problems, tally = findings(mem)
    named = {p.split(" ")[1].rstrip(":") for p in problems}
    assert named == {iri, old.change, old.anonymous, old.request, old.response}
    assert tally.scrubbed == 0


def test_a_record_scrubbed_twice_verifies_through_both(mem: OxigraphStore) -> None:
    old = build(mem)
    first = scrub(mem, BASE)  # no passes given: the plain digests stay for now
    assert PLAIN[:16] in dump(mem) and first.passes == 0
    second = scrub(mem, BASE, passes=[TOKEN], key=KEY)
    assert second.passes == 1 and second.sealed == 2  # the paid job's change, its answer
    problems, tally = findings(mem)
    assert problems == [] and tally.scrubbed == SCRUBBED and len(tally.scrubs) == 2
    assert one(mem, old.change, f"{JT}changedBy") == pass_owner(TOKEN, KEY)


def test_a_scrub_record_per_batch(mem: OxigraphStore) -> None:
    build(mem)
    report = scrub(mem, BASE, passes=[TOKEN], key=KEY, batch_size=2)
    assert len(report.records) > 1  # one per batch of two graphs holding a sealed record
    problems, tally = findings(mem)
    assert problems == [] and tally.scrubbed == SCRUBBED and tally.scrubs == set(report.records)


def test_what_a_job_still_to_run_needs_waits_in_the_vault(
    mem: OxigraphStore, tmp_path: Path
) -> None:
    build(mem)
    vault = Vault(tmp_path / "vault")
    report = scrub(mem, BASE, passes=[TOKEN], key=KEY, vault=vault)
    assert report.vaulted == 5  # two inputs, two jobs' parameters, a pending call
    jobs = Jobs(mem, BASE, vault=Vault(tmp_path / "vault"))
    for job_id in (PAID_JOB, ANON_JOB):
        job = jobs.get(job_id)
        assert job.input == INPUT.replace(PASSWORD, "REDACTED")
        assert jobs.input_of(job) == INPUT
        assert jobs.parameters_of(job) == {"password": PASSWORD, "depth": 2}
    assert vault.get("call-call-1") == CALLBACK


def test_provenance_is_left_as_it_came_unless_asked(mem: OxigraphStore) -> None:
    posted = b"GET /feed?token=abc123 HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer xyz789\r\n\r\n"
    assert Loader(mem, base=BASE).load([Incoming(posted, "posted")]).rejected == []
    report = scrub(mem, BASE)
    assert report.changed == 0 and report.provenance >= 1 and "abc123" in dump(mem)
    report = scrub(mem, BASE, provenance=True)
    assert report.sealed == 1
    text = dump(mem)
    assert "abc123" not in text and "xyz789" not in text
    assert findings(mem)[0] == []


def test_the_public_copy_takes_the_scrubbed_records_again(mem: OxigraphStore) -> None:
    old = build(mem)
    log = Log(mem)
    with OxigraphStore(None) as copy:
        public = PublicCopy(mem, copy, log, Policy(mem, BASE))
        public.step()
        assert copy.exists(old.anonymous) and not copy.exists(old.change)  # the pass's
        assert PASSWORD in dump(copy)
        scrub(mem, BASE, passes=[TOKEN], key=KEY, log=log)
        public.step()
        assert PASSWORD not in dump(copy) and TOKEN not in dump(copy)
        assert one(copy, old.anonymous, f"{JT}digest") == one(mem, old.anonymous, f"{JT}digest")
        scrubs = mem.query(f"SELECT ?s WHERE {{ GRAPH ?s {{ ?s a <{JT}Scrub> }} }}")
        for row in scrubs:  # type: ignore[union-attr]
            assert not copy.exists(row["s"].value)  # it lists private records: curators'


def test_an_old_store_with_a_record_tampered_before_the_scrub_stays_a_finding(
    mem: OxigraphStore,
) -> None:
    old: Old = build(mem)
    tamper(mem, old.change, f"{JT}changeKind", "deleted")
    scrub(mem, BASE, passes=[TOKEN], key=KEY)
    problems, _ = findings(mem)
    assert len(problems) == 1 and old.change in problems[0]


def test_graphs_that_are_not_sealed_are_replaced(mem: OxigraphStore) -> None:
    old = build(mem)
    mem.add([ResourceGraph(f"{BASE}unrelated", [(f"<{BASE}a>", f"<{BASE}b>", '"c"')])])
    scrub(mem, BASE, passes=[TOKEN], key=KEY)
    assert one(mem, old.outbox, f"{JT}callTarget") == CALLBACK.replace(PASSWORD, "REDACTED")
    document = json.loads(one(mem, old.mcma, f"{JT}mcmaDocument"))
    assert document["notificationEndpoint"]["httpEndpoint"] == CALLBACK.replace(
        PASSWORD, "REDACTED"
    )
    assert document["owner"] == pass_owner(TOKEN, KEY)
    assert mem.read(f"{BASE}unrelated")  # provenance, left alone
