"""Public pages about our notices, in Japanese and English, and their small JSON API.

GET  /verify-notice             a form: enter the notice code from an email or SMS
POST /verify-notice             the answer: genuine (its kind and date) or not from us
POST /api/v1/notices/verify     {"code"} -> {"genuine", "kind", "sent_at"}
GET  /how-we-contact-you        sender name and address, SMS sender ID, support, and our rules

Notice codes are short (8 characters from 31), so checks are limited per client IP (an IPv6
client per /64): VERIFY_LIMIT per hour, then 429. An answer reveals only the notice's kind and
date, never the account it went to. The form is CSRF-checked like every other form.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import Field, StrictStr
from starlette.requests import Request
from starlette.responses import Response

from mamori.errors import MamoriError, Refused
from mamori.flows import notices
from mamori.flows.services import Services
from mamori.models import ClientContext
from mamori.netaddr import parse_ip, subnet_of
from mamori.notify.catalog import notice_title
from mamori.store.notices import NoticeRecord
from mamori.web.api import _Strict, guard_unsafe
from mamori.web.deps import ClientDep, ServicesDep, client_of, services_of
from mamori.web.errors import status_for
from mamori.web.pages import field, form_errors, read_form
from mamori.web.render import lang_of, render_page

router = APIRouter()

VERIFY_LIMIT = 30  # checks per client IP per VERIFY_WINDOW
VERIFY_WINDOW = 3600.0
MAX_CODE_CHARS = 64


class VerifyIn(_Strict):
    code: StrictStr = Field(max_length=MAX_CODE_CHARS)


def _source(ip: str) -> str:
    """Who is counted: the IPv4 address, or the /64 of an IPv6 one (a host usually has all)."""
    address = parse_ip(ip)
    if address is None:
        return "-"
    return str(address) if address.version == 4 else subnet_of(str(address))


async def check_code(svc: Services, *, code: str, client: ClientContext) -> NoticeRecord | None:
    """The notice behind a code, after counting the check against the client's IP."""
    now = svc.clock.now().timestamp()
    key = f"verify_notice:{_source(client.ip)}"
    count = await svc.defender.counters.incr(key, ttl=VERIFY_WINDOW, now=now)
    if count > VERIFY_LIMIT:
        raise Refused(
            "too many notice checks", retry_after=int(VERIFY_WINDOW), code="too_many_requests"
        )
    return await notices.verify_code(svc, code[:MAX_CODE_CHARS])


def _date(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


@router.post("/api/v1/notices/verify", dependencies=[Depends(guard_unsafe)], tags=["notices"])
async def verify_api(body: VerifyIn, svc: ServicesDep, client: ClientDep) -> dict[str, Any]:
    notice = await check_code(svc, code=body.code, client=client)
    if notice is None:
        return {"genuine": False, "kind": None, "sent_at": None}
    return {"genuine": True, "kind": notice.kind, "sent_at": notice.created_at.isoformat()}


def _verify_page(
    request: Request,
    *,
    code: str = "",
    checked: bool = False,
    notice: NoticeRecord | None = None,
    errors: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    lang = lang_of(request)
    context: dict[str, Any] = {
        "code": code,
        "checked": checked,
        "genuine": notice is not None,
        "title": notice_title(notice.kind, lang) if notice is not None else "",
        "date": _date(notice.created_at) if notice is not None else "",
        "errors": errors or [],
    }
    return render_page(request, "verify_notice.html", context, status_code=status_code)


@router.get("/verify-notice", include_in_schema=False)
async def verify_page(request: Request) -> Response:
    return _verify_page(request)


@router.post("/verify-notice", include_in_schema=False)
async def verify_submit(request: Request) -> Response:
    form = await read_form(request)
    code = field(form, "code")[:MAX_CODE_CHARS]
    try:
        notice = await check_code(services_of(request), code=code, client=client_of(request))
    except MamoriError as exc:
        response = _verify_page(
            request, code=code, errors=form_errors(request, exc), status_code=status_for(exc)
        )
        if isinstance(exc, Refused):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    return _verify_page(request, code=code, checked=True, notice=notice)


@router.get("/how-we-contact-you", include_in_schema=False)
async def how_we_contact_page(request: Request) -> Response:
    s = services_of(request).settings
    context = {
        "mail_from": s.mail_from,
        "sms_sender_id": s.sms_sender_id,
        "support_contact": s.support_contact,
    }
    return render_page(request, "how_we_contact.html", context)
