"""The signed-in user's own account: email verification, password change, login history."""

from __future__ import annotations

from mamori.errors import CodeInvalid, InvalidCredentials, PasswordRejected
from mamori.flows import notices
from mamori.flows.services import Services
from mamori.flows.sessions import Authenticated
from mamori.flows.signup import VERIFY_EMAIL, issue_email_code
from mamori.models import ClientContext, EventType, SecurityEvent
from mamori.otp import code_matches

LOGIN_TYPES = (EventType.LOGIN_SUCCESS, EventType.LOGIN_FAILURE)


async def verify_email(
    svc: Services, *, auth: Authenticated, code: str, client: ClientContext
) -> None:
    account = auth.account
    now = svc.clock.now()
    async with svc.store.begin() as tx:
        if account.email_verified:
            return
        row = await tx.codes.current(account_id=account.id, purpose=VERIFY_EMAIL)
        usable = (
            row is not None
            and row.expires_at > now
            and row.attempts < svc.settings.email_code_max_attempts
            and row.target == account.email
        )
        if (
            row is not None
            and usable
            and code_matches(
                key=svc.code_key,
                purpose=VERIFY_EMAIL,
                subject=str(account.id),
                code=code,
                stored_hash=row.code_hash,
            )
            and await tx.codes.consume(row.id, now=now)
        ):
            await tx.accounts.mark_email_verified(account.id, at=now)
            await tx.events.add(
                at=now,
                type=EventType.EMAIL_VERIFIED,
                client=client,
                result="ok",
                account_id=account.id,
                login_id=account.login_id,
            )
            return
    # A wrong try is counted in its own transaction so the failure cannot roll it back.
    async with svc.store.begin() as tx:
        if row is not None:
            await tx.codes.add_attempt(row.id)
        await tx.events.add(
            at=now,
            type=EventType.EMAIL_CODE_FAILED,
            client=client,
            result="fail",
            reason="expired" if row is not None and row.expires_at <= now else "wrong_code",
            account_id=account.id,
            login_id=account.login_id,
        )
    raise CodeInvalid("the code is wrong or expired")


async def resend_email_code(svc: Services, *, auth: Authenticated, client: ClientContext) -> bool:
    if auth.account.email_verified:
        return False
    async with svc.store.begin() as tx:
        message = await issue_email_code(svc, tx, account=auth.account, client=client)
    await svc.notifier.send(message)
    return True


async def change_password(
    svc: Services,
    *,
    auth: Authenticated,
    current_password: str,
    new_password: str,
    sign_out_others: bool,
    client: ClientContext,
) -> int:
    """Returns how many other sessions were ended."""
    account = auth.account
    if not await svc.verify_password(stored_hash=account.password_hash, password=current_password):
        now = svc.clock.now()
        async with svc.store.begin() as tx:
            await tx.events.add(
                at=now,
                type=EventType.PASSWORD_CHANGED,
                client=client,
                result="fail",
                reason="wrong_current_password",
                account_id=account.id,
                login_id=account.login_id,
            )
        raise InvalidCredentials("the current password is incorrect")
    violations = svc.policy.check(new_password, login_id=account.login_id, email=account.email)
    if violations:
        raise PasswordRejected([str(v) for v in violations])
    new_hash = await svc.hash_password(new_password)
    now = svc.clock.now()
    ended = 0
    async with svc.store.begin() as tx:
        await tx.accounts.set_password_hash(account.id, password_hash=new_hash, changed_at=now)
        if sign_out_others:
            ended = await tx.sessions.revoke_all(
                account.id, now=now, reason="password_changed", except_id=auth.session.id
            )
        await tx.events.add(
            at=now,
            type=EventType.PASSWORD_CHANGED,
            client=client,
            result="ok",
            account_id=account.id,
            login_id=account.login_id,
            details={"other_sessions_ended": ended},
        )
    await notices.notify(
        svc, account=account, kind="password_changed", client=client, channels=("email", "sms")
    )
    return ended


async def login_history(
    svc: Services, *, auth: Authenticated, limit: int = 50, before_id: int | None = None
) -> list[SecurityEvent]:
    async with svc.store.begin() as tx:
        return await tx.events.for_account(
            auth.account.id, types=[str(t) for t in LOGIN_TYPES], limit=limit, before_id=before_id
        )
