"""EBU's own client, `@mcma/client`'s ResourceManager (npm, pinned in client/package.json),
against a real jobtrail configured with nothing but jobtrail's registry URL: it finds the
job processor and the Fixity profile through `/mcma/services` and
`/mcma/job-profiles?name=`, creates a QAJob, polls it to Completed and deletes it.

The packages are installed with `npm ci` into a cache folder (JOBTRAIL_NPM_CACHE, else a
folder under the system's temporary directory) keyed by the lock file; the test skips,
saying why, only when node or npm is missing or the install fails.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import DocumentServer, job_server

CLIENT = Path(__file__).parent / "client"
DATA = b"checked by EBU's client\n"


def installed() -> Path:
    """A folder with client/'s packages installed (node_modules), or a skip saying why."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed to run @mcma/client (install Node.js 18 or later)")
    lock = (CLIENT / "package-lock.json").read_bytes()
    key = hashlib.sha256(lock + (CLIENT / "package.json").read_bytes()).hexdigest()[:16]
    root = Path(os.environ.get("JOBTRAIL_NPM_CACHE", Path(tempfile.gettempdir()) / "jobtrail-npm"))
    folder = root / f"mcma-client-{key}"
    if (folder / "node_modules" / "@mcma" / "client").is_dir():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copy(CLIENT / name, folder / name)
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        shutil.rmtree(folder / "node_modules", ignore_errors=True)
        pytest.skip(f"npm ci of @mcma/client failed: {done.stderr.strip()[-400:]}")
    return folder


@pytest.fixture(scope="module")
def modules() -> Path:
    return installed()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    documents = DocumentServer()
    url = documents.put("/client/input.txt", DATA, "text/plain")
    with job_server(tmp_path / "data", tmp_path / "files") as base:
        yield base, url
    documents.close()


def test_ebus_resource_manager_finds_creates_polls_and_deletes_a_job(
    modules: Path, server: tuple[str, str]
) -> None:
    base, url = server
    digest = hashlib.sha256(DATA).hexdigest()
    ran = subprocess.run(
        ["node", str(CLIENT / "drive.js"), f"{base}mcma", url, digest],
        env={**os.environ, "NODE_PATH": str(modules / "node_modules")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    seen = json.loads(ran.stdout.strip().splitlines()[-1])
    assert seen["profiles"] == ["Fixity"]  # the query's filter: not every profile
    assert seen["profileId"] == f"{base}mcma/job-profiles/Fixity"
    assert seen["createdStatus"] == "New"
    assert seen["id"].startswith(f"{base}mcma/jobs/")
    assert seen["status"] == "Completed"
    assert seen["jobOutput"]["results"]["@type"] == "Locator"
    assert seen["deleted"] == "ok"
