"""Second factors and the account's two-step settings.

For the login challenge (called INSIDE the caller's transaction; they never commit or send):
  login_methods(tx, account) -> ["totp", "sms", "email", "recovery"] (those that apply, in order)
  check_totp(svc, tx, account=, code=, client=) -> (ok, replay notice or None)
  use_recovery_code(svc, tx, account=, code=, client=) -> ok
  trust_device(svc, tx, account=, device_id=, client=) -> trusted until

Settings operations (each its own transaction, a security event for every change):
  overview, start_totp_enrollment / pending_totp_enrollment / confirm_totp / remove_totp,
  regenerate_recovery_codes, start_phone_verification / confirm_phone / remove_phone,
  set_two_step_mode, list_devices / untrust_device / forget_device.

Re-authentication. Removing a factor (TOTP, a verified phone) or lowering the mode
(off < new_devices < every_login) needs the password AND a current second factor: a TOTP code
when an authenticator is enrolled (a recovery code is accepted instead, as it is the backup for a
lost authenticator), else a recovery code when unused ones exist, else the password alone. Email
and SMS codes never count here: they prove the mailbox or phone, which the change is about.
Regenerating recovery codes needs the password (they are a way past the second step, so a stolen
session alone must not be able to mint them). Adding factors and raising the mode need nothing
extra. Every re-authentication attempt is counted per account before the password hash (at most
REAUTH_LIMIT per REAUTH_WINDOW seconds, then 429): a stolen session cannot brute-force the
password or a 6-digit code here.

Secrets: the TOTP key is stored sealed (`mamori.secretbox`, AES-GCM bound to the account),
recovery and phone codes as HMACs; none is ever logged or put in an event.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import segno

from mamori.errors import (
    CodeInvalid,
    Conflict,
    InputError,
    InvalidCredentials,
    NotFound,
    Refused,
)
from mamori.flows.services import Services
from mamori.flows.sessions import Authenticated
from mamori.identifiers import normalize_phone
from mamori.models import Account, ClientContext, Device, EventType, Message
from mamori.notify.catalog import render
from mamori.otp import (
    code_matches,
    find_recovery_code,
    hash_code,
    hash_recovery_code,
    new_numeric_code,
    new_recovery_codes,
    new_totp_secret,
    normalize_otp,
    totp_uri,
    verify_totp,
)
from mamori.secretbox import SecretBox, SecretBoxError
from mamori.store import Tx
from mamori.store.factors import TotpFactor

log = logging.getLogger("mamori.factors")

MODES = ("off", "new_devices", "every_login")  # in order of strictness
VERIFY_PHONE = "verify_phone"
RECOVERY_CODE_COUNT = 10
TOTP_WINDOW = 1  # steps either side (clock drift)
REAUTH_LIMIT = 10
REAUTH_WINDOW = 900.0
PHONE_SENDS_PER_HOUR = 5


@dataclass(frozen=True, slots=True)
class TotpEnrollment:
    """Shown once to the owner: the key in clear, its otpauth:// URI and the QR code (SVG)."""

    secret: str
    uri: str
    qr_svg: str

    @property
    def secret_grouped(self) -> str:
        return " ".join(self.secret[i : i + 4] for i in range(0, len(self.secret), 4))


@dataclass(frozen=True, slots=True)
class SecurityOverview:
    account: Account
    totp_enrolled: bool
    totp_pending: bool
    recovery_remaining: int
    phone_pending: str | None  # a number waiting for its SMS code
    devices: list[Device]
    methods: list[str]  # what a login challenge could offer now
    reauth: str  # what removing a factor asks besides the password: totp | recovery | none


def _box(svc: Services) -> SecretBox:
    return SecretBox(svc.settings.secret_key, purpose="totp")


def _context(account_id: int) -> str:
    return f"totp:{account_id}"


async def _record(
    tx: Tx,
    *,
    at: datetime,
    type: EventType,
    account: Account,
    client: ClientContext,
    result: str,
    reason: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    await tx.events.add(
        at=at,
        type=type,
        client=client,
        result=result,
        reason=reason,
        account_id=account.id,
        login_id=account.login_id,
        details=details,
    )


def _location(client: ClientContext) -> str:
    place = ", ".join(x for x in (client.country, client.as_name) if x)
    return f"{place} ({client.ip})" if place else client.ip


def _mask_phone(phone: str) -> str:
    return phone[:3] + "*" * max(0, len(phone) - 7) + phone[-4:] if len(phone) > 7 else "***"


# -- for the login challenge (inside the caller's transaction) -------------------------------


async def login_methods(tx: Tx, account: Account) -> list[str]:
    """The second-step methods this account can use, in this order: "totp" (a confirmed
    authenticator), "sms" (a verified phone), "email" (always), "recovery" (unused codes)."""
    methods: list[str] = []
    factor = await tx.totp.get(account.id)
    if factor is not None and factor.confirmed:
        methods.append("totp")
    if account.phone_verified:
        methods.append("sms")
    methods.append("email")
    if await tx.recovery.count_unused(account.id) > 0:
        methods.append("recovery")
    return methods


async def check_totp(
    svc: Services, tx: Tx, *, account: Account, code: str, client: ClientContext
) -> tuple[bool, Message | None]:
    """Check an authenticator code inside the caller's transaction.

    Returns (True, None) for a right code whose time step is after the last one used; that step
    is claimed atomically, so of two concurrent requests with one code only one gets True.
    A right code that was used before (or lost that race) is a replay: a TOTP_REPLAY event is
    recorded in `tx` and (False, notice) comes back, where `notice` is the owner's email that the
    CALLER sends after its transaction commits. Any other code: (False, None), nothing recorded
    (the caller records its own failure). No confirmed authenticator: (False, None).
    """
    factor = await tx.totp.get(account.id)
    if factor is None or not factor.confirmed:
        return False, None
    secret = _open_secret(svc, factor)
    if secret is None:
        return False, None
    now = svc.clock.now()
    result = verify_totp(
        secret=secret, code=code, at=now, last_step=factor.last_step, window=TOTP_WINDOW
    )
    if result.ok and result.step is not None:
        if await tx.totp.set_last_step(account.id, result.step):
            return True, None
    elif not result.replay:
        return False, None
    await _record(
        tx,
        at=now,
        account=account,
        client=client,
        type=EventType.TOTP_REPLAY,
        result="fail",
        reason="replay",
        details={"step": result.step},
    )
    notice = render(
        "totp_replay",
        language=account.language,
        channel="email",
        to=account.email,
        account_id=account.id,
        login_id=account.login_id,
        time=now.strftime("%Y-%m-%d %H:%M UTC"),
        browser=client.browser or "?",
        os=client.os or "?",
        location=_location(client),
    )
    return False, notice


async def use_recovery_code(
    svc: Services, tx: Tx, *, account: Account, code: str, client: ClientContext
) -> bool:
    """Use one recovery code inside the caller's transaction: True once per code (marked used
    atomically, RECOVERY_CODE_USED recorded with how many remain), else False, nothing recorded."""
    unused = await tx.recovery.unused(account.id)
    if not unused:
        return False
    found = find_recovery_code(
        key=svc.code_key, code=code, stored_hashes=[c.code_hash for c in unused]
    )
    if found is None:
        return False
    code_id = next(c.id for c in unused if c.code_hash == found)
    now = svc.clock.now()
    if not await tx.recovery.mark_used(code_id, now=now):
        return False
    remaining = await tx.recovery.count_unused(account.id)
    await _record(
        tx,
        at=now,
        account=account,
        client=client,
        type=EventType.RECOVERY_CODE_USED,
        result="ok",
        details={"remaining": remaining},
    )
    return True


async def trust_device(
    svc: Services, tx: Tx, *, account: Account, device_id: int, client: ClientContext
) -> datetime | None:
    """ "Don't ask again on this browser": trust it for `trusted_device_days` (DEVICE_TRUSTED).
    None when the device is not this account's."""
    now = svc.clock.now()
    until = now + timedelta(days=svc.settings.trusted_device_days)
    if not await tx.devices.trust(device_id=device_id, account_id=account.id, until=until):
        return None
    await _record(
        tx,
        at=now,
        account=account,
        client=client,
        type=EventType.DEVICE_TRUSTED,
        result="ok",
        details={"device_id": device_id, "until": until.isoformat()},
    )
    return until


def _open_secret(svc: Services, factor: TotpFactor) -> str | None:
    try:
        return _box(svc).open(factor.secret_enc, context=_context(factor.account_id))
    except SecretBoxError:
        # the secret key changed or the row was altered: the authenticator cannot be used
        log.error("TOTP key of account %s does not open", factor.account_id)
        return None


# -- re-authentication ------------------------------------------------------------------------


async def _reserve_reauth(svc: Services, account: Account) -> None:
    now = svc.clock.now().timestamp()
    count = await svc.defender.counters.incr(f"reauth:{account.id}", ttl=REAUTH_WINDOW, now=now)
    if count > REAUTH_LIMIT:
        raise Refused("too many re-authentication attempts", retry_after=int(REAUTH_WINDOW))


async def _second_factor(
    svc: Services, tx: Tx, *, account: Account, code: str, client: ClientContext
) -> tuple[bool, Message | None]:
    factor = await tx.totp.get(account.id)
    has_totp = factor is not None and factor.confirmed
    if not has_totp and await tx.recovery.count_unused(account.id) == 0:
        return True, None  # no second factor to ask for: the password alone
    if has_totp and normalize_otp(code) is not None:
        return await check_totp(svc, tx, account=account, code=code, client=client)
    return await use_recovery_code(svc, tx, account=account, code=code, client=client), None


async def _reauthenticated(
    svc: Services,
    *,
    account: Account,
    password: str | None,
    code: str | None,
    client: ClientContext,
    event: EventType,
    change: Callable[[Tx], Awaitable[None]],
) -> None:
    """Check the password, then (in the change's transaction) the second factor; apply `change`
    only when both pass. Failures are recorded as `event` with result "fail"."""
    if not password:
        raise InputError("the password is required", code="password_required", field="password")
    await _reserve_reauth(svc, account)
    if not await svc.verify_password(stored_hash=account.password_hash, password=password):
        async with svc.store.begin() as tx:
            await _record(
                tx,
                at=svc.clock.now(),
                account=account,
                client=client,
                type=event,
                result="fail",
                reason="wrong_password",
            )
        raise InvalidCredentials("the password is incorrect")
    async with svc.store.begin() as tx:
        ok, notice = await _second_factor(svc, tx, account=account, code=code or "", client=client)
        if ok:
            await change(tx)
        else:
            await _record(
                tx,
                at=svc.clock.now(),
                account=account,
                client=client,
                type=event,
                result="fail",
                reason="totp_replay" if notice is not None else "wrong_code",
            )
    if notice is not None:
        await svc.notifier.send(notice)
    if not ok:
        raise CodeInvalid("the second-factor code is wrong or was used before")


async def _reauth_kind(tx: Tx, account_id: int) -> str:
    factor = await tx.totp.get(account_id)
    if factor is not None and factor.confirmed:
        return "totp"
    return "recovery" if await tx.recovery.count_unused(account_id) > 0 else "none"


# -- overview -------------------------------------------------------------------------------


async def overview(svc: Services, *, auth: Authenticated) -> SecurityOverview:
    now = svc.clock.now()
    async with svc.store.begin() as tx:
        account = await tx.accounts.get(auth.account.id) or auth.account
        factor = await tx.totp.get(account.id)
        pending_phone = await tx.codes.current(account_id=account.id, purpose=VERIFY_PHONE)
        return SecurityOverview(
            account=account,
            totp_enrolled=factor is not None and factor.confirmed,
            totp_pending=factor is not None and not factor.confirmed,
            recovery_remaining=await tx.recovery.count_unused(account.id),
            phone_pending=(
                pending_phone.target
                if pending_phone is not None and pending_phone.expires_at > now
                else None
            ),
            devices=await tx.devices.for_account(account.id),
            methods=await login_methods(tx, account),
            reauth=await _reauth_kind(tx, account.id),
        )


# -- authenticator app (TOTP) ---------------------------------------------------------------


def _enrollment(svc: Services, account: Account, secret: str) -> TotpEnrollment:
    issuer = svc.settings.totp_issuer.replace(":", "") or "Mamori"
    uri = totp_uri(secret=secret, account_name=account.login_id.replace(":", ""), issuer=issuer)
    qr = segno.make(uri, error="m")
    svg = str(qr.svg_inline(scale=4, border=4, dark="#000", light="#fff", title=issuer))
    return TotpEnrollment(secret=secret, uri=uri, qr_svg=svg)


async def start_totp_enrollment(
    svc: Services, *, auth: Authenticated, client: ClientContext
) -> TotpEnrollment:
    """A new key, pending until confirmed by a first code (replaces an earlier pending one).
    Conflict `totp_already_enrolled` when an authenticator is already confirmed."""
    account = auth.account
    secret = new_totp_secret()
    sealed = _box(svc).seal(secret, context=_context(account.id))
    async with svc.store.begin() as tx:
        if await tx.totp.start(account.id, secret_enc=sealed, now=svc.clock.now()) is None:
            raise Conflict("an authenticator app is already set up", code="totp_already_enrolled")
    return _enrollment(svc, account, secret)


async def pending_totp_enrollment(svc: Services, *, auth: Authenticated) -> TotpEnrollment | None:
    """The enrollment waiting for its first code, to show its QR code again (or None)."""
    async with svc.store.begin() as tx:
        factor = await tx.totp.get(auth.account.id)
    if factor is None or factor.confirmed:
        return None
    secret = _open_secret(svc, factor)
    return None if secret is None else _enrollment(svc, auth.account, secret)


async def confirm_totp(
    svc: Services, *, auth: Authenticated, code: str, client: ClientContext
) -> None:
    """Confirm the pending enrollment with the app's first code (TOTP_ENROLLED). The code's step
    is recorded as used, so that code cannot also pass a login. CodeInvalid when wrong."""
    account = auth.account
    now = svc.clock.now()
    async with svc.store.begin() as tx:
        factor = await tx.totp.get(account.id)
        if factor is None:
            raise NotFound("authenticator enrollment")
        if factor.confirmed:
            raise Conflict("an authenticator app is already set up", code="totp_already_enrolled")
        secret = _open_secret(svc, factor)
        result = (
            verify_totp(secret=secret, code=code, at=now, last_step=None, window=TOTP_WINDOW)
            if secret is not None
            else None
        )
        confirmed = (
            result is not None
            and result.ok
            and result.step is not None
            and await tx.totp.confirm(
                factor_id=factor.id, account_id=account.id, now=now, step=result.step
            )
        )
        await _record(
            tx,
            at=now,
            account=account,
            client=client,
            type=EventType.TOTP_ENROLLED,
            result="ok" if confirmed else "fail",
            reason="" if confirmed else "wrong_code",
        )
    if not confirmed:
        raise CodeInvalid("the code is wrong")


async def remove_totp(
    svc: Services,
    *,
    auth: Authenticated,
    password: str | None,
    code: str | None,
    client: ClientContext,
) -> None:
    account = auth.account
    async with svc.store.begin() as tx:
        factor = await tx.totp.get(account.id)
    if factor is None:
        raise NotFound("authenticator")

    async def change(tx: Tx) -> None:
        await tx.totp.delete(account.id)
        await _record(
            tx,
            at=svc.clock.now(),
            account=account,
            client=client,
            type=EventType.TOTP_REMOVED,
            result="ok",
            details={"was_confirmed": factor.confirmed},
        )

    if not factor.confirmed:  # an unfinished enrollment protects nothing: cancel it freely
        async with svc.store.begin() as tx:
            await change(tx)
        return
    await _reauthenticated(
        svc,
        account=account,
        password=password,
        code=code,
        client=client,
        event=EventType.TOTP_REMOVED,
        change=change,
    )


# -- recovery codes -------------------------------------------------------------------------


async def regenerate_recovery_codes(
    svc: Services, *, auth: Authenticated, password: str | None, client: ClientContext
) -> list[str]:
    """A new set of RECOVERY_CODE_COUNT codes (the old set stops working). Needs the password.
    The plain codes are returned once, to show; only their HMACs are stored."""
    account = auth.account
    if not password:
        raise InputError("the password is required", code="password_required", field="password")
    await _reserve_reauth(svc, account)
    now = svc.clock.now()
    if not await svc.verify_password(stored_hash=account.password_hash, password=password):
        async with svc.store.begin() as tx:
            await _record(
                tx,
                at=now,
                account=account,
                client=client,
                type=EventType.RECOVERY_CODES_GENERATED,
                result="fail",
                reason="wrong_password",
            )
        raise InvalidCredentials("the password is incorrect")
    codes = new_recovery_codes(RECOVERY_CODE_COUNT)
    hashes = [hash_recovery_code(key=svc.code_key, code=c) for c in codes]
    async with svc.store.begin() as tx:
        await tx.recovery.replace_all(account.id, hashes, now=now)
        await _record(
            tx,
            at=now,
            account=account,
            client=client,
            type=EventType.RECOVERY_CODES_GENERATED,
            result="ok",
            details={"count": len(codes)},
        )
    return codes


# -- phone (SMS) ----------------------------------------------------------------------------


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
        await _record(
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
            await _record(
                tx,
                at=now,
                account=account,
                client=client,
                type=EventType.PHONE_VERIFIED,
                result="ok",
                details={"phone": _mask_phone(row.target)},
            )
            return str(row.target)
    # a wrong try is counted in its own transaction so the failure cannot roll it back
    async with svc.store.begin() as tx:
        if row is not None:
            await tx.codes.add_attempt(row.id)
        await _record(
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
        await _record(
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
        return
    await _reauthenticated(
        svc,
        account=account,
        password=password,
        code=code,
        client=client,
        event=EventType.PHONE_REMOVED,
        change=change,
    )


# -- two-step mode --------------------------------------------------------------------------


async def set_two_step_mode(
    svc: Services,
    *,
    auth: Authenticated,
    mode: str,
    password: str | None = None,
    code: str | None = None,
    client: ClientContext,
) -> str:
    """Set the mode. Raising needs nothing more; lowering needs re-authentication. "off" is
    refused (`two_step_required`) for an account the operator flagged, or when policy is "all"."""
    if mode not in MODES:
        raise InputError("unknown two-step mode", code="invalid_mode", field="mode")
    account = auth.account
    old = account.two_step_mode if account.two_step_mode in MODES else "new_devices"
    if mode == old:
        return mode
    if mode == "off" and (account.two_step_forced or svc.settings.two_step_required == "all"):
        raise InputError(
            "two-step verification is required", code="two_step_required", field="mode"
        )

    async def change(tx: Tx) -> None:
        await tx.accounts.set_two_step_mode(account.id, mode)
        await _record(
            tx,
            at=svc.clock.now(),
            account=account,
            client=client,
            type=EventType.TWO_STEP_MODE_CHANGED,
            result="ok",
            details={"from": old, "to": mode},
        )

    if MODES.index(mode) > MODES.index(old):
        async with svc.store.begin() as tx:
            await change(tx)
    else:
        await _reauthenticated(
            svc,
            account=account,
            password=password,
            code=code,
            client=client,
            event=EventType.TWO_STEP_MODE_CHANGED,
            change=change,
        )
    return mode


# -- devices --------------------------------------------------------------------------------


async def list_devices(svc: Services, *, auth: Authenticated) -> list[Device]:
    async with svc.store.begin() as tx:
        return await tx.devices.for_account(auth.account.id)


async def untrust_device(
    svc: Services, *, auth: Authenticated, device_id: int, client: ClientContext
) -> None:
    """Ask for the second step again on this browser (DEVICE_TRUSTED, result "revoked")."""
    account = auth.account
    now = svc.clock.now()
    async with svc.store.begin() as tx:
        device = await tx.devices.get(device_id=device_id, account_id=account.id)
        if device is None:
            raise NotFound("device")
        await tx.devices.trust(device_id=device_id, account_id=account.id, until=None)
        await _record(
            tx,
            at=now,
            account=account,
            client=client,
            type=EventType.DEVICE_TRUSTED,
            result="revoked",
            details={"device_id": device_id, "browser": device.browser, "os": device.os},
        )


async def forget_device(
    svc: Services, *, auth: Authenticated, device_id: int, client: ClientContext
) -> None:
    """Forget a browser: its cookie is no longer recognized (nor trusted) for this account."""
    account = auth.account
    now = svc.clock.now()
    async with svc.store.begin() as tx:
        device = await tx.devices.get(device_id=device_id, account_id=account.id)
        if device is None or not await tx.devices.forget(
            device_id=device_id, account_id=account.id
        ):
            raise NotFound("device")
        await _record(
            tx,
            at=now,
            account=account,
            client=client,
            type=EventType.DEVICE_FORGOTTEN,
            result="ok",
            details={"device_id": device_id, "browser": device.browser, "os": device.os},
        )
