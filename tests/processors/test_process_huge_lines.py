"""`wirewatch process` with huge lines: short log lines, whole payloads in dead letters, the stream goes on.

Reading time is linear in the line's length; that is measured by the bench
(``python -m bench.run --only process.long_line``), not timed here.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "processors"
MB = 1 << 20


def items() -> list[dict[str, Any]]:
    return [json.loads(line) for line in (FIX / "raw_items.jsonl").read_text("utf-8").splitlines()
            if line.startswith('{"id"')][:2]


def process(wirewatch_bin: str, env: dict[str, str], tmp_path: Path, stdin: bytes, *args: str
            ) -> tuple[subprocess.CompletedProcess[bytes], list[dict[str, Any]]]:
    dead = tmp_path / "dead.jsonl"
    done = subprocess.run([wirewatch_bin, "process", "--rules", str(FIX / "rules.yaml"), "--ner", "off",
                           "--dead-letters", str(dead), *args],
                          input=stdin, capture_output=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done, [json.loads(line) for line in dead.read_bytes().splitlines()]


def test_a_20_mb_invalid_value_logs_one_short_line_and_its_dead_letter_keeps_everything(
    wirewatch_bin: str, wirewatch_env: dict[str, str], tmp_path: Path
) -> None:
    first, last = items()
    bad = dict(first, id="huge", revision="9" * (20 * MB))
    line = json.dumps(bad).encode()
    stdin = json.dumps(first).encode() + b"\n" + line + b"\n" + json.dumps(last).encode() + b"\n"
    done, letters = process(wirewatch_bin, wirewatch_env, tmp_path, stdin, "--max-line-bytes", str(64 * MB))
    assert [json.loads(out)["id"] for out in done.stdout.splitlines()] == [first["id"], last["id"]]
    logged = done.stderr.decode().splitlines()
    assert len(logged) == 1 and len(logged[0]) < 1000, [len(x) for x in logged]
    warning = json.loads(logged[0])
    assert warning["event"] == "bad raw item sent to dead letters" and warning["offset"] == 1
    assert warning["reason"].startswith('not a valid raw_item at revision: "999')
    assert warning["reason"].endswith('999" is not of type "integer"')
    (letter,) = letters
    assert letter["reason"] == warning["reason"]
    assert letter["payload"].encode() == line  # the whole line, to replay


def test_a_line_over_the_limit_is_a_dead_letter_with_the_whole_line_and_the_stream_goes_on(
    wirewatch_bin: str, wirewatch_env: dict[str, str], tmp_path: Path
) -> None:
    first, last = items()
    big = dict(first, id="big", body="word " * (4 * MB))  # a valid item of 20 MB: over the 16 MiB default
    line = json.dumps(big).encode()
    stdin = json.dumps(first).encode() + b"\n" + line + b"\n" + json.dumps(last).encode()  # no final newline
    done, letters = process(wirewatch_bin, wirewatch_env, tmp_path, stdin)
    assert [json.loads(out)["id"] for out in done.stdout.splitlines()] == [first["id"], last["id"]]
    logged = done.stderr.decode().splitlines()
    assert len(logged) == 1 and len(logged[0]) < 1000
    reason = f"too large: {len(line):,} bytes, over the limit of {16 * MB:,} bytes"
    assert json.loads(logged[0])["reason"] == reason
    (letter,) = letters
    assert (letter["reason"], letter["offset"]) == (reason, 1)
    assert letter["payload"].encode() == line

    # the same line under a larger limit is processed
    done, letters = process(wirewatch_bin, wirewatch_env, tmp_path, stdin, "--max-line-bytes", str(32 * MB))
    assert [json.loads(out)["id"] for out in done.stdout.splitlines()] == [first["id"], "big", last["id"]]
    assert letters == []


def test_max_line_bytes_must_be_a_positive_number(wirewatch_bin: str, wirewatch_env: dict[str, str]) -> None:
    for value, error in [("0", "must be at least 1, not 0"), ("16M", "not a whole number: '16M'")]:
        done = subprocess.run([wirewatch_bin, "process", "--rules", str(FIX / "rules.yaml"), "--max-line-bytes", value],
                              input=b"", capture_output=True, env=wirewatch_env, timeout=60)
        assert done.returncode == 2
        assert done.stderr.decode().splitlines()[-1] == f"wirewatch process: error: argument --max-line-bytes: {error}"
