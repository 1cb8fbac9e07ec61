"""Operator JSON API under /api/v1/admin, for automation: `Authorization: Bearer <token>` with
the static `MAMORI_OPERATOR_TOKEN` or a stored, scoped token (`mamori admin token create`);
anything else answers 403."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr
from starlette.requests import Request
from starlette.responses import Response

from mamori.flows import (
    incident_actions,
    incident_report,
    incidents,
    operator,
    operator_tokens,
    reset,
)
from mamori.models import Ban
from mamori.web.api import guard_unsafe
from mamori.web.deps import ClientDep, ServicesDep


async def operator_auth(request: Request) -> str:
    """The actor: "token" (MAMORI_OPERATOR_TOKEN) or "token:<name>" (a stored token with
    the `read` scope for GET, `write` for the rest); else 403."""
    return await operator_tokens.authorize_token(
        request.app.state.services,
        request.headers.get("authorization", ""),
        write=request.method not in ("GET", "HEAD", "OPTIONS"),
    )


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


# ---- incidents (opened and closed by the detector; see flows/incidents.py) ----


class IncidentActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: StrictStr = Field(pattern="^(block|reset|notify)$")
    reason: StrictStr = Field(default="", max_length=255)


def _actor(by: str) -> str:
    return by if ":" in by else "token:static"


@router.get("/incidents")
async def list_incidents(svc: ServicesDep, before_id: int | None = None) -> dict[str, Any]:
    items = await incidents.list_incidents(svc, limit=50, before_id=before_id)
    return {
        "items": [
            {
                "id": i.id,
                "status": i.status,
                "opened_at": i.opened_at.isoformat(),
                "closed_at": i.closed_at.isoformat() if i.closed_at else None,
                "reasons": i.summary.get("reasons", []),
            }
            for i in items
        ]
    }


@router.get("/incidents/{incident_id}")
async def show_incident(incident_id: int, svc: ServicesDep) -> dict[str, Any]:
    """The incident with its sources, volumes and the two lists (password confirmed, logged
    in from attack sources)."""
    return incident_report.to_json(await incidents.analyze(svc, incident_id))


@router.get("/incidents/{incident_id}/report")
async def incident_report_file(
    incident_id: int,
    svc: ServicesDep,
    format: Annotated[str, Query(pattern="^(md|csv)$")] = "md",
) -> Response:
    analysis = await incidents.analyze(svc, incident_id)
    if format == "csv":
        body, media = incident_report.csv_text(analysis), "text/csv; charset=utf-8"
    else:
        body, media = incident_report.markdown(analysis), "text/markdown; charset=utf-8"
    name = f"incident-{incident_id}.{format}"
    return Response(
        body, media_type=media, headers={"content-disposition": f'attachment; filename="{name}"'}
    )


@router.post("/incidents/{incident_id}/preview")
async def preview_incident_action(
    incident_id: int, body: IncidentActionIn, svc: ServicesDep
) -> dict[str, Any]:
    return (await incident_actions.preview(svc, incident_id, body.action)).json()


@router.post("/incidents/{incident_id}/respond")
async def respond_to_incident(
    incident_id: int, body: IncidentActionIn, svc: ServicesDep, by: Operator
) -> dict[str, Any]:
    """Run (or resume) a response; targets already done are not done again."""
    outcome = await incident_actions.respond(
        svc, incident_id, body.action, actor=_actor(by), reason=body.reason
    )
    return {"status": "ok", **outcome.json()}
