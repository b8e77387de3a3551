"""``wirewatch run``: pollers, processor, indexer and notifier in one process.

The stages are the production classes (:class:`~wirewatch.pollers.poller.Poller`,
:class:`~wirewatch.processors.stage.Stage`, :class:`~wirewatch.sinks.indexer.Indexer`,
:class:`~wirewatch.sinks.notifier.Notifier`) wired to adapters:

* no ``WIREWATCH_KAFKA_BOOTSTRAP``: :class:`~wirewatch.bus.memory.MemoryBus`
  persisted in ``<data_dir>/wirewatch.db``; with it, Kafka;
* no ``WIREWATCH_ELASTICSEARCH_URL``: :class:`SqliteStore` (FTS5) in the same
  file; with it, Elasticsearch.

Restart semantics on the embedded bus (one SQLite file, WAL): a poll's items
and its source state are written in one transaction; the processor writes its
dedupe memory, its outputs and its input offsets in one transaction; the
indexer's writes are idempotent (newest revision wins) and committed before
its offsets; the notifier records each delivery before committing offsets.
So a SIGTERM or a SIGKILL loses nothing and re-emits nothing.

A data file that exists but is empty or damaged stops the start (:class:`StoreDamaged`, exit 2)
unless ``--fresh-store`` moves it aside; delivered alerts are also kept in ``delivered.db``
(:mod:`wirewatch.embedded.delivered`), so starting afresh sends no webhook twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import signal
import sqlite3
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wirewatch.bus.base import Publisher, Subscriber, batches_until
from wirewatch.bus.memory import MemoryBus, MemorySubscriber
from wirewatch.core.config import Settings
from wirewatch.core.errors import ConfigError
from wirewatch.core.logging import get_logger
from wirewatch.core.sqlite import (
    DB_FILE,
    Database,
    SqliteKV,
    StoreDamaged,
    check_file,
    is_damage,
    move_aside,
)
from wirewatch.embedded.console import attach
from wirewatch.embedded.delivered import DELIVERED_FILE, AlsoToFile, DeliveredFile
from wirewatch.embedded.web import AlertRing, AlertSource, create_app, start_web
from wirewatch.pollers.config import SourcesConfig, load_sources
from wirewatch.pollers.health import SourceHealth, SourceStatus
from wirewatch.pollers.state import SourceState
from wirewatch.processors.pipeline import (
    NerMode,
    Processor,
    ProcessorConfig,
    ProcessorParts,
    ProcessResult,
)
from wirewatch.processors.rules import RuleSet
from wirewatch.processors.stage import RulesWatcher, Stage, StageOutput
from wirewatch.sinks.notifier import DeliveredLog
from wirewatch.sinks.sqlite import SqliteStore
from wirewatch.sinks.store import ItemStore

log = get_logger("embedded.runner")

DRAIN_SECONDS = 10.0
STOP_INPUTS_SECONDS = 3.0


@dataclass(frozen=True)
class RunOptions:
    """What ``wirewatch run`` was asked to do (paths already given by the user)."""

    sources: Path
    rules: Path
    destinations: Path | None = None
    watchlist: Path | None = None
    ner: NerMode = "auto"
    web: tuple[str, int] | None = ("127.0.0.1", 8750)
    #: an empty or damaged data file is moved aside and a new one started (else: exit 2)
    fresh_store: bool = False
    #: extra ``Host`` names the page answers to (``--web-allowed-hosts``)
    allowed_hosts: tuple[str, ...] = ()


@dataclass
class LoadedConfig:
    sources: SourcesConfig
    processor: ProcessorParts
    destinations: dict[str, Any]

    def check_notify(self, rules: RuleSet, path: Path, destinations_path: Path | None) -> None:
        """Every ``notify:`` of ``rules`` names a destination (ConfigError otherwise).

        Without ``--destinations`` nothing is checked: alerts are then stored and shown, not sent
        (``wirewatch run`` says so once at start), so the shipped rules run as they are.
        """
        if destinations_path is None:
            return
        for rule in rules.rules:
            for name in rule.notify:
                if name not in self.destinations:
                    where = str(destinations_path) if destinations_path else "--destinations"
                    raise ConfigError(f"{path}: rule {rule.id}", f"notifies {name!r}, which is not defined in {where}")


def load_config(options: RunOptions) -> LoadedConfig:
    """Read every config file up front: any mistake is one ConfigError line before anything starts."""
    from wirewatch.sinks.destinations import load_destinations

    sources = load_sources(options.sources)
    # `--ner on` without a model, a bad watchlist or rule: a config error now, not later
    processor = ProcessorConfig(rules=options.rules, watchlist=options.watchlist, ner=options.ner).load()
    destinations = load_destinations(options.destinations) if options.destinations else {}
    config = LoadedConfig(sources, processor, destinations)
    config.check_notify(processor.rules, options.rules, options.destinations)
    return config


@contextlib.contextmanager
def data_dir_lock(data_dir: Path) -> Iterator[None]:
    """One ``wirewatch run`` per data folder (the OS drops the lock if the process dies)."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        handle = (data_dir / "run.lock").open("a+")
    except OSError as exc:
        raise ConfigError(str(data_dir), f"cannot use the data folder: {exc}") from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ConfigError(str(data_dir), "another `wirewatch run` is using this data folder") from None
        yield
    finally:
        handle.close()


class EmbeddedPollSink:
    """Publisher + poll StateStore over one SQLite file: a poll's items and state commit together.

    The poller publishes a source's items (keyed by source id) and then saves
    its state; here the items wait in memory until :meth:`save`, which appends
    them to the bus and stores the state in one transaction.
    """

    def __init__(self, db: Database, bus: MemoryBus, state: SqliteKV) -> None:
        self.db = db
        self.bus = bus
        self.state = state
        self._pending: dict[str, list[tuple[str, Any]]] = defaultdict(list)
        self.saves: dict[str, int] = defaultdict(int)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self._pending.clear()  # unsaved polls are simply polled again

    async def publish(self, topic: str, value: Any, key: str | None = None) -> None:
        if key is None:
            self.bus.append(topic, value)
        else:
            self._pending[key].append((topic, value))

    async def publish_many(self, topic: str, messages: Iterable[tuple[str | None, Any]]) -> None:
        for key, value in messages:
            await self.publish(topic, value, key)

    async def load(self, source_id: str) -> SourceState:
        data = self.state.get(source_id)
        if data is None:
            return SourceState(source_id)
        try:
            return SourceState.from_json(data, source_id)
        except ValueError as exc:
            log.warning("poll state unreadable; starting the source afresh", source=source_id, reason=str(exc))
            return SourceState(source_id)

    async def save(self, state: SourceState) -> None:
        with self.db.transaction():
            for topic, value in self._pending.pop(state.source_id, []):
                self.bus.append(topic, value, state.source_id)
            self.state[state.source_id] = state.to_json()
        self.saves[state.source_id] += 1


class SqlitePollState:
    """Poll state in SQLite when the bus is Kafka (publish first, then save: at-least-once)."""

    def __init__(self, state: SqliteKV) -> None:
        self.state = state

    async def load(self, source_id: str) -> SourceState:
        data = self.state.get(source_id)
        return SourceState.from_json(data, source_id) if data is not None else SourceState(source_id)

    async def save(self, state: SourceState) -> None:
        self.state[state.source_id] = state.to_json()


#: Seconds of the status line's items/s: the current rate, not an average since the start.
RATE_WINDOW = 30.0


@dataclass
class Stats:
    """This session's counters (the terminal view, the stop summary, the demo).

    They count what this process did since it started; the store's totals (which include
    earlier sessions) are asked of the store.
    """

    clock: Callable[[], float] = time.monotonic
    started: float = -1.0
    processed: int = 0
    verdicts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    alert_ids: set[str] = field(default_factory=set)
    """Alerts raised, by id: a folded copy of an alerted story raises its story's alert again."""
    delivered: int = 0
    """Webhook deliveries that got a 2xx (not throttled, not dead-lettered)."""
    dead_letters: int = 0
    recent: deque[tuple[float, int]] = field(default_factory=deque)
    """(time, items) of each batch within :data:`RATE_WINDOW`."""

    def __post_init__(self) -> None:
        if self.started < 0:
            self.started = self.clock()

    def add(self, results: list[ProcessResult], dead: int = 0) -> None:
        self.processed += len(results)
        for r in results:
            self.verdicts[r.item["dedupe"]["status"]] += 1
            self.alert_ids.update(a["id"] for a in r.alerts)
        self.dead_letters += dead
        now = self.clock()
        self.recent.append((now, len(results)))
        self._forget(now)

    def _forget(self, now: float) -> None:
        while self.recent and now - self.recent[0][0] > RATE_WINDOW:
            self.recent.popleft()

    @property
    def alerts(self) -> int:
        return len(self.alert_ids)

    @property
    def stories(self) -> int:
        """New stories this session (items that started one)."""
        return self.verdicts.get("new", 0)

    @property
    def folded(self) -> int:
        return self.verdicts.get("duplicate", 0) + self.verdicts.get("near_duplicate", 0)

    def rate(self) -> float:
        """Items per second over the last :data:`RATE_WINDOW` seconds (since the start, before that)."""
        now = self.clock()
        self._forget(now)
        window = min(RATE_WINDOW, max(now - self.started, 1.0))
        return sum(n for _, n in self.recent) / window

    def runtime(self) -> float:
        return self.clock() - self.started


class ProcessorDriver:
    """Raw topic -> :class:`Stage` -> processed, alerts and dead-letter topics.

    On the embedded bus the dedupe memory, the outputs and the input offsets commit in one
    SQLite transaction; on Kafka outputs are published before the offsets are committed.
    """

    def __init__(
        self,
        stage: Stage,
        subscriber: Subscriber,
        publisher: Publisher,
        db: Database,
        settings: Settings,
        stats: Stats,
        listeners: list[Callable[[ProcessResult], None]],
    ) -> None:
        self.stage = stage
        self.subscriber = subscriber
        self.publisher = publisher
        self.db = db
        self.settings = settings
        self.stats = stats
        self.listeners = listeners

    def _outputs(self, out: StageOutput) -> list[tuple[str, list[tuple[str | None, Any]]]]:
        s = self.settings
        return [(s.processed_topic, out.processed), (s.alerts_topic, out.alerts),
                (s.dead_letter_topic, out.dead_letters)]

    async def run(self, stop: asyncio.Event) -> None:
        async for batch in batches_until(self.subscriber, stop, 200):
            if isinstance(self.publisher, MemoryBus) and isinstance(self.subscriber, MemorySubscriber):
                with self.db.transaction():  # dedupe memory, outputs and input offsets: all or nothing
                    out = self.stage.process(batch)
                    for topic, messages in self._outputs(out):
                        for key, value in messages:
                            self.publisher.append(topic, value, key)
                    self.subscriber.commit_now()
            else:
                with self.db.transaction():
                    out = self.stage.process(batch)
                for topic, messages in self._outputs(out):
                    if messages:
                        await self.publisher.publish_many(topic, messages)
                await self.subscriber.commit()
            self.stats.add(out.results, len(out.dead_letters))
            for result in out.results:
                for listener in self.listeners:
                    listener(result)


async def watch_rules(watcher: RulesWatcher, stop: asyncio.Event) -> None:
    """Reload the rules file when it changes, until ``stop``."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=watcher.every)
        if not stop.is_set():
            watcher.check()


@dataclass
class Runner:
    """The whole pipeline in one process; :meth:`run` until ``stop`` is set."""

    options: RunOptions
    settings: Settings
    config: LoadedConfig | None = None
    processor: Processor | None = None
    stats: Stats = field(default_factory=Stats)
    listeners: list[Callable[[ProcessResult], None]] = field(default_factory=list)
    web_url: str | None = None
    store: ItemStore | None = None
    bus: MemoryBus | None = None
    poll_sink: EmbeddedPollSink | None = None
    db: Database | None = None
    health: SourceHealth | None = None
    """Per-source poll health (the console's /sources page, the terminal view, the gauges)."""
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    stopping: bool = False
    """Told to stop: the inputs stop, then the indexer and notifier drain (bounded)."""
    hurry: asyncio.Event = field(default_factory=asyncio.Event)
    """Set by a second Ctrl-C: stop without draining (nothing is lost, the rest waits for the next start)."""

    @property
    def embedded_bus(self) -> bool:
        return not self.settings.kafka_bootstrap

    @property
    def embedded_store(self) -> bool:
        return not self.settings.elasticsearch_url

    def groups(self) -> dict[str, list[str]]:
        """Consumer group -> topics of each stage that runs (no notifier without destinations)."""
        s = self.settings
        groups = {
            s.processor_group: [s.raw_topic],
            s.indexer_group: [s.processed_topic, s.alerts_topic, s.delivered_topic],
        }
        if self.config is None or self.config.destinations:
            groups[s.notifier_group] = [s.alerts_topic]
        return groups

    def lag(self, *, sinks_only: bool = False) -> int:
        """Messages not yet committed by some stage (embedded bus only); ``sinks_only``: by the
        indexer and notifier (what a stop drains: the processor has stopped with the inputs)."""
        if self.bus is None:
            return 0
        groups = self.groups()
        if sinks_only:
            groups.pop(self.settings.processor_group)
        return sum(self.bus.lag(g, t) for g, topics in groups.items() for t in topics)

    def source_health(self) -> list[SourceStatus]:
        """Each source's poll health (consecutive failures, last error), in the sources' order."""
        return self.health.snapshot() if self.health is not None else []

    def delivered_outcomes(self) -> dict[str, str]:
        """Latest outcome per delivery key still on the embedded bus's delivered topic."""
        if self.bus is None:
            return {}
        return {m.key: str(m.value.get("outcome", "delivered")) if isinstance(m.value, dict) else "delivered"
                for m in self.bus.messages(self.settings.delivered_topic) if m.key}

    async def run(self, stop: asyncio.Event) -> None:
        """Start every stage, run until ``stop``, then drain the sinks and close everything.

        Damage met on the way (at start after the check, or by a stage) ends it with the
        one-line :class:`StoreDamaged` (exit 2): the next start checks the file and refuses.
        ``stop`` set while starting abandons the start (nothing runs yet, so nothing is lost).
        """
        running = asyncio.create_task(self._run_checked(stop), name="wirewatch-run")
        stopped = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait([running, stopped], return_when=asyncio.FIRST_COMPLETED)
            if not running.done() and not self.ready.is_set():
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await running
                log.info("stopped while starting")
                return
            self.stopping = True
            await running
        finally:
            stopped.cancel()
            if not running.done():  # cancelled from outside
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await running

    async def _run_checked(self, stop: asyncio.Event) -> None:
        try:
            await self._run(stop)
        except sqlite3.DatabaseError as exc:
            if not is_damage(exc):
                raise
            if self.db is not None:
                raise self.db.damaged(exc) from None
            raise StoreDamaged(self.settings.data_dir / DB_FILE, f"damaged: {exc}") from None

    async def _run(self, stop: asyncio.Event) -> None:
        config = self.config or load_config(self.options)
        self.config = config
        s = self.settings
        async with contextlib.AsyncExitStack() as stack:
            stack.enter_context(data_dir_lock(s.data_dir))
            self.db = db = self._open_data()
            stack.callback(db.close)
            # kept in the data file: failures, last success and item times survive a restart
            self.health = SourceHealth(config.sources.sources, store=SqliteKV(db, "source-health"))
            publisher: Publisher
            poll_publisher: Publisher
            if self.embedded_bus:
                self.bus = bus = MemoryBus(partitions=1, conn=db.conn)
                self.poll_sink = sink = EmbeddedPollSink(db, bus, SqliteKV(db, "poll-state"))
                publisher, poll_publisher, state_store = bus, sink, sink
            else:
                kafka = await self._kafka(stack, stop)
                if kafka is None:  # stopped while waiting for Kafka
                    return
                publisher, poll_publisher, state_store = kafka
            reached = await self._store(stack, db, stop)
            if reached is None:  # stopped while waiting for Elasticsearch
                return
            self.store = store = reached
            delivered_file = self._delivered_file(stack) if self.embedded_bus and config.destinations else None

            self.processor = Processor.from_config(config.processor, SqliteKV(db, "dedupe"))
            alerts_view: AlertSource = store if isinstance(store, SqliteStore) else AlertRing()
            if isinstance(alerts_view, AlertRing):
                self.listeners.append(_feed(alerts_view))

            if self.options.web is not None:
                host, port = self.options.web
                app = create_app(store, alerts_view, database=db, allowed_hosts=self.options.allowed_hosts)
                attach(app, health=self.health, rules=lambda: self.processor.rules.rules if self.processor else [])
                web_runner, self.web_url = await start_web(app, host, port)
                stack.push_async_callback(web_runner.cleanup)

            stop_inputs = asyncio.Event()
            stop_sinks = asyncio.Event()
            tasks: list[asyncio.Task[None]] = []
            tasks.append(asyncio.create_task(self._pollers(poll_publisher, state_store, stop_inputs), name="pollers"))
            tasks.append(asyncio.create_task(self._processor(publisher, stack, stop_inputs), name="processor"))
            tasks.append(asyncio.create_task(self._indexer(publisher, store, stack, stop_sinks), name="indexer"))
            if config.destinations:
                tasks.append(asyncio.create_task(
                    self._notifier(publisher, config.destinations, stack, stop_sinks, delivered_file),
                    name="notifier"))
            log.info("wirewatch run started", sources=len(config.sources.sources),
                     rules=len(config.processor.rules.rules), destinations=sorted(config.destinations),
                     bus="memory" if self.embedded_bus else "kafka",
                     store="sqlite" if self.embedded_store else "elasticsearch",
                     data_dir=str(s.data_dir), web=self.web_url)
            self.ready.set()
            stopper = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
            failed = [t for t in done if t is not stopper and not t.cancelled() and t.exception() is not None]
            stop_inputs.set()
            # A poll or batch cut short is harmless (its items and state commit together), so
            # inputs get a bounded grace period, then are cancelled.
            _, late = await asyncio.wait(tasks[:2], timeout=STOP_INPUTS_SECONDS)
            for pending in late:
                pending.cancel()
            await asyncio.gather(*tasks[:2], return_exceptions=True)
            if not failed:
                await self._drain()
            stop_sinks.set()
            if failed:
                # After a stage failed the notifier's pending read did not always end when told to
                # stop (seen: `run` hanging instead of exiting 2; test_store_damage.py, the stage
                # test), so the sinks get the same bounded grace period as the inputs.
                _, late = await asyncio.wait(tasks, timeout=STOP_INPUTS_SECONDS)
                for pending in late:
                    pending.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            stopper.cancel()
            for task in failed:
                exc = task.exception() if not task.cancelled() else None
                if exc is not None:
                    raise exc

    async def _drain(self) -> None:
        """Let the indexer and notifier finish what the processor produced (bounded)."""
        if self.bus is None:
            return
        deadline = time.monotonic() + DRAIN_SECONDS
        while self.lag(sinks_only=True) and time.monotonic() < deadline and not self.hurry.is_set():
            await asyncio.sleep(0.05)

    # -- wiring --------------------------------------------------------------
    def _open_data(self) -> Database:
        """The data folder's database, checked; an empty or damaged file stops here unless told to start afresh.

        ``delivered.db`` is checked the same way (moving it aside would let alerts be sent again,
        so it too needs ``--fresh-store``). A missing file is a first run.
        """
        for name in (DB_FILE, DELIVERED_FILE):
            path = self.settings.data_dir / name
            state = check_file(path, "thorough")
            if state in ("ok", "missing"):
                continue
            if not self.options.fresh_store:
                raise StoreDamaged(path, state)
            moved = move_aside(path)
            log.warning("data file empty or damaged: moved aside, starting afresh (--fresh-store)",
                        path=str(path), state=state, moved_to=str(moved))
        return Database.in_dir(self.settings.data_dir)

    async def _kafka(self, stack: contextlib.AsyncExitStack,
                     stop: asyncio.Event) -> tuple[Publisher, Publisher, Any] | None:
        """The Kafka publisher, once Kafka answers (one line a try until then); None if stopped first."""
        from wirewatch.bus.kafka import KafkaPublisher, TopicSpec, ensure_topics, standard_topics
        from wirewatch.core.reach import until_reachable
        s = self.settings
        assert s.kafka_bootstrap and self.db is not None
        bootstrap = s.kafka_bootstrap
        topics = [*standard_topics(s), TopicSpec(s.delivered_topic, s.topic_partitions, {"cleanup.policy": "compact"})]
        if not await until_reachable(lambda: ensure_topics(bootstrap, topics), s, stop):
            return None
        publisher = KafkaPublisher(s.kafka_bootstrap)
        stack.push_async_callback(publisher.stop)
        await publisher.start()
        return publisher, publisher, SqlitePollState(SqliteKV(self.db, "poll-state"))

    async def _store(self, stack: contextlib.AsyncExitStack, db: Database, stop: asyncio.Event) -> ItemStore | None:
        """The item store, set up (Elasticsearch waited for like Kafka); None if stopped first."""
        if self.embedded_store:
            store = SqliteStore(db=db)
            await store.setup()
            return store
        from wirewatch.core.reach import until_reachable
        from wirewatch.sinks.elasticsearch import ElasticsearchStore

        assert self.settings.elasticsearch_url
        es = ElasticsearchStore.from_url(self.settings.elasticsearch_url, self.settings.index_prefix)
        stack.push_async_callback(es.close)
        return es if await until_reachable(es.setup, self.settings, stop) else None

    def _subscriber(self, topics: list[str], group: str) -> Subscriber:
        if self.bus is not None:
            return self.bus.subscriber(topics, group)
        from wirewatch.bus.kafka import KafkaSubscriber

        assert self.settings.kafka_bootstrap
        return KafkaSubscriber(self.settings.kafka_bootstrap, topics, group)

    async def _started(self, stack: contextlib.AsyncExitStack, subscriber: Subscriber) -> Subscriber:
        stack.push_async_callback(subscriber.stop)  # first: a start that fails is closed too
        await subscriber.start()
        return subscriber

    async def _pollers(self, publisher: Publisher, state: Any, stop: asyncio.Event) -> None:
        from wirewatch.pollers.poller import Poller, make_fetcher

        assert self.config is not None
        sources = self.config.sources
        fetcher = make_fetcher(sources.fetch, self.settings.user_agent)
        try:
            poller = Poller(
                state=state, fetcher=fetcher, publisher=publisher, raw_topic=self.settings.raw_topic,
                dead_letter_topic=self.settings.dead_letter_topic, concurrency=sources.fetch.concurrency,
                stop=stop, health=self.health,
            )
            await poller.run(sources.sources)
        finally:
            closer = getattr(fetcher, "aclose", None) or getattr(fetcher, "close", None)
            if closer is not None:
                result = closer()
                if asyncio.iscoroutine(result):
                    await result

    async def _processor(self, publisher: Publisher, stack: contextlib.AsyncExitStack, stop: asyncio.Event) -> None:
        assert self.config is not None and self.db is not None and self.processor is not None
        config, options = self.config, self.options
        group, topics = next(iter(self.groups().items()))
        subscriber = await self._started(stack, self._subscriber(topics, group))
        driver = ProcessorDriver(Stage(self.processor), subscriber, publisher, self.db, self.settings,
                                 self.stats, self.listeners)
        watcher = RulesWatcher(options.rules, self.processor,
                               check=lambda rules: config.check_notify(rules, options.rules, options.destinations))
        watching = asyncio.create_task(watch_rules(watcher, stop))
        try:
            await driver.run(stop)
        finally:
            watching.cancel()

    async def _indexer(self, publisher: Publisher, store: ItemStore, stack: contextlib.AsyncExitStack,
                       stop: asyncio.Event) -> None:
        from wirewatch.sinks.indexer import Indexer

        s = self.settings
        subscriber = await self._started(
            stack, self._subscriber(self.groups()[s.indexer_group], s.indexer_group))
        indexer = Indexer(subscriber, store, publisher, items_topic=s.processed_topic,
                          alerts_topic=s.alerts_topic, dead_letter_topic=s.dead_letter_topic,
                          deliveries_topic=s.delivered_topic)
        await indexer.run(stop)

    def _delivered_file(self, stack: contextlib.ExitStack | contextlib.AsyncExitStack) -> DeliveredFile:
        """``delivered.db``, opened before any stage runs: the indexer trims the bus's delivered
        topic once it stored the records, so a data folder from before delivered.db is read first."""
        delivered = DeliveredFile(self.settings.data_dir / DELIVERED_FILE)
        stack.callback(delivered.close)
        # a data folder from before delivered.db: keep its deliveries (the file's rows win)
        delivered.add_known(self.delivered_outcomes())
        return delivered

    async def _notifier(self, publisher: Publisher, destinations: Mapping[str, Any],
                        stack: contextlib.AsyncExitStack, stop: asyncio.Event,
                        delivered: DeliveredFile | None = None) -> None:
        from wirewatch.sinks.notifier import Notifier, done_keys

        s = self.settings
        topic = s.delivered_topic
        record: Publisher = publisher
        if delivered is not None:
            known: Iterable[str] = delivered.keys()
            records: Mapping[str, Any] = delivered.digest_records()  # open digests are rebuilt from them
            record = AlsoToFile(delivered, publisher)
        else:
            from wirewatch.bus.kafka import read_latest

            assert s.kafka_bootstrap
            records = await read_latest(s.kafka_bootstrap, topic)
            known = done_keys(records)
        subscriber = await self._started(stack, self._subscriber([s.alerts_topic], s.notifier_group))
        notifier = Notifier(subscriber, destinations, publisher, CountingLog(self.stats, record, topic, known),
                            dead_letter_topic=s.dead_letter_topic, records=records)
        await notifier.run(stop)


class CountingLog(DeliveredLog):
    """The notifier's delivered set, also counting this session's deliveries for :class:`Stats`."""

    def __init__(self, stats: Stats, publisher: Publisher, topic: str, known: Iterable[str]) -> None:
        super().__init__(publisher, topic, known)
        self.stats = stats

    async def add(self, key: str, record: dict[str, Any]) -> None:
        await super().add(key, record)
        if record.get("outcome") == "delivered":
            self.stats.delivered += 1


def _feed(ring: AlertRing) -> Callable[[ProcessResult], None]:
    """A listener putting every alert the processor raises on the page's ring."""

    def add(result: ProcessResult) -> None:
        for alert in result.alerts:
            ring.add(alert)

    return add


class Signals:
    """SIGINT/SIGTERM handled on the loop: the first sets ``stop``, another while stopping hurries."""

    def __init__(self, runner: Runner, stop: asyncio.Event, *, then_ignore: bool = False) -> None:
        self.runner = runner
        self.stop = stop
        self.then_ignore = then_ignore
        """After the run, ignore them (a command about to exit: one more Ctrl-C is no traceback)."""
        self.received: list[signal.Signals] = []
        self._installed: list[signal.Signals] = []

    def __enter__(self) -> Signals:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self._on_signal, sig)
                self._installed.append(sig)
        return self

    def __exit__(self, *exc: object) -> None:
        loop = asyncio.get_running_loop()
        for sig in self._installed:
            loop.remove_signal_handler(sig)
            if self.then_ignore:
                signal.signal(sig, signal.SIG_IGN)

    def _on_signal(self, sig: signal.Signals) -> None:
        self.received.append(sig)
        if self.stop.is_set():
            self.runner.hurry.set()
        self.stop.set()

    @property
    def first(self) -> signal.Signals | None:
        return self.received[0] if self.received else None


async def run_until_signalled(runner: Runner, stop: asyncio.Event | None = None,
                              signals: Signals | None = None) -> signal.Signals | None:
    """Run until SIGINT/SIGTERM (or ``stop``): a clean shutdown, never a traceback.

    Returns the signal that stopped it (None: ``stop`` was set, or a stage ended it). A second
    SIGINT or SIGTERM while stopping skips the drain (:attr:`Runner.hurry`). ``signals``: handlers
    the caller installed earlier (so a Ctrl-C before the run starts is one of them too).
    """
    if signals is not None:
        await runner.run(signals.stop)
        return signals.first
    with Signals(runner, stop or asyncio.Event()) as handled:
        await runner.run(handled.stop)
    return handled.first
