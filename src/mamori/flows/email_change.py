"""Changing the account's email address: the password again, a code to the new address, notices.

`start_email_change` re-authenticates with the password (counted per account before the hash,
`flows.factors.reserve_reauth`), refuses an address another account has (Conflict
`email_taken`: sign-up reveals this anyway) and sends a 6-digit code to the NEW address
(HMAC-stored in `codes`, purpose "change_email", bound to the account and the address). Calling
it again is the resend: at most one code per RESEND_GAP_SECONDS and SENDS_PER_HOUR per hour
(`Services.defender.counters`, one atomic increment each), and a new code replaces the old one.

`confirm_email_change` checks the code (`email_code_max_attempts` tries, then the change must
start again). The right code sets the address, verified (it just proved the mailbox), records
EMAIL_CHANGED with both addresses masked, and sends two notices: to the OLD address (kind
"email_changed", email and SMS: the address an attacker would want silenced) and to the new one
(kind NEW_ADDRESS_KIND). The second kind is distinct because notices go out at most once per
account and kind per hour: with the same kind the new address's notice would always be
suppressed (or, issued first, would silence the old address's).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row

from mamori.errors import CodeInvalid, Conflict, InputError, InvalidCredentials, ResendLimited
from mamori.flows import notices
from mamori.flows.factors import record, reserve_reauth
from mamori.flows.services import Services
from mamori.flows.sessions import Authenticated
from mamori.identifiers import normalize_email
from mamori.models import Account, ClientContext, EventType
from mamori.notify.catalog import render
from mamori.otp import code_matches, hash_code, new_numeric_code

CHANGE_EMAIL = "change_email"  # the codes' purpose and the reason of their events
CODE_KIND = "change_email_code"  # the message carrying the code (notify/catalog.py)
OLD_ADDRESS_KIND = "email_changed"
NEW_ADDRESS_KIND = "email_changed_new"  # generic text until notice_texts.py has its own
RESEND_GAP_SECONDS = 30.0
SENDS_PER_HOUR = 5


def mask_email(email: str) -> str:
    """Mask an address ("alice@example.com" -> "a***@example.com"): its owner knows it."""
    local, _, domain = email.rpartition("@")
    if not local:
        return "***"
    return f"{local[0]}***@{domain}"


def _subject(account_id: int, email: str) -> str:
    return f"{account_id}:{email}"


def _failure_reason(svc: Services, row: Row[Any] | None, *, now: datetime) -> str:
    if row is None:
        return "nothing_pending"
    if row.expires_at <= now:
        return "expired"
    if row.attempts >= svc.settings.email_code_max_attempts:
        return "too_many_tries"
    return "wrong_code"


async def _take_send(svc: Services, account_id: int) -> None:
    """Count one code send; ResendLimited when too soon after the last or too many this hour."""
    counters = svc.defender.counters
    now = svc.clock.now().timestamp()
    for name, limit, window in (
        ("gap", 1, RESEND_GAP_SECONDS),
        ("hour", SENDS_PER_HOUR, 3600.0),
    ):
        key = f"email_change:{name}:{account_id}"
        count = await counters.incr(key, ttl=window, now=now)
        if count == 1:  # a new window: remember when it ends, for Retry-After
            await counters.raise_until(key, until=now + window, now=now)
        elif count > limit:
            until = await counters.get_until(key, now=now)
            wait = until - now if until > now else window
            raise ResendLimited("a code was sent too recently", retry_after=int(wait) + 1)


async def start_email_change(
    svc: Services, *, auth: Authenticated, new_email: str, password: str, client: ClientContext
) -> str:
    """Send a code to `new_email` (returned normalized). The address becomes the account's only
    when the code comes back (`confirm_email_change`)."""
    account = auth.account
    if not password:
        raise InputError("the password is required", code="password_required", field="password")
    address = normalize_email(new_email)
    if address == account.email:
        raise InputError(
            "this is already the account's address", code="email_unchanged", field="new_email"
        )
    await reserve_reauth(svc, account)
    if not await svc.verify_password(stored_hash=account.password_hash, password=password):
        async with svc.store.begin() as tx:
            await record(
                tx,
                at=svc.clock.now(),
                account=account,
                client=client,
                type=EventType.EMAIL_CHANGED,
                result="fail",
                reason="wrong_password",
            )
        raise InvalidCredentials("the password is incorrect")
    async with svc.store.begin() as tx:
        other = await tx.accounts.by_email(address)
    if other is not None and other.id != account.id:
        raise Conflict("email address is taken", code="email_taken", field="new_email")
    await _take_send(svc, account.id)
    now = svc.clock.now()
    minutes = svc.settings.email_code_minutes
    code = new_numeric_code(6)
    async with svc.store.begin() as tx:
        await tx.codes.replace(
            account_id=account.id,
            purpose=CHANGE_EMAIL,
            target=address,
            code_hash=hash_code(
                key=svc.code_key,
                purpose=CHANGE_EMAIL,
                subject=_subject(account.id, address),
                code=code,
            ),
            now=now,
            expires_at=now + timedelta(minutes=minutes),
        )
        await record(
            tx,
            at=now,
            account=account,
            client=client,
            type=EventType.EMAIL_CODE_SENT,
            result="ok",
            reason=CHANGE_EMAIL,
            details={"to": mask_email(address)},
        )
    svc.send_later(
        render(
            CODE_KIND,
            language=account.language,
            channel="email",
            to=address,
            account_id=account.id,
            login_id=account.login_id,
            code=code,
            minutes=minutes,
        )
    )
    return address


async def pending_email_change(svc: Services, *, auth: Authenticated) -> str | None:
    """The address waiting for its code (still usable), or None."""
    now = svc.clock.now()
    async with svc.store.begin() as tx:
        row = await tx.codes.current(account_id=auth.account.id, purpose=CHANGE_EMAIL)
    if row is None or row.expires_at <= now or row.attempts >= svc.settings.email_code_max_attempts:
        return None
    return str(row.target)


async def confirm_email_change(
    svc: Services, *, auth: Authenticated, code: str, client: ClientContext
) -> Account:
    """Check the code sent to the new address; on success the account (returned) has it,
    verified. CodeInvalid when wrong, expired, used up or nothing is pending; Conflict
    `email_taken` when another account took the address meanwhile."""
    account = auth.account
    now = svc.clock.now()
    changed: tuple[Account, Account, int] | None = None
    async with svc.store.begin() as tx:
        row = await tx.codes.current(account_id=account.id, purpose=CHANGE_EMAIL)
        usable = (
            row is not None
            and row.expires_at > now
            and row.attempts < svc.settings.email_code_max_attempts
        )
        if (
            row is not None
            and usable
            and code_matches(
                key=svc.code_key,
                purpose=CHANGE_EMAIL,
                subject=_subject(account.id, row.target),
                code=code,
                stored_hash=row.code_hash,
            )
            and await tx.codes.consume(row.id, now=now)
        ):
            old = await tx.accounts.get(account.id) or account
            await tx.accounts.set_email(account.id, str(row.target), verified_at=now)
            new = await tx.accounts.get(account.id)
            assert new is not None
            event_id = await tx.events.add(
                at=now,
                type=EventType.EMAIL_CHANGED,
                client=client,
                result="ok",
                account_id=account.id,
                login_id=account.login_id,
                details={"old_email": mask_email(old.email), "new_email": mask_email(new.email)},
            )
            changed = (old, new, event_id)
    if changed is not None:
        old, new, event_id = changed
        params = {"old_email": mask_email(old.email), "new_email": mask_email(new.email)}
        # the old address first: of the two, it is the one that must not be suppressed
        await notices.notify(
            svc,
            account=old,
            kind=OLD_ADDRESS_KIND,
            client=client,
            params=params,
            event_id=event_id,
            channels=("email", "sms"),
        )
        await notices.notify(
            svc,
            account=new,
            kind=NEW_ADDRESS_KIND,
            client=client,
            params=params,
            event_id=event_id,
            channels=("email",),
        )
        return new
    # a wrong try is counted in its own transaction so the failure cannot roll it back
    async with svc.store.begin() as tx:
        if row is not None:
            await tx.codes.add_attempt(row.id)
        await record(
            tx,
            at=now,
            account=account,
            client=client,
            type=EventType.EMAIL_CODE_FAILED,
            result="fail",
            reason=_failure_reason(svc, row, now=now),
            details={"purpose": CHANGE_EMAIL},
        )
    raise CodeInvalid("the code is wrong or expired")
