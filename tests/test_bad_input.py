"""Bad input gets a clear 4xx in the one JSON error shape, never a 500, and writes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select

from mamori.flows.services import Services
from mamori.store import tables as t
from tests.conftest import PASSWORD, signup


def assert_error_shape(r: httpx.Response, status: int, code: str | None = None) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}
    assert isinstance(body["error"]["code"], str)
    assert body["error"]["code"]
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code


async def count_rows(services: Services) -> tuple[int, int, int]:
    async with services.store.begin() as tx:
        return tuple(  # type: ignore[return-value]
            [
                int((await tx.conn.execute(select(func.count()).select_from(tb))).scalar_one())
                for tb in (t.accounts, t.sessions, t.security_events)
            ]
        )


JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "malformed_json"),
        (b'{"login_id": "a\xff\xfeb", "password": "x"}', 400, None),
        (b"[1, 2, 3]", 422, "invalid_request"),
        (b'{"login_id": 123, "password": "x"}', 422, "invalid_request"),
        (b'{"login_id": "abc"}', 422, "invalid_request"),
        (b'{"login_id": "abc", "password": null}', 422, "invalid_request"),
        (b'{"login_id": "abc", "password": "x", "remember": "yes"}', 422, "invalid_request"),
        (b'{"login_id": "abc", "password": "x", "admin": true}', 422, "invalid_request"),
        (b"", 422, None),
        (b'"just a string"', 422, "invalid_request"),
    ],
)
async def test_login_bad_bodies(
    client: httpx.AsyncClient, services: Services, body: bytes, status: int, code: str | None
) -> None:
    before = await count_rows(services)
    r = await client.post("/api/v1/login", content=body, headers=JSON)
    assert_error_shape(r, status, code)
    assert await count_rows(services) == before


async def test_oversized_body(client: httpx.AsyncClient, services: Services) -> None:
    big = b'{"login_id": "abc", "password": "' + b"x" * 70_000 + b'"}'
    r = await client.post("/api/v1/login", content=big, headers=JSON)
    assert_error_shape(r, 413, "body_too_large")

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"x" * 8192

    r = await client.post("/api/v1/signup", content=chunks(), headers=JSON)
    assert_error_shape(r, 413, "body_too_large")
    assert await count_rows(services) == (0, 0, 0)


@pytest.mark.parametrize(
    "login_id",
    ["ab", "x" * 65, "bad\x00id", "tab\tid", "new\nline", "zero\u200bwidth", "sp ace", "<script>"],
)
async def test_signup_rejects_bad_login_ids(
    client: httpx.AsyncClient, services: Services, login_id: str
) -> None:
    r = await client.post(
        "/api/v1/signup",
        json={"login_id": login_id, "email": "z@example.com", "password": PASSWORD},
    )
    assert_error_shape(r, 422, "invalid_login_id")
    assert await count_rows(services) == (0, 0, 0)


async def test_control_characters_in_login_attempt_are_safe(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/login", json={"login_id": "a\x00b\x1b[31m", "password": "x"})
    # answered like any unknown login ID from a new browser: a challenge that cannot succeed
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "challenge" and r.json()["methods"] == ["email"]


async def test_wrong_content_type(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/login", data={"login_id": "abc", "password": "x"})
    assert_error_shape(r, 415, "unsupported_media_type")


async def test_unknown_route_and_method(client: httpx.AsyncClient) -> None:
    assert_error_shape(await client.get("/api/v1/nope"), 404, "not_found")
    assert_error_shape(await client.get("/api/v1/login"), 405, "method_not_allowed")


async def test_history_query_validation(client: httpx.AsyncClient) -> None:
    await signup(client, "rita")
    assert_error_shape(await client.get("/api/v1/me/login-history?limit=0"), 422)
    assert_error_shape(await client.get("/api/v1/me/login-history?limit=abc"), 422)
    assert_error_shape(await client.get("/api/v1/me/login-history?before=-1"), 422)


async def test_huge_password_is_rejected_not_truncated(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/v1/signup",
        json={"login_id": "sam", "email": "sam@example.com", "password": "y" * 5000},
    )
    assert_error_shape(r, 422, "invalid_request")  # over the schema's 4096 limit
    r = await client.post(
        "/api/v1/signup",
        json={"login_id": "sam", "email": "sam@example.com", "password": PASSWORD + "z" * 100},
    )
    assert_error_shape(r, 422, "password_rejected")
    assert r.json()["error"]["violations"] == ["too_long"]


async def test_error_messages_follow_language(client: httpx.AsyncClient) -> None:
    bad = {"challenge_id": "nothing-like-it", "method": "email", "code": "123456"}
    url = "/api/v1/login/challenge"
    ja = await client.post(url, json=bad, headers={"accept-language": "ja"})
    en = await client.post(url, json=bad, headers={"accept-language": "en-US,en;q=0.9"})
    assert "確認できませんでした" in ja.json()["error"]["message"]
    assert "could not confirm" in en.json()["error"]["message"]
