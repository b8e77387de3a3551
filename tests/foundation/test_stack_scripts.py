"""The local stack scripts: a second start is a no-op, a taken port is reported clearly."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LOCAL = REPO / "deploy" / "local"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LOCAL / args[0]), *args[1:]], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


@pytest.mark.kafka
@pytest.mark.elastic
def test_kafka_and_elastic_second_stack_up_is_a_no_op(kafka_bootstrap: str, elasticsearch_url: str) -> None:
    proc = run("stack.sh", "up", "kafka", "elasticsearch")
    assert proc.returncode == 0, proc.stderr
    assert "Kafka already running" in proc.stderr
    assert "Elasticsearch already running" in proc.stderr
    assert "starting" not in proc.stderr
    status = run("stack.sh", "status", "kafka", "elasticsearch")
    assert status.returncode == 0
    assert status.stdout.splitlines() == [
        f"kafka: up {kafka_bootstrap}",
        f"elasticsearch: up {elasticsearch_url}",
    ]


@pytest.mark.parametrize(
    ("script", "variable", "name"),
    [("kafka.sh", "KAFKA_PORT", "Kafka"), ("elasticsearch.sh", "ES_PORT", "Elasticsearch"),
     ("prometheus.sh", "PROMETHEUS_PORT", "Prometheus")],
)
def test_a_taken_port_is_reported_with_the_variable_to_change(
    tmp_path: Path, script: str, variable: str, name: str
) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        proc = run(script, "up", env={variable: str(port), "WIREWATCH_STACK_HOME": str(tmp_path)})
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if "error" in line]
    assert lines == [
        f"[stack] error: {name} cannot start: port {port} on 127.0.0.1 is already in use "
        f"by another process (set {variable} to another port)"
    ]


def test_stack_script_rejects_an_unknown_action() -> None:
    proc = run("stack.sh", "explode")
    assert proc.returncode == 2
    assert "usage: stack.sh up|down|status|fetch|wipe" in proc.stderr


@pytest.mark.parametrize(("fresh", "kept"), [("1", False), ("0", True)])
def test_a_fresh_kafka_start_drops_a_stopped_brokers_old_topics(tmp_path: Path, fresh: str, kept: bool) -> None:
    """`make test` starts Kafka with WIREWATCH_STACK_FRESH=1: earlier runs' topics would pile up
    until the broker runs out of file handles. A taken port stops the start right after."""
    old = tmp_path / "kafka" / "data" / "test-earlier-run.raw-0"
    old.mkdir(parents=True)
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        proc = run("kafka.sh", "up", env={"KAFKA_PORT": str(port), "WIREWATCH_STACK_HOME": str(tmp_path),
                                          "WIREWATCH_STACK_FRESH": fresh})
    assert proc.returncode != 0
    assert old.exists() is kept
    assert ("fresh Kafka storage" in proc.stderr) is not kept
