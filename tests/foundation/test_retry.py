"""One back-off formula for every retry: exponential, full jitter, capped; ``Retry-After`` read one way."""

from __future__ import annotations

import random

from wirewatch.core.retry import Backoff, parse_retry_after


def test_backoff_is_full_jitter_under_a_doubling_ceiling_and_the_cap() -> None:
    backoff = Backoff(base=1.0, cap=60.0)  # destinations.yaml: backoff: 1s, max_backoff: 60s
    rng = random.Random(7)
    for attempt, ceiling in [(0, 1.0), (1, 2.0), (2, 4.0), (5, 32.0), (6, 60.0), (40, 60.0)]:
        delays = [backoff.delay(attempt, rng) for _ in range(500)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert min(delays) < ceiling * 0.1 and max(delays) > ceiling * 0.9  # the whole range is used


def test_backoff_floor_keeps_retries_apart_by_at_least_the_floor() -> None:
    failing_source = Backoff(base=300.0, cap=3600.0, floor=300.0)  # poll interval 5 min
    rng = random.Random(7)
    assert failing_source.delay(0, rng) == 300.0
    assert all(300.0 <= failing_source.delay(3, rng) <= 2400.0 for _ in range(200))
    assert all(300.0 <= failing_source.delay(10, rng) <= 3600.0 for _ in range(200))


def test_retry_after_forms() -> None:
    assert parse_retry_after("30", cap=60.0) == 30.0
    assert parse_retry_after("1.5", cap=60.0) == 1.5
    assert parse_retry_after("3600", cap=60.0) == 60.0  # a server's wish is capped
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", cap=3600.0, now=1445412480 - 90) == 90.0
    assert parse_retry_after("soon", cap=60.0) is None
    assert parse_retry_after(None, cap=60.0) is None


def test_equal_jitter_keeps_each_wait_in_the_upper_half_under_the_cap() -> None:
    reconnect = Backoff(base=2.0, cap=30.0, jitter=0.5)  # core/reach.py: reaching Kafka or Elasticsearch
    rng = random.Random(7)
    for attempt, ceiling in [(0, 2.0), (1, 4.0), (2, 8.0), (3, 16.0), (4, 30.0), (50, 30.0)]:
        delays = [reconnect.delay(attempt, rng) for _ in range(500)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert min(delays) < ceiling * 0.55 and max(delays) > ceiling * 0.95
