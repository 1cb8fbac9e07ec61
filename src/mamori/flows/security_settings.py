"""The signed-in account's two-step settings, each operation its own transaction with a
security event for every change: the overview, the authenticator app (TOTP enrollment, confirm,
remove), recovery-code regeneration, the two-step mode, devices (list, untrust, forget), and
the account's single-device setting (what it does: `mamori.flows.center`).

Phone verification is in `mamori.flows.phone`; the shared helpers and re-authentication are in
`mamori.flows.factors`.
"""

from __future__ import annotations

from dataclasses import dataclass

import segno

from mamori.errors import CodeInvalid, Conflict, InputError, InvalidCredentials, NotFound
from mamori.flows import notices
from mamori.flows.center import single_device_mode
from mamori.flows.factors import (
    TOTP_WINDOW,
    login_methods,
    open_secret,
    reauth_kind,
    reauthenticated,
    record,
    reserve_reauth,
    totp_box,
    totp_context,
)
from mamori.flows.phone import VERIFY_PHONE
from mamori.flows.services import Services
from mamori.flows.sessions import Authenticated
from mamori.models import Account, ClientContext, Device, EventType
from mamori.otp import (
    hash_recovery_code,
    new_recovery_codes,
    new_totp_secret,
    totp_uri,
    verify_totp,
)
from mamori.store import Tx

MODES = ("off", "new_devices", "every_login")  # in order of strictness
RECOVERY_CODE_COUNT = 10


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
            reauth=await reauth_kind(tx, account.id),
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
    sealed = totp_box(svc).seal(secret, context=totp_context(account.id))
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
    secret = open_secret(svc, factor)
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
        secret = open_secret(svc, factor)
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
        await record(
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
    await notices.notify(svc, account=account, kind="totp_added", client=client)


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
        await record(
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
    await reauthenticated(
        svc,
        account=account,
        password=password,
        code=code,
        client=client,
        event=EventType.TOTP_REMOVED,
        change=change,
    )
    await notices.notify(svc, account=account, kind="totp_removed", client=client)


# -- recovery codes -------------------------------------------------------------------------


async def regenerate_recovery_codes(
    svc: Services, *, auth: Authenticated, password: str | None, client: ClientContext
) -> list[str]:
    """A new set of RECOVERY_CODE_COUNT codes (the old set stops working). Needs the password.
    The plain codes are returned once, to show; only their HMACs are stored."""
    account = auth.account
    if not password:
        raise InputError("the password is required", code="password_required", field="password")
    await reserve_reauth(svc, account)
    now = svc.clock.now()
    if not await svc.verify_password(stored_hash=account.password_hash, password=password):
        async with svc.store.begin() as tx:
            await record(
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
        await record(
            tx,
            at=now,
            account=account,
            client=client,
            type=EventType.RECOVERY_CODES_GENERATED,
            result="ok",
            details={"count": len(codes)},
        )
    await notices.notify(svc, account=account, kind="recovery_codes_generated", client=client)
    return codes


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
        await record(
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
        await reauthenticated(
            svc,
            account=account,
            password=password,
            code=code,
            client=client,
            event=EventType.TWO_STEP_MODE_CHANGED,
            change=change,
        )
    await notices.notify(
        svc,
        account=account,
        kind="two_step_changed",
        client=client,
        params={"mode": mode},
        channels=("email", "sms"),
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
        await record(
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
        await record(
            tx,
            at=now,
            account=account,
            client=client,
            type=EventType.DEVICE_FORGOTTEN,
            result="ok",
            details={"device_id": device_id, "browser": device.browser, "os": device.os},
        )


# -- single-device mode ---------------------------------------------------------------------


async def set_single_device(
    svc: Services, *, auth: Authenticated, on: bool, client: ClientContext
) -> bool:
    """Turn the account's single-device setting on or off (SINGLE_DEVICE_CHANGED). Only while
    the service leaves it to each account (`single_device_mode` "optional"); otherwise refused
    with `single_device_not_optional`."""
    if single_device_mode(svc) != "optional":
        raise InputError(
            "single-device mode is not an account setting here",
            code="single_device_not_optional",
            field="on",
        )
    account = auth.account
    if account.single_device == on:
        return on
    async with svc.store.begin() as tx:
        await tx.accounts.set_single_device(account.id, on)
        await record(
            tx,
            at=svc.clock.now(),
            account=account,
            client=client,
            type=EventType.SINGLE_DEVICE_CHANGED,
            result="ok",
            details={"from": account.single_device, "to": on},
        )
    return on
