"""The security inbox and "this wasn't me": pages (Japanese and English) and JSON.

Pages:
  GET  /account/inbox                   every notice, newest first (?before=id pages back);
                                        the ones shown are marked read
  POST /account/inbox/{id}/not-me       "This wasn't me" for a new-device/location notice
  POST /account/inbox/{id}/was-me       "Yes, it was me"
  GET  /not-me/{token}                  the link in a notice: shows what it is about and a
                                        button; changes nothing (mail scanners open links)
  POST /not-me/{token}                  the button (CSRF form): signs that device out, forces a
                                        reset and the second step at the next login; single use

JSON under /api/v1/me (unsafe calls pass `guard_unsafe`: JSON only, never cross-site):
  GET  /notices?limit=&before=          {"items", "unread", "next_before"}
  POST /notices/read                    {"id"?}: that notice, or all, read -> {"marked", "unread"}
  POST /notices/{id}/not-me | was-me    -> {"status", "notice"}

A notice is shown by its title, what it said and the request's facts, with a "genuine" mark:
it is in the inbox, so we sent it. Its notice code is not shown (only its HMAC is stored).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import Field, StrictInt
from starlette.requests import Request
from starlette.responses import Response

from mamori.errors import MamoriError, NotFound
from mamori.flows import not_me
from mamori.flows.services import Services
from mamori.flows.sessions import Authenticated
from mamori.notify.catalog import notice_text, notice_title, render_notice_text
from mamori.store.notices import NoticeRecord
from mamori.web.api import _Strict, guard_unsafe
from mamori.web.deps import (
    AuthDep,
    ClientDep,
    ServicesDep,
    client_of,
    current_auth,
    optional_auth,
    services_of,
)
from mamori.web.errors import status_for
from mamori.web.pages import form_errors, read_form, redirect
from mamori.web.render import lang_of, render_page

router = APIRouter()

INBOX = "/account/inbox"
PAGE_SIZE = 50
MAX_ID = 2**63 - 1
NoticeId = Annotated[int, Path(ge=1, le=MAX_ID)]
Before = Annotated[int | None, Query(ge=1, le=MAX_ID)]
# the notices "this wasn't me" / "yes, it was me" answer
ANSWERABLE = frozenset({"new_device_login", "new_location_login"})
FACTS = ("time", "browser", "os", "location", "network", "ip")
# the notices a redirect may ask for (?done=...), each an i18n key "inbox_done_<name>"
DONE = frozenset({"not_me", "was_me"})
NO_STORE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}


class EmptyIn(_Strict):
    pass


class ReadIn(_Strict):
    id: StrictInt | None = Field(default=None, ge=1, le=MAX_ID)


def answerable(notice: NoticeRecord) -> bool:
    return not notice.feedback and notice.kind in ANSWERABLE


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def notice_view(notice: NoticeRecord, lang: str) -> dict[str, Any]:
    """What the inbox shows of a notice (no code, no link)."""
    details = notice_text(notice.kind, lang).details
    summary, advice = render_notice_text(notice.kind, lang, notice.params)
    facts = {k: str(notice.params.get(k, "")) for k in FACTS if notice.params.get(k)}
    return {
        "id": notice.id,
        "kind": notice.kind,
        "title": notice_title(notice.kind, lang),
        "summary": summary,
        "advice": advice,
        "created_at": notice.created_at,
        "read": notice.read_at is not None,
        "channels": notice.channels,
        "feedback": notice.feedback,
        "feedback_at": notice.feedback_at,
        "answerable": answerable(notice),
        "facts": facts if details else {k: v for k, v in facts.items() if k == "time"},
    }


def notice_json(notice: NoticeRecord, lang: str) -> dict[str, Any]:
    view = notice_view(notice, lang)
    return {
        **view,
        "created_at": notice.created_at.isoformat(),
        "feedback_at": _iso(notice.feedback_at),
        "channels": list(notice.channels),
        "genuine": True,
        "params": notice.params,
    }


async def _list(
    svc: Services, auth: Authenticated, *, limit: int, before: int | None, mark_read: bool
) -> tuple[list[NoticeRecord], int]:
    """A page of the inbox and the unread count (after marking the page read, when asked)."""
    account_id = auth.account.id
    now = svc.clock.now()
    async with svc.store.begin() as tx:
        items = await tx.notices.for_account(account_id, limit=limit, before_id=before)
        if mark_read:
            for n in items:
                if n.read_at is None:
                    await tx.notices.mark_read(account_id, now=now, notice_id=n.id)
        unread = await tx.notices.unread(account_id)
    return items, unread


# -- pages ----------------------------------------------------------------------------------


async def _page(
    request: Request,
    auth: Authenticated,
    *,
    before: int | None = None,
    errors: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    svc = services_of(request)
    items, unread = await _list(svc, auth, limit=PAGE_SIZE, before=before, mark_read=True)
    lang = lang_of(request)
    done = request.query_params.get("done", "")
    context: dict[str, Any] = {
        "account": auth.account,
        "notices": [notice_view(n, lang) for n in items],
        "next_before": items[-1].id if len(items) == PAGE_SIZE else None,
        "unread_notices": unread,
        "errors": errors or [],
        "done": done if done in DONE else "",
    }
    return render_page(request, "inbox.html", context, status_code=status_code)


@router.get(INBOX, include_in_schema=False)
async def inbox_page(request: Request, before: Before = None) -> Response:
    auth = await optional_auth(request)
    if auth is None:
        return redirect("/login?next=" + INBOX)
    return await _page(request, auth, before=before)


async def _answer(request: Request, notice_id: int, *, was_me: bool) -> Response:
    await read_form(request)
    auth = await current_auth(request)
    svc = services_of(request)
    try:
        if was_me:
            await not_me.confirm_was_me(
                svc, auth=auth, notice_id=notice_id, client=client_of(request)
            )
        else:
            await not_me.report_from_center(
                svc, auth=auth, notice_id=notice_id, client=client_of(request)
            )
    except MamoriError as exc:
        return await _page(
            request, auth, errors=form_errors(request, exc), status_code=status_for(exc)
        )
    return redirect(f"{INBOX}?done={'was_me' if was_me else 'not_me'}#notice-{notice_id}")


@router.post(INBOX + "/{notice_id}/not-me", include_in_schema=False)
async def not_me_submit(request: Request, notice_id: NoticeId) -> Response:
    return await _answer(request, notice_id, was_me=False)


@router.post(INBOX + "/{notice_id}/was-me", include_in_schema=False)
async def was_me_submit(request: Request, notice_id: NoticeId) -> Response:
    return await _answer(request, notice_id, was_me=True)


# -- the "this wasn't me" link (no login) -----------------------------------------------------


def _link_page(
    request: Request, state: str, notice: NoticeRecord | None = None, *, status_code: int = 200
) -> Response:
    lang = lang_of(request)
    context: dict[str, Any] = {
        "state": state,  # "ask" | "done" | "invalid"
        "notice": notice_view(notice, lang) if notice is not None else None,
        "action": request.url.path,
    }
    response = render_page(request, "not_me.html", context, status_code=status_code)
    response.headers.update(NO_STORE)
    return response


@router.get("/not-me/{token}", include_in_schema=False)
async def not_me_link(request: Request, token: str) -> Response:
    notice = await not_me.open_link(services_of(request), token)
    if notice is None:
        return _link_page(request, "invalid", status_code=404)
    return _link_page(request, "ask", notice)


@router.post("/not-me/{token}", include_in_schema=False)
async def not_me_link_submit(request: Request, token: str) -> Response:
    await read_form(request)
    try:
        notice = await not_me.report_by_link(
            services_of(request), token=token, client=client_of(request)
        )
    except NotFound:
        return _link_page(request, "invalid", status_code=404)
    return _link_page(request, "done", notice)


# -- JSON -------------------------------------------------------------------------------------


@router.get("/api/v1/me/notices", tags=["inbox"])
async def notices_api(
    request: Request,
    svc: ServicesDep,
    auth: AuthDep,
    limit: Annotated[int, Query(ge=1, le=100)] = PAGE_SIZE,
    before: Before = None,
) -> dict[str, Any]:
    items, unread = await _list(svc, auth, limit=limit, before=before, mark_read=False)
    lang = lang_of(request)
    return {
        "items": [notice_json(n, lang) for n in items],
        "unread": unread,
        "next_before": items[-1].id if len(items) == limit else None,
    }


@router.post("/api/v1/me/notices/read", dependencies=[Depends(guard_unsafe)], tags=["inbox"])
async def mark_read_api(
    svc: ServicesDep, auth: AuthDep, body: ReadIn | None = None
) -> dict[str, Any]:
    async with svc.store.begin() as tx:
        marked = await tx.notices.mark_read(
            auth.account.id, now=svc.clock.now(), notice_id=body.id if body else None
        )
        unread = await tx.notices.unread(auth.account.id)
    return {"marked": marked, "unread": unread}


@router.post(
    "/api/v1/me/notices/{notice_id}/not-me", dependencies=[Depends(guard_unsafe)], tags=["inbox"]
)
async def not_me_api(
    request: Request,
    notice_id: NoticeId,
    svc: ServicesDep,
    auth: AuthDep,
    client: ClientDep,
    _body: EmptyIn | None = None,
) -> dict[str, Any]:
    notice = await not_me.report_from_center(svc, auth=auth, notice_id=notice_id, client=client)
    return {"status": "ok", "notice": notice_json(notice, lang_of(request))}


@router.post(
    "/api/v1/me/notices/{notice_id}/was-me", dependencies=[Depends(guard_unsafe)], tags=["inbox"]
)
async def was_me_api(
    request: Request,
    notice_id: NoticeId,
    svc: ServicesDep,
    auth: AuthDep,
    client: ClientDep,
    _body: EmptyIn | None = None,
) -> dict[str, Any]:
    notice = await not_me.confirm_was_me(svc, auth=auth, notice_id=notice_id, client=client)
    return {"status": "ok", "notice": notice_json(notice, lang_of(request))}
