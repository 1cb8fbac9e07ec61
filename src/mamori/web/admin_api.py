"""Operator JSON API under /api/v1/admin, authorized by the static operator token
(`Authorization: Bearer $MAMORI_OPERATOR_TOKEN`) until the admin console lands. With no token
configured, every route answers 403."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr
from starlette.requests import Request

from mamori.errors import Forbidden
from mamori.flows import operator, reset
from mamori.models import Ban
from mamori.web.api import guard_unsafe
from mamori.web.deps import ClientDep, ServicesDep


async def operator_auth(request: Request) -> str:
    token = request.app.state.services.settings.operator_token
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if (
        not token
        or scheme.lower() != "bearer"
        or not hmac.compare_digest(given.strip().encode(), token.encode())
    ):
        raise Forbidden("operator token required")
    return "token"


router = APIRouter(
    prefix="/api/v1/admin",
    dependencies=[Depends(guard_unsafe), Depends(operator_auth)],
    tags=["admin"],
)
Operator = Annotated[str, Depends(operator_auth)]


class BanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: StrictStr = Field(pattern="^(ip|cidr|network)$")
    value: StrictStr = Field(min_length=1, max_length=128)
    reason: StrictStr = Field(default="operator", max_length=255)
    seconds: float | None = Field(default=None, gt=0, le=10 * 365 * 86400)


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: StrictStr = Field(min_length=1, max_length=255)


def ban_json(ban: Ban) -> dict[str, Any]:
    return {
        "kind": ban.kind,
        "value": ban.value,
        "reason": ban.reason,
        "origin": ban.origin,
        "created_at": ban.created_at.isoformat(),
        "expires_at": ban.expires_at.isoformat() if ban.expires_at else None,
        "strikes": ban.strikes,
        "details": ban.details,
    }


@router.get("/bans")
async def list_bans(svc: ServicesDep) -> dict[str, Any]:
    return {"items": [ban_json(b) for b in await operator.list_bans(svc)]}


@router.post("/bans", status_code=201)
async def add_ban(body: BanIn, svc: ServicesDep, client: ClientDep, by: Operator) -> dict[str, Any]:
    ban = await operator.add_ban(
        svc,
        kind=body.kind,
        value=body.value,
        reason=body.reason,
        seconds=body.seconds,
        actor=client,
        by=by,
    )
    return {"ban": ban_json(ban)}


@router.delete("/bans/{kind}/{value:path}")
async def remove_ban(
    kind: str, value: str, svc: ServicesDep, client: ClientDep, by: Operator
) -> dict[str, Any]:
    await operator.remove_ban(svc, kind=kind, value=value, actor=client, by=by)
    return {"status": "ok"}


@router.post("/accounts/{login_id}/restrict")
async def restrict(
    login_id: str, body: ReasonIn, svc: ServicesDep, client: ClientDep, by: Operator
) -> dict[str, Any]:
    account = await operator.restrict(
        svc, login_id=login_id, reason=body.reason, actor=client, by=by
    )
    return {"status": "ok", "restricted": account.restricted}


@router.post("/accounts/{login_id}/unrestrict")
async def unrestrict(
    login_id: str, svc: ServicesDep, client: ClientDep, by: Operator
) -> dict[str, Any]:
    account = await operator.unrestrict(svc, login_id=login_id, actor=client, by=by)
    return {"status": "ok", "restricted": account.restricted}


class TwoStepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    required: StrictBool = True
    reason: StrictStr = Field(default="", max_length=255)


@router.post("/accounts/{login_id}/require-two-step")
async def require_two_step(
    login_id: str, body: TwoStepIn, svc: ServicesDep, client: ClientDep, by: Operator
) -> dict[str, Any]:
    """The next login of this account needs the second step, from any browser."""
    account = await operator.require_two_step(
        svc, login_id=login_id, required=body.required, reason=body.reason, actor=client, by=by
    )
    return {"status": "ok", "two_step_required": account.two_step_forced}


class ForceResetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: StrictStr = Field(default="", max_length=255)


@router.post("/accounts/{login_id}/force-reset")
async def force_reset(
    login_id: str, body: ForceResetIn, svc: ServicesDep, client: ClientDep, by: Operator
) -> dict[str, Any]:
    """End every session now; the next login sets a new password after the second step."""
    account, ended = await reset.force_reset(
        svc, login_id=login_id, reason=body.reason, actor=client, by=by
    )
    return {
        "status": "ok",
        "password_reset_required": account.password_reset_required,
        "sessions_ended": ended,
    }


@router.post("/accounts/{login_id}/unlock")
async def unlock(
    login_id: str, svc: ServicesDep, client: ClientDep, by: Operator
) -> dict[str, Any]:
    await operator.unlock(svc, login_id=login_id, actor=client, by=by)
    return {"status": "ok"}


@router.get("/defense")
async def defense_state(svc: ServicesDep) -> dict[str, Any]:
    d = svc.defender
    last = d.last_detection
    return {
        "under_attack": await d.under_attack(),
        "mode": "monitor" if d.policy.monitor_only else "enforce",
        "last_detection": None
        if last is None
        else {
            "attack": last.attack,
            "reasons": list(last.reasons),
            "signals": last.signals,
        },
        "hash_gate": {
            "slots": svc.gate.slots,
            "active": svc.gate.active,
            "waiting": svc.gate.waiting,
            "shed": svc.gate.shed,
        },
    }
