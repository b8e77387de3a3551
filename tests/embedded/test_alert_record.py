"""The demo's news day through `wirewatch run` (a real process, embedded bus and SQLite) with a
loopback webhook receiver: the stored alert is the one the webhook got, not a later duplicate of
its story, each delivery is stored once per destination, and every count agrees.

Before: alerts were stored with ``ON CONFLICT (id) DO UPDATE SET doc``, so the grain-corridor
alert delivered for *Meridian Wire* was replaced by *The Morning Digest*'s copy, never sent."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from wirewatch.embedded.demo import Demo
from wirewatch.embedded.demo_site import serve
from wirewatch.sinks.sqlite import SqliteStore

ALERT_IDS = [
    "boj-watch:northgate-daily:urn:northgate:3002",
    "grain-corridor-uk:kyiv-visnyk:kv-5001",
    "grain-corridor:meridian-wire:mw-1001",
    "kharkiv-blast:meridian-live:post-103",
    "kharkiv-blast:meridian-live:post-103:r2",
    "port-strike:meridian-wire:mw-1002",
]


def stored_items(data: Path) -> int:
    """Items in the run's store, read on a read-only connection beside the running process."""
    path = data / "wirewatch.db"
    if not path.exists():
        return 0
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM items").fetchone()[0])
    except sqlite3.OperationalError:  # no table yet
        return 0
    finally:
        conn.close()



async def test_run_stores_the_alert_it_delivered_and_counts_agree(
    tmp_path: Path, wirewatch_bin: str, wirewatch_env: dict[str, str], until: Callable[..., Awaitable[None]],
) -> None:
    demo = Demo(tmp_path / "unused", web=None, interval=0.3)
    app = web.Application()
    demo.site.routes(app)
    demo.receiver.routes(app)
    http, base = await serve(app)
    demo.site.base_url = base
    config = demo.write_config(tmp_path / "config", base)
    data = tmp_path / "data"
    stderr = tmp_path / "run.log"
    with stderr.open("w") as log:
        process = subprocess.Popen(
            [wirewatch_bin, "run", "--config", str(config / "sources.yaml"), "--rules", str(config / "rules.yaml"),
             "--destinations", str(config / "destinations.yaml"), "--watchlist", str(config / "watchlist.yaml"),
             "--ner", "off", "--web", "off", "--data-dir", str(data)],
            env=wirewatch_env, stdout=subprocess.DEVNULL, stderr=log, text=True,
        )
    try:
        # stage 0: Meridian Wire breaks the grain-corridor story; it alerts
        await until(lambda: stored_items(data) == 4 and len(demo.receiver.deliveries) == 2, "stage 0", process)
        demo.advance()  # stage 1: Harbour Post's rewrite folds into it and matches the same rule
        await until(lambda: stored_items(data) == 9 and len(demo.receiver.deliveries) == 5, "stage 1", process)
        demo.advance()  # stage 2: The Morning Digest's copy, the same rule again
        await until(lambda: stored_items(data) == 11 and len(demo.receiver.deliveries) == 6, "stage 2", process)
        await asyncio.sleep(1.0)  # time for anything more to arrive (nothing should)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        await http.cleanup()
    assert process.returncode == 0, stderr.read_text()

    bodies = {body["id"]: body for body in demo.receiver.alerts()}
    assert sorted(bodies) == ALERT_IDS and len(demo.receiver.deliveries) == len(ALERT_IDS)
    assert bodies["grain-corridor:meridian-wire:mw-1001"]["source"]["name"] == "Meridian Wire"

    store = SqliteStore(data)
    try:
        # the stored alert is exactly the body the webhook got
        assert {a["id"]: a for _seq, a in store.alerts_after(0, limit=100)} == bodies
        history = store.alert_history(limit=100)
        assert {a["id"]: {k: v for k, v in a.items() if k != "deliveries"} for a in history} == bodies
        grain = next(a for a in history if a["id"] == "grain-corridor:meridian-wire:mw-1001")
        assert (grain["item_id"], grain["source"]["name"]) == ("meridian-wire:mw-1001", "Meridian Wire")
        # one delivery record per destination, delivered
        assert {a["id"]: [(d["destination"], d["outcome"], d["attempts"]) for d in a["deliveries"]]
                for a in history} == {i: [("demo-webhook", "delivered", 1)] for i in ALERT_IDS}
        # counts agree: stored alerts = the page's count = webhooks received = delivered records
        assert store.alert_total() == len(ALERT_IDS)
        assert store.delivery_counts() == {"delivered": len(demo.receiver.deliveries)}
    finally:
        await store.close()

    # one `alert delivered` line per webhook, naming destination, rule, alert and title
    lines = [json.loads(line) for line in stderr.read_text().splitlines() if line.startswith("{")]
    delivered: list[dict[str, Any]] = [line for line in lines if line.get("event") == "alert delivered"]
    assert sorted((d["destination"], d["rule"], d["alert"], d["title"]) for d in delivered) == sorted(
        ("demo-webhook", b["rule"], b["id"], b["title"]) for b in bodies.values()
    )
