"""The log race, watched from inside (issue 22's Virtuoso defect): three writers, each a `Log`
with its own HTTP client and token as a separate process would have, seal records onto one log
in the engine, round after round over an emptied store. Besides the end result (`verify`, one
record per position) it checks each step as it happens: no two writers inside their write at
once (the lease), and every catch-up of a writer that takes the lease afresh finds the head the
last writer left (position and digest), which the writers note as they commit.

Slow (about 2 s a round per engine): `pytest -m slow tests/store/test_log_race.py`, rounds
from `JOBTRAIL_LOG_RACE_ROUNDS` (default 5). Over Virtuoso 7.2.5 it fails now and then, more
often after `tests/store/test_engines.py` has run in the same session (`pytest
tests/store/test_engines.py tests/store/test_log_race.py`): the lease holds (never two writers at
once), but a catch-up does not find the record the last writer wrote at the next position: the
record reads whole by its graph or subject, while `?m jt:logPosition N` and `FILTER(?n = N)` find
nothing and `FILTER(STR(?n) = "N")` finds it (README, "Known defect on Virtuoso")."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest
from jobtrail.base import nt
from jobtrail.ingest.seal import Log, verify
from jobtrail.store import ResourceGraph
from jobtrail.store.remote import RemoteStore

from tests.conftest import emptied

pytestmark = pytest.mark.slow

ROUNDS = int(os.environ.get("JOBTRAIL_LOG_RACE_ROUNDS", "5"))
WRITERS, PER_WRITER = 3, 12


@pytest.fixture(params=["oxigraph_server", "virtuoso_server"])
def engine(request: pytest.FixtureRequest) -> Iterator[str]:
    url: str = request.getfixturevalue(request.param)
    if request.param == "virtuoso_server":
        request.applymarker(
            pytest.mark.xfail(
                reason="Virtuoso now and then hides a record from lookups by its position "
                "(README, 'Known defect on Virtuoso')",
                strict=False,
            )
        )
    yield url


class _Watch:
    """What the writers of one round did, as they did it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.heads: dict[int, str] = {}  # position -> digest, noted as each write commits
        self.inside: list[str] = []
        self.problems: list[str] = []


class _WatchedLog(Log):
    def __init__(self, store: RemoteStore, watch: _Watch) -> None:
        self.watch = watch  # before the log opens: opening catches up, under the lease
        super().__init__(store)

    def _catch_up(self) -> None:
        super()._catch_up()
        with self.watch.lock:
            top = max(self.watch.heads, default=0)
            expected = (top, self.watch.heads.get(top, ""))
        if (self.position, self.previous) != expected:
            self.watch.problems.append(
                f"a catch-up found the head at {self.position}, the writers left it at {top}"
            )


def _round(url: str, number: int) -> list[str]:
    emptied(RemoteStore.from_url(url)).close()
    watch = _Watch()

    def writer(name: str) -> None:
        store = RemoteStore.from_url(url)
        log = _WatchedLog(store, watch)
        try:
            for i in range(PER_WRITER):
                iri = f"urn:test:race:{number}:{name}:{i}"
                record = ResourceGraph(iri, [(f"<{iri}>", "<urn:test:by>", nt.lit(name))])
                with log.sealing([record]):
                    with watch.lock:
                        watch.inside.append(name)
                        if len(watch.inside) > 1:
                            watch.problems.append(f"two writers at once: {watch.inside}")
                    try:
                        store.add([record])
                        with watch.lock:
                            watch.heads[log.position] = log.previous
                    finally:
                        with watch.lock:
                            watch.inside.remove(name)
        except Exception as e:  # noqa: BLE001 - reported as a problem of the round
            watch.problems.append(f"writer {name}: {e}")
        finally:
            log.close()
            store.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in "abc"[:WRITERS]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store = RemoteStore.from_url(url)
    rows = store.query(
        "SELECT ?n WHERE { ?m <https://w3id.org/jobtrail/vocab#logPosition> ?n } ORDER BY ?n"
    )
    positions = [int(r["n"].value) for r in rows]  # type: ignore[union-attr]
    if positions != list(range(1, WRITERS * PER_WRITER + 1)):
        watch.problems.append(f"positions {positions}")
    watch.problems += [f"verify: {f.position} {f.problem}" for f in verify(store)]
    return [f"round {number}: {p}" for p in watch.problems]


def test_writers_racing_round_after_round_keep_one_chain(engine: str) -> None:
    problems = [p for number in range(ROUNDS) for p in _round(engine, number)]
    assert problems == []
