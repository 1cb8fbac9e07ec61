"""Operator actions on accounts and bans (the CLI, the admin API and the console call these).
Each is recorded in the audit log (`by` is the actor) in the same transaction as the change."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from mamori.errors import InputError, NotFound
from mamori.flows import notices
from mamori.flows.services import Services
from mamori.identifiers import login_key
from mamori.models import Account, Ban, ClientContext, EventType
from mamori.netaddr import normalize_ip, parse_cidrs

BAN_KINDS = ("ip", "cidr", "network")


async def find_account(svc: Services, login_id: str) -> Account:
    async with svc.store.begin() as tx:
        account = await tx.accounts.by_login_key(login_key(login_id))
    if account is None:
        raise NotFound("account", login_id)
    return account


async def restrict(
    svc: Services, *, login_id: str, reason: str, actor: ClientContext, by: str
) -> Account:
    """Permanently restrict an account (until lifted): its sessions end, login answers 403."""
    if not reason.strip():
        raise InputError("a reason is required", code="reason_required", field="reason")
    account = await find_account(svc, login_id)
    now = svc.clock.now()
    async with svc.store.begin() as tx:
        await tx.accounts.set_restriction(account.id, restricted_at=now, reason=reason.strip())
        ended = await tx.sessions.revoke_all(account.id, now=now, reason="restricted")
        await tx.events.add(
            at=now,
            type=EventType.ACCOUNT_RESTRICTED,
            client=actor,
            result="ok",
            reason=reason.strip()[:64],
            account_id=account.id,
            login_id=account.login_id,
            details={"by": by, "reason": reason.strip(), "sessions_ended": ended},
        )
        await tx.audit.add(
            at=now,
            actor=by,
            action="account.restrict",
            target=account.login_id,
            reason=reason.strip(),
            details={"account_id": account.id, "sessions_ended": ended},
        )
        updated = await tx.accounts.get(account.id)
    assert updated is not None
    # the owner hears of it (not the operator's reason, nor where the operator was)
    await notices.notify(
        svc, account=updated, kind="account_restricted", client=None, channels=("email", "sms")
    )
    return updated


async def unrestrict(svc: Services, *, login_id: str, actor: ClientContext, by: str) -> Account:
    account = await find_account(svc, login_id)
    now = svc.clock.now()
    async with svc.store.begin() as tx:
        await tx.accounts.set_restriction(account.id, restricted_at=None, reason="")
        await tx.events.add(
            at=now,
            type=EventType.ACCOUNT_UNRESTRICTED,
            client=actor,
            result="ok",
            account_id=account.id,
            login_id=account.login_id,
            details={"by": by},
        )
        await tx.audit.add(
            at=now,
            actor=by,
            action="account.unrestrict",
            target=account.login_id,
            details={"account_id": account.id, "was": account.restricted_reason},
        )
        updated = await tx.accounts.get(account.id)
    assert updated is not None
    return updated


async def require_two_step(
    svc: Services, *, login_id: str, required: bool, reason: str, actor: ClientContext, by: str
) -> Account:
    """Flag an account so its next login needs the second step from every browser, trusted
    ones included (cleared when the owner passes it), or clear the flag."""
    account = await find_account(svc, login_id)
    now = svc.clock.now()
    async with svc.store.begin() as tx:
        await tx.accounts.set_two_step_forced(account.id, required)
        await tx.events.add(
            at=now,
            type=EventType.TWO_STEP_REQUIRED,
            client=actor,
            result="on" if required else "off",
            reason=reason.strip()[:64],
            account_id=account.id,
            login_id=account.login_id,
            details={"by": by, "required": required, "reason": reason.strip()},
        )
        await tx.audit.add(
            at=now,
            actor=by,
            action="account.require_two_step",
            target=account.login_id,
            reason=reason.strip(),
            details={"account_id": account.id, "required": required},
        )
        updated = await tx.accounts.get(account.id)
    assert updated is not None
    return updated


async def unlock(svc: Services, *, login_id: str, actor: ClientContext, by: str) -> None:
    """Lift a temporary lock on a login ID (works for IDs without an account too)."""
    key = login_key(login_id)
    await svc.defender.counters.delete(f"id:{key}:lock", f"id:{key}:n", f"id:{key}:locks")
    async with svc.store.begin() as tx:
        account = await tx.accounts.by_login_key(key)
        await tx.events.add(
            at=svc.clock.now(),
            type=EventType.ACCOUNT_UNLOCKED,
            client=actor,
            result="ok",
            account_id=account.id if account else None,
            login_id=key,
            details={"by": by},
        )
        await tx.audit.add(
            at=svc.clock.now(),
            actor=by,
            action="account.unlock",
            target=account.login_id if account else key,
            details={"account_id": account.id if account else None},
        )


def normalize_ban_value(kind: str, value: str) -> str:
    if kind not in BAN_KINDS:
        raise InputError("kind must be ip, cidr or network", code="invalid_ban", field="kind")
    if kind == "ip":
        ip = normalize_ip(value)
        if ip is None:
            raise InputError("not an IP address", code="invalid_ban", field="value")
        return ip
    if kind == "cidr":
        try:
            (net,) = parse_cidrs(value)
        except ValueError:
            raise InputError("not a CIDR network", code="invalid_ban", field="value") from None
        return str(net)
    name = value.strip()
    if not 1 <= len(name) <= 128:
        raise InputError("network name must be 1-128 characters", code="invalid_ban", field="value")
    return name


async def add_ban(
    svc: Services,
    *,
    kind: str,
    value: str,
    reason: str,
    seconds: float | None,
    actor: ClientContext,
    by: str,
) -> Ban:
    value = normalize_ban_value(kind, value)
    if seconds is not None and seconds <= 0:
        raise InputError("duration must be positive", code="invalid_ban", field="seconds")
    now = svc.clock.now()
    details: dict[str, Any] = {"by": by}
    async with svc.store.begin() as tx:
        ban = await tx.bans.upsert(
            kind=kind,
            value=value,
            reason=reason or "operator",
            origin="operator",
            now=now,
            expires_at=now + timedelta(seconds=seconds) if seconds else None,
            details=details,
        )
        await tx.events.add(
            at=now,
            type=EventType.BAN_ADDED,
            client=actor,
            result="ok",
            reason=(reason or "operator")[:64],
            details={
                "kind": kind,
                "value": value,
                "seconds": seconds,
                "origin": "operator",
                "by": by,
            },
        )
        await tx.audit.add(
            at=now,
            actor=by,
            action="ban.add",
            target=f"{kind}:{value}",
            reason=reason or "operator",
            details={"seconds": seconds},
        )
    svc.defender.bans.add_local(ban)
    return ban


async def remove_ban(
    svc: Services, *, kind: str, value: str, actor: ClientContext, by: str
) -> None:
    value = normalize_ban_value(kind, value)
    async with svc.store.begin() as tx:
        if not await tx.bans.remove(kind=kind, value=value):
            raise NotFound("ban", f"{kind}:{value}")
        await tx.events.add(
            at=svc.clock.now(),
            type=EventType.BAN_REMOVED,
            client=actor,
            result="ok",
            details={"kind": kind, "value": value, "by": by},
        )
        await tx.audit.add(
            at=svc.clock.now(), actor=by, action="ban.remove", target=f"{kind}:{value}"
        )
    svc.defender.bans.remove_local(kind, value)
    if kind == "ip":
        await svc.defender.counters.delete(f"ipf:{value}")


async def list_bans(svc: Services) -> list[Ban]:
    async with svc.store.begin() as tx:
        return await tx.bans.active(now=svc.clock.now())
