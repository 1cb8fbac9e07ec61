"""API tokens for automation on `/api/v1/admin`: 256-bit, shown once (`mamori admin token
create`), stored hashed, scoped `read` (GET) and `write` (the rest), revocable; creation and
revocation are audited. The static `MAMORI_OPERATOR_TOKEN` keeps working with both scopes."""

from __future__ import annotations

import hmac
import re

from mamori.errors import Forbidden, InputError, NotFound
from mamori.flows.services import Services
from mamori.store.operators import SCOPES, OperatorToken
from mamori.tokens import hash_token, new_token

_TOKEN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def parse_scopes(text: str) -> tuple[str, ...]:
    scopes = tuple(dict.fromkeys(s.strip() for s in text.split(",") if s.strip()))
    if not scopes or any(s not in SCOPES for s in scopes):
        raise InputError("scopes are read and/or write", code="invalid_scopes", field="scopes")
    return scopes


async def create_token(
    svc: Services, *, name: str, scopes: tuple[str, ...], by: str
) -> tuple[str, OperatorToken]:
    """A new API token: (the token, shown once; its record). Only its hash is stored."""
    if not _TOKEN_NAME.match(name):
        raise InputError(
            "token names are 1-64 letters, digits or . _ -", code="invalid_token_name", field="name"
        )
    scopes = parse_scopes(",".join(scopes))
    raw, _ = new_token()
    token = "mmr_" + raw  # recognizable in logs and by secret scanners
    token_hash = hash_token(token)
    now = svc.clock.now()
    async with svc.store.begin() as tx:
        record = await tx.operator_tokens.create(
            name=name, token_hash=token_hash, scopes=scopes, now=now
        )
        await tx.audit.add(
            at=now,
            actor=by,
            action="token.create",
            target=name,
            details={"scopes": list(scopes)},
        )
    return token, record


async def revoke_token(svc: Services, *, name: str, by: str, reason: str = "") -> int:
    now = svc.clock.now()
    async with svc.store.begin() as tx:
        n = await tx.operator_tokens.revoke(name, now=now)
        if n == 0:
            raise NotFound("token", name)
        await tx.audit.add(at=now, actor=by, action="token.revoke", target=name, reason=reason)
    return n


async def list_tokens(svc: Services) -> list[OperatorToken]:
    async with svc.store.begin() as tx:
        return await tx.operator_tokens.list()


async def authorize_token(svc: Services, header: str, *, write: bool) -> str:
    """The actor for an `Authorization: Bearer` header on the admin API ("token" for the static
    MAMORI_OPERATOR_TOKEN, as before; "token:<name>" for a stored token), or Forbidden. GET
    needs the `read` scope, anything else `write`."""
    scheme, _, given = header.partition(" ")
    given = given.strip()
    if scheme.lower() != "bearer" or not given or len(given) > 256:
        raise Forbidden("operator token required")
    static = svc.settings.operator_token
    if static and hmac.compare_digest(given.encode(), static.encode()):
        return "token"
    async with svc.store.begin() as tx:
        record = await tx.operator_tokens.by_token_hash(hash_token(given))
    if record is None:
        raise Forbidden("operator token required")
    if ("write" if write else "read") not in record.scopes:
        raise Forbidden("this token's scopes do not allow this", code="insufficient_scope")
    return f"token:{record.name}"
