"""The notifier on the real Kafka against a local webhook receiver that fails, times out and recovers."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from wirewatch.bus.kafka import ensure_topics, standard_topics
from wirewatch.core.config import Settings, load_settings
from wirewatch.core.schemas import validate
from wirewatch.sinks.destinations import load_destinations, verify_signature
from wirewatch.sinks.notifier import run_notifier

from .helpers import FIXTURES, Running, committed_lag, produce, read_topic, wait_for

pytestmark = pytest.mark.kafka

SECRET = "s3cret-for-tests"


class Receiver:
    """Webhook endpoints: /desk fails once, times out once, then accepts; /archive always 503; /chat accepts."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.accepted: Counter[tuple[str, str]] = Counter()
        self._seen: Counter[str] = Counter()

    async def handle(self, request: web.Request) -> web.Response:
        path = request.path.strip("/")
        key = request.headers.get("Idempotency-Key", "")
        body = await request.read()
        self.requests.append((path, key, dict(request.headers), body))
        if path == "archive":
            return web.Response(status=503)
        if path == "desk":
            self._seen[key] += 1
            if self._seen[key] == 1:
                return web.Response(status=500)
            if self._seen[key] == 2:
                await asyncio.sleep(3)  # longer than the destination's 0.5s timeout
                return web.Response(status=504)
        self.accepted[(path, key)] += 1
        return web.Response(status=204)

    def attempts(self, path: str) -> int:
        return sum(1 for p, *_ in self.requests if p == path)


@pytest.fixture
async def receiver() -> Any:
    handler = Receiver()
    app = web.Application()
    app.router.add_post("/{name}", handler.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    handler.base_url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    yield handler
    await runner.cleanup()


@pytest.fixture
def destinations_file(tmp_path: Path, receiver: Any) -> Path:
    text = (FIXTURES / "destinations.yaml").read_text("utf-8").replace("{receiver}", receiver.base_url)
    path = tmp_path / "destinations.yaml"
    path.write_text(text, "utf-8")
    return path


@pytest.fixture
async def settings(kafka_bootstrap: str, topic_prefix: str) -> Settings:
    settings = load_settings(kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix, topic_partitions=2)
    await ensure_topics(kafka_bootstrap, standard_topics(settings))
    return settings


async def test_kafka_notifier_delivers_each_alert_once_signed_and_dead_letters_the_dead_destination(
    settings: Settings, receiver: Receiver, destinations_file: Path, alerts: list[dict[str, Any]], unique: str,
):
    bootstrap = settings.kafka_bootstrap or ""
    destinations = load_destinations(destinations_file, {"WW_TEST_DESK_SECRET": SECRET})
    for alert in alerts:
        alert["notify"] = ["desk", "archive", "chat"]
    mirror = dict(alerts[0], item_id="reuters:77", dedupe_status="near_duplicate")  # same story, same id
    await produce(bootstrap, settings.alerts_topic, [*alerts, alerts[0], mirror])
    ids = {a["id"] for a in alerts}

    notifier = Running(lambda stop: run_notifier(settings, destinations, group=f"n-{unique}", stop=stop))
    await wait_for(lambda: _all_done(settings, f"n-{unique}", receiver, ids), timeout=60)
    await notifier.stop()

    assert receiver.accepted == Counter({("desk", i): 1 for i in ids} | {("chat", i): 1 for i in ids})
    desk = [(h, b) for p, _k, h, b in receiver.requests if p == "desk"]
    assert len(desk) == 3 * len(ids)  # 500, timeout, accepted: nothing more, mirror and duplicate skipped
    for headers, body in desk:
        assert verify_signature(SECRET.encode(), headers["X-Wirewatch-Timestamp"], body,
                                headers["X-Wirewatch-Signature"])
        assert json.loads(body)["id"] == headers["Idempotency-Key"]
        validate("alert", json.loads(body))
    chat_body = json.loads(next(b for p, _k, _h, b in receiver.requests if p == "chat"))
    assert set(chat_body) == {"text", "blocks"} and chat_body["blocks"][0]["type"] == "section"
    assert all("X-Wirewatch-Signature" not in h for p, _k, h, _b in receiver.requests if p == "archive")

    letters = [x for x in await read_topic(bootstrap, settings.dead_letter_topic) if x["stage"] == "notifier"]
    assert sorted(json.loads(x["payload"])["id"] for x in letters) == sorted(ids)
    assert {(x["destination"], x["attempts"], x["reason"]) for x in letters} == {
        ("archive", 3, "delivery to archive failed after 3 attempt(s): HTTP 503")
    }
    assert receiver.attempts("archive") == 3 * len(ids)

    # A replay from the start (new group) delivers nothing again where it was delivered: the
    # delivered log is persistent. A dead-lettered delivery is not done: the archive is tried again.
    before = Counter(p for p, _k, _h, _b in receiver.requests)
    replay = Running(lambda stop: run_notifier(settings, destinations, group=f"r-{unique}", stop=stop))
    await wait_for(lambda: _lag_is_zero(settings, f"r-{unique}"), timeout=30)
    await wait_for(lambda: asyncio.sleep(0, receiver.attempts("archive") == 6 * len(ids)), timeout=30)
    await replay.stop()
    after = Counter(p for p, _k, _h, _b in receiver.requests)
    assert after - before == Counter({"archive": 3 * len(ids)})
    assert len(await read_topic(bootstrap, settings.dead_letter_topic)) == 2 * len(letters)


async def _all_done(settings: Settings, group: str, receiver: Receiver, ids: set[str]) -> bool:
    delivered = {k for (p, k) in receiver.accepted if p == "desk"} == ids
    return delivered and receiver.attempts("archive") == 3 * len(ids) and await _lag_is_zero(settings, group)


async def _lag_is_zero(settings: Settings, group: str) -> bool:
    return await committed_lag(settings.kafka_bootstrap or "", group, [settings.alerts_topic]) == 0


def test_notifier_config_error_is_one_line(tmp_path: Path, wirewatch_bin: str, wirewatch_env: dict[str, str]):
    bad = tmp_path / "destinations.yaml"
    bad.write_text("destinations:\n  desk:\n    url: http://127.0.0.1:9/x\n    rate_limit: lots\n", "utf-8")
    done = subprocess.run([wirewatch_bin, "notifier", "--destinations", str(bad)], capture_output=True,
                          text=True, env={**wirewatch_env, "WIREWATCH_KAFKA_BOOTSTRAP": "127.0.0.1:9"}, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"wirewatch notifier: error: {bad}: destinations.desk.rate_limit: "
        "not a rate limit: 'lots' (use e.g. 30/min, 5/s, 100/h)"
    ]
