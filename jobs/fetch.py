"""Fetching a job's input under limits and an address policy.

Every refusal or failure is an `InputUnavailable` (424) naming the URL and
what went wrong, with a hint saying what to do.

The address policy is the egress policy (`egress.py`), applied as each
connection is made: the host is resolved once, refused if any address is not
public (unless `allow_private`), and the very address checked is connected to.
So DNS rebinding cannot slip a private address in between check and
connection, and every redirect hop is covered because every connection is.

Known limits: proxy settings in the environment are ignored (a proxy would
hide the addresses the policy is about); inputs are asked for with
`Accept-Encoding: identity` and kept as sent, so published checksums match; a
resolver that hangs past the timeout is left to finish in the background; a
file: path is checked once resolved, then opened without following a final
symlink, so a directory swapped for a symlink in between is not caught.
"""

from __future__ import annotations

import contextlib
import mimetypes
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import httpcore
import httpx
from jobtrail.base.errors import InputUnavailable
from jobtrail.jobs.egress import Refused, Transport, checked

MAX_REDIRECTS = 5
CHUNK = 65536
PRIVATE_HINT = "loopback and private addresses are refused; set fetch_allow_private to allow them"
REACH_HINT = "check that the URL is right and that its server is up and reachable from here"
DIRECT_HINT = "give the final URL of the input directly"
AUTH_HINT = "the input must be readable without credentials (a pre-signed URL works)"
SIZE_HINT = "give a smaller input; the service's fetch_max_bytes setting sets the largest allowed"
PAID_HINT = "the input grew after its price was computed; create the job again to pay for its size"


@dataclass(frozen=True)
class FetchPolicy:
    max_bytes: int = 100_000_000  # largest input fetched
    timeout: float = 60.0  # seconds for the whole fetch (connect + all bytes)
    allow_private: bool = False  # loopback, private, link-local, multicast, reserved …
    file_roots: tuple[Path, ...] = ()  # file: URLs only under these directories
    user_agent: str = "jobtrail"


@dataclass(frozen=True)
class Fetched:
    url: str  # where the bytes came from, after any redirects
    path: Path  # where the bytes were written
    size: int
    media_type: str | None  # Content-Type without parameters, or guessed from a file name


@dataclass(frozen=True)
class Probe:
    size: int | None
    media_type: str | None


def fetch(
    url: str,
    dest: Path,
    policy: FetchPolicy,
    paid: int | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> Fetched:
    """The input at `url` into `dest`; `paid`: the size its price was computed for (a
    priced job's), past which the download stops and the fetch fails. `progress(bytes so
    far, the size the source declared or None)` after each chunk."""
    limit = policy.max_bytes if paid is None else min(paid, policy.max_bytes)
    with _open(url, policy, limit, paid=paid is not None) as (final, media_type, chunks, declared):
        try:
            with dest.open("wb") as out:
                size = 0
                for chunk in chunks:
                    size += out.write(chunk)
                    if progress is not None:
                        progress(size, declared)
        except BaseException:
            dest.unlink(missing_ok=True)
            raise
    return Fetched(final, dest, size, media_type)


def fetch_small(url: str, policy: FetchPolicy, limit: int = 65536) -> bytes:
    with _open(url, policy, min(limit, policy.max_bytes)) as (_, _, chunks, _):
        return b"".join(chunks)


def head(url: str, policy: FetchPolicy) -> Probe:
    if _scheme(url) == "file":
        path = _local_file(url, policy)
        return Probe(path.stat().st_size, mimetypes.guess_type(path.name)[0])
    with _Session(url, policy) as session, session.errors():
        response = session.open("HEAD")
        response.close()
        if response.status_code in (405, 501):
            return Probe(None, None)  # no HEAD here: the size is unknown until the fetch
        session.require_ok(response)
        return Probe(*_headers(response))


def check_address(url: str, policy: FetchPolicy) -> None:
    if _scheme(url) == "file" or policy.allow_private:
        return
    parsed = httpx.URL(url)
    with _Session(url, policy) as session, session.errors():
        session.require_host(parsed)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        checked(parsed.raw_host.decode("ascii"), port, policy.allow_private, policy.timeout)


_Source = tuple[str, str | None, Iterator[bytes], int | None]
"""The final URL, the media type, the chunks (capped) and the size the source declares."""


@contextlib.contextmanager
def _open(url: str, policy: FetchPolicy, limit: int, *, paid: bool = False) -> Iterator[_Source]:
    small = f"only {limit} bytes are read here, for a small file such as a checksum"
    hint = SIZE_HINT if limit >= policy.max_bytes else PAID_HINT if paid else small
    too = partial(_too_large, paid=paid and limit < policy.max_bytes)
    if _scheme(url) == "file":
        path = _local_file(url, policy)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError as e:
            raise InputUnavailable(f"cannot read {url}: {e.strerror}", hint="check it") from None
        with os.fdopen(fd, "rb") as f:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise InputUnavailable(f"cannot read {url}: not a regular file", hint="check it")
            if info.st_size > limit:
                raise too(url, limit, hint, info.st_size)
            reads = iter(partial(f.read, CHUNK), b"")
            chunks = _cap(reads, limit, partial(too, url, limit, hint))
            yield url, mimetypes.guess_type(path.name)[0], chunks, info.st_size
        return
    with _Session(url, policy) as session, session.errors():
        response = session.open("GET")
        try:
            session.require_ok(response)
            size, media_type = _headers(response)
            if size is not None and size > limit:
                raise too(session.where, limit, hint, size)
            too_large = partial(too, session.where, limit, hint)
            chunks = _cap(response.iter_raw(CHUNK), limit, too_large)
            yield str(response.url), media_type, chunks, size
        finally:
            response.close()


def _cap(chunks: Iterable[bytes], limit: int, fail: Callable[[], Exception]) -> Iterator[bytes]:
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > limit:
            raise fail()  # stop here: the rest is never read
        yield chunk


def _too_large(
    where: str, limit: int, hint: str, size: int | None = None, *, paid: bool = False
) -> InputUnavailable:
    what = f"is {size} bytes" if size is not None else "sent more than that"
    if paid:
        message = f"the input is larger than paid for: {where} {what}; {limit} bytes were paid for"
        return InputUnavailable(message, hint=hint)
    return InputUnavailable(f"{where} {what}; at most {limit} bytes are fetched", hint=hint)


def _headers(response: httpx.Response) -> tuple[int | None, str | None]:
    length = response.headers.get("content-length", "")
    media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    return (int(length) if length.isdigit() else None), media_type or None


def _scheme(url: str) -> str:
    try:
        scheme = httpx.URL(url).scheme
    except httpx.InvalidURL as e:
        raise InputUnavailable(f"{url!r} is not a valid URL: {e}", hint="check the URL") from None
    if scheme not in ("http", "https", "file"):
        what = f"{scheme}: URLs are" if scheme else "a URL without a scheme is"
        hint = "give an absolute http:, https: or file: URL"
        raise InputUnavailable(f"cannot fetch {url}: {what} not supported", hint=hint)
    return scheme


def _local_file(url: str, policy: FetchPolicy) -> Path:
    parsed = httpx.URL(url)
    if parsed.raw_host not in (b"", b"localhost"):
        hint = "give an http: or https: URL for a file on another machine"
        raise InputUnavailable(f"cannot fetch {url}: it names another machine", hint=hint)
    if not policy.file_roots:
        hint = "give an http(s) URL, or set file_roots to the directories jobs may read"
        raise InputUnavailable(f"cannot fetch {url}: file: URLs are not allowed here", hint=hint)
    roots = [root.resolve() for root in policy.file_roots]
    hint = "give a file under " + ", ".join(str(root) for root in roots)
    try:
        path = Path(parsed.path).resolve()  # .. and symlinks are followed before the check
    except (OSError, RuntimeError, ValueError) as e:
        raise InputUnavailable(f"cannot read {url}: {e}", hint=hint) from None
    if not any(path.is_relative_to(root) for root in roots):
        raise InputUnavailable(f"refused to read {url}: it is outside the file roots", hint=hint)
    if not path.exists():
        raise InputUnavailable(f"there is no file at {url}", hint="check the path")
    if not path.is_file():
        kind = "a directory" if path.is_dir() else "not a regular file"
        raise InputUnavailable(f"cannot read {url}: it is {kind}", hint="give the URL of a file")
    return path


# --- http(s): a client that follows redirects itself and names every failure -------------

_HTTP_ERRORS = (httpcore.NetworkError, httpcore.ProtocolError, httpx.HTTPError, httpx.InvalidURL)


class _Session(httpx.Client):
    def __init__(self, url: str, policy: FetchPolicy) -> None:
        super().__init__(
            transport=Transport(allow_private=policy.allow_private, timeout=policy.timeout),
            headers={"User-Agent": policy.user_agent, "Accept-Encoding": "identity"},
            timeout=policy.timeout,
            follow_redirects=False,
            trust_env=False,
        )
        self.start = self.url = url
        self.policy = policy

    @property
    def where(self) -> str:
        return self.url if self.url == self.start else f"{self.url} (redirected from {self.start})"

    def require_host(self, parsed: httpx.URL) -> None:
        if parsed.scheme not in ("http", "https") or not parsed.raw_host:
            first = self.url == self.start
            what = "names no host" if first else f"redirects to {self.url}"
            message = f"cannot fetch {self.start}: it {what}; only http(s) URLs are fetched"
            raise InputUnavailable(message, hint=REACH_HINT if first else DIRECT_HINT)

    def open(self, method: str) -> httpx.Response:
        for _ in range(MAX_REDIRECTS + 1):
            self.require_host(httpx.URL(self.url))
            response = self.send(self.build_request(method, self.url), stream=True)
            if not response.is_redirect:
                return response
            response.close()
            self.url = str(response.url.join(response.headers["location"]))
        message = f"{self.start} redirected more than {MAX_REDIRECTS} times (to {self.url})"
        raise InputUnavailable(message, hint=DIRECT_HINT)

    def require_ok(self, response: httpx.Response) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        hint = "the server failed; try again later" if status >= 500 else REACH_HINT
        hint = AUTH_HINT if status in (401, 403) else hint
        message = f"the server answered {status} {response.reason_phrase} for {self.where}"
        raise InputUnavailable(message, hint=hint)

    @contextlib.contextmanager
    def errors(self) -> Iterator[None]:
        try:
            yield
        except Refused as e:
            message = f"refused to fetch {self.where}: {e.reason}"
            raise InputUnavailable(message, hint=PRIVATE_HINT) from None
        except (httpcore.TimeoutException, httpx.TimeoutException):
            message = f"fetching {self.where} took more than {self.policy.timeout:g} seconds"
            hint = "the server is slow or the input too big; try later or raise fetch_timeout"
            raise InputUnavailable(message, hint=hint) from None
        except (httpcore.ConnectError, httpx.ConnectError) as e:
            message = f"could not fetch {self.where}: the connection failed ({e})"
            raise InputUnavailable(message, hint=REACH_HINT) from None
        except _HTTP_ERRORS as e:
            message = f"fetching {self.where} failed: {str(e) or type(e).__name__}"
            raise InputUnavailable(message, hint=REACH_HINT) from None
