"""`jobtrail scrub` on an embedded store an earlier release wrote, then `jobtrail verify`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from jobtrail.jobs.accounts import Accounts
from jobtrail.store.oxigraph import OxigraphStore

from tests.jobs.oldstore import BASE, CALLBACK, KEY, SECRETS, TOKEN, build, dump


def jobtrail(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jobtrail.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={k: v for k, v in os.environ.items() if not k.startswith("JOBTRAIL_")},
    )


def test_scrub_then_verify_on_the_command_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with OxigraphStore(data) as store:
        build(store)
    key = tmp_path / "server.key"
    key.write_text(KEY.hex() + "\n")
    common = ["--store", str(data), "--base-url", BASE]
    scrubbing = [*common, "--passes", f"{TOKEN}:10", "--key-file", str(key)]
    scrubbing += ["--files", str(tmp_path / "files"), "--silent"]

    ok = jobtrail("verify", *common, cwd=tmp_path)
    assert ok.returncode == 0 and "verified 4 messages" in ok.stdout and "scrubbed" not in ok.stdout

    dry = jobtrail("scrub", *scrubbing, "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "9 would be changed, 4 of them sealed records" in dry.stdout
    assert "dry run: nothing was changed" in dry.stdout

    done = jobtrail("scrub", *scrubbing, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "9 changed, 4 of them sealed records, listed in 1 scrub record(s)" in done.stdout
    assert "1 pass balance(s) re-keyed" in done.stdout
    assert "took out: authorization 2, pass 4, pass-digest 8, password 2, userinfo 7" in done.stdout

    checked = jobtrail("verify", *common, cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert (
        "verified 5 messages: every seal matches, the log is unbroken "
        "(4 scrubbed by 1 scrub record)" in checked.stdout
    )
    again = jobtrail("scrub", *scrubbing, cwd=tmp_path)
    assert again.returncode == 0 and "nothing to scrub" in again.stdout

    with OxigraphStore(data) as store:
        text = dump(store)
        assert Accounts(store, BASE, passes={TOKEN: 10.0}, key=KEY).balance(TOKEN) == 7.5
    for secret in SECRETS:
        assert secret not in text
    vault = tmp_path / "files" / ".vault"
    assert (vault / "call-call-1").read_text() == CALLBACK  # the pending call still goes


def test_the_key_beside_the_store_is_the_servers(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with OxigraphStore(data) as store:
        build(store)
    done = jobtrail(
        "scrub", "--store", str(data), "--base-url", BASE, "--passes", f"{TOKEN}:1", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert f"made the server's key, {tmp_path / 'data.key'}" in done.stderr
    key = bytes.fromhex((tmp_path / "data.key").read_text().strip())
    with OxigraphStore(data) as store:
        assert Accounts(store, BASE, passes={TOKEN: 1.0}, key=key).balance(TOKEN) == 7.5


def test_no_store_there_is_refused(tmp_path: Path) -> None:
    missing = jobtrail("scrub", "--store", str(tmp_path / "nothing"), cwd=tmp_path)
    assert missing.returncode == 2 and "no store at" in missing.stderr
    assert not (tmp_path / "nothing").exists()


def test_a_memory_store_scrubs_nothing(tmp_path: Path) -> None:
    done = jobtrail("scrub", "--store", "memory:", "--passes", f"{TOKEN}:1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "nothing to scrub" in done.stdout and "keeps no key" in done.stderr
