"""The production path: a faust-streaming app running :mod:`wirewatch.processors.pipeline`.

Two stages, because cross-source dedupe needs ONE consistent memory:

1. ``enrich`` agent over ``<prefix>.raw`` (all partitions, shared by every
   worker): decode, validate (bad input -> ``<prefix>.dead-letter`` with the
   reason), entities, rule matching and the MinHash fingerprint. The costly
   work scales out with partitions.
2. ``dedupe`` agent over ``<prefix>.processor-dedupe``, a single-partition
   topic owned by one worker at a time: dedupe against a Faust table (changelog
   topic, RocksDB when rocksdict is installed), then ``<prefix>.processed`` and
   ``<prefix>.alerts``. Verdicts are cheap look-ups, so one partition is enough,
   and one owner gives the same verdicts whether one or several workers run.

Delivery is at-least-once: after a crash, items whose offsets were not yet
committed are processed again. Dedupe treats an exact re-delivery of an item
(same id, same text) as idempotent and returns the verdict it gave first, so
replays do not turn an item into a duplicate of itself. Each agent hands its
events to an :class:`~wirewatch.processors.faust_offsets.OffsetGuard`, which
reads from Kafka any record Faust's stream skipped or left behind.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path
from typing import Any

import faust
from aiokafka import TopicPartition
from faust.types import Message

from wirewatch.bus.base import decode, encode
from wirewatch.bus.kafka import PartitionReader, TopicSpec, ensure_topics, standard_topics
from wirewatch.core import metrics
from wirewatch.core.config import Settings, load_settings
from wirewatch.core.deadletter import dead_letter
from wirewatch.core.errors import ConfigError, SchemaError
from wirewatch.core.logging import configure_logging, get_logger
from wirewatch.processors.dedupe import Fingerprint
from wirewatch.processors.faust_offsets import OffsetGuard
from wirewatch.processors.pipeline import Enriched, Processor, validate_raw

RULES_CHECK_SECONDS = 2.0
STALL_CHECK_SECONDS = 2.0
LAG_SECONDS = 5.0
PURGE_SECONDS = 600.0
log = get_logger("processor")


def dedupe_topic_name(settings: Settings) -> str:
    return f"{settings.topic_prefix}.processor-dedupe"


def app_id(settings: Settings) -> str:
    return f"{settings.topic_prefix}-processor"


def _store_url() -> str:
    try:
        import rocksdict  # noqa: F401
    except ImportError:
        return "memory://"
    return "rocksdb://"


class RulesWatcher:
    """Reload the rules file when its mtime changes; a broken edit keeps the old rules."""

    def __init__(self, path: Path, processor: Processor) -> None:
        self.path = path
        self.processor = processor
        self.mtime = self._mtime()

    def _mtime(self) -> float | None:
        try:
            return self.path.stat().st_mtime_ns / 1e9
        except OSError:
            return None

    def check(self) -> bool:
        mtime = self._mtime()
        if mtime is None or mtime == self.mtime:
            return False
        self.mtime = mtime
        from wirewatch.processors.rules import load_rules

        try:
            rules = load_rules(self.path)
        except ConfigError as exc:
            log.error("rules not reloaded, keeping the previous ones", reason=str(exc))
            return False
        self.processor.reload_rules(rules)
        log.info("rules reloaded", path=str(self.path))
        return True


def create_app(settings: Settings, processor: Processor, rules_path: Path | None = None) -> faust.App:
    """The Faust app: topics, the dedupe table and both agents, all named from ``topic_prefix``."""
    bootstrap = settings.kafka_bootstrap
    if not bootstrap:
        raise ConfigError("WIREWATCH_KAFKA_BOOTSTRAP", "required for `wirewatch processor`")
    app = faust.App(
        app_id(settings),
        broker=[f"kafka://{hp}" for hp in bootstrap.split(",")],
        store=_store_url(),
        datadir=str(settings.data_dir / "faust"),
        web_enabled=False,
        topic_replication_factor=1,
        topic_partitions=1,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        # a crashed worker's partitions move on within ~10 s, not the 60 s default
        broker_session_timeout=10.0,
        broker_heartbeat_interval=2.0,
        producer_acks=-1,
        table_cleanup_interval=PURGE_SECONDS,
    )
    raw_topic = app.topic(settings.raw_topic, value_serializer="raw", key_serializer="raw")
    dedupe_topic = app.topic(
        dedupe_topic_name(settings), partitions=1, value_serializer="raw", key_serializer="raw"
    )
    processed_topic = app.topic(settings.processed_topic, value_serializer="raw", key_serializer="raw")
    alerts_topic = app.topic(settings.alerts_topic, value_serializer="raw", key_serializer="raw")
    dead_topic = app.topic(settings.dead_letter_topic, value_serializer="raw", key_serializer="raw")
    table = app.Table("dedupe", partitions=1, key_type=str)
    processor.deduper.store = table

    @app.on_rebalance_complete.connect  # type: ignore[arg-type]
    async def rebuild_dedupe_index(sender: Any, *args: Any, **kwargs: Any) -> None:
        # The table may now hold another worker's records (recovered from the
        # changelog): the in-memory LSH index is rebuilt from it on next use.
        processor.deduper.reset_index()

    async def to_dead_letter(reason: str, msg: Message) -> None:
        key = msg.key.decode("utf-8", "replace") if isinstance(msg.key, bytes) else msg.key
        record = dead_letter("processor", reason, msg.value, topic=msg.topic, partition=msg.partition, offset=msg.offset, key=key)
        metrics.DEAD_LETTERS.labels("processor").inc()
        log.warning("dead letter", reason=record["reason"], topic=msg.topic, partition=msg.partition, offset=msg.offset)
        await dead_topic.send(key=None, value=encode(record))

    async def enrich_one(msg: Message) -> None:
        metrics.STAGE_ITEMS.labels("enrich").inc()
        try:
            raw = validate_raw(decode(msg.value))
        except ValueError as exc:
            await to_dead_letter(f"invalid JSON: {exc}", msg)
            return
        except SchemaError as exc:
            await to_dead_letter(str(exc), msg)
            return
        payload = processor.enrich(raw).as_dict()
        payload["ts"] = round(msg.timestamp * 1000) if msg.timestamp else None  # ms, as Kafka keeps it
        await dedupe_topic.send(key=b"0", value=encode(payload))

    async def dedupe_one(msg: Message) -> None:
        metrics.STAGE_ITEMS.labels("dedupe").inc()
        data = decode(msg.value)
        enriched = Enriched(data["item"], processor.rules_by_id(data["rules"]), Fingerprint.from_dict(data["fp"]))
        result = processor.finish(enriched)
        key = result.item["source"]["id"].encode()
        await processed_topic.send(key=key, value=encode(result.item))
        for alert in result.alerts:
            await alerts_topic.send(key=alert["rule"].encode(), value=encode(alert))
        if data.get("ts"):
            metrics.PROCESS_SECONDS.observe(max(0.0, time.time() - data["ts"] / 1000))

    reader = PartitionReader(str(bootstrap))

    def ack(msg: Message) -> None:
        app.consumer.ack(msg)

    guards = {
        raw_topic.get_topic_name(): OffsetGuard(reader, app_id(settings), enrich_one, ack),
        dedupe_topic.get_topic_name(): OffsetGuard(reader, app_id(settings), dedupe_one, ack),
    }

    @app.agent(raw_topic)
    async def enrich(stream: Any) -> None:
        guard = guards[raw_topic.get_topic_name()]
        async for event in stream.events():
            await guard.process(event.message)

    @app.agent(dedupe_topic, concurrency=1)
    async def dedupe(stream: Any) -> None:
        guard = guards[dedupe_topic.get_topic_name()]
        async for event in stream.events():
            await guard.process(event.message)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def forget_offsets(sender: Any, *args: Any, **kwargs: Any) -> None:
        for guard in guards.values():
            guard.forget()

    @app.timer(interval=STALL_CHECK_SECONDS)
    async def repair_stalled() -> None:
        """Records Faust fetched but never delivered (see ``faust_offsets``) are read and handled."""
        assigned = app.consumer.assignment()
        for topic, guard in guards.items():
            await guard.repair_stalled(TopicPartition(tp.topic, tp.partition) for tp in assigned if tp.topic == topic)

    @app.task
    async def start_reader() -> None:
        # connected before the first rebalance: an agent's first event must not wait for a connect
        await reader.start()

    @app.on_before_shutdown.connect  # type: ignore[arg-type]
    async def close_reader(sender: Any, *args: Any, **kwargs: Any) -> None:
        await reader.close()

    if rules_path is not None:
        watcher = RulesWatcher(rules_path, processor)

        @app.timer(interval=RULES_CHECK_SECONDS)
        async def reload_rules() -> None:
            watcher.check()

    @app.timer(interval=LAG_SECONDS)
    async def export_lag() -> None:
        """``wirewatch_consumer_lag`` for this worker's partitions (what Grafana's lag panel shows)."""
        consumer = app.consumer
        group = app_id(settings)
        for tp in consumer.assignment():
            if tp.topic not in (settings.raw_topic, dedupe_topic_name(settings)):
                continue  # changelog partitions are recovery, not lag
            try:
                high = consumer.highwater(tp)
                position = await consumer.position(tp)
            except Exception:  # not fetched yet, or just revoked: next tick
                continue
            if high is not None and position is not None and high >= 0:
                metrics.CONSUMER_LAG.labels(group, tp.topic, str(tp.partition)).set(max(0, high - position))

    @app.timer(interval=PURGE_SECONDS)
    async def purge() -> None:
        processor.deduper.purge()

    return app


def make_worker(app: faust.App, settings: Settings) -> faust.Worker:
    """A Faust worker for ``app`` logging at the level of ``settings``, without a terminal spinner.

    With the spinner, at "warning" and above Faust sets the root logger to DEBUG for the
    spinner's handler, and every aiokafka/Faust debug call then builds a LogRecord (8% of a
    busy worker's time, measured with py-spy).
    """
    loglevel = "warning" if settings.log_level in ("warning", "error") else "info"
    worker = faust.Worker(app, loglevel=loglevel, quiet=True)
    worker.spinner = None
    return worker


def run_worker(args: argparse.Namespace) -> int:
    """``wirewatch processor``: set up topics and metrics, then run a Faust worker."""
    from wirewatch.processors.cli import build_processor

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    processor = build_processor(args)
    processor.observe_latency = False  # the agent observes publish-to-output latency
    app = create_app(settings, processor, args.rules)
    specs = [*standard_topics(settings), TopicSpec(dedupe_topic_name(settings), 1)]
    asyncio.run(ensure_topics(str(settings.kafka_bootstrap), specs))
    if settings.metrics_port:
        port = metrics.serve_metrics(settings.metrics_port, settings.metrics_host)
        log.info("metrics endpoint", port=port)
    os.makedirs(settings.data_dir / "faust", exist_ok=True)
    make_worker(app, settings).execute_from_commandline()
    return 0

