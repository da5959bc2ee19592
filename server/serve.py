"""`jobtrail serve`: uvicorn on the app, in a child process that is restarted if it dies.

pyoxigraph is built to abort the whole process on an internal panic, and some
queries still trigger one (an ORDER BY over terms its sort cannot order, in
0.5.13). No Python code can catch that, so the server runs in a child process
and this one starts it again when it dies of a signal. The embedded store's
lock goes with the dead process and its journal repairs any half-written
batch when the new one opens it. A child that keeps dying at once is not
restarted for ever.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import subprocess
import sys
import time
from types import FrameType
from typing import Any

from jobtrail.base.errors import InputError
from jobtrail.server import settings
from jobtrail.server.app import Config, create_app
from jobtrail.store import open_store

CHILD = "JOBTRAIL_SERVE_CHILD"
QUICK_DEATHS = 5  # in a row, each within a few seconds of starting: give up


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
    return _supervise(args.argv)


def _run(server: Config, config: dict[str, Any]) -> int:
    import uvicorn

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
            log_level="warning",
        )
    else:
        uvicorn.run(
            create_app(server), host=config["host"], port=config["port"], log_level="warning"
        )
    return 0


def _supervise(argv: list[str]) -> int:
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
        code = child.wait()
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
