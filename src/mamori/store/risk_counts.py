"""The risk model's frequency tables in SQL: `MemoryFrequencies`' counters, one row each.

Recording a successful login is two multi-row upserts (`... ON CONFLICT DO UPDATE ... RETURNING`):
the login counters and every (level, value) counter for the user and globally, then the
distinct-value counters of those that went 0 -> 1 (and the user count when the user's first
login was recorded). Reading what one assessment needs is one SELECT. Concurrent recordings are
exact: each upsert is atomic, so exactly one of two racing first sightings sees 1.

Forgetting logins (`forget`, `forget_many`: the history window moved past them) is the exact
inverse, `MemoryFrequencies.remove`: the same upsert with negative amounts (a batch adds up its
amounts per counter first), then the distinct counters of those that reached 0 (and "users" for
users whose last login left), then one DELETE of the rows now at 0, so the table only holds live
counters. A counter that was not there is not pushed below 0 and lowers no distinct counter
(forgetting more than was recorded cannot happen through `flows/risk_store.py`, which forgets
exactly the history rows its own DELETE ... RETURNING removed).

Lock order (PostgreSQL): every record and forget upserts the global "n" row first, so all
writers queue on that one row lock and cannot deadlock on the others.

`clear` + `load` replace every counter by a recount of the history (`tables_from_tallies`), for
repairs; on PostgreSQL `clear` locks the table against writers until the transaction ends, so
the recount is exact.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import delete, text, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from mamori.risk.features import LEVELS, Level, LoginFeatures
from mamori.risk.frequencies import FrequencySnapshot
from mamori.store import tables as t
from mamori.store.direct import Direct

GLOBAL = "g"
SEP = "\x1f"
CHUNK = 1000  # rows per statement: 3 bind parameters each, far below SQLite's/asyncpg's limits


def _scope(user: int) -> str:
    return f"u{user}"


def _count_key(level: Level, value: str) -> str:
    return f"c{SEP}{level}{SEP}{value}"[:600]


def _distinct_key(level: str) -> str:
    return f"d{SEP}{level}"


def _level_of(key: str) -> str:
    return key.split(SEP, 2)[1]


def tables_from_tallies(
    logins: Mapping[int, int], tallies: Iterable[tuple[int, Level, str, int]]
) -> dict[str, dict[str, int]]:
    """Every counter (scope -> key -> count, zeros left out) of a history given as per-user login
    counts and (user, level, value, logins showing it) tallies: what `record` would have built."""
    tables: dict[str, dict[str, int]] = {GLOBAL: {}}
    g = tables[GLOBAL]
    for user, n in logins.items():
        if n > 0:
            tables[_scope(user)] = {"n": n}
            g["n"] = g.get("n", 0) + n
            g["users"] = g.get("users", 0) + 1
    for user, level, value, n in tallies:
        if n <= 0:
            continue
        key, distinct = _count_key(level, value), _distinct_key(level)
        own = tables.setdefault(_scope(user), {})
        own[key] = own.get(key, 0) + n
        if own[key] == n:
            own[distinct] = own.get(distinct, 0) + 1
        g[key] = g.get(key, 0) + n
        if g[key] == n:
            g[distinct] = g.get(distinct, 0) + 1
    return {scope: counts for scope, counts in tables.items() if counts}


# every login runs these: sent to the driver as written (store/direct.py)
_SNAPSHOT = 'SELECT scope, "key", count FROM risk_counts WHERE scope IN ({}) AND "key" IN ({})'


@functools.lru_cache(maxsize=64)
def _upsert(rows: int) -> str:
    """The upsert of `rows` rows (parameters s0, k0, n0, s1, ...), each returned as it is now."""
    values = ", ".join(f"(:s{i}, :k{i}, :n{i})" for i in range(rows))
    return (
        f'INSERT INTO risk_counts (scope, "key", count) VALUES {values} '  # noqa: S608
        'ON CONFLICT (scope, "key") DO UPDATE SET count = risk_counts.count + excluded.count '
        'RETURNING scope, "key", count'
    )


class RiskCounts:
    def __init__(self, conn: AsyncConnection, direct: Direct) -> None:
        self.conn = conn
        self.direct = direct

    async def _bump(self, rows: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
        """One multi-row upsert: add each row's count to its counter (made at 0 if missing)."""
        params: dict[str, Any] = {}
        for i, row in enumerate(rows):
            params[f"s{i}"] = row["scope"]
            params[f"k{i}"] = row["key"]
            params[f"n{i}"] = row["count"]
        found = await self.direct.rows(_upsert(len(rows)), params)
        return [(str(r[0]), str(r[1]), int(r[2])) for r in found]

    async def _bump_all(self, rows: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
        out: list[tuple[str, str, int]] = []
        for i in range(0, len(rows), CHUNK):
            out += await self._bump(rows[i : i + CHUNK])
        return out

    async def record(self, user: int, features: LoginFeatures) -> None:
        """Record one successful login of `user` (its history grows by this login)."""
        scope = _scope(user)
        rows = [
            {"scope": GLOBAL, "key": "n", "count": 1},
            {"scope": scope, "key": "n", "count": 1},
        ]
        for level, value in FrequencySnapshot.keys_for(features):
            key = _count_key(level, value)
            rows.append({"scope": GLOBAL, "key": key, "count": 1})
            rows.append({"scope": scope, "key": key, "count": 1})
        firsts: list[dict[str, Any]] = []
        for row_scope, key, count in await self._bump(rows):
            if count != 1:
                continue
            if key == "n" and row_scope == scope:
                firsts.append({"scope": GLOBAL, "key": "users", "count": 1})
            elif key.startswith("c" + SEP):
                level_name = key.split(SEP, 2)[1]
                firsts.append({"scope": row_scope, "key": _distinct_key(level_name), "count": 1})
        if firsts:
            # several values of one level cannot be new at once for one scope (one value per
            # level per login), so these keys are distinct too
            await self._bump(firsts)

    async def snapshot(self, user: int, features: LoginFeatures) -> FrequencySnapshot:
        """What scoring `features` for `user` reads, in one query."""
        pairs = FrequencySnapshot.keys_for(features)
        keys = ["n", "users", *(_count_key(lv, v) for lv, v in pairs)]
        keys += [_distinct_key(level) for level in LEVELS]
        scope = _scope(user)
        params: dict[str, Any] = {}
        sql = _SNAPSHOT.format(
            self.direct.expand(params, "s", [GLOBAL, scope]), self.direct.expand(params, "k", keys)
        )
        rows = await self.direct.rows(sql, params)
        found = {(str(r[0]), str(r[1])): int(r[2]) for r in rows}

        def get(s: str, key: str) -> int:
            return found.get((s, key), 0)

        return FrequencySnapshot(
            user=user,
            logins=get(GLOBAL, "n"),
            users=get(GLOBAL, "users"),
            own_logins=get(scope, "n"),
            global_counts={(lv, v): get(GLOBAL, _count_key(lv, v)) for lv, v in pairs},
            global_distincts={lv: get(GLOBAL, _distinct_key(lv)) for lv in LEVELS},
            user_counts={(lv, v): get(scope, _count_key(lv, v)) for lv, v in pairs},
            user_distincts={lv: get(scope, _distinct_key(lv)) for lv in LEVELS},
        )

    async def forget(self, user: int, features: LoginFeatures) -> None:
        """Forget one login recorded by `record` (the inverse of `record`)."""
        await self.forget_many([(user, features)])

    async def forget_many(self, logins: Iterable[tuple[int, LoginFeatures]]) -> None:
        """Forget several recorded logins (of any users) at once: the counters they touch are
        each updated once, by the sum of their decrements."""
        amounts: Counter[tuple[str, str]] = Counter()
        for user, features in logins:
            scope = _scope(user)
            amounts[GLOBAL, "n"] += 1  # first: the lock every writer takes first
            amounts[scope, "n"] += 1
            for level, value in FrequencySnapshot.keys_for(features):
                key = _count_key(level, value)
                amounts[GLOBAL, key] += 1
                amounts[scope, key] += 1
        if not amounts:
            return
        rows = [{"scope": s, "key": k, "count": -n} for (s, k), n in amounts.items()]
        emptied: list[tuple[str, str]] = []
        lost: Counter[tuple[str, str]] = Counter()
        for scope, key, count in await self._bump_all(rows):
            if count > 0:
                continue
            emptied.append((scope, key))
            if count + amounts[scope, key] <= 0:
                continue  # was not counted at all: nothing reached 0 now
            if key == "n" and scope != GLOBAL:
                lost[GLOBAL, "users"] += 1
            elif key.startswith("c" + SEP):
                lost[scope, _distinct_key(_level_of(key))] += 1
        if lost:
            distinct_rows = [{"scope": s, "key": k, "count": -n} for (s, k), n in lost.items()]
            emptied += [(s, k) for s, k, count in await self._bump_all(distinct_rows) if count <= 0]
        c = t.risk_counts.c
        for i in range(0, len(emptied), CHUNK):
            await self.conn.execute(
                delete(t.risk_counts).where(
                    tuple_(c.scope, c.key).in_(emptied[i : i + CHUNK]), c.count <= 0
                )
            )

    # ---- repair: recount from the history --------------------------------------------------

    async def clear(self) -> None:
        """Delete every counter. On PostgreSQL the table stays locked against other writers
        (recording, forgetting) until this transaction ends; on SQLite this first write takes
        the database's writer lock, with the same effect."""
        if self.conn.dialect.name == "postgresql":
            await self.conn.execute(text("LOCK TABLE risk_counts IN SHARE ROW EXCLUSIVE MODE"))
        await self.conn.execute(delete(t.risk_counts))

    async def load(self, tables: Mapping[str, Mapping[str, int]]) -> None:
        """Insert counters (scope -> key -> count) into a cleared table."""
        rows = [
            {"scope": scope, "key": key, "count": n}
            for scope, counts in tables.items()
            for key, n in counts.items()
        ]
        for i in range(0, len(rows), CHUNK):
            await self.conn.execute(t.risk_counts.insert().values(rows[i : i + CHUNK]))
