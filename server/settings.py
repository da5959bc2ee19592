"""Every setting in one table: command-line flag > environment > config file > default.

The config file is `jobtrail.toml` in the working directory, or the file
named by --config / JOBTRAIL_CONFIG; its keys are the setting names below.
"""

from __future__ import annotations

import argparse
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobtrail.base.errors import InputError
from jobtrail.store import DEFAULT_PATH


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    type: Callable[[str], Any] = str

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return "JOBTRAIL_" + self.name.upper()


def _base_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise InputError(f"base URL must be http(s)://…, not {value!r}")
    return value if value.endswith("/") else value + "/"


def _bool(value: str) -> bool:
    text = value.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError("write true or false")


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "store",
        DEFAULT_PATH,
        "the store: a directory (embedded Oxigraph), memory:, or a SPARQL endpoint URL",
    ),
    Setting(
        "base_url",
        "http://127.0.0.1:8000/",
        "the URL under which jobtrail mints and serves IRIs",
        _base_url,
    ),
    Setting("batch_size", 5000, "messages stored per batch when loading", int),
    Setting("host", "127.0.0.1", "address `jobtrail serve` listens on"),
    Setting("port", 8000, "port `jobtrail serve` listens on", int),
    Setting("workers", 1, "server processes (more than one needs a remote store)", int),
    Setting("query_timeout", 30.0, "seconds a SPARQL query may run before 503", float),
    Setting(
        "query_workers",
        4,
        "processes clients' SPARQL queries run in, apart from the server (0: in the server's "
        "own threads, with no protection from a query that crashes the engine)",
        int,
    ),
    Setting("query_memory", 1024, "MiB a query process may use before 507 (0: no limit)", int),
    Setting(
        "query_result_limit", 128, "MiB a query's results may take before 507 (0: no limit)", int
    ),
    Setting(
        "sparql_federation",
        None,
        "SPARQL endpoints a query's SERVICE and an update's LOAD may reach, as URL,… "
        "(none by default; each still goes through the egress policy)",
    ),
    Setting("admin_token", None, "token SPARQL updates need (Bearer or Basic password)"),
    Setting(
        "producers",
        None,
        "who may POST /messages: producer bearer tokens and the producer names each may "
        "speak for, as TOKEN:Name|Name2,TOKEN2:* (*: any, messages naming none too)",
    ),
    Setting("max_body", 10_000_000, "largest request body accepted, in bytes", int),
    Setting(
        "body_timeout",
        30.0,
        "seconds a request body may take to arrive before 408 (0: none)",
        float,
    ),
    Setting(
        "header_timeout",
        10.0,
        "seconds a request head may take to arrive before 408 and a closed connection (0: none)",
        float,
    ),
    Setting("page_size", 50, "entries per page of a feed (/messages)", int),
    Setting(
        "cache_size",
        10_000,
        "renditions of immutable resources (messages, producers) kept in memory; 0 for none",
        int,
    ),
    # --- jobs
    Setting("job_workers", 2, "jobs run at once by the worker pool", int),
    Setting(
        "lease_ttl",
        15.0,
        "on a remote store several processes share: seconds a lease (the log's, a job's run) "
        "lasts unrenewed, so how soon another process takes over the jobs of one that stopped",
        float,
    ),
    Setting(
        "change_poll",
        0.25,
        "on a remote store several processes share: seconds between looks for the changes "
        "the others made (what a UWS WAIT on one process adds to a change made on another)",
        float,
    ),
    Setting("files", "jobtrail-files", "directory for jobs' result files, one folder per job"),
    Setting(
        "key_file",
        "",
        "the server's secret key, made on first use, kept outside the dataset (passes are "
        "named in the store by a keyed hash of their token); default: beside the store, "
        "<store>.key (./jobtrail-key for a remote store, none kept for memory:)",
    ),
    Setting(
        "log_key_file",
        "",
        "the log's Ed25519 signing key (checkpoints), made on first use, kept outside the "
        "dataset; default: beside the store, <store>.log-key (./jobtrail-log-key for a remote "
        "store, none kept for memory:)",
    ),
    Setting(
        "checkpoint_every",
        60.0,
        "seconds between signed checkpoints of the log, issued when it has grown (0: only on "
        "demand, POST /log/checkpoint)",
        float,
    ),
    Setting("default_profile", "DocumentToText", "profile of a job POSTed without one"),
    Setting("execution_duration", 600, "seconds a job may run (0: unlimited)", int),
    Setting(
        "max_execution_duration",
        86400,
        "longest execution duration a job may ask for, in seconds (0: no maximum)",
        int,
    ),
    Setting("results_ttl", 7 * 86400, "seconds a job and its results are kept", int),
    Setting("retry_after", 1, "seconds a client is asked to wait (Retry-After) on 202", int),
    Setting("fetch_max_bytes", 100_000_000, "largest job input fetched, in bytes", int),
    Setting("fetch_timeout", 60.0, "seconds fetching a job's input may take", float),
    Setting(
        "unpack_max_bytes",
        1_000_000_000,
        "most an archive a job opens (a bag, a .docx) may unpack to, in bytes",
        int,
    ),
    Setting("unpack_max_members", 10_000, "most members an archive a job opens may hold", int),
    Setting(
        "fetch_allow_private",
        False,
        "fetch inputs from loopback and private addresses too",
        _bool,
    ),
    Setting("file_roots", "", "directories file: inputs may come from (comma-separated)"),
    Setting("users", None, "HTTP Basic users, as name:password,…"),
    Setting("passes", None, "?pass= tokens and their starting credit, as token:credit,…"),
    Setting("anonymous", True, "allow jobs without credentials", _bool),
    Setting("curators", None, "users who read everything (every job, SPARQL), as name,…"),
    Setting("read_login", False, "every read needs credentials (anonymous: 401)", _bool),
    Setting(
        "public_copy",
        "",
        "where the copy of what anyone may read is kept for their SPARQL queries "
        "(default: beside the store; off: none)",
    ),
    Setting("price_per_job", 0.0, "credit a job costs a pass", float),
    Setting("price_per_mb", 0.0, "credit each MB of input costs a pass (size from HEAD)", float),
    Setting("uws_lists", None, "UWS job lists as name=Profile,… (default: one per profile)"),
    Setting("uws_max_wait", 60, "longest a UWS WAIT blocks, in seconds (WAIT=-1 gets this)", int),
    Setting("uws_max_list", 1000, "most jobs a UWS list shows; past it: 303 to LAST=", int),
    Setting(
        "mcma_services",
        None,
        'MCMA services as JSON: [{"name", "url" (for ProcessJob), "profiles", "token"?}]',
    ),
    Setting("mcma_retry_base", 0.5, "first wait before resending an MCMA call, seconds", float),
    Setting("mcma_retry_max", 60.0, "longest wait between resending an MCMA call", float),
    Setting(
        "mcma_give_up_after", 86400.0, "seconds an MCMA call is resent before giving up", float
    ),
    Setting(
        "mcma_stop_grace",
        30.0,
        "seconds the callback waits for a StopJob after a service PUT a final status",
        float,
    ),
    Setting(
        "sif_services",
        None,
        "SIF functional services and their phases: a JSON file (default: Transfer)",
    ),
    Setting(
        "write_deadline",
        30.0,
        "seconds the write watchdog's tiny write may take before /health answers 503 (0: off)",
        float,
    ),
    Setting(
        "liveness_timeout",
        30.0,
        "seconds the server process may fail /health before `jobtrail serve` kills and "
        "restarts it (0: off)",
        float,
    ),
    Setting(
        "restart_backoff",
        30.0,
        "longest wait, in seconds, before `jobtrail serve` starts a server process that keeps "
        "dying again (the wait doubles from 1 s up to this)",
        float,
    ),
)
BY_NAME = {s.name: s for s in SETTINGS}
JOBS: tuple[str, ...] = tuple(s.name for s in SETTINGS[SETTINGS.index(BY_NAME["job_workers"]) :])
"""The job service's settings (the last part of the table): flags of `jobtrail serve`."""


def add_arguments(parser: argparse.ArgumentParser, names: tuple[str, ...] | None = None) -> None:
    """Add the settings' flags to a parser; defaults stay None so precedence can be applied."""
    for s in SETTINGS:
        if names is None or s.name in names:
            parser.add_argument(
                s.flag,
                dest=s.name,
                default=None,
                metavar=s.name.split("_")[-1].upper(),
                help=f"{s.help} (env {s.env}; default {s.default})",
            )
    parser.add_argument(
        "--config", default=None, help="config file (default ./jobtrail.toml if present)"
    )


def given(args: argparse.Namespace, name: str, environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the setting was given (a flag, the environment or the config file), not left to
    its default."""
    if getattr(args, name, None) is not None or BY_NAME[name].env in environ:
        return True
    config_path = getattr(args, "config", None) or environ.get("JOBTRAIL_CONFIG")
    path = Path(config_path or "jobtrail.toml")
    try:
        return name in tomllib.loads(path.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return False


def resolve(args: argparse.Namespace, environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """Each setting's value, from the first place that gives one."""
    config_path = getattr(args, "config", None) or environ.get("JOBTRAIL_CONFIG")
    config: dict[str, Any] = {}
    if config_path or Path("jobtrail.toml").exists():
        path = Path(config_path or "jobtrail.toml")
        try:
            config = tomllib.loads(path.read_text("utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise InputError(f"cannot read config file {path}: {e}") from e
        unknown = set(config) - BY_NAME.keys()
        if unknown:
            raise InputError(
                f"unknown setting(s) in {path}: {', '.join(sorted(unknown))}",
                hint="known settings: " + ", ".join(BY_NAME),
            )
    values: dict[str, Any] = {}
    for s in SETTINGS:
        flag = getattr(args, s.name, None)
        for raw in (flag, environ.get(s.env), config.get(s.name)):
            if raw is not None:
                try:
                    values[s.name] = s.type(str(raw)) if not isinstance(raw, int | float) else raw
                except ValueError as e:
                    raise InputError(f"bad value for {s.name}: {raw!r} ({e})") from e
                break
        else:
            values[s.name] = s.default
    return values
