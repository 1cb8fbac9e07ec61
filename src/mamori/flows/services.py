"""The dependencies every flow needs, built once by the shell and passed in."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio.to_thread

from mamori.clock import Clock
from mamori.devices import parse_user_agent
from mamori.flows.defense import Defender
from mamori.flows.hashgate import HashGate
from mamori.flows.risk_store import RiskStore
from mamori.geo import GeoInfo
from mamori.models import ClientContext, Message
from mamori.notify import Notifier
from mamori.passwords import PasswordHasher, PasswordPolicy
from mamori.risk.policy import RiskPolicy
from mamori.settings import Settings
from mamori.store import Store

log = logging.getLogger("mamori.flows")


class GeoResolver(Protocol):
    def lookup(self, ip: str) -> GeoInfo: ...


class Background:
    """Work that must not hold up a response (sending a code: its time would tell an attacker
    that the password was right). Tasks are kept until done; `drain` waits for them."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, coro: Coroutine[Any, Any, None], *, what: str) -> None:
        async def run() -> None:
            try:
                await coro
            except Exception as exc:  # logged without data: the work may carry a code
                log.warning("background %s failed: %s", what, type(exc).__name__)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks))


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    store: Store
    hasher: PasswordHasher
    policy: PasswordPolicy
    geo: GeoResolver
    notifier: Notifier
    clock: Clock
    defender: Defender
    gate: HashGate
    risk: RiskStore
    risk_policy: RiskPolicy = field(default_factory=RiskPolicy)
    background: Background = field(default_factory=Background)
    code_key: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        key = hashlib.sha256(b"mamori/codes\x00" + self.settings.secret_key.encode()).digest()
        object.__setattr__(self, "code_key", key)

    def client(self, *, ip: str, user_agent: str) -> ClientContext:
        """Enrich a request's address and user agent with parsed browser/OS and geo/ASN."""
        ua = parse_user_agent(user_agent)
        geo = self.geo.lookup(ip)
        return ClientContext(
            ip=ip,
            user_agent=user_agent[:512],
            browser=ua.browser_label,
            os=ua.os_label,
            device_type=ua.device_type,
            country=geo.country,
            asn=geo.asn,
            as_name=geo.as_name,
        )

    def send_later(self, message: Message) -> None:
        """Deliver a message after the response (the notifier never raises)."""
        self.background.spawn(self.notifier.send(message), what="delivery")

    async def hash_password(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self.hasher.hash, password)

    async def verify_password(
        self, *, stored_hash: str | None, password: str, priority: bool = False
    ) -> bool:
        """Verify under the hash gate (bounded concurrency; may raise Overloaded)."""

        def work() -> bool:
            return self.hasher.verify(stored_hash=stored_hash, password=password)

        return await self.gate.run(work, priority=priority)
