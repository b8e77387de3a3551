"""Shared fixtures: the real local stack (started once per run by `make test`).

Tests that need Kafka, Elasticsearch or Prometheus take the fixtures below.
When the stack is not reachable they skip on a developer's machine, and fail
loudly under CI=true: CI must never pass by skipping the real services.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED = REPO.parent / "shared"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# Hypothesis fuzz tests (issue 16). "ci", the default: a fixed seed (the same examples every
# run, so `make test` can't fail by luck) and a few seconds a test. WIREWATCH_FUZZ=long: fresh
# random examples, WIREWATCH_FUZZ_EXAMPLES (default 20,000) each, failures saved in .hypothesis/
# (CONTRIBUTING.md, "Fuzzing"). A test sizes itself relative to the profile: settings().max_examples.
settings.register_profile("ci", derandomize=True, deadline=None, database=None, max_examples=200)
settings.register_profile("long", deadline=None, print_blob=True,
                          max_examples=int(os.environ.get("WIREWATCH_FUZZ_EXAMPLES", "20000")))
settings.load_profile(os.environ.get("WIREWATCH_FUZZ", "ci"))


def _unavailable(what: str, how: str) -> None:
    message = f"{what} is not reachable ({how}); run `make stack-up` or `make test`"
    if IN_CI:
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


def _port_open(hostport: str) -> bool:
    host, _, port = hostport.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(autouse=True)
def _logging_config_does_not_leak() -> Iterator[None]:
    """A test that configures logging in-process (a level, a stream) leaves it as it found it: a
    level of 'error' left behind hid the warnings a later test's ``capture_logs`` looked for
    (capture_logs swaps structlog's processors, not its level filter)."""
    import structlog

    from wirewatch.core import logging as wirewatch_logging

    config: dict[str, Any] = {k: list(v) if isinstance(v, list) else v for k, v in structlog.get_config().items()}
    ours = (wirewatch_logging._config, wirewatch_logging._output)
    yield
    wirewatch_logging._config, wirewatch_logging._output = ours
    structlog.configure(**config)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """host:port of the real Kafka broker."""
    bootstrap = os.environ.get("WIREWATCH_TEST_KAFKA", "127.0.0.1:19092")
    if not _port_open(bootstrap):
        _unavailable("Kafka", bootstrap)
    return bootstrap


@pytest.fixture(scope="session")
def elasticsearch_url() -> str:
    """URL of the real Elasticsearch node."""
    url = os.environ.get("WIREWATCH_TEST_ELASTICSEARCH", "http://127.0.0.1:19200")
    if not _port_open(url.split("://", 1)[-1].rstrip("/")):
        _unavailable("Elasticsearch", url)
    return url


@pytest.fixture(scope="session")
def prometheus_url() -> str:
    url = os.environ.get("WIREWATCH_TEST_PROMETHEUS", "http://127.0.0.1:19090")
    if not _port_open(url.split("://", 1)[-1].rstrip("/")) or not shutil.which("promtool"):
        _unavailable("Prometheus", url)
    return url


@pytest.fixture(scope="session")
def prometheus_targets_dir() -> Path:
    """Folder of file_sd target files the local Prometheus watches."""
    path = Path(os.environ.get("WIREWATCH_TEST_PROMETHEUS_TARGETS", "/tmp/wirewatch-stack/prometheus/targets"))
    if not path.is_dir():
        _unavailable("Prometheus targets folder", str(path))
    return path


@pytest.fixture
def unique() -> str:
    """A short unique suffix: each test gets its own topics, groups and indices."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def topic_prefix(unique: str) -> str:
    return f"test-{unique}"


@pytest.fixture
def index_prefix(unique: str) -> str:
    return f"test-{unique}"


@pytest.fixture
async def es_client(elasticsearch_url: str) -> AsyncIterator[object]:
    from elasticsearch import AsyncElasticsearch

    client = AsyncElasticsearch(elasticsearch_url, request_timeout=30)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def es_store(es_client: Any, index_prefix: str) -> AsyncIterator[Any]:
    """An ElasticsearchStore on the shared node with this test's prefix; its indices and templates
    removed after."""
    from wirewatch.sinks.elasticsearch import ElasticsearchStore

    store = ElasticsearchStore(es_client, index_prefix)
    await store.setup()
    try:
        yield store
    finally:
        await es_client.options(ignore_status=404).indices.delete(
            index=f"{index_prefix}-*", allow_no_indices=True, expand_wildcards="all")
        for name in (f"{index_prefix}-items", f"{index_prefix}-alerts", f"{index_prefix}-deliveries"):
            await es_client.options(ignore_status=404).indices.delete_index_template(name=name)


@pytest.fixture
def wirewatch_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment for a `wirewatch` subprocess: embedded mode unless a test adds addresses."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_") or k.startswith("WIREWATCH_TEST_")}
    env["WIREWATCH_DATA_DIR"] = str(tmp_path / "data")
    env["WIREWATCH_LOG_FORMAT"] = "json"
    yield env


@pytest.fixture(scope="session")
def wirewatch_bin() -> str:
    exe = REPO / ".venv" / "bin" / "wirewatch"
    return str(exe) if exe.exists() else shutil.which("wirewatch") or "wirewatch"


def _stop_process_group(proc: subprocess.Popen[Any], grace: float = 15.0) -> None:
    """SIGTERM to the process group of ``proc`` (started with ``start_new_session=True``), SIGKILL
    after ``grace`` seconds: a worker and every child it started are gone when a test ends."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


@pytest.fixture(scope="session")
def stop_process_group() -> Callable[..., None]:
    """``stop_process_group(proc, grace=15.0)``: see :func:`_stop_process_group`."""
    return _stop_process_group


Until = Callable[..., Awaitable[None]]


async def _until(check: Callable[[], bool], what: str, process: subprocess.Popen[Any], timeout: float = 60) -> None:
    """Poll ``check`` every 0.2 s while ``process`` runs; fail when it ended or ``timeout`` passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"wirewatch run ended early: {process.returncode}"
        if check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="session")
def until() -> Until:
    """``await until(check, what, process, timeout=60)``: see :func:`_until`."""
    return _until
