"""Simulated addresses of the sandbox's hosts, and hosting providers that share one.

Every request reaches the sandbox on one loopback port (`--via`), so a host's "address" exists
only here: `HostingMap` gives each provider's hosts (the first answering, listed, non-seed
instances by index, one provider after another) the provider's address and every other host an
address of its own, all public-looking and never connected to. `SandboxResolver` answers name
lookups with them; a crawl given it (`CrawlSettings.resolver`) groups hosts by address exactly
as it would group real hosts by their DNS answers.
"""

from __future__ import annotations

import socket
from itertools import islice

from aiohttp.abc import AbstractResolver, ResolveResult

from crawler.sandbox.config import Provider
from crawler.sandbox.world import World


def own_address(idx: int) -> str:
    """The address of a host that is not on a provider, in a /24 of its own below 65,536 hosts
    (45.0.0.0/8 is public unicast): hosting analyses then see providers, not index blocks."""
    return f"45.{idx & 255}.{(idx >> 8) & 255}.{1 + ((idx >> 16) & 127)}"


class HostingMap:
    """Which simulated address each host name resolves to."""

    def __init__(self, world: World, providers: list[Provider]):
        self.world = world
        self.provider_of: dict[str, Provider] = {}  # instance domain -> its provider
        eligible = (h for h in world.hosts if h.kind == "instance" and not h.seed and not h.hidden)
        for provider in providers:
            for h in islice(eligible, provider.hosts):
                self.provider_of[h.domain] = provider

    def provider(self, name: str) -> Provider | None:
        """The provider hosting `name` (a Host header value), if any."""
        if not self.provider_of:
            return None
        h = self.world.host(name)
        return None if h is None else self.provider_of.get(h.domain)

    def hosts_of(self, address: str) -> list[str]:
        """Every domain on the provider at `address`."""
        return sorted(d for d, p in self.provider_of.items() if p.address == address)

    def address(self, name: str) -> str | None:
        """The simulated address of a host name (None: no such host)."""
        h = self.world.host(name)
        if h is None:
            return None
        provider = self.provider_of.get(h.domain)
        return provider.address if provider else own_address(h.idx)


class SandboxResolver(AbstractResolver):
    """A DNS resolver for the sandbox's names (unknown names fail like NXDOMAIN)."""

    def __init__(self, hosting: HostingMap):
        self.hosting = hosting

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        address = self.hosting.address(host.lower().rstrip("."))
        if address is None:
            raise OSError(socket.EAI_NONAME, f"{host}: not a sandbox host")
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None:
        return None
