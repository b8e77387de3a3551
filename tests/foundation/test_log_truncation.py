"""Huge values stay out of log lines and error messages: a few hundred characters, the length said.

A hostile item can carry a 20 MB string; a log line or a dead letter's reason that
quotes it whole is a 20 MB line in every log pipeline. The dead letter's payload keeps
everything (tests/processors/test_process_huge_lines.py).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from wirewatch.core.deadletter import dead_letter
from wirewatch.core.errors import SchemaError
from wirewatch.core.schemas import validate

SCRIPT = """
from wirewatch.core.logging import configure_logging, get_logger
configure_logging("info", {fmt!r})
log = get_logger("probe")
huge = "x" * 20_000_000
log.warning("a huge value", value=huge, short="kept as is", n=10**30)
log.warning("huge bytes and containers", raw=b"\\xff" * 1_000_000, items=["y" * 1000] * 100_000,
            nested={{"k" * 10_000: {{"deeper": huge}}}}, tail="a" * 1000 + " END")
log.warning("x" * 100_000)
try:
    raise ValueError("bad value " + huge)
except ValueError:
    log.exception("it failed", where="here")
"""


def run(fmt: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", SCRIPT.format(fmt=fmt)], capture_output=True, text=True,
                          check=True, timeout=120)
    return done.stderr.splitlines()


def test_json_log_lines_carry_a_few_hundred_characters_of_any_value_with_the_original_length():
    lines = run("json")
    events = [json.loads(line) for line in lines]
    assert [e["event"][:12] for e in events] == ["a huge value", "huge bytes a", "x" * 12, "it failed"]
    first, second, third, fourth = events
    assert len(lines[0]) < 1000
    assert len(first["value"]) <= 300 and "[20,000,000 chars]" in first["value"]
    assert first["value"].startswith("xxx") and first["value"].endswith("xxx")
    assert (first["short"], first["n"]) == ("kept as is", 10**30)
    assert len(lines[1]) < 3000
    assert "[1,000,000 bytes]" in second["raw"]
    assert len(second["items"]) == 11 and second["items"][-1] == "…[100,000 items]"
    assert all(len(item) <= 100 for item in second["items"])
    (key, inner), = second["nested"].items()
    assert len(key) <= 100 and len(inner["deeper"]) <= 100
    assert len(second["tail"]) <= 300 and second["tail"].endswith(" END")  # head and tail kept
    assert len(third["event"]) <= 300 and "[100,000 chars]" in third["event"]
    assert len(lines[3]) < 3000
    assert fourth["where"] == "here"
    trace = fourth["exception"].splitlines()
    assert trace[0] == "Traceback (most recent call last):"
    assert trace[-1].startswith("ValueError: bad value xxx") and "[20,000,022 chars]" in trace[-1]
    assert all(len(line) <= 300 for line in trace)


def test_console_log_lines_are_cut_too():
    lines = run("console")
    assert len(lines[0]) < 1000 and "[20,000,000 chars]" in lines[0]


def test_a_schema_error_quotes_a_huge_value_shortly_and_keeps_what_is_wrong():
    item = {"id": "a", "source": {"id": "s"}, "url": "u", "title": "t", "body": "b",
            "published_at": "2025-01-01T00:00:00Z", "revision": "9" * 20_000_000}
    with pytest.raises(SchemaError) as caught:
        validate("raw_item", item)
    message = str(caught.value)
    assert len(message) < 400
    assert message.startswith('not a valid raw_item at revision: "999')
    assert message.endswith('999" is not of type "integer"')
    assert "chars]" in message


def test_a_schema_error_at_a_huge_key_is_short():
    item = {"id": "a", "source": {"id": "s", "k" * 1_000_000: 1}, "url": "u", "title": "t", "body": "b",
            "published_at": "2025-01-01T00:00:00Z"}
    with pytest.raises(SchemaError) as caught:
        validate("raw_item", item)
    assert len(str(caught.value)) < 400 and "was unexpected" in str(caught.value)


def test_a_dead_letter_keeps_the_whole_payload_and_a_reason_that_still_ends_with_its_point():
    payload = "p" * 5_000_000
    record = dead_letter("processor", "value " + "v" * 100_000 + " is not allowed", payload)
    assert record["payload"] == payload
    assert len(record["reason"]) <= 2000
    assert record["reason"].startswith("value vvv") and record["reason"].endswith("vvv is not allowed")
