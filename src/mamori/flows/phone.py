"""Phone (SMS) as a second factor: start verification, confirm the SMS code, remove the number.

Each operation runs in its own transaction and records a security event for every change.
Removing a verified number is removing a factor: it needs re-authentication
(`mamori.flows.factors.reauthenticated`). Phone codes are stored as HMACs, never in clear.
"""

from __future__ import annotations

from datetime import timedelta

from mamori.errors import CodeInvalid, Conflict, NotFound, Refused
from mamori.flows import notices
from mamori.flows.factors import reauthenticated, record
from mamori.flows.services import Services
from mamori.flows.sessions import Authenticated
from mamori.identifiers import normalize_phone
from mamori.models import ClientContext, EventType
from mamori.notify.catalog import render
from mamori.otp import code_matches, hash_code, new_numeric_code
from mamori.store import Tx

VERIFY_PHONE = "verify_phone"
PHONE_SENDS_PER_HOUR = 5


def _mask_phone(phone: str) -> str:
    return phone[:3] + "*" * max(0, len(phone) - 7) + phone[-4:] if len(phone) > 7 else "***"


def _phone_subject(account_id: int, phone: str) -> str:
    return f"{account_id}:{phone}"


async def start_phone_verification(
    svc: Services, *, auth: Authenticated, phone: str, client: ClientContext
) -> str:
    """Send a code by SMS to a new number (returned normalized, E.164). The number becomes the
    account's only when the code comes back (confirm_phone). A verified number must be removed
    first (Conflict `phone_already_verified`): replacing it would remove a factor without the
    re-authentication that removal asks for. Sends are limited (Refused `resend_limited`)."""
    account = auth.account
    number = normalize_phone(phone, default_region=svc.settings.phone_default_region)
    if account.phone_verified:
        raise Conflict(
            "remove the verified phone number first", code="phone_already_verified", field="phone"
        )
    now = svc.clock.now()
    minutes = svc.settings.phone_code_minutes
    code = new_numeric_code(6)
    async with svc.store.begin() as tx:
        current = await tx.codes.current(account_id=account.id, purpose=VERIFY_PHONE)
        gap = svc.settings.login_code_resend_seconds
        if current is not None and (now - current.created_at).total_seconds() < gap:
            wait = gap - (now - current.created_at).total_seconds()
            raise Refused(
                "a code was sent moments ago", retry_after=int(wait) + 1, code="resend_limited"
            )
        sent = await tx.events.for_account(
            account.id, types=[EventType.PHONE_CODE_SENT], limit=PHONE_SENDS_PER_HOUR
        )
        if len(sent) >= PHONE_SENDS_PER_HOUR and sent[-1].at > now - timedelta(hours=1):
            wait = (sent[-1].at + timedelta(hours=1) - now).total_seconds()
            raise Refused("too many codes sent", retry_after=int(wait) + 1, code="resend_limited")
        await tx.codes.replace(
            account_id=account.id,
            purpose=VERIFY_PHONE,
            target=number,
            code_hash=hash_code(
                key=svc.code_key,
                purpose=VERIFY_PHONE,
                subject=_phone_subject(account.id, number),
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
            type=EventType.PHONE_CODE_SENT,
            result="ok",
            details={"phone": _mask_phone(number)},
        )
    await svc.notifier.send(
        render(
            "phone_code_sms",
            language=account.language,
            channel="sms",
            to=number,
            account_id=account.id,
            code=code,
            minutes=minutes,
        )
    )
    return number


async def confirm_phone(
    svc: Services, *, auth: Authenticated, code: str, client: ClientContext
) -> str:
    """Check the SMS code; the number becomes the account's verified phone (returned)."""
    account = auth.account
    now = svc.clock.now()
    verified: str | None = None
    async with svc.store.begin() as tx:
        row = await tx.codes.current(account_id=account.id, purpose=VERIFY_PHONE)
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
                purpose=VERIFY_PHONE,
                subject=_phone_subject(account.id, row.target),
                code=code,
                stored_hash=row.code_hash,
            )
            and await tx.codes.consume(row.id, now=now)
        ):
            await tx.accounts.set_phone(account.id, phone=row.target, verified_at=now)
            await record(
                tx,
                at=now,
                account=account,
                client=client,
                type=EventType.PHONE_VERIFIED,
                result="ok",
                details={"phone": _mask_phone(row.target)},
            )
            verified = str(row.target)
    if verified is not None:
        await notices.notify(
            svc,
            account=account,
            kind="phone_added",
            client=client,
            params={"phone": _mask_phone(verified)},
        )
        return verified
    # a wrong try is counted in its own transaction so the failure cannot roll it back
    async with svc.store.begin() as tx:
        if row is not None:
            await tx.codes.add_attempt(row.id)
        await record(
            tx,
            at=now,
            account=account,
            client=client,
            type=EventType.PHONE_VERIFIED,
            result="fail",
            reason="expired" if row is not None and row.expires_at <= now else "wrong_code",
        )
    raise CodeInvalid("the code is wrong or expired")


async def remove_phone(
    svc: Services,
    *,
    auth: Authenticated,
    password: str | None,
    code: str | None,
    client: ClientContext,
) -> None:
    """Remove the phone number. A verified one is a factor: re-authentication required."""
    account = auth.account
    if account.phone is None:
        raise NotFound("phone number")

    async def change(tx: Tx) -> None:
        await tx.accounts.set_phone(account.id, phone=None, verified_at=None)
        await record(
            tx,
            at=svc.clock.now(),
            account=account,
            client=client,
            type=EventType.PHONE_REMOVED,
            result="ok",
            details={"phone": _mask_phone(account.phone or ""), "verified": account.phone_verified},
        )

    if not account.phone_verified:
        async with svc.store.begin() as tx:
            await change(tx)
    else:
        await reauthenticated(
            svc,
            account=account,
            password=password,
            code=code,
            client=client,
            event=EventType.PHONE_REMOVED,
            change=change,
        )
    # to the number removed as well (SMS): its owner learns that it no longer protects the account
    await notices.notify(
        svc,
        account=account,
        kind="phone_removed",
        client=client,
        params={"phone": _mask_phone(account.phone)},
        channels=("email", "sms"),
    )
