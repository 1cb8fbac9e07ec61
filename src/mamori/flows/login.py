"""Password login and logout, with the defenses in front of the hash and the risk verdict
in front of the session.

Order of work (cheap checks first):
  1. banned or throttled source?        in-process ban cache            -> Blocked (429)
  2. the account, and whether this browser's device cookie is bound to it (and trusted)
  3. lock check + atomic attempt count   per login ID, or per device     -> AccountLocked (429)
  4. risk verdict (risk/ scorer + policy), from the request and the account's history only:
     deny                                                                -> LoginDenied (403)
  5. password verification under the hash gate                          -> Overloaded (503)
  6. step up: a challenge, the same answer for a right or wrong password (flows/challenge.py)
     allow: wrong -> InvalidCredentials (401); right -> session, device bound, history recorded

The same answer, status and (as near as we can make it) timing for an unknown login ID as for a
wrong password: an unknown ID is verified against a dummy hash of the same cost, counted and locked
the same way, scored like an account with history in the default two-step mode (so it is
challenged from every browser, as an existing account is from a new one), and both paths record
one failure event. A restricted account is only revealed to a client that knows its password
(and, when challenged, passes the second step).

Every decision is stored on the login event: score, level, reasons, action, strictness, and the
method that completed the login ("password", or the second step's).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

from mamori.devices import device_hash_from_cookie, new_device_cookie
from mamori.errors import (
    AccountLocked,
    AccountRestricted,
    AccountSuspended,
    InvalidCredentials,
    LoginDenied,
)
from mamori.flows import challenge as challenge_flow
from mamori.flows import notices
from mamori.flows import reset as reset_flow
from mamori.flows.center import single_device_applies
from mamori.flows.challenge import ChallengeStarted
from mamori.flows.defense import Reservation, retry_after
from mamori.flows.services import Services
from mamori.flows.sessions import TOUCH_INTERVAL, Authenticated, NewSession, start_session
from mamori.identifiers import has_control, login_key, printable
from mamori.models import Account, ClientContext, Device, EventType
from mamori.risk.assessment import Assessment
from mamori.risk.features import LoginFeatures, network_key
from mamori.risk.frequencies import FrequencySnapshot
from mamori.risk.policy import Mode, Verdict, decide
from mamori.risk.scoring import score_login
from mamori.store import Tx
from mamori.store.counters import CountersUnavailable
from mamori.store.devices import shows_client

log = logging.getLogger("mamori.login")

__all__ = ["ChallengeStarted", "LoginResult", "ResetRequired", "login", "logout"]

MODES: tuple[Mode, ...] = ("off", "new_devices", "every_login")


@dataclass(frozen=True, slots=True)
class LoginResult:
    account: Account
    session: NewSession
    device_cookie: str | None  # a new device cookie to set, when the browser had none
    single_device_confirm: bool = False  # ask "your other devices will be signed out?"


@dataclass(frozen=True, slots=True)
class ResetRequired:
    """The password is right (and the second step passed) but a forced reset is pending: no
    session; the reset flow continues with `reset_id` (set a new password, then log in)."""

    account: Account
    reset_id: str
    device_cookie: str | None


@dataclass(frozen=True, slots=True)
class RiskDecision:
    assessment: Assessment
    verdict: Verdict

    def details(self) -> dict[str, Any]:
        a, v = self.assessment, self.verdict
        return {
            "score": round(a.score, 6) if a.score < 1e12 else a.score,
            "log10_score": round(a.log10_score, 3),
            "level": a.level,
            "reasons": list(a.reasons),
            "history": a.history,
            "action": v.action,
            "strict": v.strict,
            "why": list(v.reasons),
        }


def features_of(client: ClientContext, *, device_id: str | None) -> LoginFeatures:
    return LoginFeatures(
        ip=client.ip,
        network=network_key(asn=client.asn, as_name=client.as_name),
        country=client.country,
        ua=client.user_agent,
        browser=client.browser,
        os=client.os,
        device_type=client.device_type,
        device_id=device_id,
    )


def effective_mode(svc: Services, account: Account | None) -> Mode:
    """The account's two-step mode (an unknown login ID gets the default for new accounts);
    the operator policy "all" raises "off" to "new_devices"."""
    raw = account.two_step_mode if account else svc.settings.two_step_default_mode
    mode: Mode = raw if raw in MODES else "new_devices"
    if mode == "off" and svc.settings.two_step_required == "all":
        return "new_devices"
    return mode


def assess(
    svc: Services,
    *,
    account: Account | None,
    features: LoginFeatures,
    snapshot: FrequencySnapshot | None,
    recognized: bool,
    trusted: bool,
    under_attack: bool,
    reported: list[str] | None = None,
) -> RiskDecision:
    """Score this login against the account's history and decide. An unknown login ID reads
    the (empty) tables of account 0 for the same cost, and is decided as an account with history
    seen from a new browser. No snapshot (the tables were out of reach): the device and the mode
    decide alone."""
    if snapshot is None:
        assessment = Assessment(
            score=1.0,
            log10_score=0.0,
            level="low",
            reasons=("risk_unavailable",),
            factors={},
            history=1,
        )
    else:
        assessment = score_login(
            snapshot, user=account.id if account else 0, features=features, policy=svc.risk_policy
        )
    if account is None:
        assessment = Assessment(
            score=assessment.score,
            log10_score=assessment.log10_score,
            level="low",
            reasons=("unknown_login_id",),
            factors={},
            history=0,
        )
    if reported:
        # the owner said "not me" about this device or network: high risk for this account
        assessment = Assessment(
            score=max(assessment.score, svc.risk_policy.high_threshold),
            log10_score=max(assessment.log10_score, math.log10(svc.risk_policy.high_threshold)),
            level="high",
            reasons=(*assessment.reasons, *(f"reported_{kind}" for kind in reported)),
            factors=assessment.factors,
            history=assessment.history,
        )
    verdict = decide(
        assessment,
        policy=svc.risk_policy,
        mode=effective_mode(svc, account),
        recognized_device=recognized,
        under_attack=under_attack,
        banned=False,  # banned sources never get here (the gate and the precheck refuse them)
        has_history=account is None or assessment.history > 0,
        force_two_step=account.two_step_forced if account else False,
        trusted_device=trusted,
    )
    return RiskDecision(assessment, verdict)


async def login(
    svc: Services,
    *,
    login_id: str,
    password: str,
    remember: bool,
    client: ClientContext,
    device_cookie: str | None = None,
) -> LoginResult | ChallengeStarted | ResetRequired:
    defender = svc.defender
    cookie_hash = device_hash_from_cookie(device_cookie, key=svc.settings.secret_key)
    # a subnet or network ban spares, for now, a browser with a device cookie (see below)
    would_block = await defender.precheck(client, spare=cookie_hash is not None)
    # A login ID with control characters cannot belong to an account (sign-up refuses them),
    # so it is not looked up; it is recorded with those characters replaced.
    valid = not has_control(login_id)
    key = login_key(login_id if valid else printable(login_id))[:128]
    account = None
    # bound: the cookie is bound to this account (its own lockout tier);
    # known: and not waiting to be asked again (the risk policy's "recognized device")
    bound = known = trusted = False
    found: Device | None = None
    flags: list[str] = []
    now = svc.clock.now()
    features = features_of(client, device_id=cookie_hash)
    # one transaction before the hash: the account, its device binding, and the attempt count
    async with svc.store.begin() as tx:
        if valid:
            account = await tx.accounts.by_login_key(key)
            if account is not None and cookie_hash is not None:
                found = await tx.devices.find(device_hash=cookie_hash, account_id=account.id)
                bound = found is not None
                known = found is not None and found.known
                trusted = found is not None and found.trusted_at(now)
        if cookie_hash is not None and not bound:
            # not this account's browser: a subnet or network ban holds after all
            await defender.spared_ban(client)
        # devices and networks the owner reported as "not me" (account 0: the same query)
        flags = await tx.risk_flags.matching(
            account.id if account else 0, {"device": cookie_hash, "network": features.network}
        )
        reservation = await defender.reserve(
            login_key=key, device_hash=cookie_hash if bound else None, tx=tx
        )
        reservation.would_block = would_block
        snapshot = None
        if reservation.verdict.allowed:
            try:  # the risk tables (SQL: in this transaction; Redis: one pipelined read)
                snapshot = await svc.risk.snapshot(account.id if account else 0, features, tx=tx)
            except CountersUnavailable:
                log.warning("risk tables unavailable; deciding without a score")
        if not reservation.verdict.allowed:
            await _failure(
                tx,
                svc,
                client=client,
                key=key,
                account=account,
                reason=reservation.verdict.reason,
                reservation=reservation,
            )
            if reservation.verdict.new_lock:
                await tx.events.add(
                    at=now,
                    type=EventType.ACCOUNT_LOCKED,
                    client=client,
                    result="locked",
                    reason=reservation.verdict.reason,
                    account_id=account.id if account else None,
                    login_id=key,
                    details=reservation.details(),
                )
    if not reservation.verdict.allowed:
        await defender.on_locked(client, login_key=key)
        until = reservation.verdict.lock_until
        if reservation.verdict.new_lock and account is not None:  # the owner hears (background)
            minutes = max(1, math.ceil(retry_after(until, now) / 60))
            notices.notify_later(
                svc,
                account=account,
                kind="account_locked",
                client=client,
                params={"minutes": minutes},
            )
        raise AccountLocked(retry_after=retry_after(until, now), until=until)
    risk = assess(
        svc,
        account=account,
        features=features,
        snapshot=snapshot,
        recognized=(known or trusted) and "device" not in flags,
        trusted=trusted and "device" not in flags,
        under_attack=reservation.under_attack or bool(would_block),
        reported=flags,
    )
    if risk.verdict.action == "deny":
        # decided before the hash, so the answer is the same for any password
        async with svc.store.begin() as tx:
            await defender.on_failure(
                client, login_key=key, unknown=account is None, reservation=reservation, tx=tx
            )
            await _failure(
                tx,
                svc,
                client=client,
                key=key,
                account=account,
                reason="risk_denied",
                reservation=reservation,
                risk=risk,
            )
        raise LoginDenied("this login cannot be accepted")
    ok = await svc.verify_password(
        stored_hash=account.password_hash if account else None,
        password=password,
        priority=bound,
    )
    ok = ok and account is not None
    new_cookie = None
    device_hash = cookie_hash
    if device_hash is None:
        new_cookie, device_hash = new_device_cookie(key=svc.settings.secret_key)
    if risk.verdict.action == "step_up":
        return await _challenge(
            svc,
            account=account,
            key=key,
            password=password if ok else None,
            password_ok=ok,
            device_hash=device_hash,
            new_cookie=new_cookie,
            recognized=bound,
            remember=remember,
            client=client,
            reservation=reservation,
            risk=risk,
        )
    if account is None or not ok:
        async with svc.store.begin() as tx:
            await defender.on_failure(
                client, login_key=key, unknown=account is None, reservation=reservation, tx=tx
            )
            await _failure(
                tx,
                svc,
                client=client,
                key=key,
                account=account,
                reason="unknown_login_id" if account is None else "wrong_password",
                reservation=reservation,
                risk=risk,
            )
        raise InvalidCredentials("login ID or password is incorrect")
    if account.restricted:
        async with svc.store.begin() as tx:
            await defender.on_success(
                client, login_key=key, tx=tx, device_hash=cookie_hash if bound else None
            )
            await _failure(
                tx,
                svc,
                client=client,
                key=key,
                account=account,
                reason="restricted",
                reservation=reservation,
                risk=risk,
            )
        raise AccountRestricted(account.restricted_reason)
    if account.suspended_at is not None:
        await _suspended(
            svc, account=account, client=client, key=key, device_hash=cookie_hash if bound else None
        )
    if account.password_reset_required:
        reset_id = await _forced_reset(
            svc, account=account, client=client, key=key, device_hash=cookie_hash if bound else None
        )
        return ResetRequired(account=account, reset_id=reset_id, device_cookie=new_cookie)
    new_hash = None
    if svc.hasher.needs_rehash(account.password_hash):
        new_hash = await svc.hash_password(password)
    result = await finish(
        svc,
        account=account,
        client=client,
        key=key,
        device_hash=device_hash,
        counted_on_device=bound,
        remember=remember,
        new_hash=new_hash,
        details={"defense": reservation.details(), "risk": risk.details(), "method": "password"},
        seen=found,
    )
    return LoginResult(
        account=result.account,
        session=result.session,
        device_cookie=new_cookie,
        single_device_confirm=result.single_device_confirm,
    )


async def _challenge(
    svc: Services,
    *,
    account: Account | None,
    key: str,
    password: str | None,
    password_ok: bool,
    device_hash: str,
    new_cookie: str | None,
    recognized: bool,
    remember: bool,
    client: ClientContext,
    reservation: Reservation,
    risk: RiskDecision,
) -> ChallengeStarted:
    """Step up: the same work and answer for a right and a wrong password. Both count as a
    failure now (completing the challenge takes the attempt back)."""
    now = svc.clock.now()
    decision = {"risk": risk.details(), "recognized": recognized, "defense": reservation.details()}
    async with svc.store.begin() as tx:
        await svc.defender.on_failure(
            client, login_key=key, unknown=account is None, reservation=reservation, tx=tx
        )
        started, message = await challenge_flow.start(
            svc,
            tx,
            account=account,
            login_key=key,
            password_ok=password_ok,
            device_hash=device_hash,
            remember=remember,
            client=client,
            verdict=risk.verdict,
            decision=decision,
        )
        if password_ok and account is not None:
            # the password is confirmed: an event operators must see (stuffing "hits")
            await tx.events.add(
                at=now,
                type=EventType.LOGIN_CHALLENGED,
                client=client,
                result="challenge",
                reason=",".join(risk.verdict.reasons),
                account_id=account.id,
                login_id=key,
                details={**decision, "methods": list(started.methods), "sent_to": started.sent_to},
            )
        else:
            await _failure(
                tx,
                svc,
                client=client,
                key=key,
                account=account,
                reason="unknown_login_id" if account is None else "wrong_password",
                reservation=reservation,
                risk=risk,
                challenged=True,
            )
    if message is not None:
        svc.send_later(message)
    if password_ok and account is not None:  # inbox only, in the background: no timing oracle
        notices.notify_later(
            svc, account=account, kind="login_code_sent", client=client, channels=()
        )
    if (
        password is not None
        and account is not None
        and svc.hasher.needs_rehash(account.password_hash)
    ):
        svc.background.spawn(_rehash(svc, account.id, password), what="rehash")
    return ChallengeStarted(
        challenge_id=started.challenge_id,
        methods=started.methods,
        sent_to=started.sent_to,
        expires_in=started.expires_in,
        device_cookie=new_cookie,
    )


async def _rehash(svc: Services, account_id: int, password: str) -> None:
    new_hash = await svc.hash_password(password)
    async with svc.store.begin() as tx:
        await tx.accounts.set_password_hash(account_id, password_hash=new_hash, changed_at=None)


async def complete_challenge(
    svc: Services,
    *,
    challenge_id: str,
    method: str,
    code: str,
    remember_device: bool,
    client: ClientContext,
) -> LoginResult | ResetRequired:
    """Check a second-step code; on success, the login completes like a password login, the
    device is trusted when asked ("don't ask again"), and an operator's one-time requirement of
    the second step is cleared."""
    passed = await challenge_flow.verify(
        svc, challenge_id=challenge_id, method=method, code=code, client=client
    )
    ch, account = passed.challenge, passed.account
    if account.restricted:
        async with svc.store.begin() as tx:
            await svc.defender.on_success(client, login_key=ch.login_key, tx=tx, device_hash=None)
            await tx.events.add(
                at=svc.clock.now(),
                type=EventType.LOGIN_FAILURE,
                client=client,
                result="fail",
                reason="restricted",
                account_id=account.id,
                login_id=ch.login_key,
                details={"method": method, **ch.decision},
            )
        raise AccountRestricted(account.restricted_reason)
    if account.suspended_at is not None:
        await _suspended(
            svc,
            account=account,
            client=client,
            key=ch.login_key,
            device_hash=ch.device_hash if ch.decision.get("recognized") else None,
        )
    if account.password_reset_required:
        reset_id = await _forced_reset(
            svc,
            account=account,
            client=client,
            key=ch.login_key,
            device_hash=ch.device_hash if ch.decision.get("recognized") else None,
        )
        return ResetRequired(account=account, reset_id=reset_id, device_cookie=None)
    now = svc.clock.now()
    result = await finish(
        svc,
        account=account,
        client=client,
        key=ch.login_key,
        device_hash=ch.device_hash,
        counted_on_device=bool(ch.decision.get("recognized")),
        remember=ch.remember,
        new_hash=None,
        details={**ch.decision, "method": method, "challenge": True},
        trust_until=challenge_flow.trusted_until(svc, now) if remember_device else None,
        ask_again=not remember_device,
        clear_forced=account.two_step_forced,
    )
    return result


async def _suspended(
    svc: Services,
    *,
    account: Account,
    client: ClientContext,
    key: str,
    device_hash: str | None,  # the bound device whose counter took the attempt, if any
) -> NoReturn:
    """A right password on a dormant, suspended account: the attempt is taken back and the
    owner is told how to reactivate it (a password reset)."""
    async with svc.store.begin() as tx:
        await svc.defender.on_success(client, login_key=key, tx=tx, device_hash=device_hash)
        await tx.events.add(
            at=svc.clock.now(),
            type=EventType.LOGIN_FAILURE,
            client=client,
            result="fail",
            reason="suspended",
            account_id=account.id,
            login_id=key,
        )
    raise AccountSuspended("this account is suspended; reset the password to reactivate it")


async def _forced_reset(
    svc: Services,
    *,
    account: Account,
    client: ClientContext,
    key: str,
    device_hash: str | None,  # the bound device whose counter took the attempt, if any
) -> str:
    """A right password (and second step) on an account whose reset is forced: the attempt is
    taken back, and instead of a session the reset flow starts, already verified."""
    async with svc.store.begin() as tx:
        await svc.defender.on_success(client, login_key=key, tx=tx, device_hash=device_hash)
        if account.two_step_forced:
            await tx.accounts.set_two_step_forced(account.id, False)
    return await reset_flow.start_forced_reset(svc, account=account, client=client)


async def finish(
    svc: Services,
    *,
    account: Account,
    client: ClientContext,
    key: str,
    device_hash: str,
    counted_on_device: bool,
    remember: bool,
    new_hash: str | None,
    details: dict[str, Any],
    trust_until: datetime | None = None,
    ask_again: bool = False,
    clear_forced: bool = False,
    seen: Device | None = None,
) -> LoginResult:
    """A login that passed: counters, rehash, device bound (and trusted), session, event, and
    the login added to the account's risk history. `seen`: the browser's binding to the
    account as read before the hash (its "last seen" is refreshed at most once a minute, like
    a session's, and the account's last login likewise)."""
    now = svc.clock.now()
    async with svc.store.begin() as tx:
        await svc.defender.on_success(
            client, login_key=key, tx=tx, device_hash=device_hash if counted_on_device else None
        )
        if new_hash is not None:
            await tx.accounts.set_password_hash(account.id, password_hash=new_hash, changed_at=None)
            await tx.events.add(
                at=now,
                type=EventType.PASSWORD_REHASHED,
                client=client,
                result="ok",
                account_id=account.id,
                login_id=key,
            )
        if seen is not None and not ask_again and _seen_recently(seen, client, now):
            device = seen  # the same browser, as it was less than a minute ago: no write
        else:
            device = await tx.devices.bind(
                device_hash=device_hash,
                account_id=account.id,
                client=client,
                now=now,
                ask_again=ask_again,
            )
        if trust_until is not None:
            await tx.devices.trust(device_id=device.id, account_id=account.id, until=trust_until)
            await tx.events.add(
                at=now,
                type=EventType.DEVICE_TRUSTED,
                client=client,
                result="ok",
                account_id=account.id,
                login_id=key,
                details={"device_id": device.id, "until": trust_until.isoformat()},
            )
        if clear_forced:
            await tx.accounts.set_two_step_forced(account.id, False)
        last = account.last_login_at
        if last is None or account.dormant_warned_at is not None or now - last >= TOUCH_INTERVAL:
            await tx.accounts.touch_login(account.id, at=now)
        features = features_of(client, device_id=device_hash)
        try:  # the login joins the account's risk history (SQL: in this transaction)
            history = details.get("risk", {}).get("history")
            await svc.risk.record(
                account.id,
                features,
                now,
                tx=tx,
                history=history if isinstance(history, int) else None,
            )
        except CountersUnavailable:
            log.warning("risk tables unavailable; login not added to the history")
        new_device = not counted_on_device  # the cookie was not bound to the account before
        others = 0
        if new_device and single_device_applies(svc, account):
            others = len(await tx.sessions.active_for(account.id, now=now))
        session = await start_session(
            svc, tx, account=account, remember=remember, client=client, device_id=device.id
        )
        event_id = await tx.events.add(
            at=now,
            type=EventType.LOGIN_SUCCESS,
            client=client,
            result="ok",
            account_id=account.id,
            login_id=key,
            details={
                "session_id": session.session.id,
                "remember": remember,
                "device_id": device.id,
                **details,
            },
        )
    reasons = details.get("risk", {}).get("reasons", [])
    if new_device or "new_country" in reasons:
        # LINE-style notice with a "this wasn't me" link that only tightens security
        await notices.notify(
            svc,
            account=account,
            kind="new_device_login" if new_device else "new_location_login",
            client=client,
            params={"network_key": features.network},
            event_id=event_id,
            device_id=device.id,
            session_id=session.session.id,
            not_me=True,
        )
    # single-device mode: the new browser is asked before the others are signed out
    return LoginResult(
        account=account, session=session, device_cookie=None, single_device_confirm=others > 0
    )


def _seen_recently(device: Device, client: ClientContext, now: datetime) -> bool:
    """The binding already says what a refresh would write, give or take `TOUCH_INTERVAL`."""
    return (
        not device.ask_again
        and now - device.last_seen_at < TOUCH_INTERVAL
        and shows_client(device, client)
    )


async def _failure(
    tx: Tx,
    svc: Services,
    *,
    client: ClientContext,
    key: str,
    account: Account | None,
    reason: str,
    reservation: Reservation,
    risk: RiskDecision | None = None,
    challenged: bool = False,
) -> None:
    details: dict[str, Any] = {"defense": reservation.details()}
    if risk is not None:
        details["risk"] = risk.details()
    if challenged:
        details["challenged"] = True
    await tx.events.add(
        at=svc.clock.now(),
        type=EventType.LOGIN_FAILURE,
        client=client,
        result="fail",
        reason=reason,
        account_id=account.id if account else None,
        login_id=key,
        details=details,
    )


async def logout(svc: Services, *, auth: Authenticated, client: ClientContext) -> None:
    now = svc.clock.now()
    async with svc.store.begin() as tx:
        await tx.sessions.revoke(auth.session.id, now=now, reason="logout")
        await tx.events.add(
            at=now,
            type=EventType.LOGOUT,
            client=client,
            result="ok",
            account_id=auth.account.id,
            login_id=auth.account.login_id,
            details={"session_id": auth.session.id},
        )
