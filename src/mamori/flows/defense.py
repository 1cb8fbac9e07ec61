"""The defense shell: gathers counters and bans, asks the pure engines in `defense/`, applies.

Per login attempt:
  precheck(client)       ban cache (in-process)              -> Blocked, before any lookup or hash
  reserve(...)           lock deadline + atomic attempt count -> AccountLocked, before the hash
  on_failure(...)        IP failure count, login IDs per IP   -> rule bans (throttle/block)
  on_success(...)        clears the login ID's attempt counter
and every few seconds, in every process, `tick()` flushes statistics and runs the
credential-stuffing detector, which may open the "under attack" state and ban sources.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from mamori.clock import Clock
from mamori.defense.lockout import AttemptVerdict, judge_attempt
from mamori.defense.policy import DefensePolicy
from mamori.defense.stuffing import Detection, Window, detect
from mamori.defense.throttle import BlockOrder, escalate, ip_rules, relative_rule
from mamori.errors import Blocked
from mamori.flows.bancache import BanCache
from mamori.flows.stats import StatsBuffer
from mamori.flows.window import read_window
from mamori.models import Ban, ClientContext, EventType
from mamori.netaddr import subnet_of
from mamori.settings import Settings
from mamori.store import Store, Tx
from mamori.store.counters import Counters
from mamori.store.counters_failover import FailoverCounters
from mamori.store.counters_sql import SQLCounters

log = logging.getLogger("mamori.defense")

ATTACK_STATE = "state:under_attack"


def policy_from(settings: Settings) -> DefensePolicy:
    s = settings
    return DefensePolicy(
        lock_threshold=s.lock_threshold,
        lock_window=s.lock_window_seconds,
        lock_duration=s.lock_seconds,
        lock_extend=s.lock_extend,
        lock_max=s.lock_max_seconds,
        device_lock_threshold=s.device_lock_threshold,
        device_lock_window=s.lock_window_seconds,
        device_lock_duration=s.device_lock_seconds,
        ip_fail_threshold=s.ip_fail_threshold,
        ip_fail_window=s.ip_fail_window_seconds,
        ip_throttle=s.ip_throttle_seconds,
        ip_distinct_threshold=s.ip_distinct_threshold,
        ip_distinct_window=s.ip_distinct_window_seconds,
        ip_block=s.ip_block_seconds,
        subnet_min_failures=s.subnet_min_failures,
        network_min_failures=s.network_min_failures,
        source_rate_factor=s.source_rate_factor,
        source_block=s.source_block_seconds,
        bucket_seconds=s.detector_bucket_seconds,
        history_buckets=s.detector_history_buckets,
        min_failures=s.detector_min_failures,
        failure_ratio=s.detector_failure_ratio,
        unknown_share=s.detector_unknown_share,
        rate_factor=s.detector_rate_factor,
        under_attack=s.under_attack_seconds,
        monitor_only=s.defense_mode == "monitor",
    )


@dataclass(slots=True)
class Reservation:
    """What the defenses decided about one attempt, recorded on its security event."""

    verdict: AttemptVerdict
    attempts: int
    recognized: bool
    under_attack: bool
    would_block: str = ""
    blocks: list[dict[str, Any]] = field(default_factory=list)

    def details(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "attempts": self.attempts,
            "recognized_device": self.recognized,
            "under_attack": self.under_attack,
        }
        if self.verdict.reason:
            d["lock"] = self.verdict.reason
            d["lock_until"] = round(self.verdict.lock_until, 3)
        if self.would_block:
            d["would_block"] = self.would_block
        if self.blocks:
            d["blocks"] = self.blocks
        return d


def spares_recognized(ban: Ban) -> bool:
    """Bans the detector puts on a whole subnet or network: the owners who live there keep
    logging in from their own browsers (operator bans and single addresses hold for everyone)."""
    return ban.origin == "rule" and ban.kind in ("cidr", "network")


def sources_of(client: ClientContext) -> dict[str, str]:
    return {
        "ip": client.ip,
        "subnet": subnet_of(client.ip) if client.ip and client.ip != "0.0.0.0" else "",  # noqa: S104
        "network": client.as_name,
        "ua": client.user_agent[:200],
    }


class Defender:
    def __init__(
        self,
        *,
        policy: DefensePolicy,
        counters: Counters,
        store: Store,
        clock: Clock,
        bans: BanCache,
    ) -> None:
        self.policy = policy
        self.counters = counters
        self.store = store
        self.clock = clock
        self.bans = bans
        self.stats = StatsBuffer(
            bucket_seconds=policy.bucket_seconds, history_buckets=policy.history_buckets
        )
        self._attack_until = 0.0
        self._attack_checked = -1e18
        self.last_detection: Detection | None = None

    def _now(self) -> float:
        return self.clock.now().timestamp()

    # ---- before the account lookup -------------------------------------------------------

    async def refusal(self, ip: str, *, network: str, spare: bool = False) -> tuple[int, str]:
        """(retry_after seconds, "") to refuse a banned source, or (0, note): note is "" for a
        clean source and says what would have been blocked in monitor mode. Allowlisted
        sources are never refused. Cheap: the in-process ban cache, no I/O on the hot path.

        `spare`: the request carries a validly signed device cookie. A ban the detector put on a
        whole subnet or network (it catches the owners who live there too) then lets it through
        for now; the login flow refuses it after all unless that browser is bound to the
        account it logs in to (`spared_ban`)."""
        if self.bans.allowlisted(ip):
            return 0, ""
        ban = await self.bans.match(ip, network=network)
        if ban is None:
            return 0, ""
        if spare and spares_recognized(ban):
            return 0, ""
        if self.policy.monitor_only:
            return 0, f"{ban.kind}:{ban.value}:{ban.reason}"
        self.stats.record_blocked(now=self._now())
        if ban.expires_at is None:
            return 86400, ""
        return max(1, math.ceil((ban.expires_at - self.clock.now()).total_seconds())), ""

    async def spared_ban(self, client: ClientContext) -> None:
        """After the device lookup, for a request `precheck` spared: the browser turned out not
        to be bound to the account, so the subnet or network ban applies (Blocked)."""
        seconds, _note = await self.refusal(client.ip, network=client.as_name)
        if seconds:
            raise Blocked(
                "too many requests from this network; try again later", retry_after=seconds
            )

    async def precheck(self, client: ClientContext, *, spare: bool = False) -> str:
        """Refuse a banned source (Blocked). Returns a "would block" note in monitor mode.
        `spare`: see `refusal` (the caller then calls `spared_ban` unless the device is bound)."""
        seconds, note = await self.refusal(client.ip, network=client.as_name, spare=spare)
        if seconds:
            raise Blocked(
                "too many requests from this network; try again later", retry_after=seconds
            )
        return note

    async def under_attack(self, counters: Counters | None = None) -> bool:
        """The shared "under attack" state, read at most once a second per process. Pass the
        counters of an open transaction when inside one (never take a second connection)."""
        now = self._now()
        if now - self._attack_checked >= 1.0 or now < self._attack_checked:
            source = counters or self.counters
            self._attack_until = await source.get_until(ATTACK_STATE, now=now)
            self._attack_checked = now
        return self._attack_until > now

    # ---- before the hash -----------------------------------------------------------------

    @asynccontextmanager
    async def _counters_batch(self) -> AsyncIterator[Counters]:
        """One transaction, and the counters running inside it (when they live in SQL)."""
        async with self.store.begin() as tx:
            yield self.counters_in(tx)

    def counters_in(self, tx: Tx | None) -> Counters:
        """Counters running inside `tx` when they live in the same database (one transaction
        fewer per step), else the shared ones."""
        c = self.counters
        if tx is None:
            return c
        if isinstance(c, SQLCounters) and c.engine is self.store.engine:
            return c.bound(tx.conn, tx.direct)
        if (
            isinstance(c, FailoverCounters)
            and isinstance(c.fallback, SQLCounters)
            and c.fallback.engine is self.store.engine
        ):
            # Redis first; should it be down, the SQL fallback runs inside tx (no second
            # connection is taken while tx holds one: that could exhaust the pool)
            return c.with_fallback(c.fallback.bound(tx.conn, tx.direct))
        return c

    async def reserve(
        self, *, login_key: str, device_hash: str | None, tx: Tx | None = None
    ) -> Reservation:
        """Count this attempt atomically and judge it. `device_hash` only when the device cookie
        is bound to the account being logged into (a recognized client)."""
        now = self._now()
        p = self.policy
        counters = self.counters_in(tx)
        attack = await self.under_attack(counters)
        recognized = device_hash is not None
        base = f"dv:{device_hash}:{login_key}" if recognized else f"id:{login_key}"
        lock_key, count_key, locks_key = f"{base}:lock", f"{base}:n", f"{base}:locks"
        window = p.device_lock_window if recognized else p.lock_window
        attempts, lock_until = await counters.incr_unless_locked(
            count_key, lock_key=lock_key, ttl=window, now=now
        )
        if lock_until > now:
            verdict = judge_attempt(
                p,
                now=now,
                attempts=0,
                lock_until=lock_until,
                locks_in_window=0,
                recognized=recognized,
                under_attack=attack,
            )
            if verdict.extended:
                await counters.raise_until(lock_key, until=verdict.lock_until, now=now)
            return Reservation(verdict, 0, recognized, attack)
        locks = 0
        threshold = (
            p.device_lock_threshold
            if recognized
            else p.under_attack_lock_threshold
            if attack
            else p.lock_threshold
        )
        if attempts == threshold + 1 and not recognized:
            locks = await counters.get(locks_key, now=now)
        verdict = judge_attempt(
            p,
            now=now,
            attempts=attempts,
            lock_until=0.0,
            locks_in_window=locks,
            recognized=recognized,
            under_attack=attack,
        )
        if not verdict.allowed:
            await counters.raise_until(lock_key, until=verdict.lock_until, now=now)
            if attempts == threshold + 1:
                # the one request that crossed the threshold starts the lock; a fresh count
                # begins when it ends, and repeat locks within 24 h double its length
                await counters.delete(count_key)
                if not recognized:
                    await counters.incr(locks_key, ttl=p.lock_repeat_window, now=now)
            else:
                verdict = AttemptVerdict(
                    False,
                    verdict.lock_until,
                    False,
                    False,
                    "device_locked" if recognized else "locked",
                )
        return Reservation(verdict, attempts, recognized, attack)

    # ---- after the hash ------------------------------------------------------------------

    async def on_failure(
        self,
        client: ClientContext,
        *,
        login_key: str,
        unknown: bool,
        reservation: Reservation,
        tx: Tx | None = None,
    ) -> None:
        now = self._now()
        p = self.policy
        counters = self.counters_in(tx)
        self.stats.record_attempt(
            now=now, sources=sources_of(client), login_key=login_key, failed=True, unknown=unknown
        )
        # A device recognized for this account has its own lock; its owner's typos must not
        # throttle the address they share with everyone behind it.
        if reservation.recognized or self.bans.allowlisted(client.ip):
            return
        failures = await counters.incr(f"ipf:{client.ip}", ttl=p.ip_fail_window, now=now)
        distinct = await counters.touch_member(
            f"ipids:{client.ip}", login_key, ttl=p.ip_distinct_window, now=now
        )
        orders = ip_rules(
            p,
            ip=client.ip,
            failures=failures,
            distinct_ids=distinct,
            under_attack=reservation.under_attack,
        )
        for order in orders:
            ban = await self.apply(order, tx=tx)
            reservation.blocks.append(
                {
                    "kind": order.kind,
                    "value": order.value,
                    "reason": order.reason,
                    "evidence": order.evidence,
                    "applied": ban is not None,
                }
            )

    async def on_success(
        self,
        client: ClientContext,
        *,
        login_key: str,
        device_hash: str | None,
        tx: Tx | None = None,
    ) -> None:
        """A right password: its reserved attempt was not a failure, so it is taken back (one
        atomic decrement). Failures already counted in the window stay counted."""
        now = self._now()
        p = self.policy
        self.stats.record_attempt(
            now=now, sources=sources_of(client), login_key=login_key, failed=False, unknown=False
        )
        if device_hash is not None:
            key, window = f"dv:{device_hash}:{login_key}:n", p.device_lock_window
        else:
            key, window = f"id:{login_key}:n", p.lock_window
        await self.counters_in(tx).incr(key, ttl=window, now=now, amount=-1)

    async def on_locked(self, client: ClientContext, *, login_key: str) -> None:
        """An attempt refused by a lock still counts as a failure for the detector."""
        self.stats.record_attempt(
            now=self._now(),
            sources=sources_of(client),
            login_key=login_key,
            failed=True,
            unknown=False,
        )

    # ---- bans ----------------------------------------------------------------------------

    async def apply(
        self, order: BlockOrder, *, origin: str = "rule", tx: Tx | None = None
    ) -> Ban | None:
        """Ban a source (escalating repeat offenders); None in monitor mode or when allowlisted.
        Inside `tx` when given (the caller commits), else in a transaction of its own."""
        if order.kind == "ip" and self.bans.allowlisted(order.value):
            return None
        if tx is None:
            async with self.store.begin() as own:
                ban = await self._apply_in(own, order, origin)
        else:
            ban = await self._apply_in(tx, order, origin)
        if ban is not None:
            self.bans.add_local(ban)
        return ban

    async def _apply_in(self, tx: Tx, order: BlockOrder, origin: str) -> Ban | None:
        now_dt = self.clock.now()
        details: dict[str, Any] = {
            "kind": order.kind,
            "value": order.value,
            "evidence": order.evidence,
            "origin": origin,
        }
        if self.policy.monitor_only:
            await tx.events.add(
                at=now_dt,
                type=EventType.BAN_ADDED,
                client=_SYSTEM,
                result="monitor",
                reason=order.reason,
                details={**details, "monitor_only": True},
            )
            return None
        previous = await tx.bans.get(kind=order.kind, value=order.value)
        seconds = escalate(
            order.seconds,
            strikes=previous.strikes if previous else 0,
            cap=self.policy.source_block_max,
        )
        if previous is not None and previous.active_at(now_dt):
            seconds = order.seconds  # renewing a running ban does not escalate
        ban = await tx.bans.upsert(
            kind=order.kind,
            value=order.value,
            reason=order.reason,
            origin=origin,
            now=now_dt,
            expires_at=now_dt + timedelta(seconds=seconds),
            details={"evidence": order.evidence},
        )
        if previous is None or not previous.active_at(now_dt):
            await tx.events.add(
                at=now_dt,
                type=EventType.BAN_ADDED,
                client=_SYSTEM,
                result="ok",
                reason=order.reason,
                details={**details, "seconds": seconds, "strikes": ban.strikes},
            )
        return ban

    # ---- the detector --------------------------------------------------------------------

    async def _attack_started(self, detection: Detection, *, now: float) -> None:
        """The `attack_started` event and an incident (unless one is open), together. The
        incident's window starts with the detector's window (the attack's first requests)."""
        details = {"reasons": list(detection.reasons), "signals": detection.signals}
        since = (int(now // self.policy.bucket_seconds) - 1) * self.policy.bucket_seconds
        async with self.store.begin() as tx:
            event_id = await tx.events.add(
                at=self.clock.now(),
                type=EventType.ATTACK_STARTED,
                client=_SYSTEM,
                result="detected",
                reason="credential_stuffing",
                details=details,
            )
            await tx.incidents.open_unless_open(
                at=self.clock.now(),
                summary={
                    **details,
                    "since": datetime.fromtimestamp(since, UTC).isoformat(),
                    "event_id": event_id,
                },
            )

    async def tick(self) -> Detection:
        """Flush statistics, run the credential-stuffing detector, apply what it decides."""
        now = self._now()
        await self.stats.flush(self.counters, now=now, batch=self._counters_batch)
        window = await read_window(self.counters, self.policy, now=now)
        detection = detect(window, self.policy)
        self.last_detection = detection
        if detection.attack:
            # these buckets are the attack: keep them out of later baselines (flows/window.py)
            b = int(now // self.policy.bucket_seconds)
            keep = self.policy.bucket_seconds * (self.policy.history_buckets + 3)
            for x in (b - 1, b):
                await self.counters.incr(f"g:{x}:atk", ttl=keep, now=now)
            previous = await self.counters.get_until(ATTACK_STATE, now=now)
            until = await self.counters.raise_until(
                ATTACK_STATE, until=now + self.policy.under_attack, now=now
            )
            self._attack_until, self._attack_checked = until, now
            if previous <= now:
                opened = await self.counters.incr(
                    "state:attack_opened", ttl=self.policy.under_attack, now=now
                )
                if opened == 1:
                    log.warning("credential stuffing detected: %s", "; ".join(detection.reasons))
                    await self._attack_started(detection, now=now)
            for order in detection.blocks:
                await self.apply(order)
        elif await self.counters.get_until(ATTACK_STATE, now=now) <= now:
            async with self.store.begin() as tx:  # the state has ended: so has the incident
                await tx.incidents.close_open(at=self.clock.now())
        # with or without a global attack: a subnet or network failing far above its own
        # recent baseline is throttled on its own
        blocked = {(o.kind, o.value) for o in detection.blocks}
        for order in source_orders(window, self.policy):
            if (order.kind, order.value) not in blocked:
                await self.apply(order)
        return detection


def source_orders(window: Window, p: DefensePolicy) -> list[BlockOrder]:
    """Relative-rate rules for the window's subnets and networks (failures per bucket against
    each source's own hourly baseline)."""
    orders: list[BlockOrder] = []
    for s in window.sources:
        if s.kind not in ("subnet", "network"):
            continue
        order = relative_rule(
            p,
            kind="cidr" if s.kind == "subnet" else "network",
            value=s.value,
            failures_now=s.failures,
            baseline_per_bucket=s.baseline,
            min_failures=p.subnet_min_failures if s.kind == "subnet" else p.network_min_failures,
        )
        if order is not None:
            orders.append(order)
    return orders


_SYSTEM = ClientContext(ip="", user_agent="mamori-defense")


def retry_after(until: float, now: datetime) -> int:
    return max(1, math.ceil(until - now.timestamp()))
