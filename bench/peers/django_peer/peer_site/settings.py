# mypy: ignore-errors
"""Settings of the Django peer: stock django.contrib.auth + django-axes + django-otp.

Environment:
    PEER_DATABASE          SQLite file (default: ../var/peer.sqlite3 next to this project)
    PEER_AXES              "default" (django-axes' own defaults) or "tuned" (see below)
    PEER_COOLOFF_SECONDS   the tuned cool-off in seconds (default 600)
    PEER_SECRET_KEY        Django's SECRET_KEY (peer.py passes a random one per start)
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("PEER_SECRET_KEY") or secrets.token_urlsafe(50)
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "peer_api",
]

# As django-axes documents: AxesMiddleware last; django-otp's OTPMiddleware right after
# AuthenticationMiddleware.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "axes.middleware.AxesMiddleware",
]

# As django-axes documents: AxesStandaloneBackend first, so every authenticate() call is checked
# against the lockout before the password is.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Argon2id at Mamori's parameters first (new hashes and the dummy hash Django computes for an
# unknown username); Django's stock hashers after it so any other encoding still verifies.
PASSWORD_HASHERS = [
    "peer_api.hashers.MamoriArgon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
]

ROOT_URLCONF = "peer_site.urls"
WSGI_APPLICATION = "peer_site.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("PEER_DATABASE") or str(BASE_DIR.parent / "var" / "peer.sqlite3"),
        "OPTIONS": {
            # Several gunicorn workers share the file: WAL and write transactions that take the
            # lock up front (Django >= 5.1 options) instead of failing with "database is locked".
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        },
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"
USE_I18N = False

# Plain HTTP on loopback: the session cookie cannot be Secure.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    # axes logs every failure at WARNING and django.request every 4xx: the benchmark makes
    # millions of them.
    "loggers": {
        "axes": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}

# --- django-axes ------------------------------------------------------------------------------
# The simulator emulates clients by X-Forwarded-For from 127.0.0.1, as if one reverse proxy on
# loopback appended the client address. django-ipware (python-ipware) with a proxy count of 0
# and non-strict chains returns the right-most X-Forwarded-For entry -- the one that proxy
# appended -- and falls back to REMOTE_ADDR without a usable header.
AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
AXES_IPWARE_PROXY_COUNT = 0
IPWARE_STRICT = False

# The JSON API answers a lockout as JSON with AXES_HTTP_RESPONSE_CODE (axes' default, 429).
AXES_LOCKOUT_CALLABLE = "peer_api.views.lockout_response"

PEER_AXES = os.environ.get("PEER_AXES", "default")
if PEER_AXES == "tuned":
    AXES_FAILURE_LIMIT = 5
    AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
    AXES_COOLOFF_TIME = timedelta(seconds=int(os.environ.get("PEER_COOLOFF_SECONDS", "600")))
    AXES_RESET_ON_SUCCESS = True
elif PEER_AXES != "default":
    raise ValueError(f"PEER_AXES must be 'default' or 'tuned', not {PEER_AXES!r}")
# "default": nothing set, so axes.conf applies its own defaults (django-axes 8.3:
# AXES_FAILURE_LIMIT 3, AXES_LOCKOUT_PARAMETERS ["ip_address"], AXES_COOLOFF_TIME None = locked
# until an administrator resets it, AXES_RESET_ON_SUCCESS False, AXES_HTTP_RESPONSE_CODE 429).

# --- django-otp -------------------------------------------------------------------------------
# Defaults: OTP_TOTP_THROTTLE_FACTOR 1 (after n wrong codes a device refuses verification for
# 2**(n-1) seconds), OTP_TOTP_SYNC True.
