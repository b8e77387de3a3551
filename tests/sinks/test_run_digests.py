"""Digests and mutes in `wirewatch run` (embedded bus): stopped between the alerts and the digest's
time, the next start sends the digest once; a third start sends nothing. A muted rule's alerts are
stored with ``muted`` and never sent."""

from __future__ import annotations

import asyncio
import random
import signal
import sqlite3
import time
from pathlib import Path

import yaml
from aiohttp import web

from wirewatch.core.schemas import validate
from wirewatch.embedded.demo_site import WebhookReceiver, serve
from wirewatch.sinks.sqlite import SqliteStore

PERIOD = 20  # seconds: room for `wirewatch run` to start, poll, alert and stop inside one period
URGENT = 3  # stories 0, 10 and 20 of 30 say "urgent"


def words(i: int) -> str:
    """Forty random words: distinct texts, so dedupe keeps every story its own."""
    rng = random.Random(i)
    return " ".join(f"w{rng.randrange(400)}" for _ in range(40))


def rss(base: str) -> str:
    """30 stories: every tenth is urgent; every third from the second on is calm (the muted rule's)."""
    items = "".join(
        f"<item><title>Story {i} {'urgent' if i % 10 == 0 else 'routine'}</title><link>{base}/story/{i}</link>"
        f'<guid isPermaLink="false">s-{i}</guid><pubDate>Mon, 05 Jan 2026 08:{i:02d}:00 +0000</pubDate>'
        f"<description>{'calm' if i % 3 == 1 else 'busy'} {words(i)}</description></item>"
        for i in range(30))
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Desk</title>'
            f"<link>{base}/</link><description>test</description>{items}</channel></rss>")


def write_config(folder: Path, base: str) -> list[str]:
    sources = {"sources": [{"id": "feed", "kind": "rss", "url": f"{base}/feed.xml", "interval": "0.5s"}],
               "fetch": {"min_host_delay": "0s"}}
    (folder / "sources.yaml").write_text(yaml.safe_dump(sources))
    hooks = {"destinations": {
        "hook": {"url": f"{base}/hook", "timeout": "2s", "retries": 2, "backoff": "0.1s",
                 "digest": {"every": f"{PERIOD}s"}},
        "pager": {"url": f"{base}/pager", "timeout": "2s", "retries": 2, "backoff": "0.1s"},
    }}
    (folder / "destinations.yaml").write_text(yaml.safe_dump(hooks))
    rules = {"rules": [
        {"id": "urgent", "query": "urgent AND story", "notify": ["hook"]},
        # muted all day, every day: stored and recorded, never sent to the pager (it has no digest)
        {"id": "quiet", "query": "story AND calm", "notify": ["pager"],
         "mute": {"cron": "0 0 * * *", "for": "24h"}},
    ]}
    (folder / "rules.yaml").write_text(yaml.safe_dump(rules))
    return ["run", "--config", str(folder / "sources.yaml"), "--rules", str(folder / "rules.yaml"),
            "--destinations", str(folder / "destinations.yaml"), "--web", "off", "--ner", "off"]


def digested(data: Path) -> list[str]:
    if not (data / "delivered.db").exists():
        return []
    conn = sqlite3.connect(data / "delivered.db")
    try:
        return [row[0] for row in conn.execute("SELECT key FROM delivered WHERE outcome = 'digested'")]
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


async def until(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def stop(process: asyncio.subprocess.Process) -> None:
    process.send_signal(signal.SIGTERM)
    _, stderr = await asyncio.wait_for(process.communicate(), 40)
    assert process.returncode == 0, stderr.decode()


async def test_run_digest_survives_a_restart_and_is_sent_once(
        tmp_path: Path, wirewatch_env: dict[str, str], wirewatch_bin: str) -> None:
    receiver, pager = WebhookReceiver(), WebhookReceiver(path="/pager")
    app = web.Application()
    for site in (receiver, pager):
        site.routes(app)
    base = ""

    async def feed(_request: web.Request) -> web.Response:
        return web.Response(text=rss(base), content_type="application/rss+xml")

    app.router.add_get("/feed.xml", feed)
    http, base = await serve(app)
    args = write_config(tmp_path, base)
    data = Path(wirewatch_env["WIREWATCH_DATA_DIR"])
    try:
        while not 0.2 <= time.time() % PERIOD <= 1.0:  # start at the beginning of a period
            await asyncio.sleep(0.05)
        first = await asyncio.create_subprocess_exec(wirewatch_bin, *args, env=wirewatch_env,
                                                     stderr=asyncio.subprocess.PIPE)
        await until(lambda: len(digested(data)) == URGENT, PERIOD * 0.7, "the urgent alerts held for the digest")
        await stop(first)
        assert receiver.deliveries == []  # stopped before the digest's time
        period_end = (time.time() // PERIOD + 1) * PERIOD

        await asyncio.sleep(period_end - time.time() + 1.0)  # its time passes while nothing runs
        second = await asyncio.create_subprocess_exec(wirewatch_bin, *args, env=wirewatch_env,
                                                      stderr=asyncio.subprocess.PIPE)
        await until(lambda: len(receiver.deliveries) >= 1, 30, "the missed digest")
        await asyncio.sleep(1.0)
        second.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(second.communicate(), 40)
        assert second.returncode == 0, stderr.decode()
        assert b"digest missed while the notifier was down; sending it now" in stderr

        third = await asyncio.create_subprocess_exec(wirewatch_bin, *args, env=wirewatch_env,
                                                     stderr=asyncio.subprocess.PIPE)
        await asyncio.sleep(PERIOD - time.time() % PERIOD + 1.0)  # through another digest time
        await stop(third)
    finally:
        await http.cleanup()

    assert len(receiver.deliveries) == 1
    [delivery] = receiver.deliveries
    digest = delivery["body"]
    validate("digest", digest)
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(period_end - PERIOD))
    assert delivery["headers"]["Idempotency-Key"] == digest["id"] == f"digest:hook:{start}"
    assert (digest["alerts"], digest["events_total"], digest["more"]) == (URGENT, URGENT, 0)
    assert sorted(e["event_id"] for e in digest["events"]) == ["feed:s-0", "feed:s-10", "feed:s-20"]
    assert all(e["outlets"] == ["feed"] and e["rules"] == ["urgent"] for e in digest["events"])

    conn = sqlite3.connect(data / "delivered.db")  # the sent digest's entries are dropped; it stays closed
    try:
        kept = conn.execute("SELECT key, json_extract(record, '$.outcome') FROM digest_records").fetchall()
    finally:
        conn.close()
    assert kept == [(f"hook|{digest['id']}", "delivered")]

    store = SqliteStore(data)
    try:
        alerts = store.alert_history(limit=100)
        quiet = [a for a in alerts if a["rule"] == "quiet"]
        assert len(quiet) == 10
        assert all(a["muted"]["by"] == "rule" and a["muted"]["name"] == "quiet" for a in quiet)
        assert all([(d["destination"], d["outcome"], d["muted"]) for d in a["deliveries"]] == [
            ("pager", "muted", a["muted"])] for a in quiet)
        assert pager.deliveries == []
        urgent = [a for a in alerts if a["rule"] == "urgent"]
        assert sorted((a["id"], [d["outcome"] for d in a["deliveries"]]) for a in urgent) == [
            ("urgent:feed:s-0", ["digested"]), ("urgent:feed:s-10", ["digested"]), ("urgent:feed:s-20", ["digested"])]
    finally:
        await store.close()
