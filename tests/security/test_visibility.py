"""Who sees whose jobs: the visibility policy (jobs/visibility.py) on every read path.

One real server with two users (ann, bob), a pass, a producer credential, a curator (carol)
and an admin token. ann makes jobs through every binding (/jobs, UWS, MCMA today and the FIMS
flow, SIF), and one more with her pass; each carries marker strings (in its input URL, which
holds a password, its RUNID, its parameters, its endpoints). Some run to completion, one
fails; so results, change records, hops and outbox calls exist. Then, path by path and caller
by caller: nothing of a job shows to whom it is not visible (no marker, no job id, no record
or hop IRI), its owner, the curator and the admin see it, and no secret is ever answered.

Each job belongs to an owner label here: "ann" (HTTP Basic) or "pass" (made with ?pass=).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, quote, urlsplit

import feedparser
import httpx
import lxml.html
import pytest

from tests.bindings.sif.test_routes import job_document
from tests.conftest import DocumentServer, job_server, jobtrail_server

JT = "https://w3id.org/jobtrail/vocab#"
USERS = {"ann": "ann-pw-q7Xv", "bob": "bob-pw-L2mk", "carol": "carol-pw-Vd9z"}
PASS = "pass-tok-Zr4w"
PRODUCER = "producer-tok-Hk8s"
ADMIN = "admin-tok-Pw3n"
URL_PASSWORD = "url-pw-Ty6c"
SECRETS = (*USERS.values(), PASS, PRODUCER, ADMIN, URL_PASSWORD)
SETTINGS = {
    "users": ",".join(f"{k}:{v}" for k, v in USERS.items()),
    "passes": f"{PASS}:1000",
    "curators": "carol",
    "admin_token": ADMIN,
    "producers": f"{PRODUCER}:*",
    "uws_lists": "fixity=Fixity,transfer=Transfer",
    "mcma_retry_base": "0.2",
    "mcma_retry_max": "0.5",
    "mcma_give_up_after": "2",
}
DATA = b"ann's document\n"


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@dataclass(frozen=True)
class Who:
    """A caller: what it sends, and whose jobs it may see ("*": everyone's)."""

    name: str
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    sees: frozenset[str] = frozenset()

    def may_see(self, owner: str) -> bool:
        return "*" in self.sees or owner in self.sees

    @property
    def sent(self) -> str:
        """Its own credentials: an answer may echo those (a paging link's ?pass=)."""
        return json.dumps([self.headers, self.params])


CALLERS = {
    w.name: w
    for w in (
        Who("anonymous"),
        Who("ann", basic("ann", USERS["ann"]), sees=frozenset({"ann"})),
        Who("bob", basic("bob", USERS["bob"])),
        Who("pass", params={"pass": PASS}, sees=frozenset({"pass"})),
        Who("producer", {"Authorization": f"Bearer {PRODUCER}"}),
        Who("curator", basic("carol", USERS["carol"]), sees=frozenset({"*"})),
        Who("admin", {"Authorization": f"Bearer {ADMIN}"}, sees=frozenset({"*"})),
        Who("admin-basic", basic("root", ADMIN), sees=frozenset({"*"})),
    )
}
ANN, ADMIN_WHO = CALLERS["ann"], CALLERS["admin"]


@dataclass
class Made:
    """A job ann made (or her pass): its owner label, binding, IRI and marker strings."""

    owner: str
    binding: str
    iri: str
    profile: str
    markers: tuple[str, ...]
    graphs: list[str] = field(default_factory=list)  # change records, hops, outbox calls
    final: bool = True  # it runs to an end (a SIF job is moved by its clients)

    @property
    def id(self) -> str:
        return self.iri.rsplit("/", 1)[1]

    def tokens(self) -> set[str]:
        """What may show of it only to whom may see it: markers, id, its graphs' names (not
        the names every job's side graphs share: `{job}/mcma` names no one's job)."""
        names = {g.rsplit("/", 1)[1] for g in self.graphs} - {"mcma", "sif", "ogcapi", "results"}
        return {*self.markers, self.id, *names}


@dataclass
class World:
    base: str
    client: httpx.Client
    documents: DocumentServer
    jobs: list[Made]
    public_input: str  # a loaded (provenance) message one of ann's jobs reads as its input
    pass_graphs: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)  # secrets answered (checked after each test)

    def tokens_of(self, owner: str) -> set[str]:
        found = {t for j in self.jobs if j.owner == owner for t in j.tokens()}
        if owner == "pass":
            found |= {g.rsplit("/", 1)[1] for g in self.pass_graphs}
        return found

    def hidden_from(self, who: Who) -> set[str]:
        return {
            t for owner in ("ann", "pass") if not who.may_see(owner) for t in self.tokens_of(owner)
        }

    def get(self, who: Who, url: str, accept: str | None = None, **params: str) -> httpx.Response:
        """GET as `who`; no answer may hold a secret it did not send itself."""
        headers = {**who.headers, **({"Accept": accept} if accept else {})}
        own = dict(parse_qsl(urlsplit(url).query))  # httpx's params replace the URL's query
        url = url.split("?", 1)[0]
        r = self.client.get(url, headers=headers, params={**own, **who.params, **params})
        seen = r.text + json.dumps(dict(r.headers))
        leaked = [s for s in SECRETS if s in seen and s not in who.sent]
        self.leaks += [f"{who.name} GET {url}: {s}" for s in leaked]
        return r

    def check_hidden(self, who: Who, r: httpx.Response, url: str) -> None:
        """Nothing of a job `who` may not see is in the answer (but what the URL named)."""
        seen = r.text + r.headers.get("location", "") + r.headers.get("link", "")
        leaked = sorted(t for t in self.hidden_from(who) if t in seen and t not in url)
        assert not leaked, f"{who.name} GET {url} ({r.status_code}) shows {leaked}:\n{r.text[:600]}"

    def sparql(self, query: str) -> list[dict[str, str]]:
        """A SELECT as the admin: the rows, values only."""
        r = self.get(ADMIN_WHO, "/sparql", "application/sparql-results+json", query=query)
        assert r.status_code == 200, r.text
        rows = r.json()["results"]["bindings"]
        return [{k: v["value"] for k, v in row.items()} for row in rows]


# --- making the world ------------------------------------------------------------------------


def secret_url(documents: DocumentServer, marker: str) -> str:
    """An input URL with a password in it, and a marker in its path."""
    plain = documents.put(f"/{marker}.txt", DATA, "text/plain")
    return plain.replace("http://", f"http://reader:{URL_PASSWORD}@")


def created(r: httpx.Response, *statuses: int) -> str:
    assert r.status_code in statuses, f"{r.request.method} {r.request.url}: {r.text}"
    return r.headers["location"]


def make_jobs(c: httpx.Client, base: str, docs: DocumentServer, public: str) -> list[Made]:
    ann, sha256 = ANN.headers, "0" * 64
    made = []
    # the linked-data job service: one that completes, one that fails (a wrong digest)
    form = {"url": secret_url(docs, "vis-jobs-done"), "profile": "Fixity", "note": "vis-jobs-note"}
    iri = created(c.post("/jobs", data=form, headers=ann), 201)
    made.append(Made("ann", "jobs", iri, "Fixity", ("vis-jobs-done", "vis-jobs-note")))
    doc = {
        "url": public,
        "profile": "Fixity",
        "parameters": {"expected": sha256, "tag": "vis-fail"},
    }
    iri = created(c.post("/jobs", json=doc, headers=ann), 201)
    made.append(Made("ann", "jobs-failed", iri, "Fixity", ("vis-fail",)))
    # UWS, started at once; and one paid by ann's pass (its owner is the pass)
    form = {"URL": secret_url(docs, "vis-uws-input"), "RUNID": "vis-uws-runid", "PHASE": "RUN"}
    uws = created(c.post("/uws/fixity", data={**form, "label": "vis-uws-param"}, headers=ann), 303)
    markers = ("vis-uws-input", "vis-uws-runid", "vis-uws-param")
    made.append(Made("ann", "uws", _canonical(c, uws, ann), "Fixity", markers))
    form = {"URL": secret_url(docs, "vis-pass-input"), "RUNID": "vis-pass-runid", "PHASE": "RUN"}
    uws = created(c.post("/uws/fixity", params={"pass": PASS}, data=form), 303)
    iri = _canonical(c, uws, {}, {"pass": PASS})
    made.append(Made("pass", "uws-pass", iri, "Fixity", ("vis-pass-input", "vis-pass-runid")))
    # MCMA today, with a notification endpoint (an outbox call)
    job = {
        "@type": "QAJob",
        "jobProfileId": f"{base}mcma/job-profiles/Fixity",
        "jobInput": {"inputFile": {"@type": "Locator", "url": secret_url(docs, "vis-mcma-in")}},
        "notificationEndpoint": {"httpEndpoint": f"{docs.url}/vis-mcma-notify"},
    }
    answer = c.post("/mcma/jobs", json=job, headers=ann)
    created(answer, 201)  # at /mcma/jobs/{id}; the job's own IRI is its canonical one
    iri = answer.json()["canonicalJob"]
    made.append(Made("ann", "mcma", iri, "Fixity", ("vis-mcma-in", "vis-mcma-notify")))
    # the FIMS flow: a Job, then StartJob with callback endpoints (outbox calls)
    iri = fims_job(c, docs, "vis-fims")
    ends = {"success": f"{docs.url}/vis-fims-s", "failure": f"{docs.url}/vis-fims-f"}
    created(c.post("/mcma/StartJob", json={"job": iri, "asyncEndpoint": ends}, headers=ann), 201)
    made.append(Made("ann", "fims", iri, "Fixity", ("vis-fims-in", "vis-fims-out", "vis-fims-s")))
    # OGC API - Processes, asynchronous (its input a parameter of the profile's too)
    body = {"inputs": {"input": secret_url(docs, "vis-ogc-input"), "algorithm": "sha256"}}
    answer = c.post("/ogcapi/processes/Fixity/execution", json=body, headers=OGC_ASYNC)
    created(answer, 201)
    iri = f"{base}jobs/{answer.json()['jobID']}"
    made.append(Made("ann", "ogc", iri, "Fixity", ("vis-ogc-input",)))
    # SIF
    iri = sif_job(c, "vis-sif")
    made.append(
        Made("ann", "sif", iri, "Transfer", ("vis-sif-description", "vis-sif-payload"), final=False)
    )
    return made


OGC_ASYNC = {**ANN.headers, "Prefer": "respond-async"}


def fims_job(c: httpx.Client, docs: DocumentServer, marker: str) -> str:
    job = {
        "type": "AmeJob",
        "jobProfile": {"label": "Fixity", "type": "JobProfile"},
        "hasRelatedResource": {"type": "BMEssence", "locator": secret_url(docs, f"{marker}-in")},
        "outputFile": f"https://example.org/{marker}-out.jsonld",
    }
    return created(c.post("/mcma/Job", json=job, headers=ANN.headers), 201)


def sif_job(c: httpx.Client, marker: str) -> str:
    body = job_document().replace(b"Transfer TDR-2021-GW3", f"{marker}-description".encode())
    body = body.replace(b"a &amp; b", f"{marker}-payload".encode())
    xml = {**ANN.headers, "Content-Type": "application/xml"}
    r = c.post("/sif/jobs/Transfers/Transfer", content=body, headers=xml)
    assert r.status_code == 201, r.text
    return str(r.headers["link"].split(">")[0].lstrip("<"))


def uws_job(c: httpx.Client, docs: DocumentServer, marker: str) -> str:
    """A PENDING UWS job of ann's (it does not move by itself)."""
    form = {"URL": secret_url(docs, marker), "RUNID": marker}
    return _canonical(
        c, created(c.post("/uws/fixity", data=form, headers=ANN.headers), 303), ANN.headers
    )


def _canonical(c: httpx.Client, uws: str, headers: dict[str, str], params: Any = None) -> str:
    r = c.get(uws, headers=headers, params=params)
    assert r.status_code == 200, r.text
    return str(r.headers["link"].split(">")[0].lstrip("<"))


def wait_final(c: httpx.Client, job: Made) -> None:
    """Poll (as its owner) until the job has ended: no 202 any more."""
    who = ANN if job.owner == "ann" else CALLERS["pass"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        r = c.get(job.iri, headers={**who.headers, "Accept": "text/turtle"}, params=who.params)
        if r.status_code != 202:
            return
        time.sleep(0.1)
    raise AssertionError(f"{job.binding} job {job.iri} did not end")


def wait_for(check: Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"{what} did not happen"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("visibility")
    docs = DocumentServer()
    with (
        job_server(root / "data", root / "files", **SETTINGS) as base,
        httpx.Client(base_url=base, timeout=30, follow_redirects=False) as client,
    ):
        w = World(base, client, docs, [], "")
        feed = w.get(ADMIN_WHO, "/messages.ttl", size="1")  # a loaded message: provenance
        w.public_input = feed.text.split(f"<{base}messages/", 1)[1].split(">", 1)[0]
        w.public_input = f"{base}messages/{w.public_input}"
        w.jobs = make_jobs(client, base, docs, w.public_input)
        for job in w.jobs:
            if job.final:
                wait_final(client, job)
        calls = f"SELECT ?c WHERE {{ GRAPH ?c {{ ?c a <{JT}OutgoingCall> }} }}"
        wait_for(lambda: len(w.sparql(calls)) >= 2, "the notification and the callback")
        about = f"SELECT ?g ?job WHERE {{ GRAPH ?g {{ ?g <{JT}about> ?job }} }}"
        rows = w.sparql(about)
        for job in w.jobs:
            job.graphs = sorted({r["g"] for r in rows if r["job"] == job.iri})
        w.pass_graphs = [
            r["p"] for r in w.sparql(f"SELECT ?p {{ GRAPH ?p {{ ?p a <{JT}Pass> }} }}")
        ]
        assert w.pass_graphs, "the pass has no balance graph"
        yield w
    docs.close()


@pytest.fixture(autouse=True)
def no_secret_answered(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test: no answer it read held a secret its caller had not sent."""
    yield
    if "world" in request.fixturenames:
        leaks = request.getfixturevalue("world").leaks
        found, leaks[:] = list(leaks), []
        assert not found, "secrets answered:\n" + "\n".join(found)


def jobs_of(w: World, *bindings: str) -> list[Made]:
    return [j for j in w.jobs if not bindings or j.binding in bindings]


def test_the_world_holds_what_the_matrix_needs(world: World) -> None:
    """Positive controls: every binding made a job, each has records; hops and outbox exist."""
    assert {j.binding for j in world.jobs} == {
        "jobs", "jobs-failed", "uws", "uws-pass", "mcma", "fims", "ogc", "sif"
    }  # fmt: skip
    assert all(j.graphs for j in world.jobs), [j.binding for j in world.jobs if not j.graphs]
    assert any("/outbox/" in g for j in world.jobs for g in j.graphs), "no outbox call"
    phase = f"SELECT ?job ?p {{ GRAPH ?job {{ ?job <{JT}phase> ?p }} }}"
    phases = {r["job"]: r["p"].rsplit("/", 1)[-1] for r in world.sparql(phase)}
    assert phases[jobs_of(world, "jobs")[0].iri].endswith("COMPLETED")
    assert phases[jobs_of(world, "jobs-failed")[0].iri].endswith("ERROR")


# --- the read paths ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Read:
    owner: str  # whose it is
    url: str
    accept: str | None = None


def _per_job(
    template: str, accept: str | None = None, *bindings: str
) -> Callable[[World], list[Read]]:
    def reads(w: World) -> list[Read]:
        return [
            Read(j.owner, template.format(job=j.iri, id=j.id, list=j.profile.lower()), accept)
            for j in jobs_of(w, *bindings)
        ]

    return reads


def _graphs(part: str, ext: str = "") -> Callable[[World], list[Read]]:
    def reads(w: World) -> list[Read]:
        return [Read(j.owner, g + ext) for j in w.jobs for g in j.graphs if f"/{part}/" in g]

    return reads


RAN = ("jobs", "jobs-failed", "uws", "uws-pass", "mcma", "fims", "ogc")  # jobs with results
DIRECT: dict[str, Callable[[World], list[Read]]] = {
    "job": _per_job("{job}", "text/turtle"),
    "job-html": _per_job("{job}", "text/html"),
    "job.ttl": _per_job("{job}.ttl"),
    "job.html": _per_job("{job}.html"),
    "job-results": _per_job("{job}/results"),
    "job-results.ttl": _per_job("{job}/results.ttl", None, *RAN),  # the aggregation's graph
    "result-file": _per_job(
        "{job}/results/fixity.json", None, "jobs", "uws", "uws-pass", "mcma", "ogc"
    ),
    "job-mcma-graph": _per_job("{job}/mcma", "text/turtle", "mcma", "fims"),
    "job-sif-graph": _per_job("{job}/sif", "text/turtle", "sif"),
    "job-as-mcma-json": _per_job("{job}", "application/json", "mcma", "fims"),
    "uws-job": _per_job("/uws/{list}/{id}"),
    "uws-job-html": _per_job("/uws/{list}/{id}", "text/html"),  # the page for a browser
    "uws-parameters": _per_job("/uws/{list}/{id}/parameters"),
    "uws-runid": _per_job("/uws/{list}/{id}/runid"),
    "mcma-job": _per_job("/mcma/jobs/{id}"),
    "fims-job": _per_job("/mcma/Job/{id}"),
    "mcma-executions": _per_job("/jobs/{id}/executions"),
    # Memento (RFC 7089): a job's versions and its TimeMap are the job's readers'
    "job-timemap": _per_job("{job}/timemap"),
    "job-timemap.json": _per_job("{job}/timemap.json"),
    "job-timemap-html": _per_job("{job}/timemap", "text/html"),
    "job-version": _per_job("{job}/versions/1", "text/turtle"),
    "job-version.jsonld": _per_job("{job}/versions/1.jsonld"),
    "job-version-html": _per_job("{job}/versions/1", "text/html"),
    "sif-job": _per_job("/sif/jobs/Transfers/{id}"),
    "ogc-status": _per_job("/ogcapi/jobs/{id}"),  # every job, as OGC statusInfo (issue 24)
    "ogc-status-html": _per_job("/ogcapi/jobs/{id}", "text/html"),
    "ogc-results": _per_job("/ogcapi/jobs/{id}/results", None, *RAN),
    "ogc-inputs": _per_job("/ogcapi/jobs/{id}/inputs"),
    "ogc-prov": _per_job("/ogcapi/jobs/{id}/prov"),  # the trace of its id, in PROV-JSON
    "ogc-prov.ttl": _per_job("/ogcapi/jobs/{id}/prov", "text/turtle"),
    "sif-phase": _per_job("/sif/jobs/Transfers/{id}/package", None, "sif"),
    "sif-states": _per_job("/sif/jobs/Transfers/{id}/package/states", None, "sif"),
    "records-and-hops": _graphs("messages", ".ttl"),
    "records-and-hops-html": _graphs("messages", ".html"),
    "outbox-calls": _graphs("outbox"),
    "pass-balance": lambda w: [Read("pass", g, "text/turtle") for g in w.pass_graphs],
    # a record's inclusion proof in the verifiable log (issue 23): the record's readers only
    "log-inclusion-proof": lambda w: [
        Read(j.owner, f"{w.base}log/proof/inclusion?record={quote(g, safe='')}")
        for j in w.jobs
        for g in j.graphs
        if "/messages/" in g
    ],
}


@pytest.mark.parametrize("who", CALLERS)
@pytest.mark.parametrize("path", DIRECT)
def test_a_job_and_what_belongs_with_it_read_directly(world: World, path: str, who: str) -> None:
    """401 to anonymous and 403 to a known caller who may not see it, nothing of it shown;
    its owner, the curator and the admin read it (at least one read of each kind shows it)."""
    caller, reads = CALLERS[who], DIRECT[path](world)
    assert reads, f"the world holds nothing to read as {path}"
    shown = []
    for read in reads:
        r = world.get(caller, read.url, read.accept)
        if caller.may_see(read.owner):
            assert r.status_code not in (401, 403) and r.status_code < 500, (
                f"{who} may see {read.url}, but: {r.status_code} {r.text[:300]}"
            )
            seen = r.text + r.headers.get("location", "") + r.headers.get("link", "")
            shown += [read.url for t in world.tokens_of(read.owner) if t in seen][:1]
        else:
            refused = 401 if caller.name == "anonymous" else 403
            assert r.status_code == refused, f"{who} GET {read.url}: {r.status_code} {r.text[:300]}"
        world.check_hidden(caller, r, read.url)
    if any(caller.may_see(read.owner) for read in reads):
        assert shown, f"{who} sees none of {[r.url for r in reads]}"


# --- lists, feeds, traces: what the caller may not see is simply not in them --------------------


@dataclass(frozen=True)
class Listing:
    url: str
    accept: str | None
    holds: Callable[[Made], bool]  # which jobs it lists (if visible)
    paged: bool = False  # ?page=n until 404


def _all(_: Made) -> bool:
    return True


LISTS: dict[str, Listing] = {
    "jobs-atom": Listing("/jobs", "application/atom+xml", _all),
    "jobs-turtle": Listing("/jobs", "text/turtle", _all),
    "jobs-html": Listing("/jobs", "text/html", _all),
    "uws-fixity": Listing("/uws/fixity", None, lambda j: j.profile == "Fixity"),
    "uws-transfer": Listing("/uws/transfer", None, lambda j: j.profile == "Transfer"),
    "uws-fixity-html": Listing("/uws/fixity", "text/html", lambda j: j.profile == "Fixity"),
    "mcma-jobs": Listing("/mcma/jobs", None, _all),
    "ogc-jobs": Listing("/ogcapi/jobs?limit=1000", None, _all),
    "ogc-jobs-html": Listing("/ogcapi/jobs?limit=1000", "text/html", _all),
    "sif-jobs": Listing("/sif/jobs/Transfers", None, lambda j: j.profile == "Transfer"),
    "messages-atom": Listing("/messages", "application/atom+xml", _all, paged=True),
    "messages.ttl": Listing("/messages.ttl", None, _all, paged=True),
    "messages.html": Listing("/messages.html", None, _all, paged=True),
    # the browsing indexes (issue 21): a job's id is a UUID its hops carry
    "uuids": Listing("/uuids", None, _all, paged=True),
    "uuids.html": Listing("/uuids.html", None, _all, paged=True),
    "producers": Listing("/producers", None, lambda j: False, paged=True),
    "references.html": Listing("/references.html", None, lambda j: False, paged=True),
    "home": Listing("/", "text/html", lambda j: False),
    "home.json": Listing("/index.json", None, lambda j: False),
    # the recent keys on the trace landing page: checked for what shows, none required
    "trace-recent-html": Listing("/trace", "text/html", lambda _: False),
    "trace-recent-json": Listing("/trace.json", None, lambda _: False),
    # Marquez's read API over OpenLineage events (issue 25): no job's secret in it, for anyone
    "openlineage-namespaces": Listing("/api/v1/namespaces", None, lambda _: False),
}
FEEDS = {n for n, listing in LISTS.items() if listing.paged and n.startswith("messages")}


def read_all(world: World, who: Who, listing: Listing) -> str:
    """The whole list: every page of a feed (checked as it is read)."""
    texts = []
    for page in range(1, 1000):
        params = {"page": str(page), "size": "50"} if listing.paged else {}
        r = world.get(who, listing.url, listing.accept, **params)
        world.check_hidden(who, r, listing.url)
        if listing.paged and page > 1 and r.status_code == 404:
            break
        assert r.status_code == 200, f"{who.name} GET {listing.url}: {r.status_code} {r.text[:300]}"
        texts.append(r.text)
        if not listing.paged:
            break
    return "\n".join(texts)


@pytest.mark.parametrize("who", CALLERS)
@pytest.mark.parametrize("path", LISTS)
def test_lists_and_feeds_hold_only_what_the_caller_may_see(
    world: World, path: str, who: str
) -> None:
    caller, listing = CALLERS[who], LISTS[path]
    text = read_all(world, caller, listing)
    for job in world.jobs:
        if caller.may_see(job.owner) and listing.holds(job):
            # a job in its list; in the feed, its creation record (a change message)
            wanted = [g.rsplit("/", 1)[1] for g in job.graphs] if path in FEEDS else [job.id]
            found = [t for t in wanted if t in text]
            assert found, f"{who} does not find {job.binding} job {job.id} in {listing.url}"


@pytest.mark.parametrize("who", CALLERS)
def test_search_finds_only_what_the_caller_may_see(world: World, who: str) -> None:
    """/search?q= (issue 21): a job's id (a UUID its hops carry) is found by whom may see the
    job, and by nobody else, typed in part or whole (whole: 303 to its trace, or nothing)."""
    caller = CALLERS[who]
    for job in world.jobs:
        for q, accept in ((job.id[:13], "application/json"), (job.id, "text/html")):
            r = world.get(caller, "/search", accept, q=q)
            world.check_hidden(caller, r, f"/search?q={q}")
            if caller.may_see(job.owner):
                found = r.status_code == 303 or job.id in r.text
                assert found, f"{who} does not find {job.binding} job {job.id}: {r.text[:300]}"
            else:
                assert r.status_code == 200, f"{who} /search?q={q}: {r.status_code}"
                assert f"urn:uuid:{job.id}" not in r.text


def _facet_counts(html: str) -> tuple[int, dict[str, int]]:
    """The total of a /messages.html page, and its kind facet: kind name → count."""
    doc = lxml.html.fromstring(html)
    total = int(doc.xpath("string(//section[@class='results']/p)").split()[0].replace(",", ""))
    kinds = {}
    for li in doc.xpath("//aside[@class='facets']/section[h2='Kind']//li[span[@class='count']]"):
        href = parse_qs(urlsplit(li.xpath("string(./a/@href)")).query).get("kind")
        name = href[0] if href else "JobChange"  # the chosen one (kind=JobChange) is no link
        kinds[name] = int(li.xpath("string(./span[@class='count'])").replace(",", ""))
    return total, kinds


@pytest.mark.parametrize("who", CALLERS)
@pytest.mark.parametrize("query", [{}, {"kind": "JobChange"}, {"warnings": "0", "sort": "kind"}])
def test_facet_counts_count_only_what_the_caller_may_see(
    world: World, who: str, query: dict[str, str]
) -> None:
    """/messages' facet counts and totals use the list's own visibility filter: they equal
    what the caller's own feed lists, and count no change record of a job it may not see."""
    caller = CALLERS[who]
    page = world.get(caller, "/messages.html", **query, size="1000")
    assert page.status_code == 200, page.text[:300]
    world.check_hidden(caller, page, "/messages.html")
    total, kinds = _facet_counts(page.text)
    feed = world.get(caller, "/messages.atom", **query, size="1000")
    listed = feedparser.parse(feed.content).entries
    assert total == len(listed)
    changes = [e for e in listed if any(t.term == JT + "JobChange" for t in e.get("tags", []))]
    assert kinds.get("JobChange", 0) == len(changes)
    if caller.may_see("*"):  # positive control: every job's creation record at least
        assert len(changes) >= len(world.jobs)
    elif not caller.sees:
        assert not changes and "JobChange" not in kinds
    else:
        assert 0 < len(changes) < len({g for j in world.jobs for g in j.graphs})


def _traces(w: World) -> list[Read]:
    reads = [Read(j.owner, f"/trace/{j.id}") for j in w.jobs]
    reads += [Read(j.owner, f"/trace/urn:uuid:{j.id}") for j in w.jobs]
    return reads + [Read(j.owner, f"/trace/{j.id}.ttl") for j in w.jobs]


@pytest.mark.parametrize("who", CALLERS)
def test_a_trace_leaves_out_hops_the_caller_may_not_see(world: World, who: str) -> None:
    caller, hopped = CALLERS[who], []
    records = {g.rsplit("/", 1)[1] for j in world.jobs for g in j.graphs}
    for read in _traces(world) + [Read("", "/trace/TDR-2021-GW3")]:  # a loaded reference
        r = world.get(caller, read.url, "application/json")
        assert r.status_code in (200, 404), f"{who} GET {read.url}: {r.status_code} {r.text[:300]}"
        world.check_hidden(caller, r, read.url)
        if read.owner and caller.may_see(read.owner):
            hopped += [read.url for t in records if t in r.text][:1]
    if caller.sees:  # positive control: a job's records and hops show in its owner's trace
        assert hopped, f"{who} traces none of the jobs they may see"


@pytest.mark.parametrize("who", CALLERS)
def test_the_trace_search_finds_only_what_the_caller_may_see(world: World, who: str) -> None:
    """`/trace?key=` goes to a job's trace for whom may see it; to anyone else it is not
    there (404), and neither the not-found page nor the recent keys show any of it."""
    caller = CALLERS[who]
    for job in world.jobs:
        url = f"/trace?key={job.id}"
        r = world.get(caller, "/trace", "text/html", key=job.id)
        world.check_hidden(caller, r, url)
        wanted = 303 if caller.may_see(job.owner) else 404
        assert r.status_code == wanted, f"{who} GET {url}: {r.status_code} {r.text[:300]}"
        if wanted == 303:
            assert r.headers["location"] == f"/trace/{job.id}"
    recent = world.get(caller, "/trace.json")
    world.check_hidden(caller, recent, "/trace.json")
    keys = [k["key"] for k in recent.json()["recent"]]
    if "*" in caller.sees:  # positive control: the creation of some job is among the newest
        assert any(k.startswith("urn:uuid:") for k in keys), keys


def _public_pages(w: World) -> list[str]:
    """Pages of provenance (nobody's) that ann's jobs' graphs point at: their incoming links."""
    private = {g for j in w.jobs for g in j.graphs} | {j.iri for j in w.jobs}
    values = " ".join(f"<{g}>" for g in sorted(private))
    query = f"""SELECT DISTINCT ?o WHERE {{ VALUES ?g {{ {values} }} GRAPH ?g {{ ?s ?p ?o }}
      FILTER(isIRI(?o) && STRSTARTS(STR(?o), "{w.base}")) GRAPH ?o {{ ?a ?b ?c }} }}"""
    found = {r["o"] for r in w.sparql(query)} - private
    return sorted(o for o in found if "/jobs/" not in o and "/passes/" not in o)


@pytest.mark.parametrize("who", CALLERS)
def test_the_incoming_links_of_public_pages(world: World, who: str) -> None:
    caller, pages = CALLERS[who], _public_pages(world)
    assert world.public_input in pages  # the failed job's input: a loaded message
    for page in pages:
        r = world.get(caller, page + ".html")
        assert r.status_code == 200, f"{who} GET {page}.html: {r.status_code} {r.text[:300]}"
        world.check_hidden(caller, r, page)
    if caller.may_see("ann"):  # positive control: the failed job links to its input
        failed = jobs_of(world, "jobs-failed")[0]
        assert failed.id in world.get(caller, world.public_input + ".html").text


# --- queries over the whole store -------------------------------------------------------------


def _named_queries(w: World) -> list[tuple[str, dict[str, str]]]:
    r = w.client.get("/queries", headers={"Accept": "application/json"})
    assert r.status_code == 200, r.text
    out = []
    for q in r.json()["queries"]:
        example = {p["name"]: p.get("example", "x") for p in q["parameters"] if p["required"]}
        out.append((f"/queries/{q['name']}", example))
    assert len(out) >= 5
    return out


MARKER_QUERY = """SELECT ?o WHERE { GRAPH ?g { ?s ?p ?o }
  FILTER(CONTAINS(STR(?o), "vis-uws-runid")) } LIMIT 1"""


PUBLIC_QUERY = f"""SELECT ?m WHERE {{ GRAPH ?m {{ ?m a <{JT}TRE2022Message> }} }} LIMIT 1"""


def _from_the_copy(world: World, caller: Who, url: str, **params: str) -> httpx.Response:
    """A query's answer for a caller who queries the public copy, once it has caught up
    (503 until then)."""
    deadline = time.monotonic() + 30
    while True:
        r = world.get(caller, url, "application/sparql-results+json", **params)
        if r.status_code != 503:
            return r
        assert time.monotonic() < deadline, r.text
        time.sleep(0.2)


@pytest.mark.parametrize("who", CALLERS)
def test_sparql_and_named_queries_see_only_what_the_caller_may(world: World, who: str) -> None:
    """Curators and the admin query the whole store; everyone else the public copy, which
    holds provenance and nothing of ann's (or the pass's) jobs, not even for ann."""
    caller = CALLERS[who]
    urls = [("/sparql", {"query": MARKER_QUERY}), *_named_queries(world)]
    for url, params in urls:
        r = _from_the_copy(world, caller, url, **params)
        assert r.status_code == 200, f"{who} GET {url}: {r.status_code} {r.text[:300]}"
        if not caller.may_see("*"):
            world.check_hidden(CALLERS["anonymous"], r, url)  # what any reader may see
    answer = _from_the_copy(world, caller, "/sparql", query=MARKER_QUERY)
    if caller.may_see("*"):  # positive control: the whole store holds ann's marker
        assert "vis-uws-runid" in answer.text
    else:
        assert "vis-uws-runid" not in answer.text
        found = _from_the_copy(world, caller, "/sparql", query=PUBLIC_QUERY)
        assert found.json()["results"]["bindings"], "the copy holds the loaded provenance"


@pytest.mark.parametrize("who", CALLERS)
def test_the_sparql_pages_say_which_store_the_caller_queries(world: World, who: str) -> None:
    """/sparql (YASGUI) and /sparql/form hold no data; each says whether the caller's
    queries run over the whole store or the public copy, as /sparql decides it."""
    caller = CALLERS[who]
    whole = "*" in caller.sees
    for url in ("/sparql", "/sparql/form"):
        r = world.get(caller, url, "text/html")
        assert r.status_code == 200, f"{who} GET {url}: {r.status_code} {r.text[:300]}"
        assert ("public copy" in r.text) is not whole, f"{who} GET {url}"
        world.check_hidden(caller, r, url)


def test_sparql_posted_sees_the_public_copy_too(world: World) -> None:
    for who in ("anonymous", "ann", "bob", "pass", "producer"):
        caller = CALLERS[who]
        deadline = time.monotonic() + 30
        while True:
            r = world.client.post(
                "/sparql",
                content=MARKER_QUERY,
                headers={**caller.headers, "Content-Type": "application/sparql-query"},
                params=caller.params,
            )
            if r.status_code != 503 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert r.status_code == 200, f"{who}: {r.text[:300]}"
        assert "vis-uws-runid" not in r.text


@pytest.mark.parametrize("who", CALLERS)
def test_the_graph_store_reads_what_the_caller_may(world: World, who: str) -> None:
    """GET /store?graph=: curators and the admin read any graph of the whole store; everyone
    else the public copy, where ann's job's graph is not (404) and provenance is."""
    caller = CALLERS[who]
    job = next(j for j in world.jobs if j.owner == "ann")
    deadline = time.monotonic() + 30
    while True:
        r = world.get(caller, "/store", "application/n-triples", graph=job.iri)
        if r.status_code != 503 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if caller.may_see("*"):
        assert r.status_code == 200, f"{who}: {r.status_code} {r.text[:300]}"
        assert job.id in r.text
    else:
        assert r.status_code == 404, f"{who}: {r.status_code} {r.text[:300]}"
        world.check_hidden(caller, r, f"/store?graph={job.iri}")  # the IRI it gave, echoed
        public = world.get(caller, "/store", "application/n-triples", graph=world.public_input)
        assert public.status_code == 200, f"{who}: {public.text[:300]}"


@pytest.mark.parametrize("who", CALLERS)
def test_the_graph_store_is_written_by_the_admin_only(world: World, who: str) -> None:
    """PUT, POST and DELETE /store need the admin token (Bearer, or a Basic password)."""
    caller = CALLERS[who]
    graph = f"urn:x:gsp-row:{who}"
    body = {"content": b'<urn:x:s> <urn:x:p> "1" .', "params": {**caller.params, "graph": graph}}
    headers = {**caller.headers, "Content-Type": "application/n-triples"}
    put = world.client.put("/store", headers=headers, **body)  # type: ignore[arg-type]
    post = world.client.post("/store", headers=headers, **body)  # type: ignore[arg-type]
    delete = world.client.delete(
        "/store", headers=caller.headers, params={**caller.params, "graph": graph}
    )
    if who in ("admin", "admin-basic"):
        statuses = (put.status_code, post.status_code, delete.status_code)
        assert statuses == (201, 204, 204), put.text[:300]
    else:
        for r in (put, post, delete):
            assert r.status_code in (401, 403), f"{who}: {r.status_code} {r.text[:300]}"


@pytest.mark.parametrize("who", CALLERS)
def test_the_api_description_is_the_same_for_everyone(world: World, who: str) -> None:
    """/openapi.json and /openapi describe routes, never data: one answer for every caller,
    holding no job, no record and no secret."""
    caller = CALLERS[who]
    for path in ("/openapi.json", "/openapi"):
        mine = world.get(caller, path)
        anyone = world.get(CALLERS["anonymous"], path)
        assert mine.status_code == 200, f"{who} GET {path}: {mine.status_code}"
        assert mine.content == anyone.content, f"{who} GET {path} differs from anonymous"
        world.check_hidden(CALLERS["anonymous"], mine, path)


def test_no_secret_is_in_the_store(world: World) -> None:
    """Everything the store holds (the admin's CONSTRUCT over every graph): no secret used."""
    query = "CONSTRUCT { ?s ?p ?o } WHERE { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } }"
    r = world.get(ADMIN_WHO, "/sparql", "application/n-triples", query=query)
    world.leaks.clear()  # said below, with the triples that hold them
    assert r.status_code == 200, r.text
    assert "REDACTED" in r.text and "vis-jobs-done" in r.text  # the URL was there, redacted
    found = [line for line in r.text.splitlines() if any(s in line for s in SECRETS)]
    assert not found, "the store holds secrets:\n" + "\n".join(t[:400] for t in found)


# --- a curator reads, but does not change --------------------------------------------------------


def snapshot(w: World, iri: str) -> set[str]:
    """Every triple of the job's graphs ({job} and under it), as the admin reads them."""
    query = f"""SELECT ?g ?s ?p ?o WHERE {{ GRAPH ?g {{ ?s ?p ?o }}
      FILTER(?g = <{iri}> || STRSTARTS(STR(?g), "{iri}/")) }}"""
    return {json.dumps(row, sort_keys=True) for row in w.sparql(query)}


@dataclass(frozen=True)
class Change:
    """A change to a job (of the kind `made`): a method, a path ({job}, {id}), what is sent."""

    made: str  # uws (a PENDING UWS job), fims (a NEW FIMS job) or sif
    method: str
    path: str
    data: dict[str, str] | None = None
    json: dict[str, str] | None = None
    xml: bytes | None = None

    def send(self, c: httpx.Client, iri: str, who: Who) -> httpx.Response:
        values = {"job": iri, "id": iri.rsplit("/", 1)[1]}
        body = {k: v.format(**values) for k, v in self.json.items()} if self.json else None
        headers = {**who.headers, **({"Content-Type": "application/xml"} if self.xml else {})}
        return c.request(
            self.method,
            self.path.format(**values),
            params=who.params,
            headers=headers,
            data=self.data,
            json=body,
            content=self.xml,
        )


CHANGES = {
    "jobs-delete": Change("uws", "DELETE", "{job}"),
    "jobs-page-abort": Change("uws", "POST", "{job}", data={"action": "abort"}),  # its forms
    "jobs-page-delete": Change("uws", "POST", "{job}", data={"action": "delete"}),
    "uws-runid": Change("uws", "POST", "/uws/fixity/{id}", data={"RUNID": "x"}),
    "uws-parameter": Change("uws", "POST", "/uws/fixity/{id}/parameters", data={"x": "y"}),
    "uws-abort": Change("uws", "POST", "/uws/fixity/{id}/phase", data={"PHASE": "ABORT"}),
    "uws-delete": Change("uws", "DELETE", "/uws/fixity/{id}"),
    "mcma-cancel": Change("fims", "POST", "{job}/cancel"),
    "mcma-put": Change("fims", "PUT", "{job}", json={"type": "AmeJob", "jobStatus": "CANCELED"}),
    "fims-start": Change("fims", "POST", "/mcma/StartJob", json={"job": "{job}"}),
    "sif-delete": Change("sif", "DELETE", "/sif/jobs/Transfers/{id}"),
    "ogc-dismiss": Change("uws", "DELETE", "/ogcapi/jobs/{id}"),  # OGC shows every job
    "ogc-start": Change("uws", "POST", "/ogcapi/jobs/{id}/results"),  # Part 4: PENDING → run
    "sif-phase": Change("sif", "PUT", "/sif/jobs/Transfers/{id}/package", xml=b"<x/>"),
}


def made_for(world: World, kind: str, marker: str) -> str:
    """A new job of ann's that does not move by itself: UWS PENDING, FIMS NEW, or SIF."""
    c, docs = world.client, world.documents
    if kind == "uws":
        return uws_job(c, docs, marker)
    return fims_job(c, docs, marker) if kind == "fims" else sif_job(c, marker)


@pytest.mark.parametrize("change", CHANGES)
def test_a_curator_reads_but_cannot_change_anns_job(world: World, change: str) -> None:
    act = CHANGES[change]
    iri = made_for(world, act.made, f"vis-change-{change}")
    curator = CALLERS["curator"]
    assert world.get(curator, iri, "text/turtle").status_code < 300  # the curator reads it
    before = snapshot(world, iri)
    r = act.send(world.client, iri, curator)
    assert r.status_code == 403, f"the curator's {change}: {r.status_code} {r.text[:300]}"
    assert snapshot(world, iri) == before, f"the curator's {change} changed ann's job"
    r = act.send(world.client, iri, ANN)  # positive control: a change ann can make
    assert r.status_code < 400, f"ann's own {change}: {r.status_code} {r.text[:300]}"
    assert snapshot(world, iri) != before, f"ann's own {change} changed nothing"


@pytest.mark.parametrize("who", ["anonymous", "bob", "pass", "producer"])
@pytest.mark.parametrize("change", CHANGES)
def test_nobody_else_changes_anns_job_either(world: World, change: str, who: str) -> None:
    act = CHANGES[change]
    iri = made_for(world, act.made, f"vis-change-{change}-{who}")
    before = snapshot(world, iri)
    r = act.send(world.client, iri, CALLERS[who])
    assert r.status_code in (401, 403), f"{who}'s {change}: {r.status_code} {r.text[:300]}"
    assert snapshot(world, iri) == before, f"{who}'s {change} changed ann's job"


def test_a_deleted_job_stays_its_owners(world: World) -> None:
    """Its history outlives it, and so does whose it is: 410 to whom may see it, and
    401/403 (not 410: it was there, and is gone) to whom may not."""
    iri = made_for(world, "uws", "vis-deleted")
    assert world.client.delete(iri, headers=ANN.headers).status_code == 200
    status = {who: world.get(CALLERS[who], iri, "text/turtle").status_code for who in CALLERS}
    wanted = {who: 410 if c.may_see("ann") else 403 for who, c in CALLERS.items()}
    assert status == {**wanted, "anonymous": 401}
    page = {who: world.get(CALLERS[who], iri, "text/html") for who in CALLERS}
    assert {who: r.status_code for who, r in page.items()} == {**wanted, "anonymous": 401}
    for who, r in page.items():  # the job page of a deleted job: its history, to whom may see
        assert ("job-history" in r.text) == (r.status_code == 410), (who, r.text[:300])


@pytest.mark.parametrize("who", CALLERS)
def test_the_timegate_answers_whom_the_job_answers(world: World, who: str) -> None:
    """`GET {job}` with Accept-Datetime: 302 to a version for whom may see the job, 401/403
    (nothing of it shown) for the others; and the same once the job is deleted."""
    caller = CALLERS[who]
    later = "Fri, 01 Jan 2100 00:00:00 GMT"
    for job in world.jobs:
        url = job.iri
        headers = {**caller.headers, "Accept-Datetime": later}
        r = world.client.get(url, headers=headers, params=caller.params)
        if caller.may_see(job.owner):
            assert r.status_code == 302, (who, url, r.status_code, r.text[:300])
            assert r.headers["location"].split("?")[0].startswith(f"{url}/versions/")
        else:
            assert r.status_code == (401 if who == "anonymous" else 403), (who, r.text[:300])
        world.check_hidden(caller, r, url)
    gone = made_for(world, "uws", f"vis-memento-{who}")
    assert world.client.delete(gone, headers=ANN.headers).status_code == 200
    for path in ("/timemap.json", "/versions/1.ttl"):
        r = world.get(caller, gone + path)
        wanted = 200 if caller.may_see("ann") else 401 if who == "anonymous" else 403
        assert r.status_code == wanted, (who, path, r.text[:300])
    r = world.client.get(
        gone, headers={**caller.headers, "Accept-Datetime": later}, params=caller.params
    )
    wanted = 410 if caller.may_see("ann") else 401 if who == "anonymous" else 403
    assert r.status_code == wanted, (who, r.text[:300])


@pytest.mark.parametrize("who", CALLERS)
def test_a_producers_versions_are_the_messages_the_caller_may_see(world: World, who: str) -> None:
    """A producer's TimeMap (Memento) lists as versions the messages it made that the caller
    may read, as many as `/producers` counts for them, and nothing of a job they may not see."""
    caller = CALLERS[who]
    listed = world.get(ADMIN_WHO, "/producers", None, size="1000").json()["producers"]
    assert listed
    mine = world.get(caller, "/producers", None, size="1000").json()["producers"]
    counts = {p["producer"]: p["messages"] for p in mine}
    for producer in listed:
        url = f"{producer['producer']}/timemap.json"
        r = world.get(caller, url)
        world.check_hidden(caller, r, url)
        if counts.get(producer["producer"], 0) == 0:
            assert r.status_code == 404, (who, url, r.text[:300])
            continue
        assert r.status_code == 200, (who, url, r.text[:300])
        assert len(r.json()["mementos"]["list"]) == counts[producer["producer"]], (who, url)


# --- read_login: every read needs credentials -----------------------------------------------


def test_with_read_login_anonymous_reads_nothing_but_the_definitions(tmp_path: Path) -> None:
    env = {
        "JOBTRAIL_USERS": SETTINGS["users"],
        "JOBTRAIL_READ_LOGIN": "true",
        "JOBTRAIL_ADMIN_TOKEN": ADMIN,
    }
    with (
        jobtrail_server(tmp_path / "data", env=env) as base,
        httpx.Client(base_url=base, timeout=30) as c,
    ):
        feed = c.get("/messages.ttl", params={"size": "1"}, headers=ANN.headers)
        assert feed.status_code == 200, feed.text  # a user reads
        message = feed.text.split(f"<{base}messages/", 1)[1].split(">", 1)[0]
        query = {"query": "ASK { ?s ?p ?o }"}
        reads = [
            ("/messages", {}),
            ("/messages.html", {}),
            ("/trace/TDR-2021-GW3", {}),
            (f"/messages/{message}", {}),
            (f"/messages/{message}.html", {}),
            ("/sparql", query),
            ("/queries/stats", {}),
            ("/jobs", {}),
        ]
        wrong = []
        for path, params in reads:
            r = c.get(path, params=params, headers={"Accept": "text/turtle, */*;q=0.1"})
            if r.status_code != 401 or (message in r.text and message not in path):
                wrong.append(f"anonymous GET {path}: {r.status_code}")
            mine = c.get(path, params=params, headers=ANN.headers)
            if mine.status_code != 200:
                wrong.append(f"ann GET {path}: {mine.status_code} {mine.text[:200]}")
        wrong += [
            f"anonymous GET {p}"
            for p in ("/", "/health", "/vocab", "/openapi", "/openapi.json")
            if c.get(p).is_error
        ]
        home = c.get("/").text  # the way in, no count and no message (issue 21)
        if "/messages/" in home or "<dl class=counts>" in home or "needs a login" not in home:
            wrong.append(f"anonymous GET /: {home[:300]}")
        if c.get("/index.json").status_code != 401:
            wrong.append("anonymous GET /index.json: not 401")
        if "<dl class=counts>" not in c.get("/", headers=ANN.headers).text:
            wrong.append("ann GET /: no counts")
        assert not wrong, "\n".join(wrong)
