"""The SQL store: one transaction per operation, repositories bound to it.

async with store.begin() as tx:        # BEGIN ... COMMIT (ROLLBACK on any exception)
    account = await tx.accounts.create(...)
    await tx.events.add(...)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

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
    async def begin(self) -> AsyncIterator[Tx]:
        async with self.engine.begin() as conn:
            tx = Tx(conn, webhook=self.webhook)
            yield tx
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
    def __init__(self, conn: AsyncConnection, *, webhook: WebhookTarget | None = None) -> None:
        self.conn = conn
        self.webhooks = Webhooks(conn, webhook)
        self.accounts = Accounts(conn)
        self.audit = Audit(conn)
        self.sessions = Sessions(conn)
        self.events = Events(conn, webhooks=self.webhooks)
        self.codes = Codes(conn)
        self.outbox = Outbox(conn)
        self.bans = Bans(conn)
        self.devices = Devices(conn)
        self.risk = RiskCounts(conn)
        self.risk_history = RiskHistory(conn)
        self.totp = TotpFactors(conn)
        self.recovery = RecoveryCodes(conn)
        self.challenges = Challenges(conn)
        self.notices = Notices(conn)
        self.risk_flags = RiskFlags(conn)
        self.resets = Resets(conn)
        self.operators = Operators(conn)
        self.operator_sessions = OperatorSessions(conn)
        self.operator_tokens = OperatorTokens(conn)
        self.console = ConsoleQueries(conn)
        self.incidents = Incidents(conn)
