"""JSON API for the signed-in user's two-step settings, under /api/v1/me/security.

GET  ""                        overview: mode, factors, recovery codes left, devices
POST /mode                     {"mode", "password"?, "code"?}  lowering needs password (+ factor)
POST /totp                     start enrollment -> {"secret", "uri", "qr_svg"}
POST /totp/confirm             {"code"}
POST /totp/remove              {"password", "code"?}
POST /recovery-codes           {"password"} -> {"codes": [...]}, shown once
POST /phone                    {"phone"}  sends a code by SMS
POST /phone/confirm            {"code"}
POST /phone/remove             {"password"?, "code"?}
POST /devices/{id}/untrust     ask for the second step again on that browser
POST /devices/{id}/forget      stop recognizing that browser

Unsafe calls pass the API's CSRF guard (`guard_unsafe`: JSON only, never cross-site). Errors
come from `mamori.errors` and leave in the one JSON shape.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import Field, StrictStr
from starlette.requests import Request

from mamori.devices import device_hash_from_cookie
from mamori.flows import phone, security_settings
from mamori.models import Device
from mamori.web.api import _Strict, guard_unsafe
from mamori.web.cookies import device_cookie_of
from mamori.web.deps import AuthDep, ClientDep, ServicesDep

router = APIRouter(
    prefix="/api/v1/me/security", dependencies=[Depends(guard_unsafe)], tags=["security"]
)

DeviceId = Annotated[int, Path(ge=1, le=2**63 - 1)]


class ModeIn(_Strict):
    mode: StrictStr = Field(max_length=32)
    password: StrictStr | None = Field(default=None, max_length=4096)
    code: StrictStr | None = Field(default=None, max_length=64)


class EmptyIn(_Strict):
    pass


class CodeIn(_Strict):
    code: StrictStr = Field(max_length=64)


class ReauthIn(_Strict):
    password: StrictStr | None = Field(default=None, max_length=4096)
    code: StrictStr | None = Field(default=None, max_length=64)


class PasswordIn(_Strict):
    password: StrictStr = Field(max_length=4096)


class PhoneIn(_Strict):
    phone: StrictStr = Field(max_length=64)


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def device_json(device: Device, *, now: datetime, current_hash: str | None) -> dict[str, Any]:
    trusted = device.trusted_at(now)
    return {
        "id": device.id,
        "browser": device.browser,
        "os": device.os,
        "device_type": device.device_type,
        "country": device.country,
        "network": device.as_name,
        "last_ip": device.last_ip,
        "created_at": device.created_at.isoformat(),
        "last_seen_at": device.last_seen_at.isoformat(),
        "trusted": trusted,
        "trusted_until": _iso(device.trusted_until) if trusted else None,
        "current": current_hash is not None and device.device_hash == current_hash,
    }


def current_device_hash(request: Request, secret_key: str) -> str | None:
    return device_hash_from_cookie(device_cookie_of(request), key=secret_key)


@router.get("")
async def overview(request: Request, svc: ServicesDep, auth: AuthDep) -> dict[str, Any]:
    o = await security_settings.overview(svc, auth=auth)
    now = svc.clock.now()
    current = current_device_hash(request, svc.settings.secret_key)
    return {
        "mode": o.account.two_step_mode,
        "forced": o.account.two_step_forced,
        "modes": list(security_settings.MODES),
        "totp": {"enrolled": o.totp_enrolled, "pending": o.totp_pending},
        "phone": {
            "number": o.account.phone,
            "verified": o.account.phone_verified,
            "pending": o.phone_pending,
        },
        "email": {"address": o.account.email, "verified": o.account.email_verified},
        "recovery_codes": {"remaining": o.recovery_remaining},
        "methods": o.methods,
        "reauth": o.reauth,
        "devices": [device_json(d, now=now, current_hash=current) for d in o.devices],
    }


@router.post("/mode")
async def set_mode(
    body: ModeIn, svc: ServicesDep, auth: AuthDep, client: ClientDep
) -> dict[str, Any]:
    mode = await security_settings.set_two_step_mode(
        svc, auth=auth, mode=body.mode, password=body.password, code=body.code, client=client
    )
    return {"status": "ok", "mode": mode}


@router.post("/totp")
async def start_totp(
    svc: ServicesDep, auth: AuthDep, client: ClientDep, _body: EmptyIn | None = None
) -> dict[str, Any]:
    enrollment = await security_settings.start_totp_enrollment(svc, auth=auth, client=client)
    return {
        "status": "pending",
        "secret": enrollment.secret,
        "uri": enrollment.uri,
        "qr_svg": enrollment.qr_svg,
    }


@router.post("/totp/confirm")
async def confirm_totp(
    body: CodeIn, svc: ServicesDep, auth: AuthDep, client: ClientDep
) -> dict[str, Any]:
    await security_settings.confirm_totp(svc, auth=auth, code=body.code, client=client)
    return {"status": "ok", "totp": {"enrolled": True}}


@router.post("/totp/remove")
async def remove_totp(
    body: ReauthIn, svc: ServicesDep, auth: AuthDep, client: ClientDep
) -> dict[str, Any]:
    await security_settings.remove_totp(
        svc, auth=auth, password=body.password, code=body.code, client=client
    )
    return {"status": "ok", "totp": {"enrolled": False}}


@router.post("/recovery-codes")
async def regenerate_recovery_codes(
    body: PasswordIn, svc: ServicesDep, auth: AuthDep, client: ClientDep
) -> dict[str, Any]:
    codes = await security_settings.regenerate_recovery_codes(
        svc, auth=auth, password=body.password, client=client
    )
    return {"status": "ok", "codes": codes}


@router.post("/phone")
async def start_phone(
    body: PhoneIn, svc: ServicesDep, auth: AuthDep, client: ClientDep
) -> dict[str, Any]:
    number = await phone.start_phone_verification(svc, auth=auth, phone=body.phone, client=client)
    return {"status": "code_sent", "phone": number}


@router.post("/phone/confirm")
async def confirm_phone(
    body: CodeIn, svc: ServicesDep, auth: AuthDep, client: ClientDep
) -> dict[str, Any]:
    number = await phone.confirm_phone(svc, auth=auth, code=body.code, client=client)
    return {"status": "ok", "phone": {"number": number, "verified": True}}


@router.post("/phone/remove")
async def remove_phone(
    body: ReauthIn, svc: ServicesDep, auth: AuthDep, client: ClientDep
) -> dict[str, Any]:
    await phone.remove_phone(svc, auth=auth, password=body.password, code=body.code, client=client)
    return {"status": "ok", "phone": {"number": None, "verified": False}}


@router.post("/devices/{device_id}/untrust")
async def untrust_device(
    device_id: DeviceId,
    svc: ServicesDep,
    auth: AuthDep,
    client: ClientDep,
    _body: EmptyIn | None = None,
) -> dict[str, Any]:
    await security_settings.untrust_device(svc, auth=auth, device_id=device_id, client=client)
    return {"status": "ok"}


@router.post("/devices/{device_id}/forget")
async def forget_device(
    device_id: DeviceId,
    svc: ServicesDep,
    auth: AuthDep,
    client: ClientDep,
    _body: EmptyIn | None = None,
) -> dict[str, Any]:
    await security_settings.forget_device(svc, auth=auth, device_id=device_id, client=client)
    return {"status": "ok"}
