"""POST /messages: store hops over HTTP, with the loader the command line uses.

The body is one message (TRE JSON, FIMS/MCMA JSON-LD, `message/http`, any RDF
syntax: its Content-Type, else its first bytes, says which) or JSON Lines
(`application/jsonl`, `application/x-ndjson`), one message a line. It is
stored in ordinary transactions, one load at a time, never through the bulk
path `jobtrail load` uses (an engine bulk load and its flush beside the job
core's transactions deadlocked every write).

It needs a producer credential (the `producers` setting) or the admin token, as
`Authorization: Bearer <token>`: 401 without one, 403 for one not known here. A
credential speaks for the producers it names: a message claiming another (a TRE
message's producer name), or naming none where the credential is not `*`, is refused
(403; in JSON Lines that line is rejected and the others go on), nothing of it stored.
Each message stored records who submitted it (`jt:submittedBy`, sealed with it): the
credential's keyed label (`producer:…`, never the token) or `admin`.

    201  stored; Location: the message's IRI; the body lists any shape warnings
    200  these bytes were stored before: nothing new, the IRI is the same
    422  the shapes reject it: the SHACL report (for JSON Lines, the lines that
         were rejected, with the IRIs of those that were stored all the same)
"""

from __future__ import annotations

import io
import json

from jobtrail.ingest.message import Incoming
from jobtrail.ingest.sources import from_stream
from jobtrail.web.requests import read_body, submitter_of
from jobtrail.web.state import AppRequest
from jobtrail.web.submit import outcome, store
from starlette.responses import JSONResponse, Response

JSON_LINES = {"application/jsonl", "application/x-ndjson", "application/x-jsonlines"}


async def post(request: AppRequest) -> Response:
    """Store one message, or JSON Lines of them: 201, 200 if stored before, 422 with the report."""
    config = request.state["engine"].config
    submitter = submitter_of(request)  # before the body is read: 401/403 cost nothing
    body = await read_body(request, config.max_body)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower() or None
    if kind in JSON_LINES:
        items = list(from_stream(io.BytesIO(body), "POST /messages"))
    else:
        items = [Incoming(body, "POST /messages", kind)]
    events = await store(request, items, submitter)
    results = [outcome(e) for e in events]
    rejected = [e for e in events if e.outcome == "rejected"]
    if kind not in JSON_LINES:
        (event,) = events
        if event.error is not None:
            raise event.error  # rendered with its status and, for shapes, the SHACL report
        assert event.iri is not None
        status = 201 if event.outcome == "stored" else 200
        if event.outcome == "duplicate":
            results[0]["note"] = "these bytes were stored before; nothing new was stored"
        return JSONResponse(results[0], status, {"Location": event.iri})
    status = 422 if rejected else 201 if any(e.outcome == "stored" for e in events) else 200
    summary = {
        "stored": sum(e.outcome == "stored" for e in events),
        "duplicates": sum(e.outcome == "duplicate" for e in events),
        "rejected": len(rejected),
        "messages": results,
    }
    return Response(json.dumps(summary, ensure_ascii=False), status, media_type="application/json")


__all__ = ["JSON_LINES", "post"]
