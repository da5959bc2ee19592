"""The egress policy: every connection jobtrail makes to another server goes through here.

Input fetching (`fetch.py`) and outgoing calls (`outbox.py`: MCMA ProcessJob,
callbacks, notifications) connect through `Transport`, an httpx transport that
is also the network backend under it. It resolves the host once, refuses it if
any address is not public (unless private addresses are allowed for this
connection), and connects to the very address it checked, while Host and TLS
server name stay the URL's host. So DNS rebinding cannot slip a private
address in between check and connection, and every redirect hop is covered
because every connection is. It also holds one deadline for the whole exchange.

The rule: an address a client gave (an input URL, a callback or notification
endpoint) may be loopback, private, link-local … only when the
`fetch_allow_private` setting is on; a service the administrator configured
(`mcma_services`) may be anywhere. `refusal(url, allow_private)` applies the
same rule before anything is stored, where it can be known (an IP literal, or a
name that resolves to a refused address), so a request naming such an endpoint
is refused at once.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # well-known NAT64 prefix: IPv4 inside
RULE = (
    "loopback and private addresses are refused for addresses a client gives; "
    "the fetch_allow_private setting allows them"
)


class Refused(Exception):
    """Raised under httpcore, which lets it through: (host, address, kind)."""

    @property
    def reason(self) -> str:
        host, address, kind = self.args
        said = address if host == address else f"{host} resolves to {address}, which"
        return f"{said} is not a public address ({kind})"


def forbidden(address: str) -> str | None:
    """Why an address is refused (loopback, private …), None for a public one."""
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):  # ::ffff:10.0.0.1, 6to4 and NAT64 reach IPv4
        nat64 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else None
        ip = ip.ipv4_mapped or ip.sixtofour or nat64 or ip
    kinds = ("unspecified", "loopback", "link_local", "site_local", "multicast", "private")
    other = None if ip.is_global and not ip.is_reserved else "not globally routable"
    kind = next((kind for kind in kinds if getattr(ip, f"is_{kind}", False)), other)
    return kind and kind.replace("_", "-")


def checked(host: str, port: int, allow_private: bool, timeout: float) -> list[str]:
    """The addresses of `host`, resolved once; Refused if one is not allowed."""
    # Resolved here, once, so that the addresses checked are the addresses connected to;
    # in a thread, because getaddrinfo has no timeout of its own.
    try:
        ipaddress.ip_address(host)  # a literal is its own address
        addresses = [host]
    except ValueError:
        resolver = ThreadPoolExecutor(1, thread_name_prefix="resolve")
        found = resolver.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
        resolver.shutdown(wait=False)
        try:
            infos = found.result(timeout)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} took too long") from None
        except OSError as e:
            raise httpcore.ConnectError(f"cannot resolve {host}: {e.strerror}") from None
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    for address in addresses:
        kind = None if allow_private else forbidden(address)
        if kind:
            raise Refused(host, address, kind)
    return addresses


def refusal(url: str, allow_private: bool, timeout: float = 5.0) -> str | None:
    """Why a client-given http(s) URL would be refused, where that can be known now: its
    host is an IP literal, or a name resolving to a refused address. None otherwise (a name
    that does not resolve yet is checked again at each connection)."""
    if allow_private:
        return None
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return f"{url!r} is not a valid URL"
    if parsed.scheme not in ("http", "https") or not parsed.raw_host:
        return f"{url} is not an http(s) URL with a host"
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        checked(parsed.raw_host.decode("ascii"), port, allow_private, timeout)
    except Refused as e:
        return f"{url}: {e.reason}; {RULE}"
    except (httpcore.ConnectError, httpcore.ConnectTimeout):
        return None
    return None


@dataclass
class _GuardedStream(httpcore.NetworkStream):
    inner: httpcore.NetworkStream
    backend: Transport

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.inner.read(max_bytes, self.backend.left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, self.backend.left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self.inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        left = self.backend.left(timeout, httpcore.ConnectTimeout)
        tls = self.inner.start_tls(ssl_context, server_hostname, left)
        return _GuardedStream(tls, self.backend)

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)


class Transport(httpx.BaseTransport, httpcore.NetworkBackend):
    """Both the transport httpx uses and the network backend under it: httpx's own
    transport takes no backend, and the two share the policy and the exchange's deadline
    (`timeout` seconds from its creation: make one per exchange)."""

    def __init__(self, *, allow_private: bool, timeout: float) -> None:
        self._allow_private, self._tcp = allow_private, httpcore.SyncBackend()
        self._end = time.monotonic() + timeout
        context = httpx.create_ssl_context()
        self._pool = httpcore.ConnectionPool(ssl_context=context, network_backend=self)

    def left(self, timeout: float | None, error: type[Exception]) -> float:
        left = self._end - time.monotonic()
        if left <= 0:
            raise error("the time allowed ran out")
        return left if timeout is None else min(timeout, left)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        failure: httpcore.ConnectError | None = None
        left = self.left(None, httpcore.ConnectTimeout)
        for address in checked(host, port, self._allow_private, left):
            left = self.left(timeout, httpcore.ConnectTimeout)
            try:  # the address just checked, never the name resolved again
                stream = self._tcp.connect_tcp(address, port, left, local_address, socket_options)
            except httpcore.ConnectError as e:
                failure = e
                continue
            return _GuardedStream(stream, self)
        raise failure or httpcore.ConnectError(f"no address of {host} answered")

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        u = request.url
        url = httpcore.URL(scheme=u.raw_scheme, host=u.raw_host, port=u.port, target=u.raw_path)
        raw = httpcore.Request(
            request.method,
            url,
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        got = self._pool.handle_request(raw)
        return httpx.Response(
            got.status, headers=got.headers, stream=_Body(got), extensions=got.extensions
        )

    def close(self) -> None:
        self._pool.close()


@dataclass
class _Body(httpx.SyncByteStream):
    response: httpcore.Response

    def __iter__(self) -> Iterator[bytes]:
        yield from self.response.iter_stream()

    def close(self) -> None:
        self.response.close()


def client(*, allow_private: bool, timeout: float, headers: dict[str, str]) -> httpx.Client:
    """An httpx client for one exchange under the egress policy: no redirects followed,
    no proxies from the environment (a proxy would hide the addresses the policy is about)."""
    return httpx.Client(
        transport=Transport(allow_private=allow_private, timeout=timeout),
        headers=headers,
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
    )
