"""`jobtrail serve`: uvicorn on the app, in a child process that is restarted if it dies.

pyoxigraph is built to abort the whole process on an internal panic, and some
queries still trigger one (an ORDER BY over terms its sort cannot order, in
0.5.13: tests/store/engine_sort_panic.py). Clients' queries run in query
processes of their own (bindings/sparql/isolation.py), so theirs never reach
the server; but nothing in Python can catch an abort, and the server's own
work uses the same engine. So the server runs in a child process and this one
starts it again when it dies, however often: nothing a client keeps doing may
take the server down for good. Each death is
logged (the signal or exit code, how many in the last minute, the wait before
the next start), and a child that keeps dying is started after a wait that
doubles from 1 s up to `restart_backoff` (30 s), back to 1 s once one has lived
a minute. Only a first child that exits before it ever answered is not started
again: a setting, a port in use, a store held elsewhere — a restart would not
help. The embedded store's lock goes with the dead process and its journal
repairs any half-written batch when the new one opens it.

A child exits by itself with `REOPEN` when its store must be opened again (the
disk was full and has room again: store/watchdog.py); it is started again at
once. A child dies with this process too, even of SIGKILL: it asks the kernel
for SIGTERM when its parent dies (Linux `PR_SET_PDEATHSIG`), and a thread
notices a new parent process (everywhere) and stops it, then kills it if it
has not stopped `STOP_GRACE` seconds later.

A child can also hang without dying (a blocked event loop, writes stuck in
the engine): once it has answered, this process polls its `/health`, and a
child that fails it (no answer, or 503: writes stuck, see store/watchdog.py; a
full disk is not a hang: it answers, and reopens its store once there is room)
for `liveness_timeout` seconds is killed (SIGKILL: a hung process may ignore
SIGTERM) and started again. SIGTERM or SIGINT stops the server: the child gets
the signal, and SIGKILL if it has not exited `STOP_GRACE` seconds later.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

from jobtrail.base.errors import InputError
from jobtrail.base.lifetime import signal_on_parent_death
from jobtrail.ingest import checkpoint
from jobtrail.server import settings
from jobtrail.server.app import Config, create_app
from jobtrail.store import MEMORY, open_store, origin

CHILD = "JOBTRAIL_SERVE_CHILD"
BASE = "JOBTRAIL_SERVE_BASE"  # the base URL the supervisor settled on, for the server process
PARENT = "JOBTRAIL_SERVE_PARENT"  # the supervisor's process id, in the child's environment
REOPEN = 75  # a child's exit code: open the store again (EX_TEMPFAIL)
BACKOFF = 1.0  # seconds before the first restart; doubled per death, up to restart_backoff
SETTLED = 60.0  # seconds a child lives before the wait goes back to BACKOFF
LIVE = ("disk-full", "reopening")  # /health states of a child that is not hung
STOP_GRACE = 10.0  # seconds a child has to exit after SIGTERM before it is killed
STARTUP = 120.0  # seconds a new child has to answer /health for the first time


def serve(args: argparse.Namespace, config: dict[str, Any]) -> int:
    remote = str(config["store"]).startswith(("http://", "https://"))
    if config["workers"] > 1 and not remote:
        raise InputError(
            "several workers cannot share an embedded store (one process holds it)",
            hint="use --workers 1, or a remote store: --store http://host:7878",
        )
    if os.environ.get(CHILD) == "1":  # the supervisor settled the base URL
        base = os.environ.get(BASE) or config["base_url"]
        return _run(Config.from_settings({**config, "base_url": base}), config)
    host = str(config["host"])
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    address = f"http://{f'[{host}]' if ':' in host else host}:{config['port']}/"
    base = _base(args, config)  # fails here, with the usual message, if the store is held
    if base.rstrip("/") != address.rstrip("/"):
        print(
            f"note: it answers at {address}; its pages link to each other by path, so they "
            f"browse here, and the IRIs they show and every RDF answer stay under {base}",
            file=sys.stderr,
        )
    os.environ[BASE] = base  # for the server process
    return _supervise(
        args.argv,
        address + "health",
        float(config.get("liveness_timeout") or 0),
        float(config.get("restart_backoff") or BACKOFF),
        f"jobtrail ready: open {address} in a browser (stop it with Ctrl-C)",
    )


def _base(args: argparse.Namespace, config: dict[str, Any]) -> str:
    """The base URL to serve under, recorded in the store if it records none; said on stderr."""
    given = settings.given(args, "base_url")
    wanted = config["base_url"] if given else f"http://{config['host']}:{config['port']}/"
    with open_store(config["store"]) as store:
        base = origin.settle(store, wanted, given=given, name=str(config["store"]))
        if origin.recorded(store) is not None:
            why = "the base URL its IRIs were minted under, recorded in it"
        elif given:
            why = "the base URL given"
        else:
            why = "where it answers, as no --base-url was given and the store records none"
        if config["store"] != MEMORY:
            origin.keep(store, base)
    print(f"jobtrail serving the store {config['store']} under {base}: {why}", file=sys.stderr)
    if config["store"] != MEMORY:  # the log's key, which auditors check checkpoints with
        signer = checkpoint.signer_for(
            str(config["store"]), base, str(config.get("log_key_file") or "")
        )
        print(f"the log's verifier key (also at /log/key): {signer.verifier}", file=sys.stderr)
    return base


def _run(server: Config, config: dict[str, Any]) -> int:
    import uvicorn
    from jobtrail.server.protocol import HeadLimitProtocol

    _die_with_parent()
    HeadLimitProtocol.timeout = float(config.get("header_timeout") or 0)
    os.environ["JOBTRAIL_HEADER_TIMEOUT"] = str(HeadLimitProtocol.timeout)  # worker processes

    if config["workers"] > 1:
        # worker processes build their own app from the environment (app.from_environment)
        for field, value in dataclasses.asdict(server).items():
            if value is not None:
                os.environ[settings.BY_NAME[field].env] = str(value)
        uvicorn.run(
            "jobtrail.server.app:from_environment",
            factory=True,
            host=config["host"],
            port=config["port"],
            workers=config["workers"],
            http=HeadLimitProtocol,
            log_level="warning",
            timeout_graceful_shutdown=int(STOP_GRACE / 2),
        )
        return 0
    reopening: list[str] = []

    def reopen(reason: str) -> None:  # from the watchdog's thread, which logged the reason
        reopening.append(reason)
        uvicorn_server.should_exit = True

    uvicorn_server = uvicorn.Server(
        uvicorn.Config(
            create_app(server, reopen=reopen),
            host=config["host"],
            port=config["port"],
            http=HeadLimitProtocol,
            log_level="warning",
            timeout_graceful_shutdown=int(STOP_GRACE / 2),  # a UWS WAIT may block for a minute
        )
    )
    uvicorn_server.run()
    return REOPEN if reopening else 0


def _die_with_parent() -> None:
    """Stop this child when the supervisor is gone, even if it was killed with SIGKILL."""
    parent = int(os.environ.get(PARENT) or 0)
    if not parent:
        return
    asked = signal_on_parent_death(signal.SIGTERM)
    if os.getppid() != parent:  # it died before the request above: nothing will come
        print("the supervisor is gone; not starting", file=sys.stderr)
        raise SystemExit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        print(
            f"the supervisor (process {parent}) is gone; the server process stops",
            file=sys.stderr,
        )
        if not asked:  # with PR_SET_PDEATHSIG the kernel has sent SIGTERM already
            os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(STOP_GRACE)
        os.kill(os.getpid(), signal.SIGKILL)  # it did not stop: a write stuck, a hung loop

    threading.Thread(target=watch, name="jobtrail-parent-watch", daemon=True).start()


def _supervise(argv: list[str], health: str, liveness: float, longest: float, ready: str) -> int:
    command = [sys.executable, "-m", "jobtrail.cli", *argv]
    environment = {**os.environ, CHILD: "1", PARENT: str(os.getpid())}
    child: subprocess.Popen[bytes] | None = None
    stopping = threading.Event()

    def forward(signum: int, frame: FrameType | None) -> None:
        stopping.set()
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    deaths: collections.deque[float] = collections.deque()  # when children died
    delay = 0.0  # the wait before the next start
    answered = False  # has any child answered /health?
    while True:
        started = time.monotonic()
        child = subprocess.Popen(command, env=environment)
        code, seen = _watch(child, health, liveness, stopping.is_set, "" if answered else ready)
        answered = answered or seen
        if stopping.is_set():
            return 0
        if code == REOPEN:
            print(
                "the server process stopped to reopen its store; starting it again", file=sys.stderr
            )
            continue
        if code >= 0 and not answered:
            return code  # it never started: a setting, the port, the store held elsewhere
        now = time.monotonic()
        deaths.append(now)
        while deaths and now - deaths[0] > 60:
            deaths.popleft()
        delay = BACKOFF if now - started >= SETTLED else min(max(delay * 2, BACKOFF), longest)
        how = f"died of {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
        print(
            f"the server process {child.pid} {how} after {now - started:.0f} s "
            f"({len(deaths)} time{'s' if len(deaths) != 1 else ''} in the last minute); "
            f"starting it again in {delay:g} s",
            file=sys.stderr,
        )
        if stopping.wait(delay):
            return 0


def _watch(
    child: subprocess.Popen[bytes],
    health: str,
    liveness: float,
    stopping: Callable[[], bool],
    ready: str = "",
) -> tuple[int, bool]:
    """Wait for the child to exit, killing it when it hangs or outlives a stop; its code,
    and whether it ever answered /health. `ready` is said once it first answers."""
    poll = min(1.0, liveness / 4) if liveness > 0 else 1.0
    started = last_ok = time.monotonic()
    answered = False
    stop_at: float | None = None
    while True:
        try:  # quickly until it first answers: "ready" is said as soon as it is
            return child.wait(timeout=poll if answered else 0.2), answered
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        if stopping():
            stop_at = stop_at or now
            if now - stop_at > STOP_GRACE:
                print("the server process did not stop; killing it", file=sys.stderr)
                child.kill()
            continue
        if liveness <= 0 and answered:
            continue
        if (answered or _listening(health)) and _alive(health, max(poll, 1.0)):
            if not answered:
                print(f"the server process {child.pid} answers {health}", file=sys.stderr)
                if ready:
                    print(ready, file=sys.stderr, flush=True)
            answered, last_ok = True, now
            continue
        if liveness <= 0:
            continue
        waited = now - last_ok
        if (answered and waited > liveness) or (not answered and now - started > STARTUP):
            print(
                f"the server process has failed {health} for {waited:.0f} s; killing it",
                file=sys.stderr,
            )
            child.kill()


def _listening(health: str) -> bool:
    """Whether something accepts connections at the URL's host and port (a cheap look before
    a request, while a new child starts)."""
    where = urlsplit(health)
    try:
        with socket.create_connection((where.hostname or "127.0.0.1", where.port or 80), 0.5):
            return True
    except OSError:
        return False


def _alive(health: str, timeout: float) -> bool:
    """Whether the child answers /health as a live process does: 200, or 503 for a state a
    new process would not cure (its disk full; reopening its store)."""
    import httpx

    try:
        answer = httpx.get(health, timeout=timeout, trust_env=False)
        if answer.status_code == 200:
            return True
        return answer.status_code == 503 and answer.json().get("status") in LIVE
    except (httpx.HTTPError, ValueError, AttributeError):
        return False
