"""Sign-up: validate, hash, create the account, send the email verification code."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from mamori.devices import device_hash_from_cookie, new_device_cookie
from mamori.errors import PasswordRejected
from mamori.flows.services import Services
from mamori.flows.sessions import NewSession, start_session
from mamori.identifiers import normalize_email, normalize_login_id, normalize_phone
from mamori.models import Account, ClientContext, EventType, Message
from mamori.notify.catalog import render
from mamori.otp import hash_code, new_numeric_code
from mamori.store import Tx

VERIFY_EMAIL = "verify_email"


@dataclass(frozen=True, slots=True)
class SignupResult:
    account: Account
    session: NewSession
    device_cookie: str | None  # a new device cookie to set, when the browser had none


async def signup(
    svc: Services,
    *,
    login_id: str,
    email: str,
    password: str,
    phone: str | None,
    language: str,
    client: ClientContext,
    device_cookie: str | None = None,
) -> SignupResult:
    display, key = normalize_login_id(login_id)
    email_n = normalize_email(email)
    phone_n = (
        normalize_phone(phone, default_region=svc.settings.phone_default_region)
        if phone and phone.strip()
        else None
    )
    violations = svc.policy.check(password, login_id=display, email=email_n)
    if violations:
        raise PasswordRejected([str(v) for v in violations])
    password_hash = await svc.hash_password(password)
    now = svc.clock.now()
    async with svc.store.begin() as tx:
        account = await tx.accounts.create(
            login_id=display,
            login_key=key,
            email=email_n,
            phone=phone_n,
            password_hash=password_hash,
            language=language if language in ("ja", "en") else svc.settings.default_language,
            now=now,
            two_step_mode=svc.settings.two_step_default_mode,
        )
        await tx.events.add(
            at=now,
            type=EventType.SIGNUP,
            client=client,
            result="ok",
            account_id=account.id,
            login_id=display,
        )
        message = await issue_email_code(svc, tx, account=account, client=client)
        # the browser that signed up is the account's first known device
        device_hash = device_hash_from_cookie(device_cookie, key=svc.settings.secret_key)
        new_cookie = None
        if device_hash is None:
            new_cookie, device_hash = new_device_cookie(key=svc.settings.secret_key)
        device = await tx.devices.bind(
            device_hash=device_hash, account_id=account.id, client=client, now=now
        )
        session = await start_session(
            svc, tx, account=account, remember=False, client=client, device_id=device.id
        )
    await svc.notifier.send(message)
    return SignupResult(account=account, session=session, device_cookie=new_cookie)


async def issue_email_code(
    svc: Services, tx: Tx, *, account: Account, client: ClientContext
) -> Message:
    """Store a fresh code (replacing any older one) and return the message that carries it."""
    now = svc.clock.now()
    code = new_numeric_code(6)
    minutes = svc.settings.email_code_minutes
    await tx.codes.replace(
        account_id=account.id,
        purpose=VERIFY_EMAIL,
        target=account.email,
        code_hash=hash_code(
            key=svc.code_key, purpose=VERIFY_EMAIL, subject=str(account.id), code=code
        ),
        now=now,
        expires_at=now + timedelta(minutes=minutes),
    )
    await tx.events.add(
        at=now,
        type=EventType.EMAIL_CODE_SENT,
        client=client,
        result="ok",
        account_id=account.id,
        login_id=account.login_id,
    )
    return render(
        VERIFY_EMAIL,
        language=account.language,
        channel="email",
        to=account.email,
        account_id=account.id,
        login_id=account.login_id,
        code=code,
        minutes=minutes,
    )
