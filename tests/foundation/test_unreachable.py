"""Kafka or Elasticsearch down: one line naming the setting and the address, then retries, then on.

Real processes through the ``wirewatch`` command. "Down" is a closed loopback port
(bound, then released: nothing listens there). "Back" is a TCP proxy started on that
port during the test, forwarding to the real Kafka (127.0.0.1:19092, which advertises
itself, so after the bootstrap the client talks to it directly) or Elasticsearch.
``WIREWATCH_CONNECT_RETRY_MAX=1s`` keeps the retries under a second apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

#: A started service must show its lines within this (imports on a loaded 2-core machine are slow).
SHOW_SECONDS = 45.0
RETRY = "WIREWATCH_CONNECT_RETRY_MAX"


def closed_port() -> int:
    """A loopback port nothing listens on (the OS just handed it out and it was released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Proxy:
    """Forwards connections on ``127.0.0.1:port`` to ``target``, from :meth:`listen` on (refused before)."""

    def __init__(self, port: int, target: tuple[str, int]) -> None:
        self.port = port
        self.target = target
        self.server: socket.socket | None = None
        self.sockets: list[socket.socket] = []

    def listen(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        self.server = server
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        assert self.server is not None
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:  # closed
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        for sock in [*self.sockets, *([self.server] if self.server else [])]:
            with contextlib.suppress(OSError):
                sock.close()


@pytest.fixture
def proxies() -> Iterator[list[Proxy]]:
    made: list[Proxy] = []
    yield made
    for proxy in made:
        proxy.close()


class Service:
    """A ``wirewatch`` process with its stderr (JSON lines) in a file."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self.process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb"))

    def lines(self) -> list[dict[str, Any]]:
        """Every stderr line, each of which must be a JSON object (the structlog format, libraries too)."""
        text = self.log.read_text(encoding="utf-8")
        complete = text[: text.rfind("\n") + 1]
        try:
            return [json.loads(line) for line in complete.splitlines()]
        except json.JSONDecodeError:
            pytest.fail(f"a stderr line is not a JSON log line:\n{text[-3000:]}")

    def wait_for(self, check: Callable[[list[dict[str, Any]]], bool], what: str, timeout: float = SHOW_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check(self.lines()):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        pytest.fail(f"{what} not seen (exit {self.process.poll()}):\n{self.log.read_text()[-3000:]}")

    def stop(self) -> int:
        """SIGTERM, and the exit status (killed after 30 s: a hang fails the test)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"no exit within 30 s of SIGTERM:\n{self.log.read_text()[-3000:]}")


@pytest.fixture
def services() -> Iterator[list[Service]]:
    started: list[Service] = []
    yield started
    for service in started:
        if service.process.poll() is None:
            service.process.kill()
            service.process.wait()


def retry_lines(lines: list[dict[str, Any]], service: str, address: str, setting: str) -> list[dict[str, Any]]:
    pattern = re.compile(
        rf"cannot reach {service} at {re.escape(address)} \({setting}\): connection refused; retrying in \d+\.\d s"
    )
    return [line for line in lines if pattern.fullmatch(str(line.get("event")))]


def assert_quiet(service: Service, expected_warnings: list[dict[str, Any]]) -> None:
    """Warnings and errors are exactly the retry lines; no traceback, no unclosed client anywhere."""
    text = service.log.read_text(encoding="utf-8")
    assert "Traceback" not in text and "Unclosed" not in text and "elastic_transport" not in text, text[-3000:]
    loud = [line for line in service.lines() if line.get("level") in ("warning", "error", "critical")]
    assert loud == expected_warnings, text[-3000:]
    assert all(line["component"] == "connect" for line in loud)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """Config files written for these tests: one source (never polled while Kafka is down), one rule."""
    sources = tmp_path / "sources.yaml"
    sources.write_text("fetch: {min_host_delay: 0s}\nsources:\n"
                       "  - id: desk-feed\n    kind: rss\n    url: http://127.0.0.1:9/feed.xml\n    interval: 1h\n")
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - id: quake\n    query: 'title:earthquake'\n")
    destinations = tmp_path / "destinations.yaml"
    destinations.write_text("destinations:\n  desk:\n    url: http://127.0.0.1:9/hook\n    format: json\n")
    return {"sources": sources, "rules": rules, "destinations": destinations}


COMMANDS = {
    "run": ["run", "--config", "{sources}", "--rules", "{rules}", "--web", "off"],
    "poller": ["poller", "--config", "{sources}"],
    "processor": ["processor", "--rules", "{rules}", "--ner", "off"],
    "indexer": ["indexer"],
    "notifier": ["notifier", "--destinations", "{destinations}"],
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_kafka_down_is_one_line_a_try_with_back_off_and_sigterm_stops_cleanly(
    command: str, files: dict[str, Path], tmp_path: Path, wirewatch_bin: str,
    wirewatch_env: dict[str, str], services: list[Service], unique: str,
) -> None:
    kafka = f"127.0.0.1:{closed_port()}"
    env = {**wirewatch_env, "WIREWATCH_KAFKA_BOOTSTRAP": kafka, RETRY: "1s", "WIREWATCH_TOPIC_PREFIX": f"t-{unique}",
           "WIREWATCH_ELASTICSEARCH_URL": f"http://127.0.0.1:{closed_port()}"}  # the indexer needs both set
    argv = [wirewatch_bin, *(part.format(**files) for part in COMMANDS[command])]
    service = Service(argv, env, tmp_path / f"{command}.log")
    services.append(service)

    service.wait_for(lambda lines: len(retry_lines(lines, "Kafka", kafka, "WIREWATCH_KAFKA_BOOTSTRAP")) >= 2,
                     "two retry lines naming WIREWATCH_KAFKA_BOOTSTRAP")
    assert service.stop() == 0
    tries = retry_lines(service.lines(), "Kafka", kafka, "WIREWATCH_KAFKA_BOOTSTRAP")
    assert_quiet(service, tries)
    # WIREWATCH_CONNECT_RETRY_MAX=1s: each wait is between half the cap and the cap (equal jitter)
    assert all(0.5 <= float(line["event"].rsplit(" ", 2)[1]) <= 1.0 for line in tries)


@pytest.mark.kafka
def test_elasticsearch_down_for_the_indexer_is_one_line_a_try_and_sigterm_stops_cleanly(
    kafka_bootstrap: str, tmp_path: Path, wirewatch_bin: str, wirewatch_env: dict[str, str],
    services: list[Service], unique: str,
) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    env = {**wirewatch_env, "WIREWATCH_KAFKA_BOOTSTRAP": kafka_bootstrap, "WIREWATCH_ELASTICSEARCH_URL": url,
           RETRY: "1s", "WIREWATCH_TOPIC_PREFIX": f"t-{unique}"}
    service = Service([wirewatch_bin, "indexer"], env, tmp_path / "indexer.log")
    services.append(service)

    service.wait_for(lambda lines: len(retry_lines(lines, "Elasticsearch", url, "WIREWATCH_ELASTICSEARCH_URL")) >= 2,
                     "two retry lines naming WIREWATCH_ELASTICSEARCH_URL")
    assert service.stop() == 0
    assert_quiet(service, retry_lines(service.lines(), "Elasticsearch", url, "WIREWATCH_ELASTICSEARCH_URL"))


@pytest.mark.parametrize("argv", [["search", "earthquake"], ["rules", "backtest", "--query", "title:earthquake"]])
def test_elasticsearch_down_for_a_one_shot_command_is_one_line_and_exit_2(
    argv: list[str], wirewatch_bin: str, wirewatch_env: dict[str, str],
) -> None:
    port = closed_port()
    env = {**wirewatch_env, "WIREWATCH_ELASTICSEARCH_URL": f"http://reader:s3cret@127.0.0.1:{port}"}
    done = subprocess.run([wirewatch_bin, *argv], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stdout == ""
    # the credentials in the URL are not repeated
    assert done.stderr == (f"wirewatch {argv[0]}: error: cannot reach Elasticsearch at http://127.0.0.1:{port} "
                           "(WIREWATCH_ELASTICSEARCH_URL): connection refused\n")


class Feed:
    """An RSS feed on 127.0.0.1 with two items (one right-to-left)."""

    BODY = ('<?xml version="1.0"?><rss version="2.0"><channel><title>Desk</title>'
            '<item><guid isPermaLink="false">q-1</guid><title>Earthquake hits the coast</title>'
            '<description>A strong earthquake hit the coast at dawn.</description></item>'
            '<item><guid isPermaLink="false">q-2</guid><title>زلزال قوي يضرب الساحل</title>'
            '<description>ضرب زلزال قوي الساحل فجر اليوم.</description></item>'
            '</channel></rss>').encode()

    def __init__(self) -> None:
        body = self.BODY

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/feed.xml"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


async def raw_items(bootstrap: str, topic: str, want: int, timeout: float) -> list[dict[str, Any]]:
    """Items on ``topic`` read straight from Kafka, until ``want`` of them (or the deadline)."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, metadata_max_age_ms=500)
    await consumer.start()
    items: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + timeout
        while len(items) < want and time.monotonic() < deadline:
            for rows in (await consumer.getmany(timeout_ms=300)).values():
                items.extend(json.loads(row.value) for row in rows if row.value)
    finally:
        await consumer.stop()
    return items


def connected(service: str, address: str) -> Callable[[list[dict[str, Any]]], bool]:
    line = {"component": "connect", "event": f"connected to {service} at {address}", "level": "info"}
    return lambda lines: any({k: entry.get(k) for k in line} == line for entry in lines)


RAW = {
    "id": "desk-feed:q-9", "source": {"id": "desk-feed", "name": "Desk"}, "url": "https://desk.example/q-9",
    "title": "زلزال قوي يضرب الساحل", "body": "ضرب زلزال قوي الساحل فجر اليوم.",
    "published_at": "2026-12-04T06:00:00Z", "revision": 1,
}


async def produce(bootstrap: str, topic: str, value: dict[str, Any], key: str) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, json.dumps(value).encode(), key=key.encode())
    finally:
        await producer.stop()


@pytest.mark.kafka
@pytest.mark.parametrize("command", ["poller", "run", "processor"])
def test_a_service_goes_on_once_kafka_answers(
    command: str, kafka_bootstrap: str, files: dict[str, Path], tmp_path: Path, wirewatch_bin: str,
    wirewatch_env: dict[str, str], services: list[Service], proxies: list[Proxy], unique: str,
) -> None:
    """poller and run: the feed's items reach the raw topic; processor: a raw item comes out processed."""
    feed = Feed()
    try:
        config = tmp_path / "feed.yaml"
        config.write_text(f"fetch: {{min_host_delay: 0s}}\nsources:\n  - id: desk-feed\n    kind: rss\n"
                          f"    url: {feed.url}\n    interval: 1h\n")
        argv = {"poller": ["poller", "--config", str(config), "--session-timeout", "6s"],
                "run": ["run", "--config", str(config), "--rules", str(files["rules"]), "--web", "off"],
                "processor": ["processor", "--rules", str(files["rules"]), "--ner", "off"]}[command]
        port = closed_port()
        kafka_host, kafka_port = kafka_bootstrap.rsplit(":", 1)
        proxy = Proxy(port, (kafka_host, int(kafka_port)))
        proxies.append(proxy)
        prefix = f"t-{unique}"
        env = {**wirewatch_env, "WIREWATCH_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}", RETRY: "1s",
               "WIREWATCH_TOPIC_PREFIX": prefix, "WIREWATCH_TOPIC_PARTITIONS": "1"}
        service = Service([wirewatch_bin, *argv], env, tmp_path / f"{command}.log")
        services.append(service)
        address = f"127.0.0.1:{port}"
        service.wait_for(lambda lines: bool(retry_lines(lines, "Kafka", address, "WIREWATCH_KAFKA_BOOTSTRAP")),
                         "a retry line")
        proxy.listen()
        service.wait_for(connected("Kafka", address), "the connected line")
        if command == "processor":
            asyncio.run(produce(kafka_bootstrap, f"{prefix}.raw", RAW, "desk-feed"))
            items = asyncio.run(raw_items(kafka_bootstrap, f"{prefix}.processed", 1, timeout=90))
            assert [(item["id"], item["dedupe"]["status"]) for item in items] == [(RAW["id"], "new")]
        else:
            items = asyncio.run(raw_items(kafka_bootstrap, f"{prefix}.raw", 2, timeout=60))
            assert sorted(item["title"] for item in items) == ["Earthquake hits the coast", "زلزال قوي يضرب الساحل"]
        assert service.stop() == 0
        assert_quiet(service, retry_lines(service.lines(), "Kafka", address, "WIREWATCH_KAFKA_BOOTSTRAP"))
    finally:
        feed.close()


PROCESSED = {
    "id": "desk-feed:q-1", "source": {"id": "desk-feed", "name": "Desk"}, "url": "https://desk.example/q-1",
    "title": "Earthquake hits the coast", "body": "A strong earthquake hit the coast at dawn.",
    "published_at": "2026-12-04T06:00:00Z", "language": "en", "revision": 1,
    "dedupe": {"status": "new", "of": None}, "story_id": "desk-feed:q-1", "entities": [],
    "alerts": [], "processed_at": "2026-12-04T06:00:02Z",
}


@pytest.mark.kafka
@pytest.mark.elastic
async def test_the_indexer_goes_on_once_elasticsearch_answers(
    kafka_bootstrap: str, elasticsearch_url: str, es_client: Any, tmp_path: Path, wirewatch_bin: str,
    wirewatch_env: dict[str, str], services: list[Service], proxies: list[Proxy], unique: str,
) -> None:
    from wirewatch.bus.kafka import ensure_topics, standard_topics
    from wirewatch.core.config import Settings

    prefix = f"t-{unique}"
    settings = Settings(kafka_bootstrap=kafka_bootstrap, topic_prefix=prefix, topic_partitions=1)
    await ensure_topics(kafka_bootstrap, standard_topics(settings))
    await produce(kafka_bootstrap, settings.processed_topic, PROCESSED, "desk-feed")
    port = closed_port()
    es_host, es_port = elasticsearch_url.split("://", 1)[1].rstrip("/").rsplit(":", 1)
    proxy = Proxy(port, (es_host, int(es_port)))
    proxies.append(proxy)
    url = f"http://127.0.0.1:{port}"
    env = {**wirewatch_env, "WIREWATCH_KAFKA_BOOTSTRAP": kafka_bootstrap, "WIREWATCH_ELASTICSEARCH_URL": url,
           RETRY: "1s", "WIREWATCH_TOPIC_PREFIX": prefix, "WIREWATCH_INDEX_PREFIX": prefix,
           "WIREWATCH_TOPIC_PARTITIONS": "1"}
    service = Service([wirewatch_bin, "indexer"], env, tmp_path / "indexer.log")
    services.append(service)
    try:
        await asyncio.to_thread(service.wait_for, lambda lines: bool(
            retry_lines(lines, "Elasticsearch", url, "WIREWATCH_ELASTICSEARCH_URL")), "a retry line")
        proxy.listen()
        await asyncio.to_thread(service.wait_for, connected("Elasticsearch", url), "the connected line")

        async def stored() -> dict[str, Any] | None:
            await es_client.indices.refresh(index=f"{prefix}-items", ignore_unavailable=True, allow_no_indices=True)
            found = await es_client.search(index=f"{prefix}-items", query={"ids": {"values": [PROCESSED["id"]]}},
                                           ignore_unavailable=True, allow_no_indices=True)
            hits = found["hits"]["hits"]
            return hits[0]["_source"] if hits else None

        deadline = time.monotonic() + 60
        document = await stored()
        while document is None and time.monotonic() < deadline and service.process.poll() is None:
            await asyncio.sleep(0.3)
            document = await stored()
        assert document is not None, service.log.read_text()[-3000:]
        assert document["title"] == "Earthquake hits the coast"
        assert await asyncio.to_thread(service.stop) == 0
        assert_quiet(service, retry_lines(service.lines(), "Elasticsearch", url, "WIREWATCH_ELASTICSEARCH_URL"))
    finally:
        await es_client.options(ignore_status=404).indices.delete(
            index=f"{prefix}-*", allow_no_indices=True, expand_wildcards="all")
        for name in (f"{prefix}-items", f"{prefix}-alerts"):
            await es_client.options(ignore_status=404).indices.delete_index_template(name=name)
