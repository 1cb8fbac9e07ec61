"""Security notices: one entry point, `notify`, for every notice an account owner gets.

Every notice is kept in the in-app security inbox (table `notices`) and carries a short
**notice code** (e.g. "K7QF-3MZP") that the inbox and the public `/verify-notice` page confirm:
a mail that quotes no code, or a code we never issued, is not from us. Only the code's HMAC is
stored. Email and SMS go out after the response (`Services.send_later`), at most one per account
and kind per `notice_interval_seconds` (an hour), so an attack cannot flood the owner; the inbox
still gets every one. Security codes (login, phone, email verification) are not notices and are
never rate-limited here.

A notice never carries a password, a code that logs in, or a link that logs anyone in or asks
for a password. The one link it may carry is "this wasn't me" (new-device logins): a one-time,
expiring token that can only *tighten* security (see `flows/not_me.py`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from mamori.flows.services import Services
from mamori.models import Account, ClientContext, EventType, Message
from mamori.notify.catalog import render
from mamori.store.notices import NoticeRecord

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L
CODE_LENGTH = 8
SYSTEM = ClientContext(ip="", user_agent="mamori")


@dataclass(frozen=True, slots=True)
class Sent:
    """A notice just issued: its record, its code, and (new-device logins) the not-me token."""

    notice: NoticeRecord
    code: str
    action_token: str | None
    delivered: tuple[str, ...]  # the channels it went out on now ("email", "sms")


def new_notice_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


def normalize_notice_code(code: str) -> str:
    kept = "".join(ch for ch in code.upper() if ch in CODE_ALPHABET)
    return f"{kept[:4]}-{kept[4:]}" if len(kept) == CODE_LENGTH else ""


def notice_code_hash(svc: Services, code: str) -> str:
    normalized = normalize_notice_code(code) or code[:64]
    msg = b"mamori-notice\x00" + normalized.encode("utf-8", "replace")
    return hmac.new(svc.code_key, msg, hashlib.sha256).hexdigest()


def action_hash(token: str) -> str:
    return hashlib.sha256(b"mamori-not-me\x00" + token.encode("utf-8", "replace")).hexdigest()


def base_url(svc: Services) -> str:
    s = svc.settings
    return (s.public_url or f"http://{s.http_host}:{s.http_port}").rstrip("/")


def describe(client: ClientContext | None, now: datetime) -> dict[str, str]:
    """What a notice says about a request: time, browser/OS, approximate place, network, IP."""
    c = client or SYSTEM
    return {
        "time": now.strftime("%Y-%m-%d %H:%M UTC"),
        "browser": c.browser or "?",
        "os": c.os or "?",
        "location": c.country or "?",
        "network": c.as_name or "?",
        "ip": c.ip or "?",
    }


async def notify(
    svc: Services,
    *,
    account: Account,
    kind: str,
    client: ClientContext | None = None,
    params: dict[str, Any] | None = None,
    event_id: int | None = None,
    device_id: int | None = None,
    session_id: int | None = None,
    not_me: bool = False,
    channels: tuple[str, ...] = ("email",),
) -> Sent:
    """Issue one notice of `kind` to `account` (its own transaction): inbox always; `channels`
    ("email", "sms" when the phone is verified) unless one of this kind went out within the
    interval. `not_me` adds a "this wasn't me" token. The message is `render("notice_" + kind)`
    with `params`, the request's description, the notice code and, when `not_me`, the link."""
    now = svc.clock.now()
    code = new_notice_code()
    token = secrets.token_urlsafe(24) if not_me else None
    facts = {**describe(client, now), **(params or {})}
    wanted = tuple(ch for ch in channels if ch != "sms" or account.phone_verified)
    interval = svc.settings.notice_interval_seconds
    first = True
    if interval > 0 and wanted:
        key = f"notice:{account.id}:{kind}"
        first = await svc.defender.counters.incr(key, ttl=interval, now=now.timestamp()) == 1
    delivered = wanted if first else ()
    async with svc.store.begin() as tx:
        notice_id = await tx.notices.add(
            account_id=account.id,
            kind=kind,
            code_hash=notice_code_hash(svc, code),
            now=now,
            channels=(*delivered, "inbox"),
            params=facts,
            event_id=event_id,
            device_id=device_id,
            session_id=session_id,
            action_hash=action_hash(token) if token else None,
            action_expires_at=now + timedelta(days=svc.settings.not_me_days) if token else None,
        )
        await tx.events.add(
            at=now,
            type=EventType.NOTICE_SENT if delivered else EventType.NOTICE_SUPPRESSED,
            client=SYSTEM,
            result="ok",
            reason=kind,
            account_id=account.id,
            login_id=account.login_id,
            details={"notice_id": notice_id, "channels": list(delivered), "about": event_id},
        )
        notice = await tx.notices.get(notice_id)
    assert notice is not None
    for channel in delivered:
        svc.send_later(_message(svc, account, kind, channel, facts, code, token))
    return Sent(notice=notice, code=code, action_token=token, delivered=delivered)


def notify_later(
    svc: Services,
    *,
    account: Account,
    kind: str,
    client: ClientContext | None,
    params: dict[str, Any] | None = None,
    channels: tuple[str, ...] = ("email",),
) -> None:
    """Issue a notice in the background (`notify`, its own transaction): for callers
    inside a transaction, or on a path whose response must not wait for it."""

    async def run() -> None:
        await notify(
            svc, account=account, kind=kind, client=client, params=params, channels=channels
        )

    svc.background.spawn(run(), what="notice")


def _message(
    svc: Services,
    account: Account,
    kind: str,
    channel: str,
    facts: dict[str, Any],
    code: str,
    token: str | None,
) -> Message:
    base = base_url(svc)
    not_me_url = f"{base}/not-me/{token}" if token else ""
    to = account.phone if channel == "sms" and account.phone else account.email
    return render(
        f"notice_{kind}" + ("_sms" if channel == "sms" else ""),
        language=account.language,
        channel=channel,
        to=to,
        account_id=account.id,
        login_id=account.login_id,
        notice_code=code,
        not_me_url=not_me_url,
        verify_url=f"{base}/verify-notice",
        **facts,
    )


async def verify_code(svc: Services, code: str) -> NoticeRecord | None:
    """The notice a code belongs to, or None: whether a message quoting it is genuine."""
    if not normalize_notice_code(code):
        return None
    async with svc.store.begin() as tx:
        return await tx.notices.by_code_hash(notice_code_hash(svc, code))
