"""Dormant accounts (Yahoo! JAPAN suspends IDs unused for years): warn, then suspend.

`run(svc)` (the `mamori jobs run` job, also fine from cron) takes, in batches:

1. accounts with no successful login for `dormant_after_days - dormant_warning_days` and no
   warning yet: the "dormant_warning" notice, and `dormant_warned_at` is set;
2. accounts warned at least `dormant_warning_days` ago and still without a login since the
   cutoff: suspended (`suspended_at`), their sessions end, the "account_suspended" notice.

"No successful login" counts from `last_login_at`, or from the sign-up when there never was one.
Every step is one conditional UPDATE per account (a concurrent run, or a login in between,
makes it a no-op), so the job is idempotent and safe to run from several hosts.

A suspended owner reactivates through the forgot-password flow: proving control of the email
address (and the phone or authenticator, when enrolled: the reset does not bypass the second
step), then setting a new password, which lifts the suspension. Login with the right password
answers 403 `suspended` (only a client that knows the password learns it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select, update

from mamori.flows import notices
from mamori.flows.services import Services
from mamori.models import EventType
from mamori.store import tables as t

SYSTEM_ACTOR = notices.SYSTEM


@dataclass(frozen=True, slots=True)
class DormantRun:
    warned: int
    suspended: int


async def run(svc: Services, *, now: datetime | None = None, batch: int = 500) -> DormantRun:
    s = svc.settings
    if not s.dormant_enabled:
        return DormantRun(0, 0)
    now = now or svc.clock.now()
    cutoff = now - timedelta(days=s.dormant_after_days)
    warn_cutoff = cutoff + timedelta(days=s.dormant_warning_days)
    warned = await _warn(svc, now=now, warn_cutoff=warn_cutoff, batch=batch)
    suspended = await _suspend(svc, now=now, cutoff=cutoff, batch=batch)
    return DormantRun(warned, suspended)


async def _warn(svc: Services, *, now: datetime, warn_cutoff: datetime, batch: int) -> int:
    a = t.accounts.c
    last = func.coalesce(a.last_login_at, a.created_at)
    done = 0
    while True:
        async with svc.store.begin(offload=True) as tx:
            ids = [
                int(r[0])
                for r in await tx.conn.execute(
                    select(a.id)
                    .where(
                        last < warn_cutoff,
                        a.dormant_warned_at.is_(None),
                        a.suspended_at.is_(None),
                        a.restricted_at.is_(None),
                    )
                    .order_by(a.id)
                    .limit(batch)
                )
            ]
        for account_id in ids:
            async with svc.store.begin(offload=True) as tx:
                claimed = await tx.conn.execute(
                    update(t.accounts)
                    .where(a.id == account_id, a.dormant_warned_at.is_(None), last < warn_cutoff)
                    .values(dormant_warned_at=now)
                )
                account = await tx.accounts.get(account_id) if claimed.rowcount else None
            if account is not None:
                done += 1
                await notices.notify(
                    svc,
                    account=account,
                    kind="dormant_warning",
                    params={"days": svc.settings.dormant_warning_days},
                )
        if len(ids) < batch:
            return done


async def _suspend(svc: Services, *, now: datetime, cutoff: datetime, batch: int) -> int:
    a = t.accounts.c
    last = func.coalesce(a.last_login_at, a.created_at)
    warned_before = now - timedelta(days=svc.settings.dormant_warning_days)
    due = and_(
        last < cutoff,
        a.suspended_at.is_(None),
        a.dormant_warned_at.is_not(None),
        a.dormant_warned_at <= warned_before,
    )
    done = 0
    while True:
        async with svc.store.begin(offload=True) as tx:
            ids = [
                int(r[0])
                for r in await tx.conn.execute(
                    select(a.id).where(due).order_by(a.id).limit(batch)
                )
            ]
        for account_id in ids:
            async with svc.store.begin(offload=True) as tx:
                claimed = await tx.conn.execute(
                    update(t.accounts)
                    .where(a.id == account_id, due)
                    .values(suspended_at=now)
                )
                account = None
                if claimed.rowcount:
                    ended = await tx.sessions.revoke_all(account_id, now=now, reason="dormant")
                    account = await tx.accounts.get(account_id)
                    await tx.events.add(
                        at=now,
                        type=EventType.ACCOUNT_SUSPENDED,
                        client=SYSTEM_ACTOR,
                        result="ok",
                        reason="dormant",
                        account_id=account_id,
                        login_id=account.login_id if account else "",
                        details={"sessions_ended": ended, "cutoff": cutoff.isoformat()},
                    )
            if account is not None:
                done += 1
                await notices.notify(svc, account=account, kind="account_suspended")
        if len(ids) < batch:
            return done
