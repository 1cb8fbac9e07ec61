"""The one JSON error shape `{"error": {"code", "message"}}`, or a clear page for browsers."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from mamori.errors import (
    AccountRestricted,
    AccountSuspended,
    AuthError,
    CodeInvalid,
    Forbidden,
    InputError,
    LoginDenied,
    MamoriError,
    NotAuthenticated,
    NotFound,
    Overloaded,
    PasswordRejected,
    Refused,
)
from mamori.web import i18n


def wants_json(request: Request) -> bool:
    path = request.url.path
    if path.startswith("/api/") or path in ("/healthz", "/openapi.json"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def error_message(exc: MamoriError, lang: str, default: str) -> str:
    key = f"err_{exc.code}"
    return i18n.t(key, lang) if i18n.has(key) else (exc.message or default)


def password_messages(
    violations: tuple[str, ...], lang: str, *, min_len: int, max_len: int
) -> list[str]:
    return [i18n.t(f"pw_{v}", lang, min=min_len, max=max_len) for v in violations]


def status_for(exc: MamoriError) -> int:
    if isinstance(exc, Overloaded):
        return 503
    if isinstance(exc, Refused):
        return 429
    if isinstance(exc, (AccountRestricted, AccountSuspended, Forbidden, LoginDenied)):
        return 403
    if isinstance(exc, NotAuthenticated):
        return 401
    if isinstance(exc, CodeInvalid):
        return 400
    if isinstance(exc, AuthError):
        return 401
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, InputError):
        return {
            "body_too_large": 413,
            "csrf_failed": 403,
            "unsupported_media_type": 415,
            "malformed_json": 400,
            "invalid_encoding": 400,
        }.get(exc.code, 422)
    return 400


def error_response(
    request: Request, status: int, exc: MamoriError, *, fields: list[str] | None = None
) -> Response:
    services = getattr(request.app.state, "services", None)
    default_lang = services.settings.default_language if services else "ja"
    lang = i18n.negotiate(request, default_lang)
    message = error_message(exc, lang, "error")
    body: dict[str, Any] = {"code": exc.code, "message": message}
    field = getattr(exc, "field", "")
    if field:
        body["field"] = field
    if fields:
        body["fields"] = fields
    if isinstance(exc, PasswordRejected):
        body["violations"] = list(exc.violations)
        if services is not None:
            s = services.settings
            body["details"] = password_messages(
                exc.violations, lang, min_len=s.password_min_length, max_len=s.password_max_length
            )
    headers = None
    if isinstance(exc, Refused):
        body["retry_after"] = exc.retry_after
        headers = {"Retry-After": str(exc.retry_after)}
    if wants_json(request):
        return JSONResponse({"error": body}, status_code=status, headers=headers)
    from mamori.web.render import render_page

    return (
        render_page(
            request, "error.html", {"status": status, "message": message}, status_code=status
        )
        if services is not None
        else HTMLResponse(message, status_code=status)
    )
