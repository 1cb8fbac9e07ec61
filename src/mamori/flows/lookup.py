"""Account search and an account's record, for operators (read-only).

Search: an IP address finds the accounts with security events from it (latest first); any other
text finds the accounts whose login ID or email address starts with it (case-insensitive).
The record: the account, its lock state, recent security events (with the risk decision of
logins), devices, risk history, notices, and the audit entries about it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mamori.errors import NotFound
from mamori.flows.center import login_facts
from mamori.flows.services import Services
from mamori.identifiers import login_key
from mamori.models import Account, Device, SecurityEvent
from mamori.netaddr import normalize_ip
from mamori.store.audit import AuditEntry
from mamori.store.console import AccountHit
from mamori.store.notices import NoticeRecord
from mamori.store.risk_history import HistoryEntry

SEARCH_LIMIT = 50
RECORD_LIMIT = 50


@dataclass(frozen=True, slots=True)
class SearchResult:
    query: str
    kind: str  # "ip" | "text" | "" (nothing asked)
    hits: list[AccountHit]


async def search(svc: Services, query: str) -> SearchResult:
    q = query.strip()[:254]
    if not q:
        return SearchResult(query="", kind="", hits=[])
    ip = normalize_ip(q) if any(ch in q for ch in ".:") and "@" not in q else None
    async with svc.store.begin(offload=True) as tx:
        if ip is not None:
            return SearchResult(
                query=q, kind="ip", hits=await tx.console.accounts_by_ip(ip, limit=SEARCH_LIMIT)
            )
        accounts = await tx.console.accounts_by_prefix(login_key(q), limit=SEARCH_LIMIT)
        if not accounts and q.lower() != login_key(q):
            accounts = await tx.console.accounts_by_prefix(q.lower(), limit=SEARCH_LIMIT)
    return SearchResult(query=q, kind="text", hits=[AccountHit(a) for a in accounts])


@dataclass(frozen=True, slots=True)
class AccountRecord:
    account: Account
    locked_until: datetime | None  # a temporary lock of its login ID, if one is running
    active_sessions: int
    events: list[SecurityEvent]
    facts: dict[int, dict[str, Any]]  # event id -> login_facts (risk level, method)
    devices: list[Device]
    history: list[HistoryEntry]
    notices: list[NoticeRecord]
    audit: list[AuditEntry]


async def find(svc: Services, account_id: int) -> Account:
    async with svc.store.begin(offload=True) as tx:
        account = await tx.accounts.get(account_id)
    if account is None:
        raise NotFound("account", str(account_id))
    return account


async def account_record(svc: Services, account_id: int) -> AccountRecord:
    now = svc.clock.now()
    async with svc.store.begin(offload=True) as tx:
        account = await tx.accounts.get(account_id)
        if account is None:
            raise NotFound("account", str(account_id))
        events = await tx.events.for_account(account.id, limit=RECORD_LIMIT)
        devices = await tx.devices.for_account(account.id)
        history = await tx.console.risk_history(account.id, limit=RECORD_LIMIT)
        notices = await tx.notices.for_account(account.id, limit=RECORD_LIMIT)
        sessions = await tx.sessions.active_for(account.id, now=now)
        audit = await tx.console.audit_for(account.login_id, limit=RECORD_LIMIT)
    key = login_key(account.login_id)
    until = await svc.defender.counters.get_until(f"id:{key}:lock", now=now.timestamp())
    return AccountRecord(
        account=account,
        locked_until=datetime.fromtimestamp(until, UTC) if until > now.timestamp() else None,
        active_sessions=len(sessions),
        events=events,
        facts={e.id: login_facts(e) for e in events},
        devices=devices,
        history=history,
        notices=notices,
        audit=audit,
    )
