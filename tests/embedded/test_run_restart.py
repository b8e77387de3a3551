"""`wirewatch run` stopped mid-stream (SIGTERM, SIGKILL) and started again: nothing lost,
nothing emitted twice, and the database opens and continues."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from wirewatch.bus.memory import MemoryBus
from wirewatch.core.sqlite import Database
from wirewatch.embedded.demo_site import WebhookReceiver
from wirewatch.sinks.sqlite import SqliteStore

from .feeds import FIXTURES, GrowingFeed, start_sites

TOTAL = 240
URGENT = [f"urgent:feed:s-{i}" for i in range(0, TOTAL, 10)]


def write_config(folder: Path, base: str) -> list[str]:
    sources = {
        "sources": [{"id": "feed", "kind": "rss", "url": f"{base}/feed.xml", "interval": "0.2s"}],
        "fetch": {"min_host_delay": "0s"},
    }
    (folder / "sources.yaml").write_text(yaml.safe_dump(sources))
    hooks = {"destinations": {"hook": {"url": f"{base}/hook", "timeout": "2s", "retries": 2, "backoff": "0.1s"}}}
    (folder / "destinations.yaml").write_text(yaml.safe_dump(hooks))
    return [
        "run", "--config", str(folder / "sources.yaml"), "--rules", str(FIXTURES / "restart_rules.yaml"),
        "--destinations", str(folder / "destinations.yaml"), "--web", "off", "--ner", "off",
    ]


async def wait_for(predicate: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def grow(feed: GrowingFeed, upto: int) -> None:
    """Five more stories every 100 ms: the pipeline is always busy with something."""
    while feed.visible < upto:
        feed.visible += 5
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
async def test_restart_mid_stream_loses_nothing_and_emits_nothing_twice(
    tmp_path: Path, wirewatch_env: dict[str, str], wirewatch_bin: str, sig: signal.Signals
) -> None:
    feed, receiver = GrowingFeed(visible=20, total=TOTAL), WebhookReceiver()
    http, base = await start_sites(feed, receiver)
    args = write_config(tmp_path, base)
    data = Path(wirewatch_env["WIREWATCH_DATA_DIR"])
    store = SqliteStore(data)
    growing: asyncio.Task[None] | None = None
    try:
        first = await asyncio.create_subprocess_exec(
            wirewatch_bin, *args, env=wirewatch_env, stderr=asyncio.subprocess.PIPE
        )
        await wait_for(lambda: (data / "wirewatch.db").exists() and store.count_sync() >= 20, what="first items")
        growing = asyncio.create_task(grow(feed, TOTAL))  # from now on the feed grows under the pipeline
        await wait_for(lambda: store.count_sync() >= 60, what="60 items")
        first.send_signal(sig)
        _, stderr = await asyncio.wait_for(first.communicate(), 40)
        if sig == signal.SIGTERM:
            assert first.returncode == 0, stderr.decode()
            assert b"Traceback" not in stderr
        else:
            assert first.returncode == -signal.SIGKILL
        stopped_at = store.count_sync()
        assert stopped_at < TOTAL  # it really was stopped mid-stream

        second = await asyncio.create_subprocess_exec(
            wirewatch_bin, *args, env=wirewatch_env, stderr=asyncio.subprocess.PIPE
        )
        await growing
        await wait_for(lambda: store.count_sync() == TOTAL and len(receiver.deliveries) >= len(URGENT),
                       what="every item stored and every alert delivered")
        await asyncio.sleep(1.0)  # a few more polls: nothing new may appear
        second.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(second.communicate(), 40)
        assert second.returncode == 0, stderr.decode()
    finally:
        if growing is not None:
            growing.cancel()
        await store.close()
        await http.cleanup()

    # Every alert delivered, once per idempotency key. After SIGTERM also once in total; after
    # SIGKILL a webhook the receiver got but whose answer the dead process never recorded is sent
    # again with the same Idempotency-Key (at most one per parallel delivery slot): the receiver's
    # dedupe key, as the notifier's contract says.
    keys = [d["headers"]["Idempotency-Key"] for d in receiver.deliveries]
    assert sorted(set(keys)) == sorted(URGENT)
    if sig == signal.SIGTERM:
        assert len(keys) == len(URGENT)
    else:
        assert len(keys) - len(URGENT) <= 4  # destination concurrency (DestinationConfig default)

    db = Database.in_dir(data)
    try:
        bus = MemoryBus(conn=db.conn)
        # Each story was published, processed and alerted exactly once (offsets are never reused).
        assert sum(bus.end_offsets("wirewatch.raw")) == TOTAL
        assert sum(bus.end_offsets("wirewatch.processed")) == TOTAL
        assert sum(bus.end_offsets("wirewatch.alerts")) == len(URGENT)
        assert bus.messages("wirewatch.dead-letter") == []
        # each delivery recorded once; the indexer stored the records (the topic is trimmed after)
        assert sum(bus.end_offsets("wirewatch.notifier-delivered")) == len(URGENT)
        reopened = SqliteStore(db=db)
        assert sorted((a["id"], [(d["destination"], d["outcome"]) for d in a["deliveries"]])
                      for a in reopened.alert_history(limit=1000)) == sorted(
            (key, [("hook", "delivered")]) for key in URGENT
        )
        assert await reopened.count() == TOTAL
        verdicts = {h.document["dedupe"]["status"] for h in await reopened.search("story", limit=TOTAL)}
        assert verdicts == {"new"}  # a re-processed item would have come back as a duplicate
        assert db.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()
