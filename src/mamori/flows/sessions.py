"""Server-side sessions: a new token every login, idle and absolute timeouts, revocation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from mamori.errors import NotAuthenticated
from mamori.flows.services import Services
from mamori.models import Account, ClientContext, Session
from mamori.store import Tx
from mamori.tokens import hash_token, new_token

# Refresh last_seen at most this often, so a busy session does not write on every request.
TOUCH_INTERVAL = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class NewSession:
    token: str
    session: Session
    max_age_seconds: int | None  # cookie lifetime; None = browser session


def _idle(svc: Services, remember: bool) -> timedelta:
    s = svc.settings
    return (
        timedelta(days=s.session_remember_days)
        if remember
        else timedelta(minutes=s.session_idle_minutes)
    )


def _absolute(svc: Services, remember: bool) -> timedelta:
    s = svc.settings
    return (
        timedelta(days=s.session_remember_days)
        if remember
        else timedelta(hours=s.session_absolute_hours)
    )


async def start_session(
    svc: Services,
    tx: Tx,
    *,
    account: Account,
    remember: bool,
    client: ClientContext,
    device_id: int | None = None,
) -> NewSession:
    now = svc.clock.now()
    token, token_hash = new_token()
    session = await tx.sessions.create(
        token_hash=token_hash,
        account_id=account.id,
        now=now,
        idle_expires_at=now + _idle(svc, remember),
        absolute_expires_at=now + _absolute(svc, remember),
        remember=remember,
        ip=client.ip,
        user_agent=client.user_agent,
        device_id=device_id,
    )
    max_age = int(_absolute(svc, remember).total_seconds()) if remember else None
    return NewSession(token=token, session=session, max_age_seconds=max_age)


@dataclass(frozen=True, slots=True)
class Authenticated:
    account: Account
    session: Session


async def resolve_session(svc: Services, token: str | None) -> Authenticated:
    """The account behind a session token, or NotAuthenticated."""
    if not token or len(token) > 128:
        raise NotAuthenticated("no session")
    now = svc.clock.now()
    token_hash = hash_token(token)
    async with svc.store.begin() as tx:
        session = await tx.sessions.by_token_hash(token_hash)
        if session is None or not session.active_at(now):
            raise NotAuthenticated("session expired or ended")
        account = await tx.accounts.get(session.account_id)
        if account is None:
            raise NotAuthenticated("account gone")
        if now - session.last_seen_at >= TOUCH_INTERVAL:
            idle_until = min(now + _idle(svc, session.remember), session.absolute_expires_at)
            await tx.sessions.touch(session.id, now=now, idle_expires_at=idle_until)
    return Authenticated(account=account, session=session)
