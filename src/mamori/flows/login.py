"""Password login and logout.

The same answer, status and (as near as we can make it) timing for an unknown login ID as for a
wrong password: an unknown ID is verified against a dummy hash of the same cost, and both paths
record one failure event in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from mamori.errors import InvalidCredentials
from mamori.flows.services import Services
from mamori.flows.sessions import Authenticated, NewSession, start_session
from mamori.identifiers import has_control, login_key, printable
from mamori.models import Account, ClientContext, EventType


@dataclass(frozen=True, slots=True)
class LoginResult:
    account: Account
    session: NewSession


async def login(
    svc: Services, *, login_id: str, password: str, remember: bool, client: ClientContext
) -> LoginResult:
    # A login ID with control characters cannot belong to an account (sign-up refuses them),
    # so it is not looked up; it is recorded with those characters replaced.
    valid = not has_control(login_id)
    key = login_key(login_id if valid else printable(login_id))[:128]
    account = None
    if valid:
        async with svc.store.begin() as tx:
            account = await tx.accounts.by_login_key(key)
    ok = await svc.verify_password(
        stored_hash=account.password_hash if account else None, password=password
    )
    now = svc.clock.now()
    if account is None or not ok:
        async with svc.store.begin() as tx:
            await tx.events.add(
                at=now,
                type=EventType.LOGIN_FAILURE,
                client=client,
                result="fail",
                reason="unknown_login_id" if account is None else "wrong_password",
                account_id=account.id if account else None,
                login_id=key,
            )
        raise InvalidCredentials("login ID or password is incorrect")
    new_hash = None
    if svc.hasher.needs_rehash(account.password_hash):
        new_hash = await svc.hash_password(password)
    async with svc.store.begin() as tx:
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
        session = await start_session(svc, tx, account=account, remember=remember, client=client)
        await tx.events.add(
            at=now,
            type=EventType.LOGIN_SUCCESS,
            client=client,
            result="ok",
            account_id=account.id,
            login_id=key,
            details={"session_id": session.session.id, "remember": remember},
        )
    return LoginResult(account=account, session=session)


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
