"""The counts the risk model reads, and an in-memory implementation the store mirrors.

The model needs, for one login of user *u*, only these counters (all over successful logins in
the history window):

    key                          meaning                                     scorer symbol
    logins                       all users' logins                            T
    users                        users with at least one login               U
    global[level, value]         logins showing value at level               G
    global_distinct[level]       distinct values seen at level               V
    user_logins[u]               u's logins                                  N
    user[u, level, value]        u's logins showing value at level           c
    user_distinct[u, level]      distinct values u has shown at level        D

Recording one login (`MemoryFrequencies.add`) touches O(#levels) counters: ``logins``,
``user_logins[u]`` (and ``users`` when that went 0 -> 1), and for each of the eight levels
``user[u, level, value]`` and ``global[level, value]`` (each bumping its ``*_distinct`` when it
went 0 -> 1). `remove` is the exact inverse (a ``*_distinct`` drops when its count returns to 0),
for a history window that forgets logins older than its age limit. A login without a device
cookie (``device_id=None``) updates no ``device`` counter. In SQL each counter is one upsert
``... RETURNING count`` (the returned 1 or 0 says whether to bump the distinct counter); in Redis
one ``HINCRBY`` per counter, in one Lua script or pipeline.

The store answers through `FrequencySnapshot`: the flow fetches the handful of counters one
login needs (`FrequencySnapshot.keys_for` lists them) and hands the snapshot to the pure scorer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from mamori.risk.features import LEVELS, Level, LoginFeatures

__all__ = ["FrequencySnapshot", "FrequencyView", "MemoryFrequencies", "UserKey"]

UserKey = int | str


class FrequencyView(Protocol):
    """Read-only counts over successful logins (see the module docstring for the keys)."""

    def global_logins(self) -> int:
        """T: all users' logins."""
        ...

    def user_total(self) -> int:
        """U: users with at least one login (the store may count all active accounts)."""
        ...

    def global_count(self, level: Level, value: str) -> int:
        """G: logins that showed ``value`` at ``level``."""
        ...

    def global_distinct(self, level: Level) -> int:
        """V: distinct values seen at ``level``."""
        ...

    def user_logins(self, user: UserKey) -> int:
        """N: the user's logins."""
        ...

    def user_count(self, user: UserKey, level: Level, value: str) -> int:
        """c: the user's logins that showed ``value`` at ``level``."""
        ...

    def user_distinct(self, user: UserKey, level: Level) -> int:
        """D: distinct values the user has shown at ``level``."""
        ...


class _UserCounts:
    __slots__ = ("counts", "distinct", "logins")

    def __init__(self) -> None:
        self.logins = 0
        self.counts: dict[tuple[Level, str], int] = {}
        self.distinct: dict[Level, int] = {}


class MemoryFrequencies:
    """All counters in dicts; `add` records one successful login incrementally."""

    def __init__(self) -> None:
        self._logins = 0
        self._global: dict[tuple[Level, str], int] = {}
        self._global_distinct: dict[Level, int] = dict.fromkeys(LEVELS, 0)
        self._users: dict[UserKey, _UserCounts] = {}

    # ---- writing -------------------------------------------------------------------------

    def add(self, user: UserKey, features: LoginFeatures) -> None:
        """Record one successful login of ``user``."""
        counts = self._users.get(user)
        if counts is None:
            counts = self._users[user] = _UserCounts()
        self._logins += 1
        counts.logins += 1
        for level, value in features.values():
            if value is None:
                continue
            key = (level, value)
            seen = counts.counts.get(key, 0)
            counts.counts[key] = seen + 1
            if seen == 0:
                counts.distinct[level] = counts.distinct.get(level, 0) + 1
            seen = self._global.get(key, 0)
            self._global[key] = seen + 1
            if seen == 0:
                self._global_distinct[level] += 1

    def remove(self, user: UserKey, features: LoginFeatures) -> None:
        """Forget one login recorded by `add` (it left the history window).

        Raises KeyError, changing nothing, if that login was never recorded for ``user``.
        """
        counts = self._users[user]
        keys = [(level, value) for level, value in features.values() if value is not None]
        if counts.logins < 1 or any(counts.counts.get(key, 0) < 1 for key in keys):
            raise KeyError((user, features))
        self._logins -= 1
        counts.logins -= 1
        for key in keys:
            level = key[0]
            left = counts.counts[key] - 1
            if left:
                counts.counts[key] = left
            else:
                del counts.counts[key]
                counts.distinct[level] -= 1
            left = self._global[key] - 1
            if left:
                self._global[key] = left
            else:
                del self._global[key]
                self._global_distinct[level] -= 1
        if counts.logins == 0:
            del self._users[user]

    # ---- FrequencyView -------------------------------------------------------------------

    def global_logins(self) -> int:
        return self._logins

    def user_total(self) -> int:
        return len(self._users)

    def global_count(self, level: Level, value: str) -> int:
        return self._global.get((level, value), 0)

    def global_distinct(self, level: Level) -> int:
        return self._global_distinct[level]

    def user_logins(self, user: UserKey) -> int:
        counts = self._users.get(user)
        return counts.logins if counts else 0

    def user_count(self, user: UserKey, level: Level, value: str) -> int:
        counts = self._users.get(user)
        return counts.counts.get((level, value), 0) if counts else 0

    def user_distinct(self, user: UserKey, level: Level) -> int:
        counts = self._users.get(user)
        return counts.distinct.get(level, 0) if counts else 0

    # ---- comparison (tests) ----------------------------------------------------------------

    def state(self) -> tuple[object, ...]:
        """Every counter, as plain comparable data (for tests: incremental == from scratch)."""
        users = {
            user: (c.logins, dict(c.counts), {k: v for k, v in c.distinct.items() if v})
            for user, c in self._users.items()
        }
        return (self._logins, dict(self._global), dict(self._global_distinct), users)

    @classmethod
    def from_logins(cls, logins: Iterable[tuple[UserKey, LoginFeatures]]) -> MemoryFrequencies:
        """Counters rebuilt from a whole history."""
        frequencies = cls()
        for user, features in logins:
            frequencies.add(user, features)
        return frequencies


@dataclass(frozen=True, slots=True)
class FrequencySnapshot:
    """The counters one assessment reads, fetched by the shell (and a FrequencyView itself).

    Keys absent from the maps read as 0, as in the store.
    """

    user: UserKey
    logins: int
    users: int
    own_logins: int
    global_counts: Mapping[tuple[Level, str], int] = field(default_factory=dict)
    global_distincts: Mapping[Level, int] = field(default_factory=dict)
    user_counts: Mapping[tuple[Level, str], int] = field(default_factory=dict)
    user_distincts: Mapping[Level, int] = field(default_factory=dict)

    @staticmethod
    def keys_for(features: LoginFeatures) -> tuple[tuple[Level, str], ...]:
        """The (level, value) keys to fetch, globally and for the user (no device if None)."""
        return tuple((lv, v) for lv, v in features.values() if v is not None)

    @classmethod
    def capture(
        cls, view: FrequencyView, *, user: UserKey, features: LoginFeatures
    ) -> FrequencySnapshot:
        """Copy what scoring ``features`` for ``user`` needs out of ``view``."""
        keys = cls.keys_for(features)
        return cls(
            user=user,
            logins=view.global_logins(),
            users=view.user_total(),
            own_logins=view.user_logins(user),
            global_counts={key: view.global_count(*key) for key in keys},
            global_distincts={level: view.global_distinct(level) for level in LEVELS},
            user_counts={key: view.user_count(user, *key) for key in keys},
            user_distincts={level: view.user_distinct(user, level) for level in LEVELS},
        )

    def _check(self, user: UserKey) -> None:
        if user != self.user:
            raise KeyError(user)

    def global_logins(self) -> int:
        return self.logins

    def user_total(self) -> int:
        return self.users

    def global_count(self, level: Level, value: str) -> int:
        return self.global_counts.get((level, value), 0)

    def global_distinct(self, level: Level) -> int:
        return self.global_distincts.get(level, 0)

    def user_logins(self, user: UserKey) -> int:
        self._check(user)
        return self.own_logins

    def user_count(self, user: UserKey, level: Level, value: str) -> int:
        self._check(user)
        return self.user_counts.get((level, value), 0)

    def user_distinct(self, user: UserKey, level: Level) -> int:
        self._check(user)
        return self.user_distincts.get(level, 0)
