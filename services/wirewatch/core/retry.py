"""Waiting before a retry: the one back-off formula, a rate limiter, ``Retry-After``.

Pollers, the bus adapter and the sinks all retry; they share these so a
delay is computed one way everywhere (and ``destinations.yaml``'s
``backoff``/``max_backoff`` mean the same as every other back-off).
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from dataclasses import dataclass
from datetime import UTC


@dataclass(frozen=True)
class Backoff:
    """Delay before retry ``attempt`` (0-based): uniform under the ceiling ``min(cap, base * 2**attempt)``.

    Full jitter (``jitter=1``, the default: uniform in [floor, max(floor, ceiling)])
    spreads retries of many clients apart (AWS architecture blog, "Exponential
    Backoff And Jitter"). ``floor`` (default 0) is for callers that must never
    retry sooner than a minimum, such as a failing source that is polled no
    more often than its interval. ``jitter=0.5`` ("equal jitter": uniform in
    [ceiling/2, ceiling]) keeps the doubling visible, for a retry a person
    watches: reconnecting to Kafka or Elasticsearch (:mod:`wirewatch.core.reach`).
    """

    base: float = 0.5
    cap: float = 30.0
    floor: float = 0.0
    jitter: float = 1.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        ceiling = max(self.floor, min(self.cap, self.base * (2 ** min(max(attempt, 0), 30))))
        low = max(self.floor, ceiling * (1.0 - self.jitter))
        return (rng or random).uniform(low, ceiling)

    async def sleep(self, attempt: int, at_least: float = 0.0) -> None:
        await asyncio.sleep(max(at_least, self.delay(attempt)))


class RateLimiter:
    """At most ``count`` acquisitions per ``period`` seconds, bursts up to ``count`` (token bucket)."""

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


def parse_retry_after(value: str | None, cap: float, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (seconds or HTTP-date), at most ``cap``; ``None`` if unreadable.

    A server's wish is capped: a broken header must not park a client for days.
    """
    if not value:
        return None
    value = value.strip()
    try:
        return min(cap, max(0.0, float(value)))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = time.time() if now is None else now
    return min(cap, max(0.0, when.timestamp() - now))
