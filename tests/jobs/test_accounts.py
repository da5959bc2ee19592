"""Users, passes and credit: who may do what, and what a job costs."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from jobtrail.base.errors import Forbidden, InputError, PaymentRequired, Unauthorized
from jobtrail.jobs.accounts import (
    ANONYMOUS,
    Accounts,
    Caller,
    Submitter,
    load_key,
    parse_pairs,
    parse_producers,
    pass_digest,
    pass_owner,
    producer_label,
)
from jobtrail.store import Store
from jobtrail.store.oxigraph import OxigraphStore


@pytest.fixture
def store() -> Iterator[Store]:
    with OxigraphStore(None) as s:
        yield s


@pytest.fixture
def accounts(store: Store) -> Accounts:
    return Accounts(
        store,
        "http://s/",
        users={"alice": "wonderland"},
        passes={"tok": 3.0},
        price_per_job=1,
        price_per_mb=0.5,
        max_bytes=10_000_000,
    )


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_identities(accounts: Accounts) -> None:
    assert accounts.identify(basic("alice", "wonderland"), None) == Caller("alice")
    assert accounts.identify(None, "tok") == Caller(pass_owner("tok", accounts.key), "tok")
    assert accounts.identify(None, None) is ANONYMOUS
    assert "tok" not in pass_owner("tok", accounts.key)  # the token itself is never stored


def test_a_pass_is_named_by_a_keyed_hash_never_a_plain_digest(tmp_path: Path) -> None:
    key = load_key(tmp_path / "key")
    assert load_key(tmp_path / "key") == key  # made once, then read
    assert (tmp_path / "key").stat().st_mode & 0o777 == 0o600
    plain = hashlib.sha256(b"tok").hexdigest()
    assert pass_digest("tok", key) != plain
    assert pass_digest("tok", key) != pass_digest("tok", load_key(tmp_path / "other"))
    assert pass_owner("tok", key) == "pass:" + pass_digest("tok", key)[:16]


def test_a_key_file_that_holds_no_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "key").write_text("not hex")
    with pytest.raises(InputError, match="does not hold a key"):
        load_key(tmp_path / "key")


@pytest.mark.parametrize(
    "authorization, token",
    [
        (basic("alice", "nope"), None),
        (basic("mallory", "wonderland"), None),
        ("Basic !!!", None),
        ("Bearer abc", None),
        (None, "unknown"),
    ],
)
def test_bad_credentials_are_forbidden(
    accounts: Accounts, authorization: str | None, token: str | None
) -> None:
    with pytest.raises(Forbidden):
        accounts.identify(authorization, token)


def test_anonymous_callers_need_anonymous_jobs_enabled(accounts: Accounts) -> None:
    accounts.require(ANONYMOUS)
    assert accounts.may_see(Caller("alice"), None)
    accounts.anonymous = False
    with pytest.raises(Unauthorized):
        accounts.require(ANONYMOUS)
    assert not accounts.may_see(Caller("alice"), None)
    assert accounts.may_see(Caller("alice"), "alice") and not accounts.may_see(ANONYMOUS, "alice")


def test_price_comes_from_the_size_and_an_unknown_size_costs_the_limit(accounts: Accounts) -> None:
    assert accounts.price(0) == 1
    assert accounts.price(1) == 1.5  # every MB begun
    assert accounts.price(2_500_000) == 2.5
    assert accounts.price(None) == 1 + 0.5 * 10


def test_debit_refuses_what_the_credit_does_not_cover(accounts: Accounts, store: Store) -> None:
    store.replace(accounts.debit("tok", 2.0, "add credit"))
    assert accounts.balance("tok") == 1.0
    with pytest.raises(PaymentRequired) as caught:
        accounts.debit("tok", 1.5, "ask the admin")
    assert caught.value.status == 402
    assert caught.value.details == {"cost": 1.5, "credit": 1.0, "currency": "credit units"}
    assert caught.value.hint == "ask the admin"
    assert accounts.credit("tok", 4) == 5.0 and accounts.balance("tok") == 5.0


def test_credit_for_an_unknown_pass_is_refused(accounts: Accounts) -> None:
    with pytest.raises(InputError):
        accounts.credit("unknown", 1)


def test_setting_pairs() -> None:
    assert parse_pairs("a:1, b:x:y", "users") == {"a": "1", "b": "x:y"}
    assert parse_pairs(None, "users") == {}
    with pytest.raises(InputError, match="nocolon") as caught:
        parse_pairs("nocolon", "users")
    assert caught.value.hint is not None and "name:value" in caught.value.hint


def test_producer_credentials() -> None:
    assert parse_producers("t1:TDR|TRE, t2:*,t3:TDR|*") == {
        "t1": frozenset({"TDR", "TRE"}),
        "t2": None,
        "t3": None,
    }
    assert parse_producers(None) == {}
    with pytest.raises(InputError, match="names no producer"):
        parse_producers("t1:|")
    key = b"k" * 32
    accounts = Accounts(OxigraphStore(None), "http://h/", key=key, producers={"t1": None})
    found = accounts.producer("t1")
    assert found == Submitter(producer_label("t1", key), None)
    assert found.label == "producer:" + pass_digest("t1", key)[:16]
    assert accounts.producer("t2") is None and accounts.producer("é") is None


def test_a_credential_speaks_for_its_producers_only() -> None:
    tdr = Submitter("producer:x", frozenset({"TDR"}))
    assert tdr.refusal(frozenset({"TDR"})) is None
    foreign = tdr.refusal(frozenset({"TRE"}))
    assert isinstance(foreign, Forbidden) and "TRE" in foreign.message
    assert foreign.details == {"producer": ["TRE"], "allowed": ["TDR"]}
    assert isinstance(tdr.refusal(frozenset()), Forbidden)
    anyone = Submitter("producer:y")
    assert anyone.refusal(frozenset()) is None and anyone.refusal(frozenset({"TRE"})) is None


def test_processes_starting_at_once_share_one_key(tmp_path: Path) -> None:
    """Several server processes making the key at once all read the one that won."""
    import subprocess
    import sys

    code = (
        "import sys; from pathlib import Path; from jobtrail.jobs.accounts import load_key; "
        "print(load_key(Path(sys.argv[1])).hex())"
    )
    starts = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path / "key")], stdout=subprocess.PIPE, text=True
        )
        for _ in range(6)
    ]
    keys = {p.communicate(timeout=60)[0].strip() for p in starts}
    assert keys == {load_key(tmp_path / "key").hex()}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key"]  # no draft left behind
