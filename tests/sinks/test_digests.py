"""Digests and mutes: schedules on an injected clock, the digest payload, the notifier's digest state."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from wirewatch.bus.memory import MemoryBus
from wirewatch.core.errors import ConfigError
from wirewatch.core.schedule import Cron, DigestConfig, Every, MuteWindow, muted_until, period
from wirewatch.core.schemas import validate
from wirewatch.processors.pipeline import make_alert
from wirewatch.processors.rules import Rule, load_rules
from wirewatch.sinks.destinations import (
    Destination,
    DestinationConfig,
    load_destinations,
    render_digest,
)
from wirewatch.sinks.digest import Bucket, build_digest, entry
from wirewatch.sinks.notifier import DeliveredLog, Notifier

from .helpers import load_jsonl, wait_for

T = datetime(2026, 12, 5, 7, 0, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- schedules ---------------------------------------------------------------------------------

def test_every_periods_are_aligned_to_the_epoch():
    assert period(Every(3600), at("2026-12-05T07:30:10Z")) == (at("2026-12-05T07:00:00Z"), at("2026-12-05T08:00:00Z"))
    # at a fire time exactly, the period that ends there is over: the moment opens the next one
    assert period(Every(3600), at("2026-12-05T08:00:00Z")) == (at("2026-12-05T08:00:00Z"), at("2026-12-05T09:00:00Z"))
    assert period(Every(2), at("2026-12-05T08:00:03.5Z")) == (at("2026-12-05T08:00:02Z"), at("2026-12-05T08:00:04Z"))


def test_cron_periods_in_a_time_zone():
    paris = Cron("0 7 * * *", DigestConfig(cron="0 7 * * *", tz="Europe/Paris").schedule().tz)  # type: ignore[attr-defined]
    assert period(paris, at("2026-12-05T05:59:59.9Z")) == (at("2026-12-04T06:00:00Z"), at("2026-12-05T06:00:00Z"))
    assert period(paris, at("2026-12-05T06:00:00Z")) == (at("2026-12-05T06:00:00Z"), at("2026-12-06T06:00:00Z"))
    summer = period(paris, at("2026-07-01T12:00:00Z"))  # CEST: 07:00 in Paris is 05:00 UTC
    assert summer == (at("2026-07-01T05:00:00Z"), at("2026-07-02T05:00:00Z"))
    assert period(Cron("*/15 * * * *"), at("2026-12-05T07:14:59Z")) == (T, at("2026-12-05T07:15:00Z"))


@pytest.mark.parametrize(("digest", "where", "why"), [
    ('{cron: "0 7 31 2 *"}', "destinations.desk.digest.cron", "not a possible cron schedule: '0 7 31 2 *' (Bad day-of-month)"),
    ('{cron: "61 * * * *"}', "destinations.desk.digest.cron", "not a possible cron schedule: '61 * * * *' (Bad minute)"),
    ("{every: 1h, cron: \"0 7 * * *\"}", "destinations.desk.digest",
     'give exactly one of every (e.g. 1h) or cron (e.g. "0 7 * * *")'),
    ("{cron: \"0 7 * * *\", tz: Mars/Olympus}", "destinations.desk.digest.tz",
     "unknown time zone 'Mars/Olympus' (use an IANA name such as Europe/Paris, or UTC)"),
])
def test_bad_destination_digest_is_one_line_naming_the_destination(tmp_path: Path, digest: str, where: str, why: str):
    path = tmp_path / "destinations.yaml"
    path.write_text(f"destinations:\n  desk:\n    url: http://127.0.0.1:9/x\n    digest: {digest}\n", "utf-8")
    with pytest.raises(ConfigError) as caught:
        load_destinations(path)
    assert str(caught.value) == f"{path}: {where}: {why}"


@pytest.mark.parametrize(("mute", "where", "why"), [
    ('[{cron: "0 22 * * *", for: 8h, form: x}]', "rules[0] (night-desk).mute[0]", "unknown key 'form' (did you mean 'for'?)"),
    ('[{cron: "0 22 * * *"}]', "rules[0] (night-desk).mute[0]", "a recurring mute needs both cron and for"),
    ('[{from: "2026-12-24T18:00:00Z", until: "2026-12-24T06:00:00Z"}]', "rules[0] (night-desk).mute[0]",
     "until must be later than from"),
    ('[{cron: "0 7 30 2 *", for: 1h}]', "rules[0] (night-desk).mute[0].cron",
     "not a possible cron schedule: '0 7 30 2 *' (Bad day-of-month)"),
])
def test_bad_rule_mute_is_one_line_naming_the_rule(tmp_path: Path, mute: str, where: str, why: str):
    path = tmp_path / "rules.yaml"
    path.write_text(f"rules:\n  - id: night-desk\n    query: flood\n    mute: {mute}\n", "utf-8")
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    assert str(caught.value) == f"{path}: {where}: {why}"


def test_mute_windows_range_and_recurring():
    night = MuteWindow.model_validate({"cron": "0 22 * * *", "for": "8h"})
    assert night.muted_until(at("2026-12-05T23:30:00Z")) == at("2026-12-06T06:00:00Z")
    assert night.muted_until(at("2026-12-06T05:59:59Z")) == at("2026-12-06T06:00:00Z")
    assert night.muted_until(at("2026-12-06T06:00:00Z")) is None
    assert night.muted_until(at("2026-12-05T21:59:59Z")) is None
    holiday = MuteWindow.model_validate({"from": "2026-12-24T18:00:00", "until": "2026-12-26T06:00:00+01:00"})
    assert holiday.muted_until(at("2026-12-24T17:59:59Z")) is None  # no offset: read in UTC
    assert holiday.muted_until(at("2026-12-24T18:00:00Z")) == at("2026-12-26T05:00:00Z")
    assert holiday.muted_until(at("2026-12-26T05:00:00Z")) is None
    # overlapping windows: muted until the later end
    assert muted_until([night, holiday], at("2026-12-25T23:00:00Z")) == at("2026-12-26T06:00:00Z")
    assert muted_until([night, holiday], at("2026-12-27T12:00:00Z")) is None


def test_rule_marks_its_alerts_muted_and_for_its_digest():
    rule = Rule.model_validate({"id": "night-desk", "query": "flood", "notify": ["desk"],
                                "mute": {"cron": "0 22 * * *", "for": "8h"}, "digest": {"cron": "0 7 * * *"}})
    item = load_jsonl("processed_items.jsonl")[0]
    inside = make_alert(item, rule, "2026-12-05T23:10:00.000Z")
    assert inside["muted"] == {"by": "rule", "name": "night-desk", "until": "2026-12-06T06:00:00Z"}
    assert inside["digest"] == {"cron": "0 7 * * *", "tz": "UTC", "max_items": 50}
    validate("alert", inside)
    outside = make_alert(item, rule, "2026-12-05T12:00:00.000Z")
    assert "muted" not in outside
    plain = make_alert(item, Rule(id="plain", query="flood"), "2026-12-05T23:10:00.000Z")
    assert "muted" not in plain and "digest" not in plain


# -- the digest payload ------------------------------------------------------------------------

def _bucket(alerts: list[dict[str, Any]], max_items: int = 50) -> Bucket:
    bucket = Bucket("digest:desk:2026-12-05T07:00:00Z", "desk", T, T + timedelta(hours=1), max_items)
    for alert in alerts:
        item = entry(alert)
        bucket.entries[item["alert_id"]] = item
    return bucket


def test_digest_groups_by_event_with_counts_and_outlets_newest_first():
    alerts = load_jsonl("digest_alerts.jsonl")
    alerts[3]["event_id"] = alerts[4]["event_id"] = "ev-miyagi-quake"  # two outlets, one event
    digest = build_digest(_bucket(alerts))
    validate("digest", digest)
    assert (digest["period_start"], digest["period_end"]) == ("2026-12-05T07:00:00Z", "2026-12-05T08:00:00Z")
    assert (digest["alerts"], digest["events_total"], digest["more"]) == (5, 2, 0)
    assert [(e["event_id"], e["count"], e["outlets"], e["rules"]) for e in digest["events"]] == [
        ("ev-miyagi-quake", 2, ["新华社", "NHK World"], ["quake"]),
        ("reuters:5501", 3, ["Reuters", "الجزيرة"], ["kremlin", "xi-visit"]),  # no event_id: its story
    ]
    assert digest["events"][0]["title"] == "日本东北部发生6.8级地震"  # the event's first alert names it
    assert (digest["events"][1]["first_matched_at"], digest["events"][1]["last_matched_at"]) == (
        "2026-12-05T07:02:03Z", "2026-12-05T07:20:01Z")


def test_digest_is_cut_at_max_items_with_and_n_more():
    alerts = load_jsonl("digest_alerts.jsonl")
    digest = build_digest(_bucket(alerts, max_items=1))
    assert [e["event_id"] for e in digest["events"]] == ["nhk:12"]
    assert (digest["events_total"], digest["more"]) == (3, 2)
    # the channels' renderers (sinks/destinations.py) read this payload: "and N more" counts what it left out
    message = json.loads(render_digest("slack", digest))
    assert message["blocks"][-1] == {"type": "context", "elements": [
        {"type": "mrkdwn", "text": "and 2 more events", "verbatim": True}]}
    # the feed's "<@U123> & <!channel>" cannot mention anyone
    assert "M6.8 earthquake strikes off Miyagi &lt;@U123&gt; &amp; &lt;!channel&gt;" in message["blocks"][1]["text"]["text"]
    assert json.loads(render_digest("json", digest)) == digest


# -- the notifier's digests and mutes, on an in-process bus with an injected clock -------------

class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Receiver:
    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((request.path, dict(request.headers), await request.read()))
        return web.Response(status=204)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    handler = Receiver()
    app = web.Application()
    app.router.add_post("/{name}", handler.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield handler, f"http://127.0.0.1:{port}"
    await runner.cleanup()


class Session:
    """One notifier process on ``bus`` (alerts, delivered, dead-letter), stopped by :meth:`stop`."""

    def __init__(self, bus: MemoryBus, destinations: dict[str, Destination], clock: Clock) -> None:
        self.bus = bus
        records = {m.key: m.value for m in bus.messages("delivered") if m.key}
        known = [k for k, v in records.items() if v.get("outcome") in ("delivered", "digested", "muted")]
        self.subscriber = bus.subscriber("alerts", "notifier")
        self.notifier = Notifier(self.subscriber, destinations, bus, DeliveredLog(bus, "delivered", known),
                                 dead_letter_topic="dead-letter", records=records, clock=clock, digest_tick=0.02)
        self.stop_event = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> Session:
        await self.subscriber.start()
        self.task = asyncio.create_task(self.notifier.run(self.stop_event))
        return self

    async def stop(self) -> None:
        assert self.task is not None
        self.stop_event.set()
        await asyncio.wait_for(self.task, 10)
        await self.subscriber.stop()


def _bus() -> MemoryBus:
    bus = MemoryBus()
    for topic in ("alerts", "delivered", "dead-letter"):
        bus.create_topic(topic)
    return bus


def _records(bus: MemoryBus, outcome: str) -> list[dict[str, Any]]:
    return [m.value for m in bus.messages("delivered") if m.value.get("outcome") == outcome]


def _destination(url: str, **options: Any) -> Destination:
    return Destination.from_config("desk", DestinationConfig(url=f"{url}/desk", retries=0, **options))


async def test_destination_digest_sent_once_at_its_time_and_rebuilt_after_a_restart(receiver: tuple[Receiver, str]):
    handler, url = receiver
    bus, clock = _bus(), Clock(at("2026-12-05T07:40:00Z"))
    desk = {"desk": _destination(url, digest=DigestConfig(every=timedelta(hours=1), max_items=1))}
    alerts = load_jsonl("digest_alerts.jsonl")
    for alert in alerts:
        await bus.publish("alerts", alert, key=alert["rule"])

    first = await Session(bus, desk, clock).start()
    await wait_for(lambda: asyncio.sleep(0, len(_records(bus, "digested")) == 5), timeout=10)
    await asyncio.sleep(0.1)
    assert handler.requests == []  # nothing is sent one by one
    await first.stop()
    assert {r["digest"]["id"] for r in _records(bus, "digested")} == {"digest:desk:2026-12-05T07:00:00Z"}
    for record in bus.messages("delivered"):
        validate("delivery", record.value)

    clock.now = at("2026-12-05T09:15:00Z")  # the 08:00 digest passed while the notifier was down
    second = await Session(bus, desk, clock).start()
    await wait_for(lambda: asyncio.sleep(0, len(handler.requests) == 1), timeout=10)
    await asyncio.sleep(0.2)
    await second.stop()
    _path, headers, body = handler.requests[0]
    assert headers["Idempotency-Key"] == "digest:desk:2026-12-05T07:00:00Z"
    digest = json.loads(body)
    validate("digest", digest)
    assert (digest["alerts"], digest["events_total"], digest["more"]) == (5, 3, 2)
    assert [e["event_id"] for e in digest["events"]] == ["nhk:12"]
    [sent] = [m.value for m in bus.messages("delivered") if m.key == "desk|digest:desk:2026-12-05T07:00:00Z"]
    assert (sent["outcome"], sent["digest"]["alerts"], sent["digest"]["events"]) == ("delivered", 5, 3)
    validate("delivery", sent)

    clock.now = at("2026-12-05T12:00:00Z")  # a third start, a later replay of every alert: nothing more
    await bus.publish("alerts", alerts[0], key=alerts[0]["rule"])
    third = await Session(bus, desk, clock).start()
    await asyncio.sleep(0.3)
    await third.stop()
    assert len(handler.requests) == 1  # empty periods send nothing


async def test_digest_is_sent_by_a_running_notifier_when_its_period_ends(receiver: tuple[Receiver, str]):
    handler, url = receiver
    bus, clock = _bus(), Clock(at("2026-12-05T05:59:59Z"))  # 06:59:59 in Paris
    desk = {"desk": _destination(url, format="slack", digest=DigestConfig(cron="0 7 * * *", tz="Europe/Paris"))}
    for alert in load_jsonl("digest_alerts.jsonl")[:2]:
        await bus.publish("alerts", alert, key=alert["rule"])
    session = await Session(bus, desk, clock).start()
    await wait_for(lambda: asyncio.sleep(0, len(_records(bus, "digested")) == 2), timeout=10)
    await asyncio.sleep(0.1)
    assert handler.requests == []
    clock.now = at("2026-12-05T06:00:00Z")  # 07:00 in Paris
    await wait_for(lambda: asyncio.sleep(0, len(handler.requests) == 1), timeout=10)
    await asyncio.sleep(0.2)
    await session.stop()
    _, headers, body = handler.requests[0]
    assert headers["Idempotency-Key"] == "digest:desk:2026-12-04T06:00:00Z"  # named by its period's start
    message = json.loads(body)
    assert message["text"] == "Wirewatch digest: 1 events, 2026-12-04T06:00:00Z to 2026-12-05T06:00:00Z"
    assert len(handler.requests) == 1


class FailingDigestRecord(DeliveredLog):
    """A delivered log whose bus is gone when the digest's own record is written."""

    async def add(self, key: str, record: dict[str, Any]) -> None:
        if "|digest:" in key:
            raise ConnectionError("bus gone")
        await super().add(key, record)


async def test_crash_between_digest_and_its_record_resends_it_with_the_same_key_only(
        receiver: tuple[Receiver, str]):
    handler, url = receiver
    bus, clock = _bus(), Clock(at("2026-12-05T07:40:00Z"))
    desk = {"desk": _destination(url, digest=DigestConfig(every=timedelta(hours=1)))}
    for alert in load_jsonl("digest_alerts.jsonl"):
        await bus.publish("alerts", alert, key=alert["rule"])
    crashing = Session(bus, desk, clock)
    crashing.notifier.delivered = FailingDigestRecord(bus, "delivered")
    await crashing.start()
    await wait_for(lambda: asyncio.sleep(0, len(_records(bus, "digested")) == 5), timeout=10)
    clock.now = at("2026-12-05T08:00:00Z")
    await wait_for(lambda: asyncio.sleep(0, crashing.task is not None and crashing.task.done()), timeout=10)
    assert len(handler.requests) == 1
    with pytest.raises(ConnectionError):  # the notifier stops: it could not record the digest
        await crashing.stop()
    again = await Session(bus, desk, clock).start()
    await wait_for(lambda: asyncio.sleep(0, len(handler.requests) == 2), timeout=10)
    await asyncio.sleep(0.2)
    await again.stop()
    keys = [h["Idempotency-Key"] for _p, h, _b in handler.requests]
    assert keys == ["digest:desk:2026-12-05T07:00:00Z"] * 2
    assert handler.requests[0][2] == handler.requests[1][2]  # the same digest


async def test_muted_alerts_are_recorded_not_sent_and_join_a_digest_when_there_is_one(
        receiver: tuple[Receiver, str]):
    handler, url = receiver
    bus, clock = _bus(), Clock(at("2026-12-05T23:30:00Z"))
    night = MuteWindow.model_validate({"cron": "0 22 * * *", "for": "8h"})
    desk = {"desk": _destination(url, mute=(night,))}
    alerts = load_jsonl("digest_alerts.jsonl")
    alerts[0]["muted"] = {"by": "rule", "name": "xi-visit", "until": "2026-12-06T06:00:00Z"}
    await bus.publish("alerts", alerts[0], key="xi-visit")
    await bus.publish("alerts", alerts[3], key="quake")
    session = await Session(bus, desk, clock).start()
    await wait_for(lambda: asyncio.sleep(0, len(_records(bus, "muted")) == 2), timeout=10)
    clock.now = at("2026-12-06T06:00:00Z")  # the window ended: what it held back stays unsent
    await bus.publish("alerts", alerts[4], key="quake")
    await wait_for(lambda: asyncio.sleep(0, len(handler.requests) == 1), timeout=10)
    await session.stop()
    assert [json.loads(b)["id"] for _p, _h, b in handler.requests] == ["quake:nhk:12"]
    muted = {r["alert_id"]: r["muted"] for r in _records(bus, "muted")}
    assert muted == {
        "xi-visit:reuters:5501": {"by": "rule", "name": "xi-visit", "until": "2026-12-06T06:00:00Z"},
        "quake:xinhua:88": {"by": "destination", "name": "desk", "until": "2026-12-06T06:00:00Z"},
    }
    for record in bus.messages("delivered"):
        validate("delivery", record.value)

    # with a digest on the destination, a muted alert goes into the next digest instead
    bus2 = _bus()
    clock.now = at("2026-12-05T23:30:00Z")
    digesting = {"desk": _destination(url, mute=(night,), digest=DigestConfig(every=timedelta(hours=8)))}
    await bus2.publish("alerts", alerts[3], key="quake")
    session = await Session(bus2, digesting, clock).start()
    await wait_for(lambda: asyncio.sleep(0, len(_records(bus2, "digested")) == 1), timeout=10)
    clock.now = at("2026-12-06T00:00:00Z")
    await wait_for(lambda: asyncio.sleep(0, len(handler.requests) == 2), timeout=10)
    await session.stop()
    [held] = _records(bus2, "digested")
    assert held["muted"] == {"by": "destination", "name": "desk", "until": "2026-12-06T06:00:00Z"}
    assert json.loads(handler.requests[1][2])["events"][0]["event_id"] == "xinhua:88"


async def test_rule_digest_groups_per_rule_and_destination(receiver: tuple[Receiver, str]):
    handler, url = receiver
    bus, clock = _bus(), Clock(at("2026-12-05T07:40:00Z"))
    desk = {"desk": _destination(url)}
    alerts = load_jsonl("digest_alerts.jsonl")
    for alert in alerts:
        if alert["rule"] == "quake":
            alert["digest"] = {"every_seconds": 3600, "max_items": 50}
        await bus.publish("alerts", alert, key=alert["rule"])
    session = await Session(bus, desk, clock).start()
    await wait_for(lambda: asyncio.sleep(0, len(handler.requests) == 3), timeout=10)  # the others, one by one
    clock.now = at("2026-12-05T08:00:00Z")
    await wait_for(lambda: asyncio.sleep(0, len(handler.requests) == 4), timeout=10)
    await session.stop()
    digest = json.loads(handler.requests[3][2])
    assert handler.requests[3][1]["Idempotency-Key"] == digest["id"] == "digest:desk:quake:2026-12-05T07:00:00Z"
    assert (digest["rule"], digest["alerts"], [e["event_id"] for e in digest["events"]]) == (
        "quake", 2, ["nhk:12", "xinhua:88"])


# -- bad schedules at the command line: one line, exit 2 ---------------------------------------

def test_impossible_cron_stops_the_notifier_with_one_line(tmp_path: Path, wirewatch_bin: str,
                                                         wirewatch_env: dict[str, str]):
    bad = tmp_path / "destinations.yaml"
    bad.write_text('destinations:\n  desk:\n    url: http://127.0.0.1:9/x\n    digest: {cron: "0 7 31 2 *"}\n', "utf-8")
    done = subprocess.run([wirewatch_bin, "notifier", "--destinations", str(bad)], capture_output=True, text=True,
                          env={**wirewatch_env, "WIREWATCH_KAFKA_BOOTSTRAP": "127.0.0.1:9"}, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"wirewatch notifier: error: {bad}: destinations.desk.digest.cron: "
        "not a possible cron schedule: '0 7 31 2 *' (Bad day-of-month)"
    ]


def test_unknown_mute_key_stops_wirewatch_run_with_one_line(tmp_path: Path, wirewatch_bin: str,
                                                           wirewatch_env: dict[str, str]):
    (tmp_path / "sources.yaml").write_text("sources:\n  - {id: desk, kind: rss, url: http://127.0.0.1:9/feed}\n",
                                           "utf-8")
    rules = tmp_path / "rules.yaml"
    rules.write_text('rules:\n  - id: night-desk\n    query: flood\n    mute: [{cron: "0 22 * * *", for: 8h, '
                     "weekdays: [sat, sun]}]\n", "utf-8")
    done = subprocess.run([wirewatch_bin, "run", "--config", str(tmp_path / "sources.yaml"), "--rules", str(rules),
                           "--web", "off"], capture_output=True, text=True, env=wirewatch_env, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"wirewatch run: error: {rules}: rules[0] (night-desk).mute[0]: unknown key 'weekdays' "
        "(known keys: from, until, cron, for, tz)"
    ]


async def test_alerts_page_shows_a_muted_delivery_with_its_window(tmp_path: Path):
    import httpx
    from selectolax.lexbor import LexborHTMLParser

    from wirewatch.embedded.web import create_app, start_web
    from wirewatch.sinks.sqlite import SqliteStore

    store = SqliteStore(tmp_path)
    alert = load_jsonl("digest_alerts.jsonl")[3]
    muted = {"by": "destination", "name": "pager", "until": "2026-12-06T06:00:00Z"}
    store.index_alerts_sync([alert])
    store.index_deliveries_sync([{"alert_id": alert["id"], "destination": "pager", "outcome": "muted",
                                  "at": "2026-12-05T23:30:00.000Z", "attempts": 0, "rule": "quake",
                                  "story_id": alert["story_id"], "muted": muted}])
    runner, url = await start_web(create_app(store, store), "127.0.0.1", 0)
    try:
        async with httpx.AsyncClient() as client:
            html = LexborHTMLParser((await client.get(url.rstrip("/") + "/alerts")).text)
    finally:
        await runner.cleanup()
        await store.close()
    [delivery] = html.css("li.delivery")
    assert delivery.attributes["class"] == "delivery outcome-muted"
    assert [n.text() for n in delivery.css(".outcome")] == ["muted"]
    [window] = delivery.css(".muted")
    assert window.text().startswith("by destination pager until ")


def test_readme_example_loads(tmp_path: Path):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")
    section = readme.split("## Digests and silence windows", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "destinations.yaml"
    path.write_text(example, "utf-8")
    loaded = load_destinations(path)
    assert loaded["morning-desk"].digest == DigestConfig(cron="0 7 * * *", tz="Europe/Paris", max_items=50)
    assert [w.muted_until(at("2026-12-24T22:30:00Z")) for w in loaded["pager"].mute] == [
        at("2026-12-25T05:00:00Z"), at("2026-12-26T06:00:00Z")]


async def test_email_digest_is_one_mail_through_a_real_smtp_server(tmp_path: Path):
    from .mailbox import parsed, smtp_server

    bus, clock = _bus(), Clock(at("2026-12-05T07:40:00Z"))
    for alert in load_jsonl("digest_alerts.jsonl"):
        await bus.publish("alerts", alert, key=alert["rule"])
    async with smtp_server(tmp_path, "digest") as server:
        config = DestinationConfig.model_validate({
            "format": "email", "smtp": {"host": "127.0.0.1", "port": server.port, "tls": "none"},
            "from": "Wirewatch <alerts@example.org>", "to": ["desk@example.org"], "retries": 0,
            "digest": {"every": "1h"}})
        desk = {"desk": Destination.from_config("desk", config)}
        session = await Session(bus, desk, clock).start()
        await wait_for(lambda: asyncio.sleep(0, len(_records(bus, "digested")) == 5), timeout=10)
        assert server.mails() == []
        clock.now = at("2026-12-05T08:00:00Z")
        await wait_for(lambda: asyncio.sleep(0, len(server.mails()) == 1), timeout=20)
        await asyncio.sleep(0.2)
        await session.stop()
        [mail] = server.mails()
    message = parsed(mail)
    assert message["Subject"] == "[digest] 3 events, 2026-12-05T07:00:00Z to 2026-12-05T08:00:00Z"
    [sent] = [m.value for m in bus.messages("delivered") if m.key == "desk|digest:desk:2026-12-05T07:00:00Z"]
    assert (sent["outcome"], sent["attempts"], sent["digest"]["alerts"]) == ("delivered", 1, 5)


async def test_a_restart_mid_period_keeps_collecting_into_the_same_digest(receiver: tuple[Receiver, str]):
    handler, url = receiver
    bus, clock = _bus(), Clock(at("2026-12-05T07:10:00Z"))
    desk = {"desk": _destination(url, digest=DigestConfig(every=timedelta(hours=1)))}
    alerts = load_jsonl("digest_alerts.jsonl")
    for alert in alerts[:2]:
        await bus.publish("alerts", alert, key=alert["rule"])
    first = await Session(bus, desk, clock).start()
    await wait_for(lambda: asyncio.sleep(0, len(_records(bus, "digested")) == 2), timeout=10)
    await first.stop()
    clock.now = at("2026-12-05T07:20:00Z")
    for alert in alerts[2:]:
        await bus.publish("alerts", alert, key=alert["rule"])
    second = await Session(bus, desk, clock).start()
    await wait_for(lambda: asyncio.sleep(0, len(_records(bus, "digested")) == 5), timeout=10)
    clock.now = at("2026-12-05T08:00:00Z")
    await wait_for(lambda: asyncio.sleep(0, len(handler.requests) == 1), timeout=10)
    await asyncio.sleep(0.2)
    await second.stop()
    digest = json.loads(handler.requests[0][2])
    assert (digest["id"], digest["alerts"], digest["events_total"]) == ("digest:desk:2026-12-05T07:00:00Z", 5, 3)
    assert len(handler.requests) == 1
