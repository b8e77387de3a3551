"""Flow control shared by the sinks: back-off with jitter, rate limiting, stoppable consumption.

The indexer (Elasticsearch unavailable) and the notifier (webhook retries,
``rate_limit``) back off the same way and stop the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from wirewatch.bus.base import Message, Subscriber


@dataclass(frozen=True)
class Backoff:
    """Delay before retry ``attempt`` (0-based): uniform in [0, min(cap, base * 2**attempt)].

    Full jitter spreads retries of many clients apart (AWS architecture blog,
    "Exponential Backoff And Jitter").
    """

    base: float = 0.5
    cap: float = 30.0

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.cap, self.base * (2 ** min(attempt, 30))))

    async def sleep(self, attempt: int, at_least: float = 0.0) -> None:
        await asyncio.sleep(max(at_least, self.delay(attempt)))


class RateLimiter:
    """At most ``count`` acquisitions per ``period`` seconds, bursts up to ``count``."""

    def __init__(self, count: int, period: float) -> None:
        if count < 1 or period <= 0:
            raise ValueError("rate limit needs count >= 1 and a positive period")
        self.capacity = float(count)
        self.rate = count / period
        self._tokens = float(count)
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.rate)


async def batches_until(
    subscriber: Subscriber, stop: asyncio.Event, max_records: int = 500
) -> AsyncIterator[list[Message]]:
    """The subscriber's batches, ending promptly once ``stop`` is set."""
    batches = subscriber.batches(max_records=max_records).__aiter__()
    stopped = asyncio.ensure_future(stop.wait())
    try:
        while not stop.is_set():
            next_batch = asyncio.ensure_future(batches.__anext__())
            await asyncio.wait({next_batch, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not next_batch.done():
                next_batch.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await next_batch
                return
            try:
                batch = next_batch.result()
            except StopAsyncIteration:
                return
            yield batch
    finally:
        stopped.cancel()
