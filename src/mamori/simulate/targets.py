"""The servers a simulation drives: `MamoriTarget` and `PeerTarget`, one `Target` protocol.

Every login answer becomes an `Answer` whose `cls` names what the client could see (status and
code, never the timing): `ok`, `challenge`, `invalid_credentials`, `temporarily_locked`,
`too_many_requests`, `login_denied`, `restricted`, `suspended`, `password_reset_required`,
`overloaded`, and for the peer `otp_required` and `locked`. Each target says which classes
prove that the request reached the password hash (`reached_hash`) and which were refused before
it (`refused_early`), from the server's documented order of work.

The peer's contract (bench/peers/): `POST /api/v1/login {"login_id", "password"}` ->
`200 {"status": "ok"}` (+ Django session cookie) | `200 {"status": "otp_required"}` then
`POST /api/v1/login/otp {"otp"}` | `401 {"error": {"code": "invalid_credentials"}}` | 429 or
403 `{"error": {"code": "locked"}}`; `POST /api/v1/logout`; `GET /api/v1/me`; `GET /healthz`.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import httpx
import pyotp

from mamori.simulate.browser import Browser, Reply

API = "/api/v1"
CODE_RE = re.compile(r"(?<!\d)(\d{6})(?!\d)")
IP_RE = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.])")

# Mamori: what each answer class proves about the order of work (flows/login.py)
MAMORI_HASHED = frozenset(
    {"ok", "challenge", "invalid_credentials", "restricted", "suspended", "password_reset_required"}
)
MAMORI_EARLY = frozenset({"too_many_requests", "temporarily_locked", "login_denied"})
PEER_HASHED = frozenset({"ok", "otp_required", "invalid_credentials"})
PEER_EARLY = frozenset({"locked", "too_many_requests"})
SESSION_COOKIES = ("__Host-mamori_session", "mamori_session", "sessionid")


@dataclass(frozen=True, slots=True)
class Answer:
    cls: str
    status: int
    session: bool = False  # the answer set a session cookie
    challenge_id: str = ""
    methods: tuple[str, ...] = ()
    sent_to: str = ""
    reset_id: str = ""
    elapsed: float = 0.0

    @property
    def second_step(self) -> bool:
        return self.cls in ("challenge", "otp_required")


def _session_set(reply: Reply) -> bool:
    return any(name in SESSION_COOKIES for name in reply.cookies_set)


def classify_mamori(reply: Reply) -> Answer:
    b = reply.body
    if reply.status == 200 and b.get("status") == "challenge":
        return Answer(
            "challenge",
            200,
            challenge_id=str(b.get("challenge_id", "")),
            methods=tuple(str(m) for m in b.get("methods", [])),
            sent_to=str(b.get("sent_to") or ""),
            elapsed=reply.elapsed,
        )
    if reply.status == 200 and b.get("status") == "password_reset_required":
        return Answer(
            "password_reset_required",
            200,
            reset_id=str(b.get("reset_id", "")),
            elapsed=reply.elapsed,
        )
    if reply.status == 200 and b.get("status") == "ok":
        return Answer("ok", 200, session=_session_set(reply), elapsed=reply.elapsed)
    code = reply.error_code()
    return Answer(code or f"http_{reply.status}", reply.status, elapsed=reply.elapsed)


def classify_peer(reply: Reply) -> Answer:
    b = reply.body
    if reply.status == 200 and b.get("status") == "otp_required":
        return Answer("otp_required", 200, elapsed=reply.elapsed)
    if reply.status == 200 and b.get("status") == "ok":
        return Answer("ok", 200, session=_session_set(reply), elapsed=reply.elapsed)
    code = reply.error_code()
    if reply.status in (403, 429) and code in ("locked", "", "too_many_requests"):
        code = code or "locked"
    return Answer(code or f"http_{reply.status}", reply.status, elapsed=reply.elapsed)


@dataclass(frozen=True, slots=True)
class Mail:
    id: int
    at: datetime
    channel: str
    to: str
    kind: str
    body: str

    def code(self) -> str | None:
        m = CODE_RE.search(self.body)
        return m.group(1) if m else None

    def ips(self) -> set[str]:
        return set(IP_RE.findall(self.body))


class Target(Protocol):
    kind: str
    base_url: str
    has_outbox: bool

    async def login(self, browser: Browser, login_id: str, password: str) -> Answer: ...

    async def second_step(
        self, browser: Browser, first: Answer, *, code: str, remember: bool
    ) -> Answer: ...

    async def me(self, browser: Browser) -> bool: ...

    async def logout(self, browser: Browser) -> None: ...

    def reached_hash(self, answer: Answer) -> bool: ...

    def refused_early(self, answer: Answer) -> bool: ...

    async def healthy(self) -> bool: ...


class MamoriTarget:
    """Mamori's JSON API; the dev outbox (`MAMORI_DEV=1`) stands for the users' mailboxes and
    phones; the operator API (a token) tells when the defenses acted."""

    kind = "mamori"
    has_outbox = True

    def __init__(self, http: httpx.AsyncClient, base_url: str, *, admin_token: str = "") -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.admin_token = admin_token
        self.consumed: dict[int, str] = {}  # outbox message id -> who used its code

    # ---- login --------------------------------------------------------------------------

    async def login(self, browser: Browser, login_id: str, password: str) -> Answer:
        reply = await browser.post(f"{API}/login", {"login_id": login_id, "password": password})
        return classify_mamori(reply)

    async def second_step(
        self, browser: Browser, first: Answer, *, code: str, remember: bool
    ) -> Answer:
        method = first.sent_to or (first.methods[0] if first.methods else "email")
        reply = await browser.post(
            f"{API}/login/challenge",
            {
                "challenge_id": first.challenge_id,
                "method": method,
                "code": code,
                "remember_device": remember,
            },
        )
        return classify_mamori(reply)

    async def me(self, browser: Browser) -> bool:
        return (await browser.get(f"{API}/me")).status == 200

    async def logout(self, browser: Browser) -> None:
        await browser.post(f"{API}/logout")

    def reached_hash(self, answer: Answer) -> bool:
        return answer.cls in MAMORI_HASHED

    def refused_early(self, answer: Answer) -> bool:
        return answer.cls in MAMORI_EARLY

    async def healthy(self) -> bool:
        try:
            return (await self.http.get(self.base_url + "/healthz")).status_code == 200
        except httpx.TransportError:
            return False

    # ---- the outbox: users' mail and SMS --------------------------------------------------

    async def mail(self, to: str) -> list[Mail]:
        r = await self.http.get(f"{self.base_url}{API}/dev/outbox", params={"to": to})
        if r.status_code == 404:
            raise RuntimeError("the dev outbox is off: start Mamori with MAMORI_DEV=1")
        r.raise_for_status()
        return [
            Mail(
                id=int(item["id"]),
                at=datetime.fromisoformat(item["at"]),
                channel=str(item["channel"]),
                to=str(item["to"]),
                kind=str(item["kind"]),
                body=str(item["body"]),
            )
            for item in r.json()["items"]
        ]

    async def wait_code(
        self,
        to: str,
        kinds: Iterable[str],
        *,
        since: float,
        ip: str = "",
        wait: float = 15.0,
        by: str = "",
    ) -> str | None:
        """The code of the newest unused message of `kinds` to `to` sent at or after `since`
        (epoch seconds), preferring one that names `ip`; polls for up to `wait` real seconds."""
        wanted = set(kinds)
        deadline = time.monotonic() + wait
        while True:
            mails = [
                m
                for m in await self.mail(to)
                if m.kind in wanted and m.id not in self.consumed and m.at.timestamp() >= since - 1
            ]
            if ip:
                named = [m for m in mails if ip in m.ips()]
                mails = named or [m for m in mails if not m.ips()]
            if mails:
                newest = max(mails, key=lambda m: m.id)
                code = newest.code()
                if code is not None:
                    self.consumed[newest.id] = by
                    return code
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(0.05)

    async def login_code(
        self,
        first: Answer,
        *,
        email: str,
        phone: str | None,
        since: float,
        ip: str,
        by: str = "",
        wait: float = 15.0,
    ) -> str | None:
        """The code a challenge sent (by SMS or email), as its recipient reads it."""
        if first.sent_to == "sms" and phone:
            return await self.wait_code(phone, ("login_code_sms",), since=since, by=by, wait=wait)
        return await self.wait_code(email, ("login_code",), since=since, ip=ip, by=by, wait=wait)

    # ---- sign-up and account set-up -------------------------------------------------------

    async def signup(
        self, browser: Browser, *, login_id: str, email: str, password: str, language: str
    ) -> Reply:
        return await browser.post(
            f"{API}/signup",
            {"login_id": login_id, "email": email, "password": password, "language": language},
        )

    async def verify_email(self, browser: Browser, *, email: str, since: float) -> bool:
        code = await self.wait_code(email, ("verify_email",), since=since)
        if code is None:
            return False
        return (await browser.post(f"{API}/me/email/verify", {"code": code})).status == 200

    async def add_phone(self, browser: Browser, *, phone: str, since: float) -> str:
        """Verify a phone number on the signed-in account; "" when done, else what failed."""
        r = await browser.post(f"{API}/me/security/phone", {"phone": phone})
        if r.status != 200:
            return f"phone: {r.status} {r.error_code()}"
        code = await self.wait_code(phone, ("phone_code_sms",), since=since)
        if code is None:
            return "phone: no code arrived"
        r = await browser.post(f"{API}/me/security/phone/confirm", {"code": code})
        return "" if r.status == 200 else f"phone confirm: {r.status} {r.error_code()}"

    async def reset_password(
        self,
        browser: Browser,
        *,
        login_id: str,
        email: str,
        phone: str | None,
        new_password: str,
    ) -> list[Reply]:
        """Forgot password: request, the emailed code, the SMS second step when the account has
        a verified phone, the new password. Returns every reply (the last is the outcome)."""
        replies: list[Reply] = []
        since = time.time()
        r = await browser.post(f"{API}/password/forgot", {"login_id_or_email": login_id})
        replies.append(r)
        if r.status != 202:
            return replies
        reset_id = str(r.body.get("reset_id", ""))
        code = await self.wait_code(email, ("password_reset_code",), since=since)
        if code is None:
            return replies
        r = await browser.post(f"{API}/password/reset/verify", {"reset_id": reset_id, "code": code})
        replies.append(r)
        if r.status != 200:
            return replies
        if r.body.get("next") == "second_step":
            methods = r.body.get("methods", [])
            if "sms" not in methods or not phone:
                return replies
            since = time.time()
            r = await browser.post(f"{API}/password/reset/second-step/send", {"reset_id": reset_id})
            replies.append(r)
            sms = await self.wait_code(phone, ("password_reset_code_sms",), since=since)
            if sms is None:
                return replies
            r = await browser.post(
                f"{API}/password/reset/second-step",
                {"reset_id": reset_id, "method": "sms", "code": sms},
            )
            replies.append(r)
            if r.status != 200:
                return replies
        r = await browser.post(
            f"{API}/password/reset/complete", {"reset_id": reset_id, "new_password": new_password}
        )
        replies.append(r)
        return replies

    # ---- the operator API -----------------------------------------------------------------

    async def admin(self, path: str) -> Any:
        if not self.admin_token:
            return None
        r = await self.http.get(
            f"{self.base_url}{API}/admin{path}",
            headers={"Authorization": f"Bearer {self.admin_token}"},
        )
        if r.status_code != 200:
            return None
        return r.json()


@dataclass
class PeerTarget:
    """The Django comparison peer (bench/peers/). It has no outbox: its second factor is TOTP
    (`totp_secret` in the seeded users), which the simulator computes as the user would."""

    http: httpx.AsyncClient
    base_url: str
    kind: str = "peer"
    has_outbox: bool = False
    totp_secrets: dict[str, str] = field(default_factory=dict)

    async def login(self, browser: Browser, login_id: str, password: str) -> Answer:
        reply = await browser.post(f"{API}/login", {"login_id": login_id, "password": password})
        return classify_peer(reply)

    async def second_step(
        self, browser: Browser, first: Answer, *, code: str, remember: bool
    ) -> Answer:
        return classify_peer(await browser.post(f"{API}/login/otp", {"otp": code}))

    def totp(self, login_id: str) -> str | None:
        secret = self.totp_secrets.get(login_id)
        return pyotp.TOTP(secret).now() if secret else None

    async def me(self, browser: Browser) -> bool:
        return (await browser.get(f"{API}/me")).status == 200

    async def logout(self, browser: Browser) -> None:
        await browser.post(f"{API}/logout")

    def reached_hash(self, answer: Answer) -> bool:
        return answer.cls in PEER_HASHED

    def refused_early(self, answer: Answer) -> bool:
        return answer.cls in PEER_EARLY

    async def healthy(self) -> bool:
        try:
            return (await self.http.get(self.base_url + "/healthz")).status_code == 200
        except httpx.TransportError:
            return False
