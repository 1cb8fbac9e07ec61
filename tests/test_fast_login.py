"""`FastLogin` answers `POST /api/v1/login` exactly as the FastAPI route it stands in front of.

Every call below goes to two apps on two fresh databases with the same clock: one as served
(fast lane first), one with the fast lane removed (the FastAPI route alone). Status, JSON body
and the names of the headers must match; and the fast lane must really answer the well-formed
calls (a spy on the FastAPI route counts what reaches it).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from mamori.clock import FixedClock
from mamori.web import api
from mamori.web.app import create_app
from tests.conftest import PASSWORD, UA_CHROME, make_services, signup

JSON = "application/json"
CASES: list[tuple[str, bytes, dict[str, str]]] = [
    ("right password", json.dumps({"login_id": "alice", "password": PASSWORD}).encode(), {}),
    ("wrong password", b'{"login_id": "alice", "password": "wrong password 123"}', {}),
    ("unknown id", b'{"login_id": "nobody", "password": "wrong password 123"}', {}),
    (
        "remember",
        json.dumps({"login_id": "alice", "password": PASSWORD, "remember": True}).encode(),
        {},
    ),
    ("not json", b"{not json", {}),
    ("invalid utf-8", b'{"login_id": "a\xff\xfeb", "password": "x"}', {}),
    ("utf-16", '{"login_id": "alice", "password": "x"}'.encode("utf-16"), {}),
    ("lone surrogate", b'{"login_id": "alice", "password": "\\ud800"}', {}),
    ("array", b"[1, 2, 3]", {}),
    ("int id", b'{"login_id": 123, "password": "x"}', {}),
    ("missing password", b'{"login_id": "abc"}', {}),
    ("null password", b'{"login_id": "abc", "password": null}', {}),
    ("string remember", b'{"login_id": "abc", "password": "x", "remember": "yes"}', {}),
    ("extra field", b'{"login_id": "abc", "password": "x", "admin": true}', {}),
    (
        "duplicate key",  # the last one counts, as json.loads has it
        b'{"login_id": "nobody", "login_id": "alice", "password": '
        + json.dumps(PASSWORD).encode()
        + b"}",
        {},
    ),
    ("too long", json.dumps({"login_id": "a", "password": "x" * 5000}).encode(), {}),
    ("empty", b"", {}),
    ("string", b'"just a string"', {}),
    ("text/plain", b'{"login_id": "alice", "password": "x"}', {"content-type": "text/plain"}),
    (
        "charset",
        b'{"login_id": "alice", "password": "x"}',
        {"content-type": JSON + "; charset=utf-8"},
    ),
    (
        "upper case type",
        b'{"login_id": "alice", "password": "x"}',
        {"content-type": "Application/JSON"},
    ),
    ("cross-site", b'{"login_id": "alice", "password": "x"}', {"sec-fetch-site": "cross-site"}),
]
GUARDED = {"text/plain", "cross-site"}
WELL_FORMED = {
    "duplicate key",
    "right password",
    "wrong password",
    "unknown id",
    "remember",
    "upper case type",
}


class Spy:
    """Stands for the FastAPI route inside FastLogin: counts the calls that reach it."""

    def __init__(self, route: Any) -> None:
        self.route = route
        self.calls = 0

    def matches(self, scope: Any) -> Any:
        return self.route.matches(scope)

    async def handle(self, scope: Any, receive: Any, send: Any) -> None:
        self.calls += 1
        await self.route.handle(scope, receive, send)


def fast_lane(app: FastAPI) -> api.FastLogin:
    first = app.router.routes[0]
    lane = getattr(first, "app", None)
    assert isinstance(lane, api.FastLogin), "the fast lane is the first route"
    return lane


@pytest.fixture
async def apps(
    tmp_path: Path, sqlite_template: Path
) -> AsyncIterator[tuple[FastAPI, FastAPI, Spy]]:
    built = []
    for name in ("fast", "plain"):
        path = tmp_path / f"{name}.db"
        shutil.copy(sqlite_template, path)
        url = f"sqlite+aiosqlite:///{path}"
        svc = make_services(url, clock=FixedClock(datetime(2026, 12, 7, 9, tzinfo=UTC)))
        built.append((svc, create_app(svc)))
    (fast_svc, fast), (plain_svc, plain) = built
    spy = Spy(fast_lane(fast).route)
    fast_lane(fast).route = spy
    del plain.router.routes[0]  # the FastAPI route alone
    yield fast, plain, spy
    for svc in (fast_svc, plain_svc):
        await svc.background.drain()
        await svc.store.dispose()


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("203.0.113.7", 40000)),
        base_url="https://testserver",
        headers={"user-agent": UA_CHROME},
    )


def shape(r: httpx.Response) -> tuple[int, Any, list[str]]:
    try:
        body: Any = r.json()
    except ValueError:
        body = r.text
    if isinstance(body, dict):  # random per call, on both sides alike
        body = {k: "<random>" if k in ("challenge_id", "reset_id") else v for k, v in body.items()}
    return r.status_code, body, sorted({k for k, _ in r.headers.multi_items()})


async def test_every_call_gets_the_answer_the_fastapi_route_gives(
    apps: tuple[FastAPI, FastAPI, Spy],
) -> None:
    fast, plain, spy = apps
    async with client(fast) as a, client(plain) as b:
        for c in (a, b):
            assert (await signup(c)).status_code == 201
            c.cookies.clear()
        for name, body, headers in CASES:
            before = spy.calls
            answers = [
                shape(
                    await c.post(
                        "/api/v1/login", content=body, headers={"content-type": JSON, **headers}
                    )
                )
                for c in (a, b)
            ]
            assert answers[0] == answers[1], name
            assert answers[0][0] != 500, name
            # well-formed: answered by the fast lane; refused by the router's guard: by the
            # guard the fast lane runs first; the rest: by the FastAPI route
            expected = 0 if name in WELL_FORMED | GUARDED else 1
            assert spy.calls - before == expected, name
        get = [shape(await c.get("/api/v1/login")) for c in (a, b)]
        assert get[0] == get[1] and get[0][0] == 405
    assert spy.calls > 0  # the malformed calls did reach the FastAPI route


def logins(text: str, outcome: str) -> float:
    prefix = f'mamori_logins_total{{outcome="{outcome}"}}'
    return sum(float(x.rsplit(" ", 1)[1]) for x in text.splitlines() if x.startswith(prefix))


async def test_the_fast_lane_keeps_the_route_template_for_metrics(
    apps: tuple[FastAPI, FastAPI, Spy],
) -> None:
    fast, _plain, spy = apps
    async with client(fast) as c:
        await signup(c)
        before = (await c.get("/metrics")).text
        r = await c.post("/api/v1/login", json={"login_id": "alice", "password": PASSWORD})
        assert r.status_code == 200 and spy.calls == 0
        after = (await c.get("/metrics")).text
    assert 'mamori_http_requests_total{method="POST",route="/api/v1/login",status="200"}' in after
    assert logins(after, "ok") - logins(before, "ok") == 1
    assert logins(after, "blocked") == logins(before, "blocked")  # not a ban-gate refusal
