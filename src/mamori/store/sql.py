"""The SQL store: one transaction per operation, repositories bound to it.

async with store.begin() as tx:        # BEGIN ... COMMIT (ROLLBACK on any exception)
    account = await tx.accounts.create(...)
    await tx.events.add(...)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cached_property

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mamori import metrics
from mamori.store.accounts import Accounts
from mamori.store.audit import Audit
from mamori.store.bans import Bans
from mamori.store.challenges import Challenges
from mamori.store.console import ConsoleQueries
from mamori.store.devices import Devices
from mamori.store.engine import create_engine
from mamori.store.events import Events
from mamori.store.factors import RecoveryCodes, TotpFactors
from mamori.store.incidents import Incidents
from mamori.store.messages import Codes, Outbox
from mamori.store.notices import Notices
from mamori.store.operators import Operators, OperatorSessions, OperatorTokens
from mamori.store.resets import Resets
from mamori.store.risk_counts import RiskCounts
from mamori.store.risk_flags import RiskFlags
from mamori.store.risk_history import RiskHistory
from mamori.store.sessions import Sessions
from mamori.store.webhooks import Webhooks, WebhookTarget


class Store:
    def __init__(self, engine: AsyncEngine, *, webhook: WebhookTarget | None = None) -> None:
        self.engine = engine
        self.webhook = webhook  # security events to enqueue for the outgoing webhook

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def begin(self, *, offload: bool = False) -> AsyncIterator[Tx]:
        """One transaction. On SQLite its statements run on the event loop (they take
        microseconds; a hand-off to a thread costs far more) unless `offload` is set, for
        transactions that may read many rows (reports, scans, jobs); a write that has to wait
        for another writer always waits in a worker thread."""
        async with self.engine.begin() as conn:
            if self.dialect == "sqlite":
                raw = await conn.get_raw_connection()
                raw.driver_connection.inline = not offload  # type: ignore[union-attr]
            tx = Tx(conn, webhook=self.webhook)
            yield tx
        if "events" in tx.__dict__:  # repositories are made on first use: only if it was
            metrics.count_events(tx.events.added)  # committed

    async def ping(self) -> bool:
        async with self.engine.begin() as conn:
            await conn.execute(text("SELECT 1"))
        return True

    async def dispose(self) -> None:
        await self.engine.dispose()


def create_store(url: str, *, webhook: WebhookTarget | None = None) -> Store:
    return Store(create_engine(url), webhook=webhook)


class Tx:
    """Repositories bound to one transaction's connection, each made on first use (a
    transaction touches a few of them)."""

    def __init__(self, conn: AsyncConnection, *, webhook: WebhookTarget | None = None) -> None:
        self.conn = conn
        self._webhook = webhook

    @cached_property
    def webhooks(self) -> Webhooks:
        return Webhooks(self.conn, self._webhook)

    @cached_property
    def accounts(self) -> Accounts:
        return Accounts(self.conn)

    @cached_property
    def audit(self) -> Audit:
        return Audit(self.conn)

    @cached_property
    def sessions(self) -> Sessions:
        return Sessions(self.conn)

    @cached_property
    def events(self) -> Events:
        return Events(self.conn, webhooks=self.webhooks)

    @cached_property
    def codes(self) -> Codes:
        return Codes(self.conn)

    @cached_property
    def outbox(self) -> Outbox:
        return Outbox(self.conn)

    @cached_property
    def bans(self) -> Bans:
        return Bans(self.conn)

    @cached_property
    def devices(self) -> Devices:
        return Devices(self.conn)

    @cached_property
    def risk(self) -> RiskCounts:
        return RiskCounts(self.conn)

    @cached_property
    def risk_history(self) -> RiskHistory:
        return RiskHistory(self.conn)

    @cached_property
    def totp(self) -> TotpFactors:
        return TotpFactors(self.conn)

    @cached_property
    def recovery(self) -> RecoveryCodes:
        return RecoveryCodes(self.conn)

    @cached_property
    def challenges(self) -> Challenges:
        return Challenges(self.conn)

    @cached_property
    def notices(self) -> Notices:
        return Notices(self.conn)

    @cached_property
    def risk_flags(self) -> RiskFlags:
        return RiskFlags(self.conn)

    @cached_property
    def resets(self) -> Resets:
        return Resets(self.conn)

    @cached_property
    def operators(self) -> Operators:
        return Operators(self.conn)

    @cached_property
    def operator_sessions(self) -> OperatorSessions:
        return OperatorSessions(self.conn)

    @cached_property
    def operator_tokens(self) -> OperatorTokens:
        return OperatorTokens(self.conn)

    @cached_property
    def console(self) -> ConsoleQueries:
        return ConsoleQueries(self.conn)

    @cached_property
    def incidents(self) -> Incidents:
        return Incidents(self.conn)
