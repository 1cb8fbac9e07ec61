# mypy: ignore-errors
"""The peer's JSON API: Mamori's login/logout/me routes on stock Django auth, axes and otp.

Every password check goes through django.contrib.auth.authenticate(request=...), so django-axes
sees every attempt: AxesStandaloneBackend refuses a locked-out client before the password is
checked, axes' signal handler counts each failure, and AxesMiddleware replaces the response of a
request it flagged as locked out with `lockout_response` below.

A user with a confirmed django-otp TOTP device logs in the usual django-otp way: the password
logs the session in (not OTP-verified), then /api/v1/login/otp verifies it (django_otp.login).
"""

from __future__ import annotations

import json

from axes.helpers import get_lockout_message
from django.conf import settings
from django.contrib import auth
from django.db import transaction
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django_otp import devices_for_user, user_has_device
from django_otp import login as otp_login

_BAD_BODY = object()


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def _ok(status: str = "ok") -> JsonResponse:
    return JsonResponse({"status": status})


def _method_not_allowed(allowed: str) -> JsonResponse:
    response = _error(405, "method_not_allowed", f"Use {allowed}.")
    response["Allow"] = allowed
    return response


def _json_object(request):
    try:
        body = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        return _BAD_BODY
    return body if isinstance(body, dict) else _BAD_BODY


def _optional_otp(body):
    otp = body.get("otp")
    if otp is None or isinstance(otp, str):
        return otp
    return _BAD_BODY


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: axes' own lockout answer (status and message), as JSON."""
    return JsonResponse(
        {"error": {"code": "locked", "message": str(get_lockout_message())}},
        status=settings.AXES_HTTP_RESPONSE_CODE,
    )


def _verify_otp(user, token):
    """(device that accepted `token` or None, whether a device refused to verify: throttled).

    Like django_otp.match_token, with each device's throttle checked first so that a throttled
    device is told apart from a wrong code. Devices are locked for the verification (for_verify),
    so a code cannot be used twice concurrently.
    """
    throttled = False
    with transaction.atomic():
        for device in devices_for_user(user, for_verify=True):
            allowed, _ = device.verify_is_allowed()
            if not allowed:
                throttled = True
                continue
            if device.verify_token(token):
                return device, False
    return None, throttled


def _otp_failure(throttled: bool) -> JsonResponse:
    if throttled:
        return _error(429, "otp_throttled", "Too many wrong codes: try again in a moment.")
    return _error(401, "invalid_otp", "Wrong code.")


@csrf_exempt
def login(request):
    if request.method != "POST":
        return _method_not_allowed("POST")
    body = _json_object(request)
    if body is _BAD_BODY:
        return _error(422, "invalid_request", "Send a JSON object.")
    login_id, password, otp = body.get("login_id"), body.get("password"), _optional_otp(body)
    if not isinstance(login_id, str) or not isinstance(password, str) or otp is _BAD_BODY:
        return _error(422, "invalid_request", "login_id and password (strings) are required.")

    user = auth.authenticate(request, username=login_id, password=password)
    if user is None:
        # Wrong password, unknown login ID, or a lockout: axes flagged the request then, and
        # AxesMiddleware answers with lockout_response instead of this.
        return _error(401, "invalid_credentials", "Wrong login ID or password.")

    if not user_has_device(user):
        auth.login(request, user)
        return _ok()
    if otp is None:
        auth.login(request, user)  # the session is logged in but not OTP-verified
        return _ok("otp_required")
    device, throttled = _verify_otp(user, otp)
    if device is None:
        return _otp_failure(throttled)
    auth.login(request, user)
    otp_login(request, device)
    return _ok()


@csrf_exempt
def login_otp(request):
    if request.method != "POST":
        return _method_not_allowed("POST")
    body = _json_object(request)
    if body is _BAD_BODY or not isinstance(body.get("otp"), str):
        return _error(422, "invalid_request", "otp (a string) is required.")
    user = request.user
    if not user.is_authenticated:
        return _error(401, "not_authenticated", "Log in with your password first.")
    if user.is_verified() or not user_has_device(user):
        return _ok()
    device, throttled = _verify_otp(user, body["otp"])
    if device is None:
        return _otp_failure(throttled)
    otp_login(request, device)
    return _ok()


@csrf_exempt
def logout(request):
    if request.method != "POST":
        return _method_not_allowed("POST")
    auth.logout(request)
    return _ok()


def me(request):
    if request.method != "GET":
        return _method_not_allowed("GET")
    user = request.user
    if not user.is_authenticated:
        return _error(401, "not_authenticated", "Not logged in.")
    if not user.is_verified() and user_has_device(user):
        return _error(401, "otp_required", "Enter the code from your authenticator app.")
    return JsonResponse({"login_id": user.get_username()})


def healthz(request):
    return _ok()
