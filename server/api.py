"""OpenAPI declarations of the server's own routes (web/openapi.py): the home page, `/health`,
this description and its reader, and the static files."""

from __future__ import annotations

from jobtrail.web import conneg
from jobtrail.web.openapi import Api, Operation, Param, Reply, ok

API = Api(
    {
        ("GET", "/"): Operation(replies=(ok("the home page", (conneg.HTML,)),)),
        ("GET", "/health"): Operation(
            description='`{"status": "ok"}`; else 503 with `status` `disk-full`, '
            "`reopening`, `writes-stuck` or `write-failed` and `Retry-After`.",
            params=(Param("deep", "`1`: make a real write first"),),
            replies=(
                ok("the server answers and its writes complete", ("application/json",)),
                Reply(
                    503,
                    "writes do not complete, and why",
                    ("application/json",),
                    {
                        "type": "object",
                        "required": ["status"],
                        "properties": {
                            "status": {
                                "enum": ["disk-full", "reopening", "writes-stuck", "write-failed"]
                            },
                            "detail": {"type": "string"},
                        },
                    },
                    ("Retry-After",),
                ),
            ),
        ),
        ("GET", "/openapi.json"): Operation(
            "This OpenAPI 3.1 description, generated from the routes",
            replies=(ok("the description", ("application/json",)),),
        ),
        ("GET", "/openapi"): Operation(
            "This description, to read and try (Swagger UI)",
            replies=(ok("the page", (conneg.HTML,)),),
        ),
        ("GET", "/static/{path:path}"): Operation(
            "Static files: style sheets and the scripts of the query page and the API page",
            params=(Param("path", "the file", where="path"),),
            replies=(
                ok("the file", ("text/css", "text/javascript")),
                Reply(304, "not modified"),
            ),
            errors=(404,),
        ),
    }
)
