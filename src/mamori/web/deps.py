"""Request-scoped pieces shared by the API and the pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import Request

from mamori.flows.services import Services
from mamori.flows.sessions import Authenticated, resolve_session
from mamori.models import ClientContext
from mamori.web.cookies import session_cookie_name


async def services_dep(request: Request) -> Services:
    """The dependency form (async: FastAPI would run a plain def in a thread)."""
    return services_of(request)


def services_of(request: Request) -> Services:
    svc = request.app.state.services
    assert isinstance(svc, Services)
    return svc


async def client_dep(request: Request) -> ClientContext:
    """The dependency form (async: FastAPI would run a plain def in a thread)."""
    return client_of(request)


def client_of(request: Request) -> ClientContext:
    cached = getattr(request.state, "client", None)
    if isinstance(cached, ClientContext):
        return cached
    ip = str(getattr(request.state, "client_ip", "0.0.0.0"))  # noqa: S104 — a sentinel, not a bind
    client = services_of(request).client(ip=ip, user_agent=request.headers.get("user-agent", ""))
    request.state.client = client
    return client


async def current_auth(request: Request) -> Authenticated:
    cached = getattr(request.state, "auth", None)
    if isinstance(cached, Authenticated):
        return cached
    auth = await resolve_session(
        services_of(request), request.cookies.get(session_cookie_name(request))
    )
    request.state.auth = auth
    return auth


async def optional_auth(request: Request) -> Authenticated | None:
    try:
        return await current_auth(request)
    except Exception:
        return None


ServicesDep = Annotated[Services, Depends(services_dep)]
ClientDep = Annotated[ClientContext, Depends(client_dep)]
AuthDep = Annotated[Authenticated, Depends(current_auth)]
