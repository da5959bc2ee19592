"""Every route has its row: who may call it, checked against a real server.

A new route is not done until its row is here. `ROWS` names, for every path and method the
application answers, the rule that guards it and a request that exercises it; the tests

- fail when the application answers a path and method without a row (or a row names a route
  that no longer exists), listing them;
- send each row's request as an anonymous caller and as a known caller who owns nothing here
  (bob), on a job of ann's, and check the answer the rule promises: `401` then `403` where a
  login, the owner, the admin or a producer is needed; never `401`/`403` where anyone may ask;
  and never a 5xx;
- check that the test named as a row's deeper check exists (what a caller sees is tested in
  test_visibility.py, bad input in test_input_limits.py, cross-site writes in test_browser.py).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import httpx
import pytest
from jobtrail.server.app import routes
from lxml import etree
from starlette.routing import BaseRoute, Mount, Route

from tests.bindings.sif.test_consumers import environment
from tests.conftest import DocumentServer, job_server
from tests.security.test_visibility import (
    ANN,
    CALLERS,
    SETTINGS,
    created,
    secret_url,
    sif_job,
)


class Rule(Enum):
    ANYONE = "anyone may ask; a 4xx only for a bad request"
    VISIBLE = "anyone may ask; the answer holds only what the caller may see"
    CREATE = "anyone may create a job while `anonymous` is on; the body is checked"
    OWNER = "the owner, a curator or the admin: 401 anonymous, 403 anyone else"
    ADMIN = "the admin token: 401 anonymous, 403 anyone else"
    PRODUCER = "a producer credential or the admin: 401 anonymous, 403 anyone else"
    PRIVATE = "its owner or the admin; to anyone else it does not exist: 404"
    LOGIN = "any known caller: 401 anonymous"
    EACH_OWNER = "several jobs in one request (SIF): 200, each job's own answer 401 or 403"
    REFUSED = "not offered: 403, 404 or 405 to everyone"


@dataclass(frozen=True)
class Row:
    rule: Rule
    path: str  # the request's path, with {job} (ann's job), {sif} (ann's SIF job), {env}
    send: dict[str, Any] = field(default_factory=dict)  # httpx request arguments
    checked_by: str = ""  # the test that checks it in depth: "module::function"


VIS = "test_visibility.py"
LIM = "test_input_limits.py"
JOB_READ = f"{VIS}::test_a_job_and_what_belongs_with_it_read_directly"
JOB_CHANGE = f"{VIS}::test_nobody_else_changes_anns_job_either"
LISTED = f"{VIS}::test_lists_and_feeds_hold_only_what_the_caller_may_see"
SPARQL = f"{VIS}::test_sparql_and_named_queries_see_only_what_the_caller_may"
GSP_READ = f"{VIS}::test_the_graph_store_reads_what_the_caller_may"
GSP_WRITE = f"{VIS}::test_the_graph_store_is_written_by_the_admin_only"
TRACE = f"{VIS}::test_a_trace_leaves_out_hops_the_caller_may_not_see"
INCOMING = f"{VIS}::test_the_incoming_links_of_public_pages"
SEARCH = f"{VIS}::test_search_finds_only_what_the_caller_may_see"
PRODUCER_VERSIONS = f"{VIS}::test_a_producers_versions_are_the_messages_the_caller_may_see"
PRODUCERS = "test_producers.py::test_no_credential_is_401_naming_what_to_send"

TURTLE = {"content": b"<urn:a> <urn:b> <urn:c> .", "headers": {"Content-Type": "text/turtle"}}
PHASE_ABORT = {"data": {"PHASE": "ABORT"}}
SIF_PHASE = "/sif/jobs/Transfers/{sif}/package"

ROWS: dict[tuple[str, str], Row] = {
    ("GET", "/"): Row(Rule.VISIBLE, "/", {}, LISTED),
    ("GET", "/index.{ext}"): Row(Rule.VISIBLE, "/index.json", {}, LISTED),
    ("GET", "/health"): Row(Rule.ANYONE, "/health"),
    ("GET", "/openapi.json"): Row(Rule.ANYONE, "/openapi.json"),
    ("GET", "/openapi"): Row(Rule.ANYONE, "/openapi"),
    # SPARQL: anyone queries; anonymous and users query the public copy
    ("GET", "/sparql"): Row(Rule.VISIBLE, "/sparql", {"params": {"query": "ASK {}"}}, SPARQL),
    ("POST", "/sparql"): Row(
        Rule.VISIBLE,
        "/sparql",
        {"content": b"ASK {}", "headers": {"Content-Type": "application/sparql-query"}},
        f"{VIS}::test_sparql_posted_sees_the_public_copy_too",
    ),
    ("OPTIONS", "/sparql"): Row(Rule.ANYONE, "/sparql"),
    ("GET", "/sparql/form"): Row(
        Rule.VISIBLE,
        "/sparql/form",
        {"params": {"query": "ASK {}"}},
        f"{VIS}::test_the_sparql_pages_say_which_store_the_caller_queries",
    ),
    ("POST", "/update"): Row(
        Rule.ADMIN,
        "/update",
        {"content": b"INSERT DATA {}", "headers": {"Content-Type": "application/sparql-update"}},
        GSP_WRITE,
    ),
    ("GET", "/store"): Row(Rule.VISIBLE, "/store", {"params": {"default": ""}}, GSP_READ),
    ("PUT", "/store"): Row(
        Rule.ADMIN, "/store", {"params": {"graph": "urn:g"}, **TURTLE}, GSP_WRITE
    ),
    ("POST", "/store"): Row(
        Rule.ADMIN, "/store", {"params": {"graph": "urn:g"}, **TURTLE}, GSP_WRITE
    ),
    ("DELETE", "/store"): Row(Rule.ADMIN, "/store", {"params": {"graph": "urn:g"}}, GSP_WRITE),
    ("GET", "/queries"): Row(Rule.ANYONE, "/queries"),
    ("GET", "/queries/{name}"): Row(Rule.VISIBLE, "/queries/producers", {}, SPARQL),
    # the linked-data job service
    ("GET", "/jobs"): Row(Rule.VISIBLE, "/jobs", {}, LISTED),
    ("POST", "/jobs"): Row(Rule.CREATE, "/jobs", {"data": {"profile": "Fixity"}}),
    ("GET", "/jobs/{id}"): Row(Rule.OWNER, "/jobs/{job}", {}, JOB_READ),
    ("PUT", "/jobs/{id}"): Row(Rule.OWNER, "/jobs/{job}", {"json": {}}, JOB_CHANGE),
    ("DELETE", "/jobs/{id}"): Row(Rule.OWNER, "/jobs/{job}", {}, JOB_CHANGE),
    ("POST", "/jobs/{id}"): Row(  # the job page's buttons
        Rule.OWNER, "/jobs/{job}", {"data": {"action": "abort"}}, JOB_CHANGE
    ),
    ("GET", "/jobs/{id}/results"): Row(Rule.OWNER, "/jobs/{job}/results", {}, JOB_READ),
    ("GET", "/jobs/{id}/results/{name}"): Row(
        Rule.OWNER, "/jobs/{job}/results/fixity.json", {}, JOB_READ
    ),
    # Memento: a job's versions and TimeMap are the job's readers'
    ("GET", "/jobs/{id}/versions/{n}"): Row(Rule.OWNER, "/jobs/{job}/versions/1", {}, JOB_READ),
    ("GET", "/jobs/{id}/timemap"): Row(Rule.OWNER, "/jobs/{job}/timemap", {}, JOB_READ),
    ("GET", "/jobs/{id}/timemap.{ext}"): Row(Rule.OWNER, "/jobs/{job}/timemap.json", {}, JOB_READ),
    ("GET", "/profiles"): Row(Rule.ANYONE, "/profiles"),
    ("GET", "/profiles/{name}"): Row(Rule.ANYONE, "/profiles/Fixity"),
    ("POST", "/credit"): Row(Rule.ADMIN, "/credit", {"data": {"pass": "x", "amount": "1"}}),
    # UWS
    ("GET", "/uws"): Row(Rule.ANYONE, "/uws"),
    ("GET", "/uws/{list}"): Row(Rule.VISIBLE, "/uws/fixity", {}, LISTED),
    ("POST", "/uws/{list}"): Row(Rule.CREATE, "/uws/fixity", {"data": {"RUNID": "r"}}),
    ("GET", "/uws/{list}/{id}"): Row(Rule.OWNER, "/uws/fixity/{job}", {}, JOB_READ),
    ("POST", "/uws/{list}/{id}"): Row(Rule.OWNER, "/uws/fixity/{job}", PHASE_ABORT, JOB_CHANGE),
    ("DELETE", "/uws/{list}/{id}"): Row(Rule.OWNER, "/uws/fixity/{job}", {}, JOB_CHANGE),
    ("GET", "/uws/{list}/{id}/{what}"): Row(Rule.OWNER, "/uws/fixity/{job}/phase", {}, JOB_READ),
    ("POST", "/uws/{list}/{id}/{what}"): Row(
        Rule.OWNER, "/uws/fixity/{job}/phase", PHASE_ABORT, JOB_CHANGE
    ),
    ("GET", "/uws/{list}/{id}/parameters/{name}"): Row(
        Rule.OWNER, "/uws/fixity/{job}/parameters/URL", {}, JOB_READ
    ),
    ("POST", "/uws/{list}/{id}/parameters/{name}"): Row(
        Rule.OWNER, "/uws/fixity/{job}/parameters/RUNID", {"data": {"RUNID": "x"}}, JOB_CHANGE
    ),
    ("GET", "/uws/{list}/{id}/results/{name}"): Row(
        Rule.OWNER, "/uws/fixity/{job}/results/fixity.json", {}, JOB_READ
    ),
    # MCMA: the FIMS-era flow and today's
    ("POST", "/mcma/Job"): Row(Rule.CREATE, "/mcma/Job", {"json": {}}),
    ("GET", "/mcma/Job/{id}"): Row(Rule.OWNER, "/mcma/Job/{job}", {}, JOB_READ),
    ("PUT", "/mcma/Job/{id}"): Row(Rule.OWNER, "/mcma/Job/{job}", {"json": {}}, JOB_CHANGE),
    ("POST", "/mcma/StartJob"): Row(Rule.OWNER, "/mcma/StartJob", {"json": {"job": "{iri}"}}),
    ("POST", "/mcma/StopJob"): Row(
        Rule.OWNER, "/mcma/StopJob", {"json": {"job": "{iri}", "stopJobCause": "CANCELED"}}
    ),
    ("GET", "/mcma/services"): Row(Rule.ANYONE, "/mcma/services"),
    ("GET", "/mcma/job-profiles"): Row(Rule.ANYONE, "/mcma/job-profiles"),
    ("GET", "/mcma/job-profiles/{name}"): Row(Rule.ANYONE, "/mcma/job-profiles/Fixity"),
    ("GET", "/mcma/jobs"): Row(Rule.VISIBLE, "/mcma/jobs", {}, LISTED),
    ("POST", "/mcma/jobs"): Row(Rule.CREATE, "/mcma/jobs", {"json": {}}),
    ("GET", "/mcma/jobs/{id}"): Row(Rule.OWNER, "/mcma/jobs/{job}", {}, JOB_READ),
    ("PUT", "/mcma/jobs/{id}"): Row(Rule.OWNER, "/mcma/jobs/{job}", {"json": {}}, JOB_CHANGE),
    ("DELETE", "/mcma/jobs/{id}"): Row(Rule.OWNER, "/mcma/jobs/{job}", {}, JOB_CHANGE),
    ("POST", "/mcma/jobs/{id}/cancel"): Row(Rule.OWNER, "/mcma/jobs/{job}/cancel", {}, JOB_CHANGE),
    ("POST", "/mcma/jobs/{id}/restart"): Row(
        Rule.OWNER, "/mcma/jobs/{job}/restart", {}, JOB_CHANGE
    ),
    ("GET", "/mcma/jobs/{id}/executions"): Row(
        Rule.OWNER, "/mcma/jobs/{job}/executions", {}, JOB_READ
    ),
    ("GET", "/mcma/jobs/{id}/executions/{n}"): Row(
        Rule.OWNER, "/mcma/jobs/{job}/executions/1", {}, JOB_READ
    ),
    ("POST", "/mcma/jobs/{id}/executions/{n}/notifications"): Row(
        Rule.OWNER, "/mcma/jobs/{job}/executions/1/notifications", {"json": {}}, JOB_CHANGE
    ),
    ("POST", "/jobs/{id}/cancel"): Row(Rule.OWNER, "/jobs/{job}/cancel", {}, JOB_CHANGE),
    ("POST", "/jobs/{id}/restart"): Row(Rule.OWNER, "/jobs/{job}/restart", {}, JOB_CHANGE),
    ("GET", "/jobs/{id}/executions"): Row(Rule.OWNER, "/jobs/{job}/executions", {}, JOB_READ),
    ("GET", "/jobs/{id}/executions/{n}"): Row(Rule.OWNER, "/jobs/{job}/executions/1", {}, JOB_READ),
    ("POST", "/jobs/{id}/executions/{n}/notifications"): Row(
        Rule.OWNER, "/jobs/{job}/executions/1/notifications", {"json": {}}, JOB_CHANGE
    ),
    # OGC API - Processes (issue 24)
    ("GET", "/ogcapi"): Row(Rule.ANYONE, "/ogcapi"),
    ("GET", "/ogcapi/conformance"): Row(Rule.ANYONE, "/ogcapi/conformance"),
    ("GET", "/ogcapi/api"): Row(Rule.ANYONE, "/ogcapi/api"),
    ("GET", "/ogcapi/processes"): Row(Rule.ANYONE, "/ogcapi/processes"),
    ("GET", "/ogcapi/processes/{id}"): Row(Rule.ANYONE, "/ogcapi/processes/Fixity"),
    ("POST", "/ogcapi/processes/{id}/execution"): Row(
        Rule.CREATE, "/ogcapi/processes/Fixity/execution", {"json": {}}
    ),
    ("GET", "/ogcapi/jobs"): Row(Rule.VISIBLE, "/ogcapi/jobs", {}, LISTED),
    ("GET", "/ogcapi/jobs/{jobId}"): Row(Rule.OWNER, "/ogcapi/jobs/{job}", {}, JOB_READ),
    ("DELETE", "/ogcapi/jobs/{jobId}"): Row(Rule.OWNER, "/ogcapi/jobs/{job}", {}, JOB_CHANGE),
    ("GET", "/ogcapi/jobs/{jobId}/results"): Row(
        Rule.OWNER, "/ogcapi/jobs/{job}/results", {}, JOB_READ
    ),
    # … and its Part 4 (draft)
    ("POST", "/ogcapi/jobs"): Row(Rule.CREATE, "/ogcapi/jobs", {"json": {}}),
    ("POST", "/ogcapi/jobs/{jobId}/results"): Row(
        Rule.OWNER, "/ogcapi/jobs/{job}/results", {}, JOB_CHANGE
    ),
    ("GET", "/ogcapi/jobs/{jobId}/inputs"): Row(
        Rule.OWNER, "/ogcapi/jobs/{job}/inputs", {}, JOB_READ
    ),
    ("GET", "/ogcapi/jobs/{jobId}/prov"): Row(Rule.OWNER, "/ogcapi/jobs/{job}/prov", {}, JOB_READ),
    # SIF
    ("GET", "/sif/jobs"): Row(Rule.ANYONE, "/sif/jobs"),
    ("GET", "/sif/jobs/{collection}"): Row(Rule.VISIBLE, "/sif/jobs/Transfers", {}, LISTED),
    ("POST", "/sif/jobs/{collection}"): Row(Rule.CREATE, "/sif/jobs/Transfers", {"content": b"x"}),
    ("PUT", "/sif/jobs/{collection}"): Row(Rule.REFUSED, "/sif/jobs/Transfers", {"content": b"x"}),
    ("DELETE", "/sif/jobs/{collection}"): Row(
        Rule.EACH_OWNER, "/sif/jobs/Transfers", {"sif-delete": True}, JOB_CHANGE
    ),
    ("GET", "/sif/jobs/{collection}/{item}"): Row(Rule.OWNER, "/sif/jobs/Transfers/{sif}"),
    ("POST", "/sif/jobs/{collection}/{item}"): Row(
        Rule.CREATE, "/sif/jobs/Transfers/Transfer", {"content": b"x"}
    ),
    ("PUT", "/sif/jobs/{collection}/{item}"): Row(
        Rule.REFUSED, "/sif/jobs/Transfers/{sif}", {"content": b"x"}
    ),
    ("DELETE", "/sif/jobs/{collection}/{item}"): Row(
        Rule.OWNER, "/sif/jobs/Transfers/{sif}", {}, JOB_CHANGE
    ),
    ("GET", "/sif/jobs/{collection}/{id}/{phase}"): Row(Rule.OWNER, SIF_PHASE, {}, JOB_READ),
    ("POST", "/sif/jobs/{collection}/{id}/{phase}"): Row(Rule.OWNER, SIF_PHASE, {"content": b"x"}),
    ("PUT", "/sif/jobs/{collection}/{id}/{phase}"): Row(Rule.OWNER, SIF_PHASE, {"content": b"x"}),
    ("DELETE", "/sif/jobs/{collection}/{id}/{phase}"): Row(Rule.OWNER, SIF_PHASE),
    ("GET", "/sif/jobs/{collection}/{id}/{phase}/states"): Row(
        Rule.OWNER, SIF_PHASE + "/states", {}, JOB_READ
    ),
    ("POST", "/sif/jobs/{collection}/{id}/{phase}/states"): Row(
        Rule.REFUSED, SIF_PHASE + "/states", {"content": b"x"}
    ),
    ("PUT", "/sif/jobs/{collection}/{id}/{phase}/states"): Row(
        Rule.REFUSED, SIF_PHASE + "/states", {"content": b"x"}
    ),
    ("DELETE", "/sif/jobs/{collection}/{id}/{phase}/states"): Row(
        Rule.REFUSED, SIF_PHASE + "/states"
    ),
    ("GET", "/sif/jobs/{collection}/{id}/{phase}/states/{state}"): Row(
        Rule.OWNER, SIF_PHASE + "/states/x"
    ),
    ("POST", "/sif/jobs/{collection}/{id}/{phase}/states/{state}"): Row(
        Rule.OWNER, SIF_PHASE + "/states/state", {"content": b"x"}
    ),
    ("PUT", "/sif/jobs/{collection}/{id}/{phase}/states/{state}"): Row(
        Rule.REFUSED, SIF_PHASE + "/states/x", {"content": b"x"}
    ),
    ("DELETE", "/sif/jobs/{collection}/{id}/{phase}/states/{state}"): Row(
        Rule.REFUSED, SIF_PHASE + "/states/x"
    ),
    ("GET", "/sif/environments/{id}"): Row(Rule.PRIVATE, "/sif/environments/{env}"),
    ("DELETE", "/sif/environments/{id}"): Row(Rule.PRIVATE, "/sif/environments/{env}"),
    ("POST", "/sif/environments/{id}"): Row(
        Rule.LOGIN, "/sif/environments/environment", {"content": b"x"}
    ),
    ("PUT", "/sif/environments/{id}"): Row(
        Rule.REFUSED, "/sif/environments/{env}", {"content": b"x"}
    ),
    # linked data
    ("GET", "/contexts/{name}"): Row(Rule.ANYONE, "/contexts/fims"),
    ("GET", "/trace"): Row(Rule.VISIBLE, "/trace", {}, LISTED),
    ("GET", "/trace.{ext}"): Row(Rule.VISIBLE, "/trace.json", {}, LISTED),
    ("GET", "/trace/{key:path}"): Row(Rule.VISIBLE, "/trace/TDR-2021-GW3", {}, TRACE),
    ("GET", "/vocab"): Row(Rule.ANYONE, "/vocab"),
    ("GET", "/vocab.{ext}"): Row(Rule.ANYONE, "/vocab.ttl"),
    ("GET", "/vocab/{term:path}"): Row(Rule.ANYONE, "/vocab/Job"),
    ("GET", "/shapes"): Row(Rule.ANYONE, "/shapes"),
    ("GET", "/shapes.{ext}"): Row(Rule.ANYONE, "/shapes.ttl"),
    ("GET", "/messages"): Row(Rule.VISIBLE, "/messages", {}, LISTED),
    ("GET", "/messages.{ext}"): Row(Rule.VISIBLE, "/messages.ttl", {}, LISTED),
    ("POST", "/messages"): Row(Rule.PRODUCER, "/messages", TURTLE, PRODUCERS),
    # browsing (issue 21): the indexes and search hold only what the caller may see
    ("GET", "/producers"): Row(Rule.VISIBLE, "/producers", {}, LISTED),
    ("GET", "/producers.{ext}"): Row(Rule.VISIBLE, "/producers.ttl", {}, LISTED),
    # Memento: a producer's versions are the messages it made that the caller may read
    ("GET", "/producers/{rest:path}/versions/{name}"): Row(
        Rule.VISIBLE, f"/producers/TRE/-/-/versions/{'0' * 64}", {}, PRODUCER_VERSIONS
    ),
    ("GET", "/producers/{rest:path}/timemap"): Row(
        Rule.VISIBLE, "/producers/TRE/-/-/timemap", {}, PRODUCER_VERSIONS
    ),
    ("GET", "/producers/{rest:path}/timemap.{ext}"): Row(
        Rule.VISIBLE, "/producers/TRE/-/-/timemap.json", {}, PRODUCER_VERSIONS
    ),
    ("GET", "/references"): Row(Rule.VISIBLE, "/references", {}, LISTED),
    ("GET", "/references.{ext}"): Row(Rule.VISIBLE, "/references.html", {}, LISTED),
    ("GET", "/uuids"): Row(Rule.VISIBLE, "/uuids", {}, LISTED),
    ("GET", "/uuids.{ext}"): Row(Rule.VISIBLE, "/uuids.html", {}, LISTED),
    ("GET", "/search"): Row(Rule.VISIBLE, "/search", {"params": {"q": "tdr"}}, SEARCH),
    ("GET", "/search.{ext}"): Row(Rule.VISIBLE, "/search.html", {"params": {"q": "gw3"}}, SEARCH),
    ("GET", "/static"): Row(Rule.ANYONE, "/static/jobtrail.css"),
    # the verifiable log (issue 23): checkpoints, the key and consistency proofs are hashes and
    # sizes, anyone's; a record's inclusion proof is for whom may read the record
    ("GET", "/log"): Row(Rule.ANYONE, "/log"),
    ("GET", "/log/checkpoint"): Row(Rule.ANYONE, "/log/checkpoint"),
    ("POST", "/log/checkpoint"): Row(
        Rule.ADMIN,
        "/log/checkpoint",
        {},
        "../bindings/log/test_log.py::test_proofs_and_checkpoints_refuse_bad_input_naming_it",
    ),
    ("GET", "/log/checkpoints"): Row(Rule.ANYONE, "/log/checkpoints"),
    ("GET", "/log/checkpoints/{size}"): Row(Rule.ANYONE, "/log/checkpoints/1"),
    ("GET", "/log/key"): Row(Rule.ANYONE, "/log/key"),
    ("GET", "/.well-known/jobtrail-log-key"): Row(Rule.ANYONE, "/.well-known/jobtrail-log-key"),
    ("GET", "/log/proof/inclusion"): Row(
        Rule.OWNER, "/log/proof/inclusion", {"params": {"record": "{record}"}}, JOB_READ
    ),
    ("GET", "/log/proof/consistency"): Row(
        Rule.ANYONE, "/log/proof/consistency", {"params": {"from": "1"}}
    ),
    # OpenLineage in, Marquez's read API out (issue 25)
    ("POST", "/api/v1/lineage"): Row(Rule.PRODUCER, "/api/v1/lineage", {"json": {}}, PRODUCERS),
    ("GET", "/api/v1/lineage"): Row(
        Rule.VISIBLE, "/api/v1/lineage", {"params": {"nodeId": "job:a:b"}}, LISTED
    ),
    ("GET", "/api/v1/namespaces"): Row(Rule.VISIBLE, "/api/v1/namespaces", {}, LISTED),
    ("GET", "/api/v1/namespaces/{namespace:path}/jobs"): Row(
        Rule.VISIBLE, "/api/v1/namespaces/a/jobs", {}, LISTED
    ),
    ("GET", "/api/v1/namespaces/{namespace:path}/jobs/{job:path}/runs"): Row(
        Rule.VISIBLE, "/api/v1/namespaces/a/jobs/b/runs", {}, LISTED
    ),
    ("GET", "/api/v1/namespaces/{namespace:path}/datasets"): Row(
        Rule.VISIBLE, "/api/v1/namespaces/a/datasets", {}, LISTED
    ),
    ("GET", "/{path:path}"): Row(Rule.VISIBLE, "/messages/{job}", {}, INCOMING),
}
"""Every route's row. HEAD is answered wherever GET is, by the same handler."""


def answered() -> set[tuple[str, str]]:
    """Every (method, path) the application answers (HEAD folded into GET)."""

    def walk(found: list[BaseRoute], prefix: str) -> Iterator[tuple[str, str]]:
        for r in found:
            if isinstance(r, Mount):
                if r.routes:
                    yield from walk(list(r.routes), prefix + r.path)
                else:  # static files
                    yield ("GET", prefix + r.path)
            elif isinstance(r, Route):
                for method in r.methods or ():
                    if method != "HEAD":
                        yield (method, prefix + r.path)

    return set(walk(routes(), ""))


def test_every_route_has_its_row() -> None:
    routes_now = answered()
    missing = sorted(routes_now - set(ROWS))
    stale = sorted(set(ROWS) - routes_now)
    assert not missing, "routes without a row in tests/security/test_routes.py ROWS:\n" + "\n".join(
        f"  {m} {p}" for m, p in missing
    )
    assert not stale, "rows for routes the application no longer answers:\n" + "\n".join(
        f"  {m} {p}" for m, p in stale
    )


def test_every_row_names_a_test_that_exists() -> None:
    here = Path(__file__).parent
    defined: dict[str, set[str]] = {}
    for row in ROWS.values():
        if not row.checked_by:
            continue
        module, function = row.checked_by.split("::")
        if module not in defined:
            tree = ast.parse((here / module).read_text())
            defined[module] = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        assert function in defined[module], f"{row.checked_by} is named by a row but not defined"


# --- against a real server --------------------------------------------------------------------


@dataclass
class Sample:
    client: httpx.Client
    values: dict[str, str]

    def filled(self, value: str) -> str:
        """`value` with {job}, {iri}, {record}… filled in (a SPARQL `{}` stays as it is)."""
        for name, given in self.values.items():
            value = value.replace(f"{{{name}}}", given)
        return value

    def request(self, method: str, row: Row, who: str) -> httpx.Response:
        send = dict(row.send)
        if send.pop("sif-delete", False):
            body = (
                '<deleteRequest xmlns="http://www.sifassociation.org/infrastructure/3.2.1">'
                f'<deletes><delete id="{self.values["sif"]}"/></deletes></deleteRequest>'
            )
            send = {"content": body.encode(), "headers": {"Content-Type": "application/xml"}}
        for part in ("json", "params"):
            if isinstance(send.get(part), dict):
                send[part] = {k: self.filled(v) for k, v in send[part].items()}
        headers = {**CALLERS[who].headers, **send.pop("headers", {})}
        path = row.path.format(**self.values)
        return self.client.request(method, path, headers=headers, **send)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sample]:
    root = tmp_path_factory.mktemp("routes")
    docs = DocumentServer()
    with (
        job_server(root / "data", root / "files", **SETTINGS) as base,
        httpx.Client(base_url=base, timeout=30) as c,
    ):
        form = {"url": secret_url(docs, "routes"), "profile": "Fixity"}
        iri = created(c.post("/jobs", data=form, headers=ANN.headers), 201)
        sif = sif_job(c, "routes-sif").rsplit("/", 1)[1]
        env = c.post(
            "/sif/environments/environment",
            content=environment().replace(b">alice<", b">ann<"),
            headers=ANN.headers,
        )
        assert env.status_code == 201, env.text
        env_id = env.headers["location"].rstrip("/").rsplit("/", 1)[1]
        record = c.get(  # the job's first change record, sealed in the log
            "/sparql",
            params={
                "query": "SELECT ?m WHERE { GRAPH ?m { ?m <https://w3id.org/jobtrail/vocab#about> "
                f"<{iri}> ; <https://w3id.org/jobtrail/vocab#logPosition> ?n }} }} ORDER BY ?n"
            },
            headers={**CALLERS["admin"].headers, "Accept": "application/json"},
        ).json()["results"]["bindings"][0]["m"]["value"]
        values = {
            "job": iri.rsplit("/", 1)[1],
            "iri": iri,
            "sif": sif,
            "env": env_id,
            "record": record,
        }
        yield Sample(c, values)
    docs.close()


@pytest.mark.parametrize(("method", "path"), sorted(ROWS))
def test_each_caller_gets_what_the_row_promises(sample: Sample, method: str, path: str) -> None:
    row = ROWS[(method, path)]
    got = {who: sample.request(method, row, who) for who in ("anonymous", "bob")}
    for who, r in got.items():
        said = f"{who} {method} {row.path} ({row.rule.value}): {r.status_code} {r.text[:300]}"
        assert r.status_code < 500, said
        if row.rule in (Rule.ANYONE, Rule.VISIBLE, Rule.CREATE):
            assert r.status_code not in (401, 403), said
        elif row.rule is Rule.LOGIN:
            assert (
                r.status_code == 401 if who == "anonymous" else r.status_code not in (401, 403)
            ), said
        elif row.rule is Rule.EACH_OWNER:
            assert r.status_code == 200, said
            codes = etree.fromstring(r.content).xpath("//*[@statusCode]/@statusCode")
            assert codes == ["401" if who == "anonymous" else "403"], said
        elif row.rule is Rule.PRIVATE:
            assert r.status_code == 404, said
        elif row.rule is Rule.REFUSED:
            assert r.status_code in (403, 404, 405), said
        else:
            assert r.status_code == (401 if who == "anonymous" else 403), said
