"""MemoryCounters: the Counters contract in plain dicts (tests, a single process).

Every method runs to completion without awaiting, so each one is atomic on its event loop.
Expiry is judged against the caller's `now` exactly as in SQLCounters and RedisCounters:
a window that expires at `e` is over when `now >= e`.
"""

from __future__ import annotations

from collections.abc import Sequence

from mamori.store.counters import count_then_check_lock

# Member sets carry no ttl of their own; purge drops members not seen for this long.
MEMBER_RETENTION = 7 * 86400.0


class MemoryCounters:
    def __init__(self, *, member_retention: float = MEMBER_RETENTION) -> None:
        self._member_retention = member_retention
        self._counters: dict[str, tuple[int, float]] = {}  # key -> (count, expires_at)
        self._deadlines: dict[str, float] = {}  # key -> until
        self._members: dict[str, dict[str, float]] = {}  # key -> member -> seen_at
        self._tallies: dict[str, tuple[float, dict[str, int]]] = {}  # key -> (expires_at, counts)

    async def incr(self, key: str, *, ttl: float, now: float, amount: int = 1) -> int:
        current = self._counters.get(key)
        if current is None or now >= current[1]:
            entry = (amount, now + ttl)
        else:
            entry = (current[0] + amount, current[1])
        self._counters[key] = entry
        return entry[0]

    async def incr_unless_locked(
        self, key: str, *, lock_key: str, ttl: float, now: float
    ) -> tuple[int, float]:
        return await count_then_check_lock(self, key, lock_key=lock_key, ttl=ttl, now=now)

    async def get(self, key: str, *, now: float) -> int:
        current = self._counters.get(key)
        if current is None or now >= current[1]:
            return 0
        return current[0]

    async def get_many(self, keys: Sequence[str], *, now: float) -> list[int]:
        return [await self.get(key, now=now) for key in keys]

    async def raise_until(self, key: str, *, until: float, now: float) -> float:
        current = self._deadlines.get(key)
        value = until if current is None else max(current, until)
        self._deadlines[key] = value
        return value

    async def get_until(self, key: str, *, now: float) -> float:
        until = self._deadlines.get(key)
        if until is None or now >= until:
            return 0.0
        return until

    async def touch_member(self, key: str, member: str, *, ttl: float, now: float) -> int:
        members = self._members.setdefault(key, {})
        members[member] = max(members.get(member, now), now)
        cutoff = now - ttl
        for stale in [m for m, seen_at in members.items() if seen_at <= cutoff]:
            del members[stale]
        return len(members)

    async def tally(self, key: str, member: str, *, ttl: float, now: float, amount: int = 1) -> int:
        current = self._tallies.get(key)
        if current is None or now >= current[0]:
            current = (now + ttl, {})
            self._tallies[key] = current
        counts = current[1]
        counts[member] = counts.get(member, 0) + amount
        return counts[member]

    async def top(self, key: str, *, n: int, now: float) -> list[tuple[str, int]]:
        current = self._tallies.get(key)
        if current is None or now >= current[0] or n <= 0:
            return []
        ranked = sorted(current[1].items(), key=lambda item: (-item[1], item[0]))
        return ranked[:n]

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._counters.pop(key, None)
            self._deadlines.pop(key, None)
            self._members.pop(key, None)
            self._tallies.pop(key, None)

    async def purge(self, *, now: float) -> int:
        """Drop expired entries (the memory has no other collector); returns entries removed.

        Tallies and member sets count one per member, like the rows SQLCounters deletes.
        """
        removed = 0
        for key in [k for k, (_, expires_at) in self._counters.items() if now >= expires_at]:
            del self._counters[key]
            removed += 1
        for key in [k for k, until in self._deadlines.items() if now >= until]:
            del self._deadlines[key]
            removed += 1
        cutoff = now - self._member_retention
        for key, members in list(self._members.items()):
            for stale in [m for m, seen_at in members.items() if seen_at < cutoff]:
                del members[stale]
                removed += 1
            if not members:
                del self._members[key]
        for key, (expires_at, counts) in list(self._tallies.items()):
            if now >= expires_at:
                removed += len(counts)
                del self._tallies[key]
        return removed

    async def close(self) -> None:
        return None
