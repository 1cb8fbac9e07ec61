"""A credential-stuffing campaign that lasts hours stays "under attack" for as long as it runs:
the buckets judged to be the attack are kept out of the detector's baseline (found by
`mamori analyze`: a 4-hour campaign was seen for 8 minutes when the attack became its own
baseline). Driven through the Defender's statistics and ticks on a fixed clock."""

from __future__ import annotations

from datetime import timedelta

from mamori.clock import FixedClock
from mamori.flows.services import Services
from tests.conftest import clean, make_services


def minute_of_traffic(svc: Services, now: float, minute: int, *, attack: bool) -> None:
    stats = svc.defender.stats
    for i in range(10):  # legitimate logins, mostly right
        stats.record_attempt(
            now=now,
            sources={"ip": f"172.16.0.{i + 1}", "network": "HOME-ISP"},
            login_key=f"user{i}",
            failed=i == 0,
            unknown=False,
        )
    if not attack:
        return
    for i in range(60):  # stuffing: each IP once, leaked IDs, most of them unknown here
        n = minute * 60 + i
        stats.record_attempt(
            now=now,
            sources={"ip": f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"},
            login_key=f"leaked{n}",
            failed=True,
            unknown=i % 3 != 0,
        )


async def test_a_four_hour_campaign_stays_under_attack(
    database_url: str, clock: FixedClock
) -> None:
    # 5-minute buckets and an hour of history (12 buckets), one tick per bucket: the same
    # shape as the defaults (1-minute buckets, 60 of history) at a fifth of the ticks
    svc = await clean(
        make_services(
            database_url,
            clock=clock,
            detector_interval_seconds=0,
            detector_bucket_seconds=300,
            detector_history_buckets=12,
            under_attack_seconds=900,
        )
    )
    step = timedelta(minutes=5)
    try:
        # an hour of ordinary traffic: the baseline
        for tick in range(12):
            minute_of_traffic(svc, clock.now().timestamp(), tick, attack=False)
            assert not (await svc.defender.tick()).attack
            clock.advance(step)
        # four hours of stuffing
        lapsed = []
        for tick in range(48):
            minute_of_traffic(svc, clock.now().timestamp(), tick, attack=True)
            await svc.defender.tick()
            if tick >= 1 and not await svc.defender.under_attack():
                lapsed.append(tick * 5)
            clock.advance(step)
        assert lapsed == [], f"the state lapsed at minutes {lapsed[:10]}..."
        # and it ends once the campaign stops
        for tick in range(6):
            minute_of_traffic(svc, clock.now().timestamp(), tick, attack=False)
            await svc.defender.tick()
            clock.advance(step)
        assert not await svc.defender.under_attack()
    finally:
        await svc.background.drain()
        await svc.store.dispose()
