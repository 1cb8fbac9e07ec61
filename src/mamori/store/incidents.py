"""Incidents (opened and closed by the detector), their response actions with one row per
target (what makes an action resumable), and the incident's read-only view of the security
events of its window."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, case, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from mamori.models import EventType
from mamori.store import tables as t

# A login attempt's outcome, as recorded on its event (flows/login.py, flows/challenge.py).
ATTEMPT_TYPES = (EventType.LOGIN_SUCCESS, EventType.LOGIN_CHALLENGED, EventType.LOGIN_FAILURE)
# Outcomes that prove the password was right: a session, a challenge started for a right
# password, a restricted account (403 only after a right password), a challenge whose
# password was right, and a forced reset reached by a login (right password and second step).
CONFIRMING_TYPES = (
    EventType.LOGIN_SUCCESS,
    EventType.LOGIN_CHALLENGED,
    EventType.LOGIN_FAILURE,
    EventType.CHALLENGE_FAILED,
    EventType.PASSWORD_RESET_REQUESTED,
)
# the events writer stores details as json.dumps(..., sort_keys=True) with default separators
_RECOGNIZED = '%"recognized_device": true%'
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Incident:
    id: int
    opened_at: datetime
    closed_at: datetime | None
    status: str  # open | closed
    summary: dict[str, Any]


@dataclass(frozen=True, slots=True)
class IncidentAction:
    id: int
    incident_id: int
    kind: str  # block | reset | notify
    status: str  # running | done
    actor: str
    created_at: datetime
    finished_at: datetime | None
    params: dict[str, Any]
    total: int
    done: int  # targets with done_at set
    last_done_at: datetime | None


@dataclass(frozen=True, slots=True)
class SourceBan:
    """A ban the defenses applied (a `ban_added` event), enforced or in monitor mode."""

    at: datetime
    kind: str
    value: str
    reason: str
    origin: str
    result: str  # ok | monitor


@dataclass(frozen=True, slots=True)
class AttemptStat:
    """Login attempts of one (ip, network, country) in a window."""

    ip: str
    as_name: str
    country: str
    attempts: int
    failures: int  # wrong password, unknown ID, locked, denied (not "restricted")
    confirmations: int  # success, challenged with a right password, restricted
    recognized_failures: int  # failures from a browser bound to the account (owner typos)


@dataclass(frozen=True, slots=True)
class Confirmation:
    """One event proving a right password."""

    id: int
    at: datetime
    type: str
    reason: str
    account_id: int
    login_id: str
    ip: str
    country: str
    as_name: str


def _incident(row: Row[Any]) -> Incident:
    return Incident(
        id=row.id,
        opened_at=row.opened_at,
        closed_at=row.closed_at,
        status=row.status,
        summary=json.loads(row.summary or "{}"),
    )


def _dumps(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


class Incidents:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    # ---- incidents -------------------------------------------------------------------------

    async def open_unless_open(self, *, at: datetime, summary: dict[str, Any]) -> tuple[int, bool]:
        """(id, True) for a new open incident, or (id, False) for the one already open."""
        current = await self.current()
        if current is not None:
            return current.id, False
        res = await self.conn.execute(
            insert(t.incidents).values(
                opened_at=at, closed_at=None, status="open", summary=_dumps(summary)
            )
        )
        assert res.inserted_primary_key is not None
        return int(res.inserted_primary_key[0]), True

    async def current(self) -> Incident | None:
        row = (
            await self.conn.execute(
                select(t.incidents)
                .where(t.incidents.c.status == "open")
                .order_by(t.incidents.c.id)
                .limit(1)
            )
        ).first()
        return _incident(row) if row else None

    async def close_open(self, *, at: datetime) -> list[int]:
        """Close every open incident (idempotent: a second call closes nothing)."""
        c = t.incidents.c
        ids = [int(r[0]) for r in await self.conn.execute(select(c.id).where(c.status == "open"))]
        if ids:
            await self.conn.execute(
                update(t.incidents)
                .where(c.id.in_(ids), c.status == "open")
                .values(status="closed", closed_at=at)
            )
        return ids

    async def get(self, incident_id: int) -> Incident | None:
        row = (
            await self.conn.execute(select(t.incidents).where(t.incidents.c.id == incident_id))
        ).first()
        return _incident(row) if row else None

    async def recent(self, *, limit: int = 50, before_id: int | None = None) -> list[Incident]:
        stmt = select(t.incidents)
        if before_id is not None:
            stmt = stmt.where(t.incidents.c.id < before_id)
        rows = await self.conn.execute(stmt.order_by(t.incidents.c.id.desc()).limit(limit))
        return [_incident(r) for r in rows]

    # ---- response actions ------------------------------------------------------------------

    async def add_action(
        self,
        *,
        incident_id: int,
        kind: str,
        actor: str,
        at: datetime,
        params: dict[str, Any],
        targets: Sequence[str],
    ) -> int:
        """An action and one pending item per target (done_at NULL), written together."""
        res = await self.conn.execute(
            insert(t.incident_actions).values(
                incident_id=incident_id,
                kind=kind,
                status="running",
                actor=actor[:80],
                created_at=at,
                finished_at=None,
                params=_dumps(params),
                total=len(targets),
            )
        )
        assert res.inserted_primary_key is not None
        action_id = int(res.inserted_primary_key[0])
        for chunk in _chunks(list(targets)):
            await self.conn.execute(
                insert(t.incident_action_items),
                [{"action_id": action_id, "target": target, "done_at": None} for target in chunk],
            )
        return action_id

    async def actions(
        self, incident_id: int, *, kind: str | None = None, status: str | None = None
    ) -> list[IncidentAction]:
        a, i = t.incident_actions.c, t.incident_action_items.c
        done = (
            select(
                i.action_id,
                func.count(i.done_at).label("done"),
                func.max(i.done_at).label("last_done_at"),
            )
            .group_by(i.action_id)
            .subquery()
        )
        stmt = (
            select(t.incident_actions, done.c.done, done.c.last_done_at)
            .select_from(
                t.incident_actions.outerjoin(done, done.c.action_id == a.id),
            )
            .where(a.incident_id == incident_id)
        )
        if kind is not None:
            stmt = stmt.where(a.kind == kind)
        if status is not None:
            stmt = stmt.where(a.status == status)
        rows = await self.conn.execute(stmt.order_by(a.id))
        return [
            IncidentAction(
                id=r.id,
                incident_id=r.incident_id,
                kind=r.kind,
                status=r.status,
                actor=r.actor,
                created_at=r.created_at,
                finished_at=r.finished_at,
                params=json.loads(r.params or "{}"),
                total=r.total,
                done=int(r.done or 0),
                last_done_at=r.last_done_at,
            )
            for r in rows
        ]

    async def pending(self, action_id: int) -> list[str]:
        i = t.incident_action_items.c
        rows = await self.conn.execute(
            select(i.target).where(i.action_id == action_id, i.done_at.is_(None)).order_by(i.target)
        )
        return [str(r[0]) for r in rows]

    async def claim(self, action_id: int, target: str, *, at: datetime) -> bool:
        """Mark one target done; False when it already was (another run did it). Called in the
        transaction that does the target's work, so the mark and the work commit together."""
        i = t.incident_action_items.c
        result = await self.conn.execute(
            update(t.incident_action_items)
            .where(i.action_id == action_id, i.target == target, i.done_at.is_(None))
            .values(done_at=at)
        )
        return bool(result.rowcount)

    async def finish_action(self, action_id: int, *, at: datetime) -> bool:
        a = t.incident_actions.c
        result = await self.conn.execute(
            update(t.incident_actions)
            .where(a.id == action_id, a.status == "running")
            .values(status="done", finished_at=at)
        )
        return bool(result.rowcount)

    async def done_items(
        self, incident_id: int, *, kind: str | None = None
    ) -> list[tuple[str, str, datetime]]:
        """(kind, target, done_at) of every done target of the incident's actions."""
        a, i = t.incident_actions.c, t.incident_action_items.c
        stmt = (
            select(a.kind, i.target, i.done_at)
            .select_from(t.incident_action_items.join(t.incident_actions, a.id == i.action_id))
            .where(a.incident_id == incident_id, i.done_at.is_not(None))
        )
        if kind is not None:
            stmt = stmt.where(a.kind == kind)
        rows = await self.conn.execute(stmt.order_by(i.done_at, a.id, i.target))
        return [(str(r[0]), str(r[1]), r[2]) for r in rows]

    async def notice_since(self, account_id: int, *, kind: str, since: datetime) -> bool:
        """Whether the account got a notice of `kind` at or after `since` (a resumed notify
        action does not send it twice)."""
        n = t.notices.c
        row = (
            await self.conn.execute(
                select(n.id)
                .where(n.account_id == account_id, n.kind == kind, n.created_at >= since)
                .limit(1)
            )
        ).first()
        return row is not None

    # ---- the window's security events ------------------------------------------------------

    async def source_bans(self, *, since: datetime, until: datetime) -> list[SourceBan]:
        e = t.security_events.c
        rows = await self.conn.execute(
            select(e.at, e.reason, e.result, e.details)
            .where(e.type == EventType.BAN_ADDED, e.at >= since, e.at <= until)
            .order_by(e.at, e.id)
        )
        out: list[SourceBan] = []
        for r in rows:
            d = json.loads(r.details or "{}")
            kind, value = d.get("kind"), d.get("value")
            if isinstance(kind, str) and isinstance(value, str):
                out.append(
                    SourceBan(
                        at=r.at,
                        kind=kind,
                        value=value,
                        reason=r.reason,
                        origin=str(d.get("origin", "")),
                        result=r.result,
                    )
                )
        return out

    async def attempt_stats(self, *, since: datetime, until: datetime) -> list[AttemptStat]:
        e = t.security_events.c
        failure = and_(e.type == EventType.LOGIN_FAILURE, e.reason != "restricted")
        confirmed = (e.type != EventType.LOGIN_FAILURE) | (e.reason == "restricted")
        one, zero = literal(1), literal(0)
        rows = await self.conn.execute(
            select(
                e.ip,
                e.as_name,
                e.country,
                func.count().label("attempts"),
                func.sum(case((failure, one), else_=zero)).label("failures"),
                func.sum(case((confirmed, one), else_=zero)).label("confirmations"),
                func.sum(case((and_(failure, e.details.like(_RECOGNIZED)), one), else_=zero)).label(
                    "recognized"
                ),
            )
            .where(e.type.in_(ATTEMPT_TYPES), e.at >= since, e.at <= until)
            .group_by(e.ip, e.as_name, e.country)
            .order_by(e.ip, e.as_name, e.country)
        )
        return [
            AttemptStat(
                ip=r.ip,
                as_name=r.as_name,
                country=r.country,
                attempts=int(r.attempts),
                failures=int(r.failures or 0),
                confirmations=int(r.confirmations or 0),
                recognized_failures=int(r.recognized or 0),
            )
            for r in rows
        ]

    async def distinct_login_ids(self, *, since: datetime, until: datetime) -> int:
        e = t.security_events.c
        stmt = select(func.count(func.distinct(e.login_id))).where(
            e.type.in_(ATTEMPT_TYPES), e.at >= since, e.at <= until
        )
        return int((await self.conn.execute(stmt)).scalar_one())

    async def account_attempts(
        self, *, since: datetime, until: datetime
    ) -> list[tuple[str, str, str, int, int]]:
        """Attempts on existing accounts in the window, per (login key, ip, network):
        (login_id, ip, as_name, attempts, failures)."""
        e = t.security_events.c
        failure = and_(e.type == EventType.LOGIN_FAILURE, e.reason != "restricted")
        rows = await self.conn.execute(
            select(
                e.login_id,
                e.ip,
                e.as_name,
                func.count(),
                func.sum(case((failure, literal(1)), else_=literal(0))),
            )
            .where(
                e.type.in_(ATTEMPT_TYPES),
                e.at >= since,
                e.at <= until,
                e.account_id.is_not(None),
            )
            .group_by(e.login_id, e.ip, e.as_name)
            .order_by(e.login_id, e.ip, e.as_name)
        )
        return [(str(r[0]), str(r[1]), str(r[2]), int(r[3]), int(r[4] or 0)) for r in rows]

    async def confirmations(self, *, since: datetime, until: datetime) -> list[Confirmation]:
        """Every event in the window that proves an account's password was right."""
        e = t.security_events.c
        proves = (
            e.type.in_((EventType.LOGIN_SUCCESS, EventType.LOGIN_CHALLENGED))
            | and_(e.type == EventType.LOGIN_FAILURE, e.reason == "restricted")
            | and_(e.type == EventType.PASSWORD_RESET_REQUESTED, e.reason == "forced")
            | and_(e.type == EventType.CHALLENGE_FAILED, e.details.like('%"password_ok": true%'))
        )
        rows = await self.conn.execute(
            select(
                e.id, e.at, e.type, e.reason, e.account_id, e.login_id, e.ip, e.country, e.as_name
            )
            .where(
                e.type.in_(CONFIRMING_TYPES),
                e.at >= since,
                e.at <= until,
                e.account_id.is_not(None),
                proves,
            )
            .order_by(e.at, e.id)
        )
        return [
            Confirmation(
                id=r.id,
                at=r.at,
                type=r.type,
                reason=r.reason,
                account_id=int(r.account_id),
                login_id=r.login_id,
                ip=r.ip,
                country=r.country,
                as_name=r.as_name,
            )
            for r in rows
        ]

    async def last_login_countries(
        self, account_ids: Sequence[int], *, before: datetime
    ) -> dict[int, str]:
        """Each account's country at its most recent successful login before `before`."""
        e = t.security_events.c
        out: dict[int, str] = {}
        for chunk in _chunks(sorted(set(account_ids))):
            latest = (
                select(func.max(e.id).label("id"))
                .where(
                    e.type == EventType.LOGIN_SUCCESS,
                    e.account_id.in_(list(chunk)),
                    e.at < before,
                )
                .group_by(e.account_id)
                .subquery()
            )
            rows = await self.conn.execute(
                select(e.account_id, e.country).where(e.id.in_(select(latest.c.id)))
            )
            out.update({int(r.account_id): r.country for r in rows})
        return out
