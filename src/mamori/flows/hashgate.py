"""Bounded concurrency for password hashing, with load shedding and priority.

At most `slots` hashes run at once (one per core by default); up to `queue` more wait. When the
queue is full the request is shed with Overloaded (503 + Retry-After) instead of piling up until
the service collapses. Waiters from recognized devices are served before the others.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from mamori import metrics
from mamori.errors import Overloaded

T = TypeVar("T")


def _timed(fn: Callable[[], T]) -> Callable[[], T]:
    """`fn`, counting its thread's CPU time in the metrics."""

    def run() -> T:
        start = time.thread_time()
        try:
            return fn()
        finally:
            metrics.count_hash(time.thread_time() - start)

    return run


class HashGate:
    def __init__(self, *, slots: int = 0, queue: int = 64) -> None:
        self.slots = slots or (os.cpu_count() or 1)
        self.queue = queue
        self.active = 0
        self.shed = 0
        self._high: deque[asyncio.Future[None]] = deque()
        self._low: deque[asyncio.Future[None]] = deque()
        # its own threads, one per slot: a plain executor hand-off costs less than anyio's
        # worker-thread machinery, and hashes never wait behind other blocking work
        self._threads = ThreadPoolExecutor(max_workers=self.slots, thread_name_prefix="mamori-hash")

    @property
    def waiting(self) -> int:
        return len(self._high) + len(self._low)

    async def run(self, fn: Callable[[], T], *, priority: bool) -> T:
        await self._acquire(priority)
        try:
            return await asyncio.get_running_loop().run_in_executor(self._threads, _timed(fn))
        finally:
            self._release()

    async def _acquire(self, priority: bool) -> None:
        if self.active < self.slots and not self.waiting:
            self.active += 1
            return
        if self.waiting >= self.queue:
            self.shed += 1
            raise Overloaded("too many logins at once; try again shortly", retry_after=1)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        (self._high if priority else self._low).append(future)
        try:
            await future  # the releaser hands its slot over (active is not decremented)
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._release()  # we were handed a slot but are going away: pass it on
            else:
                (self._high if priority else self._low).remove(future)
            raise

    def _release(self) -> None:
        for waiters in (self._high, self._low):
            while waiters:
                future = waiters.popleft()
                if not future.done():
                    future.set_result(None)
                    return
        self.active -= 1
