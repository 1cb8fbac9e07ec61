"""The ban gate: refuses banned sources on the authentication endpoints before FastAPI runs.

A flood from a banned source must cost as little as possible, so this pure ASGI layer answers
it with a pre-built 429 (JSON for the API, a short page for forms, in Japanese or English) from
the in-process ban cache, before routing, dependency resolution, body parsing or validation.
It sits inside SecurityMiddleware (which resolved the client IP and adds the security headers).
Allowlisted sources pass; in monitor mode nothing is refused (the login flow records what would
have been). The login flow checks again, for callers that do not come through HTTP.

While the process is checking passwords, a refusal waits for those checks to end (at most
PARK_SECONDS, and only MAX_PARKED at a time): banned sources are answered with the CPU that
legitimate logins leave, instead of halving the CPU of a login's hash under a flood.

A ban the detector put on a whole subnet or network also catches the owners who live there: a
login carrying a validly signed device cookie passes the gate, and the login flow refuses it
after the device lookup unless that browser is bound to the account (`Defender.spared_ban`).
Operator bans and single-address bans hold for everyone.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

from mamori.devices import device_hash_from_cookie
from mamori.flows.services import Services
from mamori.web import i18n

GATED = frozenset(
    {
        ("POST", "/api/v1/login"),
        ("POST", "/api/v1/signup"),
        ("POST", "/api/v1/login/challenge"),
        ("POST", "/api/v1/login/challenge/resend"),
        ("POST", "/login/challenge"),
        ("POST", "/login/challenge/resend"),
        ("POST", "/api/v1/password/forgot"),
        ("POST", "/forgot"),
        ("POST", "/login"),
        ("POST", "/signup"),
    }
)


LOGINS = frozenset({"/api/v1/login", "/login"})
PARK_SECONDS = 0.5  # the longest a refusal waits for this process's password checks
MAX_PARKED = 512  # refusals waiting at once, per process
DEVICE_COOKIES = frozenset({"__Host-mamori_device", "mamori_device"})


def _bodies(lang: str) -> tuple[str, bytes]:
    """(JSON prefix awaiting retry_after, page)."""
    message = i18n.t("err_too_many_requests", lang)
    quoted = json.dumps(message, ensure_ascii=False)
    api = '{"error": {"code": "too_many_requests", "message": ' + quoted + ', "retry_after": '

    page = (
        f'<!doctype html><html lang="{lang}"><meta charset="utf-8">'
        f'<link rel="stylesheet" href="/static/mamori.css"><title>429 · Mamori</title>'
        f'<main><section class="card narrow"><h1>{i18n.t("error", lang)} 429</h1>'
        f'<p class="alert error">{message}</p></section></main></html>'
    )
    return api, page.encode()


_BODIES = {lang: _bodies(lang) for lang in i18n.LANGUAGES}


def _language(scope: Scope, default: str) -> str:
    for name, value in scope.get("headers") or ():
        if name == b"accept-language":
            for part in value.decode("latin-1").split(",")[:5]:
                tag = part.strip().split(";")[0].split("-")[0].lower()
                if tag in i18n.LANGUAGES:
                    return str(tag)
    return default


class BanGate:
    def __init__(self, app: ASGIApp, *, services: Services) -> None:
        self.app = app
        self.services = services
        self.parked = 0  # refusals waiting for the password checks to finish

    def _signed_device_cookie(self, scope: Scope) -> bool:
        for name, value in scope.get("headers") or ():
            if name != b"cookie":
                continue
            for part in value.decode("latin-1").split(";"):
                key, _, cookie = part.strip().partition("=")
                if key in DEVICE_COOKIES and device_hash_from_cookie(
                    cookie, key=self.services.settings.secret_key
                ):
                    return True
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"], scope["path"]) not in GATED:
            await self.app(scope, receive, send)
            return
        svc = self.services
        ip = str(scope.get("state", {}).get("client_ip", ""))
        network = svc.geo.lookup(ip).as_name if svc.defender.bans.has_network_bans else ""
        seconds, _note = await svc.defender.refusal(ip, network=network)
        if seconds and scope["path"] in LOGINS and self._signed_device_cookie(scope):
            # a detector's subnet or network ban spares the owners' own browsers: the login
            # flow lets this one through only if its device is bound to the account
            seconds, _note = await svc.defender.refusal(ip, network=network, spare=True)
        if not seconds:
            await self.app(scope, receive, send)
            return
        if svc.gate.in_flight and self.parked < MAX_PARKED:
            # Legitimate work first: while this process checks passwords, a banned source
            # waits for its answer (costing nothing meanwhile) instead of taking the CPU that
            # a login's hash needs (measured in bench/defense.py, part b). A flood then runs
            # at the pace of the leftover CPU; past MAX_PARKED waiting, answers go out at once.
            self.parked += 1
            try:
                await svc.gate.quiet(at_most=PARK_SECONDS)
            finally:
                self.parked -= 1
        api, page = _BODIES[_language(scope, svc.settings.default_language)]
        is_api = scope["path"].startswith("/api/")
        body = (api + f"{seconds}}}}}").encode() if is_api else page
        ctype = b"application/json" if is_api else b"text/html; charset=utf-8"
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", ctype),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(seconds).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
