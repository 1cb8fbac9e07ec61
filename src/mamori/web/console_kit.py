"""Plumbing of the operators' console (`web/console.py`): its cookies, rendering (ja/en,
`Cache-Control: no-store`), CSRF (an HMAC of the console session; for the login form, a
double-submit cookie of its own), the session dependency, and `ConsoleRoute`, which turns
errors into console pages (an expired session: back to the login form; a stale
re-authentication: the re-authentication form)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from mamori.errors import InputError, MamoriError, NotAuthenticated, Refused
from mamori.flows import operators
from mamori.flows.operators import OperatorAuth
from mamori.web import i18n
from mamori.web.deps import services_of
from mamori.web.errors import error_message, status_for
from mamori.web.render import lang_of
from mamori.web.security import CSRFFailed, check_not_cross_site, csrf_matches, new_csrf_token

HOME = "/admin"
_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    auto_reload=False,
)


def secure(request: Request) -> bool:
    return bool(services_of(request).settings.cookie_secure)


def session_cookie(request: Request) -> str:
    return "__Host-mamori_admin" if secure(request) else "mamori_admin"


def login_csrf_cookie(request: Request) -> str:
    return "__Host-mamori_admin_csrf" if secure(request) else "mamori_admin_csrf"


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


def local_path(url: str, default: str = HOME) -> str:
    """A console path to return to (never another site)."""
    ok = url.startswith(HOME) and not url.startswith("//") and "\\" not in url
    return url[:300] if ok else default


def _dt(at: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return at.strftime(fmt) if at is not None else ""


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    auth: OperatorAuth | None,
    status_code: int = 200,
) -> HTMLResponse:
    svc = services_of(request)
    lang = lang_of(request)
    new_cookie = ""
    if auth is not None:
        csrf = operators.csrf_token(svc, auth)
    else:
        csrf = request.cookies.get(login_csrf_cookie(request), "")
        if not 20 <= len(csrf) <= 100:
            csrf = new_cookie = new_csrf_token()

    def t(key: str, **params: object) -> str:
        return i18n.t(key, lang, **params)

    html = _env.get_template(template).render(
        lang=lang,
        t=t,
        has=i18n.has,
        csrf_token=csrf,
        path=request.url.path,
        auth=auth,
        dt=_dt,
        reauth_fresh=auth is not None and auth.reauth_fresh(svc.clock.now()),
        **context,
    )
    response = HTMLResponse(html, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    if new_cookie:
        response.set_cookie(
            login_csrf_cookie(request),
            new_cookie,
            path="/",
            secure=secure(request),
            httponly=True,
            samesite="strict",
        )
    return response


def error_page(request: Request, exc: MamoriError) -> Response:
    auth = getattr(request.state, "operator", None)
    back = local_path(str(getattr(request.state, "back", HOME)))
    if exc.code == "reauth_required" and isinstance(auth, OperatorAuth):
        return render(
            request,
            "admin_reauth.html",
            {"next": back, "errors": [i18n.t("adm_reauth_needed", lang_of(request))]},
            auth=auth,
            status_code=403,
        )
    status = status_for(exc)
    response = render(
        request,
        "admin_error.html",
        {"status": status, "message": error_message(exc, lang_of(request), "error"), "back": back},
        auth=auth if isinstance(auth, OperatorAuth) else None,
        status_code=status,
    )
    if isinstance(exc, Refused):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


class ConsoleRoute(APIRoute):
    """Console errors become console pages; an expired session goes back to the login form."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except NotAuthenticated:
                response = redirect(HOME + "/login")
                response.delete_cookie(
                    session_cookie(request),
                    path="/",
                    secure=secure(request),
                    httponly=True,
                    samesite="strict",
                )
                return response
            except MamoriError as exc:
                return error_page(request, exc)

        return guarded


async def current(request: Request) -> OperatorAuth:
    cached = getattr(request.state, "operator", None)
    if isinstance(cached, OperatorAuth):
        return cached
    token = request.cookies.get(session_cookie(request))
    auth = await operators.resolve(services_of(request), token)
    request.state.operator = auth
    return auth


async def read_form(request: Request, auth: OperatorAuth | None) -> FormData:
    """A urlencoded form, not cross-site, with the console's CSRF token."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        raise InputError("unsupported form encoding", code="unsupported_media_type")
    svc = services_of(request)
    check_not_cross_site(request, public_url=svc.settings.public_url)
    try:
        (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("invalid UTF-8", code="invalid_encoding") from None
    form = await request.form(max_files=0, max_fields=20)
    token = form.get("csrf_token")
    submitted = token if isinstance(token, str) else None
    ok = (
        operators.csrf_ok(svc, auth, submitted)
        if auth is not None
        else csrf_matches(request.cookies.get(login_csrf_cookie(request)), submitted)
    )
    if not ok:
        raise CSRFFailed("CSRF token missing or wrong")
    return form


def field(form: FormData, name: str, limit: int = 255) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""
