"""Incident pages of the operators' console over ASGI, on SQLite and PostgreSQL: the list and
the incident page (lists, counts, reports), the preview, roles (an analyst looks, an admin acts),
re-authentication and a reason before a response, and "reset" + "notify" reaching the affected
account. The incident is the closed one `tests/test_incidents.py` seeds (a rule ban on an IP and
a login from it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from mamori.clock import FixedClock
from mamori.flows.services import Services
from mamori.notify import MemoryNotifier
from mamori.otp import totp_at
from tests.conftest import clean, make_services
from tests.test_console import OP_PASSWORD, audit, csrf_of, operator_client, post_form
from tests.test_incidents import GEO, seed


@pytest.fixture
async def notifier() -> MemoryNotifier:
    return MemoryNotifier()


@pytest.fixture
async def svc(
    database_url: str, clock: FixedClock, notifier: MemoryNotifier
) -> AsyncIterator[Services]:
    s = await clean(
        make_services(
            database_url,
            clock=clock,
            notifier=notifier,
            geo=GEO,
            two_step_default_mode="off",
            trusted_proxies=("127.0.0.1/32",),
        )
    )
    yield s
    await s.background.drain()
    await s.store.dispose()


@pytest.fixture
async def incident_id(svc: Services, database_url: str, clock: FixedClock) -> int:
    return await seed(database_url, clock)


async def victim(svc: Services) -> tuple[int, bool]:
    async with svc.store.begin() as tx:
        account = await tx.accounts.by_login_key("victim")
    assert account is not None
    return account.id, account.password_reset_required


async def test_analyst_can_view_incidents_but_not_respond(
    svc: Services, clock: FixedClock, incident_id: int
) -> None:
    page_url = f"/admin/incidents/{incident_id}"
    async with operator_client(svc, clock, "watcher", "analyst") as (c, _):
        c.cookies.set("mamori_lang", "en")
        r = await c.get("/admin/incidents")
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
        assert f'href="{page_url}"' in r.text and "closed" in r.text
        r = await c.get(page_url)
        assert r.status_code == 200, r.text
        assert 'id="confirmed-count">1<' in r.text and 'id="logged-in-count">1<' in r.text
        assert "victim" in r.text and "10.3.0.7" in r.text
        assert f'href="{page_url}/report.md"' in r.text
        md = await c.get(f"{page_url}/report.md")
        assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
        assert "attachment" in md.headers["content-disposition"] and "| US | 1 |" in md.text
        csv = await c.get(f"{page_url}/report.csv")
        assert csv.status_code == 200 and "victim" in csv.text
        # looking at the counts is read-only; running is not for analysts
        r = await post_form(c, f"{page_url}/preview", page_url, action="reset")
        assert r.status_code == 200 and 'id="preview-todo">1 to do<' in r.text
        assert 'id="respond-form"' not in r.text
        for action in ("block", "reset", "notify"):
            r = await post_form(c, f"{page_url}/respond", page_url, action=action, reason="x")
            assert r.status_code == 403, action
        assert (await c.get("/admin/incidents/999")).status_code == 404
    assert not (await victim(svc))[1]
    assert all(not e.action.startswith("incident.") for e in await audit(svc))


async def test_admin_previews_then_resets_and_notifies(
    svc: Services, clock: FixedClock, incident_id: int, notifier: MemoryNotifier
) -> None:
    page_url = f"/admin/incidents/{incident_id}"
    account_id, reset_required = await victim(svc)
    assert not reset_required
    async with operator_client(svc, clock) as (c, secret):
        c.cookies.set("mamori_lang", "en")
        r = await post_form(c, f"{page_url}/preview", page_url, action="reset")
        assert r.status_code == 200, r.text
        assert 'id="preview-targets">1 targets<' in r.text
        assert 'id="preview-already">0 already done<' in r.text
        assert 'id="preview-todo">1 to do<' in r.text and 'id="respond-form"' in r.text
        r = await post_form(c, f"{page_url}/preview", page_url, action="explode")
        assert r.status_code == 422

        # the login was 6 minutes ago: confirm first
        clock.advance(timedelta(minutes=6))
        r = await post_form(c, f"{page_url}/respond", page_url, action="reset", reason="leak")
        assert r.status_code == 403 and 'action="/admin/reauth"' in r.text
        assert f'name="next" value="{page_url}"' in r.text
        assert not (await victim(svc))[1]
        form = await c.get(f"/admin/reauth?next={page_url}")
        r = await c.post(
            "/admin/reauth",
            data={"csrf_token": csrf_of(form), "password": OP_PASSWORD,
                  "code": totp_at(secret=secret, at=clock.now()), "next": page_url},
        )  # fmt: skip
        assert r.status_code == 303 and r.headers["location"] == page_url

        # a reason is required
        r = await post_form(c, f"{page_url}/respond", page_url, action="reset", reason="  ")
        assert r.status_code == 422 and "Please give a reason." in r.text
        assert not (await victim(svc))[1]

        for action in ("reset", "notify"):
            r = await post_form(
                c, f"{page_url}/respond", page_url, action=action, reason="e2e leak"
            )
            assert r.status_code == 303, r.text
            assert r.headers["location"] == f"{page_url}?done={action}"
        await svc.background.drain()
        page = await c.get(f"{page_url}?done=notify")
        assert 'id="done"' in page.text
        assert page.text.count('<td class="num">1/1</td>') == 2
        # a second run has nothing to do
        r = await post_form(c, f"{page_url}/preview", page_url, action="notify")
        assert 'id="preview-todo">0 to do<' in r.text
        assert 'id="preview-already">1 already done<' in r.text

    assert (await victim(svc))[1]
    notices = [m for m in notifier.sent if m.kind == "incident_response"]
    assert [(m.channel, m.to, m.account_id) for m in notices] == [
        ("email", "victim@example.com", account_id)
    ]
    actions = [(e.action, e.actor, e.reason) for e in await audit(svc)]
    for kind in ("reset", "notify"):
        assert (f"incident.{kind}.start", "operator:root", "e2e leak") in actions
        assert (f"incident.{kind}.done", "operator:root", "e2e leak") in actions
