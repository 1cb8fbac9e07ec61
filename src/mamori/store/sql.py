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
from mamori.store import sqlite_driver
from mamori.store.accounts import Accounts
from mamori.store.audit import Audit
from mamori.store.bans import Bans
from mamori.store.challenges import Challenges
from mamori.store.console import ConsoleQueries
from mamori.store.devices import Devices
from mamori.store.direct import Direct
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

IDLE_SQLITE_CONNECTIONS = 5  # the engine's pool size (SQLAlchemy's default)


class Store:
    def __init__(self, engine: AsyncEngine, *, webhook: WebhookTarget | None = None) -> None:
        self.engine = engine
        self.webhook = webhook  # security events to enqueue for the outgoing webhook
        self._idle: list[AsyncConnection] = []  # SQLite: open connections between transactions

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def begin(self, *, offload: bool = False) -> AsyncIterator[Tx]:
        """One transaction. On SQLite its statements run on the event loop (they take
        microseconds; a hand-off to a thread costs far more) unless `offload` is set, for
        transactions that may read many rows (reports, scans, jobs); a write that has to wait
        for another writer always waits in a worker thread."""
        tx: Tx
        if self.dialect == "sqlite":
            async with self._sqlite_begin(offload=offload) as tx:
                yield tx
        else:
            async with self.engine.begin() as conn:
                tx = Tx(conn, webhook=self.webhook)
                yield tx
        if "events" in tx.__dict__:  # repositories are made on first use: only if it was
            metrics.count_events(tx.events.added)  # committed

    @asynccontextmanager
    async def _sqlite_begin(self, *, offload: bool) -> AsyncIterator[Tx]:
        """A transaction on a connection kept open between transactions.

        `engine.begin()` checks a connection out of SQLAlchemy's pool, begins, commits and
        returns it, each step through a greenlet: about 200 us of CPU per transaction here,
        more than the statements of a login's transaction take. SQLite needs none of it: the
        driver begins on the first write by itself, so a connection is taken from `_idle` (or
        opened) and, at the end, committed or rolled back through SQLAlchemy if statements ran
        through it (it then began a transaction of its own), and through the driver for those
        that went to it directly (store/direct.py)."""
        conn = self._idle.pop() if self._idle else await self.engine.connect()
        ended = False  # committed or rolled back: the connection can serve the next one
        try:
            driver = conn.sync_connection.connection.driver_connection  # type: ignore[union-attr]
            assert isinstance(driver, sqlite_driver.Connection)
            driver.inline = not offload
            try:
                yield Tx(conn, webhook=self.webhook)
            except BaseException:
                if conn.in_transaction():
                    await conn.rollback()
                await driver.rollback()
                ended = True
                raise
            if conn.in_transaction():
                await conn.commit()
            await driver.commit()
            ended = True
        finally:
            if not ended:  # neither committed nor rolled back: never hand it out again
                await conn.invalidate()
                await conn.close()
            elif len(self._idle) < IDLE_SQLITE_CONNECTIONS and not conn.invalidated:
                self._idle.append(conn)
            else:
                await conn.close()  # back to SQLAlchemy's pool

    async def ping(self) -> bool:
        async with self.engine.begin() as conn:
            await conn.execute(text("SELECT 1"))
        return True

    async def dispose(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.close()
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
    def direct(self) -> Direct:
        """The driver under this transaction, for the login path's statements."""
        return Direct(self.conn)

    @cached_property
    def webhooks(self) -> Webhooks:
        return Webhooks(self.conn, self._webhook)

    @cached_property
    def accounts(self) -> Accounts:
        return Accounts(self.conn, self.direct)

    @cached_property
    def audit(self) -> Audit:
        return Audit(self.conn)

    @cached_property
    def sessions(self) -> Sessions:
        return Sessions(self.conn, self.direct)

    @cached_property
    def events(self) -> Events:
        return Events(self.conn, self.direct, webhooks=self.webhooks)

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
        return Devices(self.conn, self.direct)

    @cached_property
    def risk(self) -> RiskCounts:
        return RiskCounts(self.conn, self.direct)

    @cached_property
    def risk_history(self) -> RiskHistory:
        return RiskHistory(self.conn, self.direct)

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
        return RiskFlags(self.conn, self.direct)

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
