"""The Faust processor on the real Kafka: end to end, crash and restart, dead letters, rule reload, two workers.

Workers are real ``wirewatch processor`` subprocesses. They are slow to start
(group rebalance), so each test reuses its workers for several checks, and
every wait is bounded by a deadline.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from wirewatch.bus.base import encode
from wirewatch.bus.kafka import ensure_topics, standard_topics
from wirewatch.core.config import Settings
from wirewatch.processors.dedupe import Deduper
from wirewatch.processors.entities import EntityTagger
from wirewatch.processors.pipeline import Processor
from wirewatch.processors.rules import load_rules

pytestmark = pytest.mark.kafka
FIX = Path(__file__).resolve().parent.parent / "fixtures" / "processors"
STARTUP_DEADLINE = 90.0
STORY = (FIX / "raw_items.jsonl").read_text("utf-8").splitlines()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def story(n: int, source: str = "wire", body_extra: str = "") -> dict[str, Any]:
    """A distinct story per n (different words, so no two are near-duplicates)."""
    words = " ".join(f"w{n}x{i}" for i in range(40))
    return {
        "id": f"{source}-{n}",
        "source": {"id": source},
        "url": f"https://{source}.example/story/{n}",
        "title": f"Story number {n}",
        "body": f"{words} {body_extra}".strip(),
        "published_at": "2025-03-01T12:00:00Z",
    }


class Collector:
    """Reads processed, alerts and dead-letter topics in the background."""

    def __init__(self, settings: Settings, bootstrap: str) -> None:
        self.settings = settings
        self.bootstrap = bootstrap
        self.messages: dict[str, list[dict[str, Any]]] = {"processed": [], "alerts": [], "dead": []}
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Collector:
        s = self.settings
        self.names = {s.processed_topic: "processed", s.alerts_topic: "alerts", s.dead_letter_topic: "dead"}
        self.consumer = AIOKafkaConsumer(*self.names, bootstrap_servers=self.bootstrap, auto_offset_reset="earliest")
        await self.consumer.start()
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=200)
            for tp, msgs in batches.items():
                for m in msgs:
                    self.messages[self.names[tp.topic]].append(json.loads(m.value))

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await self.consumer.stop()

    def processed(self) -> dict[str, dict[str, Any]]:
        """Latest processed item per id."""
        return {m["id"]: m for m in self.messages["processed"]}

    async def wait(self, what: str, cond: Callable[[], bool], deadline: float = 60.0) -> None:
        end = time.monotonic() + deadline
        while not cond():
            if time.monotonic() > end:
                seen = {topic: [m.get("id") for m in msgs] for topic, msgs in self.messages.items()}
                pytest.fail(f"timed out after {deadline:.0f} s waiting for {what}; ids seen: {json.dumps(seen)}")
            await asyncio.sleep(0.2)


@pytest.fixture
def settings(topic_prefix: str, kafka_bootstrap: str) -> Settings:
    return Settings(kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix, topic_partitions=3)


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text((FIX / "rules.yaml").read_text("utf-8"), "utf-8")
    return path


@pytest.fixture
def start_worker(wirewatch_bin: str, wirewatch_env: dict[str, str], settings: Settings, rules_file: Path, tmp_path: Path,
                 stop_process_group: Callable[..., None]) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(name: str, metrics_port: int = 0) -> subprocess.Popen[bytes]:
        env = dict(wirewatch_env)
        env.update(
            WIREWATCH_KAFKA_BOOTSTRAP=str(settings.kafka_bootstrap),
            WIREWATCH_TOPIC_PREFIX=settings.topic_prefix,
            WIREWATCH_TOPIC_PARTITIONS=str(settings.topic_partitions),
            WIREWATCH_DATA_DIR=str(tmp_path / f"data-{name}"),
            WIREWATCH_METRICS_PORT=str(metrics_port),
        )
        log = open(tmp_path / f"worker-{name}-{len(procs)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [wirewatch_bin, "processor", "--rules", str(rules_file), "--ner", "off"],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        stop_process_group(proc)
    # pytest shows this only when the test failed: what each worker said, last lines first to read
    for log_path in sorted(tmp_path.glob("worker-*.log")):
        lines = log_path.read_text("utf-8", "replace").splitlines()
        print(f"--- {log_path.name} (last 60 of {len(lines)} lines)", *lines[-60:], sep="\n")


@pytest.fixture
async def producer(kafka_bootstrap: str, settings: Settings) -> AsyncIterator[Callable[..., Any]]:
    await ensure_topics(kafka_bootstrap, standard_topics(settings))
    prod = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True, acks="all")
    await prod.start()

    async def send(item: dict[str, Any] | str, key: str | None = None) -> None:
        value = item.encode() if isinstance(item, str) else encode(item)
        if key is None:
            key = "broken" if isinstance(item, str) else item["source"]["id"]
        await prod.send_and_wait(settings.raw_topic, value, key=key.encode())

    try:
        yield send
    finally:
        await prod.stop()


async def test_end_to_end_crash_restart_dead_letter_and_rule_reload(
    settings: Settings, kafka_bootstrap: str, producer: Callable[..., Any], start_worker: Callable[..., subprocess.Popen[bytes]], rules_file: Path
) -> None:
    async with Collector(settings, kafka_bootstrap) as out:
        worker = start_worker("a")
        # the CLI fixture, broken lines included; one key keeps it in order across sources
        # (order between partitions is arrival order, which a fixture cannot pin)
        for line in STORY:
            await producer(line if not line.startswith("{") else json.loads(line), key="fixture")
        await out.wait("the fixture items", lambda: {"wire-1", "mirror-1", "agg-1", "other-1"} <= out.processed().keys() and len(out.messages["dead"]) == 2, STARTUP_DEADLINE)
        got = out.processed()
        assert {k: (v["dedupe"]["status"], v["dedupe"]["of"]) for k, v in got.items()} == {
            "wire-1": ("new", None), "mirror-1": ("near_duplicate", "wire-1"), "agg-1": ("duplicate", "wire-1"),
            "live-1": ("update", "live-1"), "other-1": ("new", None),
        }
        reasons = sorted(d["reason"].split(":")[0] for d in out.messages["dead"])
        assert reasons == ["invalid JSON", "not a valid raw_item"]
        assert all(d["stage"] == "processor" and d["topic"] == settings.raw_topic for d in out.messages["dead"])
        assert {a["id"] for a in out.messages["alerts"]} == {"icc-warrant:wire-1", "zelensky:live-1", "zelensky:live-1:r2"}

        # rules file change: picked up by the running worker within 10 s, no restart
        rules_file.write_text(rules_file.read_text() + "  - id: hague\n    query: hagueprobe\n    notify: [x]\n")
        deadline = time.monotonic() + 15
        probe = 0
        while not _alerted(out, "hague"):
            assert time.monotonic() < deadline, "rules file change not picked up"
            probe += 1
            await producer(story(900 + probe, source="probe", body_extra="hagueprobe"))
            await asyncio.sleep(1.0)

        # crash mid-stream: SIGKILL while items are flowing, then restart
        sent = [story(n, source="feed") for n in range(100)]
        for it in sent[:50]:
            await producer(it)
        # the mirrors sent after the restart must find feed-3 and feed-7 in the recovered table
        await out.wait("some of the stream", lambda: {"feed-3", "feed-7"} <= out.processed().keys(), 60)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        for it in sent[50:]:
            await producer(it)
        port = free_port()
        start_worker("a", metrics_port=port)
        duplicate = dict(sent[3], id="mirror-3", source={"id": "mirror"}, url="https://mirror.example/3")
        # a mirror with a byline and a tail: found through the LSH index rebuilt from the table
        near = dict(sent[7], id="mirror-7", source={"id": "mirror"}, url="https://mirror.example/7",
                    body=f"By A. Reporter. {sent[7]['body']} Continue reading.")
        await producer(duplicate)
        await producer(near)
        await out.wait("every item after the restart", lambda: {i["id"] for i in [*sent, duplicate, near]} <= out.processed().keys(), STARTUP_DEADLINE)
        got = out.processed()
        assert (got["mirror-3"]["dedupe"]["status"], got["mirror-3"]["dedupe"]["of"]) == ("duplicate", "feed-3")
        assert (got["mirror-7"]["dedupe"]["status"], got["mirror-7"]["dedupe"]["of"]) == ("near_duplicate", "feed-7")
        assert all(got[i["id"]]["dedupe"]["status"] == "new" for i in sent)

        # the restarted worker exports its consumer lag, drained to zero on the raw topic
        async def lag_drained() -> bool:
            try:
                text = await asyncio.to_thread(
                    lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
                )
            except OSError:
                return False
            lags = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                    if line.startswith("wirewatch_consumer_lag{") and f'topic="{settings.raw_topic}"' in line]
            return len(lags) == settings.topic_partitions and sum(lags) == 0
        deadline = time.monotonic() + 30
        while not await lag_drained():
            assert time.monotonic() < deadline, "wirewatch_consumer_lag not exported or not drained"
            await asyncio.sleep(1)

        # publish-to-output latency: each item the restarted worker finished, in seconds (not a timestamp)
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        samples = {line.split(" ")[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("wirewatch_processor_latency_seconds_")}
        assert samples["wirewatch_processor_latency_seconds_count"] >= len(sent[50:]) + 2  # sent after the kill
        assert 0 < samples["wirewatch_processor_latency_seconds_sum"] / samples["wirewatch_processor_latency_seconds_count"] < 120


def _alerted(out: Collector, rule: str) -> bool:
    return any(a["rule"] == rule for a in out.messages["alerts"])


async def test_two_workers_give_the_same_verdicts_as_one(
    settings: Settings, kafka_bootstrap: str, producer: Callable[..., Any], start_worker: Callable[[str], subprocess.Popen[bytes]], rules_file: Path
) -> None:
    originals = [story(n, source=f"src{n % 3}") for n in range(12)]
    copies = [
        dict(o, id=f"copy-{o['id']}", source={"id": "mirror"}, url=f"https://mirror.example/{o['id']}",
             body=f"By Staff Reporter\n{o['body']}\nContinue reading." if n % 2 else o["body"])
        for n, o in enumerate(originals)
    ]
    one = Processor(load_rules(rules_file), EntityTagger(), Deduper({}))
    expected = {r.item["id"]: (r.item["dedupe"]["status"], r.item["dedupe"]["of"]) for r in (one.process(i) for i in [*originals, *copies])}
    async with Collector(settings, kafka_bootstrap) as out:
        start_worker("a")
        start_worker("b")
        for it in originals:
            await producer(it)
        await out.wait("the originals", lambda: {o["id"] for o in originals} <= out.processed().keys(), STARTUP_DEADLINE)
        for it in copies:
            await producer(it)
        await out.wait("the copies", lambda: {c["id"] for c in copies} <= out.processed().keys(), 60)
        got = {k: (v["dedupe"]["status"], v["dedupe"]["of"]) for k, v in out.processed().items()}
    assert got == expected
    assert {v for k, v in got.items() if k.startswith("copy-")} == {("duplicate", f"src{n % 3}-{n}") for n in range(0, 12, 2)} | {
        ("near_duplicate", f"src{n % 3}-{n}") for n in range(1, 12, 2)
    }


def _comparable(outputs: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """What every path must agree on: outputs minus clock times and the input's address."""
    drop = {"processed": {"processed_at"}, "alerts": {"matched_at"},
            "dead": {"at", "topic", "partition", "offset", "key"}}
    return {kind: [{k: v for k, v in record.items() if k not in drop[kind]} for record in records]
            for kind, records in outputs.items()}


def _cli_outputs(
    wirewatch_bin: str, env: dict[str, str], rules: Path, tmp_path: Path, story: list[str] = STORY
) -> dict[str, list[dict[str, Any]]]:
    alerts, dead = tmp_path / "cli-alerts.jsonl", tmp_path / "cli-dead.jsonl"
    done = subprocess.run(
        [wirewatch_bin, "process", "--rules", str(rules), "--ner", "off", "--alerts", str(alerts),
         "--dead-letters", str(dead)],
        input="\n".join(story) + "\n", capture_output=True, text=True, env=env, timeout=120, check=True,
    )
    lines = lambda text: [json.loads(line) for line in text.splitlines()]  # noqa: E731
    return {"processed": lines(done.stdout), "alerts": lines(alerts.read_text("utf-8")),
            "dead": lines(dead.read_text("utf-8"))}


async def _embedded_outputs(rules: Path, tmp_path: Path, story: list[str] = STORY) -> dict[str, list[dict[str, Any]]]:
    """`wirewatch run`'s processor driver over its in-process bus, as the runner wires it."""
    from wirewatch.bus.memory import MemoryBus
    from wirewatch.core.sqlite import Database, SqliteKV
    from wirewatch.embedded.runner import ProcessorDriver, Stats
    from wirewatch.processors.pipeline import ProcessorConfig
    from wirewatch.processors.stage import Stage

    settings = Settings()
    db = Database(tmp_path / "embedded.db")
    bus = MemoryBus(partitions=1, conn=db.conn)
    for line in story:
        bus.append_raw(settings.raw_topic, line.encode(), "fixture")
    processor = Processor.from_config(ProcessorConfig(rules=rules, ner="off"), SqliteKV(db, "dedupe"))
    subscriber = bus.subscriber([settings.raw_topic], "processor")
    await subscriber.start()
    stop = asyncio.Event()
    driver = ProcessorDriver(Stage(processor), subscriber, bus, db, settings, Stats(), [])
    task = asyncio.create_task(driver.run(stop))
    deadline = time.monotonic() + 30
    while bus.lag("processor", settings.raw_topic) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    stop.set()
    await task
    values = lambda topic: [m.value for m in bus.messages(topic)]  # noqa: E731
    outputs = {"processed": values(settings.processed_topic), "alerts": values(settings.alerts_topic),
               "dead": values(settings.dead_letter_topic)}
    db.close()
    return outputs


async def test_the_cli_the_embedded_runner_and_the_faust_worker_give_identical_outputs(
    settings: Settings, kafka_bootstrap: str, producer: Callable[..., Any],
    start_worker: Callable[..., subprocess.Popen[bytes]], rules_file: Path, wirewatch_bin: str,
    wirewatch_env: dict[str, str], tmp_path: Path,
) -> None:
    # the fixture holds a new item, a near-duplicate mirror, a duplicate by canonical url, a
    # live-blog post and its revision, a line of bad JSON and a schema-invalid item
    cli = _comparable(_cli_outputs(wirewatch_bin, wirewatch_env, rules_file, tmp_path))
    assert [(i["id"], i["dedupe"]["status"]) for i in cli["processed"]] == [
        ("wire-1", "new"), ("mirror-1", "near_duplicate"), ("agg-1", "duplicate"), ("live-1", "new"),
        ("live-1", "update"), ("other-1", "new")]
    assert [d["reason"].split(":")[0] for d in cli["dead"]] == ["invalid JSON", "not a valid raw_item"]
    assert len(cli["alerts"]) == 5

    embedded = _comparable(await _embedded_outputs(rules_file, tmp_path))
    assert embedded == cli

    async with Collector(settings, kafka_bootstrap) as out:
        start_worker("paths")
        for line in STORY:
            await producer(line if not line.startswith("{") else json.loads(line), key="fixture")
        await out.wait("every output of the fixture", lambda: (len(out.messages["processed"]), len(out.messages["dead"]),
                       len(out.messages["alerts"])) == (6, 2, 5), STARTUP_DEADLINE)
        await asyncio.sleep(1.0)  # nothing more may follow
        faust = _comparable(out.messages)
    # the processed and alerts topics have several partitions: order holds only within a key
    in_key_order = lambda records: sorted(records, key=lambda r: (r.get("story_id") or r.get("rule") or ""))  # noqa: E731
    assert {kind: in_key_order(records) for kind, records in faust.items()} == {
        kind: in_key_order(records) for kind, records in cli.items()}


SIGNAL_RULES = """\
rules:
  - id: zelensky-spike
    kind: spike
    entity: Volodymyr Zelensky
    window: 60s
    baseline: 65s
    min_count: 3
    factor: 3
  - id: new-port
    kind: new_entity
    query: port
    types: [place]
    learn: 20s
  - id: quiet-early
    kind: silence
    source: quiet1
    for: 30s
  - id: quiet-late
    kind: silence
    source: quiet2
    for: 120s
"""


def titled(n: int, title: str, source: str = "wire") -> dict[str, Any]:
    return dict(story(n, source=source), title=title)


async def test_spike_new_entity_and_silence_rules_survive_a_worker_crash(
    settings: Settings, kafka_bootstrap: str, producer: Callable[..., Any],
    start_worker: Callable[..., subprocess.Popen[bytes]], rules_file: Path,
) -> None:
    """Spike counts, learned entities and silences come back from the changelog after a SIGKILL:
    a spike straddling the restart fires once, a silence due before it fires once (not again
    after it), one due after it fires once, and a learned entity stays learned."""
    rules_file.write_text(SIGNAL_RULES)

    def alerts(kind: str) -> list[str]:
        return sorted(a["id"] for a in out.messages["alerts"] if a.get("kind") == kind)

    async with Collector(settings, kafka_bootstrap) as out:
        worker = start_worker("a")
        for item in (story(1, source="quiet1"), story(2, source="quiet2"),
                     titled(3, "Port of Rotterdam strike begins")):
            await producer(item)
        await out.wait("the first items", lambda: {"quiet1-1", "quiet2-2", "wire-3"} <= out.processed().keys(),
                       STARTUP_DEADLINE)
        first = time.monotonic()  # every rule's clock started by now (processing time)
        await out.wait("the early silence", lambda: len(alerts("silence")) == 1, 60)
        assert alerts("silence")[0].startswith("quiet-early:silence:")
        await asyncio.sleep(max(0.0, first + 95 - time.monotonic()))
        for n in (10, 11):
            await producer(titled(n, f"Zelensky meets envoys, round {n}"))
        await out.wait("two mentions", lambda: {"wire-10", "wire-11"} <= out.processed().keys(), 30)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        start_worker("a")
        # 5 s buckets: the window of an item handled at +126 to +150 s starts between +66 and +95 s
        # (mentions 10 and 11 in it), and its 65 s baseline after the rules' clocks started
        await asyncio.sleep(max(0.0, first + 126 - time.monotonic()))
        for item in (titled(12, "Zelensky meets envoys, round 12"), titled(13, "Port of Antwerp joins strike"),
                     titled(14, "Port of Rotterdam strike ends")):
            await producer(item)
        await out.wait("the items after the restart", lambda: {"wire-12", "wire-13", "wire-14"} <= out.processed().keys(),
                       STARTUP_DEADLINE)
        await out.wait("the late silence", lambda: len(alerts("silence")) == 2, 60)
        await asyncio.sleep(6)  # another silence check and more mentions: nothing fires again
        await producer(titled(15, "Zelensky meets envoys, round 15"))
        await out.wait("the last mention", lambda: "wire-15" in out.processed(), 30)
        spikes = [a for a in out.messages["alerts"] if a.get("kind") == "spike"]
        assert [(a["item_id"], a["figures"]["count"], a["figures"]["baseline_count"]) for a in spikes] == [("wire-12", 3, 0)]
        assert alerts("new_entity") == ["new-port:new_entity:antwerp"]
        assert [a.split(":silence:")[0] for a in alerts("silence")] == ["quiet-early", "quiet-late"]


EVENT_STORY = (FIX.parent / "events" / "ten_outlets.jsonl").read_text("utf-8").splitlines()
EVENT_RULES = """rules:
  - id: bridge-event
    query: "Mülheim OR bridge"
    per: event
  - id: bridge-item
    query: "Mülheim OR bridge"
    per: item
"""


async def test_event_ids_and_per_event_alerts_are_the_same_on_every_path(
    settings: Settings, kafka_bootstrap: str, producer: Callable[..., Any],
    start_worker: Callable[..., subprocess.Popen[bytes]], rules_file: Path, wirewatch_bin: str,
    wirewatch_env: dict[str, str], tmp_path: Path,
) -> None:
    # ten outlets' write-ups of one event, a syndicated copy and three unrelated stories
    # (tests/fixtures/events/ten_outlets.jsonl): the event clustering lives in the dedupe stage
    rules_file.write_text(EVENT_RULES, "utf-8")
    cli = _comparable(_cli_outputs(wirewatch_bin, wirewatch_env, rules_file, tmp_path, EVENT_STORY))
    assert len({i["event_id"] for i in cli["processed"]}) == 4
    assert {a["id"] for a in cli["alerts"] if a["rule"] == "bridge-event"} == {"bridge-event:event:wire-bridge"}
    assert len({a["id"] for a in cli["alerts"] if a["rule"] == "bridge-item"}) == 11
    assert _comparable(await _embedded_outputs(rules_file, tmp_path, EVENT_STORY)) == cli

    async with Collector(settings, kafka_bootstrap) as out:
        start_worker("events")
        for line in EVENT_STORY:
            await producer(json.loads(line), key="fixture")  # one partition: the CLI's order
        await out.wait("every output of the fixture", lambda: (len(out.messages["processed"]),
                       len(out.messages["alerts"])) == (14, 22), STARTUP_DEADLINE)
        await asyncio.sleep(1.0)  # nothing more may follow
        faust = _comparable(out.messages)
    # order holds within a key only: alerts are keyed by rule, processed items by story
    in_key_order = lambda records: sorted(records, key=lambda r: (r.get("rule") or "", r["story_id"]))  # noqa: E731
    assert {kind: in_key_order(records) for kind, records in faust.items()} == {
        kind: in_key_order(records) for kind, records in cli.items()}
