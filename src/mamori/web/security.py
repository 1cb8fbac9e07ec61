"""HTTP security: body limit, security headers, client IP, CSRF.

CSRF has two defenses, both required for every state-changing request from a browser:
- HTML forms carry a token that must equal the `__Host-mamori_csrf` cookie (double submit,
  compared in constant time);
- every unsafe request must not be cross-site: `Sec-Fetch-Site` (when the browser sends it) must
  be same-origin or none, and `Origin` (when present) must be this service's origin. JSON API
  calls must also be `application/json`, which a cross-site form cannot send without a preflight.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mamori.errors import InputError
from mamori.netaddr import client_ip

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)


# Added to every response that does not set them itself.
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = tuple(
    (name.lower().encode("latin-1"), value.encode("latin-1"))
    for name, value in (
        ("Content-Security-Policy", CSP),
        ("X-Frame-Options", "DENY"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
        ("Cache-Control", "no-store"),
    )
)
HSTS = (b"strict-transport-security", b"max-age=31536000")


class CSRFFailed(InputError):
    code = "csrf_failed"


def replaying(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands out `body` (read already) as one message, then whatever the
    connection sends next (a disconnect)."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class SecurityMiddleware:
    """Pure ASGI: caps the request body, resolves the client IP, adds security headers."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        trusted_proxies: Sequence[IPv4Network | IPv6Network],
        hsts: bool,
    ) -> None:
        self.app = app
        self.max_body = max_body_bytes
        self.trusted = tuple(trusted_proxies)
        self.headers = (*SECURITY_HEADERS, HSTS) if hsts else SECURITY_HEADERS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        peer = scope.get("client")
        xff = headers.get(b"x-forwarded-for")
        scope.setdefault("state", {})["client_ip"] = client_ip(
            peer=peer[0] if peer else None,
            forwarded_for=xff.decode("latin-1") if xff else None,
            trusted_proxies=self.trusted,
        )
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.max_body
            except ValueError:
                too_big = True
            if too_big:
                await _reject_too_large(scope, receive, send)
                return
        # Bodies are small (64 KiB by default): read the whole body first, so an oversized
        # chunked body is answered 413 here instead of failing somewhere inside a parser.
        chunks: list[bytes] = []
        received = 0
        more = scope["method"] not in ("GET", "HEAD", "OPTIONS") or declared is not None
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            received += len(body)
            if received > self.max_body:
                await _reject_too_large(scope, receive, send)
                return
            chunks.append(body)
            more = bool(message.get("more_body", False))
        replay = replaying(b"".join(chunks), receive)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = list(message.get("headers", ()))
                present = {name.lower() for name, _ in raw}
                raw.extend(h for h in self.headers if h[0] not in present)
                message["headers"] = raw
            await send(message)

        await self.app(scope, replay, send_with_headers)


async def _reject_too_large(scope: Scope, receive: Receive, send: Send) -> None:
    body = json.dumps(
        {"error": {"code": "body_too_large", "message": "The request body is too large."}}
    ).encode()
    response = Response(
        body, status_code=413, media_type="application/json", headers={"Connection": "close"}
    )
    await response(scope, receive, send)


def check_not_cross_site(request: Request, *, public_url: str) -> None:
    """Refuse cross-site unsafe requests. `Sec-Fetch-Site` is authoritative when the browser
    sends it; otherwise a present, non-opaque `Origin` must be ours. (With our no-referrer
    policy, browsers send `Origin: null` on same-origin form posts, so "null" alone proves
    nothing either way; the form's CSRF token still has to match.)"""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        if site not in ("same-origin", "none"):
            raise CSRFFailed("cross-site request refused")
        return
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        expected = (
            public_url.rstrip("/") if public_url else f"{request.url.scheme}://{request.url.netloc}"
        )
        if origin != expected:
            raise CSRFFailed("cross-origin request refused")


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_matches(cookie: str | None, submitted: str | None) -> bool:
    if not cookie or not submitted:
        return False
    return hmac.compare_digest(cookie.encode(), submitted.encode())
