"""HTML pages (Jinja2), in Japanese and English. Every POST form is CSRF-checked."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mamori.errors import (
    ChallengeFailed,
    InputError,
    MamoriError,
    NotFound,
    PasswordRejected,
    Refused,
)
from mamori.flows import account as account_flow
from mamori.flows import challenge as challenge_flow
from mamori.flows import login as login_flow
from mamori.flows import signup as signup_flow
from mamori.web import i18n
from mamori.web.cookies import (
    challenge_cookie_name,
    clear_challenge_cookie,
    clear_session_cookie,
    csrf_cookie_name,
    device_cookie_of,
    set_challenge_cookie,
    set_device_cookie,
    set_session_cookie,
)
from mamori.web.deps import client_of, current_auth, optional_auth, services_of
from mamori.web.errors import error_message, password_messages, status_for
from mamori.web.render import lang_of, render_page
from mamori.web.security import CSRFFailed, check_not_cross_site, csrf_matches

router = APIRouter(include_in_schema=False)


async def read_form(request: Request) -> FormData:
    """Parse a urlencoded form and check CSRF (token + not cross-site)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise InputError("unsupported form encoding", code="unsupported_media_type")
    check_not_cross_site(request, public_url=services_of(request).settings.public_url)
    raw = await request.body()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("invalid UTF-8", code="invalid_encoding") from None
    form = await request.form(max_files=0, max_fields=50)
    token = form.get("csrf_token")
    if not csrf_matches(
        request.cookies.get(csrf_cookie_name(request)), token if isinstance(token, str) else None
    ):
        raise CSRFFailed("CSRF token missing or wrong")
    return form


def field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def form_errors(request: Request, exc: MamoriError) -> list[str]:
    lang = lang_of(request)
    s = services_of(request).settings
    messages = [error_message(exc, lang, "error")]
    if isinstance(exc, PasswordRejected):
        messages += password_messages(
            exc.violations, lang, min_len=s.password_min_length, max_len=s.password_max_length
        )
    return messages


@router.get("/")
async def index(request: Request) -> Response:
    return redirect("/account" if await optional_auth(request) else "/login")


@router.get("/lang/{lang}")
async def switch_language(request: Request, lang: str, next: str = "/") -> Response:
    if lang not in i18n.LANGUAGES:
        raise NotFound("language")
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    response = redirect(target)
    response.set_cookie(
        i18n.LANG_COOKIE,
        lang,
        max_age=365 * 86400,
        path="/",
        samesite="lax",
        secure=services_of(request).settings.cookie_secure,
    )
    return response


@router.get("/login")
async def login_page(request: Request) -> Response:
    return render_page(request, "login.html", {"errors": [], "login_id": ""})


@router.post("/login")
async def login_submit(request: Request) -> Response:
    form = await read_form(request)
    login_id = field(form, "login_id")[:256]
    svc = services_of(request)
    try:
        result = await login_flow.login(
            svc,
            login_id=login_id,
            password=field(form, "password")[:4096],
            remember=field(form, "remember") == "on",
            client=client_of(request),
            device_cookie=device_cookie_of(request),
        )
    except MamoriError as exc:
        page = render_page(
            request,
            "login.html",
            {"errors": form_errors(request, exc), "login_id": login_id},
            status_code=status_for(exc),
        )
        if isinstance(exc, Refused):
            page.headers["Retry-After"] = str(exc.retry_after)
        return page
    if isinstance(result, login_flow.ChallengeStarted):
        response = redirect("/login/challenge")
        set_challenge_cookie(request, response, result.challenge_id, result.expires_in + 3600)
        set_device_cookie(request, response, result.device_cookie)
        return response
    return _logged_in(request, result)


def _logged_in(
    request: Request, result: login_flow.LoginResult | login_flow.ResetRequired
) -> Response:
    if isinstance(result, login_flow.ResetRequired):
        from mamori.web.reset_pages import set_reset_cookie  # (reset_pages imports this module)

        response = redirect("/reset/continue")
        set_reset_cookie(request, response, result.reset_id)
        set_device_cookie(request, response, result.device_cookie)
        clear_challenge_cookie(request, response)
        return response
    response = redirect("/account/single-device" if result.single_device_confirm else "/account")
    set_session_cookie(
        request, response, result.session.token, max_age=result.session.max_age_seconds
    )
    set_device_cookie(request, response, result.device_cookie)
    clear_challenge_cookie(request, response)
    return response


async def _challenge_page(
    request: Request, *, errors: list[str], status_code: int = 200, notice: str = ""
) -> Response:
    svc = services_of(request)
    challenge_id = request.cookies.get(challenge_cookie_name(request), "")[:128]
    ch = await challenge_flow.describe(svc, challenge_id) if challenge_id else None
    if ch is None:
        response = redirect("/login")
        clear_challenge_cookie(request, response)
        return response
    lang = lang_of(request)
    where = ch.code_channel or ""
    return render_page(
        request,
        "challenge.html",
        {
            "errors": errors,
            "notice": notice,
            "methods": ch.methods,
            "sent_to": where,
            "where": i18n.t(f"challenge_where_{where}", lang) if where else "",
            "days": svc.settings.trusted_device_days,
        },
        status_code=status_code,
    )


@router.get("/login/challenge")
async def challenge_page(request: Request) -> Response:
    return await _challenge_page(request, errors=[])


@router.post("/login/challenge")
async def challenge_submit(request: Request) -> Response:
    form = await read_form(request)
    svc = services_of(request)
    challenge_id = request.cookies.get(challenge_cookie_name(request), "")[:128]
    try:
        result = await login_flow.complete_challenge(
            svc,
            challenge_id=challenge_id,
            method=field(form, "method")[:16],
            code=field(form, "code")[:64],
            remember_device=field(form, "remember_device") == "on",
            client=client_of(request),
        )
    except ChallengeFailed as exc:
        page = render_page(
            request,
            "login.html",
            {"errors": form_errors(request, exc), "login_id": ""},
            status_code=status_for(exc),
        )
        clear_challenge_cookie(request, page)
        return page
    except MamoriError as exc:
        return await _challenge_page(
            request, errors=form_errors(request, exc), status_code=status_for(exc)
        )
    return _logged_in(request, result)


@router.post("/login/challenge/resend")
async def challenge_resend(request: Request) -> Response:
    form = await read_form(request)
    svc = services_of(request)
    challenge_id = request.cookies.get(challenge_cookie_name(request), "")[:128]
    try:
        await challenge_flow.resend(
            svc,
            challenge_id=challenge_id,
            method=field(form, "method")[:16] or "email",
            client=client_of(request),
        )
    except MamoriError as exc:
        return await _challenge_page(
            request, errors=form_errors(request, exc), status_code=status_for(exc)
        )
    return await _challenge_page(request, errors=[], notice=i18n.t("code_sent", lang_of(request)))


@router.get("/signup")
async def signup_page(request: Request) -> Response:
    return render_page(request, "signup.html", {"errors": [], "values": {}})


@router.post("/signup")
async def signup_submit(request: Request) -> Response:
    form = await read_form(request)
    values = {k: field(form, k)[:320] for k in ("login_id", "email", "phone")}
    svc = services_of(request)
    try:
        result = await signup_flow.signup(
            svc,
            login_id=values["login_id"],
            email=values["email"],
            password=field(form, "password")[:4096],
            phone=values["phone"] or None,
            language=lang_of(request),
            client=client_of(request),
            device_cookie=device_cookie_of(request),
        )
    except MamoriError as exc:
        return render_page(
            request,
            "signup.html",
            {"errors": form_errors(request, exc), "values": values},
            status_code=422,
        )
    response = redirect("/verify-email")
    set_session_cookie(
        request, response, result.session.token, max_age=result.session.max_age_seconds
    )
    set_device_cookie(request, response, result.device_cookie)
    return response


def _to_login(request: Request) -> Response:
    return redirect("/login?next=" + quote(request.url.path))


@router.get("/verify-email")
async def verify_email_page(request: Request) -> Response:
    auth = await optional_auth(request)
    if auth is None:
        return _to_login(request)
    if auth.account.email_verified:
        return redirect("/account")
    return render_page(
        request, "verify_email.html", {"errors": [], "account": auth.account, "notice": ""}
    )


@router.post("/verify-email")
async def verify_email_submit(request: Request) -> Response:
    form = await read_form(request)
    auth = await current_auth(request)
    svc = services_of(request)
    try:
        await account_flow.verify_email(
            svc, auth=auth, code=field(form, "code")[:32], client=client_of(request)
        )
    except MamoriError as exc:
        return render_page(
            request,
            "verify_email.html",
            {"errors": form_errors(request, exc), "account": auth.account, "notice": ""},
            status_code=400,
        )
    return redirect("/account?verified=1")


@router.post("/verify-email/resend")
async def verify_email_resend(request: Request) -> Response:
    await read_form(request)
    auth = await current_auth(request)
    await account_flow.resend_email_code(services_of(request), auth=auth, client=client_of(request))
    return render_page(
        request,
        "verify_email.html",
        {"errors": [], "account": auth.account, "notice": i18n.t("code_sent", lang_of(request))},
    )


@router.get("/account")
async def account_page(request: Request) -> Response:
    auth = await optional_auth(request)
    if auth is None:
        return _to_login(request)
    svc = services_of(request)
    async with svc.store.begin() as tx:
        sessions = await tx.sessions.active_for(auth.account.id, now=svc.clock.now())
    return render_page(
        request,
        "account.html",
        {
            "account": auth.account,
            "sessions": sessions,
            "current_session": auth.session,
            "verified_notice": request.query_params.get("verified") == "1",
        },
    )


@router.get("/account/history")
async def history_page(request: Request) -> Response:
    auth = await optional_auth(request)
    if auth is None:
        return _to_login(request)
    events = await account_flow.login_history(services_of(request), auth=auth, limit=100)
    return render_page(request, "history.html", {"account": auth.account, "events": events})


@router.get("/account/password")
async def password_page(request: Request) -> Response:
    auth = await optional_auth(request)
    if auth is None:
        return _to_login(request)
    return render_page(
        request, "password.html", {"account": auth.account, "errors": [], "done": False}
    )


@router.post("/account/password")
async def password_submit(request: Request) -> Response:
    form = await read_form(request)
    auth = await current_auth(request)
    try:
        await account_flow.change_password(
            services_of(request),
            auth=auth,
            current_password=field(form, "current_password")[:4096],
            new_password=field(form, "new_password")[:4096],
            sign_out_others=field(form, "sign_out_others") == "on",
            client=client_of(request),
        )
    except MamoriError as exc:
        return render_page(
            request,
            "password.html",
            {"account": auth.account, "errors": form_errors(request, exc), "done": False},
            status_code=422,
        )
    return render_page(
        request, "password.html", {"account": auth.account, "errors": [], "done": True}
    )


@router.post("/logout")
async def logout_submit(request: Request) -> Response:
    await read_form(request)
    auth = await optional_auth(request)
    if auth is not None:
        await login_flow.logout(services_of(request), auth=auth, client=client_of(request))
    response = redirect("/login")
    clear_session_cookie(request, response)
    return response


@router.get("/dev/outbox")
async def outbox_page(request: Request) -> Response:
    svc = services_of(request)
    if not svc.settings.dev:
        raise NotFound("page")
    async with svc.store.begin() as tx:
        entries = await tx.outbox.recent(limit=200)
    return render_page(request, "outbox.html", {"entries": entries})
