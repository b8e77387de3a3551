"""The demo's news day through a `wirewatch run` process whose destination is email: every alert
reaches a real SMTP server process once, as a mail keyed by its alert id, and is recorded delivered;
a second, unreachable relay in the same file costs its own retries and dead letters only."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

import yaml
from aiohttp import web

from wirewatch.embedded.demo import Demo
from wirewatch.embedded.demo_site import serve
from wirewatch.sinks.sqlite import SqliteStore

from .mailbox import message_id, parsed, smtp_server

ALERT_IDS = [
    "boj-watch:northgate-daily:urn:northgate:3002",
    "grain-corridor-uk:kyiv-visnyk:kv-5001",
    "grain-corridor:meridian-wire:mw-1001",
    "kharkiv-blast:meridian-live:post-103",
    "kharkiv-blast:meridian-live:post-103:r2",
    "port-strike:meridian-wire:mw-1002",
]



async def test_run_mails_each_alert_once_and_an_unreachable_relay_stops_nothing(
    tmp_path: Path, wirewatch_bin: str, wirewatch_env: dict[str, str], until: Callable[..., Awaitable[None]],
) -> None:
    demo = Demo(tmp_path / "unused", web=None, interval=0.3)
    app = web.Application()
    demo.site.routes(app)
    http, base = await serve(app)
    demo.site.base_url = base
    config = demo.write_config(tmp_path / "config", base)
    rules = yaml.safe_load((config / "rules.yaml").read_text("utf-8"))
    for rule in rules["rules"]:  # every rule notifies the desk's mail and a relay that is down
        rule["notify"] = ["desk-mail", "dead-mail"]
    (config / "rules.yaml").write_text(yaml.safe_dump(rules, allow_unicode=True), "utf-8")
    data = tmp_path / "data"
    stderr = tmp_path / "run.log"
    async with smtp_server(tmp_path, "desk") as server:
        mail = {"format": "email", "from": "Wirewatch <alerts@example.org>", "to": ["desk@example.org"]}
        (config / "destinations.yaml").write_text(yaml.safe_dump({"destinations": {
            "desk-mail": {**mail, "smtp": {"host": "127.0.0.1", "port": server.port, "tls": "none"}},
            "dead-mail": {**mail, "smtp": {"host": "127.0.0.1", "port": 1, "tls": "none"},
                          "retries": 1, "backoff": "10ms"},
        }}))
        with stderr.open("w") as log:
            process = subprocess.Popen(
                [wirewatch_bin, "run", "--config", str(config / "sources.yaml"), "--rules", str(config / "rules.yaml"),
                 "--destinations", str(config / "destinations.yaml"), "--watchlist", str(config / "watchlist.yaml"),
                 "--ner", "off", "--web", "off", "--data-dir", str(data)],
                env=wirewatch_env, stdout=subprocess.DEVNULL, stderr=log, text=True,
            )
        try:
            await until(lambda: len(server.mails()) == 2, "stage 0", process, 90)
            demo.advance()
            await until(lambda: len(server.mails()) == 5, "stage 1", process, 90)
            demo.advance()
            await until(lambda: len(server.mails()) == 6, "stage 2", process, 90)
            await asyncio.sleep(1.5)  # time for anything more to arrive (nothing should)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
            await http.cleanup()
        mails = [parsed(m) for m in server.mails()]
    assert process.returncode == 0, stderr.read_text()

    assert sorted(m["Message-ID"] for m in mails) == sorted(message_id(i) for i in ALERT_IDS)
    update = next(m for m in mails if m["Message-ID"] == message_id("kharkiv-blast:meridian-live:post-103:r2"))
    assert update["In-Reply-To"] == message_id("kharkiv-blast:meridian-live:post-103")
    store = SqliteStore(data)
    try:
        history = store.alert_history(limit=100)
        assert {a["id"]: sorted((d["destination"], d["outcome"], d["attempts"]) for d in a["deliveries"])
                for a in history} == {i: [("dead-mail", "dead-lettered", 2), ("desk-mail", "delivered", 1)]
                                      for i in ALERT_IDS}
    finally:
        await store.close()
    lines = [json.loads(line) for line in stderr.read_text().splitlines() if line.startswith("{")]
    failed = {line["error"] for line in lines if line.get("event", "").startswith("delivery failed")}
    assert failed == {"cannot reach SMTP server 127.0.0.1:1 for destination 'dead-mail': connection refused"}
