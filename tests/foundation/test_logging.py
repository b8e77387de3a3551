"""Logs: one line each on stderr (JSON off a terminal), level-filtered, structlog loaded on demand."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import sys
from wirewatch.core.logging import configure_logging, get_logger
configure_logging({level!r}, "json")
log = get_logger("probe")
log.debug("quiet", n=1)
print("structlog" in sys.modules, flush=True)
log.warning("loud", n=2)
log.info("also", n=3)
"""


def run(level: str) -> tuple[str, list[dict[str, object]]]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(level=level)], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.strip(), [json.loads(line) for line in done.stderr.splitlines()]


def test_filtered_messages_do_not_load_structlog_and_the_rest_are_json_lines() -> None:
    loaded_before_first_message, lines = run("warning")
    assert loaded_before_first_message == "False"
    assert [(e["event"], e["level"], e["component"], e["n"]) for e in lines] == [("loud", "warning", "probe", 2)]


def test_debug_level_logs_everything() -> None:
    _, lines = run("debug")
    assert [(e["event"], e["level"]) for e in lines] == [("quiet", "debug"), ("loud", "warning"), ("also", "info")]


LIBRARIES = """
import asyncio, logging, sys
from wirewatch.core.logging import configure_logging, get_logger, library_failures_muted
configure_logging({level!r}, "json")
logging.getLogger("aiohttp.access").info("GET /search 200")   # chatter: shown at debug only
print("structlog" in sys.modules, flush=True)
logging.getLogger("aiokafka.consumer.group_coordinator").warning("Heartbeat failed for group %s", "g1")
try:
    {{}}["missing"]
except KeyError:
    logging.getLogger("faust.worker").error("Agent crashed", exc_info=True)

async def main():
    later = asyncio.Event()

    async def background():  # a client's task started during the attempt, logging after it
        await later.wait()
        logging.getLogger("aiokafka.conn").error("Unable connect to node 1 (after the attempt)")

    with library_failures_muted():
        task = asyncio.create_task(background())
        logging.getLogger("aiokafka").error("Unable connect to 127.0.0.1:1 (during the attempt)")
        logging.getLogger("elastic_transport.transport").warning("Retrying request after failure")
        logging.getLogger("faust.app").warning("not a connection logger: kept")
    later.set()
    await task

asyncio.run(main())
"""


def run_libraries(level: str) -> tuple[str, list[dict[str, object]]]:
    done = subprocess.run([sys.executable, "-c", LIBRARIES.format(level=level)], capture_output=True, text=True,
                          check=True, timeout=60)
    return done.stdout.strip(), [json.loads(line) for line in done.stderr.splitlines()]


def test_library_records_are_our_json_lines_with_their_own_level_and_logger_as_component() -> None:
    loaded_before_a_library_warning, lines = run_libraries("info")
    assert loaded_before_a_library_warning == "False"  # the hidden INFO did not load structlog
    assert [(e["component"], e["level"], e["event"]) for e in lines] == [
        ("aiokafka.consumer.group_coordinator", "warning", "Heartbeat failed for group g1"),
        ("faust.worker", "error", "Agent crashed"),
        ("faust.app", "warning", "not a connection logger: kept"),
        ("aiokafka.conn", "error", "Unable connect to node 1 (after the attempt)"),
    ]
    exception = str(lines[1]["exception"])
    assert exception.startswith("Traceback") and exception.endswith("KeyError: 'missing'")
    assert all(isinstance(e["timestamp"], str) for e in lines)


def test_at_debug_library_chatter_and_muted_connection_failures_show_at_debug() -> None:
    _, lines = run_libraries("debug")
    assert [(e["component"], e["level"]) for e in lines if e["component"] != "asyncio"] == [
        ("aiohttp.access", "info"),
        ("aiokafka.consumer.group_coordinator", "warning"),
        ("faust.worker", "error"),
        ("aiokafka", "debug"),
        ("elastic_transport.transport", "debug"),
        ("faust.app", "warning"),
        ("aiokafka.conn", "error"),
    ]
