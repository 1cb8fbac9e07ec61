"""One simulated browser: its own cookie jar (the device cookie included), one user agent, one
client address (sent as `X-Forwarded-For`, which the server believes from the simulator's
address when `MAMORI_TRUSTED_PROXIES` names it).

Browsers share one `httpx.AsyncClient` (one connection pool; thousands of attacker browsers
would otherwise open thousands of pools) whose own cookie jar refuses every cookie: each
`Browser` keeps its cookies itself and sends them with its requests, so nothing leaks between
browsers however many requests are in flight. Like a real browser on http://127.0.0.1 (a secure
context), Secure cookies are kept and sent over plain HTTP to the loopback server.
"""

from __future__ import annotations

import http.cookiejar
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx


class _RefuseAll(http.cookiejar.DefaultCookiePolicy):
    def set_ok(self, cookie: http.cookiejar.Cookie, request: urllib.request.Request) -> bool:
        return False

    def return_ok(self, cookie: http.cookiejar.Cookie, request: urllib.request.Request) -> bool:
        return False


def shared_client(*, connections: int = 64, timeout: float = 60.0) -> httpx.AsyncClient:
    """The connection pool every browser of a run goes through (no cookies of its own)."""
    return httpx.AsyncClient(
        cookies=http.cookiejar.CookieJar(policy=_RefuseAll()),
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        timeout=timeout,
        trust_env=False,
    )


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: dict[str, Any]  # the JSON body ({} when there was none or it was not JSON)
    headers: httpx.Headers
    elapsed: float  # seconds, request to full response
    cookies_set: tuple[str, ...]  # names of the cookies this answer set

    def error_code(self) -> str:
        err = self.body.get("error")
        return str(err.get("code", "")) if isinstance(err, dict) else ""


def parse_set_cookie(header: str, *, now: datetime | None = None) -> tuple[str, str | None]:
    """(name, value) of one Set-Cookie header; value None when it deletes the cookie (Max-Age
    of 0 or less, or an Expires in the past)."""
    first, _, rest = header.partition(";")
    name, _, value = first.strip().partition("=")
    value = value.strip().strip('"')
    now = now or datetime.now(UTC)
    for attr in rest.split(";"):
        key, _, arg = attr.strip().partition("=")
        key = key.lower()
        if key == "max-age":
            try:
                if int(arg) <= 0:
                    return name, None
            except ValueError:
                pass
        elif key == "expires":
            try:
                when = parsedate_to_datetime(arg.strip())
            except (TypeError, ValueError):
                continue
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            if when <= now:
                return name, None
    return name.strip(), value


class Browser:
    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        *,
        user_agent: str,
        ip: str,
        language: str = "ja",
        cookies: dict[str, str] | None = None,
        name: str = "",
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.user_agent = user_agent
        self.ip = ip
        self.language = language
        self.cookies: dict[str, str] = dict(cookies or {})
        self.name = name

    def clone(self, *, ip: str | None = None, http: httpx.AsyncClient | None = None) -> Browser:
        """The same browser (cookies copied), maybe on another network."""
        return Browser(
            http or self.http,
            self.base_url,
            user_agent=self.user_agent,
            ip=self.ip if ip is None else ip,
            language=self.language,
            cookies=self.cookies,
            name=self.name,
        )

    def cookie(self, *names: str) -> str | None:
        for name in names:
            if name in self.cookies:
                return self.cookies[name]
        return None

    def headers(self) -> dict[str, str]:
        accept_language = "ja,en-US;q=0.8,en;q=0.6" if self.language == "ja" else "en-US,en;q=0.8"
        headers = {
            "User-Agent": self.user_agent,
            "X-Forwarded-For": self.ip,
            "Accept": "application/json",
            "Accept-Language": accept_language,
            "Sec-Fetch-Site": "same-origin",
            "Sec-Fetch-Mode": "cors",
        }
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return headers

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        started = time.perf_counter()
        response = await self.http.request(
            method,
            self.base_url + path,
            json=json,
            headers={**self.headers(), **(headers or {})},
        )
        elapsed = time.perf_counter() - started
        set_names = []
        for header in response.headers.get_list("set-cookie"):
            name, value = parse_set_cookie(header)
            if not name:
                continue
            set_names.append(name)
            if value is None:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        try:
            body = response.json()
        except ValueError:
            body = {}
        return Reply(
            status=response.status_code,
            body=body if isinstance(body, dict) else {"items": body},
            headers=response.headers,
            elapsed=elapsed,
            cookies_set=tuple(set_names),
        )

    async def post(self, path: str, body: dict[str, Any] | None = None) -> Reply:
        return await self.request("POST", path, json=body if body is not None else {})

    async def get(self, path: str) -> Reply:
        return await self.request("GET", path)
