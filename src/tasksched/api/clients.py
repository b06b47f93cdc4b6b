"""Who is on the other end of a request: the client address that rate limits and the audit log use.

``X-Forwarded-For`` is believed only when the direct peer is one of ``TASKSCHED_TRUSTED_PROXIES``
(anyone else could write any address there). Then the client is the right-most address in the
header that is not itself a trusted proxy: each proxy appends the address it saw, so entries to the
left of the last trusted hop may be forged by the client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

from starlette.requests import HTTPConnection

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=16)
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _trusted(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_address(conn: HTTPConnection, trusted_proxies: Sequence[str] = ()) -> str:
    """The client's address as text (``"unknown"`` when the server was not told one)."""
    peer = conn.client.host if conn.client else "unknown"
    if not trusted_proxies:
        return peer
    networks = _networks(tuple(trusted_proxies))
    if not _trusted(peer, networks):
        return peer
    hops = [h.strip() for v in conn.headers.getlist("x-forwarded-for") for h in v.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            return hop
    return hops[0] if hops else peer


def is_https(conn: HTTPConnection, trusted_proxies: Sequence[str] = ()) -> bool:
    """Whether the client reached us over HTTPS: directly, or through a trusted proxy that says so
    in ``X-Forwarded-Proto`` (a proxy ending TLS)."""
    if conn.url.scheme in ("https", "wss"):
        return True
    peer = conn.client.host if conn.client else ""
    if not trusted_proxies or not _trusted(peer, _networks(tuple(trusted_proxies))):
        return False
    forwarded = conn.headers.get("x-forwarded-proto", "")
    return forwarded.split(",")[0].strip().lower() == "https"
