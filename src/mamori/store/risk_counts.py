"""The risk model's frequency tables in SQL: `MemoryFrequencies`' counters, one row each.

Recording a successful login is two multi-row upserts (`... ON CONFLICT DO UPDATE ... RETURNING`):
the login counters and every (level, value) counter for the user and globally, then the
distinct-value counters of those that went 0 -> 1 (and the user count when the user's first
login was recorded). Reading what one assessment needs is one SELECT. Concurrent recordings are
exact: each upsert is atomic, so exactly one of two racing first sightings sees 1.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from mamori.risk.features import LEVELS, Level, LoginFeatures
from mamori.risk.frequencies import FrequencySnapshot
from mamori.store import tables as t

GLOBAL = "g"
SEP = "\x1f"


def _scope(user: int) -> str:
    return f"u{user}"


def _count_key(level: Level, value: str) -> str:
    return f"c{SEP}{level}{SEP}{value}"[:600]


def _distinct_key(level: str) -> str:
    return f"d{SEP}{level}"


class RiskCounts:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def _bump(self, rows: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
        insert = pg_insert if self.conn.dialect.name == "postgresql" else sqlite_insert
        stmt = insert(t.risk_counts).values(rows)
        c = t.risk_counts.c
        upsert = stmt.on_conflict_do_update(
            index_elements=[c.scope, c.key], set_={"count": c.count + stmt.excluded.count}
        ).returning(c.scope, c.key, c.count)
        return [(str(r[0]), str(r[1]), int(r[2])) for r in await self.conn.execute(upsert)]

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
        c = t.risk_counts.c
        rows = await self.conn.execute(
            select(c.scope, c.key, c.count).where(c.scope.in_([GLOBAL, scope]), c.key.in_(keys))
        )
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
