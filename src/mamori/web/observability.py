"""`/metrics` (Prometheus text format) and the middleware that times every request.

`/metrics` is open when `MAMORI_METRICS_TOKEN` is empty (keep it off the public proxy then),
else it needs `Authorization: Bearer <token>` (a plain-text 401 otherwise). What it shows is
described in `mamori.metrics`; no label carries a login ID, an IP or any other personal data.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mamori import metrics
from mamori.web.gate import GATED

router = APIRouter(include_in_schema=False)


@router.get("/metrics")
async def metrics_page(request: Request) -> Response:
    token: str = request.app.state.services.settings.metrics_token
    if token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            return PlainTextResponse(
                "metrics token required\n",
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
    body, content_type = metrics.exposition()
    return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})


def route_of(scope: Scope) -> str:
    """The matched route's *template* ("/api/v1/x/{id}"), never the raw path: a path is the
    client's to choose (unbounded label values). Unrouted requests to a gated path (refused
    by the ban gate, or too large) keep that path, a fixed set; anything else is "unmatched"."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str) and path:
        return path
    if (scope.get("method"), scope.get("path")) in GATED:
        return str(scope["path"])
    return "unmatched"


class ObservabilityMiddleware:
    """Times each HTTP request (route template, method, status) and counts the ban gate's
    refusals. Outermost, so every answer is seen."""

    def __init__(self, app: ASGIApp, *, timer: Callable[[], float] = time.perf_counter) -> None:
        self.app = app
        self.timer = timer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = self.timer()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = route_of(scope)
            method = str(scope.get("method", ""))
            metrics.observe_request(
                route=route, method=method, status=status, seconds=self.timer() - start
            )
            # the gate answers before routing: a 429 on a gated path with no route is its
            if status == 429 and scope.get("route") is None and (method, route) in GATED:
                metrics.count_blocked(method=method, route=route)
