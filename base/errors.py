"""The one exception hierarchy of jobtrail.

Every error a user can meet is one of these. Each knows the HTTP status it
stands for, so the HTTP layer renders any of them the same way (problem+json,
HTML or text) and the CLI prints `error.describe()` and exits non-zero.

    JobtrailError (500)
    ├── InputError (400) ............ the input cannot be read at all
    │   ├── MalformedInput .......... bytes that do not parse: JSON, RDF, XML, HTTP
    │   ├── UnknownContext .......... JSON-LD names a remote @context we have no local copy of
    │   ├── UnsupportedFormat (415) . no reader for this media type or file
    │   └── RequestTimeout (408) .... the request body did not arrive within the time allowed
    ├── ValidationFailed (422) ...... it parses, but the shapes say it is invalid
    ├── QueryError (400) ............ a SPARQL query or update that does not parse, or is refused
    │   ├── QueryTimeout (503) ...... a query ran past the configured time limit (and was stopped)
    │   ├── QueryTooLarge (507) ..... its results or its memory went past the configured limit
    │   └── QueryEngineFailed (500) . the query engine died running it (a bug in the engine)
    ├── Unauthorized (401) .......... a credential is needed and none was given
    ├── PaymentRequired (402) ....... the pass has too little credit left for the job
    ├── Forbidden (403) ............. the credential given does not allow this
    ├── NotFound (404) .............. no resource with that IRI or name
    ├── MethodNotAllowed (405) ...... the resource does not take this method
    ├── NotAcceptable (406) ......... none of the formats the client accepts is available
    ├── Conflict (409) .............. the resource exists / the change is not allowed now
    ├── Gone (410) .................. the resource was deleted; its history is kept
    ├── JobFailed (422) ............. a job ended in ERROR: its profile could not do the work
    │   ├── InputUnavailable (424) .. the job's input could not be fetched (or was refused)
    │   └── TimeLimitExceeded ....... the job ran past its execution duration
    ├── PayloadTooLarge (413) ....... a request body over the configured limit
    └── StoreError (503) ............ the store cannot do what was asked
        ├── StoreLocked ............. another process holds the embedded store
        ├── StoreFull (507) ......... the disk holding the store has no room left
        ├── StoreNotReady ........... what is asked for is still being built (Retry-After)
        └── RemoteStoreError (502) .. the remote SPARQL endpoint failed or is unreachable

The hierarchy lives in the base layer (jobtrail.base), beneath the store: every
other package depends on it and it depends on nothing of jobtrail's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Location:
    """Where in an input something went wrong (any part may be unknown)."""

    source: str | None = None
    line: int | None = None
    column: int | None = None
    pointer: str | None = None  # JSON pointer or a path into the document

    def __str__(self) -> str:
        parts = [self.source or "<input>"]
        if self.line is not None:
            parts.append(f"line {self.line}")
            if self.column is not None:
                parts.append(f"column {self.column}")
        if self.pointer:
            parts.append(self.pointer)
        return ", ".join(parts)


class JobtrailError(Exception):
    """Base of every jobtrail error; raised directly only for internal faults."""

    status = 500
    title = "Internal error"

    def __init__(
        self,
        message: str,
        *,
        location: Location | None = None,
        hint: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint
        self.details = details or {}

    def describe(self) -> str:
        """One readable paragraph: where, what, and what to do next."""
        text = f"{self.location}: {self.message}" if self.location else self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def problem(self) -> dict[str, Any]:
        """RFC 9457 problem details."""
        body: dict[str, Any] = {
            "type": f"https://w3id.org/jobtrail/problems/{type(self).__name__}",
            "title": self.title,
            "status": self.status,
            "detail": self.message,
        }
        if self.location:
            body["location"] = str(self.location)
        if self.hint:
            body["hint"] = self.hint
        body.update(self.details)
        return body


class InputError(JobtrailError):
    """The input cannot be read at all."""

    status = 400
    title = "Unreadable input"


class MalformedInput(InputError):
    """Raised by a reader when bytes do not parse as the format they claim to be."""

    title = "Malformed input"


class UnknownContext(InputError):
    """Raised when JSON-LD names a remote @context that has no local copy.

    JSON-LD processing never reaches the network, so an unknown context is an
    error rather than a fetch.
    """

    title = "Unknown JSON-LD context"


class UnsupportedFormat(InputError):
    """Raised when no reader accepts the media type or file name given."""

    status = 415
    title = "Unsupported format"


class RequestTimeout(InputError):
    """Raised when a client sends its request body too slowly (setting body_timeout)."""

    status = 408
    title = "Request timeout"


class ValidationFailed(JobtrailError):
    """Raised when data parses but violates the SHACL shapes; carries the report."""

    status = 422
    title = "Invalid data"

    def __init__(self, message: str, *, report: Any, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.report = report

    def describe(self) -> str:
        text: str = self.report.text(indent="  ")
        return super().describe() + "\n" + text

    def problem(self) -> dict[str, Any]:
        body = super().problem()
        body["violations"] = self.report.as_json()
        return body


class QueryError(JobtrailError):
    """Raised when a SPARQL query or update does not parse or cannot be evaluated."""

    status = 400
    title = "Bad query"


class QueryTimeout(QueryError):
    """Raised when a query runs past the configured time limit."""

    status = 503
    title = "Query time limit reached"


class QueryTooLarge(QueryError):
    """A query's results, or the memory it took, went past the configured limit."""

    status = 507
    title = "Query too large"


class QueryEngineFailed(QueryError):
    """The query engine stopped while running a query (it panicked or was killed); the
    server and every other request went on."""

    status = 500
    title = "Query engine failure"


class Unauthorized(JobtrailError):
    """Raised when an operation needs a credential and the request carries none."""

    status = 401
    title = "Credentials needed"


class Forbidden(JobtrailError):
    """Raised when the credential given does not allow the operation."""

    status = 403
    title = "Forbidden"


class NotAcceptable(JobtrailError):
    """Raised by content negotiation when no available format is acceptable; lists them."""

    status = 406
    title = "Not acceptable"


class PayloadTooLarge(JobtrailError):
    """Raised when a request body is larger than the configured limit."""

    status = 413
    title = "Request body too large"


class NotFound(JobtrailError):
    """Raised when no resource, graph or named query has the name asked for."""

    status = 404
    title = "Not found"


class MethodNotAllowed(JobtrailError):
    """The resource exists but does not take this method."""

    status = 405
    title = "Method not allowed"


class Conflict(JobtrailError):
    """Raised when a change is refused because of the resource's current state."""

    status = 409
    title = "Conflict"


class PaymentRequired(JobtrailError):
    """Raised when a pass has too little credit for a job; says the cost and how to add credit."""

    status = 402
    title = "Payment required"


class Gone(JobtrailError):
    """Raised for a resource that existed and was deleted (its message history is kept)."""

    status = 410
    title = "Gone"


class JobFailed(JobtrailError):
    """Raised by a job profile (or the worker) when the work cannot be done on the input.

    The job ends in ERROR with this error as its summary; reading the job
    afterwards raises it again, so a client sees the same status and reason.
    """

    status = 422
    title = "Job failed"


class InputUnavailable(JobFailed):
    """Raised when a job's input cannot be fetched: unreachable, refused by policy, too large."""

    status = 424
    title = "Job input unavailable"


class TimeLimitExceeded(JobFailed):
    """Raised when a job runs past its execution duration."""

    title = "Execution duration exceeded"


class StoreError(JobtrailError):
    """Raised when the store cannot carry out an operation."""

    status = 503
    title = "Store unavailable"


class StoreLocked(StoreError):
    """Raised when the embedded store directory is held by another process."""

    title = "Store in use"


class StoreFull(StoreError):
    """Raised when a write fails because the disk holding the store is full (names the disk)."""

    status = 507
    title = "Insufficient storage"


class StoreNotReady(StoreError):
    """Raised when what a request needs is still being built (the public copy)."""

    title = "Not ready yet"
    retry_after = 5  # seconds: the Retry-After header sent with it


class RemoteStoreError(StoreError):
    """Raised when the remote SPARQL endpoint fails, refuses or cannot be reached."""

    status = 502
    title = "Remote store failed"
