"""Entry point for uvicorn workers: `uvicorn --factory mamori.web.asgi:app_from_env`."""

from __future__ import annotations

from fastapi import FastAPI

from mamori.boot import build_services, load_settings, validated
from mamori.web.app import create_app


def app_from_env() -> FastAPI:
    return create_app(build_services(validated(load_settings())))
