"""JSON API under /api/v1. Errors use the one shape `{"error": {"code", "message"}}`."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from mamori.errors import InputError, NotFound
from mamori.flows import account as account_flow
from mamori.flows import center as center_flow
from mamori.flows import challenge as challenge_flow
from mamori.flows import login as login_flow
from mamori.flows import signup as signup_flow
from mamori.models import Account, SecurityEvent
from mamori.passwords import strength
from mamori.store.notices import NoticeRecord
from mamori.web import i18n
from mamori.web.cookies import (
    clear_session_cookie,
    device_cookie_of,
    set_device_cookie,
    set_session_cookie,
)
from mamori.web.deps import AuthDep, ClientDep, ServicesDep, client_of, services_of
from mamori.web.errors import password_messages
from mamori.web.security import check_not_cross_site, replaying


async def guard_unsafe(request: Request) -> None:
    """CSRF guard for state-changing API calls: never cross-site, and a body must be JSON (which
    a cross-site form cannot send without a CORS preflight we never grant)."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    services = request.app.state.services
    check_not_cross_site(request, public_url=services.settings.public_url)
    has_body = request.headers.get("content-length", "0") != "0" or (
        "transfer-encoding" in request.headers
    )
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if (has_body or request.method == "POST") and ctype != "application/json":
        raise InputError("Content-Type must be application/json", code="unsupported_media_type")


router = APIRouter(prefix="/api/v1", dependencies=[Depends(guard_unsafe)], tags=["api"])


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SignupIn(_Strict):
    login_id: StrictStr = Field(max_length=256)
    email: StrictStr = Field(max_length=320)
    password: StrictStr = Field(max_length=4096)
    phone: StrictStr | None = Field(default=None, max_length=64)
    language: StrictStr | None = Field(default=None, max_length=8)


class LoginIn(_Strict):
    login_id: StrictStr = Field(max_length=256)
    password: StrictStr = Field(max_length=4096)
    remember: StrictBool = False


class ChallengeIn(_Strict):
    challenge_id: StrictStr = Field(min_length=1, max_length=128)
    method: StrictStr = Field(max_length=16)
    code: StrictStr = Field(max_length=64)
    remember_device: StrictBool = False


class ResendIn(_Strict):
    challenge_id: StrictStr = Field(min_length=1, max_length=128)
    method: StrictStr = Field(default="email", max_length=16)


class CodeIn(_Strict):
    code: StrictStr = Field(max_length=32)


class PasswordChangeIn(_Strict):
    current_password: StrictStr = Field(max_length=4096)
    new_password: StrictStr = Field(max_length=4096)
    sign_out_others: StrictBool = True


class StrengthIn(_Strict):
    password: StrictStr = Field(max_length=4096)
    login_id: StrictStr = Field(default="", max_length=256)
    email: StrictStr = Field(default="", max_length=320)


def account_json(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "login_id": account.login_id,
        "email": account.email,
        "email_verified": account.email_verified,
        "phone": account.phone,
        "language": account.language,
        "created_at": account.created_at.isoformat(),
    }


def history_json(event: SecurityEvent, notice: NoticeRecord | None = None) -> dict[str, Any]:
    """One login: where from, the risk decision (`risk_level`, `risk_action`), how it was
    completed (`method`, `challenged`), and the notice about it (`notice_id`, `feedback`) that
    "was this you?" answers."""
    return {
        "id": event.id,
        "at": event.at.isoformat(),
        "result": "success" if event.type == "login_success" else "failure",
        "ip": event.ip,
        "browser": event.browser,
        "os": event.os,
        "device_type": event.device_type,
        "country": event.country,
        "asn": event.asn,
        "network": event.as_name,
        **center_flow.login_facts(event),
        "notice_id": notice.id if notice is not None else None,
        "feedback": notice.feedback if notice is not None else None,
    }


def _lang(request: Request, default: str) -> str:
    return i18n.negotiate(request, default)


@router.post("/signup", status_code=201)
async def signup(body: SignupIn, request: Request, svc: ServicesDep, client: ClientDep) -> Response:
    result = await signup_flow.signup(
        svc,
        login_id=body.login_id,
        email=body.email,
        password=body.password,
        phone=body.phone,
        language=body.language or _lang(request, svc.settings.default_language),
        client=client,
        device_cookie=device_cookie_of(request),
    )
    response = JSONResponse(
        {"status": "ok", "account": account_json(result.account)}, status_code=201
    )
    set_session_cookie(
        request, response, result.session.token, max_age=result.session.max_age_seconds
    )
    set_device_cookie(request, response, result.device_cookie)
    return response


@router.post("/login")
async def login(body: LoginIn, request: Request) -> Response:
    # the busiest route takes its services and client from the request, not as dependencies:
    # FastAPI spends ~100 us resolving each one (docs/benchmarks.md, login throughput); and a
    # well-formed call does not even get here, `FastLogin` answers it (below)
    return await log_in(body, request)


async def log_in(body: LoginIn, request: Request) -> Response:
    result = await login_flow.login(
        services_of(request),
        login_id=body.login_id,
        password=body.password,
        remember=body.remember,
        client=client_of(request),
        device_cookie=device_cookie_of(request),
    )
    if isinstance(result, login_flow.ChallengeStarted):
        return challenge_response(request, result)
    return logged_in(request, result)


class FastLogin:
    """`POST /api/v1/login` for a well-formed call, without FastAPI's per-request machinery.

    Mounted as the app's first route. It runs the router's own guard (`guard_unsafe`) and then
    the same `log_in` as the FastAPI route, so the answer is the same; a body that is not a
    valid `LoginIn` sent as `application/json` goes to the FastAPI route itself, so that every
    malformed call gets exactly the errors it always got. Errors raised here reach the app's
    exception handlers as the route's do. What this saves is FastAPI's route dispatch and
    dependency solving: about 0.2 ms of CPU per login (docs/benchmarks.md).
    """

    def __init__(self, route: Any) -> None:
        self.route = route  # the FastAPI route for the same path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = self.route  # as FastAPI's routing records it (metrics read it)
        chunks: list[bytes] = []
        more = True
        while more:  # SecurityMiddleware has buffered the body: one message, in practice
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            more = bool(message.get("more_body"))
        body = b"".join(chunks)
        replay = replaying(body, receive)
        request = Request(scope, replay)
        await guard_unsafe(request)
        data: LoginIn | None = None
        ctype = request.headers.get("content-type", "")
        if ctype.lower() == "application/json" and body:
            with contextlib.suppress(ValidationError):
                data = LoginIn.model_validate_json(body)
        if data is None:
            _, child = self.route.matches(scope)
            scope.update(child)
            await self.route.handle(scope, replay, send)
            return
        response = await log_in(data, request)
        await response(scope, replay, send)


def challenge_json(started: login_flow.ChallengeStarted) -> dict[str, Any]:
    return {
        "status": "challenge",
        "challenge_id": started.challenge_id,
        "methods": list(started.methods),
        "sent_to": started.sent_to,
        "expires_in": started.expires_in,
    }


def challenge_response(request: Request, started: login_flow.ChallengeStarted) -> Response:
    response = JSONResponse(challenge_json(started))
    set_device_cookie(request, response, started.device_cookie)
    return response


def logged_in(
    request: Request, result: login_flow.LoginResult | login_flow.ResetRequired
) -> Response:
    if isinstance(result, login_flow.ResetRequired):
        # a forced reset: no session; set a new password with POST /password/reset/complete
        response = JSONResponse({"status": "password_reset_required", "reset_id": result.reset_id})
        set_device_cookie(request, response, result.device_cookie)
        return response
    body: dict[str, Any] = {"status": "ok", "account": account_json(result.account)}
    if result.single_device_confirm:
        # single-device mode: POST /me/single-device/confirm (or /cancel) signs the others out
        body["single_device_confirm"] = True
    response = JSONResponse(body)
    set_session_cookie(
        request, response, result.session.token, max_age=result.session.max_age_seconds
    )
    set_device_cookie(request, response, result.device_cookie)
    return response


@router.post("/login/challenge")
async def login_challenge(
    body: ChallengeIn, request: Request, svc: ServicesDep, client: ClientDep
) -> Response:
    """Complete a challenged login with a code (email, sms, totp or recovery)."""
    result = await login_flow.complete_challenge(
        svc,
        challenge_id=body.challenge_id,
        method=body.method,
        code=body.code,
        remember_device=body.remember_device,
        client=client,
    )
    return logged_in(request, result)


@router.post("/login/challenge/resend")
async def login_challenge_resend(
    body: ResendIn, svc: ServicesDep, client: ClientDep
) -> dict[str, Any]:
    started = await challenge_flow.resend(
        svc, challenge_id=body.challenge_id, method=body.method, client=client
    )
    return {"status": "ok", "sent_to": started.sent_to, "expires_in": started.expires_in}


@router.post("/logout")
async def logout(request: Request, svc: ServicesDep, auth: AuthDep, client: ClientDep) -> Response:
    await login_flow.logout(svc, auth=auth, client=client)
    response = JSONResponse({"status": "ok"})
    clear_session_cookie(request, response)
    return response


@router.get("/me")
async def me(auth: AuthDep) -> dict[str, Any]:
    return {
        "account": account_json(auth.account),
        "session": {
            "id": auth.session.id,
            "created_at": auth.session.created_at.isoformat(),
            "idle_expires_at": auth.session.idle_expires_at.isoformat(),
            "absolute_expires_at": auth.session.absolute_expires_at.isoformat(),
            "remember": auth.session.remember,
        },
    }


@router.post("/me/email/verify")
async def verify_email(
    body: CodeIn, svc: ServicesDep, auth: AuthDep, client: ClientDep
) -> dict[str, Any]:
    await account_flow.verify_email(svc, auth=auth, code=body.code, client=client)
    return {"status": "ok", "email_verified": True}


@router.post("/me/email/resend")
async def resend_email(svc: ServicesDep, auth: AuthDep, client: ClientDep) -> dict[str, Any]:
    sent = await account_flow.resend_email_code(svc, auth=auth, client=client)
    return {"status": "ok", "sent": sent}


@router.get("/me/login-history")
async def login_history(
    svc: ServicesDep,
    auth: AuthDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> dict[str, Any]:
    events = await account_flow.login_history(svc, auth=auth, limit=limit, before_id=before)
    notices = await center_flow.notices_for_events(svc, account_id=auth.account.id, events=events)
    return {
        "items": [history_json(e, notices.get(e.id)) for e in events],
        "next_before": events[-1].id if len(events) == limit else None,
    }


@router.post("/me/password")
async def change_password(
    body: PasswordChangeIn, svc: ServicesDep, auth: AuthDep, client: ClientDep
) -> dict[str, Any]:
    ended = await account_flow.change_password(
        svc,
        auth=auth,
        current_password=body.current_password,
        new_password=body.new_password,
        sign_out_others=body.sign_out_others,
        client=client,
    )
    return {"status": "ok", "other_sessions_ended": ended}


@router.post("/password/strength")
async def password_strength(body: StrengthIn, request: Request, svc: ServicesDep) -> dict[str, Any]:
    """Strength feedback (zxcvbn) and policy check for the sign-up and change-password pages."""
    lang = _lang(request, svc.settings.default_language)
    violations = tuple(
        str(v) for v in svc.policy.check(body.password, login_id=body.login_id, email=body.email)
    )
    s = strength(body.password, user_inputs=[x for x in (body.login_id, body.email) if x])
    return {
        "score": s.score,
        "label": i18n.t(f"strength_{s.score}", lang),
        "warning": s.warning,
        "suggestions": list(s.suggestions),
        "acceptable": not violations,
        "violations": list(violations),
        "details": password_messages(
            violations,
            lang,
            min_len=svc.settings.password_min_length,
            max_len=svc.settings.password_max_length,
        ),
    }


@router.get("/dev/outbox", include_in_schema=False)
async def dev_outbox(
    svc: ServicesDep, to: Annotated[str | None, Query(max_length=254)] = None
) -> dict[str, Any]:
    if not svc.settings.dev:
        raise NotFound("page")
    async with svc.store.begin() as tx:
        entries = await tx.outbox.recent(limit=200, to=to)
    return {
        "items": [
            {
                "id": e.id,
                "at": e.at.isoformat(),
                "channel": e.channel,
                "to": e.to,
                "subject": e.subject,
                "body": e.body,
                "kind": e.kind,
            }
            for e in entries
        ]
    }
