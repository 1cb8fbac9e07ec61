""" "This wasn't me" and "Yes, it was me": the owner's answer to a notice, which acts.

"This wasn't me" works without logging in (the link in a new-device notice, one-time and
expiring) because it can only *tighten* security. In one transaction it:

- ends the sessions created on that device, untrusts it and marks it "ask again";
- flags the device and its network for the account (the risk model treats them as high risk);
- marks the password for reset at the next login (forced reset) and requires the second step;
- records the feedback on the notice and an event pointing at the reported login;

then confirms in the inbox (and by email, which is a notice like any other). From the security
center the same action is available per notice for a signed-in owner.

"Yes, it was me" (signed in only) marks the notice confirmed and makes the device known (it is
no longer asked again as a new device).

The link itself only shows a page (GET changes nothing: mail scanners open links); the change
happens on the POST from that page.
"""

from __future__ import annotations

from mamori.errors import InputError, NotFound
from mamori.flows import notices
from mamori.flows.services import Services
from mamori.flows.sessions import Authenticated
from mamori.models import Account, ClientContext, EventType
from mamori.store import Tx
from mamori.store.notices import NoticeRecord


async def open_link(svc: Services, token: str) -> NoticeRecord | None:
    """The notice behind a "this wasn't me" token while it can still be used, else None."""
    async with svc.store.begin() as tx:
        notice = await tx.notices.by_action_hash(notices.action_hash(token[:200]))
    if notice is None or notice.feedback or notice.action_expires_at is None:
        return None
    if notice.action_expires_at <= svc.clock.now():
        return None
    return notice


async def report_by_link(svc: Services, *, token: str, client: ClientContext) -> NoticeRecord:
    notice = await open_link(svc, token)
    if notice is None:
        raise NotFound("link")
    return await _report(svc, notice=notice, client=client, via="link")


async def report_from_center(
    svc: Services, *, auth: Authenticated, notice_id: int, client: ClientContext
) -> NoticeRecord:
    async with svc.store.begin() as tx:
        notice = await tx.notices.get(notice_id)
    if notice is None or notice.account_id != auth.account.id:
        raise NotFound("notice")
    if notice.feedback:
        raise InputError("this notice was already answered", code="already_answered")
    return await _report(svc, notice=notice, client=client, via="security_center")


async def _report(
    svc: Services, *, notice: NoticeRecord, client: ClientContext, via: str
) -> NoticeRecord:
    now = svc.clock.now()
    async with svc.store.begin() as tx:
        if not await tx.notices.take_action(notice.id, now=now, feedback="not_me"):
            raise NotFound("link")  # answered a moment ago: single use
        account = await tx.accounts.get(notice.account_id)
        if account is None:
            raise NotFound("account")
        ended = await _tighten(svc, tx, account=account, notice=notice)
        await tx.events.add(
            at=now,
            type=EventType.NOT_ME_REPORTED,
            client=client,
            result="ok",
            reason=notice.kind,
            account_id=account.id,
            login_id=account.login_id,
            details={
                "notice_id": notice.id,
                "about_event": notice.event_id,
                "device_id": notice.device_id,
                "sessions_ended": ended,
                "via": via,
            },
        )
        updated = await tx.notices.get(notice.id)
    assert updated is not None
    await notices.notify(
        svc,
        account=account,
        kind="not_me_done",
        client=client,
        params={"reported_time": notice.params.get("time", "?")},
        event_id=notice.event_id,
    )
    return updated


async def _tighten(svc: Services, tx: Tx, *, account: Account, notice: NoticeRecord) -> int:
    now = svc.clock.now()
    ended = 0
    if notice.session_id is not None:
        ended += int(await tx.sessions.revoke(notice.session_id, now=now, reason="not_me"))
    if notice.device_id is not None:
        ended += await tx.sessions.revoke_for_device(
            account.id, notice.device_id, now=now, reason="not_me"
        )
        device = await tx.devices.get(device_id=notice.device_id, account_id=account.id)
        if device is not None:
            await tx.devices.trust(device_id=device.id, account_id=account.id, until=None)
            await tx.devices.set_ask_again(device_id=device.id, account_id=account.id)
            await tx.risk_flags.add(
                account.id, kind="device", value=device.device_hash, reason="not_me", now=now
            )
    network = str(notice.params.get("network_key", ""))
    if network:
        await tx.risk_flags.add(account.id, kind="network", value=network, reason="not_me", now=now)
    await tx.accounts.set_password_reset_required(account.id, True)
    await tx.accounts.set_two_step_forced(account.id, True)
    return ended


async def confirm_was_me(
    svc: Services, *, auth: Authenticated, notice_id: int, client: ClientContext
) -> NoticeRecord:
    now = svc.clock.now()
    async with svc.store.begin() as tx:
        notice = await tx.notices.get(notice_id)
        if notice is None or notice.account_id != auth.account.id:
            raise NotFound("notice")
        if not await tx.notices.take_action(notice.id, now=now, feedback="was_me"):
            raise InputError("this notice was already answered", code="already_answered")
        if notice.device_id is not None:
            await tx.devices.set_known(device_id=notice.device_id, account_id=auth.account.id)
        await tx.events.add(
            at=now,
            type=EventType.WAS_ME_CONFIRMED,
            client=client,
            result="ok",
            reason=notice.kind,
            account_id=auth.account.id,
            login_id=auth.account.login_id,
            details={"notice_id": notice.id, "about_event": notice.event_id},
        )
        updated = await tx.notices.get(notice.id)
    assert updated is not None
    return updated
