"""A job's input credentials live in the vault, never in the store, and go with the job."""

from __future__ import annotations

from pathlib import Path

from jobtrail.jobs.core import Jobs
from jobtrail.jobs.vault import Vault
from jobtrail.store.oxigraph import OxigraphStore

BASE = "http://example.org/jt/"
SECRET = "https://ann:pa55word@h.example/x.doc"


def test_the_store_holds_the_url_without_its_password_and_the_vault_the_url(tmp_path: Path) -> None:
    with OxigraphStore(None) as store:
        jobs = Jobs(store, BASE, vault=Vault(tmp_path / "vault"))
        job = jobs.create(profile="Fixity", input=SECRET, parameters={"token": "t0k", "n": 1})
        assert job.input == "https://ann:REDACTED@h.example/x.doc"
        assert jobs.get(job.id).parameters == {"token": "REDACTED", "n": 1}
        rows = store.query("SELECT * { GRAPH ?g { ?s ?p ?o } }")
        text = "".join(str(row) for row in rows)  # type: ignore[union-attr]
        assert "ann:REDACTED@" in text  # the search sees the stored literals
        assert "pa55word" not in text and "t0k" not in text
        assert jobs.input_of(jobs.get(job.id)) == SECRET
        entry = tmp_path / "vault" / job.id
        assert entry.stat().st_mode & 0o777 == 0o600
        assert Vault(tmp_path / "vault").get(job.id) == SECRET  # a restart keeps it
        jobs.delete(job.id, by="t")
        assert not entry.exists()


def test_a_url_without_credentials_needs_no_vault(tmp_path: Path) -> None:
    with OxigraphStore(None) as store:
        jobs = Jobs(store, BASE, vault=Vault(tmp_path / "vault"))
        job = jobs.create(profile="Fixity", input="https://h.example/x.doc")
        assert job.input == "https://h.example/x.doc"
        assert jobs.input_of(job) == job.input
        assert not (tmp_path / "vault").exists()
