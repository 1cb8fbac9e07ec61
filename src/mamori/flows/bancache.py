"""In-process cache of active bans, backed by the store, so a banned request is answered before
any account lookup or hashing. Reloaded every few seconds (`ban_cache_seconds`); a ban this
process adds takes effect here at once and in other processes at their next reload."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from ipaddress import ip_network

from mamori.clock import Clock
from mamori.models import Ban
from mamori.netaddr import Network, ip_in, parse_ip
from mamori.store import Store


class BanCache:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        ttl: float,
        allowlist: Sequence[Network] = (),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.clock = clock
        self.ttl = ttl
        self.allowlist = tuple(allowlist)
        self._monotonic = monotonic
        self._loaded_at = -1e18
        self._lock = asyncio.Lock()
        self._ips: dict[str, Ban] = {}
        self._cidrs: dict[int, dict[str, Ban]] = {}  # prefix length -> network address -> ban
        self._networks: dict[str, Ban] = {}

    @property
    def has_network_bans(self) -> bool:
        """Whether any network ban is cached (else the gate can skip the geo lookup)."""
        return bool(self._networks)

    def allowlisted(self, ip: str) -> bool:
        return bool(self.allowlist) and ip_in(ip, self.allowlist)

    async def refresh(self, *, force: bool = False) -> None:
        if not force and self._monotonic() - self._loaded_at < self.ttl:
            return
        async with self._lock:
            if not force and self._monotonic() - self._loaded_at < self.ttl:
                return
            async with self.store.begin() as tx:
                bans = await tx.bans.active(now=self.clock.now())
            self._ips, self._cidrs, self._networks = {}, {}, {}
            for ban in bans:
                self._index(ban)
            self._loaded_at = self._monotonic()

    def _index(self, ban: Ban) -> None:
        if ban.kind == "ip":
            self._ips[ban.value] = ban
        elif ban.kind == "cidr":
            net = ip_network(ban.value, strict=False)
            self._cidrs.setdefault(net.prefixlen + (1000 if net.version == 6 else 0), {})[
                str(net.network_address)
            ] = ban
        elif ban.kind == "network":
            self._networks[ban.value.casefold()] = ban

    def add_local(self, ban: Ban) -> None:
        self._index(ban)

    def remove_local(self, kind: str, value: str) -> None:
        if kind == "ip":
            self._ips.pop(value, None)
        elif kind == "network":
            self._networks.pop(value.casefold(), None)
        elif kind == "cidr":
            net = ip_network(value, strict=False)
            self._cidrs.get(net.prefixlen + (1000 if net.version == 6 else 0), {}).pop(
                str(net.network_address), None
            )

    async def match(self, ip: str, *, network: str = "") -> Ban | None:
        """The active ban covering this client, if any (allowlisted addresses are never matched)."""
        await self.refresh()
        now = self.clock.now()
        for ban in self._candidates(ip, network):
            if ban.active_at(now):
                return ban
        return None

    def _candidates(self, ip: str, network: str) -> list[Ban]:
        found: list[Ban] = []
        ban = self._ips.get(ip)
        if ban is not None:
            found.append(ban)
        address = parse_ip(ip)
        if address is not None and self._cidrs:
            offset = 1000 if address.version == 6 else 0
            for key, table in self._cidrs.items():
                if (key >= 1000) != (offset == 1000):
                    continue
                prefix = key - offset
                net = ip_network(f"{address}/{prefix}", strict=False)
                hit = table.get(str(net.network_address))
                if hit is not None:
                    found.append(hit)
        if network:
            hit = self._networks.get(network.casefold())
            if hit is not None:
                found.append(hit)
        return found

    def snapshot(self, *, now: datetime) -> list[Ban]:
        bans = [*self._ips.values(), *self._networks.values()]
        bans += [b for table in self._cidrs.values() for b in table.values()]
        return [b for b in bans if b.active_at(now)]
