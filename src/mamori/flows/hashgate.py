"""Bounded concurrency for password hashing, with load shedding and priority.

At most `slots` hashes run at once (one per core by default), each on a hashing thread of this
gate; up to `queue` more wait. When the queue is full the request is shed with Overloaded
(503 + Retry-After) instead of piling up until the service collapses. Waiting hashes from
recognized devices are run before the others.

The waiting line lives with the threads: a thread that finishes a hash takes the next one at once,
without a round trip through the event loop. (When the loop handed the slot over, the hashing
thread idled while the loop first finished the login whose hash had just ended, a few
milliseconds of every login's thirty: measured as idle CPU in bench/login_throughput.py.)
A hash whose caller went away before it started is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from mamori import metrics
from mamori.errors import Overloaded

T = TypeVar("T")

_Job = tuple[Callable[[], Any], "Future[Any]"]


class HashGate:
    def __init__(self, *, slots: int = 0, queue: int = 64) -> None:
        self.slots = slots or (os.cpu_count() or 1)
        self.queue = queue
        self.shed = 0
        self._running = 0
        self._high: deque[_Job] = deque()
        self._low: deque[_Job] = deque()
        self._ready = threading.Condition(threading.Lock())
        self._threads: list[threading.Thread] = []  # started on first use, one per slot
        # on the event loop: hashes asked for and not answered yet, and who waits for none
        self._in_flight = 0
        self._quiet: asyncio.Event | None = None

    @property
    def active(self) -> int:
        """Hashes running now."""
        return self._running

    @property
    def waiting(self) -> int:
        """Hashes waiting for a thread."""
        return len(self._high) + len(self._low)

    async def run(self, fn: Callable[[], T], *, priority: bool) -> T:
        """Run `fn` on a hashing thread and return its result (Overloaded when the line is
        full). `priority`: the request comes from a recognized device."""
        job: Future[T] = Future()
        with self._ready:
            if self._running + self.waiting >= self.slots + self.queue:
                self.shed += 1
                raise Overloaded("too many logins at once; try again shortly", retry_after=1)
            (self._high if priority else self._low).append((fn, job))
            if len(self._threads) < self.slots:
                self._start_thread()
            self._ready.notify()
        self._in_flight += 1
        try:
            # if the caller is cancelled, so is the job (skipped unless it has started)
            return await asyncio.wrap_future(job)
        finally:
            self._in_flight -= 1
            if not self._in_flight and self._quiet is not None:
                self._quiet.set()

    @property
    def in_flight(self) -> int:
        """Hashes this event loop asked for that have not been answered yet."""
        return self._in_flight

    async def quiet(self, *, at_most: float) -> None:
        """Wait until no hash asked for on this event loop is running or waiting, or for
        `at_most` seconds: for work that should yield its CPU to password checks (the ban
        gate's answers to banned sources)."""
        if not self._in_flight:
            return
        if self._quiet is None:
            self._quiet = asyncio.Event()
        self._quiet.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(at_most):
                await self._quiet.wait()

    def _start_thread(self) -> None:
        thread = threading.Thread(
            target=self._work, name=f"mamori-hash-{len(self._threads)}", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def _work(self) -> None:
        while True:
            with self._ready:
                while not (self._high or self._low):
                    self._ready.wait()
                fn, job = (self._high or self._low).popleft()
                if not job.set_running_or_notify_cancel():
                    continue  # its caller went away before it started
                self._running += 1
            start = time.thread_time()
            try:
                result = fn()
            except BaseException as exc:  # handed to the caller, like an executor would
                job.set_exception(exc)
            else:
                job.set_result(result)
            finally:
                metrics.count_hash(time.thread_time() - start)
                with self._ready:
                    self._running -= 1
