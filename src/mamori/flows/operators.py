"""Operators of the console: accounts with a password and TOTP, roles, console sessions with
re-authentication, API tokens with scopes, and the audit log of what they did.

- **Roles**: `admin` may act (and see everything); `analyst` may only look.
- **Login** takes the name, the password and a TOTP code together and answers the same for any
  wrong part. Attempts are counted before the password hash, per name (5 per 15 min) and per IP
  (20 per 15 min); a TOTP time step is used at most once (`claim_totp_step`), so a code seen over
  a shoulder cannot be replayed within its 30 s. The operator's TOTP key is sealed with its own
  SecretBox purpose ("operator-totp"), bound to the operator's row.
- **Sessions**: a 256-bit token (only its SHA-256 stored), 8 h absolute, 30 min idle. The
  session's CSRF token is an HMAC of the session, so it needs no cookie of its own.
- **Re-authentication**: destructive actions (restrict, lift, force reset, bans, token
  revocation) need the password and a fresh TOTP code entered within the last 5 minutes.
- **API tokens** for automation: `flows/operator_tokens.py`.
- **Audit**: logins, re-authentications, logouts, operator and token changes are recorded here;
  account and ban actions record themselves (`flows/operator.py`, `flows/reset.py`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from mamori.errors import (
    Forbidden,
    InputError,
    InvalidCredentials,
    NotAuthenticated,
    NotFound,
    PasswordRejected,
    Refused,
)
from mamori.flows.services import Services
from mamori.identifiers import printable
from mamori.models import ClientContext
from mamori.otp import new_totp_secret, totp_uri, verify_totp
from mamori.secretbox import SecretBox, SecretBoxError
from mamori.store.audit import AuditEntry
from mamori.store.operators import (
    ROLES,
    OperatorRecord,
    OperatorSessionRecord,
)
from mamori.tokens import hash_token, new_token

SESSION_ABSOLUTE = timedelta(hours=8)
SESSION_IDLE = timedelta(minutes=30)
REAUTH_MAX_AGE = timedelta(minutes=5)
TOUCH_INTERVAL = timedelta(seconds=60)
LOGIN_WINDOW = 900.0
LOGIN_LIMIT_NAME = 5
LOGIN_LIMIT_IP = 20
TOTP_WINDOW = 1
ISSUER = "Mamori console"
_NAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")


def normalize_name(raw: str) -> str:
    """An operator name: 2-64 of a-z 0-9 . _ @ - (case-folded)."""
    name = unicodedata.normalize("NFKC", raw).strip().casefold()
    if not _NAME.match(name):
        raise InputError(
            "operator names are 2-64 letters, digits or . _ @ -",
            code="invalid_operator_name",
            field="name",
        )
    return name


def totp_box(svc: Services) -> SecretBox:
    return SecretBox(svc.settings.secret_key, purpose="operator-totp")


def totp_context(operator_id: int) -> str:
    return f"operator:{operator_id}"


def actor_of(operator: OperatorRecord) -> str:
    return f"operator:{operator.name}"


# -- operator accounts (CLI) -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewOperator:
    operator: OperatorRecord
    totp_secret: str  # shown once, to be added to an authenticator app
    totp_uri: str


async def create_operator(
    svc: Services, *, name: str, password: str, role: str, by: str
) -> NewOperator:
    if role not in ROLES:
        raise InputError("role must be admin or analyst", code="invalid_role", field="role")
    name = normalize_name(name)
    violations = svc.policy.check(password, login_id=name)
    if violations:
        raise PasswordRejected([str(v) for v in violations])
    password_hash = await svc.hash_password(password)
    secret = new_totp_secret()
    now = svc.clock.now()
    async with svc.store.begin() as tx:
        operator = await tx.operators.create(
            name=name, password_hash=password_hash, role=role, now=now
        )
        sealed = totp_box(svc).seal(secret, context=totp_context(operator.id))
        await tx.operators.set_totp_secret(operator.id, sealed)
        await tx.audit.add(
            at=now, actor=by, action="operator.create", target=name, details={"role": role}
        )
    uri = totp_uri(secret=secret, account_name=name.replace(":", "_"), issuer=ISSUER)
    return NewOperator(operator=operator, totp_secret=secret, totp_uri=uri)


async def list_operators(svc: Services) -> list[OperatorRecord]:
    async with svc.store.begin() as tx:
        return await tx.operators.list()


async def disable_operator(svc: Services, *, name: str, by: str) -> int:
    """Disable an operator and end its console sessions; returns the sessions ended."""
    key = normalize_name(name)
    now = svc.clock.now()
    async with svc.store.begin() as tx:
        operator = await tx.operators.by_name(key)
        if operator is None:
            raise NotFound("operator", key)
        await tx.operators.disable(operator.id, now=now)
        ended = await tx.operator_sessions.revoke_all(operator.id, now=now)
        await tx.audit.add(
            at=now,
            actor=by,
            action="operator.disable",
            target=key,
            details={"sessions_ended": ended},
        )
    return ended


# -- console sessions --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OperatorAuth:
    operator: OperatorRecord
    session: OperatorSessionRecord
    token_hash: str  # of the session token (binds the CSRF token)

    @property
    def actor(self) -> str:
        return actor_of(self.operator)

    @property
    def is_admin(self) -> bool:
        return self.operator.is_admin

    def reauth_fresh(self, now: datetime) -> bool:
        return now - self.session.reauth_at <= REAUTH_MAX_AGE


@dataclass(frozen=True, slots=True)
class NewOperatorSession:
    token: str  # for the cookie only
    auth: OperatorAuth


async def _count_attempt(svc: Services, *, name: str, ip: str) -> None:
    now = svc.clock.now().timestamp()
    counters = svc.defender.counters
    by_name = await counters.incr(f"oplogin:n:{name}", ttl=LOGIN_WINDOW, now=now)
    by_ip = await counters.incr(f"oplogin:ip:{ip}", ttl=LOGIN_WINDOW, now=now)
    if by_name > LOGIN_LIMIT_NAME or by_ip > LOGIN_LIMIT_IP:
        raise Refused("too many console login attempts", retry_after=int(LOGIN_WINDOW))


async def _check_code(svc: Services, operator: OperatorRecord, code: str) -> str:
    """Returns ok, replay or wrong; an accepted step is claimed (never accepted twice)."""
    try:
        secret = totp_box(svc).open(operator.totp_secret_enc, context=totp_context(operator.id))
    except SecretBoxError:
        return "wrong"  # the secret key changed or the row was altered
    result = verify_totp(
        secret=secret,
        code=code,
        at=svc.clock.now(),
        last_step=operator.totp_last_step,
        window=TOTP_WINDOW,
    )
    if result.ok and result.step is not None:
        async with svc.store.begin() as tx:
            if await tx.operators.claim_totp_step(operator.id, result.step):
                return "ok"
        return "replay"  # a concurrent login took this step first
    return "replay" if result.replay else "wrong"


async def _verify(
    svc: Services, *, name: str, password: str, code: str, client: ClientContext, action: str
) -> OperatorRecord:
    """Password and TOTP of an active operator, or InvalidCredentials (the same for any wrong
    part); failures are audited. `name` is already case-folded."""
    await _count_attempt(svc, name=name, ip=client.ip)
    async with svc.store.begin() as tx:
        operator = await tx.operators.by_name(name) if _NAME.match(name) else None
    if operator is not None and not operator.active:
        operator = None
    ok = await svc.verify_password(
        stored_hash=operator.password_hash if operator else None,
        password=password[:4096],
        priority=True,  # operators pass first, even when logins are being shed
    )
    outcome = "unknown_operator" if operator is None else "wrong_password"
    if ok and operator is not None:
        outcome = await _check_code(svc, operator, code)
    if outcome == "ok" and operator is not None:
        # password and code passed: this proves more than any count of tries could
        await svc.defender.counters.delete(f"oplogin:n:{name}", f"oplogin:ip:{client.ip}")
        return operator
    async with svc.store.begin() as tx:
        await tx.audit.add(
            at=svc.clock.now(),
            actor=actor_of(operator) if operator else "unknown",
            action=action,
            target=printable(name)[:64],
            reason={"wrong": "wrong_code"}.get(outcome, outcome),
            details={"ip": client.ip, "result": "fail"},
        )
    raise InvalidCredentials("the name, password or code is wrong")


async def login(
    svc: Services, *, name: str, password: str, code: str, client: ClientContext
) -> NewOperatorSession:
    key = unicodedata.normalize("NFKC", name[:128]).strip().casefold()
    operator = await _verify(
        svc, name=key, password=password, code=code, client=client, action="operator.login"
    )
    now = svc.clock.now()
    token, token_hash = new_token()
    async with svc.store.begin() as tx:
        session = await tx.operator_sessions.create(
            operator_id=operator.id,
            token_hash=token_hash,
            now=now,
            expires_at=now + SESSION_ABSOLUTE,
        )
        await tx.audit.add(
            at=now,
            actor=actor_of(operator),
            action="operator.login",
            target=operator.name,
            details={"ip": client.ip, "result": "ok", "user_agent": client.user_agent[:200]},
        )
    return NewOperatorSession(
        token=token, auth=OperatorAuth(operator=operator, session=session, token_hash=token_hash)
    )


async def resolve(svc: Services, token: str | None) -> OperatorAuth:
    """The operator behind a console session token, or NotAuthenticated."""
    if not token or len(token) > 128:
        raise NotAuthenticated("no console session")
    now = svc.clock.now()
    token_hash = hash_token(token)
    async with svc.store.begin() as tx:
        session = await tx.operator_sessions.by_token_hash(token_hash)
        if (
            session is None
            or session.revoked_at is not None
            or session.expires_at <= now
            or now - session.last_seen_at >= SESSION_IDLE
        ):
            raise NotAuthenticated("console session expired or ended")
        operator = await tx.operators.get(session.operator_id)
        if operator is None or not operator.active:
            raise NotAuthenticated("operator disabled")
        if now - session.last_seen_at >= TOUCH_INTERVAL:
            await tx.operator_sessions.touch(session.id, now=now)
    return OperatorAuth(operator=operator, session=session, token_hash=token_hash)


async def reauthenticate(
    svc: Services, *, auth: OperatorAuth, password: str, code: str, client: ClientContext
) -> None:
    """Password and a fresh TOTP code again: destructive actions are allowed for 5 minutes."""
    await _verify(
        svc,
        name=auth.operator.name,
        password=password,
        code=code,
        client=client,
        action="operator.reauth",
    )
    now = svc.clock.now()
    async with svc.store.begin() as tx:
        if not await tx.operator_sessions.mark_reauth(auth.session.id, now=now):
            raise NotAuthenticated("console session ended")
        await tx.audit.add(
            at=now,
            actor=auth.actor,
            action="operator.reauth",
            target=auth.operator.name,
            details={"ip": client.ip, "result": "ok"},
        )


async def logout(svc: Services, *, auth: OperatorAuth, client: ClientContext) -> None:
    now = svc.clock.now()
    async with svc.store.begin() as tx:
        await tx.operator_sessions.revoke(auth.session.id, now=now)
        await tx.audit.add(
            at=now,
            actor=auth.actor,
            action="operator.logout",
            target=auth.operator.name,
            details={"ip": client.ip},
        )


def require_admin(auth: OperatorAuth) -> None:
    if not auth.is_admin:
        raise Forbidden("this needs the admin role", code="forbidden")


def require_recent_reauth(svc: Services, auth: OperatorAuth) -> None:
    """Admin role, and the password and a TOTP code entered within the last 5 minutes."""
    require_admin(auth)
    if not auth.reauth_fresh(svc.clock.now()):
        raise Forbidden("confirm with your password and code first", code="reauth_required")


def _csrf_key(svc: Services) -> bytes:
    return hashlib.sha256(b"mamori/admin-csrf\x00" + svc.settings.secret_key.encode()).digest()


def csrf_token(svc: Services, auth: OperatorAuth) -> str:
    return hmac.new(_csrf_key(svc), auth.token_hash.encode(), hashlib.sha256).hexdigest()


def csrf_ok(svc: Services, auth: OperatorAuth, submitted: str | None) -> bool:
    if not submitted or len(submitted) > 128:
        return False
    return hmac.compare_digest(csrf_token(svc, auth).encode(), submitted.encode())


# -- audit log ---------------------------------------------------------------------------------


async def audit_entries(
    svc: Services, *, limit: int = 100, before_id: int | None = None, actor: str | None = None
) -> list[AuditEntry]:
    async with svc.store.begin() as tx:
        return await tx.audit.recent(limit=limit, before_id=before_id, actor=actor)


def audit_summary(entry: AuditEntry) -> dict[str, Any]:
    """The audit entry's details without anything secret (none is ever stored; belt and braces)."""
    return {k: v for k, v in entry.details.items() if k not in ("token", "password", "code")}
