"""Risk feedback: devices and networks an account's owner reported as "not me"."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from mamori.store import tables as t

FLAG_KINDS = ("device", "network", "ip")


_c = t.risk_flags.c
_MATCHING = select(_c.kind, _c.value).where(
    _c.account_id == bindparam("account_id"), _c.value.in_(bindparam("values", expanding=True))
)

class RiskFlags:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(
        self, account_id: int, *, kind: str, value: str, reason: str, now: datetime
    ) -> None:
        """Flag a value for an account (idempotent)."""
        if kind not in FLAG_KINDS or not value:
            return
        insert = pg_insert if self.conn.dialect.name == "postgresql" else sqlite_insert
        stmt = insert(t.risk_flags).values(
            account_id=account_id, kind=kind, value=value[:128], reason=reason[:32], created_at=now
        )
        await self.conn.execute(
            stmt.on_conflict_do_nothing(index_elements=["account_id", "kind", "value"])
        )

    async def matching(self, account_id: int, candidates: dict[str, str | None]) -> list[str]:
        """Which of the (kind -> value) candidates are flagged for the account, as "kind"."""
        pairs = [(k, v[:128]) for k, v in candidates.items() if v and k in FLAG_KINDS]
        if not pairs:
            return []
        rows = await self.conn.execute(
            _MATCHING, {"account_id": account_id, "values": [v for _, v in pairs]}
        )
        found = {(str(r[0]), str(r[1])) for r in rows}
        return [k for k, v in pairs if (k, v) in found]
