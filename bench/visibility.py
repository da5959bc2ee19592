"""What the visibility policy costs on reads: the same server with enforcement off, in one run.

Builds one embedded store: N synthetic TRE provenance hops (bench/trace.py's chains of 5–8
hops, loaded with the real `jobtrail load`), then M private jobs made in-process through the
job core (`Jobs.create`, owner ann or bob in turn, PENDING: each with its sealed creation
record and its state graph), a few hundred of them with two binding hops each (a request and
its answer, through `Hops.record`, `jt:about` the job); compacts it and copies it. It then
starts the real app (`create_app` under uvicorn, as `jobtrail serve`'s child runs it) twice,
each in a child process on its own copy of the store, both running at once:

  baseline   enforcement off: `engine.visibility` is `OpenPolicy`, a `Policy` that lets
             everyone see everything and never looks up who owns what (put in place of
             `Policy` in server/app.py before the app starts; no product setting does this);
  enforced   the normal `Policy`.

For an anonymous caller, a user (ann, Basic auth; she owns half of the jobs) and a curator
(cat, in `curators`), each row is one kind of request:

  (a) GET random provenance message IRIs as Turtle;
  (b) GET change records (`/messages/…`, `jt:about` a job) and job state (`/jobs/{id}`):
      the caller's own, and others' (which enforcement must refuse: 401/403, counted);
  (c) GET /trace/{key} of random chains (a chain's first, middle or last UUID or its
      reference), and /trace/{job id} of jobs with binding hops (others' answer 404: every
      hop is left out);
  (d) /sparql point lookups `SELECT ?p ?o WHERE { <message IRI> ?p ?o }`: while the store
      holds private jobs, curators (and the admin) query the whole store and everyone else
      the public copy (jobs/public.py; the enforced server's copy is waited for first, and
      how long it took to catch up is printed); the baseline answers all from the store;
  (e) the first page of the /messages feed (Atom), whose queries carry the policy's filter
      (`Policy.sparql_filter`) for all but curators: a few requests, no load phase.

A request unanswered after `--timeout` seconds (60) ends its row for that server, which is
then replaced by a fresh one (it may still be busy with the request).

Each row: an untimed pass over its targets on both servers (renditions kept, owners looked
up, as on a server that has run a while), then K sequential requests on one keep-alive
connection per server, alternating between the two (median, p95 of the successes), then
C connections to each server for the same T seconds, both at once (requests/s, and the
server process's own CPU time per request, from /proc). Running the two side by side keeps
whatever else the machine runs from favouring one of them. Then the same with
`JOBTRAIL_CACHE_SIZE=0` (no kept renditions) for the dereferencing rows, plus change records
read for the first time (no warm pass: each one's job not yet looked up).

The client is a minimal HTTP/1.1 keep-alive client on asyncio streams: wrk is not installed
here, and an httpx client costs more CPU per request than the server does, so its
requests/s would measure itself. httpx checks the servers' answers before timing.

Ratios are enforced/baseline times (median latency, 1/throughput, CPU per request); a row
meets the goal (at most 1.20: 20 % slower) when its median does: one client, one request at
a time, alternating between the servers, so the median moves only with what a request costs.
The load phase's two ratios are printed too; on a machine running other work they move by
±20 % or more from one run to the next (the curator's /trace and /sparql rows run the very
same code on both servers, and show how much).

    python bench/visibility.py                       # 100,000 hops, 10,000 private jobs
    python bench/visibility.py --quick               # 10,000 hops, 1,000 jobs
    python bench/visibility.py --hops 50000 --jobs 5000 -k 200 -t 4 --no-cache-off
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import importlib.util
import json
import os
import platform
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

# bench/ holds an http.py: keep this directory off the path while the standard library's
# `http` is imported (by httpx, uvicorn); bench/trace.py is loaded by its path instead.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
import httpx  # noqa: E402
import pyoxigraph as ox  # noqa: E402
from jobtrail.jobs.visibility import PROVENANCE, Policy, Viewer  # noqa: E402


def _bench_module(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


chains = _bench_module("trace")  # bench/trace.py: chain_messages, pick_keys, ms

JT = "https://w3id.org/jobtrail/vocab#"
USERS = {"ann": "ann-secret", "bob": "bob-secret", "cat": "cat-secret"}
OWNERS = ("ann", "bob")  # the private jobs' owners, in turn
CURATOR = "cat"
TURTLE = "text/turtle"
SPARQL_JSON = "application/sparql-results+json"
JSON = "application/json"
ATOM = "application/atom+xml"
REFUSED = {401, 403}
BASE = "http://127.0.0.1:8000/"  # IRIs are minted under it; the servers listen elsewhere


class OpenPolicy(Policy):
    """Enforcement off, for the baseline only: everyone sees everything, and who owns what is
    never looked up. The server still calls it wherever it calls the policy (SPARQL's gate
    still runs `check_whole_store` in a thread), so what those calls cost is in both."""

    def may_see(self, viewer: Viewer, owners: Iterable[str | None]) -> bool:
        return True

    def may_read(self, viewer: Viewer, iri: str, triples: Any = None) -> bool:
        return True

    def owners_of(self, iri: str, triples: Any = None) -> frozenset[str | None]:
        return PROVENANCE

    def owners_of_jobs(self, jobs: Iterable[str]) -> frozenset[str | None]:
        return PROVENANCE

    def check_reader(self, viewer: Viewer) -> None:
        return None

    def sparql_filter(self, viewer: Viewer, var: str = "m") -> str:
        return ""

    def sees_whole_store(self, viewer: Viewer) -> bool:
        return True

    def holds_private(self) -> bool:
        return False

    def check_whole_store(self, viewer: Viewer, what: str = "a SPARQL query") -> None:
        return None


# --- the server, in a child process -----------------------------------------------------


def serve_child(args: argparse.Namespace) -> None:
    """Run the app as `jobtrail serve`'s child does (server/serve.py `_run`), its policy open
    or enforced."""
    import uvicorn
    from jobtrail.server import app as server_app
    from jobtrail.server import settings

    environ: dict[str, str] = {}
    if args.mode == "baseline":
        server_app.Policy = OpenPolicy  # type: ignore[misc]  # what `_engine` builds
        environ["JOBTRAIL_PUBLIC_COPY"] = "off"  # everyone queries the whole store
    environ |= {
        "JOBTRAIL_STORE": args.store,
        "JOBTRAIL_BASE_URL": args.base,
        "JOBTRAIL_USERS": ",".join(f"{u}:{p}" for u, p in USERS.items()),
        "JOBTRAIL_CURATORS": CURATOR,
        "JOBTRAIL_CACHE_SIZE": str(args.cache_size),
        "JOBTRAIL_FILES": str(Path(args.store).parent / "files"),
    }
    config = server_app.Config.from_settings(settings.resolve(argparse.Namespace(), environ))
    uvicorn.run(
        server_app.create_app(config),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        timeout_graceful_shutdown=5,
    )


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    mode: str
    port: int

    def cpu(self) -> float:
        """The server process's CPU seconds so far (all its threads)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server(work: Path, base: str, mode: str, cache_size: int) -> Server:
    port = free_port()
    log = work / f"server-{mode}-{cache_size}.log"
    command = [sys.executable, __file__, "--serve", "--mode", mode]
    command += ["--store", str(work / f"store-{mode}"), "--port", str(port), "--base", base]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [*command, "--cache-size", str(cache_size)],
            cwd=work,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    return await_health(Server(process, mode, port), log)


def await_health(server: Server, log: Path, limit: float = 120) -> Server:
    """`server` once it answers /health (200); its log's tail if it exits first."""
    process, mode = server.process, server.mode
    deadline = time.monotonic() + limit
    with httpx.Client(trust_env=False, timeout=2) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                tail = log.read_text(errors="replace")[-2000:]
                raise SystemExit(f"the {mode} server exited with {process.returncode}:\n{tail}")
            try:
                if client.get(f"http://127.0.0.1:{server.port}/health").status_code == 200:
                    return server
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    process.terminate()
    raise SystemExit(f"the {mode} server did not answer /health within {limit:.0f} s")


def wait_for_copy(server: Server, limit: float = 1800) -> float:
    """Seconds until an anonymous SPARQL query is answered (not 503): the public copy has
    caught up with the store (jobs/public.py)."""
    began = time.monotonic()
    with httpx.Client(trust_env=False, timeout=30) as client:
        while True:
            r = client.get(f"http://127.0.0.1:{server.port}/sparql", params={"query": "ASK {}"})
            if r.status_code != 503:
                r.raise_for_status()
                return time.monotonic() - began
            if time.monotonic() - began > limit:
                raise SystemExit(f"the public copy did not catch up within {limit:.0f} s")
            time.sleep(0.5)


def stop_server(server: Server | None) -> None:
    if server is None or server.process.poll() is not None:
        return
    server.process.terminate()
    try:
        server.process.wait(15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the store ----------------------------------------------------------------------------


@dataclass
class Dataset:
    base: str
    hops: int = 0
    quads: int = 0
    messages: list[str] = field(default_factory=list)  # provenance message paths
    keys: list[tuple[str, Any]] = field(default_factory=list)  # trace keys, their chains
    jobs: dict[str, list[str]] = field(default_factory=dict)  # owner -> job ids
    records: dict[str, list[str]] = field(default_factory=dict)  # owner -> record paths
    with_hops: dict[str, list[str]] = field(default_factory=dict)  # owner -> job ids
    timings: list[str] = field(default_factory=list)


def write_chains(path: Path, hops: int, sample: int, seed: int, ds: Dataset) -> None:
    """Chains of bench/trace.py until `hops` hops; every message's path, and `sample` keys."""
    rng = random.Random(seed)
    made: list[Any] = []
    digests: list[str] = []
    with open(path, "w", encoding="utf-8") as f:
        i = 0
        while len(digests) < hops:
            messages, chain = chains.chain_messages(i, rng)
            for m in messages:
                line = json.dumps(m, separators=(",", ":"))
                f.write(line + "\n")
                digests.append(hashlib.sha256(line.encode()).hexdigest())
            made.append(chain)
            i += 1
    ds.hops = len(digests)
    ds.messages = ["/messages/" + d for d in digests]
    picked = rng.sample(made, min(sample, len(made)))
    ds.keys = list(chains.pick_keys(picked, rng))


def make_jobs(store_dir: Path, ds: Dataset, n: int, with_hops: int, seed: int) -> None:
    """n PENDING jobs through the job core, owners in turn; `with_hops` of them with a request
    and its answer recorded as binding hops; then every creation record's path."""
    from jobtrail.ingest.seal import Log
    from jobtrail.jobs.core import Jobs
    from jobtrail.jobs.hops import Hops, json_body, request_bytes, response_bytes
    from jobtrail.store import open_store

    rng = random.Random(f"jobs {seed}")  # not the chains' stream: their UUIDs would repeat
    store = open_store(str(store_dir))
    try:
        jobs = Jobs(store, ds.base, log=Log(store))
        hops = Hops(jobs)
        start = time.perf_counter()
        for i in range(n):
            owner = OWNERS[i % len(OWNERS)]
            job_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            url = f"https://example.org/inputs/{i:06d}.tar.gz"
            record = {"method": "POST", "path": "/jobs", "query": {"profile": "Fixity"}}
            record |= {"contentType": "text/plain", "body": url, "caller": owner}
            jobs.create(profile="Fixity", input=url, owner=owner, request=record, job_id=job_id)
            ds.jobs.setdefault(owner, []).append(job_id)
            if i < with_hops:
                body = json_body({"profile": "Fixity", "input": url})
                sent = request_bytes("POST", f"{ds.base}jobs", body, [("Accept", JSON)])
                answer = response_bytes(201, None, [("Location", jobs.iri(job_id))])
                hops.record(job_id, sent, "received: POST /jobs")
                hops.record(job_id, answer, "answered: POST /jobs")
                ds.with_hops.setdefault(owner, []).append(job_id)
        took = time.perf_counter() - start
        ds.timings.append(f"{n:,} jobs ({with_hops:,} with 2 hops) in {took:.1f} s")
        query = f"""SELECT ?m ?by WHERE {{ GRAPH ?m {{
          ?m <{JT}about> ?job ; <{JT}changeKind> "created" ; <{JT}changedBy> ?by }} }}"""
        for row in store.query(query):  # type: ignore[union-attr]
            path = "/" + row["m"].value.removeprefix(ds.base)
            ds.records.setdefault(row["by"].value, []).append(path)
        for owner in OWNERS:
            ds.records[owner].sort()  # the store's order varies; the seed's should not
        start = time.perf_counter()
        store._store.optimize()  # type: ignore[attr-defined]  # compact: no background work
        ds.timings.append(f"store compacted in {time.perf_counter() - start:.1f} s")
        ds.quads = store.count()
    finally:
        store.close()


def build(work: Path, args: argparse.Namespace, base: str) -> Dataset:
    ds = Dataset(base)
    jsonl, store_dir = work / "hops.jsonl", work / "store-baseline"
    write_chains(jsonl, args.hops, args.k, args.seed, ds)
    start = time.perf_counter()
    load = [sys.executable, "-m", "jobtrail.cli", "load", str(jsonl), "--store", str(store_dir)]
    subprocess.run([*load, "--silent", "--base-url", base], cwd=work, check=True)
    took = time.perf_counter() - start
    ds.timings.append(f"{ds.hops:,} hops loaded in {took:.1f} s ({ds.hops / took:,.0f} hops/s)")
    jsonl.unlink()
    make_jobs(store_dir, ds, args.jobs, min(args.job_hops, args.jobs), args.seed)
    start = time.perf_counter()
    shutil.copytree(store_dir, work / "store-enforced")  # both servers run at once
    ds.timings.append(f"copied in {time.perf_counter() - start:.1f} s")
    return ds


# --- the client -----------------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection: a request's bytes in, its status out, body read."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, head: bytes) -> int:
        for attempt in (1, 2):
            if self.reader is None or self.writer is None:
                self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            try:
                self.writer.write(head)
                return await self._response(self.reader)
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _response(self, reader: asyncio.StreamReader) -> int:
        head = (await reader.readuntil(b"\r\n\r\n")).lower()
        status = int(head[9:12])
        length = re.search(rb"\r\ncontent-length: *(\d+)", head)
        if length is not None:
            await reader.readexactly(int(length.group(1)))
        elif b"\r\ntransfer-encoding: chunked" in head:
            while size := int((await reader.readline()).split(b";")[0], 16):
                await reader.readexactly(size + 2)
            await reader.readline()
        else:
            await reader.read()
            self.close()
        if b"\r\nconnection: close" in head:
            self.close()
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def request_head(port: int, target: str, accept: str, auth: str | None) -> bytes:
    lines = [f"GET {target} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Accept: {accept}"]
    if auth:
        lines.append(f"Authorization: {auth}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


# --- the measures --------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    label: str
    auth: str | None  # the Authorization header

    @classmethod
    def basic(cls, label: str, user: str) -> Caller:
        token = base64.b64encode(f"{user}:{USERS[user]}".encode()).decode()
        return cls(label, f"Basic {token}")


ANONYMOUS = Caller("anonymous", None)
ANN = Caller.basic("user ann", "ann")
CAT = Caller.basic("curator cat", CURATOR)
CALLERS = (ANONYMOUS, ANN, CAT)


@dataclass(frozen=True)
class Row:
    label: str
    caller: Caller
    targets: list[str]  # distinct request targets (paths)
    accept: str
    refused: bool = False  # enforcement must refuse every one
    fresh: bool = False  # read once each, never before: no warm pass, no load phase
    k: int | None = None  # sequential requests, when not K (a slow request); no load phase
    hidden: frozenset[int] = frozenset(REFUSED)  # what a refusal answers


@dataclass
class Result:
    times: list[float] = field(default_factory=list)  # sequential, successes only
    statuses: Counter[int] = field(default_factory=Counter)
    done: int = 0  # load phase: answered successfully
    seconds: float = 0.0
    cpu: float = 0.0
    timed_out: float = 0.0  # a request went unanswered this many seconds: the row stopped

    @property
    def ok(self) -> int:
        return sum(n for s, n in self.statuses.items() if 200 <= s < 300)


def rows_for(ds: Dataset, k: int, feed_k: int, seed: int, cache: bool) -> list[Row]:
    rng = random.Random(seed)
    pick = lambda pool, n=k: rng.sample(pool, min(n, len(pool)))  # noqa: E731
    messages = pick(ds.messages)
    ann_records = rng.sample(ds.records["ann"], len(ds.records["ann"]))
    bob_records = rng.sample(ds.records["bob"][1:], len(ds.records["bob"]) - 1)  # [0]: check
    own, fresh_own = ann_records[:k], ann_records[k : 2 * k]
    others, fresh_curated = bob_records[:k], bob_records[k : 2 * k]
    users = own[: k // 2] + others[: k // 2]
    own_jobs = ["/jobs/" + j for j in pick(ds.jobs["ann"])]
    others_jobs = ["/jobs/" + j for j in pick(ds.jobs["bob"])]
    users_jobs = own_jobs[: k // 2] + others_jobs[: k // 2]
    trace_keys = ["/trace/" + quote(key, safe="") for key, _ in ds.keys[:k]]
    own_traces = ["/trace/" + j for j in ds.with_hops.get("ann", [])[:k]]
    others_traces = ["/trace/" + j for j in ds.with_hops.get("bob", [])[:k]]
    users_traces = own_traces[: k // 2] + others_traces[: k // 2]
    lookups = [
        "/sparql?query=" + quote(f"SELECT ?p ?o WHERE {{ <{ds.base}{m[1:]}> ?p ?o }}")
        for m in messages
    ]
    hidden_trace = frozenset({*REFUSED, 404})
    out: list[Row] = []
    for c in CALLERS:
        out.append(Row("(a) provenance message, Turtle", c, messages, TURTLE))
        if c is ANONYMOUS:
            out.append(Row("(b) others' change records", c, others, TURTLE, refused=True))
        elif c is ANN:
            out.append(Row("(b) own change records", c, own, TURTLE))
            out.append(Row("(b) others' change records", c, others, TURTLE, refused=True))
        else:
            out.append(Row("(b) users' change records", c, users, TURTLE))
        if not cache:  # no kept renditions: the first read of each, owner not yet looked up
            if c is ANN:
                out.append(
                    Row("(b) own change records, 1st read", c, fresh_own, TURTLE, fresh=True)
                )
            elif c is CAT:
                label = "(b) users' change records, 1st read"
                out.append(Row(label, c, fresh_curated, TURTLE, fresh=True))
            continue
        if c is ANONYMOUS:
            out.append(Row("(b) others' job state", c, others_jobs, TURTLE, refused=True))
        elif c is ANN:
            out.append(Row("(b) own job state", c, own_jobs, TURTLE))
            out.append(Row("(b) others' job state", c, others_jobs, TURTLE, refused=True))
        else:
            out.append(Row("(b) users' job state", c, users_jobs, TURTLE))
        out.append(Row("(c) /trace of a chain", c, trace_keys, JSON))
        if c is CAT:
            out.append(Row("(c) /trace of users' jobs", c, users_traces, JSON))
        else:
            if c is ANN:
                out.append(Row("(c) /trace of own jobs", c, own_traces, JSON))
            label = "(c) /trace of others' jobs"
            out.append(Row(label, c, others_traces, JSON, refused=True, hidden=hidden_trace))
        out.append(Row("(d) /sparql point lookup", c, lookups, SPARQL_JSON))
        out.append(Row("(e) /messages feed, page 1 (Atom)", c, ["/messages"], ATOM, k=feed_k))
    return [r for r in out if r.targets]


async def measure(
    servers: dict[str, Server], row: Row, args: argparse.Namespace
) -> dict[str, Result]:
    """The row against both servers, so that whatever else the machine does slows both
    alike: sequential requests alternate between them, the load phase loads both at once
    (C connections each). A server that leaves a request unanswered for `--timeout` seconds
    gets no more of the row (main restarts it)."""
    heads = {
        mode: [request_head(s.port, t, row.accept, row.caller.auth) for t in row.targets]
        for mode, s in servers.items()
    }
    results = {mode: Result() for mode in servers}
    conns_of = {mode: Connection(s.port) for mode, s in servers.items()}

    async def send(mode: str, i: int) -> tuple[int, float] | None:
        if results[mode].timed_out:
            return None
        start = time.perf_counter()
        try:
            status = await asyncio.wait_for(conns_of[mode].request(heads[mode][i]), args.timeout)
        except TimeoutError:
            results[mode].timed_out = time.perf_counter() - start
            conns_of[mode].close()
            return None
        return status, time.perf_counter() - start

    modes = list(servers)
    try:
        if not row.fresh:
            for i in range(len(row.targets)):  # the warm pass: renditions kept, owners known
                for mode in modes:
                    await send(mode, i)
        rng = random.Random(7)
        order = list(range(len(row.targets)))  # fresh: each once
        if not row.fresh:
            order = [rng.randrange(len(row.targets)) for _ in range(row.k or args.k)]
        for n, i in enumerate(order):
            for mode in modes if n % 2 == 0 else modes[::-1]:
                answer = await send(mode, i)
                if answer is not None:
                    results[mode].statuses[answer[0]] += 1
                    if 200 <= answer[0] < 300:
                        results[mode].times.append(answer[1])
    finally:
        for conn in conns_of.values():
            conn.close()
    if row.fresh or row.k or args.t <= 0:
        return results

    async def worker(server: Server, mine: list[bytes], n: int, deadline: float) -> int:
        conn, pick, done = Connection(server.port), random.Random(n), 0
        try:
            while time.monotonic() < deadline:
                if 200 <= await conn.request(pick.choice(mine)) < 300:
                    done += 1
        finally:
            conn.close()
        return done

    loaded = [m for m in modes if results[m].times and not results[m].timed_out]
    cpu = {m: servers[m].cpu() for m in loaded}
    start = time.perf_counter()
    deadline = time.monotonic() + args.t
    done = await asyncio.gather(  # both at once: what else runs meanwhile slows both alike
        *(
            worker(servers[m], heads[m], 100 * j + n, deadline)
            for j, m in enumerate(loaded)
            for n in range(args.c)
        )
    )
    for j, m in enumerate(loaded):
        results[m].seconds = time.perf_counter() - start
        results[m].cpu = servers[m].cpu() - cpu[m]
        results[m].done = sum(done[j * args.c : (j + 1) * args.c])
    return results


def check(ds: Dataset, server: Server) -> None:
    """Before timing: traces return their chains whole; the baseline refuses nothing."""
    auth = {"Authorization": ANN.auth or ""}
    address = f"http://127.0.0.1:{server.port}/"
    with httpx.Client(base_url=address, trust_env=False, timeout=60) as client:
        for key, chain in ds.keys[:10]:
            r = client.get("trace/" + quote(key, safe=""), headers=auth)
            r.raise_for_status()
            got = sorted(chains.bare(h["addedUUID"]) for h in r.json()["hops"])
            if got != sorted(chain.added):
                raise SystemExit(f"/trace/{key} returned {len(got)} hops, not its chain's")
        r = client.get(ds.records["bob"][0], headers={"Accept": TURTLE})
        want = 200 if server.mode == "baseline" else 401
        if r.status_code != want:
            raise SystemExit(
                f"{server.mode}: bob's change record answered {r.status_code} to an "
                f"anonymous caller, not {want}"
            )


# --- the report ------------------------------------------------------------------------------


def ms(seconds: list[float], q: float) -> float:
    if len(seconds) < 2:
        return 1000 * seconds[0] if seconds else float("nan")
    return float(chains.ms(seconds, q))


def line(row: Row, base: Result, enf: Result, goal: float) -> str:
    label = f"{row.label} · {row.caller.label}"
    b_med, b_p95 = ms(base.times, 0.5), ms(base.times, 0.95)
    b_rps = base.done / base.seconds if base.seconds else 0.0
    b_cpu = 1e6 * base.cpu / base.done if base.done else 0.0
    b = f"{b_med:6.2f} {b_p95:6.2f}"
    b += f" {b_rps:7,.0f} {b_cpu:5,.0f}" if base.seconds else f" {'–':>7} {'–':>5}"
    if base.timed_out or enf.timed_out:
        late = "baseline" if base.timed_out else "enforced"
        b = b if not base.timed_out else f"{'–':>6} {'–':>6} {'–':>7} {'–':>5}"
        took = base.timed_out or enf.timed_out
        return f"{label:<58} {b} | {late}: one request unanswered after {took:.0f} s: NO"
    if base.ok < sum(base.statuses.values()):
        b += f"  baseline failed {dict(base.statuses)}"
        return f"{label:<58} {b}"
    if row.refused:
        refused = sum(n for s, n in enf.statuses.items() if s in row.hidden)
        codes = "/".join(str(s) for s in sorted(enf.statuses))
        total = sum(enf.statuses.values())
        verdict = "refused, as it must be" if refused == total else "LEAK: not all refused"
        return f"{label:<58} {b} | refused {refused}/{total} ({codes}): {verdict}"
    if enf.ok < sum(enf.statuses.values()):
        return f"{label:<58} {b} | enforced failed: {dict(enf.statuses)}"
    e_med, e_p95 = ms(enf.times, 0.5), ms(enf.times, 0.95)
    e = f"{e_med:6.2f} {e_p95:6.2f}"
    ratio = e_med / b_med
    if enf.seconds:
        e_rps = enf.done / enf.seconds
        e_cpu = 1e6 * enf.cpu / enf.done
        e += f" {e_rps:7,.0f} {e_cpu:5,.0f}"
        r = f"{ratio:5.2f} {b_rps / e_rps:5.2f} {e_cpu / b_cpu:5.2f}"
    else:
        e += f" {'–':>7} {'–':>5}"
        r = f"{ratio:5.2f} {'–':>5} {'–':>5}"
    verdict = "yes" if ratio <= goal else "NO"
    return f"{label:<58} {b} | {e} | {r}  {verdict}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hops", type=int, default=100_000, help="provenance hops (100,000)")
    parser.add_argument("--jobs", type=int, default=10_000, help="private jobs (10,000)")
    parser.add_argument("--quick", action="store_true", help="10,000 hops, 1,000 jobs")
    parser.add_argument("--job-hops", type=int, default=300, help="jobs with binding hops (300)")
    parser.add_argument("-k", type=int, default=300, help="sequential requests per row (300)")
    parser.add_argument("--feed-k", type=int, default=10, help="/messages feed requests (10)")
    parser.add_argument("-c", type=int, default=8, help="connections of a load phase (8)")
    parser.add_argument("-t", type=float, default=3.0, help="seconds of a load phase (3; 0: none)")
    parser.add_argument("--no-cache-off", action="store_true", help="skip the cache-off servers")
    parser.add_argument("--timeout", type=float, default=60, help="seconds a request may take (60)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--goal", type=float, default=1.20, help="largest ratio allowed (1.20)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=("baseline", "enforced"), help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    parser.add_argument("--cache-size", type=int, default=10_000, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_child(args)
        return
    if args.quick:
        args.hops, args.jobs = 10_000, 1_000
    began = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="jobtrail-bench-visibility-", dir="/tmp"))
    servers: dict[str, Server] = {}
    print(
        f"Python {platform.python_version()}, pyoxigraph {ox.__version__}, "
        f"{platform.machine()} {os.cpu_count()} CPUs; client: asyncio HTTP/1.1 keep-alive",
        flush=True,
    )
    try:
        ds = build(work, args, BASE)
        built = time.perf_counter() - began
        print(
            f"store: {ds.hops:,} provenance hops, {args.jobs:,} private jobs "
            f"(owners {', '.join(OWNERS)}), {ds.quads:,} quads; built in {built:.0f} s: "
            + "; ".join(ds.timings),
            flush=True,
        )
        caches = [10_000] if args.no_cache_off else [10_000, 0]
        results: dict[tuple[int, str, str, str], Result] = {}
        rows: dict[int, list[Row]] = {}
        for cache_size in caches:
            rows[cache_size] = rows_for(ds, args.k, args.feed_k, args.seed, cache_size > 0)
            for mode in ("baseline", "enforced"):
                servers[mode] = start_server(work, BASE, mode, cache_size)
                check(ds, servers[mode])
            caught_up = wait_for_copy(servers["enforced"])
            print(f"  the enforced server's public copy caught up in {caught_up:.1f} s", flush=True)
            for row in rows[cache_size]:
                got = asyncio.run(measure(servers, row, args))
                for mode, result in got.items():
                    results[(cache_size, mode, row.label, row.caller.label)] = result
                    if result.timed_out:  # still at it: a new server for the next rows
                        stop_server(servers[mode])
                        servers[mode] = start_server(work, BASE, mode, cache_size)
                print(
                    f"  {time.perf_counter() - began:6.0f} s  {row.label} · {row.caller.label}",
                    file=sys.stderr,
                    flush=True,
                )
            for mode in list(servers):
                stop_server(servers.pop(mode))
            print(
                f"  ... cache {cache_size:,}: {len(rows[cache_size])} rows measured "
                f"({time.perf_counter() - began:.0f} s)",
                flush=True,
            )
        print(
            f"\nK = {args.k} sequential requests per row (after a warm pass over its targets), "
            f"then {args.c} connections to each server, both at once, for {args.t:g} s; ms; r/s; "
            "CPU = server µs per request"
        )
        print(
            "ratios = enforced/baseline time: median, 1/throughput, CPU per request; "
            f"goal: median <= {args.goal:.2f}"
        )
        for cache_size in caches:
            title = "renditions kept (cache 10,000)" if cache_size else "JOBTRAIL_CACHE_SIZE=0"
            print(f"\n{title:<58} {'baseline':^27} | {'enforced':^27} | {'ratios':^17}")
            print(
                f"{'measure · caller':<58} {'median':>6} {'p95':>6} {'r/s':>7} {'CPU':>5} | "
                f"{'median':>6} {'p95':>6} {'r/s':>7} {'CPU':>5} | {'med':>5} {'r/s':>5} "
                f"{'CPU':>5}  ≤{args.goal:.2f}"
            )
            for row in rows[cache_size]:
                b = results[(cache_size, "baseline", row.label, row.caller.label)]
                e = results[(cache_size, "enforced", row.label, row.caller.label)]
                print(line(row, b, e, args.goal))
        print(f"\ntotal {time.perf_counter() - began:.0f} s")
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
    finally:
        for server in servers.values():
            stop_server(server)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
