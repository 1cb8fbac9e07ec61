"""The risk model's login history: one `risk_history` row per successful login it counts.

The frequency tables (store/risk_counts.py, store/risk_counts_redis.py) are maintained
incrementally; this table says *which* logins they count, so the ones that leave the window
(older than the age limit, or beyond an account's cap) can be forgotten exactly: the flow
(flows/risk_store.py) deletes rows here and forgets precisely the rows its DELETE ... RETURNING
reports. Two processes pruning at once therefore never forget one login twice: a row is deleted,
and returned, by one statement only (on PostgreSQL the age pruning also skips rows another
pruner holds, `FOR UPDATE SKIP LOCKED`, instead of waiting for them). Recording takes a
per-account lock first (`lock_account`) so concurrent logins of one account cannot each miss
the other's row and leave it over the cap.

Values are stored as recorded; `fit` cuts a login's values to the column sizes (and replaces
NUL, which PostgreSQL refuses) and the flow applies it before both the row and the counters, so
a forgotten row always names exactly the counters its login bumped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, String, delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from mamori.risk.features import LEVELS, Level, LoginFeatures
from mamori.store import tables as t
from mamori.store.direct import Direct, insert

_LENGTHS: dict[str, int] = {
    col.name: col.type.length
    for col in t.risk_history.c
    if isinstance(col.type, String) and col.type.length is not None
}
_COLUMNS: dict[Level, str] = {
    level: "device_id" if level == "device" else level for level in LEVELS
}
_ID_CHUNK = 1000
# pg_advisory_xact_lock(int4, int4): a key space of our own, then the account (ids that agree in
# their low 31 bits share a lock, which only costs a little extra waiting)
_LOCK_SPACE = 0x6D6B  # "mk"


def _cut(name: str, value: str) -> str:
    return value.replace("\x00", "\ufffd")[: _LENGTHS[name]]


def fit(features: LoginFeatures) -> LoginFeatures:
    """The login as the history (and so the counters) store it: values cut to the columns."""
    return LoginFeatures(
        ip=_cut("ip", features.ip),
        network=_cut("network", features.network),
        country=_cut("country", features.country),
        ua=_cut("ua", features.ua),
        browser=_cut("browser", features.browser),
        os=_cut("os", features.os),
        device_type=_cut("device_type", features.device_type),
        device_id=None if features.device_id is None else _cut("device_id", features.device_id),
    )


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    id: int
    account_id: int
    at: datetime
    features: LoginFeatures


def _entry(row: Row[Any]) -> HistoryEntry:
    return HistoryEntry(
        id=int(row.id),
        account_id=int(row.account_id),
        at=row.at,
        features=LoginFeatures(
            ip=row.ip,
            network=row.network,
            country=row.country,
            ua=row.ua,
            browser=row.browser,
            os=row.os,
            device_type=row.device_type,
            device_id=row.device_id,
        ),
    )


# every login runs these: sent to the driver as written (store/direct.py)
_ADDED = ("account_id", "at", *(_COLUMNS[level] for level in LEVELS))
_ADD = insert(t.risk_history, _ADDED, returning="id")
_LOCK = "SELECT pg_advisory_xact_lock(:space, :key)"


class RiskHistory:
    """Rows of `risk_history`, on the transaction's connection."""

    def __init__(self, conn: AsyncConnection, direct: Direct) -> None:
        self.conn = conn
        self.direct = direct

    async def lock_account(self, account_id: int) -> None:
        """Serialize this transaction with others recording logins of the same account, so that
        the cap sees their rows (PostgreSQL: a transaction-scoped advisory lock; SQLite: nothing
        to do, its first write already takes the database's only writer lock)."""
        if self.direct.dialect == "postgresql":
            await self.direct.rows(_LOCK, {"space": _LOCK_SPACE, "key": account_id & 0x7FFFFFFF})

    async def add(self, account_id: int, features: LoginFeatures, at: datetime) -> int:
        """Insert one login (pass it through `fit` first); returns the row id."""
        f = features
        row = await self.direct.row(
            _ADD,
            {
                "account_id": account_id,
                "at": self.direct.time(at),
                "ip": f.ip,
                "network": f.network,
                "country": f.country,
                "ua": f.ua,
                "browser": f.browser,
                "os": f.os,
                "device_type": f.device_type,
                "device_id": f.device_id,
            },
        )
        assert row is not None
        return int(row[0])

    async def count(self, account_id: int) -> int:
        c = t.risk_history.c
        result = await self.conn.execute(
            select(func.count()).select_from(t.risk_history).where(c.account_id == account_id)
        )
        return int(result.scalar_one())

    # ---- reading candidates ----------------------------------------------------------------

    async def older_than(self, cutoff: datetime, *, limit: int) -> list[HistoryEntry]:
        """The oldest logins before `cutoff` (at most `limit`), oldest first."""
        c = t.risk_history.c
        query = select(t.risk_history).where(c.at < cutoff).order_by(c.at, c.id).limit(limit)
        return [_entry(row) for row in await self.conn.execute(query)]

    async def beyond_cap(self, account_id: int, *, keep: int) -> list[HistoryEntry]:
        """The account's logins other than its newest `keep`, oldest first."""
        c = t.risk_history.c
        query = (
            select(t.risk_history)
            .where(c.account_id == account_id)
            .order_by(c.at.desc(), c.id.desc())
            .offset(keep)
        )
        return sorted((_entry(r) for r in await self.conn.execute(query)), key=_age)

    async def page(self, *, after_id: int, limit: int) -> list[HistoryEntry]:
        """Logins in id order after `after_id` (for reading the whole history in pages)."""
        c = t.risk_history.c
        query = select(t.risk_history).where(c.id > after_id).order_by(c.id).limit(limit)
        return [_entry(row) for row in await self.conn.execute(query)]

    # ---- deleting: each returns exactly the rows THIS statement deleted ---------------------

    async def delete(self, ids: Iterable[int]) -> list[HistoryEntry]:
        """Delete these rows; returns those that were still there (a concurrent deleter's rows
        are not returned twice)."""
        id_list = list(ids)
        out: list[HistoryEntry] = []
        for i in range(0, len(id_list), _ID_CHUNK):
            chunk = id_list[i : i + _ID_CHUNK]
            stmt = (
                delete(t.risk_history)
                .where(t.risk_history.c.id.in_(chunk))
                .returning(*t.risk_history.c)
            )
            out += [_entry(row) for row in await self.conn.execute(stmt)]
        return sorted(out, key=_age)

    async def take_older_than(self, cutoff: datetime, *, limit: int) -> list[HistoryEntry]:
        """Delete up to `limit` of the oldest logins before `cutoff` in one statement and return
        them. On PostgreSQL rows locked by another transaction are skipped (SKIP LOCKED), so
        concurrent pruners split the work instead of queueing."""
        c = t.risk_history.c
        oldest = select(c.id).where(c.at < cutoff).order_by(c.at, c.id).limit(limit)
        if self.conn.dialect.name == "postgresql":
            oldest = oldest.with_for_update(skip_locked=True)
        stmt = delete(t.risk_history).where(c.id.in_(oldest)).returning(*t.risk_history.c)
        return sorted((_entry(r) for r in await self.conn.execute(stmt)), key=_age)

    async def take_beyond_cap(self, account_id: int, *, keep: int) -> list[HistoryEntry]:
        """Delete the account's logins other than its newest `keep` in one statement and return
        them."""
        c = t.risk_history.c
        extra = (
            select(c.id)
            .where(c.account_id == account_id)
            .order_by(c.at.desc(), c.id.desc())
            .offset(keep)
        )
        stmt = delete(t.risk_history).where(c.id.in_(extra)).returning(*t.risk_history.c)
        return sorted((_entry(r) for r in await self.conn.execute(stmt)), key=_age)

    # ---- recounting ------------------------------------------------------------------------

    async def tallies(self) -> tuple[dict[int, int], list[tuple[int, Level, str, int]]]:
        """The whole history grouped: logins per account, and (account, level, value, logins)
        for every value each account has shown (one GROUP BY per level; NULL devices left
        out), the input of `risk_counts.tables_from_tallies`."""
        c = t.risk_history.c
        logins = {
            int(row[0]): int(row[1])
            for row in await self.conn.execute(
                select(c.account_id, func.count()).group_by(c.account_id)
            )
        }
        tallies: list[tuple[int, Level, str, int]] = []
        for level, name in _COLUMNS.items():
            col = c[name]
            query = (
                select(c.account_id, col, func.count())
                .where(col.is_not(None))
                .group_by(c.account_id, col)
            )
            tallies += [
                (int(row[0]), level, str(row[1]), int(row[2]))
                for row in await self.conn.execute(query)
            ]
        return logins, tallies


def _age(entry: HistoryEntry) -> tuple[datetime, int]:
    return (entry.at, entry.id)
