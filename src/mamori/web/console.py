"""The operators' console under /admin (Japanese and English), with its own session and CSRF.

  GET  /admin/login, POST /admin/login      name + password + TOTP code
  GET  /admin?range=hour|day|week           the live view (server-side SVG chart)
  GET  /admin/accounts?q=                   search by login ID, email or IP
  GET  /admin/accounts/{id}                 events, devices, risk history, notices, audit
  POST /admin/accounts/{id}/{action}        unlock | require-two-step | restrict | unrestrict |
                                            force-reset   (admin; the last three re-auth)
  GET  /admin/bans, POST /admin/bans, POST /admin/bans/remove    (admin + re-auth to change)
  GET  /admin/tokens, POST /admin/tokens/revoke                  (admin + re-auth to revoke)
  GET  /admin/audit?actor=&before=          the audit log
  GET  /admin/reauth, POST /admin/reauth    password + TOTP again (5 minutes of actions)
  POST /admin/logout

The session cookie is `__Host-mamori_admin` (SameSite=Strict, HttpOnly, Secure). Forms carry a
CSRF token that is an HMAC of the session (the login form: a double-submit cookie of its own),
and every POST must not be cross-site. Pages are `Cache-Control: no-store`. Errors become a
console page (`web/console_kit.py`: an expired session goes back to the login form).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.requests import Request
from starlette.responses import Response

from mamori.errors import InputError, MamoriError, NotAuthenticated, NotFound, Refused
from mamori.flows import live, lookup, operator, operator_tokens, operators, reset
from mamori.web import i18n
from mamori.web.charts import Series, line_chart
from mamori.web.console_kit import (
    HOME,
    ConsoleRoute,
    current,
    field,
    local_path,
    read_form,
    redirect,
    render,
    secure,
    session_cookie,
)
from mamori.web.deps import client_of, services_of
from mamori.web.errors import error_message, status_for
from mamori.web.render import lang_of

COLORS = {
    "attempts": "#5b6475",
    "success": "#1f7a4d",
    "failure": "#b42318",
    "challenge": "#b07d00",
    "block": "#6941c6",
}
X_FORMAT = {"hour": "%H:%M", "day": "%H:%M", "week": "%m/%d"}
ACCOUNT_ACTIONS = ("unlock", "require-two-step", "restrict", "unrestrict", "force-reset")
RANGES = tuple(live.RANGES)

router = APIRouter(prefix=HOME, route_class=ConsoleRoute, include_in_schema=False)


# -- login, re-authentication, logout ------------------------------------------------------------


@router.get("/login")
async def login_page(request: Request) -> Response:
    try:
        await current(request)
        return redirect(HOME)
    except NotAuthenticated:
        pass
    return render(request, "admin_login.html", {"errors": [], "name": ""}, auth=None)


@router.post("/login")
async def login_submit(request: Request) -> Response:
    form = await read_form(request, None)
    svc = services_of(request)
    name = field(form, "name", 128)
    try:
        new = await operators.login(
            svc,
            name=name,
            password=field(form, "password", 4096),
            code=field(form, "code", 64),
            client=client_of(request),
        )
    except MamoriError as exc:
        page = render(
            request,
            "admin_login.html",
            {"errors": [_login_error(request, exc)], "name": name},
            auth=None,
            status_code=status_for(exc),
        )
        if isinstance(exc, Refused):
            page.headers["Retry-After"] = str(exc.retry_after)
        return page
    response = redirect(HOME)
    response.set_cookie(
        session_cookie(request),
        new.token,
        path="/",
        secure=secure(request),
        httponly=True,
        samesite="strict",
    )
    return response


def _login_error(request: Request, exc: MamoriError) -> str:
    lang = lang_of(request)
    if exc.code == "invalid_credentials":
        return i18n.t("adm_login_failed", lang)
    return error_message(exc, lang, "error")


@router.get("/reauth")
async def reauth_page(request: Request, next: str = HOME) -> Response:
    auth = await current(request)
    return render(request, "admin_reauth.html", {"next": local_path(next), "errors": []}, auth=auth)


@router.post("/reauth")
async def reauth_submit(request: Request) -> Response:
    auth = await current(request)
    form = await read_form(request, auth)
    target = local_path(field(form, "next", 300))
    try:
        await operators.reauthenticate(
            services_of(request),
            auth=auth,
            password=field(form, "password", 4096),
            code=field(form, "code", 64),
            client=client_of(request),
        )
    except NotAuthenticated:
        raise
    except MamoriError as exc:
        return render(
            request,
            "admin_reauth.html",
            {"next": target, "errors": [_login_error(request, exc)]},
            auth=auth,
            status_code=status_for(exc),
        )
    return redirect(target)


@router.post("/logout")
async def logout_submit(request: Request) -> Response:
    auth = await current(request)
    await read_form(request, auth)
    await operators.logout(services_of(request), auth=auth, client=client_of(request))
    response = redirect(HOME + "/login")
    response.delete_cookie(
        session_cookie(request), path="/", secure=secure(request), httponly=True, samesite="strict"
    )
    return response


# -- the live view ------------------------------------------------------------------------------


@router.get("")
async def live_page(request: Request, range: str = "hour") -> Response:
    auth = await current(request)
    view = await live.live_view(services_of(request), range_name=range)
    lang = lang_of(request)
    per_minute = view.per_minute
    series = [
        Series(
            key=k,
            label=i18n.t(f"adm_series_{k}", lang),
            values=per_minute[k],
            color=COLORS[k],
            area=k == "attempts",
        )
        for k in live.SERIES
    ]
    chart = line_chart(
        series=series,
        starts=view.starts,
        title=i18n.t(f"adm_chart_title_{view.range}", lang),
        y_label=i18n.t("adm_per_minute", lang),
        x_format=X_FORMAT[view.range],
        chart_id="live-chart",
    )
    context = {"view": view, "chart": chart, "ranges": RANGES, "series_keys": live.SERIES}
    return render(request, "admin_live.html", context, auth=auth)


# -- accounts -----------------------------------------------------------------------------------


@router.get("/accounts")
async def accounts_page(
    request: Request, q: Annotated[str, Query(max_length=254)] = ""
) -> Response:
    auth = await current(request)
    result = await lookup.search(services_of(request), q)
    return render(request, "admin_accounts.html", {"result": result}, auth=auth)


AccountId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("/accounts/{account_id}")
async def account_page(request: Request, account_id: AccountId) -> Response:
    auth = await current(request)
    record = await lookup.account_record(services_of(request), account_id)
    done = request.query_params.get("done", "")
    return render(
        request,
        "admin_account.html",
        {"r": record, "done": done if done in ACCOUNT_ACTIONS else "", "now": _now(request)},
        auth=auth,
    )


def _now(request: Request) -> datetime:
    return services_of(request).clock.now()


@router.post("/accounts/{account_id}/{action}")
async def account_action(request: Request, account_id: AccountId, action: str) -> Response:
    auth = await current(request)
    back = f"{HOME}/accounts/{account_id}"
    request.state.back = back
    form = await read_form(request, auth)
    if action not in ACCOUNT_ACTIONS:
        raise NotFound("action", action[:32])
    svc = services_of(request)
    if action in ("restrict", "unrestrict", "force-reset"):
        operators.require_recent_reauth(svc, auth)
    else:
        operators.require_admin(auth)
    login_id = (await lookup.find(svc, account_id)).login_id
    reason = field(form, "reason", 255).strip()
    client, by = client_of(request), auth.actor
    if action == "unlock":
        await operator.unlock(svc, login_id=login_id, actor=client, by=by)
    elif action == "require-two-step":
        await operator.require_two_step(
            svc,
            login_id=login_id,
            required=field(form, "required") != "off",
            reason=reason,
            actor=client,
            by=by,
        )
    elif action == "restrict":
        await operator.restrict(svc, login_id=login_id, reason=reason, actor=client, by=by)
    elif action == "unrestrict":
        await operator.unrestrict(svc, login_id=login_id, actor=client, by=by)
    else:
        await reset.force_reset(svc, login_id=login_id, reason=reason, actor=client, by=by)
    return redirect(f"{back}?done={action}")


# -- bans, tokens, audit --------------------------------------------------------------------------


@router.get("/bans")
async def bans_page(request: Request) -> Response:
    auth = await current(request)
    bans = await operator.list_bans(services_of(request))
    return render(
        request, "admin_bans.html", {"bans": bans, "kinds": operator.BAN_KINDS}, auth=auth
    )


@router.post("/bans")
async def ban_add(request: Request) -> Response:
    auth = await current(request)
    request.state.back = HOME + "/bans"
    form = await read_form(request, auth)
    svc = services_of(request)
    operators.require_recent_reauth(svc, auth)
    minutes_text = field(form, "minutes", 16).strip()
    try:
        minutes = float(minutes_text) if minutes_text else None
    except ValueError:
        raise InputError("minutes must be a number", code="invalid_ban") from None
    if minutes is not None and not 0 < minutes <= 10 * 365 * 1440:
        raise InputError("minutes out of range", code="invalid_ban")
    await operator.add_ban(
        svc,
        kind=field(form, "kind", 16),
        value=field(form, "value", 128),
        reason=field(form, "reason", 255).strip() or "operator",
        seconds=minutes * 60 if minutes else None,
        actor=client_of(request),
        by=auth.actor,
    )
    return redirect(HOME + "/bans")


@router.post("/bans/remove")
async def ban_remove(request: Request) -> Response:
    auth = await current(request)
    request.state.back = HOME + "/bans"
    form = await read_form(request, auth)
    svc = services_of(request)
    operators.require_recent_reauth(svc, auth)
    await operator.remove_ban(
        svc,
        kind=field(form, "kind", 16),
        value=field(form, "value", 128),
        actor=client_of(request),
        by=auth.actor,
    )
    return redirect(HOME + "/bans")


@router.get("/tokens")
async def tokens_page(request: Request) -> Response:
    auth = await current(request)
    tokens = await operator_tokens.list_tokens(services_of(request))
    return render(request, "admin_tokens.html", {"tokens": tokens}, auth=auth)


@router.post("/tokens/revoke")
async def token_revoke(request: Request) -> Response:
    auth = await current(request)
    request.state.back = HOME + "/tokens"
    form = await read_form(request, auth)
    svc = services_of(request)
    operators.require_recent_reauth(svc, auth)
    await operator_tokens.revoke_token(
        svc, name=field(form, "name", 64), by=auth.actor, reason=field(form, "reason").strip()
    )
    return redirect(HOME + "/tokens")


@router.get("/audit")
async def audit_page(
    request: Request,
    actor: Annotated[str, Query(max_length=80)] = "",
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> Response:
    auth = await current(request)
    limit = 100
    entries = await operators.audit_entries(
        services_of(request), limit=limit, before_id=before, actor=actor or None
    )
    return render(
        request,
        "admin_audit.html",
        {
            "entries": entries,
            "actor": actor,
            "next_before": entries[-1].id if len(entries) == limit else None,
            "summary": operators.audit_summary,
        },
        auth=auth,
    )
