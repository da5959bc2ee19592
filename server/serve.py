"""`jobtrail serve`: uvicorn on the app, in a child process that is restarted if it dies.

pyoxigraph is built to abort the whole process on an internal panic, and some
queries still trigger one (an ORDER BY over terms its sort cannot order, in
0.5.13). No Python code can catch that, so the server runs in a child process
and this one starts it again when it dies of a signal. The embedded store's
lock goes with the dead process and its journal repairs any half-written
batch when the new one opens it. A child that keeps dying at once is not
restarted for ever.

A child can also hang without dying (a blocked event loop, writes stuck in
the engine): once it has answered, this process polls its `/health`, and a
child that fails it (no answer, or 503: writes stuck, see store/watchdog.py)
for `liveness_timeout` seconds is killed (SIGKILL: a hung process may ignore
SIGTERM) and started again. SIGTERM or SIGINT stops the server: the child gets
the signal, and SIGKILL if it has not exited `STOP_GRACE` seconds later.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from jobtrail.base.errors import InputError
from jobtrail.server import settings
from jobtrail.server.app import Config, create_app
from jobtrail.store import open_store

CHILD = "JOBTRAIL_SERVE_CHILD"
QUICK_DEATHS = 5  # in a row, each within a few seconds of starting: give up
STOP_GRACE = 10.0  # seconds a child has to exit after SIGTERM before it is killed
STARTUP = 120.0  # seconds a new child has to answer /health for the first time


def serve(args: argparse.Namespace, config: dict[str, Any]) -> int:
    base = config["base_url"]
    if args.base_url is None and "JOBTRAIL_BASE_URL" not in os.environ:
        base = f"http://{config['host']}:{config['port']}/"  # where this server answers
    remote = str(config["store"]).startswith(("http://", "https://"))
    if config["workers"] > 1 and not remote:
        raise InputError(
            "several workers cannot share an embedded store (one process holds it)",
            hint="use --workers 1, or a remote store: --store http://host:7878",
        )
    server = Config.from_settings({**config, "base_url": base})
    if os.environ.get(CHILD) == "1":
        return _run(server, config)
    open_store(config["store"]).close()  # fail here, with the usual message, if it is held
    print(f"jobtrail serving the store {config['store']} at {base}", file=sys.stderr)
    host = str(config["host"])
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    health = f"http://{f'[{host}]' if ':' in host else host}:{config['port']}/health"
    return _supervise(args.argv, health, float(config.get("liveness_timeout") or 0))


def _run(server: Config, config: dict[str, Any]) -> int:
    import uvicorn
    from jobtrail.server.protocol import HeadTimeoutProtocol

    HeadTimeoutProtocol.timeout = float(config.get("header_timeout") or 0)
    os.environ["JOBTRAIL_HEADER_TIMEOUT"] = str(HeadTimeoutProtocol.timeout)  # worker processes

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
            http=HeadTimeoutProtocol,
            log_level="warning",
            timeout_graceful_shutdown=int(STOP_GRACE / 2),
        )
    else:
        uvicorn.run(
            create_app(server),
            host=config["host"],
            port=config["port"],
            http=HeadTimeoutProtocol,
            log_level="warning",
            timeout_graceful_shutdown=int(STOP_GRACE / 2),  # a UWS WAIT may block for a minute
        )
    return 0


def _supervise(argv: list[str], health: str, liveness: float) -> int:
    command = [sys.executable, "-m", "jobtrail.cli", *argv]
    environment = {**os.environ, CHILD: "1"}
    child: subprocess.Popen[bytes] | None = None
    stopping = False

    def forward(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    quick = 0
    while True:
        started = time.monotonic()
        child = subprocess.Popen(command, env=environment)
        code = _watch(child, health, liveness, lambda: stopping)
        if stopping or code >= 0:
            return 0 if stopping else code
        quick = quick + 1 if time.monotonic() - started < 5 else 0
        name = signal.Signals(-code).name
        if quick >= QUICK_DEATHS:
            print(
                f"the server process died of {name} {quick} times in a row; giving up",
                file=sys.stderr,
            )
            return 1
        print(f"the server process died of {name}; starting it again", file=sys.stderr)


def _watch(
    child: subprocess.Popen[bytes], health: str, liveness: float, stopping: Callable[[], bool]
) -> int:
    """Wait for the child to exit, killing it when it hangs or outlives a stop; its code."""
    import httpx

    poll = min(1.0, liveness / 4) if liveness > 0 else 1.0
    started = last_ok = time.monotonic()
    answered = False
    stop_at: float | None = None
    while True:
        try:
            return child.wait(timeout=poll)
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        if stopping():
            stop_at = stop_at or now
            if now - stop_at > STOP_GRACE:
                print("the server process did not stop; killing it", file=sys.stderr)
                child.kill()
            continue
        if liveness <= 0:
            continue
        try:
            ok = httpx.get(health, timeout=max(poll, 1.0), trust_env=False).status_code == 200
        except httpx.HTTPError:
            ok = False
        if ok:
            if not answered:
                print(f"the server process {child.pid} answers {health}", file=sys.stderr)
            answered, last_ok = True, now
            continue
        waited = now - last_ok
        if (answered and waited > liveness) or (not answered and now - started > STARTUP):
            print(
                f"the server process has failed {health} for {waited:.0f} s; killing it",
                file=sys.stderr,
            )
            child.kill()
