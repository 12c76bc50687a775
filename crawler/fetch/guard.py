"""The private-address guard: after DNS resolution, refuse addresses that are not public.

Peer lists and redirects are attacker-controlled; without this guard one entry could point the
crawler at 169.254.169.254, localhost or an internal network. Only the `--via` address is
trusted, and it never goes through the resolver (aiohttp skips resolution for IP literals).
"""

from __future__ import annotations

import ipaddress
import socket

from aiohttp.abc import AbstractResolver, ResolveResult

from crawler.fetch.errors import UnsafeAddress

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def is_public_address(address: str) -> bool:
    """True for globally routable unicast addresses (IPv4-mapped IPv6 unwrapped first)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is None and ip in _NAT64:  # DNS64: the IPv4 host sits in the low 32 bits
            mapped = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if mapped is not None:
            return is_public_address(str(mapped))
        if ip.teredo is not None or ip.is_site_local:
            return False
    return ip.is_global and not (
        ip.is_multicast or ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved
    )


class GuardedResolver(AbstractResolver):
    """Wraps a resolver and drops every non-public address; none left means `UnsafeAddress`."""

    def __init__(self, inner: AbstractResolver):
        self._inner = inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        allowed = [r for r in results if is_public_address(r["host"])]
        if not allowed:
            shown = ", ".join(sorted({r["host"] for r in results}))[:200]
            raise UnsafeAddress(f"{host} resolves only to non-public addresses ({shown})")
        return allowed

    async def close(self) -> None:
        await self._inner.close()
