"""Incident pages of the operators' console (see docs/incidents.md and docs/console.md).

  GET  /admin/incidents?before=             the incidents, newest first
  GET  /admin/incidents/{id}                summary, timeline, sources, the two lists, actions
  POST /admin/incidents/{id}/preview        the counts of an action before it runs
  POST /admin/incidents/{id}/respond        run (or resume) block | reset | notify
                                            (admin + re-authentication, reason required)
  GET  /admin/incidents/{id}/report.md, /report.csv     the report downloads

Responses are `flows/incident_actions.py` (idempotent, resumable, audited); the console adds
the operator's session, role, re-authentication and CSRF (`web/console_kit.py`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.requests import Request
from starlette.responses import Response

from mamori.errors import InputError
from mamori.flows import incident_actions, incident_report, incidents, operators
from mamori.flows.incident_actions import Preview
from mamori.web.console_kit import HOME, ConsoleRoute, current, field, read_form, redirect, render
from mamori.web.deps import services_of

router = APIRouter(prefix=HOME + "/incidents", route_class=ConsoleRoute, include_in_schema=False)
IncidentId = Annotated[int, Path(ge=1, le=2**63 - 1)]
PAGE = 50


@router.get("")
async def incidents_page(
    request: Request, before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None
) -> Response:
    auth = await current(request)
    items = await incidents.list_incidents(services_of(request), limit=PAGE, before_id=before)
    next_before = items[-1].id if len(items) == PAGE else None
    return render(
        request, "admin_incidents.html", {"items": items, "next_before": next_before}, auth=auth
    )


async def _incident_page(
    request: Request, incident_id: int, *, preview: Preview | None = None, status_code: int = 200
) -> Response:
    auth = await current(request)
    analysis = await incidents.analyze(services_of(request), incident_id)
    done = request.query_params.get("done", "")
    context = {
        "a": analysis,
        "timeline": incident_report.timeline(analysis),
        "sources": incident_report.top_sources(analysis),
        "kinds": incident_actions.KINDS,
        "preview": preview,
        "done": done if done in incident_actions.KINDS else "",
    }
    return render(request, "admin_incident.html", context, auth=auth, status_code=status_code)


@router.get("/{incident_id}")
async def incident_page(request: Request, incident_id: IncidentId) -> Response:
    return await _incident_page(request, incident_id)


@router.post("/{incident_id}/preview")
async def incident_preview(request: Request, incident_id: IncidentId) -> Response:
    auth = await current(request)
    request.state.back = f"{HOME}/incidents/{incident_id}"
    form = await read_form(request, auth)
    preview = await incident_actions.preview(
        services_of(request), incident_id, field(form, "action", 16)
    )
    return await _incident_page(request, incident_id, preview=preview)


@router.post("/{incident_id}/respond")
async def incident_respond(request: Request, incident_id: IncidentId) -> Response:
    auth = await current(request)
    back = f"{HOME}/incidents/{incident_id}"
    request.state.back = back
    form = await read_form(request, auth)
    svc = services_of(request)
    operators.require_recent_reauth(svc, auth)
    kind = incident_actions.check_kind(field(form, "action", 16))
    reason = field(form, "reason", 255).strip()
    if not reason:
        raise InputError("a reason is required", code="reason_required", field="reason")
    await incident_actions.respond(svc, incident_id, kind, actor=auth.actor, reason=reason)
    return redirect(f"{back}?done={kind}")


async def _report(request: Request, incident_id: int, fmt: str) -> Response:
    await current(request)
    analysis = await incidents.analyze(services_of(request), incident_id)
    if fmt == "csv":
        body, media = incident_report.csv_text(analysis), "text/csv; charset=utf-8"
    else:
        body, media = incident_report.markdown(analysis), "text/markdown; charset=utf-8"
    name = f"incident-{incident_id}.{fmt}"
    headers = {
        "content-disposition": f'attachment; filename="{name}"',
        "cache-control": "no-store",
    }
    return Response(body, media_type=media, headers=headers)


@router.get("/{incident_id}/report.md")
async def incident_report_md(request: Request, incident_id: IncidentId) -> Response:
    return await _report(request, incident_id, "md")


@router.get("/{incident_id}/report.csv")
async def incident_report_csv(request: Request, incident_id: IncidentId) -> Response:
    return await _report(request, incident_id, "csv")
