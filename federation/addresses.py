"""The address guard: outbound requests reach only public addresses, after DNS resolution.

`GuardedTransport` wraps any httpx transport and refuses, for every request including each
redirect hop, a target that is not http(s) or whose host resolves to a loopback, private,
link-local, multicast, reserved or otherwise non-global address, unless ``allow_private``.

The guard resolves the host itself, then lets httpx connect, which resolves again: a
DNS-rebinding attacker with a TTL of zero could answer differently the second time. Pinning
the vetted address would need a custom network backend (httpcore, outside the allowed
imports) or rewriting the URL to the IP, which breaks connection pooling per host name and
upsets CDNs that compare SNI with Host. Re-resolution is the accepted gap.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable

import httpx

from federation.errors import BlockedAddress

__all__ = ["GuardedTransport", "IPAddress", "Resolver", "is_public_address", "resolve_host"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]
"""Resolve ``(host, port)`` to every address it may connect to; raise ``OSError`` on failure."""

# Networks refused beyond what ``ipaddress`` flags as non-global. Python 3.11's flags have
# gaps (e.g. 192.0.0.8 and fec0::/10 count as global, 100.64/10 as neither private nor
# global), so the list is explicit.
_BLOCKED_NETWORKS: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = tuple(
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",
        "100.64.0.0/10",  # CGNAT shared address space
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",
        "192.88.99.0/24",  # deprecated 6to4 relay anycast
        "192.168.0.0/16",
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, includes broadcast
        "::/96",  # unspecified, loopback, deprecated IPv4-compatible
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",  # discard-only
        "2001::/23",  # IETF protocol assignments, includes Teredo 2001::/32
        "2001:db8::/32",
        "3fff::/20",  # documentation
        "5f00::/16",  # SRv6 SIDs
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # deprecated site-local
        "ff00::/8",  # multicast
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def is_public_address(address: IPAddress) -> bool:
    """Return True if outbound requests may reach ``address``.

    IPv6 forms that embed an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``, NAT64
    ``64:ff9b::/96`` and 6to4 ``2002::/16``) are judged by the embedded IPv4 address.
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_public_address(address.ipv4_mapped)
        if address in _NAT64:
            return is_public_address(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if address.sixtofour is not None:
            return is_public_address(address.sixtofour)
    if any(address in network for network in _BLOCKED_NETWORKS):
        return False
    return (
        address.is_global
        and not address.is_multicast
        and not address.is_reserved
        and not address.is_private
        and not address.is_loopback
        and not address.is_link_local
        and not address.is_unspecified
    )


async def resolve_host(host: str, port: int) -> list[IPAddress]:
    """Resolve ``host`` with the event loop's ``getaddrinfo``.

    Returns every address (literal IPs resolve to themselves). Raises ``OSError`` (such as
    ``socket.gaierror``) when the name does not resolve.
    """
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        literal = str(sockaddr[0]).split("%", 1)[0]  # drop an IPv6 zone id
        addresses.append(ipaddress.ip_address(literal))
    return addresses


class GuardedTransport(httpx.AsyncBaseTransport):
    """Wraps a transport and refuses requests to non-http(s) URLs and non-public hosts.

    The check runs in ``handle_async_request``, so it covers every request the client
    sends, including redirect hops followed by httpx itself. Raises `BlockedAddress`; a
    name that does not resolve raises ``httpx.ConnectError`` like a failed connection.
    """

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        *,
        allow_private: bool = False,
        resolver: Resolver | None = None,
    ) -> None:
        self._inner = inner
        self._allow_private = allow_private
        self._resolver: Resolver = resolver if resolver is not None else resolve_host

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self._check(request)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def _check(self, request: httpx.Request) -> None:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise BlockedAddress(f"scheme {url.scheme!r} is not allowed")
        if not url.host:
            raise BlockedAddress("URL has no host")
        if self._allow_private:
            return
        port = url.port if url.port is not None else (443 if url.scheme == "https" else 80)
        try:
            addresses = await self._resolver(url.host, port)
        except (OSError, UnicodeError, ValueError) as exc:
            raise httpx.ConnectError(f"cannot resolve {url.host}", request=request) from exc
        if not addresses:
            raise httpx.ConnectError(f"cannot resolve {url.host}", request=request)
        for address in addresses:
            if not is_public_address(address):
                raise BlockedAddress(f"{url.host} resolves to a non-public address")
