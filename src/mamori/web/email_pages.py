"""Changing the account's email address (`flows/email_change.py`): JSON and pages (ja/en).

JSON API under /api/v1/me (unsafe calls pass `guard_unsafe`: JSON only, never cross-site):
  POST /email           {"new_email", "password"} -> 202 {"status": "code_sent"}; the code goes
                        to the new address (401 wrong password, 422 `email_taken` /
                        `invalid_email` / `email_unchanged`, 429 `resend_limited` or too many
                        password tries). Posting again sends a new code (the resend).
  POST /email/confirm   {"code"} -> {"status": "ok", "email": <the new address>}
                        (400 `code_invalid`)

Pages: /account/email (GET: the form, or the code form while a change waits for its code;
`?restart=1` shows the form again), POST /account/email (sends the code, shows the code form),
POST /account/email/confirm (-> 303 /account?email_changed=1). Forms are CSRF-checked
(`pages.read_form`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import Field, StrictStr
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mamori.errors import InvalidCredentials, MamoriError
from mamori.flows import email_change
from mamori.flows.sessions import Authenticated
from mamori.web import i18n
from mamori.web.api import _Strict, guard_unsafe
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
from mamori.web.render import lang_of, render_page

router = APIRouter()
api = APIRouter(prefix="/api/v1/me", dependencies=[Depends(guard_unsafe)], tags=["account"])

PAGE = "/account/email"


class EmailChangeIn(_Strict):
    new_email: StrictStr = Field(max_length=320)
    password: StrictStr = Field(max_length=4096)


class EmailCodeIn(_Strict):
    code: StrictStr = Field(max_length=32)


# -- JSON API -------------------------------------------------------------------------------


@api.post("/email", status_code=202)
async def start_json(
    body: EmailChangeIn, svc: ServicesDep, auth: AuthDep, client: ClientDep
) -> JSONResponse:
    await email_change.start_email_change(
        svc, auth=auth, new_email=body.new_email, password=body.password, client=client
    )
    return JSONResponse({"status": "code_sent"}, status_code=202)


@api.post("/email/confirm")
async def confirm_json(
    body: EmailCodeIn, svc: ServicesDep, auth: AuthDep, client: ClientDep
) -> dict[str, Any]:
    account = await email_change.confirm_email_change(svc, auth=auth, code=body.code, client=client)
    return {"status": "ok", "email": account.email}


router.include_router(api)


# -- pages ----------------------------------------------------------------------------------


def _errors(request: Request, exc: MamoriError) -> list[str]:
    """The flow's errors in this page's words (the shared texts speak of login and sign-up)."""
    lang = lang_of(request)
    if exc.code == "email_taken":
        return [i18n.t("email_change_taken", lang)]
    if isinstance(exc, InvalidCredentials):
        return [i18n.t("email_change_wrong_password", lang)]
    return form_errors(request, exc)


def _page(
    request: Request,
    auth: Authenticated,
    *,
    pending: str | None,
    errors: list[str],
    new_email: str = "",
    status_code: int = 200,
) -> Response:
    context: dict[str, Any] = {
        "account": auth.account,
        "pending": pending,
        "minutes": services_of(request).settings.email_code_minutes,
        "new_email": new_email,
        "errors": errors,
    }
    return render_page(request, "email_change.html", context, status_code=status_code)


def _failed(
    request: Request,
    auth: Authenticated,
    exc: MamoriError,
    *,
    pending: str | None,
    new_email: str = "",
) -> Response:
    response = _page(
        request,
        auth,
        pending=pending,
        errors=_errors(request, exc),
        new_email=new_email,
        status_code=status_for(exc),
    )
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


@router.get(PAGE, include_in_schema=False)
async def email_page(request: Request) -> Response:
    auth = await optional_auth(request)
    if auth is None:
        return redirect("/login?next=" + PAGE)
    restart = request.query_params.get("restart") == "1"
    pending = (
        None
        if restart
        else await email_change.pending_email_change(services_of(request), auth=auth)
    )
    return _page(request, auth, pending=pending, errors=[])


@router.post(PAGE, include_in_schema=False)
async def email_submit(request: Request) -> Response:
    form = await read_form(request)
    auth = await current_auth(request)
    new_email = field(form, "new_email")[:320]
    try:
        address = await email_change.start_email_change(
            services_of(request),
            auth=auth,
            new_email=new_email,
            password=field(form, "password")[:4096],
            client=client_of(request),
        )
    except MamoriError as exc:
        return _failed(request, auth, exc, pending=None, new_email=new_email)
    return _page(request, auth, pending=address, errors=[])


@router.post(PAGE + "/confirm", include_in_schema=False)
async def email_confirm_submit(request: Request) -> Response:
    form = await read_form(request)
    auth = await current_auth(request)
    svc = services_of(request)
    try:
        await email_change.confirm_email_change(
            svc, auth=auth, code=field(form, "code")[:32], client=client_of(request)
        )
    except MamoriError as exc:
        pending = await email_change.pending_email_change(svc, auth=auth)
        return _failed(request, auth, exc, pending=pending)
    return redirect("/account?email_changed=1")
