"""One exception tree for Mamori. Errors carry data, never HTTP codes; only `web/` maps them.

MamoriError
├── ConfigError                 settings are invalid (problems: list of (code, message))
├── InputError                  a request is malformed or a value is not acceptable (code, field)
│   ├── PasswordRejected        the password fails the policy (violations)
│   └── Conflict                a unique value is taken (code, field)
├── AuthError
│   ├── InvalidCredentials      wrong login ID or password (never says which)
│   ├── NotAuthenticated        no valid session
│   └── CodeInvalid             a one-time code is wrong, expired or used up
└── NotFound                    the thing asked for does not exist (kind)
"""

from __future__ import annotations

from collections.abc import Sequence


class MamoriError(Exception):
    """Base of every error Mamori raises on purpose."""

    code: str = "error"

    def __init__(self, message: str = "", *, code: str | None = None) -> None:
        super().__init__(message or self.__class__.__name__)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0])


class ConfigError(MamoriError):
    code = "config_invalid"

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{c}: {m}" for c, m in self.problems))


class InputError(MamoriError):
    code = "invalid_request"

    def __init__(self, message: str = "", *, code: str | None = None, field: str = "") -> None:
        super().__init__(message, code=code)
        self.field = field


class PasswordRejected(InputError):
    code = "password_rejected"

    def __init__(self, violations: Sequence[str]) -> None:
        super().__init__(", ".join(violations), field="password")
        self.violations = tuple(violations)


class Conflict(InputError):
    code = "conflict"


class AuthError(MamoriError):
    code = "unauthorized"


class InvalidCredentials(AuthError):
    code = "invalid_credentials"


class NotAuthenticated(AuthError):
    code = "not_authenticated"


class CodeInvalid(AuthError):
    code = "code_invalid"


class AccountRestricted(AuthError):
    code = "restricted"

    def __init__(self, reason: str = "") -> None:
        super().__init__("use of this account is restricted")
        self.reason = reason


class Forbidden(AuthError):
    code = "forbidden"


class AccountSuspended(AuthError):
    """A dormant account, suspended until its owner reactivates it through a password reset
    (HTTP 403). Only revealed to a client that knows the password."""

    code = "suspended"


class ChallengeFailed(AuthError):
    """A login challenge that is unknown, expired, used up or ended: start again from login.
    The same answer whether the password behind it was right or wrong."""

    code = "challenge_failed"


class LoginDenied(AuthError):
    """The risk of this login is too high to accept at all (HTTP 403)."""

    code = "login_denied"


class Refused(MamoriError):
    code = "too_many_requests"

    def __init__(self, message: str = "", *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = max(1, int(retry_after))


class AccountLocked(Refused):
    code = "temporarily_locked"

    def __init__(self, *, retry_after: int, until: float) -> None:
        super().__init__("use is temporarily restricted; try again later", retry_after=retry_after)
        self.until = until


class Blocked(Refused):
    code = "too_many_requests"


class Overloaded(Refused):
    code = "overloaded"


class ResendLimited(Refused):
    code = "resend_limited"


class NotFound(MamoriError):
    code = "not_found"

    def __init__(self, kind: str, key: str = "") -> None:
        super().__init__(f"{kind} not found" + (f": {key}" if key else ""))
        self.kind = kind
        self.key = key
