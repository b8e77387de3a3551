"""The session counters behind `wirewatch run`'s status line and stop summary."""

from __future__ import annotations

import pytest

from wirewatch.embedded.runner import RATE_WINDOW, Stats
from wirewatch.processors.pipeline import ProcessResult


def result(status: str, *alert_ids: str) -> ProcessResult:
    return ProcessResult(item={"dedupe": {"status": status}}, alerts=[{"id": a} for a in alert_ids])


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_rate_is_the_last_30_seconds_not_an_average_since_the_start() -> None:
    clock = Clock()
    stats = Stats(clock=clock)
    clock.now += 3600  # an hour of quiet
    for _ in range(10):  # then 6 items a second for 10 s
        clock.now += 1
        stats.add([result("new")] * 6)
    assert RATE_WINDOW == 30.0
    assert stats.rate() == pytest.approx(60 / 30)
    clock.now += 26  # 35 s after the first of those batches: the first five have left the window
    assert stats.rate() == pytest.approx(30 / 30)
    clock.now += 10
    assert stats.rate() == 0.0  # quiet now, whatever came before
    assert stats.runtime() == pytest.approx(3600 + 10 + 26 + 10)


def test_right_after_the_start_the_rate_is_over_the_time_run_so_far() -> None:
    clock = Clock()
    stats = Stats(clock=clock)
    clock.now += 5
    stats.add([result("new")] * 50)
    assert stats.rate() == pytest.approx(50 / 5)


def test_session_counts_stories_folded_items_and_each_alert_once() -> None:
    stats = Stats(clock=Clock())
    stats.add([result("new", "r:a"), result("near_duplicate", "r:a"), result("duplicate", "r:a"),
               result("new"), result("update", "r:b", "r:b:r2")], dead=1)
    assert (stats.processed, stats.stories, stats.folded, stats.alerts, stats.dead_letters) == (5, 2, 2, 3, 1)
