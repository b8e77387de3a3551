"""The production path: a faust-streaming app running :mod:`wirewatch.processors.stage`.

Two stages, because cross-source dedupe needs ONE consistent memory:

1. ``enrich`` agent over ``<prefix>.raw`` (all partitions, shared by every
   worker): :meth:`Stage.enrich <wirewatch.processors.stage.Stage.enrich>` on a
   batch of events (decode, validate, dead letters, entities, rule matching,
   fingerprints), then ONE message with the batch's enriched items to
   ``<prefix>.processor-dedupe``. The costly work scales out with partitions.
2. ``dedupe`` agent over ``<prefix>.processor-dedupe``, a single-partition
   topic owned by one worker at a time: :meth:`Stage.finish
   <wirewatch.processors.stage.Stage.finish>` against the dedupe memory, then
   ``<prefix>.processed`` and ``<prefix>.alerts``. One owner gives the same
   verdicts whether one or several workers run.

Agents take events in batches (``stream.take_events``; Faust acknowledges a
batch only after the agent handled it). The dedupe memory is a dict in this
process; what a batch wrote to it is one entry of the Faust table
``dedupe-batches`` (a changelog topic, recovered in memory), so a
batch costs one changelog write instead of ~5 per item. A worker that is handed
the dedupe partition rebuilds the dict from the table (:class:`BatchLog`).

Signal rules (:mod:`wirewatch.processors.signals`: spikes, new entities, silences) keep
their counts in the same memory, so they recover with it; their timer (silences, upkeep)
runs on the worker owning the dedupe partition and stores its writes after the last
batch's entry (:meth:`BatchLog.commit_timer`).

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
from collections.abc import Iterator, MutableMapping
from typing import Any

import faust
from aiokafka import TopicPartition
from faust.types import Message as FaustMessage

from wirewatch.bus.base import Message, decode, encode
from wirewatch.bus.kafka import PartitionReader, TopicSpec, ensure_topics, standard_topics
from wirewatch.core import metrics
from wirewatch.core.config import Settings, load_settings
from wirewatch.core.errors import ConfigError
from wirewatch.core.logging import configure_logging, get_logger
from wirewatch.core.reach import until_reachable_or_signalled
from wirewatch.processors.faust_offsets import OffsetGuard
from wirewatch.processors.pipeline import Processor, ProcessorConfig
from wirewatch.processors.signals import SILENCE_CHECK_SECONDS
from wirewatch.processors.stage import RULES_CHECK_SECONDS, RulesWatcher, Stage

#: Events an agent takes at once, and how long it waits to fill a batch. Per batch, not per
#: item: the stage hop (one message), the dedupe table's changelog write, the offset guard:
#: 2.75 -> ~0.2 ms of worker CPU an item (bench e2e.processor_cpu_ms_per_item); the same
#: outputs as the CLI (tests/processors/test_kafka_faust.py::test_the_cli_the_embedded_runner_...).
TAKE = 256
TAKE_SECONDS = 0.02
#: Bytes of enriched items in one stage-hop message: well under Kafka's 1 MB message limit,
#: and a dedupe-table entry (the writes of one such message) stays smaller still.
HOP_BYTES = 256 * 1024
STALL_CHECK_SECONDS = 2.0
LAG_SECONDS = 5.0
PURGE_SECONDS = 600.0
#: Writes in one table entry made by a timer (a learned entity's write is ~100 bytes).
TIMER_WRITES = 2000
log = get_logger("processor")


class BatchLog(MutableMapping[str, Any]):
    """The dedupe memory: a dict in this process, its writes kept per batch in a Faust table.

    The deduper reads and writes the dict; :meth:`commit` stores what one batch
    wrote as one table entry (key: the offset of the hop message it came from, zero
    padded so keys sort in offset order). :meth:`rebuild` replays every entry in
    order, after a rebalance handed this worker the dedupe partition. Deletes stay
    local: they only drop expired records, which a replay expires again.
    """

    def __init__(self, table: MutableMapping[str, Any]) -> None:
        self.table = table
        self.data: dict[str, Any] = {}
        self.stale = True  # rebuilt before the first batch (the table is recovered by then)
        self._writes: list[list[Any]] = []
        self.last_offset = -1

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.data[key] = value
        self._writes.append([key, value])

    def __delitem__(self, key: str) -> None:
        del self.data[key]

    def __contains__(self, key: object) -> bool:
        return key in self.data

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def commit(self, offset: int, ts: float) -> None:
        """Store the writes since the last commit as the entry of the batch starting at ``offset``."""
        self.last_offset = offset
        if self._writes:
            self.table[f"{offset:020d}"] = {"t": ts, "w": self._writes}
            self._writes = []

    def commit_timer(self, ts: float, chunk: int = TIMER_WRITES) -> None:
        """Store writes made by a timer (signal upkeep, silences marked), after the last batch's
        entry (``<offset>~<ns>`` sorts after ``<offset>`` and before the next offset), ``chunk``
        writes an entry so one entry stays well under Kafka's message limit."""
        writes, self._writes = self._writes, []
        ns = time.time_ns()
        for n, start in enumerate(range(0, len(writes), chunk)):
            self.table[f"{self.last_offset:020d}~{ns:020d}{n:06d}"] = {"t": ts, "w": writes[start:start + chunk]}

    def rebuild(self) -> None:
        """The dict from the table's entries, in offset order."""
        self.data = {}
        keys = sorted(self.table.keys())
        for key in keys:
            for record_key, value in self.table[key]["w"]:
                self.data[record_key] = value
        self._writes = []
        self.last_offset = int(keys[-1].split("~")[0]) if keys else -1
        self.stale = False

    def purge(self, older_than: float) -> int:
        """Drop table entries written before ``older_than`` (epoch s): their records have expired."""
        old = [key for key, entry in list(self.table.items()) if entry["t"] < older_than]
        for key in old:
            del self.table[key]
        return len(old)


def hop_messages(encoded: list[bytes], limit: int = HOP_BYTES) -> Iterator[bytes]:
    """Encoded enriched items as ``{"items": [...]}`` messages of at most ``limit`` bytes each
    (an item larger than that travels alone)."""
    start, size = 0, 0
    for end, part in enumerate(encoded):
        if end > start and size + len(part) > limit:
            yield b'{"items":[' + b",".join(encoded[start:end]) + b"]}"
            start, size = end, 0
        size += len(part) + 1
    if start < len(encoded):
        yield b'{"items":[' + b",".join(encoded[start:]) + b"]}"


def as_bus_message(message: FaustMessage) -> Message:
    """A Faust message as the stage reads it (Faust keeps timestamps in seconds)."""
    key = message.key.decode("utf-8", "replace") if isinstance(message.key, bytes) else message.key
    stamp = round(message.timestamp * 1000) if message.timestamp else None
    value = message.value if message.value is not None else b""  # a tombstone: dead letter
    return Message(message.topic, message.partition, message.offset, key, None, value, stamp)


def create_app(settings: Settings, config: ProcessorConfig) -> faust.App:
    """The Faust app: topics, the dedupe table and both agents, all named from ``topic_prefix``."""
    bootstrap = settings.kafka_bootstrap
    if not bootstrap:
        raise ConfigError("WIREWATCH_KAFKA_BOOTSTRAP", "required for `wirewatch processor`")
    app = faust.App(
        settings.processor_group,
        broker=[f"kafka://{hp}" for hp in bootstrap.split(",")],
        # the table holds one entry per batch, and recovery replays it into the dict anyway;
        # Faust's RocksDB store also refuses writes made outside an event (the repair path's)
        store="memory://",
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
        settings.dedupe_topic, partitions=1, value_serializer="raw", key_serializer="raw"
    )
    processed_topic = app.topic(settings.processed_topic, value_serializer="raw", key_serializer="raw")
    alerts_topic = app.topic(settings.alerts_topic, value_serializer="raw", key_serializer="raw")
    dead_topic = app.topic(settings.dead_letter_topic, value_serializer="raw", key_serializer="raw")
    # use_partitioner: entries are written after a batch (or a repair), outside any one event's
    # context; the table has one partition, so the producer's partitioner always picks it
    memory = BatchLog(app.Table("dedupe-batches", partitions=1, key_type=str, use_partitioner=True))
    processor = Processor.from_config(config, memory)
    stage = Stage(processor)

    @app.on_rebalance_complete.connect  # type: ignore[arg-type]
    async def rebuild_dedupe_memory(sender: Any, *args: Any, **kwargs: Any) -> None:
        # The table may now hold another worker's batches (recovered from the changelog):
        # the dict and the LSH index are rebuilt from it before the next batch.
        memory.stale = True

    async def send(topic: Any, outputs: list[tuple[str | None, dict[str, Any]]]) -> None:
        # straight to the producer, not Topic.send: Faust's channel wrapping cost 20% of the
        # worker's CPU a message (py-spy, bench/README.md "The Faust path"); offsets are still
        # committed only after app.producer.flush(), so delivery stays at-least-once
        name = topic.get_topic_name()
        for key, value in outputs:
            await app.producer.send(name, key.encode() if key is not None else None, encode(value),
                                    partition=None, timestamp=None, headers=None)

    async def enrich_batch(messages: list[FaustMessage]) -> None:
        received = stage.enrich([as_bus_message(m) for m in messages])
        await send(dead_topic, received.dead_letters)
        for hop in hop_messages([encode(enriched.as_dict()) for enriched in received.enriched]):
            await dedupe_topic.send(key=b"0", value=hop)

    async def dedupe_batch(messages: list[FaustMessage]) -> None:
        if memory.stale:
            memory.rebuild()
            processor.reset_memory()
        for message in messages:  # one table entry per hop message: its offset is the entry's key
            out = stage.finish(processor.enriched_from_dicts(decode(message.value)["items"]))
            memory.commit(message.offset, time.time())
            await send(processed_topic, out.processed)
            await send(alerts_topic, out.alerts)

    reader = PartitionReader(str(bootstrap))

    def ack(msg: FaustMessage) -> None:
        app.consumer.ack(msg)

    guards = {
        raw_topic.get_topic_name(): OffsetGuard(reader, settings.processor_group, enrich_batch, ack),
        dedupe_topic.get_topic_name(): OffsetGuard(reader, settings.processor_group, dedupe_batch, ack),
    }

    @app.agent(raw_topic)
    async def enrich(stream: Any) -> None:
        guard = guards[raw_topic.get_topic_name()]
        async for events in stream.take_events(TAKE, within=TAKE_SECONDS):
            await guard.process([event.message for event in events])

    @app.agent(dedupe_topic, concurrency=1)
    async def dedupe(stream: Any) -> None:
        guard = guards[dedupe_topic.get_topic_name()]
        async for events in stream.take_events(TAKE, within=TAKE_SECONDS):
            await guard.process([event.message for event in events])

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

    watcher = RulesWatcher(config.rules, processor)

    @app.timer(interval=RULES_CHECK_SECONDS)
    async def reload_rules() -> None:
        watcher.check()

    @app.timer(interval=LAG_SECONDS)
    async def export_lag() -> None:
        """``wirewatch_consumer_lag`` for this worker's partitions (what Grafana's lag panel shows)."""
        consumer = app.consumer
        group = settings.processor_group
        for tp in consumer.assignment():
            if tp.topic not in (settings.raw_topic, settings.dedupe_topic):
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
        if not memory.stale:
            processor.purge()  # signal upkeep included: it rewrites what the purge below would drop
            memory.commit_timer(time.time())
            memory.purge(time.time() - processor.deduper.window)

    def owns_dedupe() -> bool:
        return any(tp.topic == dedupe_topic.get_topic_name() for tp in app.consumer.assignment())

    @app.timer(interval=SILENCE_CHECK_SECONDS)
    async def check_silences() -> None:
        """Silence rules on the worker owning the dedupe partition (their state is its memory).
        Published before they are marked: a crash in between sends the same ids again, which
        the notifier drops."""
        if not processor.signals.active or app.rebalancing or app.in_recovery or not owns_dedupe():
            return  # the memory is only whole once the changelog is recovered
        if memory.stale:
            memory.rebuild()
            processor.reset_memory()
        due = stage.due_silences()
        if due:
            await send(alerts_topic, due)
            await app.producer.flush()
        stage.silences_sent(due)
        memory.commit_timer(time.time())

    return app


def make_worker(app: faust.App, settings: Settings) -> faust.Worker:
    """A Faust worker for ``app`` that leaves logging as :func:`configure_logging` set it.

    ``override_logging=False``: Faust and mode log through the root logger's structlog
    handler (one format with ours, their INFO cut unless WIREWATCH_LOG_LEVEL=debug) instead
    of replacing it with colorlog. No terminal spinner: with it, at "warning" and above Faust
    set the root logger to DEBUG for the spinner's handler, and every aiokafka/Faust debug
    call then built a LogRecord (8% of a busy worker's time, measured with py-spy;
    tests/processors/test_faust_worker_logging.py).
    """
    loglevel = "warning" if settings.log_level in ("warning", "error") else "info"
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, override_logging=False)
    worker.spinner = None
    return worker


def run_worker(args: argparse.Namespace) -> int:
    """``wirewatch processor``: set up topics and metrics, then run a Faust worker."""
    from wirewatch.processors.cli import processor_config

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    app = create_app(settings, processor_config(args))
    specs = [*standard_topics(settings), TopicSpec(settings.dedupe_topic, 1)]
    bootstrap = str(settings.kafka_bootstrap)
    # Kafka waited for here, one line a try (core/reach.py); Faust's own start then finds it
    if not asyncio.run(until_reachable_or_signalled(lambda: ensure_topics(bootstrap, specs), settings)):
        return 0
    if settings.metrics_port:
        port = metrics.serve_metrics(settings.metrics_port, settings.metrics_host)
        log.info("metrics endpoint", port=port)
    os.makedirs(settings.data_dir / "faust", exist_ok=True)
    log.info("processor starting", group=settings.processor_group, raw_topic=settings.raw_topic)
    make_worker(app, settings).execute_from_commandline()
    return 0
