"""Source health: gaps, staleness, failures and recovery, persistence, gauges, and the poller feeding it."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY

from wirewatch.pollers.config import Source
from wirewatch.pollers.health import QUIET_RATIO, RECENT_ITEMS, SourceHealth, item_times
from wirewatch.pollers.http import Fetcher

from .helpers import Site, fast_policy, fixture_bytes, make_poller

T0 = 1_780_000_000.0  # 2026-05-28T20:26:40Z, an arbitrary fixed moment


def source(source_id: str = "wire", interval: float = 60.0) -> Source:
    return Source(id=source_id, name=f"{source_id.title()} Desk", kind="rss",
                  url=f"https://{source_id}.example/feed.xml", interval=timedelta(seconds=interval))


def rfc(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_usual_gap_is_the_median_gap_and_staleness_counts_gaps_since_the_newest_item() -> None:
    health = SourceHealth([source(interval=60)], export=False)
    # gaps 600, 600, 600 and one long night of 30,000 s: the median ignores the night
    times = {"a": T0, "b": T0 + 600, "c": T0 + 1200, "d": T0 + 31_200, "e": T0 + 31_800}
    health.succeeded("wire", at=T0 + 31_800, item_times=times, new_items=5)

    status = health.status("wire", now=T0 + 31_800 + 1500)
    assert status.usual_gap == 600.0
    assert status.last_new_item_at == T0 + 31_800
    assert status.staleness == 2.5
    assert status.items_seen == 5
    assert not status.quiet
    later = health.status("wire", now=T0 + 31_800 + 600 * QUIET_RATIO)
    assert later.staleness == 3.0
    assert later.quiet


def test_the_usual_gap_is_never_below_the_poll_interval() -> None:
    """Items every 10 s on a source polled every 5 min: new items are seen at most every 5 min."""
    health = SourceHealth([source(interval=300)], export=False)
    health.succeeded("wire", at=T0 + 40, item_times={f"i{n}": T0 + 10 * n for n in range(5)})
    status = health.status("wire", now=T0 + 640)
    assert status.usual_gap == 300.0
    assert status.staleness == 2.0


def test_staleness_is_unknown_until_two_gaps_are_known() -> None:
    health = SourceHealth([source()], export=False)
    assert health.status("wire", now=T0).staleness is None
    health.succeeded("wire", at=T0, item_times={"a": T0 - 900, "b": T0 - 300})
    status = health.status("wire", now=T0 + 10_000)
    assert (status.usual_gap, status.staleness, status.last_new_item_at) == (None, None, T0 - 300)
    # the same item seen again on the next poll adds no gap; a third distinct time does
    health.succeeded("wire", at=T0 + 60, item_times={"b": T0 - 300})
    assert health.status("wire", now=T0 + 60).usual_gap is None
    health.succeeded("wire", at=T0 + 120, item_times={"c": T0 + 100})
    assert health.status("wire", now=T0 + 1100).usual_gap == 500.0
    assert health.status("wire", now=T0 + 1100).staleness == 2.0


def test_only_the_most_recent_items_set_the_rhythm() -> None:
    health = SourceHealth([source(interval=1)], export=False)
    # 30 items: the first 20 an hour apart, then 10 a minute apart
    times = {f"old{n}": T0 + 3600 * n for n in range(20)}
    last_old = T0 + 3600 * 19
    times.update({f"new{n}": last_old + 60 * (n + 1) for n in range(10)})
    health.succeeded("wire", at=last_old + 600, item_times=times)
    status = health.status("wire", now=last_old + 600)
    # kept: 10 new + 11 old -> 20 gaps: 10 of 3600 s, 10 of 60 s -> median (60 + 3600) / 2
    assert RECENT_ITEMS == 21
    assert status.usual_gap == 1830.0
    assert status.last_new_item_at == last_old + 600


def test_failures_count_up_and_a_success_resets_them_keeping_the_last_error() -> None:
    health = SourceHealth([source()], export=False)
    health.succeeded("wire", at=T0)
    health.failed("wire", at=T0 + 60, error="connect: [Errno 111]\n  Connection refused")
    health.failed("wire", at=T0 + 180, error="timeout: ReadTimeout")
    failing = health.status("wire", now=T0 + 200)
    assert failing.consecutive_failures == 2
    assert failing.failing
    assert failing.last_error == "timeout: ReadTimeout"
    assert (failing.last_poll_at, failing.last_success_at, failing.last_error_at) == (T0 + 180, T0, T0 + 180)

    health.not_modified("wire", at=T0 + 300)  # a 304 is an answer: the source is back
    recovered = health.status("wire", now=T0 + 300)
    assert (recovered.consecutive_failures, recovered.failing) == (0, False)
    assert (recovered.last_poll_at, recovered.last_success_at) == (T0 + 300, T0 + 300)
    assert (recovered.last_error, recovered.last_error_at) == ("timeout: ReadTimeout", T0 + 180)


def test_an_error_is_kept_as_one_short_line() -> None:
    health = SourceHealth([source()], export=False)
    health.failed("wire", at=T0, error="parse:\n" + "x " * 400)
    error = health.status("wire", now=T0).last_error
    assert error is not None and "\n" not in error and len(error) == 300 and error.endswith("…")


def test_item_times_take_the_source_date_and_count_undated_items_when_first_emitted() -> None:
    polled = T0
    fetched = rfc(T0 - 2)
    items: list[dict[str, Any]] = [
        {"id": "dated", "published_at": rfc(T0 - 3600), "fetched_at": fetched},
        {"id": "future", "published_at": rfc(T0 + 7200), "fetched_at": fetched},  # clamped to the poll
        {"id": "undated-new", "published_at": fetched, "fetched_at": fetched},
        {"id": "undated-old", "published_at": fetched, "fetched_at": fetched},
        {"id": "undated-edit", "published_at": fetched, "fetched_at": fetched},
    ]
    emitted = [{"id": "undated-new", "revision": 1}, {"id": "undated-edit", "revision": 2}]
    assert item_times(items, emitted, polled) == {"dated": T0 - 3600, "future": T0, "undated-new": T0}


def test_health_survives_a_restart_through_its_store() -> None:
    store: dict[str, Any] = {}
    first = SourceHealth([source()], store=store, export=False)
    first.succeeded("wire", at=T0, item_times={"a": T0 - 1200, "b": T0 - 600, "c": T0}, new_items=3)
    first.failed("wire", at=T0 + 60, error="http_status: HTTP 503")

    again = SourceHealth([source()], store=store, export=False)
    assert again.status("wire", now=T0 + 1200) == first.status("wire", now=T0 + 1200)
    status = again.status("wire", now=T0 + 1200)
    assert (status.consecutive_failures, status.items_seen, status.usual_gap, status.staleness) == (1, 3, 600.0, 2.0)


def test_an_unreadable_stored_record_starts_the_source_afresh() -> None:
    store: dict[str, Any] = {"wire": {"v": 1, "recent": "not a mapping"}, "other": "garbage"}
    health = SourceHealth([source(), source("other")], store=store, export=False)
    assert [(s.source_id, s.last_poll_at, s.items_seen) for s in health.snapshot(now=T0)] == [
        ("wire", None, 0), ("other", None, 0)]


def test_snapshot_lists_sources_in_config_order_with_their_names() -> None:
    health = SourceHealth([source("zeta", 60), source("alpha", 120)], export=False)
    health.failed("alpha", at=T0, error="timeout: ConnectTimeout")
    snap = health.snapshot(now=T0)
    assert [(s.source_id, s.name, s.url, s.interval, s.consecutive_failures) for s in snap] == [
        ("zeta", "Zeta Desk", "https://zeta.example/feed.xml", 60.0, 0),
        ("alpha", "Alpha Desk", "https://alpha.example/feed.xml", 120.0, 1),
    ]


def test_gauges_carry_the_exact_names_and_staleness_is_computed_when_scraped() -> None:
    now = [T0]
    health = SourceHealth([source("gauged", 60)], clock=lambda: now[0])
    health.succeeded("gauged", at=T0, item_times={"a": T0 - 1200, "b": T0 - 600, "c": T0 - 300})
    health.failed("gauged", at=T0 + 60, error="timeout: ReadTimeout")

    def sample(name: str) -> float | None:
        return REGISTRY.get_sample_value(name, {"source": "gauged"})

    assert sample("wirewatch_poller_last_success_timestamp_seconds") == T0
    assert sample("wirewatch_poller_last_item_timestamp_seconds") == T0 - 300
    assert sample("wirewatch_poller_consecutive_failures") == 1.0
    assert sample("wirewatch_poller_staleness_ratio") == 300 / 450
    now[0] = T0 + 1500  # no poll since: the ratio still grows
    assert sample("wirewatch_poller_staleness_ratio") == 1800 / 450

    health.forget(["gauged"])
    assert sample("wirewatch_poller_consecutive_failures") is None
    assert health.snapshot() == []


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_the_poller_reports_each_outcome(site: Site, tmp_path: Path) -> None:
    site.serve("/wire.xml", fixture_bytes("rss_v1.xml"), headers={"Content-Type": "application/rss+xml"},
               etag='"v1"')
    sources = [Source(id="wire", kind="rss", url=site.url("/wire.xml")),
               Source(id="down", kind="rss", url=f"http://127.0.0.1:{closed_port()}/feed.xml")]
    health = SourceHealth(sources, export=False)
    async with Fetcher(fast_policy()) as fetcher:
        poller, _ = make_poller(tmp_path, fetcher)
        poller.health = health
        first = await poller.poll_once(sources)
        second = await poller.poll_once(sources)
    assert [r.outcome for r in first + second] == ["ok", "network", "not_modified", "network"]
    wire, down = health.snapshot()
    assert (wire.consecutive_failures, wire.items_seen, wire.last_error) == (0, 3, None)
    # rss_v1.xml: items at 07:30, 08:00 and 09:15 UTC on 2026-03-03 -> gaps 30 and 75 min
    assert wire.last_new_item_at == datetime(2026, 3, 3, 9, 15, tzinfo=UTC).timestamp()
    assert wire.usual_gap == 52.5 * 60
    assert wire.last_success_at is not None and wire.last_success_at == wire.last_poll_at
    assert down.consecutive_failures == 2
    assert down.last_success_at is None
    assert down.last_error == "network: ConnectError: All connection attempts failed"


def test_health_kept_in_the_data_file_survives_reopening_it(tmp_path: Path) -> None:
    """What `wirewatch run` does: the data folder's SQLite file, namespace ``source-health``."""
    from wirewatch.core.sqlite import Database, SqliteKV

    db = Database.in_dir(tmp_path)
    first = SourceHealth([source()], store=SqliteKV(db, "source-health"), export=False)
    first.succeeded("wire", at=T0, item_times={"a": T0 - 1200, "b": T0 - 600, "c": T0}, new_items=3)
    first.failed("wire", at=T0 + 60, error="http_status: HTTP 503")
    db.close()

    db = Database.in_dir(tmp_path)
    try:
        again = SourceHealth([source()], store=SqliteKV(db, "source-health"), export=False)
        assert again.status("wire", now=T0 + 600) == first.status("wire", now=T0 + 600)
    finally:
        db.close()
