"""Password login and logout, with the defenses in front of the hash.

Order of work (cheap checks first):
  1. banned or throttled source?        in-process ban cache            -> Blocked (429)
  2. the account, and whether this browser's device cookie is bound to it
  3. lock check + atomic attempt count   per login ID, or per device     -> AccountLocked (429)
  4. password verification under the hash gate                          -> Overloaded (503)
  5. failure: IP rules may ban the source; success: counters cleared, device bound

The same answer, status and (as near as we can make it) timing for an unknown login ID as for a
wrong password: an unknown ID is verified against a dummy hash of the same cost, counted and locked
the same way, and both paths record one failure event. A restricted account is only revealed to a
client that knows its password.
"""

from __future__ import annotations

from dataclasses import dataclass

from mamori.devices import device_hash_from_cookie, new_device_cookie
from mamori.errors import AccountLocked, AccountRestricted, InvalidCredentials
from mamori.flows.defense import Reservation, retry_after
from mamori.flows.services import Services
from mamori.flows.sessions import Authenticated, NewSession, start_session
from mamori.identifiers import has_control, login_key, printable
from mamori.models import Account, ClientContext, EventType
from mamori.store import Tx


@dataclass(frozen=True, slots=True)
class LoginResult:
    account: Account
    session: NewSession
    device_cookie: str | None  # a new device cookie to set, when the browser had none


async def login(
    svc: Services,
    *,
    login_id: str,
    password: str,
    remember: bool,
    client: ClientContext,
    device_cookie: str | None = None,
) -> LoginResult:
    defender = svc.defender
    would_block = await defender.precheck(client)
    # A login ID with control characters cannot belong to an account (sign-up refuses them),
    # so it is not looked up; it is recorded with those characters replaced.
    valid = not has_control(login_id)
    key = login_key(login_id if valid else printable(login_id))[:128]
    device_hash = device_hash_from_cookie(device_cookie, key=svc.settings.secret_key)
    account = None
    recognized = False
    # one transaction before the hash: the account, its device binding, and the attempt count
    async with svc.store.begin() as tx:
        if valid:
            account = await tx.accounts.by_login_key(key)
            if account is not None and device_hash is not None:
                found = await tx.devices.find(device_hash=device_hash, account_id=account.id)
                recognized = found is not None
        reservation = await defender.reserve(
            login_key=key, device_hash=device_hash if recognized else None, tx=tx
        )
        reservation.would_block = would_block
        now = svc.clock.now()
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
        raise AccountLocked(retry_after=retry_after(until, now), until=until)
    ok = await svc.verify_password(
        stored_hash=account.password_hash if account else None,
        password=password,
        priority=recognized,
    )
    now = svc.clock.now()
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
            )
        raise InvalidCredentials("login ID or password is incorrect")
    if account.restricted:
        async with svc.store.begin() as tx:
            await defender.on_success(
                client, login_key=key, tx=tx, device_hash=device_hash if recognized else None
            )
            await _failure(
                tx,
                svc,
                client=client,
                key=key,
                account=account,
                reason="restricted",
                reservation=reservation,
            )
        raise AccountRestricted(account.restricted_reason)
    new_hash = None
    if svc.hasher.needs_rehash(account.password_hash):
        new_hash = await svc.hash_password(password)
    new_cookie = None
    if device_hash is None:
        new_cookie, device_hash = new_device_cookie(key=svc.settings.secret_key)
    async with svc.store.begin() as tx:
        await defender.on_success(
            client, login_key=key, tx=tx, device_hash=device_hash if recognized else None
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
        device = await tx.devices.bind(
            device_hash=device_hash, account_id=account.id, client=client, now=now
        )
        session = await start_session(svc, tx, account=account, remember=remember, client=client)
        await tx.events.add(
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
                "defense": reservation.details(),
            },
        )
    return LoginResult(account=account, session=session, device_cookie=new_cookie)


async def _failure(
    tx: Tx,
    svc: Services,
    *,
    client: ClientContext,
    key: str,
    account: Account | None,
    reason: str,
    reservation: Reservation,
) -> None:
    await tx.events.add(
        at=svc.clock.now(),
        type=EventType.LOGIN_FAILURE,
        client=client,
        result="fail",
        reason=reason,
        account_id=account.id if account else None,
        login_id=key,
        details={"defense": reservation.details()},
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
