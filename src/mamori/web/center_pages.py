"""The account security center and single-device mode: pages (Japanese and English) and JSON.

JSON API under /api/v1/me (unsafe calls pass `guard_unsafe`: JSON only, never cross-site):
  GET  /sessions                    active sessions, device info, the caller's marked `current`
  POST /sessions/{id}/revoke        end another session (404 not the account's; 422 the current)
  POST /sessions/revoke-others      {"password"}: end all others (401 wrong, 429 too many tries)
  GET  /events?limit=&before=       recent security events, with the notice to answer
  GET  /single-device               the service mode, the account setting, sessions it would end
  POST /single-device/confirm       "continue": end the other sessions
  POST /single-device/cancel        "cancel": end this session (the cookie is cleared)
  POST /security/single-device      {"on"}: the account setting (service mode "optional" only)

Pages: /account/sessions, /account/events, /account/single-device, each POST form CSRF-checked
(`pages.read_form`) and answered with a redirect (303). "Was this you?" buttons post to the
security inbox (`/account/inbox/{notice_id}/not-me|was-me`). The single-device setting's form
is on the security settings page (`security_pages`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import Field, StrictBool, StrictStr
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mamori.errors import MamoriError
from mamori.flows import center, security_settings
from mamori.flows.center import EventView, SessionView
from mamori.flows.sessions import Authenticated
from mamori.web import i18n
from mamori.web.api import _Strict, guard_unsafe
from mamori.web.cookies import clear_session_cookie
from mamori.web.deps import (
    AuthDep,
    ClientDep,
    ServicesDep,
    client_of,
    current_auth,
    optional_auth,
    services_of,
)
from mamori.web.errors import status_for
from mamori.web.pages import field, form_errors, read_form, redirect
from mamori.web.render import render_page

router = APIRouter()
api = APIRouter(prefix="/api/v1/me", dependencies=[Depends(guard_unsafe)], tags=["center"])

SessionId = Annotated[int, Path(ge=1, le=2**63 - 1)]
SESSIONS, EVENTS, SINGLE = "/account/sessions", "/account/events", "/account/single-device"
LOGIN_TYPES = frozenset({"login_success", "login_failure"})
# the notices a redirect may ask for (?done=...), each an i18n key "center_done_<name>"
DONE = frozenset({"session_revoked", "others_revoked", "single_device"})


class EmptyIn(_Strict):
    pass


class PasswordIn(_Strict):
    password: StrictStr = Field(max_length=4096)


class SingleDeviceIn(_Strict):
    on: StrictBool


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def session_json(view: SessionView) -> dict[str, Any]:
    s = view.session
    return {
        "id": s.id,
        "created_at": s.created_at.isoformat(),
        "last_active_at": s.last_seen_at.isoformat(),
        "ip": s.ip,
        "browser": view.browser,
        "os": view.os,
        "device_type": view.device_type,
        "country": view.country,
        "network": view.network,
        "device_id": view.device_id,
        "remember": s.remember,
        "current": view.current,
    }


def event_json(view: EventView, lang: str) -> dict[str, Any]:
    e, notice = view.event, view.notice
    body: dict[str, Any] = {
        "id": e.id,
        "type": e.type,
        "label_key": view.label_key,
        "label": i18n.t(view.label_key, lang),
        "result": e.result,
        "reason": e.reason,
        "at": e.at.isoformat(),
        "ip": e.ip,
        "browser": e.browser,
        "os": e.os,
        "device_type": e.device_type,
        "country": e.country,
        "network": e.as_name,
        "notice_id": notice.id if notice is not None else None,
        "feedback": notice.feedback if notice is not None else None,
        "answerable": view.answerable,
    }
    if e.type in LOGIN_TYPES:
        body.update(center.login_facts(e))
    return body


async def _single_device_state(request: Request, auth: Authenticated) -> dict[str, Any]:
    svc = services_of(request)
    return {
        "mode": center.single_device_mode(svc),
        "setting_available": center.single_device_mode(svc) == "optional",
        "on": auth.account.single_device,
        "applies": center.single_device_applies(svc, auth.account),
        "other_sessions": await center.pending_single_device(svc, auth),
    }


# -- JSON API -------------------------------------------------------------------------------


@api.get("/sessions")
async def sessions_json(svc: ServicesDep, auth: AuthDep) -> dict[str, Any]:
    views = await center.list_sessions(svc, auth=auth)
    return {"items": [session_json(v) for v in views]}


@api.post("/sessions/revoke-others")
async def revoke_others_json(
    body: PasswordIn, svc: ServicesDep, auth: AuthDep, client: ClientDep
) -> dict[str, Any]:
    ended = await center.revoke_others(svc, auth=auth, password=body.password, client=client)
    return {"status": "ok", "sessions_ended": ended}


@api.post("/sessions/{session_id}/revoke")
async def revoke_session_json(
    session_id: SessionId,
    svc: ServicesDep,
    auth: AuthDep,
    client: ClientDep,
    _body: EmptyIn | None = None,
) -> dict[str, Any]:
    await center.revoke_session(svc, auth=auth, session_id=session_id, client=client)
    return {"status": "ok"}


@api.get("/events")
async def events_json(
    request: Request,
    svc: ServicesDep,
    auth: AuthDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> dict[str, Any]:
    views = await center.recent_events(svc, auth=auth, limit=limit, before_id=before)
    lang = i18n.negotiate(request, svc.settings.default_language)
    return {
        "items": [event_json(v, lang) for v in views],
        "next_before": views[-1].event.id if len(views) == limit else None,
    }


@api.get("/single-device")
async def single_device_json(request: Request, auth: AuthDep) -> dict[str, Any]:
    return await _single_device_state(request, auth)


@api.post("/single-device/confirm")
async def single_device_confirm_json(
    svc: ServicesDep, auth: AuthDep, client: ClientDep, _body: EmptyIn | None = None
) -> dict[str, Any]:
    ended = await center.confirm_single_device(svc, auth=auth, client=client)
    return {"status": "ok", "sessions_ended": ended}


@api.post("/single-device/cancel")
async def single_device_cancel_json(
    request: Request,
    svc: ServicesDep,
    auth: AuthDep,
    client: ClientDep,
    _body: EmptyIn | None = None,
) -> Response:
    await center.cancel_single_device(svc, auth=auth, client=client)
    response = JSONResponse({"status": "ok", "signed_out": True})
    clear_session_cookie(request, response)
    return response


@api.post("/security/single-device")
async def single_device_setting_json(
    body: SingleDeviceIn, svc: ServicesDep, auth: AuthDep, client: ClientDep
) -> dict[str, Any]:
    on = await security_settings.set_single_device(svc, auth=auth, on=body.on, client=client)
    return {"status": "ok", "single_device": on}


router.include_router(api)


# -- pages ----------------------------------------------------------------------------------


def _to_login(path: str) -> Response:
    return redirect("/login?next=" + path)


async def _sessions_page(
    request: Request, auth: Authenticated, *, errors: list[str], status_code: int = 200
) -> Response:
    views = await center.list_sessions(services_of(request), auth=auth)
    done = request.query_params.get("done", "")
    context: dict[str, Any] = {
        "account": auth.account,
        "sessions": views,
        "others": sum(1 for v in views if not v.current),
        "errors": errors,
        "done": done if done in DONE else "",
    }
    return render_page(request, "sessions.html", context, status_code=status_code)


async def _sessions_failed(request: Request, auth: Authenticated, exc: MamoriError) -> Response:
    response = await _sessions_page(
        request, auth, errors=form_errors(request, exc), status_code=status_for(exc)
    )
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


@router.get(SESSIONS, include_in_schema=False)
async def sessions_page(request: Request) -> Response:
    auth = await optional_auth(request)
    if auth is None:
        return _to_login(SESSIONS)
    return await _sessions_page(request, auth, errors=[])


@router.post(SESSIONS + "/revoke-others", include_in_schema=False)
async def revoke_others_submit(request: Request) -> Response:
    form = await read_form(request)
    auth = await current_auth(request)
    try:
        await center.revoke_others(
            services_of(request),
            auth=auth,
            password=field(form, "password")[:4096] or None,
            client=client_of(request),
        )
    except MamoriError as exc:
        return await _sessions_failed(request, auth, exc)
    return redirect(SESSIONS + "?done=others_revoked")


@router.post(SESSIONS + "/{session_id}/revoke", include_in_schema=False)
async def revoke_session_submit(request: Request, session_id: SessionId) -> Response:
    await read_form(request)
    auth = await current_auth(request)
    try:
        await center.revoke_session(
            services_of(request), auth=auth, session_id=session_id, client=client_of(request)
        )
    except MamoriError as exc:
        return await _sessions_failed(request, auth, exc)
    return redirect(SESSIONS + "?done=session_revoked")


@router.get(EVENTS, include_in_schema=False)
async def events_page(
    request: Request,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> Response:
    auth = await optional_auth(request)
    if auth is None:
        return _to_login(EVENTS)
    limit = 50
    views = await center.recent_events(
        services_of(request), auth=auth, limit=limit, before_id=before
    )
    context: dict[str, Any] = {
        "account": auth.account,
        "events": views,
        "facts": {v.event.id: center.login_facts(v.event) for v in views},
        "login_types": LOGIN_TYPES,
        "next_before": views[-1].event.id if len(views) == limit else None,
    }
    return render_page(request, "center_events.html", context)


async def _single_page(
    request: Request, auth: Authenticated, *, errors: list[str], status_code: int = 200
) -> Response:
    state = await _single_device_state(request, auth)
    return render_page(
        request,
        "center_single_device.html",
        {"account": auth.account, "state": state, "errors": errors},
        status_code=status_code,
    )


@router.get(SINGLE, include_in_schema=False)
async def single_device_page(request: Request) -> Response:
    auth = await optional_auth(request)
    if auth is None:
        return _to_login(SINGLE)
    svc = services_of(request)
    if not center.single_device_applies(svc, auth.account):
        return redirect("/account")
    if await center.pending_single_device(svc, auth) == 0:
        return redirect("/account")
    return await _single_page(request, auth, errors=[])


@router.post(SINGLE + "/confirm", include_in_schema=False)
async def single_device_confirm_submit(request: Request) -> Response:
    await read_form(request)
    auth = await current_auth(request)
    try:
        await center.confirm_single_device(
            services_of(request), auth=auth, client=client_of(request)
        )
    except MamoriError as exc:
        return await _single_page(
            request, auth, errors=form_errors(request, exc), status_code=status_for(exc)
        )
    return redirect(SESSIONS + "?done=single_device")


@router.post(SINGLE + "/cancel", include_in_schema=False)
async def single_device_cancel_submit(request: Request) -> Response:
    await read_form(request)
    auth = await current_auth(request)
    await center.cancel_single_device(services_of(request), auth=auth, client=client_of(request))
    response = redirect("/login")
    clear_session_cookie(request, response)
    return response
