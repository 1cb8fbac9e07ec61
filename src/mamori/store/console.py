"""Read-only queries for the operators' console: login activity per time bucket, the top
sources and targets of a period, the account search, and an account's history.

Activity comes from `security_events` with ONE `GROUP BY` per chart. Each login event falls in
one class:

    success    login_success
    challenge  login_challenged (a right password asked for the second step)
    block      login_failure refused before the password check (a lock or a risk denial),
               and request_blocked
    failure    every other login_failure

Speed (`bench/live_view.py`): events are appended with `at` = now, so ids follow time. The
queries therefore read a range of ids (sequential pages) rather than looking every row up
through the `at` index, which on SQLite costs several times more. The first id is the smallest
of the first `ID_MARGIN` events at or after `since` in `at` order, which tolerates events that
were committed out of order; `at` is still checked on every row. A period with more than
`SCAN_CAP` events is sampled (every k-th id) and the counts scaled, so a busy week stays
bounded; the top lists read the latest `TOP_SAMPLE` login events of the period.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    func,
    literal,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from mamori.models import Account
from mamori.netaddr import subnet_of
from mamori.store import tables as t
from mamori.store.accounts import _account
from mamori.store.audit import AuditEntry
from mamori.store.audit import _entry as _audit_entry
from mamori.store.risk_history import HistoryEntry
from mamori.store.risk_history import _entry as _history_entry

LOGIN_TYPES = ("login_success", "login_failure", "login_challenged", "request_blocked")
BLOCK_REASONS = ("locked", "lock_started", "device_locked", "device_lock_started", "risk_denied")
CLASSES = ("success", "failure", "challenge", "block")
DIMENSIONS = ("ip", "subnet", "as_name", "country", "login_id")
ID_MARGIN = 1000
SCAN_CAP = 200_000
TOP_SAMPLE = 10_000

_e = t.security_events.c


@dataclass(frozen=True, slots=True)
class TopRow:
    value: str
    failures: int
    attempts: int


@dataclass(frozen=True, slots=True)
class Activity:
    """Login events per group of `group_seconds` (60 or 3600), by class; `sample` > 1 means
    every sample-th event was read and the counts are scaled (estimates)."""

    group_seconds: int
    groups: dict[int, dict[str, int]]  # group start (epoch seconds) -> class -> events
    sample: int


@dataclass(frozen=True, slots=True)
class TopLists:
    lists: dict[str, list[TopRow]]  # DIMENSIONS -> rows, most failures first
    events: int  # how many login events they are drawn from (the latest of the period)


@dataclass(frozen=True, slots=True)
class AccountHit:
    account: Account
    events: int = 0  # events from the searched IP
    last_at: datetime | None = None


def _group_key(dialect: str, seconds: int) -> ColumnElement[Any]:
    """The start of the event's minute (60) or hour (3600): SQLite reads it from the stored
    text ("YYYY-MM-DD HH:MM:SS.ffffff", naive UTC), PostgreSQL truncates the timestamp."""
    if seconds not in (60, 3600):
        raise ValueError("groups are minutes or hours")
    if dialect == "sqlite":
        return func.substr(_e.at, 1, 16 if seconds == 60 else 13)
    return func.date_trunc("minute" if seconds == 60 else "hour", _e.at)


def _key_start(key: Any, seconds: int) -> int:
    if isinstance(key, str):
        text = key + (":00" if seconds == 60 else ":00:00")
        at = datetime.fromisoformat(text)
    else:
        at = key
    assert isinstance(at, datetime)
    return int(at.replace(tzinfo=UTC).timestamp()) if at.tzinfo is None else int(at.timestamp())


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.sum(case((condition, 1), else_=0))


def subnet_key(ip: str) -> str:
    """/24 for IPv4 (by text, fast), /64 for IPv6, "" when `ip` is not an address."""
    if ip.count(".") == 3 and ":" not in ip:
        return ip.rsplit(".", 1)[0] + ".0/24"
    try:
        return subnet_of(ip)
    except ValueError:
        return ""


def _merge_subnets(v4: list[TopRow], v6: list[TopRow], limit: int) -> list[TopRow]:
    """IPv4 /24 rows (complete groups) and IPv6 address rows folded into /64s, re-ranked."""
    merged = {r.value: [r.failures, r.attempts] for r in v4}
    for r in v6:
        net = subnet_key(r.value)
        if net:
            cur = merged.setdefault(net, [0, 0])
            cur[0] += r.failures
            cur[1] += r.attempts
    ranked = sorted(merged.items(), key=lambda kv: (-kv[1][0], -kv[1][1], kv[0]))
    return [TopRow(v, f, a) for v, (f, a) in ranked[:limit]]


class ConsoleQueries:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def _first_id(self, since: datetime) -> int | None:
        first = select(_e.id).where(_e.at >= since).order_by(_e.at).limit(ID_MARGIN).subquery()
        row = (await self.conn.execute(select(func.min(first.c.id)))).scalar_one_or_none()
        return None if row is None else int(row)

    async def activity(self, *, since: datetime, until: datetime, group_seconds: int) -> Activity:
        """Login events in [since, until) per minute or hour and class (one GROUP BY)."""
        first = await self._first_id(since)
        if first is None:
            return Activity(group_seconds, {}, 1)
        last = (await self.conn.execute(select(func.max(_e.id)))).scalar_one()
        sample = max(1, math.ceil((int(last) - first + 1) / SCAN_CAP))
        key = _group_key(self.conn.dialect.name, group_seconds).label("g")
        blocked = or_(
            _e.type == "request_blocked",
            and_(_e.type == "login_failure", _e.reason.in_(BLOCK_REASONS)),
        )
        conditions = [_e.id >= first, _e.at >= since, _e.at < until, _e.type.in_(LOGIN_TYPES)]
        if sample > 1:
            conditions.append(_e.id % sample == 0)
        stmt = (
            select(
                key,
                func.count().label("n"),
                _count_if(_e.type == "login_success").label("s"),
                _count_if(_e.type == "login_challenged").label("c"),
                _count_if(blocked).label("b"),
            )
            .where(*conditions)
            .group_by(literal_column("g"))
        )
        groups: dict[int, dict[str, int]] = {}
        for r in await self.conn.execute(stmt):
            n, s, c, b = (int(v or 0) * sample for v in (r.n, r.s, r.c, r.b))
            start = _key_start(r.g, group_seconds)
            cur = groups.setdefault(start, dict.fromkeys(CLASSES, 0))
            cur["success"] += s
            cur["challenge"] += c
            cur["block"] += b
            cur["failure"] += n - s - c - b
        return Activity(group_seconds, groups, sample)

    async def top(
        self, *, since: datetime, until: datetime, limit: int = 10, sample: int = TOP_SAMPLE
    ) -> TopLists:
        """The IPs, subnets (/24, /64), networks, countries and login IDs with the most failed
        logins (then attempts) among the latest `sample` login events in [since, until): one
        statement, a GROUP BY per list over those events (IPv4 /24 by text; the IPv6
        addresses are folded into /64 here)."""
        first = await self._first_id(since)
        if first is None:
            return TopLists({d: [] for d in DIMENSIONS}, 0)
        latest = (
            select(_e.type, _e.ip, _e.as_name, _e.country, _e.login_id)
            .where(_e.id >= first, _e.at >= since, _e.at < until, _e.type.in_(LOGIN_TYPES))
            .order_by(_e.id.desc())
            .limit(sample)
            .cte("latest")
        )
        c = latest.c
        v4 = and_(c.ip.like("%.%"), c.ip.not_like("%:%"))
        members: list[tuple[str, ColumnElement[Any], ColumnElement[bool] | None, int]] = [
            ("ip", c.ip, None, limit),
            ("subnet", func.rtrim(c.ip, "0123456789"), v4, limit),  # "203.0.113." for /24
            ("ip6", c.ip, c.ip.like("%:%"), 1000),
            ("as_name", c.as_name, None, limit),
            ("country", c.country, None, limit),
            ("login_id", c.login_id, None, limit),
            ("", literal(""), None, 1),  # how many events in all
        ]
        parts = []
        for name, value, where, n in members:
            stmt = select(
                literal(name).label("d"),
                value.label("v"),
                _count_if(c.type == "login_failure").label("f"),
                func.count().label("a"),
            )
            if name:
                stmt = stmt.where(value != "", *(() if where is None else (where,)))
                stmt = stmt.group_by(value).order_by(
                    literal_column("f").desc(), literal_column("a").desc(), value
                )
            inner = stmt.limit(n).subquery()
            parts.append(select(inner.c.d, inner.c.v, inner.c.f, inner.c.a))
        lists: dict[str, list[TopRow]] = {d: [] for d in (*DIMENSIONS, "ip6")}
        total = 0
        for d, v, f, a in await self.conn.execute(union_all(*parts)):
            if d:
                text = f"{v}0/24" if d == "subnet" else str(v)
                lists[str(d)].append(TopRow(text, int(f or 0), int(a)))
            else:
                total = int(a)
        lists["subnet"] = _merge_subnets(lists["subnet"], lists.pop("ip6"), limit)
        return TopLists(lists, total)

    # -- account search -----------------------------------------------------------------------

    async def accounts_by_prefix(self, text: str, *, limit: int = 50) -> list[Account]:
        """Accounts whose login key or email starts with `text` (already case-folded)."""
        c = t.accounts.c
        stmt = (
            select(t.accounts)
            .where(
                or_(
                    c.login_key.startswith(text, autoescape=True),
                    c.email_key.startswith(text, autoescape=True),
                )
            )
            .order_by(c.login_key)
            .limit(limit)
        )
        return [_account(r) for r in await self.conn.execute(stmt)]

    async def accounts_by_ip(self, ip: str, *, limit: int = 50) -> list[AccountHit]:
        """Accounts with security events from `ip`, the latest first."""
        last = func.max(_e.at).label("last_at")
        stmt = (
            select(_e.account_id, func.count().label("n"), last)
            .where(and_(_e.ip == ip, _e.account_id.is_not(None)))
            .group_by(_e.account_id)
            .order_by(literal_column("last_at").desc())
            .limit(limit)
        )
        rows = (await self.conn.execute(stmt)).all()
        if not rows:
            return []
        ids = [int(r.account_id) for r in rows]
        found = {
            a.id: a
            for a in (
                _account(r)
                for r in await self.conn.execute(select(t.accounts).where(t.accounts.c.id.in_(ids)))
            )
        }
        hits: list[AccountHit] = []
        for r in rows:
            account = found.get(int(r.account_id))
            if account is not None:
                last_at = r.last_at
                if isinstance(last_at, str):  # SQLite returns max() of a text column as text
                    last_at = datetime.fromisoformat(last_at)
                hits.append(AccountHit(account, int(r.n), _aware(last_at)))
        return hits

    # -- an account's record ------------------------------------------------------------------

    async def risk_history(self, account_id: int, *, limit: int = 50) -> list[HistoryEntry]:
        """The account's logins in the risk model's history, newest first."""
        c = t.risk_history.c
        rows = await self.conn.execute(
            select(t.risk_history)
            .where(c.account_id == account_id)
            .order_by(c.at.desc(), c.id.desc())
            .limit(limit)
        )
        return [_history_entry(r) for r in rows]

    async def audit_for(self, target: str, *, limit: int = 50) -> list[AuditEntry]:
        """Audit entries about `target` (a login ID, a ban, a token), newest first."""
        c = t.audit_log.c
        rows = await self.conn.execute(
            select(t.audit_log).where(c.target == target).order_by(c.id.desc()).limit(limit)
        )
        return [_audit_entry(r) for r in rows]


def _aware(at: datetime | None) -> datetime | None:
    if at is None:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
