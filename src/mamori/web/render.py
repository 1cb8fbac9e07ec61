"""Jinja2 rendering with the request's language and CSRF token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from mamori.web import i18n
from mamori.web.cookies import csrf_token_for, set_csrf_cookie

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    auto_reload=False,
)


def lang_of(request: Request) -> str:
    lang = getattr(request.state, "lang", None)
    if lang is None:
        lang = i18n.negotiate(request, request.app.state.services.settings.default_language)
        request.state.lang = lang
    return str(lang)


def render_page(
    request: Request, template: str, context: dict[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    lang = lang_of(request)
    csrf = csrf_token_for(request)

    def t(key: str, **params: object) -> str:
        return i18n.t(key, lang, **params)

    html = _env.get_template(template).render(
        request=request,
        lang=lang,
        t=t,
        csrf_token=csrf,
        dev=request.app.state.services.settings.dev,
        path=request.url.path,
        **context,
    )
    response = HTMLResponse(html, status_code=status_code)
    set_csrf_cookie(request, response, csrf)
    return response
