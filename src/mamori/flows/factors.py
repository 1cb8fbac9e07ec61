"""Second factors: the shared helpers, what the login challenge calls, and re-authentication.

For the login challenge (called INSIDE the caller's transaction; they never commit or send):
  login_methods(tx, account) -> ["totp", "sms", "email", "recovery"] (those that apply, in order)
  check_totp(svc, tx, account=, code=, client=) -> (ok, replay marker or None); on a replay the
      CALLER issues the "totp_replay" notice once its transaction is over
  use_recovery_code(svc, tx, account=, code=, client=) -> ok (the "recovery_code_used" notice
      goes out in the background)
  trust_device(svc, tx, account=, device_id=, client=) -> trusted until

The settings operations built on these live in `mamori.flows.security_settings` (overview,
authenticator app, recovery codes, two-step mode, devices) and `mamori.flows.phone` (SMS).

Re-authentication (`reauthenticated`, `reserve_reauth`). Removing a factor (TOTP, a verified
phone) or lowering the mode (off < new_devices < every_login) needs the password AND a current
second factor: a TOTP code when an authenticator is enrolled (a recovery code is accepted
instead, as it is the backup for a lost authenticator), else a recovery code when unused ones
exist, else the password alone. Email and SMS codes never count here: they prove the mailbox or
phone, which the change is about. Regenerating recovery codes needs the password (they are a way
past the second step, so a stolen session alone must not be able to mint them). Adding factors
and raising the mode need nothing extra. Every re-authentication attempt is counted per account
before the password hash (at most REAUTH_LIMIT per REAUTH_WINDOW seconds, then 429): a stolen
session cannot brute-force the password or a 6-digit code here.

Secrets: the TOTP key is stored sealed (`mamori.secretbox`, AES-GCM bound to the account),
recovery and phone codes as HMACs; none is ever logged or put in an event.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from mamori.errors import CodeInvalid, InputError, InvalidCredentials, Refused
from mamori.flows import notices
from mamori.flows.services import Services
from mamori.models import Account, ClientContext, EventType, Message
from mamori.otp import find_recovery_code, normalize_otp, verify_totp
from mamori.secretbox import SecretBox, SecretBoxError
from mamori.store import Tx
from mamori.store.factors import TotpFactor

log = logging.getLogger("mamori.factors")

TOTP_WINDOW = 1  # steps either side (clock drift)
REAUTH_LIMIT = 10
REAUTH_WINDOW = 900.0


def totp_box(svc: Services) -> SecretBox:
    return SecretBox(svc.settings.secret_key, purpose="totp")


def totp_context(account_id: int) -> str:
    return f"totp:{account_id}"


async def record(
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


def open_secret(svc: Services, factor: TotpFactor) -> str | None:
    try:
        return totp_box(svc).open(factor.secret_enc, context=totp_context(factor.account_id))
    except SecretBoxError:
        # the secret key changed or the row was altered: the authenticator cannot be used
        log.error("TOTP key of account %s does not open", factor.account_id)
        return None


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
    recorded in `tx` and (False, marker) comes back, where `marker` describes the replay; the
    CALLER then issues the owner's notice (`notices.notify(kind="totp_replay")`) after its
    transaction commits. The marker itself is never sent. Any other code: (False, None), nothing
    recorded (the caller records its own failure). No confirmed authenticator: (False, None).
    """
    factor = await tx.totp.get(account.id)
    if factor is None or not factor.confirmed:
        return False, None
    secret = open_secret(svc, factor)
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
    await record(
        tx,
        at=now,
        account=account,
        client=client,
        type=EventType.TOTP_REPLAY,
        result="fail",
        reason="replay",
        details={"step": result.step},
    )
    notice = Message(
        channel="email",
        to=account.email,
        subject="",
        body=(
            f"totp_replay {now:%Y-%m-%d %H:%M} UTC: {client.browser or '?'} "
            f"({client.os or '?'}), {_location(client)}"
        ),
        kind="totp_replay",
        account_id=account.id,
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
    await record(
        tx,
        at=now,
        account=account,
        client=client,
        type=EventType.RECOVERY_CODE_USED,
        result="ok",
        details={"remaining": remaining},
    )
    notices.notify_later(
        svc,
        account=account,
        kind="recovery_code_used",
        client=client,
        params={"remaining": remaining},
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
    await record(
        tx,
        at=now,
        account=account,
        client=client,
        type=EventType.DEVICE_TRUSTED,
        result="ok",
        details={"device_id": device_id, "until": until.isoformat()},
    )
    return until


# -- re-authentication ------------------------------------------------------------------------


async def reserve_reauth(svc: Services, account: Account) -> None:
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


async def reauthenticated(
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
    await reserve_reauth(svc, account)
    if not await svc.verify_password(stored_hash=account.password_hash, password=password):
        async with svc.store.begin() as tx:
            await record(
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
            await record(
                tx,
                at=svc.clock.now(),
                account=account,
                client=client,
                type=event,
                result="fail",
                reason="totp_replay" if notice is not None else "wrong_code",
            )
    if notice is not None:
        await notices.notify(svc, account=account, kind="totp_replay", client=client)
    if not ok:
        raise CodeInvalid("the second-factor code is wrong or was used before")


async def reauth_kind(tx: Tx, account_id: int) -> str:
    factor = await tx.totp.get(account_id)
    if factor is not None and factor.confirmed:
        return "totp"
    return "recovery" if await tx.recovery.count_unused(account_id) > 0 else "none"
