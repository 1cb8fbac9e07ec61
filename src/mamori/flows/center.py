"""The account security center: sessions and devices, recent security events, single-device mode.

Sessions. `list_sessions` joins each active session to the browser (device row) it was created
on; a session whose device was forgotten is described from its own IP and user agent. One
session is ended with `revoke_session` (never the caller's own: that is logging out); "sign out
everywhere else" (`revoke_others`) needs the password again, counted per account before the
hash like every re-authentication (`flows.factors.reserve_reauth`), so a stolen session can
neither guess the password here nor silently lock the owner out.

Events. `recent_events` lists the account's security-relevant events (not the bookkeeping
ones: notices sent, rehashes, codes sent), each with the notice that was about it, so the
owner can answer "was this you?" (`flows.not_me`) from the center.

Single-device mode (LINE keeps an account on one phone). The service option
`single_device_mode` is "off", "optional" (the account's own setting decides) or "all". When a
NEW device completes login and the mode applies, the login answer asks "your other device will
be signed out — continue?": `confirm_single_device` ends the other sessions,
`cancel_single_device` ends this one instead. Only the newest session may confirm, so an older
session cannot use the prompt to push out the device that just signed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mamori.errors import InputError, InvalidCredentials, NotFound
from mamori.flows.factors import record, reserve_reauth
from mamori.flows.services import Services
from mamori.flows.sessions import Authenticated
from mamori.models import Account, ClientContext, Device, EventType, SecurityEvent, Session
from mamori.store.notices import NoticeRecord

SINGLE_DEVICE_MODES = ("off", "optional", "all")

# What the owner sees in "recent security events" (the rest is bookkeeping).
SECURITY_EVENT_TYPES: tuple[str, ...] = tuple(
    str(t)
    for t in (
        EventType.SIGNUP,
        EventType.LOGIN_SUCCESS,
        EventType.LOGIN_FAILURE,
        EventType.LOGIN_CHALLENGED,
        EventType.CHALLENGE_FAILED,
        EventType.PASSWORD_CHANGED,
        EventType.PASSWORD_RESET_REQUESTED,
        EventType.PASSWORD_RESET,
        EventType.PASSWORD_RESET_FORCED,
        EventType.EMAIL_VERIFIED,
        EventType.EMAIL_CHANGED,
        EventType.SESSION_REVOKED,
        EventType.SESSIONS_REVOKED,
        EventType.ACCOUNT_LOCKED,
        EventType.ACCOUNT_UNLOCKED,
        EventType.ACCOUNT_RESTRICTED,
        EventType.ACCOUNT_UNRESTRICTED,
        EventType.DEVICE_TRUSTED,
        EventType.DEVICE_FORGOTTEN,
        EventType.TWO_STEP_MODE_CHANGED,
        EventType.TWO_STEP_REQUIRED,
        EventType.TOTP_ENROLLED,
        EventType.TOTP_REMOVED,
        EventType.TOTP_REPLAY,
        EventType.RECOVERY_CODES_GENERATED,
        EventType.RECOVERY_CODE_USED,
        EventType.PHONE_VERIFIED,
        EventType.PHONE_REMOVED,
        EventType.NOT_ME_REPORTED,
        EventType.WAS_ME_CONFIRMED,
        EventType.SINGLE_DEVICE_CHANGED,
    )
)
# How far back "recent_events" looks for the notices about a page of events.
_NOTICE_PAGE = 100
_NOTICE_PAGES = 5


@dataclass(frozen=True, slots=True)
class SessionView:
    """An active session and where it runs (from its device row, else from the session)."""

    session: Session
    current: bool
    device_id: int | None
    browser: str
    os: str
    device_type: str
    country: str
    network: str


@dataclass(frozen=True, slots=True)
class EventView:
    event: SecurityEvent
    notice: NoticeRecord | None  # the notice about this event, if one was sent

    @property
    def label_key(self) -> str:
        return f"ev_{self.event.type}"

    @property
    def answerable(self) -> bool:
        """Whether "was this you?" can still be answered for this event."""
        return self.notice is not None and not self.notice.feedback


# -- sessions -------------------------------------------------------------------------------


def _view(svc: Services, session: Session, device: Device | None, *, current: bool) -> SessionView:
    if device is not None:
        return SessionView(
            session=session,
            current=current,
            device_id=device.id,
            browser=device.browser,
            os=device.os,
            device_type=device.device_type,
            country=device.country,
            network=device.as_name,
        )
    seen = svc.client(ip=session.ip, user_agent=session.user_agent)
    return SessionView(
        session=session,
        current=current,
        device_id=None,
        browser=seen.browser,
        os=seen.os,
        device_type=seen.device_type,
        country=seen.country,
        network=seen.as_name,
    )


async def list_sessions(svc: Services, *, auth: Authenticated) -> list[SessionView]:
    """The account's active sessions, most recently active first, the caller's marked."""
    now = svc.clock.now()
    async with svc.store.begin() as tx:
        sessions = await tx.sessions.active_for(auth.account.id, now=now)
        devices = {d.id: d for d in await tx.devices.for_account(auth.account.id)}
    return [
        _view(
            svc,
            s,
            devices.get(s.device_id) if s.device_id is not None else None,
            current=s.id == auth.session.id,
        )
        for s in sessions
    ]


async def revoke_session(
    svc: Services, *, auth: Authenticated, session_id: int, client: ClientContext
) -> None:
    """End one of the account's other sessions (SESSION_REVOKED). The caller's own session is
    refused (`current_session`: log out instead); any other id is NotFound."""
    if session_id == auth.session.id:
        raise InputError(
            "this is the current session: log out instead", code="current_session", field="id"
        )
    account = auth.account
    now = svc.clock.now()
    async with svc.store.begin() as tx:
        active = await tx.sessions.active_for(account.id, now=now)
        target = next((s for s in active if s.id == session_id), None)
        if target is None or not await tx.sessions.revoke(
            session_id, now=now, reason="security_center"
        ):
            raise NotFound("session")
        await record(
            tx,
            at=now,
            account=account,
            client=client,
            type=EventType.SESSION_REVOKED,
            result="ok",
            reason="security_center",
            details={"session_id": session_id, "device_id": target.device_id},
        )


async def revoke_others(
    svc: Services, *, auth: Authenticated, password: str | None, client: ClientContext
) -> int:
    """ "Sign out everywhere else": needs the password (re-authentication, counted before the
    hash). Ends every other session (SESSIONS_REVOKED) and returns how many."""
    account = auth.account
    if not password:
        raise InputError("the password is required", code="password_required", field="password")
    await reserve_reauth(svc, account)
    if not await svc.verify_password(stored_hash=account.password_hash, password=password):
        async with svc.store.begin() as tx:
            await record(
                tx,
                at=svc.clock.now(),
                account=account,
                client=client,
                type=EventType.SESSIONS_REVOKED,
                result="fail",
                reason="wrong_password",
            )
        raise InvalidCredentials("the password is incorrect")
    now = svc.clock.now()
    async with svc.store.begin() as tx:
        ended = await tx.sessions.revoke_all(
            account.id, now=now, reason="sign_out_others", except_id=auth.session.id
        )
        await record(
            tx,
            at=now,
            account=account,
            client=client,
            type=EventType.SESSIONS_REVOKED,
            result="ok",
            reason="sign_out_others",
            details={"count": ended, "kept_session_id": auth.session.id},
        )
    return ended


# -- events ---------------------------------------------------------------------------------


async def notices_for_events(
    svc: Services, *, account_id: int, events: Sequence[SecurityEvent]
) -> dict[int, NoticeRecord]:
    """The first notice about each event (the one "was this you?" answers), by event id.

    A notice is issued after the event it is about, so only notices created since the oldest
    event can match; they are read newest first, a bounded number of pages."""
    if not events:
        return {}
    wanted = {e.id for e in events}
    oldest = min(e.at for e in events)
    found: dict[int, NoticeRecord] = {}
    before: int | None = None
    async with svc.store.begin() as tx:
        for _ in range(_NOTICE_PAGES):
            page = await tx.notices.for_account(account_id, limit=_NOTICE_PAGE, before_id=before)
            for notice in page:  # newest first: the earliest notice about an event wins
                if notice.event_id is not None and notice.event_id in wanted:
                    found[notice.event_id] = notice
            if len(page) < _NOTICE_PAGE or page[-1].created_at < oldest:
                break
            before = page[-1].id
    return found


async def recent_events(
    svc: Services, *, auth: Authenticated, limit: int = 50, before_id: int | None = None
) -> list[EventView]:
    async with svc.store.begin() as tx:
        events = await tx.events.for_account(
            auth.account.id, types=SECURITY_EVENT_TYPES, limit=limit, before_id=before_id
        )
    notices = await notices_for_events(svc, account_id=auth.account.id, events=events)
    return [EventView(event=e, notice=notices.get(e.id)) for e in events]


def login_facts(event: SecurityEvent) -> dict[str, Any]:
    """What a login event says about its risk decision and how it was completed."""
    details = event.details if isinstance(event.details, dict) else {}
    risk = details.get("risk")
    risk = risk if isinstance(risk, dict) else {}
    method = details.get("method")
    return {
        "risk_level": risk.get("level") if isinstance(risk.get("level"), str) else None,
        "risk_action": risk.get("action") if isinstance(risk.get("action"), str) else None,
        "method": method if isinstance(method, str) else None,
        "challenged": bool(details.get("challenge") or details.get("challenged")),
    }


# -- single-device mode ---------------------------------------------------------------------


def single_device_mode(svc: Services) -> str:
    mode = svc.settings.single_device_mode
    return mode if mode in SINGLE_DEVICE_MODES else "off"


def single_device_applies(svc: Services, account: Account) -> bool:
    """Whether a new device's login should sign the account's other devices out."""
    mode = single_device_mode(svc)
    return mode == "all" or (mode == "optional" and account.single_device)


async def pending_single_device(svc: Services, auth: Authenticated) -> int:
    """How many other active sessions a confirmation would end."""
    async with svc.store.begin() as tx:
        active = await tx.sessions.active_for(auth.account.id, now=svc.clock.now())
    return sum(1 for s in active if s.id != auth.session.id)


async def confirm_single_device(
    svc: Services, *, auth: Authenticated, client: ClientContext
) -> int:
    """ "Continue": end every other session of the account (SESSIONS_REVOKED, reason
    "single_device") and return how many. Refused (`single_device_off`) when the mode does not
    apply to the account, and (`single_device_not_newest`) from a session older than another."""
    account = auth.account
    if not single_device_applies(svc, account):
        raise InputError("single-device mode is off", code="single_device_off")
    now = svc.clock.now()
    async with svc.store.begin() as tx:
        active = await tx.sessions.active_for(account.id, now=now)
        mine = (auth.session.created_at, auth.session.id)
        if any((s.created_at, s.id) > mine for s in active if s.id != auth.session.id):
            raise InputError(
                "a newer session exists; only the newest may sign the others out",
                code="single_device_not_newest",
            )
        ended = await tx.sessions.revoke_all(
            account.id, now=now, reason="single_device", except_id=auth.session.id
        )
        await record(
            tx,
            at=now,
            account=account,
            client=client,
            type=EventType.SESSIONS_REVOKED,
            result="ok",
            reason="single_device",
            details={"count": ended, "kept_session_id": auth.session.id},
        )
    return ended


async def cancel_single_device(
    svc: Services, *, auth: Authenticated, client: ClientContext
) -> None:
    """ "Cancel": end THIS session; the other devices stay signed in (SESSION_REVOKED)."""
    now = svc.clock.now()
    async with svc.store.begin() as tx:
        await tx.sessions.revoke(auth.session.id, now=now, reason="single_device_cancelled")
        await record(
            tx,
            at=now,
            account=auth.account,
            client=client,
            type=EventType.SESSION_REVOKED,
            result="ok",
            reason="single_device_cancelled",
            details={"session_id": auth.session.id, "device_id": auth.session.device_id},
        )
