"""Risk feedback: devices and networks an account's owner reported as "not me"."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from mamori.store import tables as t
from mamori.store.direct import Direct

FLAG_KINDS = ("device", "network", "ip")


# the login path's statement, sent to the driver as written (store/direct.py)
_MATCHING = "SELECT kind, value FROM risk_flags WHERE account_id = :account_id AND value IN ({})"


class RiskFlags:
    def __init__(self, conn: AsyncConnection, direct: Direct) -> None:
        self.conn = conn
        self.direct = direct

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
        params: dict[str, Any] = {"account_id": account_id}
        values = self.direct.expand(params, "v", [v for _, v in pairs])
        rows = await self.direct.rows(_MATCHING.format(values), params)
        found = {(str(r[0]), str(r[1])) for r in rows}
        return [k for k, v in pairs if (k, v) in found]
