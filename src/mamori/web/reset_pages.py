"""Forgot password / reset: JSON API, pages (Japanese and English) and the reset cookie.

JSON API under /api/v1/password (unsafe calls pass `guard_unsafe`: JSON only, never cross-site):
  POST /forgot                  {"login_id_or_email"} -> 202 {"status": "sent_if_exists",
                                "reset_id", "expires_in"}, the same for any input (429 only
                                when this address asked too often)
  POST /reset/verify            {"reset_id", "code"} -> {"status": "verified", "next":
                                "second_step" | "password", "methods"}
  POST /reset/second-step       {"reset_id", "method": totp|sms|recovery, "code"} -> next
  POST /reset/second-step/send  {"reset_id"} -> an SMS code to the verified phone
  POST /reset/complete          {"reset_id", "new_password"} -> {"status": "ok"}; every session
                                ended, nobody logged in (422 password_rejected with violations)
Errors: 400 code_invalid (tries left), 400 reset_failed (ask for a new reset), 422
reset_not_verified / second_step_required / invalid_method, 429 resend_limited.

Pages: /forgot, /reset/continue (every stage of the reset held in the `__Host-mamori_reset`
cookie: the emailed code, the second step, the new password), /reset/{token} (the emailed
link: GET only shows the next form, since mail scanners open links; the form's POST accepts
the link once and moves this browser to its own handle in the cookie). A forced reset after
login sets the same cookie (`set_reset_cookie`) and sends the browser to /reset/continue.

`mamori.web.pages` is imported as a module (its helpers are looked up when called), so pages.py
may import the cookie helpers from here without an import cycle.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import Field, StrictStr
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mamori.errors import MamoriError, Refused
from mamori.flows import reset as reset_flow
from mamori.flows.reset import ResetFailed, ResetState
from mamori.web import i18n, pages
from mamori.web.api import _Strict, guard_unsafe
from mamori.web.deps import ClientDep, ServicesDep, client_of, services_of
from mamori.web.errors import status_for
from mamori.web.render import lang_of, render_page

router = APIRouter()
api = APIRouter(prefix="/api/v1/password", dependencies=[Depends(guard_unsafe)], tags=["reset"])

CONTINUE = "/reset/continue"
_MAX_TOKEN = 128


# -- the reset cookie -----------------------------------------------------------------------


def _secure(request: Request) -> bool:
    return bool(services_of(request).settings.cookie_secure)


def reset_cookie_name(request: Request) -> str:
    return "__Host-mamori_reset" if _secure(request) else "mamori_reset"


def reset_cookie_of(request: Request) -> str:
    return request.cookies.get(reset_cookie_name(request), "")[:_MAX_TOKEN]


def set_reset_cookie(
    request: Request, response: Response, reset_id: str, *, max_age: int | None = None
) -> None:
    """This browser's open reset (kept out of URLs, history and logs), for the reset's life."""
    ttl = services_of(request).settings.password_reset_minutes * 60
    response.set_cookie(
        reset_cookie_name(request),
        reset_id,
        max_age=max_age if max_age is not None else ttl,
        path="/",
        secure=_secure(request),
        httponly=True,
        samesite="strict",
    )


def clear_reset_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        reset_cookie_name(request),
        path="/",
        secure=_secure(request),
        httponly=True,
        samesite="strict",
    )


# -- JSON API -------------------------------------------------------------------------------


class ForgotIn(_Strict):
    login_id_or_email: StrictStr = Field(max_length=320)


class VerifyIn(_Strict):
    reset_id: StrictStr = Field(min_length=1, max_length=_MAX_TOKEN)
    code: StrictStr = Field(max_length=64)


class SecondStepIn(_Strict):
    reset_id: StrictStr = Field(min_length=1, max_length=_MAX_TOKEN)
    method: StrictStr = Field(max_length=16)
    code: StrictStr = Field(max_length=64)


class SendIn(_Strict):
    reset_id: StrictStr = Field(min_length=1, max_length=_MAX_TOKEN)
    method: StrictStr = Field(default="sms", pattern="^sms$")


class CompleteIn(_Strict):
    reset_id: StrictStr = Field(min_length=1, max_length=_MAX_TOKEN)
    new_password: StrictStr = Field(max_length=4096)


def state_json(state: ResetState) -> dict[str, Any]:
    return {"next": state.stage, "methods": list(state.methods)}


@api.post("/forgot", status_code=202)
async def forgot_json(body: ForgotIn, svc: ServicesDep, client: ClientDep) -> Response:
    requested = await reset_flow.request(
        svc, login_id_or_email=body.login_id_or_email, client=client
    )
    return JSONResponse(
        {
            "status": "sent_if_exists",
            "reset_id": requested.reset_id,
            "expires_in": requested.expires_in,
        },
        status_code=202,
    )


@api.post("/reset/verify")
async def verify_json(body: VerifyIn, svc: ServicesDep, client: ClientDep) -> dict[str, Any]:
    state = await reset_flow.verify_code(svc, reset_id=body.reset_id, code=body.code, client=client)
    return {"status": "verified", **state_json(state)}


@api.post("/reset/second-step")
async def second_step_json(
    body: SecondStepIn, svc: ServicesDep, client: ClientDep
) -> dict[str, Any]:
    state = await reset_flow.second_step(
        svc, reset_id=body.reset_id, method=body.method, code=body.code, client=client
    )
    return {"status": "ok", **state_json(state)}


@api.post("/reset/second-step/send")
async def send_json(body: SendIn, svc: ServicesDep, client: ClientDep) -> dict[str, Any]:
    await reset_flow.send_sms(svc, reset_id=body.reset_id, client=client)
    return {"status": "code_sent", "sent_to": "sms"}


@api.post("/reset/complete")
async def complete_json(body: CompleteIn, svc: ServicesDep, client: ClientDep) -> dict[str, Any]:
    await reset_flow.complete(
        svc, reset_id=body.reset_id, new_password=body.new_password, client=client
    )
    return {"status": "ok"}


router.include_router(api)


# -- pages ----------------------------------------------------------------------------------

_TEMPLATES = {
    "code": "reset_code.html",
    "second_step": "reset_second_step.html",
    "password": "reset_password.html",
}


def _stage_page(
    request: Request,
    state: ResetState,
    *,
    action: str = CONTINUE,
    errors: list[str] | None = None,
    notice: str = "",
    status_code: int = 200,
) -> Response:
    return render_page(
        request,
        _TEMPLATES[state.stage],
        {
            "state": state,
            "action": action,
            "errors": errors or [],
            "notice": notice,
            "minutes": services_of(request).settings.password_reset_minutes,
        },
        status_code=status_code,
    )


def _invalid(request: Request, *, status_code: int = 410) -> Response:
    response = render_page(request, "reset_invalid.html", {}, status_code=status_code)
    clear_reset_cookie(request, response)
    return response


@router.get("/forgot", include_in_schema=False)
async def forgot_page(request: Request) -> Response:
    return render_page(request, "reset_forgot.html", {"errors": [], "value": ""})


@router.post("/forgot", include_in_schema=False)
async def forgot_submit(request: Request) -> Response:
    form = await pages.read_form(request)
    value = pages.field(form, "login_id_or_email")[:320]
    try:
        requested = await reset_flow.request(
            services_of(request), login_id_or_email=value, client=client_of(request)
        )
    except MamoriError as exc:
        page = render_page(
            request,
            "reset_forgot.html",
            {"errors": pages.form_errors(request, exc), "value": value},
            status_code=status_for(exc),
        )
        if isinstance(exc, Refused):
            page.headers["Retry-After"] = str(exc.retry_after)
        return page
    response = pages.redirect(CONTINUE)
    set_reset_cookie(request, response, requested.reset_id)
    return response


@router.get(CONTINUE, include_in_schema=False)
async def continue_page(request: Request) -> Response:
    handle = reset_cookie_of(request)
    if not handle:
        return pages.redirect("/forgot")
    state = await reset_flow.describe(services_of(request), handle)
    if state is None:
        return _invalid(request)
    return _stage_page(request, state)


@router.post(CONTINUE, include_in_schema=False)
async def continue_submit(request: Request) -> Response:
    form = await pages.read_form(request)
    handle = reset_cookie_of(request)
    if not handle:
        return _invalid(request)
    return await _act(request, handle, form)


@router.get("/reset/{token}", include_in_schema=False)
async def link_page(request: Request, token: str) -> Response:
    """The emailed link: shows the next form and changes nothing (mail scanners open links)."""
    state = await reset_flow.open_link(services_of(request), token[:_MAX_TOKEN])
    if state is None:
        return _invalid(request)
    return _stage_page(request, state, action=f"/reset/{token[:_MAX_TOKEN]}")


@router.post("/reset/{token}", include_in_schema=False)
async def link_submit(request: Request, token: str) -> Response:
    """The first form after the link: accept the link once, give this browser its own handle
    (in the cookie), then do what the form asked."""
    form = await pages.read_form(request)
    try:
        handle, _ = await reset_flow.verify_link(services_of(request), token=token[:_MAX_TOKEN])
    except ResetFailed:
        return _invalid(request)
    return await _act(request, handle, form)


async def _act(request: Request, handle: str, form: FormData) -> Response:
    """One step of the reset held by `handle`: the emailed code, the second step (or sending
    its SMS code), or the new password. Successes redirect to the next stage (303); every
    answer but the last and a failed reset keeps the handle in the cookie."""
    svc = services_of(request)
    client = client_of(request)
    action = pages.field(form, "action")
    notice = ""
    try:
        if action == "code":
            await reset_flow.verify_code(
                svc, reset_id=handle, code=pages.field(form, "code")[:64], client=client
            )
        elif action == "second_step":
            await reset_flow.second_step(
                svc,
                reset_id=handle,
                method=pages.field(form, "method")[:16],
                code=pages.field(form, "code")[:64],
                client=client,
            )
        elif action == "send_sms":
            await reset_flow.send_sms(svc, reset_id=handle, client=client)
            notice = i18n.t("reset_sms_sent", lang_of(request))
        elif action == "password":
            await reset_flow.complete(
                svc,
                reset_id=handle,
                new_password=pages.field(form, "new_password")[:4096],
                client=client,
            )
            done = render_page(request, "reset_done.html", {})
            clear_reset_cookie(request, done)
            return done
    except ResetFailed:
        return _invalid(request)
    except MamoriError as exc:
        state = await reset_flow.describe(svc, handle)
        if state is None:
            return _invalid(request)
        page = _stage_page(
            request, state, errors=pages.form_errors(request, exc), status_code=status_for(exc)
        )
        if isinstance(exc, Refused):
            page.headers["Retry-After"] = str(exc.retry_after)
        set_reset_cookie(request, page, handle)
        return page
    if notice:
        state = await reset_flow.describe(svc, handle)
        if state is None:
            return _invalid(request)
        page = _stage_page(request, state, notice=notice)
        set_reset_cookie(request, page, handle)
        return page
    response = pages.redirect(CONTINUE)
    set_reset_cookie(request, response, handle)
    return response
