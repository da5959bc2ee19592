"""The `jobtrail` command line."""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote

from jobtrail.base.errors import InputError, JobtrailError, QueryError
from jobtrail.cli import audit, stores
from jobtrail.cli.output import Progress, print_results, stats_table
from jobtrail.ingest.load import Event, Loader
from jobtrail.ingest.message import Message
from jobtrail.ingest.sources import from_paths
from jobtrail.server import settings
from jobtrail.store import open_store, origin, space
from jobtrail.store.base import DumpFormat
from jobtrail.web import conneg

EXIT_OK, EXIT_REJECTED, EXIT_ERROR = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(argv if argv is not None else sys.argv[1:])
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_ERROR
    config: dict[str, Any] = {}
    try:
        config = settings.resolve(args)
        code: int = args.command(args, config)
        return code
    except JobtrailError as e:
        print(f"error: {e.describe()}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted: everything reported as stored is kept", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `jobtrail stats | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as e:
        if not space.is_full(e):
            raise
        where = getattr(e, "filename", None) or config.get("store")
        print(f"error: {space.full_error(where, e).describe()}", file=sys.stderr)
        return EXIT_ERROR


class Parser(argparse.ArgumentParser):
    """argparse's parser, which says which command was meant when one is mistyped."""

    def error(self, message: str) -> NoReturn:
        wrong = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if wrong:
            choices = re.findall(r"'([^']*)'", wrong[2])
            close = difflib.get_close_matches(wrong[1], choices, n=1)
            message = f"no command {wrong[1]!r}" + (
                f" — did you mean `{close[0]}`?" if close else ""
            )
            message += " (commands: " + ", ".join(choices) + ")"
        super().error(message)


def _version() -> str:
    try:
        return metadata.version("jobtrail")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a checkout, not installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="jobtrail",
        description="A linked-data job repository and provenance store.",
        epilog="Start with `jobtrail load examples/` and `jobtrail stats`.",
    )
    parser.add_argument("--version", action="version", version=f"jobtrail {_version()}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=Parser)

    def command(
        name: str,
        fn: Callable[[argparse.Namespace, dict[str, Any]], int],
        help: str,
        names: tuple[str, ...] = ("store", "base_url"),
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        settings.add_arguments(p, names)
        p.set_defaults(command=fn)
        return p

    p = command(
        "load",
        cmd_load,
        "load messages from files, directories or - (stdin) into the store",
        ("store", "base_url", "batch_size"),
    )
    p.add_argument(
        "paths", nargs="+", metavar="PATH", help="file, directory (read recursively) or -"
    )
    p.add_argument(
        "--format",
        dest="media_type",
        help="media type of every input (default: from the file extension or the first bytes)",
    )
    p.add_argument("--no-validate", action="store_true", help="store without checking the shapes")
    p.add_argument("--silent", action="store_true", help="no progress bar and no per-message lines")
    p.add_argument("-v", "--verbose", action="store_true", help="print a line for every message")

    p = command(
        "validate",
        cmd_validate,
        "check files (or, with no files, the whole store) against the shapes",
    )
    p.add_argument("paths", nargs="*", metavar="PATH")
    p.add_argument("--format", dest="media_type")
    p.add_argument("--full", action="store_true", help="use pySHACL instead of the compiled shapes")

    p = command("export", cmd_export, "write the whole store as N-Quads or TriG", ("store",))
    p.add_argument("-o", "--output", default="-", help="file to write (default: standard output)")
    p.add_argument(
        "--format",
        choices=("nquads", "trig"),
        default=None,
        help="default: from the output's extension, else nquads",
    )

    p = command("query", cmd_query, "run a SPARQL query, or a named query", ("store",))
    p.add_argument(
        "query",
        nargs="?",
        help="the name of a named query (see --list), SPARQL text, or @FILE to read it from",
    )
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a parameter of the named query (repeatable)",
    )
    p.add_argument("--list", action="store_true", help="list the named queries and exit")
    p.add_argument(
        "--format",
        choices=("table", "csv", "tsv", "json", "xml", "turtle", "ntriples"),
        default="table",
    )

    command("stats", cmd_stats, "what the store holds", ("store",))

    p = command(
        "verify",
        cmd_verify,
        "recompute every message's seal and the Merkle tree, and say what was tampered with",
        ("store", "base_url", "log_key_file"),
    )
    p.add_argument("--all", action="store_true", help="list every finding, not only the first")

    command(
        "reindex",
        cmd_reindex,
        "write every message's trace index entry again (a store an earlier release wrote)",
        ("store",),
    )

    p = command(
        "scrub",
        cmd_scrub,
        "take out of the store the secrets earlier releases stored, and re-key their passes",
        ("store", "base_url", "passes", "key_file", "files"),
    )
    p.add_argument(
        "--dry-run", action="store_true", help="say what would change, and change nothing"
    )
    p.add_argument(
        "--provenance",
        action="store_true",
        help="scrub messages producers posted or a load read too (stored as they came)",
    )
    p.add_argument("--silent", action="store_true", help="no progress bar")

    p = command("trace", cmd_trace, "every hop of the chain a UUID or reference belongs to")
    p.add_argument("key", help="a UUID (with or without urn:uuid:) or a reference")
    p.add_argument(
        "--format",
        choices=("table", "json", "turtle", "jsonld", "html", "svg", "provjson"),
        default="table",
    )

    audit.add_commands(command)

    command(
        "serve",
        cmd_serve,
        "serve the store over HTTP (linked data, SPARQL, HTML)",
        ("store", "base_url", "host", "port", "workers")
        + ("query_timeout", "query_workers", "query_memory", "query_result_limit")
        + ("sparql_federation", "admin_token", "producers", "max_body", "body_timeout")
        + ("header_timeout", "page_size", "cache_size")
        + settings.JOBS,
    )
    return parser


def cmd_load(args: argparse.Namespace, config: dict[str, Any]) -> int:
    for p in args.paths:
        if p != "-" and not Path(p).exists():
            raise InputError(
                f"no such file or directory: {p}",
                hint="give files, directories (read recursively) or - for standard input",
            )
    # a dump's record of its base is the store's own business (store/origin.py), not a graph
    items = (
        i
        for i in from_paths(args.paths, args.media_type)
        if not (isinstance(i, Message) and i.iri == origin.GRAPH)
    )
    warned: list[str] = []

    def listen(event: Event) -> None:
        if event.outcome == "stored" and event.warnings and not event.restored:
            warned.append(event.source)
        _report_event(event, progress, args.verbose)

    with open_store(config["store"]) as store:
        base = stores.minting_base(store, args, config)
        progress = Progress(silent=args.silent, total_bytes=_total_bytes(args.paths))
        loader = Loader(
            store,
            base=base,
            validating=not args.no_validate,
            batch_size=config["batch_size"],
            listener=listen,
        )
        with progress:
            report = loader.load(items)
        if report.stored:
            origin.keep(store, base)
    if not args.silent:
        print(report.summary() + f" into the {store.description}", file=sys.stderr)
        if warned:
            print(
                f"with warnings: {_some(warned)}; `jobtrail query warnings` lists them",
                file=sys.stderr,
            )
        if report.rejected:
            print(
                f"{len(report.rejected)} rejected (listed above); nothing of them was stored",
                file=sys.stderr,
            )
    return EXIT_REJECTED if report.rejected else EXIT_OK


def _some(names: list[str], shown: int = 3) -> str:
    """The first few names, then how many more."""
    if len(names) <= shown + 1:
        return ", ".join(names)
    return ", ".join(names[:shown]) + f" and {len(names) - shown} more"


def _total_bytes(paths: list[str]) -> int | None:
    total = 0
    for p in paths:
        path = Path(p)
        if p == "-":
            return None
        if path.is_file():
            total += path.stat().st_size
        elif path.is_dir():
            total += sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return total


def _report_event(event: Event, progress: Progress, verbose: bool) -> None:
    progress.advance(event)
    if event.outcome == "rejected" and event.error is not None:
        where = "" if event.error.location else f"{event.source}: "
        progress.write(f"rejected {where}{event.error.describe()}")
    elif verbose:
        progress.write(f"{event.outcome} {event.source} -> {event.iri}")
        for w in event.warnings:
            progress.write(f"  warning: {w.focus}: {w.message}")


def cmd_validate(args: argparse.Namespace, config: dict[str, Any]) -> int:
    from jobtrail.base import nt
    from jobtrail.ingest.message import Incoming, Message
    from jobtrail.ingest.read import read_message
    from jobtrail.ingest.sources import Unreadable
    from jobtrail.shapes import validate, validate_full

    check = validate_full if args.full else validate
    bad = 0
    if args.paths:
        for item in from_paths(args.paths, args.media_type):
            if isinstance(item, Unreadable):
                print(f"{item.source}: {item.error.describe()}")
                bad += 1
                continue
            try:
                msg = (
                    item
                    if isinstance(item, Message)
                    else read_message(item, base=config["base_url"], stored_at=nt.now())
                )
            except JobtrailError as e:
                print(f"{e.describe()}" if e.location else f"{item.source}: {e.describe()}")
                bad += 1
                continue
            bad += _print_report(
                msg.source if isinstance(item, Incoming) else msg.iri, check(msg.all_triples())
            )
    else:
        with stores.open_existing(config) as store:
            for graph in store.graphs():
                triples = [
                    (str(t.subject), str(t.predicate), str(t.object)) for t in store.read(graph)
                ]
                bad += _print_report(graph, check(triples))
    print("all valid" if not bad else f"{bad} invalid", file=sys.stderr)
    return EXIT_REJECTED if bad else EXIT_OK


def _print_report(name: str, report: Any) -> int:
    if report.results:
        print(f"{name}: {'conforms, with warnings' if report.conforms else 'does not conform'}")
        print(report.text(indent="  "))
    return 0 if report.conforms else 1


def cmd_export(args: argparse.Namespace, config: dict[str, Any]) -> int:
    fmt: DumpFormat = args.format or ("trig" if args.output.endswith(".trig") else "nquads")
    with stores.open_existing(config) as store:
        if args.output == "-":
            store.export(sys.stdout.buffer, fmt)
        else:
            with open(args.output, "wb") as f:
                store.export(f, fmt)
            print(f"wrote {store.count():,} quads to {args.output}", file=sys.stderr)
    return EXIT_OK


def cmd_query(args: argparse.Namespace, config: dict[str, Any]) -> int:
    from jobtrail.queries import load_queries
    from jobtrail.queries.syntax import with_caret, with_prefixes

    named = load_queries()
    if args.list:
        for q in named.values():
            print(f"{q.name}\n  {q.description}")
            for p in q.params:
                need = "required" if p.required else "optional"
                print(f"  --param {p.name}=… ({p.type}, {need}) {p.doc}")
        return EXIT_OK
    if not args.query:
        raise InputError("no query given", hint="give a query name (see --list), SPARQL or @FILE")
    substitutions: dict[str, Any] | None = None
    if args.query in named:
        query = named[args.query]
        raw: dict[str, str] = {}
        for item in args.param:
            key, eq, value = item.partition("=")
            if not eq or not key.strip():
                raise InputError(f"--param {item!r} is not NAME=VALUE")
            if key.strip() in raw:
                raise InputError(f"--param {key.strip()!r} is given twice; give it once")
            raw[key.strip()] = value
        substitutions = dict(query.bind(raw))
        text = query.sparql
    elif args.query.startswith("@"):
        text = _query_file(args.query[1:])
    elif not re.search(r"[\s{]", args.query):  # one word: a name, not SPARQL
        close = difflib.get_close_matches(args.query, named, n=1)
        raise InputError(
            f"no named query `{args.query}`" + (f" — did you mean `{close[0]}`?" if close else ""),
            hint="`jobtrail query --list` lists the named queries; SPARQL text is a query such "
            "as 'SELECT * { ?s ?p ?o } LIMIT 5', and @FILE reads one from a file",
        )
    else:
        text = args.query
    if args.param and substitutions is None:
        raise InputError(
            "--param works only with a named query",
            hint="named queries: " + ", ".join(named) + " (jobtrail query --list)",
        )
    shift = 0
    if substitutions is None:  # typed by a person: the project's prefixes are declared
        text, shift = with_prefixes(text)
    with stores.open_existing(config) as store:
        try:
            result = store.query(text, substitutions=substitutions)
        except QueryError as e:
            if type(e) is QueryError:  # the parser's: point at the place
                raise with_caret(e, text[shift:], shift) from e
            raise
        print_results(result, args.format, sys.stdout)
    return EXIT_OK


def _query_file(name: str) -> str:
    try:
        return Path(name).read_text("utf-8")
    except OSError as e:
        raise InputError(
            f"cannot read the query file {name}: {e.strerror or e}",
            hint="@FILE names a file of SPARQL, e.g. @audit.rq",
        ) from e
    except UnicodeDecodeError as e:
        raise InputError(f"the query file {name} is not UTF-8 text ({e.reason})") from e


def cmd_verify(args: argparse.Namespace, config: dict[str, Any]) -> int:
    from jobtrail.ingest import traceindex
    from jobtrail.ingest.seal import Tally, verify

    checked = problems = 0
    tally = Tally()

    def count(position: int) -> None:
        nonlocal checked
        checked = position

    with stores.open_existing(config) as store:
        roots = audit.kept_roots(store, config)
        for finding in verify(store, count, tally, roots):
            problems += 1
            print(
                f"message #{finding.position} {finding.message}: {finding.problem}", file=sys.stderr
            )
            if not args.all:
                print("  (the first finding; --all lists every one)", file=sys.stderr)
                return EXIT_REJECTED
        for iri, problem in traceindex.stale(store):
            problems += 1
            print(f"message {iri}: {problem}", file=sys.stderr)
            if not args.all:
                print("  (the first finding; --all lists every one)", file=sys.stderr)
                return EXIT_REJECTED
        indexed = traceindex.complete(store)
    if problems:
        print(f"{problems} finding(s) in {checked:,} messages", file=sys.stderr)
        return EXIT_REJECTED
    scrubbed = ""
    if tally.scrubbed:
        records = len(tally.scrubs)
        scrubbed = (
            f" ({tally.scrubbed:,} scrubbed by {records:,} scrub record{'s' * (records != 1)})"
        )
    if not checked:
        print("the store holds no sealed records: there was nothing to verify")
        return EXIT_OK
    entries = (
        ", every trace index entry matches its message"
        if indexed
        else " (no trace index: `jobtrail reindex` writes it)"
    )
    kept = sum(len(r) for r in roots.values())
    merkle = (
        " (no Merkle tree: sealed by an earlier release; the next load or server builds it)"
        if tally.treeless
        else f", the Merkle tree matches every record and every kept checkpoint ({kept:,})"
    )
    print(
        f"verified {checked:,} messages: every seal matches, the log is unbroken{scrubbed}"
        f"{merkle}{entries}"
    )
    return EXIT_OK


def cmd_reindex(args: argparse.Namespace, config: dict[str, Any]) -> int:
    from jobtrail.ingest import traceindex

    with stores.open_existing(config) as store:
        written = traceindex.reindex(store)
    print(f"wrote the trace index entries of {written:,} messages", file=sys.stderr)
    return EXIT_OK


def cmd_scrub(args: argparse.Namespace, config: dict[str, Any]) -> int:
    import secrets

    from jobtrail.jobs.accounts import load_key, parse_pairs
    from jobtrail.jobs.scrub import scrub
    from jobtrail.jobs.vault import Vault
    from jobtrail.server.app import key_path
    from jobtrail.web.state import Config
    from tqdm import tqdm

    if not stores.exists(str(config["store"])):
        raise stores.missing(str(config["store"]))
    tokens = list(parse_pairs(config["passes"], "passes"))
    key: bytes | None = None
    if tokens:  # the server's own key: the one it names passes by (server/app.py key_path)
        where = key_path(Config.from_settings(config))
        if where is None or (args.dry_run and not where.exists()):
            key = secrets.token_bytes(32)  # the names change all the same; none is kept
            if where is None:
                print(
                    f"note: {config['store']} keeps no key: passes are re-keyed under a key "
                    "of this process",
                    file=sys.stderr,
                )
        else:
            made = not where.exists()
            key = load_key(where)
            if made:
                print(
                    f"note: made the server's key, {where}: the server names passes by it; "
                    "keep it with the store's backups",
                    file=sys.stderr,
                )
    with stores.open_existing(config, reading=False) as store:
        bar = tqdm(
            unit=" graphs", desc="scrubbing", file=sys.stderr, disable=True if args.silent else None
        )

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        with bar:
            report = scrub(
                store,
                config["base_url"],
                passes=tokens,
                key=key,
                dry_run=args.dry_run,
                progress=progress,
                vault=Vault(Path(config["files"]) / ".vault"),  # where the server looks
                provenance=args.provenance,
            )
    print(report.summary())
    if args.dry_run:
        print("dry run: nothing was changed")
    return EXIT_OK


def cmd_trace(args: argparse.Namespace, config: dict[str, Any]) -> int:
    from jobtrail.bindings.linkeddata import trace as drawing
    from jobtrail.queries.trace import trace

    with stores.open_existing(config) as store:
        chain = trace(store, args.key)
        base = stores.minting_base(store, args, config)  # the store's, for the trace's IRI
    if args.format == "table":
        for i, hop in enumerate(chain.hops, 1):
            who = " / ".join(p for p in (hop.producer, hop.process, hop.environment) if p)
            after = ", ".join(
                f"#{[h.iri for h in chain.hops].index(e) + 1}" for e in hop.informed_by
            )
            print(f"#{i:<3} {hop.time or '?':<28} {who}")
            retries = "—" if hop.retries is None else hop.retries
            print(f"     added {hop.added or '—'}  retries {retries}  after {after or '—'}")
            for error in hop.errors:
                print(f"     error: {error}")
        print(f"{len(chain.hops)} hops; references: {', '.join(sorted(chain.references))}")
        return EXIT_OK
    fmt = {
        "json": drawing.JSON,
        "turtle": conneg.TURTLE,
        "jsonld": conneg.JSONLD,
        "html": conneg.HTML,
        "svg": drawing.SVG,
        "provjson": drawing.PROVJSON,
    }[args.format]
    iri = f"{base}trace/{quote(args.key, safe='')}"
    body = drawing.document(
        chain, fmt, iri=iri, path=f"/trace/{quote(args.key, safe='')}", base=base
    )
    sys.stdout.write(body.decode("utf-8"))
    return EXIT_OK


def cmd_serve(args: argparse.Namespace, config: dict[str, Any]) -> int:
    from jobtrail.server.serve import serve

    return serve(args, config)


def cmd_stats(args: argparse.Namespace, config: dict[str, Any]) -> int:
    with stores.open_existing(config) as store:
        stats_table(store, sys.stdout)
    return EXIT_OK
