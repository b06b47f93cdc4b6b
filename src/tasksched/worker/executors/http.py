"""Runs an ``http`` action with httpx, behind a guard against server-side request forgery.

The guard lives at the lowest level that sees addresses: an httpcore network backend. For every new
TCP connection it resolves the host itself, drops the addresses the policy refuses, and connects to one
of the remaining *IP addresses* (not the name), then checks the peer of the open socket once more.
So the address checked is the address connected: a DNS answer that changes between a check and the
connect (DNS rebinding) cannot slip through, and every redirect hop to a new origin passes the same
check because it needs a new connection. Environment proxies are ignored (``trust_env=False``): a proxy
would connect on our behalf, out of the guard's sight.

httpx does not take a network backend directly, so a small transport adapts httpx requests to an
``httpcore.AsyncConnectionPool`` built with the guarded backend.

The action's own headers (which often carry credentials: the API treats their values as secrets) go
to the origin the task names and to nowhere else: a redirect to another origin drops them all, not
only ``Authorization`` as httpx does. An http → https upgrade of the same host keeps them.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import ipaddress
import socket
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from tasksched.config import HttpAllow, Settings
from tasksched.domain.actions import HttpAction
from tasksched.worker.executors.base import ExecutionContext, ExecutionResult

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AddressPolicy = Callable[[str, IPAddress, int], bool]
"""Decides whether the executor may connect to ``(ip, port)`` for the URL's ``host`` (name or literal)."""

MAX_REDIRECTS = 10
# Connecting never legitimately takes minutes; everything after it is bounded by the task's timeout.
CONNECT_TIMEOUT = 30.0
# Kept free in the output limit for the truncation note, so the note does not push out the body's head.
_NOTE_ROOM = 256
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class AddressRefused(Exception):
    """The guard refused to connect to an address."""

    def __init__(self, host: str, port: int, address: IPAddress) -> None:
        self.host, self.port, self.address = host, port, address
        kind = blocked_reason(address) or "not allowed"
        try:
            literal = ipaddress.ip_address(host) == address
        except ValueError:
            literal = False
        where = f"{address}" if literal else f"{address} (resolved from {host!r})"
        super().__init__(
            f"refused to connect to {where} port {port}: {kind} addresses are blocked for HTTP actions; "
            "add the address, its network or the host name to TASKSCHED_HTTP_ALLOW "
            "(or set TASKSCHED_HTTP_ALLOW_PRIVATE=true to allow them all)"
        )


def blocked_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public internet address, or None if it is one."""
    if isinstance(ip, ipaddress.IPv6Address):
        # IPv6 spellings of IPv4 addresses: ::ffff:127.0.0.1 connects to 127.0.0.1, and a NAT64
        # gateway turns 64:ff9b::a9fe:a9fe into 169.254.169.254.
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None and (reason := blocked_reason(embedded)):
            return reason
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local (cloud metadata)" if str(ip) == "169.254.169.254" else "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_private:
        return "private"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:
        return "non-public"  # e.g. 100.64.0.0/10 (carrier-grade NAT), documentation ranges
    return None


def public_only(host: str, ip: IPAddress, port: int) -> bool:
    """The default policy: public internet addresses only, any port."""
    return blocked_reason(ip) is None


def allow_all(host: str, ip: IPAddress, port: int) -> bool:
    """The policy with ``TASKSCHED_HTTP_ALLOW_PRIVATE=true``."""
    return True


def allow_listed(allow: HttpAllow) -> AddressPolicy:
    """The policy with ``TASKSCHED_HTTP_ALLOW``: public addresses, plus the listed networks and names.

    A listed name allows whatever address that name resolves to: it trusts the name's DNS. A listed
    network is checked on the address, so a name resolving into it is allowed without being listed.
    """

    def policy(host: str, ip: IPAddress, port: int) -> bool:
        return blocked_reason(ip) is None or allow.allows_address(ip) or allow.allows_name(host)

    return policy


def policy_for(settings: Settings) -> AddressPolicy:
    if settings.http_allow_private:
        return allow_all
    allow = settings.http_allow_list
    return allow_listed(allow) if allow.networks or allow.names or allow.suffixes else public_only


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections only to addresses the policy allows (see the module docstring)."""

    def __init__(self, policy: AddressPolicy, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._policy = policy
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await _resolve(host, port, timeout)
        allowed = [ip for ip in addresses if self._policy(host, ip, port)]
        if not allowed:
            raise AddressRefused(host, port, addresses[0])
        # Addresses are tried in the resolver's order; unlike a happy-eyeballs race this is sequential,
        # a fair price for connecting only to addresses that were checked.
        error: Exception | None = None
        for ip in allowed:
            try:
                stream = await self._inner.connect_tcp(
                    str(ip), port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
                continue
            await self._check_peer(stream, host, port)
            return stream
        assert error is not None
        raise error

    async def _check_peer(self, stream: httpcore.AsyncNetworkStream, host: str, port: int) -> None:
        # Belt and braces: the address really connected, as the socket reports it.
        peer = stream.get_extra_info("server_addr")
        if peer is None:
            return
        ip = ipaddress.ip_address(peer[0])
        if not self._policy(host, ip, port):
            await stream.aclose()
            raise AddressRefused(host, port, ip)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("HTTP actions do not connect to unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


async def _resolve(host: str, port: int, timeout: float | None) -> list[IPAddress]:
    with contextlib.suppress(ValueError):
        return [ipaddress.ip_address(host)]
    try:
        async with asyncio.timeout(timeout):
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
            )
    except TimeoutError:
        raise httpcore.ConnectTimeout(f"resolving {host!r} timed out") from None
    except OSError as exc:
        raise httpcore.ConnectError(f"cannot resolve {host!r}: {exc.strerror or exc}") from None
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        ip = ipaddress.ip_address(sockaddr[0])
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise httpcore.ConnectError(f"cannot resolve {host!r}: no addresses")
    return addresses


# httpcore's errors as httpx's, most specific first, so callers deal with one exception tree.
_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
)


@contextlib.contextmanager
def _as_httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for core_error, httpx_error in _ERRORS:
            if isinstance(exc, core_error):
                raise httpx_error(str(exc)) from exc
        raise  # AddressRefused and anything else pass through unchanged


class _ResponseBody(httpx.AsyncByteStream):
    def __init__(self, stream: AsyncIterator[bytes] | Any) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx_errors():
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        if hasattr(self._stream, "aclose"):
            with _as_httpx_errors():
                await self._stream.aclose()


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport over a connection pool whose every connection goes through ``GuardedBackend``."""

    def __init__(self, policy: AddressPolicy) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            # No cap on connections (httpcore's default is 10): the worker already bounds how many runs
            # execute at once, and a cap here would queue runs behind each other with no timeout.
            max_connections=None,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=GuardedBackend(policy),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _as_httpx_errors():
            response = await self._pool.handle_async_request(core_request)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseBody(response.stream),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


# Request extensions carried through httpx's redirect chain: where the action pointed, what it added.
_ORIGIN = "tasksched_origin"
_OWN_HEADERS = "tasksched_headers"


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port or {"http": 80, "https": 443}.get(url.scheme)


def _keeps_headers(original: tuple[str, str, int | None], url: httpx.URL) -> bool:
    here = _origin(url)
    upgrade = original[0] == "http" and original[2] == 80 and here == ("https", original[1], 443)
    return here == original or upgrade


async def _drop_own_headers_off_origin(request: httpx.Request) -> None:
    """httpx calls this before every request of a redirect chain (extensions are carried along)."""
    original = request.extensions.get(_ORIGIN)
    if original is not None and not _keeps_headers(original, request.url):
        for name in request.extensions.get(_OWN_HEADERS, ()):
            request.headers.pop(name, None)


class HttpExecutor:
    """Sends HTTP actions through one pooled client; call ``aclose()`` when done.

    ``address_allowed`` overrides the policy chosen from ``settings`` (``policy_for``).
    """

    def __init__(self, settings: Settings, *, address_allowed: AddressPolicy | None = None) -> None:
        if address_allowed is None:
            address_allowed = policy_for(settings)
        self._body_limit = max(settings.output_limit_bytes - _NOTE_ROOM, _NOTE_ROOM)
        self._client = httpx.AsyncClient(
            transport=GuardedTransport(address_allowed),
            trust_env=False,
            timeout=httpx.Timeout(None, connect=CONNECT_TIMEOUT),
            max_redirects=MAX_REDIRECTS,
            # identity: a compressed body could inflate far past the output limit in a single chunk.
            headers={"User-Agent": "tasksched", "Accept-Encoding": "identity"},
            event_hooks={"request": [_drop_own_headers_off_origin]},
        )

    async def execute(self, action: HttpAction, ctx: ExecutionContext) -> ExecutionResult:
        body = action.body
        content = body.encode() if isinstance(body, str) else None
        json_body = body if body is not None and not isinstance(body, str) else None
        # Name the host only: the URL's path or query may carry a token.
        host = urlsplit(action.url).hostname
        status: int | None = None
        try:
            async with self._client.stream(
                action.method,
                action.url,
                headers=action.headers,
                content=content,
                json=json_body,
                follow_redirects=action.follow_redirects,
                extensions={_ORIGIN: _origin(httpx.URL(action.url)), _OWN_HEADERS: tuple(action.headers)},
            ) as response:
                status = response.status_code
                await self._copy_body(response, ctx)
        except AddressRefused as exc:
            return ExecutionResult(ok=False, error=str(exc))
        except httpx.TooManyRedirects:
            return ExecutionResult(ok=False, error=f"more than {MAX_REDIRECTS} redirects from {host}")
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            doing = "request to" if status is None else "reading the response from"
            detail = str(exc) or "no detail"
            return ExecutionResult(
                ok=False,
                http_status=status,
                error=f"HTTP {doing} {host} failed: {type(exc).__name__}: {detail}",
            )
        assert status is not None  # the request completed, so a response arrived
        if action.accepts(status):
            return ExecutionResult(ok=True, http_status=status)
        accepted = action.expect_status if action.expect_status else "2xx"
        return ExecutionResult(
            ok=False, http_status=status, error=f"HTTP {status} not in accepted statuses {accepted}"
        )

    async def _copy_body(self, response: httpx.Response, ctx: ExecutionContext) -> None:
        """Stream the body into the output, stopping (not buffering) past the output limit."""
        try:
            decoder = codecs.getincrementaldecoder(response.charset_encoding or "utf-8")(errors="replace")
        except LookupError:
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        received = 0
        async for chunk in response.aiter_bytes():
            room = self._body_limit - received
            if len(chunk) > room:
                ctx.output.write(decoder.decode(chunk[:room], final=True))
                ctx.output.write(f"\n[response body truncated after {self._body_limit} bytes]\n")
                return  # leaving the stream closes the connection instead of reading the rest
            received += len(chunk)
            ctx.output.write(decoder.decode(chunk))
        ctx.output.write(decoder.decode(b"", final=True))

    async def aclose(self) -> None:
        await self._client.aclose()
