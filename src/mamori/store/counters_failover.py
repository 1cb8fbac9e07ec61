"""FailoverCounters: the primary (Redis) first; while it is unreachable, the fallback (SQL).

- A call that gets `CountersUnavailable` from the primary is answered by the fallback, and the
  outage is logged once (logger "mamori.counters", WARNING).
- During the outage calls go straight to the fallback; every `retry_after` seconds (judged by
  `clock`, a monotonic clock) one call probes the primary again. When a probe succeeds the
  recovery is logged (WARNING, so it pairs with the outage line) and the primary answers again.
- It never raises `CountersUnavailable`. Should the fallback raise it too, a RuntimeError is
  raised instead: the caller fails closed instead of treating the counters as empty.

Counts are not copied between backends: a window that started on one continues from zero on the
other. `delete` goes to both, so a cleared counter does not come back from the fallback in the
next outage; keys deleted during an outage are deleted on the primary when it is back, and
deadlines (locks) raised during an outage are raised there too, so a lock placed while Redis was
down still holds when it returns (both by this process: in-process lists). `purge` goes to both;
`close` closes both.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from mamori.store.counters import Counters, CountersUnavailable

log = logging.getLogger("mamori.counters")

T = TypeVar("T")


@dataclass
class _State:
    degraded: bool = False
    since: float = 0.0
    next_probe: float = 0.0
    pending_deletes: set[str] = field(default_factory=set)  # replayed on recovery
    # deadlines (locks) raised during an outage: replayed on recovery, so a lock placed while
    # Redis was down still holds when it is back
    pending_deadlines: dict[str, tuple[float, float]] = field(default_factory=dict)


class FailoverCounters:
    def __init__(
        self,
        primary: Counters,
        fallback: Counters,
        *,
        retry_after: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.primary = primary
        self.fallback = fallback
        self._retry_after = retry_after
        self._clock = clock
        self._s = _State()

    def with_fallback(self, fallback: Counters) -> FailoverCounters:
        """A view with another fallback (e.g. SQL counters bound to an open transaction) that
        shares this one's outage state."""
        view = copy.copy(self)
        view.fallback = fallback
        return view

    @property
    def degraded(self) -> bool:
        """True while the primary is considered unreachable and the fallback answers."""
        return self._s.degraded

    async def _call(self, op: Callable[[Counters], Awaitable[T]]) -> T:
        if self._s.degraded:
            now = self._clock()
            if now < self._s.next_probe:
                return await self._fallback(op)
            self._s.next_probe = now + self._retry_after  # this call probes; the others need not
        try:
            if self._s.degraded and self._s.pending_deletes:
                await self.primary.delete(*sorted(self._s.pending_deletes))
                self._s.pending_deletes.clear()
            if self._s.degraded and self._s.pending_deadlines:
                for key, (until, at) in sorted(self._s.pending_deadlines.items()):
                    await self.primary.raise_until(key, until=until, now=at)
                self._s.pending_deadlines.clear()
            result = await op(self.primary)
        except CountersUnavailable as exc:
            self._mark_down(exc)
            return await self._fallback(op)
        if self._s.degraded:
            self._s.degraded = False
            log.warning(
                "counters: primary %s is back after %.1f s; leaving the fallback",
                type(self.primary).__name__,
                self._clock() - self._s.since,
            )
        return result

    def _mark_down(self, exc: CountersUnavailable) -> None:
        now = self._clock()
        self._s.next_probe = now + self._retry_after
        if self._s.degraded:
            log.debug("counters: primary still unavailable: %s", exc)
            return
        self._s.degraded = True
        self._s.since = now
        log.warning(
            "counters: primary %s unavailable (%s); answering from the fallback %s, "
            "probing again every %.1f s",
            type(self.primary).__name__,
            exc,
            type(self.fallback).__name__,
            self._retry_after,
        )

    async def _fallback(self, op: Callable[[Counters], Awaitable[T]]) -> T:
        try:
            return await op(self.fallback)
        except CountersUnavailable as exc:
            raise RuntimeError("counters: the primary and the fallback are unavailable") from exc

    # ---- the contract ----

    async def incr(self, key: str, *, ttl: float, now: float, amount: int = 1) -> int:
        return await self._call(lambda c: c.incr(key, ttl=ttl, now=now, amount=amount))

    async def incr_unless_locked(
        self, key: str, *, lock_key: str, ttl: float, now: float
    ) -> tuple[int, float]:
        return await self._call(
            lambda c: c.incr_unless_locked(key, lock_key=lock_key, ttl=ttl, now=now)
        )

    async def get(self, key: str, *, now: float) -> int:
        return await self._call(lambda c: c.get(key, now=now))

    async def get_many(self, keys: Sequence[str], *, now: float) -> list[int]:
        return await self._call(lambda c: c.get_many(keys, now=now))

    async def raise_until(self, key: str, *, until: float, now: float) -> float:
        result = await self._call(lambda c: c.raise_until(key, until=until, now=now))
        if self._s.degraded:
            previous = self._s.pending_deadlines.get(key, (0.0, now))[0]
            self._s.pending_deadlines[key] = (max(previous, result), now)
        return result

    async def get_until(self, key: str, *, now: float) -> float:
        return await self._call(lambda c: c.get_until(key, now=now))

    async def touch_member(self, key: str, member: str, *, ttl: float, now: float) -> int:
        return await self._call(lambda c: c.touch_member(key, member, ttl=ttl, now=now))

    async def tally(self, key: str, member: str, *, ttl: float, now: float, amount: int = 1) -> int:
        return await self._call(lambda c: c.tally(key, member, ttl=ttl, now=now, amount=amount))

    async def top(self, key: str, *, n: int, now: float) -> list[tuple[str, int]]:
        return await self._call(lambda c: c.top(key, n=n, now=now))

    async def delete(self, *keys: str) -> None:
        if not self._s.degraded:
            try:
                await self.primary.delete(*keys)
            except CountersUnavailable as exc:
                self._mark_down(exc)
        if self._s.degraded:
            self._s.pending_deletes.update(keys)
        await self._fallback(lambda c: c.delete(*keys))

    async def purge(self, *, now: float) -> int:
        removed = 0
        if not self._s.degraded:
            try:
                removed += await self.primary.purge(now=now)
            except CountersUnavailable as exc:
                self._mark_down(exc)
        return removed + await self._fallback(lambda c: c.purge(now=now))

    async def close(self) -> None:
        try:
            await self.primary.close()
        finally:
            await self.fallback.close()
