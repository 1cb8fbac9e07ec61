"""The application factory: wires routers, middleware and error handlers around Services."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mamori.errors import (
    InputError,
    MamoriError,
)
from mamori.flows.risk_store import prune_loop
from mamori.flows.services import Services
from mamori.flows.webhooks import webhook_loop
from mamori.metrics import set_under_attack
from mamori.netaddr import parse_cidrs
from mamori.web import (
    admin_api,
    api,
    center_pages,
    console,
    console_incidents,
    email_pages,
    inbox_pages,
    notice_pages,
    observability,
    pages,
    reset_pages,
    security_api,
    security_pages,
)
from mamori.web.errors import error_response, status_for
from mamori.web.gate import BanGate
from mamori.web.security import SecurityMiddleware

log = logging.getLogger("mamori.web")
HERE = Path(__file__).parent


async def detector_loop(services: Services, interval: float) -> None:
    """Every few seconds: flush attempt statistics, run the stuffing detector, purge old counters.
    Errors are logged and the loop goes on (a detector hiccup must not stop logins)."""
    purge_every = max(1, int(300 / interval))
    n = 0
    while True:
        await asyncio.sleep(interval)
        n += 1
        try:
            await services.defender.tick()
            set_under_attack(await services.defender.under_attack())
            if n % purge_every == 0:
                await services.defender.counters.purge(now=services.clock.now().timestamp())
        except Exception:
            log.exception("detector tick failed")


def create_app(services: Services) -> FastAPI:
    settings = services.settings

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        tasks = []
        if settings.detector_interval_seconds > 0:
            tasks.append(
                asyncio.create_task(detector_loop(services, settings.detector_interval_seconds))
            )
        if settings.risk_prune_interval_seconds > 0:
            tasks.append(
                asyncio.create_task(
                    prune_loop(services.risk, services.clock, settings.risk_prune_interval_seconds)
                )
            )
        if settings.webhook_url and settings.webhook_interval_seconds > 0:
            tasks.append(
                asyncio.create_task(webhook_loop(services, settings.webhook_interval_seconds))
            )
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await services.background.drain()  # codes and notices already promised
            await services.defender.counters.close()
            await services.store.dispose()

    app = FastAPI(
        title="Mamori",
        version="0.1.0",
        description="Self-hosted login and account protection.",
        docs_url="/docs" if settings.dev else None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.services = services

    async def on_mamori_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, MamoriError)
        return error_response(request, status_for(exc), exc)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = exc.errors()
        kinds = {e.get("type") for e in errors}
        if "json_invalid" in kinds:
            return error_response(request, 400, InputError("malformed JSON", code="malformed_json"))
        fields = [".".join(str(p) for p in e.get("loc", ())[1:]) for e in errors]
        err = InputError(
            "; ".join(f"{f}: {e.get('msg')}" for f, e in zip(fields, errors, strict=True))
        )
        return error_response(request, 422, err, fields=fields)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed", 400: "invalid_request"}.get(
            exc.status_code, "error"
        )
        if exc.status_code == 400 and "parsing the body" in str(exc.detail):
            code = "malformed_json"
        return error_response(request, exc.status_code, MamoriError(str(exc.detail), code=code))

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        if isinstance(exc, UnicodeDecodeError):
            return error_response(
                request, 400, InputError("invalid UTF-8", code="invalid_encoding")
            )
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(request, 500, MamoriError("internal error", code="internal_error"))

    app.add_exception_handler(MamoriError, on_mamori_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(UnicodeDecodeError, on_unexpected)
    app.add_exception_handler(Exception, on_unexpected)

    # Routes are matched in order, one by one (FastAPI 0.16x spends ~10 us per route tried):
    # the health check, then the API, come first.
    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(api.router)
    app.include_router(security_api.router)
    app.include_router(admin_api.router)
    app.include_router(console.router)
    app.include_router(console_incidents.router)
    app.include_router(pages.router)
    app.include_router(security_pages.router)
    app.include_router(center_pages.router)
    app.include_router(reset_pages.router)
    app.include_router(notice_pages.router)
    app.include_router(inbox_pages.router)
    app.include_router(email_pages.router)
    app.include_router(observability.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    # the busiest route first, answered without FastAPI's dispatch when well-formed (api.py)
    login_route = next(
        r
        for r in api.router.routes
        if isinstance(r, APIRoute) and r.path == "/api/v1/login" and "POST" in (r.methods or ())
    )
    app.router.routes.insert(
        0, Route("/api/v1/login", api.FastLogin(login_route), methods=["POST"])
    )

    app.add_middleware(BanGate, services=services)  # inner: runs after SecurityMiddleware
    app.add_middleware(
        SecurityMiddleware,
        max_body_bytes=settings.max_body_bytes,
        trusted_proxies=parse_cidrs(settings.trusted_proxies),
        hsts=settings.cookie_secure and not settings.dev,
    )
    app.add_middleware(observability.ObservabilityMiddleware)  # outermost: times every answer
    return app
