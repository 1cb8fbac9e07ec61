"""Forgot password / reset, and the forced reset — without an oracle and without a way past
the second step.

    request(login ID or email) ──► reset_id (always; a row-less one when no account matches)
        │ email: a 6-digit code and the single-use link {base}/reset/{token}
        ▼
    verify_code(reset_id, code)  or  verify_link(token) ──► a fresh handle for that browser
        │ the account has a second factor (authenticator, verified phone, recovery codes)?
        ▼
    second_step(reset_id, method, code)   (send_sms first for "sms")
        ▼
    complete(reset_id, new_password) ──► password set, every session ended, notices sent

- **The same answer for every login ID.** `request` answers the same `reset_id` shape whether
  an account matches or not, after the same work (the code and token HMACs, one lookup, one
  write), and sends the email after the response (`Services.send_later`). A row-less reset_id
  is remembered for its 15 minutes by a counter, and answers every later call exactly as a real
  reset waiting for its code does: wrong code, wrong code, ..., then `reset_failed`.
- **Handles.** A reset is addressed by a secret handle (`reset_id`, 256 random bits). The link
  token is derived from it with the service key (HMAC), and only SHA-256 of the link token is
  stored, so the one column finds the reset from either, and neither can be computed from the
  other without the key. The requester holds the reset_id; only the mailbox gets the link and
  the code. Following the link gives that browser a NEW handle (the stored hash is replaced),
  so a reset_id held by whoever asked for the mail can never finish a reset the owner confirmed
  by link. A code verification keeps the handle; either way the link then stops working.
- **Limits.** `password_reset_minutes` (15) from the request, `password_reset_max_attempts` (5)
  tries in all (email code and second-step codes together), single use. Requests are counted
  per account (`password_reset_per_account_per_hour`, over it: the same 202 and nothing sent)
  and per IP address, or /64 for IPv6 (`password_reset_per_ip_per_hour`, over it: 429).
- **The second step is not bypassed.** After the email code, an account with a second factor
  must pass it (authenticator code, SMS code to the verified phone, or a recovery code). Email
  is not a second factor here: the reset came by email.
- **Completion** checks the full password policy (and refuses the current password), sets the
  password, clears a forced reset, ends EVERY session, ends the account's other open resets,
  records PASSWORD_RESET and notifies on every channel. It does not log anyone in.
- **Forced reset** (`start_forced_reset`): after a login passed its password and second step on
  an account marked `password_reset_required`, the login flow gets a reset_id that is already
  verified, so the owner goes straight to the new-password form. It must never be called for a
  login that skipped the second step: the password alone may be the attacker's. Operators mark
  an account with `force_reset` (CLI `mamori users force-reset`, admin API): its sessions end
  at once and the second step is required at the next login (like "this wasn't me").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from mamori.errors import CodeInvalid, InputError, PasswordRejected, Refused, ResendLimited
from mamori.flows import factors, notices
from mamori.flows.operator import find_account
from mamori.flows.services import Services
from mamori.identifiers import has_control, login_key, normalize_email, printable
from mamori.models import Account, ClientContext, EventType, Message
from mamori.netaddr import subnet_of
from mamori.notify.catalog import render
from mamori.otp import code_matches, hash_code, new_numeric_code
from mamori.store import Tx
from mamori.store.resets import STEP_DONE, STEP_PENDING, PasswordReset

CODE_PURPOSE = "password_reset"
SMS_PURPOSE = "password_reset_sms"
FACTOR_METHODS = ("totp", "sms", "recovery")  # what counts as a second factor for a reset
SMS_SENDS = 3  # SMS codes per reset
_MAX_HANDLE = 200
_HOUR = 3600.0


class ResetFailed(CodeInvalid):
    """A reset that is unknown, expired, used, or out of tries: ask for a new one."""

    code = "reset_failed"


@dataclass(frozen=True, slots=True)
class ResetRequested:
    reset_id: str
    expires_in: int  # seconds


@dataclass(frozen=True, slots=True)
class ResetState:
    """Where a reset stands. `stage`: "code" (waiting for the emailed code), "second_step"
    (`methods` are the account's factors), "password" (ready for the new password). The
    account's login ID and email are told only once the email code was accepted."""

    stage: str
    methods: tuple[str, ...] = ()
    login_id: str = ""
    email: str = ""


# -- handles and tokens ---------------------------------------------------------------------


def link_token(svc: Services, reset_id: str) -> str:
    """The link token of a handle: HMAC with the service key (not computable without it)."""
    mac = hmac.new(
        svc.code_key,
        b"mamori-reset-link\x00" + reset_id[:_MAX_HANDLE].encode("utf-8", "replace"),
        hashlib.sha256,
    ).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def token_hash(token: str) -> str:
    """What is stored: SHA-256 of the link token."""
    return hashlib.sha256(
        b"mamori-reset\x00" + token[:_MAX_HANDLE].encode("utf-8", "replace")
    ).hexdigest()


def handle_hash(svc: Services, reset_id: str) -> str:
    return token_hash(link_token(svc, reset_id))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:32]


def _ghost_key(th: str) -> str:
    return f"reset:ghost:{th}"


def _ip_key(ip: str) -> str:
    try:
        return "reset:ip:" + (subnet_of(ip) if ":" in ip else ip)
    except ValueError:
        return "reset:ip:" + ip[:64]


# -- messages -------------------------------------------------------------------------------


def code_message(
    svc: Services, account: Account, *, code: str, token: str, client: ClientContext
) -> Message:
    facts = notices.describe(client, svc.clock.now())
    return render(
        "password_reset_code",
        language=account.language,
        channel="email",
        to=account.email,
        account_id=account.id,
        login_id=account.login_id,
        code=code,
        link=f"{notices.base_url(svc)}/reset/{token}",
        minutes=svc.settings.password_reset_minutes,
        time=facts["time"],
        browser=facts["browser"],
        os=facts["os"],
        location=facts["location"],
        ip=facts["ip"],
    )


def sms_message(svc: Services, account: Account, *, code: str) -> Message:
    assert account.phone is not None
    return render(
        "password_reset_code_sms",
        language=account.language,
        channel="sms",
        to=account.phone,
        account_id=account.id,
        code=code,
        minutes=svc.settings.password_reset_minutes,
    )


# -- 1. the request -------------------------------------------------------------------------


async def _lookup(tx: Tx, submitted: str) -> Account | None:
    """The account a login ID or an email address names. Both lookups run whenever the text
    could be an email address (login IDs may contain "@"), so the time tells nothing."""
    if not submitted or len(submitted) > 320 or has_control(submitted):
        return None
    by_id = await tx.accounts.by_login_key(login_key(submitted)[:128])
    by_email = None
    if "@" in submitted:
        try:
            email = normalize_email(submitted)
        except InputError:
            email = ""
        by_email = await tx.accounts.by_email(email) if email else None
    return by_id or by_email


async def request(
    svc: Services, *, login_id_or_email: str, client: ClientContext
) -> ResetRequested:
    """Start a reset. The same answer whether or not an account matches (and when the account's
    hourly limit is used up); only the IP limit answers differently (Refused, 429)."""
    s = svc.settings
    await svc.defender.precheck(client)
    counters = svc.defender.counters
    now = svc.clock.now()
    epoch = now.timestamp()
    if s.password_reset_per_ip_per_hour > 0:
        n = await counters.incr(_ip_key(client.ip), ttl=_HOUR, now=epoch)
        if n > s.password_reset_per_ip_per_hour:
            raise Refused("too many reset requests from this address", retry_after=int(_HOUR))
    minutes = s.password_reset_minutes
    reset_id = secrets.token_urlsafe(32)
    token = link_token(svc, reset_id)
    th = token_hash(token)
    code = new_numeric_code(6)
    code_h = hash_code(key=svc.code_key, purpose=CODE_PURPOSE, subject=th, code=code)
    submitted = login_id_or_email.strip()
    async with svc.store.begin() as tx:
        account = await _lookup(tx, submitted)
    # one count per request, for the account or else for what was typed: the same work
    typed = login_key(printable(submitted))[:128]
    subject = f"acct:{account.id}" if account else "typed:" + _digest(typed)
    count = await counters.incr(f"reset:{subject}", ttl=_HOUR, now=epoch)
    over = 0 < s.password_reset_per_account_per_hour < count
    reason = "unknown_account" if account is None else ("account_limit" if over else "")
    async with svc.store.begin() as tx:
        if account is not None and not reason:
            await tx.resets.create(
                account_id=account.id,
                token_hash=th,
                code_hash=code_h,
                now=now,
                expires_at=now + timedelta(minutes=minutes),
                ip=client.ip,
            )
        else:
            # a handle with no row, in place of the row's write: it answers like a reset
            # waiting for its code until it expires
            await svc.defender.counters_in(tx).incr(_ghost_key(th), ttl=minutes * 60.0, now=epoch)
        await tx.events.add(
            at=now,
            type=EventType.PASSWORD_RESET_REQUESTED,
            client=client,
            result="fail" if reason else "ok",
            reason=reason,
            account_id=account.id if account else None,
            login_id=account.login_id if account else typed,
        )
    if account is not None and not reason:
        svc.send_later(code_message(svc, account, code=code, token=token, client=client))
    return ResetRequested(reset_id=reset_id, expires_in=minutes * 60)


# -- 2. verification: the emailed code or the link ------------------------------------------


async def second_factors(tx: Tx, account: Account) -> tuple[str, ...]:
    """The account's second factors that a reset must pass ("email" never counts here)."""
    return tuple(m for m in await factors.login_methods(tx, account) if m in FACTOR_METHODS)


async def _state(tx: Tx, reset: PasswordReset) -> ResetState:
    if not reset.verified:
        return ResetState(stage="code")
    account = await tx.accounts.get(reset.account_id)
    if account is None:
        return ResetState(stage="code")
    if reset.code_hash == STEP_DONE:
        return ResetState(stage="password", login_id=account.login_id, email=account.email)
    return ResetState(
        stage="second_step",
        methods=await second_factors(tx, account),
        login_id=account.login_id,
        email=account.email,
    )


async def _ghost_alive(svc: Services, th: str) -> bool:
    return await svc.defender.counters.get(_ghost_key(th), now=svc.clock.now().timestamp()) > 0


async def _not_verified_or_failed(svc: Services, th: str) -> InputError | ResetFailed:
    """What a call that needs a verified reset gets when its handle has no row: the answer of
    a real reset still waiting for its code while the handle is alive, else reset_failed."""
    if await _ghost_alive(svc, th):
        return InputError("enter the emailed code first", code="reset_not_verified")
    return ResetFailed("this reset has expired or was used; ask for a new one")


async def verify_code(
    svc: Services, *, reset_id: str, code: str, client: ClientContext
) -> ResetState:
    """Check the emailed code. CodeInvalid while tries are left; ResetFailed when the reset is
    unknown, expired, used or this was its last try — alike for a row-less handle."""
    s = svc.settings
    now = svc.clock.now()
    th = handle_hash(svc, reset_id)
    outcome = "ghost"
    state: ResetState | None = None
    async with svc.store.begin() as tx:
        reset = await tx.resets.by_token_hash(th)
        if reset is not None and reset.verified:
            open_ = reset.open_at(now, max_attempts=s.password_reset_max_attempts)
            outcome = "verified" if open_ else "closed"
        elif reset is not None:
            tries = await tx.resets.count_try(
                reset.id, now=now, max_attempts=s.password_reset_max_attempts
            )
            ok = tries is not None and code_matches(
                key=svc.code_key,
                purpose=CODE_PURPOSE,
                subject=reset.token_hash,
                code=code,
                stored_hash=reset.code_hash,
            )
            account = await tx.accounts.get(reset.account_id) if ok else None
            if tries is None:
                outcome = "closed"
            elif account is not None:
                step = STEP_PENDING if await second_factors(tx, account) else STEP_DONE
                outcome = (
                    "verified" if await tx.resets.verify(reset.id, now=now, step=step) else "closed"
                )
            else:
                outcome = "too_many" if tries >= s.password_reset_max_attempts else "code"
                await _record_failure(tx, svc, reset, client, outcome, tries, "email")
        if outcome == "verified" and reset is not None:
            fresh = await tx.resets.by_token_hash(th)
            state = await _state(tx, fresh) if fresh is not None else None
    if state is not None:
        return state
    if outcome == "ghost":
        await _ghost_try(svc, th, code)
    if outcome == "code":
        raise CodeInvalid("the code is wrong or has expired")
    raise ResetFailed("this reset has expired or was used; ask for a new one")


async def _ghost_try(svc: Services, th: str, code: str) -> None:
    """A try on a row-less handle: the same answers as a real reset waiting for its code."""
    hash_code(key=svc.code_key, purpose=CODE_PURPOSE, subject=th, code=code)  # the same work
    epoch = svc.clock.now().timestamp()
    if not await _ghost_alive(svc, th):
        raise ResetFailed("this reset has expired or was used; ask for a new one")
    ttl = svc.settings.password_reset_minutes * 60.0
    tries = await svc.defender.counters.incr(f"reset:ghost_tries:{th}", ttl=ttl, now=epoch)
    if tries >= svc.settings.password_reset_max_attempts:
        raise ResetFailed("this reset has expired or was used; ask for a new one")
    raise CodeInvalid("the code is wrong or has expired")


async def _record_failure(
    tx: Tx,
    svc: Services,
    reset: PasswordReset,
    client: ClientContext,
    outcome: str,
    tries: int,
    method: str,
) -> None:
    account = await tx.accounts.get(reset.account_id)
    await tx.events.add(
        at=svc.clock.now(),
        type=EventType.PASSWORD_RESET,
        client=client,
        result="fail",
        reason="too_many" if outcome == "too_many" else "code_invalid",
        account_id=reset.account_id,
        login_id=account.login_id if account else "",
        details={"method": method, "tries": tries, "reset": reset.id},
    )


async def open_link(svc: Services, token: str) -> ResetState | None:
    """What following a reset link leads to (nothing is changed: mail scanners open links),
    or None when the link is unknown, expired, used up or was already followed."""
    now = svc.clock.now()
    async with svc.store.begin() as tx:
        reset = await tx.resets.by_token_hash(token_hash(token))
        if (
            reset is None
            or reset.verified
            or not reset.open_at(now, max_attempts=svc.settings.password_reset_max_attempts)
        ):
            return None
        account = await tx.accounts.get(reset.account_id)
        if account is None:
            return None
        methods = await second_factors(tx, account)
    if methods:
        return ResetState(
            stage="second_step", methods=methods, login_id=account.login_id, email=account.email
        )
    return ResetState(stage="password", login_id=account.login_id, email=account.email)


async def verify_link(svc: Services, *, token: str) -> tuple[str, ResetState]:
    """Accept a reset link once: the reset is verified and readdressed to a NEW handle, which
    is returned for this browser only (the handle the request answered stops working)."""
    now = svc.clock.now()
    handle = secrets.token_urlsafe(32)
    new_hash = handle_hash(svc, handle)
    state: ResetState | None = None
    async with svc.store.begin() as tx:
        reset = await tx.resets.by_token_hash(token_hash(token))
        account = await tx.accounts.get(reset.account_id) if reset is not None else None
        if (
            reset is not None
            and account is not None
            and reset.open_at(now, max_attempts=svc.settings.password_reset_max_attempts)
        ):
            step = STEP_PENDING if await second_factors(tx, account) else STEP_DONE
            if await tx.resets.verify(reset.id, now=now, step=step, token_hash=new_hash):
                fresh = await tx.resets.by_token_hash(new_hash)
                state = await _state(tx, fresh) if fresh is not None else None
    if state is None:
        raise ResetFailed("this link has expired or was already used; ask for a new one")
    return handle, state


async def describe(svc: Services, reset_id: str) -> ResetState | None:
    """Where the reset behind a handle stands, or None when it cannot go on (a row-less handle
    looks like a reset waiting for its code while it is alive)."""
    now = svc.clock.now()
    th = handle_hash(svc, reset_id)
    async with svc.store.begin() as tx:
        reset = await tx.resets.by_token_hash(th)
        if reset is not None:
            if not reset.open_at(now, max_attempts=svc.settings.password_reset_max_attempts):
                return None
            return await _state(tx, reset)
    return ResetState(stage="code") if await _ghost_alive(svc, th) else None


# -- 3. the second step ---------------------------------------------------------------------


async def _open_verified(svc: Services, th: str) -> tuple[PasswordReset, Account]:
    """The verified, open reset behind a handle and its account, else the error to answer
    (a row-less handle answers like a real reset still waiting for its code)."""
    async with svc.store.begin() as tx:
        reset = await tx.resets.by_token_hash(th)
        account = await tx.accounts.get(reset.account_id) if reset is not None else None
    if reset is None:
        raise await _not_verified_or_failed(svc, th)
    now = svc.clock.now()
    if account is None or not reset.open_at(
        now, max_attempts=svc.settings.password_reset_max_attempts
    ):
        raise ResetFailed("this reset has expired or was used; ask for a new one")
    if not reset.verified:
        raise InputError("enter the emailed code first", code="reset_not_verified")
    return reset, account


async def second_step(
    svc: Services, *, reset_id: str, method: str, code: str, client: ClientContext
) -> ResetState:
    """Pass the second step with an authenticator code, the SMS code, or a recovery code.
    CodeInvalid while tries are left (shared with the email code); ResetFailed after."""
    if method not in FACTOR_METHODS:
        raise InputError("unknown method", code="invalid_method")
    s = svc.settings
    now = svc.clock.now()
    th = handle_hash(svc, reset_id)
    outcome = ""
    notice: Message | None = None
    reset, account = await _open_verified(svc, th)
    async with svc.store.begin() as tx:
        if reset.code_hash == STEP_DONE:
            return await _state(tx, reset)
        if method not in await second_factors(tx, account):
            raise InputError("this method is not available", code="invalid_method")
        tries = await tx.resets.count_try(
            reset.id, now=now, max_attempts=s.password_reset_max_attempts
        )
        if tries is None:
            outcome = "closed"
        else:
            ok = False
            if method == "totp":
                ok, notice = await factors.check_totp(
                    svc, tx, account=account, code=code, client=client
                )
            elif method == "recovery":
                ok = await factors.use_recovery_code(
                    svc, tx, account=account, code=code, client=client
                )
            elif reset.code_hash != STEP_PENDING:  # an SMS code was sent
                ok = code_matches(
                    key=svc.code_key,
                    purpose=SMS_PURPOSE,
                    subject=reset.token_hash,
                    code=code,
                    stored_hash=reset.code_hash,
                )
            if ok and await tx.resets.set_step(
                reset.id, now=now, expected=reset.code_hash, step=STEP_DONE
            ):
                return ResetState(stage="password", login_id=account.login_id, email=account.email)
            outcome = "too_many" if tries >= s.password_reset_max_attempts else "code"
            await _record_failure(tx, svc, reset, client, outcome, tries, method)
    if notice is not None:
        svc.send_later(notice)
    if outcome == "code":
        raise CodeInvalid("the code is wrong or has expired")
    raise ResetFailed("this reset has expired or was used; ask for a new one")


async def send_sms(svc: Services, *, reset_id: str, client: ClientContext) -> ResetState:
    """Send a second-step code by SMS to the account's verified phone (replacing an earlier
    one): at most SMS_SENDS per reset, `login_code_resend_seconds` apart."""
    s = svc.settings
    th = handle_hash(svc, reset_id)
    reset, account = await _open_verified(svc, th)
    async with svc.store.begin() as tx:
        methods = await second_factors(tx, account)
    if reset.code_hash == STEP_DONE:
        raise InputError("the second step is already passed", code="reset_wrong_step")
    if "sms" not in methods or account.phone is None:
        raise InputError("this account has no verified phone", code="invalid_method")
    now = svc.clock.now()
    epoch = now.timestamp()
    gap = float(s.login_code_resend_seconds)
    counters = svc.defender.counters
    if gap > 0 and await counters.incr(f"reset:sms_gap:{reset.id}", ttl=gap, now=epoch) > 1:
        raise ResendLimited("a code was sent moments ago", retry_after=int(gap))
    window = s.password_reset_minutes * 60.0
    if await counters.incr(f"reset:sms:{reset.id}", ttl=window, now=epoch) > SMS_SENDS:
        raise ResendLimited("no more codes can be sent for this reset", retry_after=int(window))
    code = new_numeric_code(6)
    code_h = hash_code(key=svc.code_key, purpose=SMS_PURPOSE, subject=reset.token_hash, code=code)
    async with svc.store.begin() as tx:
        moved = await tx.resets.set_step(reset.id, now=now, expected=reset.code_hash, step=code_h)
    if not moved:
        raise ResetFailed("this reset has expired or was used; ask for a new one")
    svc.send_later(sms_message(svc, account, code=code))
    return ResetState(
        stage="second_step", methods=methods, login_id=account.login_id, email=account.email
    )


# -- 4. the new password --------------------------------------------------------------------


async def complete(
    svc: Services, *, reset_id: str, new_password: str, client: ClientContext
) -> Account:
    """Set the new password (full policy; not the current one). Every session of the account
    ends, a forced reset is cleared, the owner is told on every channel. Nobody is logged in."""
    th = handle_hash(svc, reset_id)
    reset, account = await _open_verified(svc, th)
    if reset.code_hash != STEP_DONE:
        raise InputError("pass the second step first", code="second_step_required")
    violations = [
        str(v)
        for v in svc.policy.check(new_password, login_id=account.login_id, email=account.email)
    ]
    if violations:
        raise PasswordRejected(violations)
    if await svc.verify_password(stored_hash=account.password_hash, password=new_password):
        raise PasswordRejected(["reused"])
    new_hash = await svc.hash_password(new_password)
    now = svc.clock.now()
    async with svc.store.begin() as tx:
        if not await tx.resets.use(reset.id, now=now):
            raise ResetFailed("this reset has expired or was used; ask for a new one")
        await tx.accounts.set_password_hash(account.id, password_hash=new_hash, changed_at=now)
        await tx.accounts.set_password_reset_required(account.id, False)
        if await tx.accounts.lift_suspension(account.id):  # a dormant account comes back
            await tx.events.add(
                at=now,
                type=EventType.ACCOUNT_REACTIVATED,
                client=client,
                result="ok",
                reason="password_reset",
                account_id=account.id,
                login_id=account.login_id,
            )
        ended = await tx.sessions.revoke_all(account.id, now=now, reason="password_reset")
        await tx.resets.expire_open(account.id, now=now)
        event_id = await tx.events.add(
            at=now,
            type=EventType.PASSWORD_RESET,
            client=client,
            result="ok",
            account_id=account.id,
            login_id=account.login_id,
            details={
                "reset": reset.id,
                "sessions_ended": ended,
                "forced": account.password_reset_required,
            },
        )
        updated = await tx.accounts.get(account.id)
    assert updated is not None
    await notices.notify(
        svc,
        account=updated,
        kind="password_reset",
        client=client,
        event_id=event_id,
        channels=("email", "sms"),
    )
    return updated


# -- forced resets --------------------------------------------------------------------------


async def start_forced_reset(svc: Services, *, account: Account, client: ClientContext) -> str:
    """For a login that just passed its password and second step on an account marked
    `password_reset_required`: a reset already verified with its second step passed. Returns
    its reset_id (the login answers it; the page keeps it in the reset cookie)."""
    now = svc.clock.now()
    reset_id = secrets.token_urlsafe(32)
    async with svc.store.begin() as tx:
        await tx.resets.create(
            account_id=account.id,
            token_hash=handle_hash(svc, reset_id),
            code_hash=STEP_DONE,
            now=now,
            expires_at=now + timedelta(minutes=svc.settings.password_reset_minutes),
            ip=client.ip,
            verified=True,
        )
        await tx.events.add(
            at=now,
            type=EventType.PASSWORD_RESET_REQUESTED,
            client=client,
            result="ok",
            reason="forced",
            account_id=account.id,
            login_id=account.login_id,
        )
    return reset_id


async def force_reset(
    svc: Services, *, login_id: str, reason: str, actor: ClientContext, by: str
) -> tuple[Account, int]:
    """An operator forces a password reset: the account's sessions end now, and its next login
    needs the second step from any browser (the password may be known to someone else, so it
    alone must not lead to the new-password form) and then goes through a reset. Returns the
    account and the sessions ended."""
    account = await find_account(svc, login_id)
    now = svc.clock.now()
    async with svc.store.begin() as tx:
        await tx.accounts.set_password_reset_required(account.id, True)
        await tx.accounts.set_two_step_forced(account.id, True)
        ended = await tx.sessions.revoke_all(account.id, now=now, reason="reset_forced")
        event_id = await tx.events.add(
            at=now,
            type=EventType.PASSWORD_RESET_FORCED,
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
            action="account.force_reset",
            target=account.login_id,
            reason=reason.strip(),
            details={"account_id": account.id, "sessions_ended": ended},
        )
        updated = await tx.accounts.get(account.id)
    assert updated is not None
    await notices.notify(
        svc,
        account=updated,
        kind="password_reset_forced",
        event_id=event_id,
    )
    return updated, ended
