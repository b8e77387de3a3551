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
