"""`wirewatch notifier`'s wiring on the real Kafka with email destinations: a real SMTP server process
gets each alert once (a replay from the start sends nothing again), an unreachable relay is retried,
dead-lettered and tried again on the replay, and delivery records reach the delivered topic."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from wirewatch.bus.kafka import ensure_topics, standard_topics
from wirewatch.core.config import load_settings
from wirewatch.sinks.destinations import load_destinations
from wirewatch.sinks.notifier import run_notifier

from .helpers import Running, committed_lag, produce, read_topic, wait_for
from .mailbox import message_id, parsed, smtp_server

pytestmark = pytest.mark.kafka


async def test_kafka_notifier_mails_once_and_dead_letters_the_unreachable_relay(
    tmp_path: Path, kafka_bootstrap: str, topic_prefix: str, alerts: list[dict[str, Any]], unique: str,
) -> None:
    settings = load_settings(kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix, topic_partitions=2)
    await ensure_topics(kafka_bootstrap, standard_topics(settings))
    for alert in alerts:
        alert["notify"] = ["desk-mail", "dead-mail"]
    ids = sorted(a["id"] for a in alerts)
    await produce(kafka_bootstrap, settings.alerts_topic, [*alerts, alerts[0]])  # one duplicate

    async with smtp_server(tmp_path, "desk") as server:
        path = tmp_path / "destinations.yaml"
        path.write_text(f"""\
destinations:
  desk-mail:
    format: email
    smtp: {{host: 127.0.0.1, port: {server.port}, tls: none}}
    from: alerts@example.org
    to: [desk@example.org]
  dead-mail:
    format: email
    smtp: {{host: 127.0.0.1, port: 1, tls: none}}
    from: alerts@example.org
    to: [night@example.org]
    retries: 1
    backoff: 10ms
""", "utf-8")
        destinations = load_destinations(path, {})

        async def finished(group: str, records: int) -> bool:
            lag = await committed_lag(kafka_bootstrap, group, [settings.alerts_topic])
            return lag == 0 and len(await read_topic(kafka_bootstrap, settings.delivered_topic)) >= records

        first = Running(lambda stop: run_notifier(settings, destinations, group=f"n-{unique}", stop=stop))
        await wait_for(lambda: finished(f"n-{unique}", 2 * len(ids)), timeout=60)
        await first.stop()
        assert sorted(parsed(m)["Message-ID"] for m in server.mails()) == sorted(message_id(i) for i in ids)

        replay = Running(lambda stop: run_notifier(settings, destinations, group=f"r-{unique}", stop=stop))
        await wait_for(lambda: finished(f"r-{unique}", 3 * len(ids)), timeout=60)
        await replay.stop()
        assert len(server.mails()) == len(ids)  # the delivered log kept the desk's mail to one each

    records = await read_topic(kafka_bootstrap, settings.delivered_topic)
    assert sorted((r["destination"], r["alert_id"], r["outcome"], r["attempts"]) for r in records) == sorted(
        [("desk-mail", i, "delivered", 1) for i in ids] + [("dead-mail", i, "dead-lettered", 2) for i in ids] * 2)
    letters = [x for x in await read_topic(kafka_bootstrap, settings.dead_letter_topic) if x["stage"] == "notifier"]
    assert sorted(json.loads(x["payload"])["id"] for x in letters) == sorted(ids * 2)
    assert {x["reason"] for x in letters} == {
        "delivery to dead-mail failed after 2 attempt(s): cannot reach SMTP server 127.0.0.1:1 for destination "
        "'dead-mail': connection refused"}
