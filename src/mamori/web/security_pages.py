"""The account security settings page (/account/security), in Japanese and English.

Every POST form is CSRF-checked (`pages.read_form`) and answered with a redirect back to the
page (303, with a `done` notice), except where something is shown once: new recovery codes are
rendered straight from the POST (`security_recovery.html`, never stored to show again). The QR
code of a pending authenticator enrollment is inline SVG markup (no script, no external image),
so the page's Content-Security-Policy does not need to change.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from starlette.requests import Request
from starlette.responses import Response

from mamori.errors import MamoriError
from mamori.flows import phone, security_settings
from mamori.flows.center import single_device_mode
from mamori.flows.sessions import Authenticated
from mamori.web.deps import client_of, current_auth, optional_auth, services_of
from mamori.web.errors import status_for
from mamori.web.pages import field, form_errors, read_form, redirect
from mamori.web.render import render_page
from mamori.web.security_api import current_device_hash

router = APIRouter(include_in_schema=False)

PAGE = "/account/security"
DeviceId = Annotated[int, Path(ge=1, le=2**63 - 1)]
# the notices a redirect may ask for (?done=...), each an i18n key "sec_done_<name>"
DONE = frozenset(
    {
        "mode",
        "totp_enrolled",
        "totp_removed",
        "phone_sent",
        "phone_verified",
        "phone_removed",
        "device_untrusted",
        "device_forgotten",
        "single_device",
    }
)


def _done(name: str, anchor: str) -> Response:
    return redirect(f"{PAGE}?done={name}#{anchor}")


async def _page(
    request: Request, auth: Authenticated, *, errors: list[str], status_code: int = 200
) -> Response:
    svc = services_of(request)
    o = await security_settings.overview(svc, auth=auth)
    enrollment = (
        await security_settings.pending_totp_enrollment(svc, auth=auth) if o.totp_pending else None
    )
    done = request.query_params.get("done", "")
    context: dict[str, Any] = {
        "account": o.account,
        "o": o,
        "modes": security_settings.MODES,
        "enrollment": enrollment,
        "now": svc.clock.now(),
        "current_device": current_device_hash(request, svc.settings.secret_key),
        "trusted_days": svc.settings.trusted_device_days,
        "single_device_mode": single_device_mode(svc),
        "errors": errors,
        "done": done if done in DONE else "",
    }
    return render_page(request, "security.html", context, status_code=status_code)


async def _failed(request: Request, auth: Authenticated, exc: MamoriError) -> Response:
    response = await _page(
        request, auth, errors=form_errors(request, exc), status_code=status_for(exc)
    )
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


@router.get(PAGE)
async def security_page(request: Request) -> Response:
    auth = await optional_auth(request)
    if auth is None:
        return redirect("/login?next=" + PAGE)
    return await _page(request, auth, errors=[])


@router.post(PAGE + "/mode")
async def mode_submit(request: Request) -> Response:
    form = await read_form(request)
    auth = await current_auth(request)
    try:
        await security_settings.set_two_step_mode(
            services_of(request),
            auth=auth,
            mode=field(form, "mode")[:32],
            password=field(form, "password")[:4096] or None,
            code=field(form, "code")[:64] or None,
            client=client_of(request),
        )
    except MamoriError as exc:
        return await _failed(request, auth, exc)
    return _done("mode", "mode")


@router.post(PAGE + "/totp")
async def totp_start(request: Request) -> Response:
    await read_form(request)
    auth = await current_auth(request)
    try:
        await security_settings.start_totp_enrollment(
            services_of(request), auth=auth, client=client_of(request)
        )
    except MamoriError as exc:
        return await _failed(request, auth, exc)
    return redirect(PAGE + "#totp")


@router.post(PAGE + "/totp/confirm")
async def totp_confirm(request: Request) -> Response:
    form = await read_form(request)
    auth = await current_auth(request)
    try:
        await security_settings.confirm_totp(
            services_of(request),
            auth=auth,
            code=field(form, "code")[:64],
            client=client_of(request),
        )
    except MamoriError as exc:
        return await _failed(request, auth, exc)
    return _done("totp_enrolled", "totp")


@router.post(PAGE + "/totp/remove")
async def totp_remove(request: Request) -> Response:
    form = await read_form(request)
    auth = await current_auth(request)
    try:
        await security_settings.remove_totp(
            services_of(request),
            auth=auth,
            password=field(form, "password")[:4096] or None,
            code=field(form, "code")[:64] or None,
            client=client_of(request),
        )
    except MamoriError as exc:
        return await _failed(request, auth, exc)
    return _done("totp_removed", "totp")


@router.post(PAGE + "/recovery-codes")
async def recovery_generate(request: Request) -> Response:
    form = await read_form(request)
    auth = await current_auth(request)
    try:
        codes = await security_settings.regenerate_recovery_codes(
            services_of(request),
            auth=auth,
            password=field(form, "password")[:4096] or None,
            client=client_of(request),
        )
    except MamoriError as exc:
        return await _failed(request, auth, exc)
    return render_page(request, "security_recovery.html", {"account": auth.account, "codes": codes})


@router.post(PAGE + "/phone")
async def phone_start(request: Request) -> Response:
    form = await read_form(request)
    auth = await current_auth(request)
    try:
        await phone.start_phone_verification(
            services_of(request),
            auth=auth,
            phone=field(form, "phone")[:64],
            client=client_of(request),
        )
    except MamoriError as exc:
        return await _failed(request, auth, exc)
    return _done("phone_sent", "phone")


@router.post(PAGE + "/phone/confirm")
async def phone_confirm(request: Request) -> Response:
    form = await read_form(request)
    auth = await current_auth(request)
    try:
        await phone.confirm_phone(
            services_of(request),
            auth=auth,
            code=field(form, "code")[:64],
            client=client_of(request),
        )
    except MamoriError as exc:
        return await _failed(request, auth, exc)
    return _done("phone_verified", "phone")


@router.post(PAGE + "/phone/remove")
async def phone_remove(request: Request) -> Response:
    form = await read_form(request)
    auth = await current_auth(request)
    try:
        await phone.remove_phone(
            services_of(request),
            auth=auth,
            password=field(form, "password")[:4096] or None,
            code=field(form, "code")[:64] or None,
            client=client_of(request),
        )
    except MamoriError as exc:
        return await _failed(request, auth, exc)
    return _done("phone_removed", "phone")


@router.post(PAGE + "/devices/{device_id}/untrust")
async def device_untrust(request: Request, device_id: DeviceId) -> Response:
    await read_form(request)
    auth = await current_auth(request)
    try:
        await security_settings.untrust_device(
            services_of(request), auth=auth, device_id=device_id, client=client_of(request)
        )
    except MamoriError as exc:
        return await _failed(request, auth, exc)
    return _done("device_untrusted", "devices")


@router.post(PAGE + "/devices/{device_id}/forget")
async def device_forget(request: Request, device_id: DeviceId) -> Response:
    await read_form(request)
    auth = await current_auth(request)
    try:
        await security_settings.forget_device(
            services_of(request), auth=auth, device_id=device_id, client=client_of(request)
        )
    except MamoriError as exc:
        return await _failed(request, auth, exc)
    return _done("device_forgotten", "devices")


@router.post(PAGE + "/single-device")
async def single_device_submit(request: Request) -> Response:
    form = await read_form(request)
    auth = await current_auth(request)
    try:
        await security_settings.set_single_device(
            services_of(request),
            auth=auth,
            on=field(form, "on") == "on",
            client=client_of(request),
        )
    except MamoriError as exc:
        return await _failed(request, auth, exc)
    return _done("single_device", "single-device")
