"""The second step of a login: risk verdict, challenge, code, completion — with no oracle.

A login whose verdict is "step up" gets the same answer whether its password was right or wrong
(or its login ID unknown): `{"status": "challenge", "challenge_id", "methods", "sent_to"}`. The
verdict is reached *before* the password is checked, from what the request shows (device,
network, browser) and the account's own history, so it cannot depend on the password. Then:

- right password: a challenge that can succeed; a code is sent (in the background, after the
  response, so its time tells nothing) unless the account uses an authenticator app;
- wrong password or unknown login ID: a challenge that can never succeed, stored the same way,
  with no code; every code fails like a wrong one, and after the same number of tries the
  challenge fails the same way.

Both count as one failure for the lockout and IP rules when they start (so a right password
cannot be told by locks arriving later); completing the challenge takes the attempt back.

Methods are the account's ("totp", "sms", "email", "recovery"; see `factors.login_methods`);
an unknown login ID offers ["email"], like an account with no enrolled factor. The challenge id
is 256 random bits, stored hashed; codes are 6 digits from `secrets`, stored as HMACs bound to
the challenge, valid `login_code_minutes` (10), single use, `login_code_max_attempts` (5) tries
for the whole challenge (fewer and shorter when the verdict is strict), resends limited.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from mamori.errors import ChallengeFailed, CodeInvalid, InputError, ResendLimited
from mamori.flows import factors, notices
from mamori.flows.services import Services
from mamori.models import Account, ClientContext, EventType, Message
from mamori.notify.catalog import render
from mamori.otp import code_matches, hash_code, new_numeric_code
from mamori.risk.policy import Verdict
from mamori.store import Tx
from mamori.store.challenges import Challenge

CODE_PURPOSE = "login_challenge"
CODE_CHANNELS = ("email", "sms")
METHODS = ("totp", "sms", "email", "recovery")
UNKNOWN_METHODS = ("email",)


@dataclass(frozen=True, slots=True)
class ChallengeStarted:
    challenge_id: str
    methods: tuple[str, ...]
    sent_to: str | None  # "email" | "sms" | None (an authenticator app user picks)
    expires_in: int  # seconds
    device_cookie: str | None  # a new device cookie to set, when the browser had none


@dataclass(frozen=True, slots=True)
class ChallengePassed:
    """A completed challenge: the caller finishes the login with these."""

    challenge: Challenge
    account: Account
    method: str
    replay_notice: Message | None


def token_hash(challenge_id: str) -> str:
    return hashlib.sha256(challenge_id.encode("utf-8", "replace")).hexdigest()


def _limits(svc: Services, strict: bool) -> tuple[int, int]:
    s = svc.settings
    if strict:
        return s.login_code_strict_minutes, s.login_code_strict_max_attempts
    return s.login_code_minutes, s.login_code_max_attempts


def first_channel(methods: tuple[str, ...]) -> str | None:
    """Where the first code goes: none for an authenticator app user (they can ask for one),
    SMS to a verified phone, else email."""
    if "totp" in methods:
        return None
    return "sms" if "sms" in methods else "email"


def location_of(client: ClientContext) -> str:
    parts = [p for p in (client.country, client.as_name) if p]
    return " / ".join(parts) + (f" ({client.ip})" if client.ip else "")


def code_message(
    svc: Services, account: Account, *, channel: str, code: str, client: ClientContext
) -> Message:
    minutes = svc.settings.login_code_minutes
    if channel == "sms":
        assert account.phone is not None
        return render(
            "login_code_sms",
            language=account.language,
            channel="sms",
            to=account.phone,
            account_id=account.id,
            code=code,
            minutes=minutes,
        )
    return render(
        "login_code",
        language=account.language,
        channel="email",
        to=account.email,
        account_id=account.id,
        login_id=account.login_id,
        code=code,
        minutes=minutes,
        time=svc.clock.now().strftime("%Y-%m-%d %H:%M UTC"),
        browser=client.browser or "?",
        os=client.os or "?",
        location=location_of(client) or "?",
    )


async def start(
    svc: Services,
    tx: Tx,
    *,
    account: Account | None,
    login_key: str,
    password_ok: bool,
    device_hash: str,
    remember: bool,
    client: ClientContext,
    verdict: Verdict,
    decision: dict[str, Any],
) -> tuple[ChallengeStarted, Message | None]:
    """Store a challenge for this login (in the caller's transaction) and return the answer and
    the code message to send after commit (None for a wrong password: nothing is sent)."""
    now = svc.clock.now()
    methods = tuple(await factors.login_methods(tx, account)) if account else UNKNOWN_METHODS
    sent_to = first_channel(methods)
    minutes, max_attempts = _limits(svc, verdict.strict)
    challenge_id = secrets.token_urlsafe(32)
    th = token_hash(challenge_id)
    code = new_numeric_code(6)
    code_h = hash_code(key=svc.code_key, purpose=CODE_PURPOSE, subject=th, code=code)
    live = password_ok and account is not None
    await tx.challenges.create(
        token_hash=th,
        account_id=account.id if account else None,
        login_key=login_key,
        password_ok=live,
        device_hash=device_hash,
        remember=remember,
        strict=verdict.strict,
        methods=methods,
        now=now,
        expires_at=now + timedelta(minutes=minutes),
        max_attempts=max_attempts,
        # a challenge behind a wrong password holds no code: nothing can complete it
        code_hash=code_h if live and sent_to else "",
        code_channel=sent_to or "",
        ip=client.ip,
        decision=decision,
    )
    message = None
    if live and sent_to and account is not None:
        message = code_message(svc, account, channel=sent_to, code=code, client=client)
    answer = ChallengeStarted(
        challenge_id=challenge_id,
        methods=methods,
        sent_to=sent_to,
        expires_in=minutes * 60,
        device_cookie=None,
    )
    return answer, message


async def verify(
    svc: Services, *, challenge_id: str, method: str, code: str, client: ClientContext
) -> ChallengePassed:
    """Check one code against a challenge. Raises CodeInvalid (tries left) or ChallengeFailed
    (unknown, expired, ended, or this was the last try) — the same for a challenge behind a
    wrong password, which never passes."""
    if method not in METHODS:
        raise InputError("unknown method", code="invalid_method")
    now = svc.clock.now()
    th = token_hash(challenge_id)
    failed: str | None = None
    passed: ChallengePassed | None = None
    notice: Message | None = None
    async with svc.store.begin() as tx:
        ch = await tx.challenges.by_token_hash(th)
        if ch is None or method not in ch.methods:
            # an unknown id, or a method this challenge did not offer (a malformed client)
            failed = "unknown" if ch is None else "method"
        else:
            tries = await tx.challenges.count_try(ch.id, now=now)
            if tries is None:
                failed = "closed"
            else:
                account = await tx.accounts.get(ch.account_id) if ch.account_id else None
                ok, replay = await _check(svc, tx, ch, account, method, code, client)
                if (
                    ok
                    and account is not None
                    and await tx.challenges.end(ch.id, now=now, reason="ok")
                ):
                    passed = ChallengePassed(ch, account, method, replay)
                else:
                    last = tries >= ch.max_attempts
                    if last:
                        await tx.challenges.end(ch.id, now=now, reason="too_many")
                    await tx.events.add(
                        at=now,
                        type=EventType.CHALLENGE_FAILED,
                        client=client,
                        result="fail",
                        reason="too_many" if last else "code_invalid",
                        account_id=ch.account_id,
                        login_id=ch.login_key,
                        details={
                            "method": method,
                            "tries": tries,
                            "password_ok": ch.password_ok,
                            "replay": replay is not None,
                        },
                    )
                    failed = "too_many" if last else "code"
                    notice = replay
    if notice is not None and account is not None:  # a replayed authenticator code
        notices.notify_later(svc, account=account, kind="totp_replay", client=client)
    if passed is not None:
        return passed
    if failed == "code":
        raise CodeInvalid("the code is wrong or has expired")
    if failed == "method":
        raise InputError("this method was not offered", code="invalid_method")
    raise ChallengeFailed("the login could not be confirmed; start again")


async def _check(
    svc: Services,
    tx: Tx,
    ch: Challenge,
    account: Account | None,
    method: str,
    code: str,
    client: ClientContext,
) -> tuple[bool, Message | None]:
    if not ch.password_ok or account is None:
        # do the same kind of work as a real check, so the time tells nothing
        hash_code(key=svc.code_key, purpose=CODE_PURPOSE, subject=token_hash(code), code=code)
        return False, None
    if method in CODE_CHANNELS:
        if method != ch.code_channel or not ch.code_hash:
            return False, None
        ok = code_matches(
            key=svc.code_key,
            purpose=CODE_PURPOSE,
            subject=ch.token_hash,
            code=code,
            stored_hash=ch.code_hash,
        )
        return ok, None
    if method == "totp":
        return await factors.check_totp(svc, tx, account=account, code=code, client=client)
    return await factors.use_recovery_code(svc, tx, account=account, code=code, client=client), None


async def resend(
    svc: Services, *, challenge_id: str, method: str, client: ClientContext
) -> ChallengeStarted:
    """A new code by email or SMS (replacing the old one), if resends are left and the last code
    went out long enough ago. The same answers for a challenge behind a wrong password."""
    if method not in CODE_CHANNELS:
        raise InputError("codes are sent by email or sms", code="invalid_method")
    s = svc.settings
    now = svc.clock.now()
    th = token_hash(challenge_id)
    message = None
    outcome = "ok"
    async with svc.store.begin() as tx:
        ch = await tx.challenges.by_token_hash(th)
        if ch is None or not ch.open_at(now):
            outcome = "closed"
        elif method not in ch.methods:
            outcome = "method"
        else:
            minutes, _ = _limits(svc, ch.strict)
            code = new_numeric_code(6)
            code_h = hash_code(key=svc.code_key, purpose=CODE_PURPOSE, subject=th, code=code)
            updated = await tx.challenges.new_code(
                ch.id,
                now=now,
                code_hash=code_h if ch.password_ok else "",
                channel=method,
                expires_at=now + timedelta(minutes=minutes),
                max_resends=s.login_code_max_resends,
                sent_before=now - timedelta(seconds=s.login_code_resend_seconds),
            )
            if not updated:
                outcome = "limited"
            elif ch.password_ok and ch.account_id is not None:
                account = await tx.accounts.get(ch.account_id)
                if account is not None:
                    message = code_message(svc, account, channel=method, code=code, client=client)
                    await tx.events.add(
                        at=now,
                        type=EventType.CHALLENGE_CODE_SENT,
                        client=client,
                        result="ok",
                        account_id=account.id,
                        login_id=account.login_id,
                        details={"channel": method, "resend": True},
                    )
    if outcome == "closed":
        raise ChallengeFailed("the login could not be confirmed; start again")
    if outcome == "method":
        raise InputError("this method was not offered", code="invalid_method")
    if outcome == "limited":
        raise ResendLimited(
            "no more codes can be sent now", retry_after=int(s.login_code_resend_seconds)
        )
    if message is not None:
        svc.send_later(message)
    assert ch is not None
    return ChallengeStarted(
        challenge_id=challenge_id,
        methods=ch.methods,
        sent_to=method,
        expires_in=minutes * 60,
        device_cookie=None,
    )


async def describe(svc: Services, challenge_id: str) -> Challenge | None:
    """The open challenge behind an id (for the challenge page), else None."""
    async with svc.store.begin() as tx:
        ch = await tx.challenges.by_token_hash(token_hash(challenge_id))
    return ch if ch is not None and ch.open_at(svc.clock.now()) else None


def trusted_until(svc: Services, now: datetime) -> datetime:
    return now + timedelta(days=svc.settings.trusted_device_days)
