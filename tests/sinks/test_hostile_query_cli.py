"""Hostile queries on the command line: one error line and exit 2, never a traceback (issue 16).

``process --rules``, ``search`` and ``rules backtest`` printed a RecursionError
traceback and exited 1 for ~600 nested parentheses, and a ValueError traceback
for a slop of 5,000 digits.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from wirewatch.search.query import MAX_DEPTH, MAX_SLOP

DEEP = "(" * 600 + "putin" + ")" * 600
HUGE_SLOP = '"arrest warrant"~' + "9" * 5000
#: query -> the reason the error line ends with
HOSTILE = {
    DEEP: f"at position {MAX_DEPTH + 1}: groups ( ) nested more than {MAX_DEPTH} deep",
    HUGE_SLOP: f"at position 17: proximity ~{'9' * 20}... (5000 characters) is larger than {MAX_SLOP}",
}


def run(wirewatch_bin: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([wirewatch_bin, *args], input="", capture_output=True, text=True, env=env, timeout=120)


def one_error_line(done: subprocess.CompletedProcess[str], command: str, reason: str) -> str:
    assert done.returncode == 2, done.stderr[-2000:]
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert lines[0].startswith(f"wirewatch {command}: error: ") and lines[0].endswith(reason)
    return lines[0]


@pytest.mark.parametrize("query", list(HOSTILE), ids=["600-groups", "5000-digit-slop"])
def test_search_on_the_embedded_store(query: str, wirewatch_bin: str, wirewatch_env: dict[str, str]) -> None:
    line = one_error_line(run(wirewatch_bin, wirewatch_env, "search", query), "search", HOSTILE[query])
    assert line.startswith(f"wirewatch search: error: bad query {query[:100]!r}"[:-1] + f"... ({len(query)} characters)'")
    assert len(line) < 400


@pytest.mark.parametrize("query", list(HOSTILE), ids=["600-groups", "5000-digit-slop"])
def test_backtest_of_a_query(query: str, wirewatch_bin: str, wirewatch_env: dict[str, str]) -> None:
    one_error_line(run(wirewatch_bin, wirewatch_env, "rules", "backtest", "--query", query, "--since", "7d"), "rules",
                   HOSTILE[query])


@pytest.mark.parametrize("query", list(HOSTILE), ids=["600-groups", "5000-digit-slop"])
def test_process_and_backtest_with_a_rules_file(query: str, wirewatch_bin: str, wirewatch_env: dict[str, str],
                                                tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(f"rules:\n  - id: fine\n    query: putin\n  - id: hostile\n    query: '{query}'\n", "utf-8")
    done = run(wirewatch_bin, wirewatch_env, "process", "--rules", str(rules), "--ner", "off")
    assert "rules[1] (hostile).query" in one_error_line(done, "process", HOSTILE[query])
    done = run(wirewatch_bin, wirewatch_env, "rules", "backtest", "fine", "--rules", str(rules))
    assert "rules[1] (hostile).query" in one_error_line(done, "rules", HOSTILE[query])


@pytest.mark.elastic
@pytest.mark.parametrize("query", list(HOSTILE), ids=["600-groups", "5000-digit-slop"])
def test_search_on_elasticsearch(query: str, wirewatch_bin: str, wirewatch_env: dict[str, str],
                                 elasticsearch_url: str, index_prefix: str) -> None:
    env = {**wirewatch_env, "WIREWATCH_ELASTICSEARCH_URL": elasticsearch_url, "WIREWATCH_INDEX_PREFIX": index_prefix}
    one_error_line(run(wirewatch_bin, env, "search", query), "search", HOSTILE[query])


@pytest.mark.parametrize("query", list(HOSTILE), ids=["600-groups", "5000-digit-slop"])
def test_run_with_a_rules_file(query: str, wirewatch_bin: str, wirewatch_env: dict[str, str], tmp_path: Path) -> None:
    rules, sources = tmp_path / "rules.yaml", tmp_path / "sources.yaml"
    rules.write_text(f"rules:\n  - id: hostile\n    query: '{query}'\n", "utf-8")
    sources.write_text("sources:\n  - id: a\n    url: http://127.0.0.1:9/feed\n", "utf-8")
    done = run(wirewatch_bin, wirewatch_env, "run", "--config", str(sources), "--rules", str(rules), "--web", "off")
    assert "rules[0] (hostile).query" in one_error_line(done, "run", HOSTILE[query])
