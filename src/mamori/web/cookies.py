"""Cookie names and attributes: `__Host-` prefixed, Secure, HttpOnly, SameSite=Lax.

Secure (and with it the `__Host-` prefix, which browsers refuse without Secure) may be dropped
only in dev mode on a loopback address (`MAMORI_COOKIE_SECURE=0`, enforced by `mamori check`).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from mamori.web.security import new_csrf_token


def _secure(request: Request) -> bool:
    return bool(request.app.state.services.settings.cookie_secure)


def session_cookie_name(request: Request) -> str:
    return "__Host-mamori_session" if _secure(request) else "mamori_session"


def device_cookie_name(request: Request) -> str:
    return "__Host-mamori_device" if _secure(request) else "mamori_device"


def device_cookie_of(request: Request) -> str | None:
    return request.cookies.get(device_cookie_name(request))


def set_device_cookie(request: Request, response: Response, value: str | None) -> None:
    """Set a new long-lived device cookie (nothing to do when the browser kept its own)."""
    if value is None:
        return
    days = request.app.state.services.settings.device_cookie_days
    response.set_cookie(
        device_cookie_name(request),
        value,
        max_age=days * 86400,
        path="/",
        secure=_secure(request),
        httponly=True,
        samesite="lax",
    )


def csrf_cookie_name(request: Request) -> str:
    return "__Host-mamori_csrf" if _secure(request) else "mamori_csrf"


def set_session_cookie(
    request: Request, response: Response, token: str, *, max_age: int | None
) -> None:
    response.set_cookie(
        session_cookie_name(request),
        token,
        max_age=max_age,
        path="/",
        secure=_secure(request),
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        session_cookie_name(request),
        path="/",
        secure=_secure(request),
        httponly=True,
        samesite="lax",
    )


def csrf_token_for(request: Request) -> str:
    existing = request.cookies.get(csrf_cookie_name(request))
    if existing and 20 <= len(existing) <= 100:
        return existing
    token: str | None = getattr(request.state, "new_csrf", None)
    if token is None:
        token = new_csrf_token()
        request.state.new_csrf = token
    return token


def set_csrf_cookie(request: Request, response: Response, token: str) -> None:
    if request.cookies.get(csrf_cookie_name(request)) == token:
        return
    response.set_cookie(
        csrf_cookie_name(request),
        token,
        path="/",
        secure=_secure(request),
        httponly=True,
        samesite="lax",
    )


def challenge_cookie_name(request: Request) -> str:
    return "__Host-mamori_challenge" if _secure(request) else "mamori_challenge"


def set_challenge_cookie(request: Request, response: Response, challenge_id: str, ttl: int) -> None:
    """The open login challenge of this browser (kept out of URLs, history and logs)."""
    response.set_cookie(
        challenge_cookie_name(request),
        challenge_id,
        max_age=ttl,
        path="/",
        secure=_secure(request),
        httponly=True,
        samesite="strict",
    )


def clear_challenge_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        challenge_cookie_name(request),
        path="/",
        secure=_secure(request),
        httponly=True,
        samesite="strict",
    )
