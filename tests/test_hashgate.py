"""The hash gate: bounded concurrency, shedding, priority, cancellation, and a waiting line that
its threads take from without the event loop."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

from mamori import metrics
from mamori.errors import Overloaded
from mamori.flows.hashgate import HashGate


def blocker() -> tuple[threading.Event, threading.Event]:
    """(started, release): a job that says it started, then waits to be released."""
    return threading.Event(), threading.Event()


async def wait_for(predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not predicate():  # noqa: ASYNC110 — it is set from another thread
            await asyncio.sleep(0.005)


async def test_runs_sheds_when_full_and_passes_exceptions_on() -> None:
    gate = HashGate(slots=1, queue=1)
    started, release = blocker()

    def hold() -> str:
        started.set()
        release.wait(5)
        return "held"

    first = asyncio.create_task(gate.run(hold, priority=False))
    await wait_for(started.is_set)
    second = asyncio.create_task(gate.run(lambda: "second", priority=False))
    await wait_for(lambda: gate.waiting == 1)
    assert gate.active == 1
    with pytest.raises(Overloaded):
        await gate.run(lambda: "third", priority=True)
    assert gate.shed == 1
    release.set()
    assert await first == "held"
    assert await second == "second"

    def fail() -> None:
        raise ValueError("bad hash")

    with pytest.raises(ValueError, match="bad hash"):
        await gate.run(fail, priority=False)
    assert gate.active == 0 and gate.waiting == 0


async def test_recognized_devices_first_and_cancelled_callers_skipped() -> None:
    gate = HashGate(slots=1, queue=10)
    started, release = blocker()
    order: list[str] = []

    def hold() -> None:
        started.set()
        release.wait(5)

    def job(name: str) -> Callable[[], None]:
        return lambda: order.append(name)

    running = asyncio.create_task(gate.run(hold, priority=False))
    await wait_for(started.is_set)
    low_a = asyncio.create_task(gate.run(job("low a"), priority=False))
    gone = asyncio.create_task(gate.run(job("gone"), priority=False))
    low_b = asyncio.create_task(gate.run(job("low b"), priority=False))
    high = asyncio.create_task(gate.run(job("high"), priority=True))
    await wait_for(lambda: gate.waiting == 4)
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    release.set()
    await asyncio.gather(running, low_a, low_b, high)
    assert order == ["high", "low a", "low b"]  # the cancelled one never ran


async def test_a_thread_takes_the_next_hash_without_the_event_loop() -> None:
    """Two hashes queued behind one slot both finish while the loop is blocked: the second
    starts the moment the first ends, not when the loop next runs."""
    gate = HashGate(slots=1, queue=4)
    done: list[float] = []

    def hash_like() -> None:
        time.sleep(0.05)
        done.append(time.monotonic())

    before = metrics.HASHES._value.get()
    tasks = [asyncio.create_task(gate.run(hash_like, priority=False)) for _ in range(2)]
    await asyncio.sleep(0)  # both submitted
    time.sleep(0.3)  # noqa: ASYNC251 — the event loop is kept busy meanwhile, on purpose
    assert len(done) == 2
    await asyncio.gather(*tasks)
    assert metrics.HASHES._value.get() - before == 2


async def test_quiet_waits_for_the_hashes_in_flight_at_most_so_long() -> None:
    gate = HashGate(slots=1, queue=4)
    await gate.quiet(at_most=5)  # nothing in flight: at once
    started, release = blocker()

    def hold() -> None:
        started.set()
        release.wait(5)

    running = asyncio.create_task(gate.run(hold, priority=False))
    await wait_for(started.is_set)
    assert gate.in_flight == 1
    t0 = time.monotonic()
    await gate.quiet(at_most=0.1)  # still running: gives up after at_most
    assert 0.08 <= time.monotonic() - t0 < 2
    waiter = asyncio.create_task(gate.quiet(at_most=5))
    await asyncio.sleep(0.05)
    assert not waiter.done()
    release.set()
    await running
    async with asyncio.timeout(1):
        await waiter
    assert gate.in_flight == 0
