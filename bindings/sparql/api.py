"""OpenAPI declarations of the SPARQL routes (web/openapi.py): the protocol endpoint, updates,
the Graph Store Protocol and named queries."""

from __future__ import annotations

from jobtrail.bindings.sparql import queries
from jobtrail.web import conneg
from jobtrail.web.openapi import (
    ADMIN,
    ANYONE,
    RDF,
    READ_ERRORS,
    RESULTS,
    Api,
    Body,
    Operation,
    Param,
    Reply,
    ok,
)

_QUERY = Param("query", "a SPARQL 1.1 query; without one, the service description")
_DATASET = (
    Param("default-graph-uri", "a graph of the default graph (repeatable)"),
    Param("named-graph-uri", "a named graph of the dataset (repeatable)"),
)
_USING = (
    Param("using-graph-uri", "a graph of the update's default graph (repeatable)"),
    Param("using-named-graph-uri", "a named graph of the update's dataset (repeatable)"),
)
_FORM = {
    "type": "object",
    "properties": {
        "query": {"type": "string"},
        "update": {"type": "string", "description": "admin only"},
        "default-graph-uri": {"type": "string"},
        "named-graph-uri": {"type": "string"},
        "using-graph-uri": {"type": "string"},
        "using-named-graph-uri": {"type": "string"},
    },
}
_FORM_TYPE = "application/x-www-form-urlencoded"
_QUERY_ERRORS = (400, 401, 403, 406, 415, 500, 503, 507)
_UPDATED = Reply(204, "the update is done")
_GRAPH = (
    Param("graph", "the graph's IRI (or `default`)"),
    Param("default", "the default graph (no value)"),
)
_WRITE = Body(
    (conneg.TURTLE, conneg.NTRIPLES, conneg.RDFXML, conneg.JSONLD, conneg.N3),
    "the triples (relative IRIs against the graph's IRI)",
)

API = Api(
    {
        ("GET", "/sparql"): Operation(
            description="SELECT and ASK answer in SPARQL JSON, XML, CSV or TSV, CONSTRUCT and "
            "DESCRIBE in every RDF syntax; without a query, the SPARQL 1.1 Service Description "
            "(a browser gets the query page). The default graph is the union of every graph "
            "the caller may see: the whole store for curators and the admin, the public copy "
            "for others on a server holding private jobs.",
            params=(_QUERY, *_DATASET),
            replies=(ok("the results, or the service description", RESULTS),),
            errors=_QUERY_ERRORS,
            security=ANYONE,
        ),
        ("POST", "/sparql"): Operation(
            "A SPARQL query (a form or application/sparql-query), or an update (admin only)",
            params=(*_DATASET, *_USING),
            body=Body(
                (
                    "application/sparql-query",
                    "application/sparql-update",
                    _FORM_TYPE,
                ),
                schema=_FORM,
            ),
            replies=(ok("the results", RESULTS), _UPDATED),
            errors=_QUERY_ERRORS,
            security=ANYONE,
        ),
        ("OPTIONS", "/sparql"): Operation(
            "CORS preflight: the endpoint may be queried from any web page",
            replies=(Reply(204, "the methods and headers allowed", headers=("Allow",)),),
        ),
        ("POST", "/update"): Operation(
            params=_USING,
            body=Body(("application/sparql-update", _FORM_TYPE), schema=_FORM),
            replies=(_UPDATED,),
            errors=(400, 401, 403, 415, 503, 507),
            security=ADMIN,
        ),
        ("GET", "/store"): Operation(
            "One graph, by the SPARQL 1.1 Graph Store HTTP Protocol",
            params=_GRAPH,
            replies=(ok("the graph", RDF),),
            errors=(*READ_ERRORS, 400, 404),
            security=ANYONE,
        ),
        ("PUT", "/store"): Operation(
            "Replace a graph (admin only)",
            params=_GRAPH,
            body=_WRITE,
            replies=(Reply(201, "a new graph"), Reply(204, "replaced")),
            errors=(400, 401, 403, 415, 507),
            security=ADMIN,
        ),
        ("POST", "/store"): Operation(
            "Add triples to a graph (admin only)",
            params=_GRAPH,
            body=_WRITE,
            replies=(Reply(201, "a new graph"), Reply(204, "added")),
            errors=(400, 401, 403, 415, 507),
            security=ADMIN,
        ),
        ("DELETE", "/store"): Operation(
            "Drop a graph (admin only)",
            params=_GRAPH,
            replies=(Reply(204, "dropped"),),
            errors=(400, 401, 403, 404),
            security=ADMIN,
        ),
        ("GET", "/sparql/form"): Operation(
            description="The query form without JavaScript: a textarea and a format, sent to "
            "/sparql by GET (POST for long queries); `query` fills it in.",
            params=(Param("query", "a query to fill the form with"),),
            replies=(ok("the form", (conneg.HTML,)),),
            errors=(400,),
            security=ANYONE,
        ),
        ("GET", "/queries"): Operation(
            replies=(ok("the named queries", queries.LIST_FORMATS),),
            errors=(*READ_ERRORS,),
            security=ANYONE,
        ),
        ("GET", "/queries/{name}"): Operation(
            description="Each parameter the query declares (`/queries` lists them) is a query "
            "parameter, bound as a typed term, never spliced into the text.",
            params=(Param("name", "the query's name", where="path"),),
            replies=(ok("the results, or the query's page and form", queries.RUN_FORMATS),),
            errors=(*_QUERY_ERRORS, 404),
            security=ANYONE,
        ),
    }
)
