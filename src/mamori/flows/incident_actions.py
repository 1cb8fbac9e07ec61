"""One-click responses to an incident: previewed with counts, idempotent and resumable.

  block    ban every attack source for BLOCK_DAYS (origin "operator", reason "incident <id>");
           a source already banned at least that long counts as done; allowlisted IPs are
           skipped (marked done, counted as skipped)
  reset    for every affected account (password confirmed, logged in included): a password
           reset at the next login, every session ended, the second step required
  notify   the "incident_response" notice (ja/en, email and SMS) to every affected account

`respond` writes an `incident_actions` row and one `incident_action_items` row per target
(done_at NULL) in one transaction, then works through the targets one transaction each: the
item is marked done in the transaction that does its work, so a crash leaves exactly the
finished targets marked and a later `respond` of the same kind resumes the running action.
Targets done by any earlier action of the same kind on the incident are not targets again, so
a second run does nothing new (only accounts or sources that appeared since). A notice is
sent in the notices flow's own transaction: a resumed run first looks for the notice sent
before the crash (at most one per target and action). Every start, resume and end is written
to the audit log (who, what, when, why).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from mamori.errors import InputError, NotFound
from mamori.flows import incidents as incident_flow
from mamori.flows import notices
from mamori.flows.services import Services
from mamori.models import Ban, ClientContext, EventType
from mamori.store import Tx

Kind = Literal["block", "reset", "notify"]
KINDS: tuple[Kind, ...] = ("block", "reset", "notify")
BLOCK_DAYS = 30  # residential proxy addresses pass to other people: long, not forever
NOTICE_KIND = "incident_response"
SYSTEM = ClientContext(ip="", user_agent="mamori-incident")


@dataclass(frozen=True, slots=True)
class Preview:
    kind: str
    targets: int  # every target of the incident now
    already_done: int  # done by an earlier action (or, for block, already banned as long)
    to_do: int  # what `respond` would do now
    resumable: int  # pending targets of a running (interrupted) action, done first

    def json(self) -> dict[str, Any]:
        return {
            "action": self.kind,
            "targets": self.targets,
            "already_done": self.already_done,
            "to_do": self.to_do,
            "resumable": self.resumable,
        }


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: str
    action_ids: tuple[int, ...]  # the resumed action and/or the new one
    done: int  # targets done by this run
    skipped: int  # allowlisted sources, vanished accounts (marked done, no work)
    resumed: int  # of `done`, targets of an interrupted action

    def json(self) -> dict[str, Any]:
        return {
            "action": self.kind,
            "action_ids": list(self.action_ids),
            "done": self.done,
            "skipped": self.skipped,
            "resumed": self.resumed,
        }


def check_kind(kind: str) -> Kind:
    for k in KINDS:
        if k == kind:
            return k
    raise InputError("action must be block, reset or notify", code="invalid_action", field="action")


async def _targets(svc: Services, incident_id: int, kind: Kind) -> list[str]:
    analysis = await incident_flow.analyze(svc, incident_id)
    if kind == "block":
        return [s.key for s in analysis.sources]
    return [str(a.account_id) for a in analysis.confirmed]


def _block_until(svc: Services) -> datetime:
    return svc.clock.now() + timedelta(days=BLOCK_DAYS)


async def _already(
    svc: Services, tx: Tx, incident_id: int, kind: Kind, targets: list[str]
) -> set[str]:
    done = {target for _, target, _ in await tx.incidents.done_items(incident_id, kind=kind)}
    if kind == "block":
        until = _block_until(svc)
        for target in targets:
            ban_kind, _, value = target.partition(":")
            ban = await tx.bans.get(kind=ban_kind, value=value)
            if ban is not None and (ban.expires_at is None or ban.expires_at >= until):
                done.add(target)
    return done & set(targets)


async def preview(svc: Services, incident_id: int, kind: str) -> Preview:
    k = check_kind(kind)
    targets = await _targets(svc, incident_id, k)
    async with svc.store.begin() as tx:
        already = await _already(svc, tx, incident_id, k, targets)
        running = await tx.incidents.actions(incident_id, kind=k, status="running")
        pending: set[str] = set()
        for action in running:
            pending.update(await tx.incidents.pending(action.id))
    to_do = len(set(targets) - already - pending)
    return Preview(k, len(targets), len(already), to_do, len(pending))


async def respond(
    svc: Services, incident_id: int, kind: str, *, actor: str, reason: str = ""
) -> Outcome:
    """Resume an interrupted action of this kind, then act on the targets not yet done."""
    k = check_kind(kind)
    why = reason.strip() or f"incident {incident_id}"
    done = skipped = resumed = 0
    ids: list[int] = []
    async with svc.store.begin() as tx:
        if await tx.incidents.get(incident_id) is None:
            raise NotFound("incident", str(incident_id))
        running = await tx.incidents.actions(incident_id, kind=k, status="running")
    for action in running:
        async with svc.store.begin() as tx:
            await _audit(svc, tx, action.id, incident_id, k, "resume", actor, why, {})
        n, s = await _run(svc, action.id, incident_id, k, action.created_at, actor, why)
        done, skipped, resumed = done + n, skipped + s, resumed + n
        ids.append(action.id)
    targets = await _targets(svc, incident_id, k)
    async with svc.store.begin() as tx:
        already = await _already(svc, tx, incident_id, k, targets)
        todo = [t for t in targets if t not in already]
        if not todo:
            await _audit(svc, tx, None, incident_id, k, "noop", actor, why, {"targets": 0})
            return Outcome(k, tuple(ids), done, skipped, resumed)
        now = svc.clock.now()
        params: dict[str, Any] = {"reason": why}
        if k == "block":
            params["days"] = BLOCK_DAYS
        action_id = await tx.incidents.add_action(
            incident_id=incident_id, kind=k, actor=actor, at=now, params=params, targets=todo
        )
        await _audit(svc, tx, action_id, incident_id, k, "start", actor, why, {"total": len(todo)})
    n, s = await _run(svc, action_id, incident_id, k, now, actor, why)
    ids.append(action_id)
    return Outcome(k, tuple(ids), done + n, skipped + s, resumed)


async def _audit(
    svc: Services,
    tx: Tx,
    action_id: int | None,
    incident_id: int,
    kind: Kind,
    what: str,
    actor: str,
    reason: str,
    details: dict[str, Any],
) -> None:
    await tx.audit.add(
        at=svc.clock.now(),
        actor=actor,
        action=f"incident.{kind}.{what}",
        target=f"incident:{incident_id}",
        reason=reason,
        details={"action_id": action_id, **details},
    )


async def _run(
    svc: Services,
    action_id: int,
    incident_id: int,
    kind: Kind,
    started: datetime,
    actor: str,
    reason: str,
) -> tuple[int, int]:
    """Work through the action's pending targets, one transaction each. (done, skipped)"""
    async with svc.store.begin() as tx:
        pending = await tx.incidents.pending(action_id)
    done = skipped = 0
    for target in pending:
        worked = False
        if kind == "notify":
            worked = await notify_account(svc, target=target, since=started)
            async with svc.store.begin() as tx:
                claimed = await tx.incidents.claim(action_id, target, at=svc.clock.now())
        else:
            ban: Ban | None = None
            async with svc.store.begin() as tx:
                claimed = await tx.incidents.claim(action_id, target, at=svc.clock.now())
                if claimed:  # the work and its mark commit together
                    if kind == "block":
                        ban = await block_source(svc, tx, target=target, incident_id=incident_id)
                        worked = ban is not None
                    else:
                        worked = await reset_account(
                            svc, tx, target=target, incident_id=incident_id, reason=reason
                        )
            if ban is not None:
                svc.defender.bans.add_local(ban)
        if claimed:
            done += 1
            skipped += 0 if worked else 1
    async with svc.store.begin() as tx:
        if await tx.incidents.finish_action(action_id, at=svc.clock.now()):
            await _audit(
                svc,
                tx,
                action_id,
                incident_id,
                kind,
                "done",
                actor,
                reason,
                {"done": done, "skipped": skipped},
            )
    return done, skipped


# ---- the per-target work (module functions: one place to look, and to fail in tests) ----


async def block_source(svc: Services, tx: Tx, *, target: str, incident_id: int) -> Ban | None:
    """Ban one source for BLOCK_DAYS (a longer or permanent ban stays). None: allowlisted."""
    kind, _, value = target.partition(":")
    if kind == "ip" and svc.defender.bans.allowlisted(value):
        return None
    now = svc.clock.now()
    reason = f"incident {incident_id}"
    ban = await tx.bans.upsert(
        kind=kind,
        value=value,
        reason=reason,
        origin="operator",
        now=now,
        expires_at=_block_until(svc),
        details={"incident": incident_id},
    )
    await tx.events.add(
        at=now,
        type=EventType.BAN_ADDED,
        client=SYSTEM,
        result="ok",
        reason=reason,
        details={
            "kind": kind,
            "value": value,
            "seconds": BLOCK_DAYS * 86400,
            "origin": "operator",
            "incident": incident_id,
        },
    )
    return ban


async def reset_account(
    svc: Services, tx: Tx, *, target: str, incident_id: int, reason: str
) -> bool:
    """Password reset at the next login, every session ended, the second step required."""
    account = await tx.accounts.get(int(target))
    if account is None:
        return False
    now = svc.clock.now()
    await tx.accounts.set_password_reset_required(account.id, True)
    await tx.accounts.set_two_step_forced(account.id, True)
    ended = await tx.sessions.revoke_all(account.id, now=now, reason="incident")
    await tx.events.add(
        at=now,
        type=EventType.PASSWORD_RESET_FORCED,
        client=SYSTEM,
        result="ok",
        reason=f"incident {incident_id}",
        account_id=account.id,
        login_id=account.login_id,
        details={"incident": incident_id, "reason": reason, "sessions_ended": ended},
    )
    return True


async def notify_account(svc: Services, *, target: str, since: datetime) -> bool:
    """The incident notice (email and SMS), unless this action already sent it (a resume)."""
    async with svc.store.begin() as tx:
        account = await tx.accounts.get(int(target))
        sent = account is not None and await tx.incidents.notice_since(
            account.id, kind=NOTICE_KIND, since=since
        )
    if account is None:
        return False
    if not sent:
        await notices.notify(svc, account=account, kind=NOTICE_KIND, channels=("email", "sms"))
    return True
