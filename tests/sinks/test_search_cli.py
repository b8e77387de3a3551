"""``wirewatch search`` and ``rules backtest`` on the embedded store (issue 17, item 6).

A read never creates a store: a missing or mistyped data folder (or one without
wirewatch.db) is one line naming the path, exit 2, and nothing is created.
``--data-dir`` on both commands; an unknown rule id is exit 2, never a query;
a search that stops at its limit says so and how to see more.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from wirewatch.core.sqlite import DB_FILE
from wirewatch.sinks.sqlite import SqliteStore

from .helpers import FIXTURES


def run(wirewatch_bin: str, env: dict[str, str], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([wirewatch_bin, *args], capture_output=True, text=True, env=env, timeout=60, cwd=cwd)


def _store(folder: Path, items: list[dict[str, Any]]) -> Path:
    store = SqliteStore(folder)
    assert {o.status for o in store.index_items_sync(items)} == {"indexed"}
    store.db.close()
    return folder


def _copies(items: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """``n`` distinct stories that all say "putin", one minute apart."""
    base = next(i for i in items if i["id"] == "reuters:77")
    return [
        {**base, "id": f"copy:{k}", "story_id": f"copy:{k}", "dedupe": {"status": "new", "of": None},
         "published_at": f"2025-03-01T10:{k:02d}:00Z"}
        for k in range(n)
    ]


def test_search_on_a_missing_folder_creates_nothing(wirewatch_bin: str, wirewatch_env: dict[str, str],
                                                    tmp_path: Path) -> None:
    env = {**wirewatch_env, "WIREWATCH_DATA_DIR": "nope/deeper"}
    done = run(wirewatch_bin, env, "search", "putin", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [
        "wirewatch search: error: no Wirewatch store at nope/deeper/wirewatch.db (no such folder): "
        "`wirewatch run --data-dir nope/deeper ...` makes one (`make demo` fills .wirewatch/demo); "
        "or give --data-dir (or WIREWATCH_DATA_DIR) the folder of an existing one"
    ]
    assert list(tmp_path.iterdir()) == []


def test_a_folder_without_a_database_is_no_store(wirewatch_bin: str, wirewatch_env: dict[str, str],
                                                 tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for args in (("search", "putin"), ("rules", "backtest", "--query", "putin")):
        done = run(wirewatch_bin, wirewatch_env, *args, "--data-dir", str(tmp_path / "empty"))
        assert done.returncode == 2
        assert f"no Wirewatch store at {tmp_path}/empty/{DB_FILE} (no {DB_FILE} in it)" in done.stderr
        assert len(done.stderr.splitlines()) == 1
    assert list((tmp_path / "empty").iterdir()) == []


def test_data_dir_option_reads_that_store_without_writing(wirewatch_bin: str, wirewatch_env: dict[str, str],
                                                          tmp_path: Path, processed_items: list[dict[str, Any]]) -> None:
    folder = _store(tmp_path / "desk", processed_items)
    database = folder / DB_FILE
    before = (database.stat().st_mtime_ns, database.read_bytes())
    done = run(wirewatch_bin, wirewatch_env, "search", "putin", "--data-dir", str(folder), "--json")
    assert done.returncode == 0, done.stderr
    assert [line.split('"id": "')[1].split('"')[0] for line in done.stdout.splitlines()] == ["reuters:77", "bbc:1001"]
    done = run(wirewatch_bin, wirewatch_env, "rules", "backtest", "putin-warrant", "--rules",
               str(FIXTURES / "rules.yaml"), "--since", "3650d", "--data-dir", str(folder))
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[-1] == (
        "rule putin-warrant '\"arrest warrant\" AND Putin': 2 item(s) in 1 story(ies) over the last 3650d")
    assert (database.stat().st_mtime_ns, database.read_bytes()) == before  # read only
    # SQLite's own -wal/-shm companions (a WAL reader's shared memory) are all that may appear
    assert {p.name for p in folder.iterdir()} <= {DB_FILE, f"{DB_FILE}-wal", f"{DB_FILE}-shm"}


def test_search_says_when_more_match_than_the_limit(wirewatch_bin: str, wirewatch_env: dict[str, str],
                                                    tmp_path: Path, processed_items: list[dict[str, Any]]) -> None:
    folder = _store(tmp_path / "desk", _copies(processed_items, 25))
    done = run(wirewatch_bin, wirewatch_env, "search", "putin", "--data-dir", str(folder))
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 20
    assert done.stderr.splitlines() == ["20 of 25 shown; --limit 25 for all"]
    done = run(wirewatch_bin, wirewatch_env, "search", "putin", "--data-dir", str(folder), "--limit", "25")
    assert len(done.stdout.splitlines()) == 25 and done.stderr == ""  # all of them: no hint
    done = run(wirewatch_bin, wirewatch_env, "rules", "backtest", "--query", "putin", "--limit", "10",
               "--since", "3650d", "--data-dir", str(folder))
    assert done.stderr.splitlines()[-1] == (
        "query 'putin': 25 item(s) over the last 3650d; 10 shown, in 10 story(ies); --limit 25 for all")
    done = run(wirewatch_bin, wirewatch_env, "search", "putin", "--data-dir", str(folder), "--stories", "--limit", "3")
    assert len(done.stdout.splitlines()) == 3 and done.stderr.splitlines() == ["3 of 25 shown; --limit 25 for all"]
    done = run(wirewatch_bin, wirewatch_env, "search", "putin", "--data-dir", str(folder), "--limit", "10001")
    assert done.returncode == 2 and "--limit: at most 10000, got '10001'" in done.stderr


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (("quak", "--rules", "RULES"),
         "wirewatch rules: error: no rule 'quak' in RULES (its rules: floods, putin-warrant); "
         "to backtest a query, use --query"),
        (("putin-warant", "--rules", "RULES"),  # a typo
         "wirewatch rules: error: no rule 'putin-warant' in RULES (did you mean 'putin-warrant'?); "
         "to backtest a query, use --query"),
        (("quak",),
         "wirewatch rules: error: rule id 'quak' needs --rules FILE to look it up in; "
         "to backtest a query, use --query quak"),
        (("putin-warrant", "--rules", "RULES", "--query", "putin"),
         "wirewatch rules: error: give a rule id (with --rules FILE) or --query QUERY, one of the two"),
        ((), "wirewatch rules: error: give a rule id (with --rules FILE) or --query QUERY, one of the two"),
    ],
)
def test_backtest_never_takes_a_rule_id_for_a_query(args: tuple[str, ...], line: str, wirewatch_bin: str,
                                                    wirewatch_env: dict[str, str], tmp_path: Path,
                                                    processed_items: list[dict[str, Any]]) -> None:
    folder = _store(tmp_path / "desk", processed_items)
    rules = str(FIXTURES / "rules.yaml")
    done = run(wirewatch_bin, wirewatch_env, "rules", "backtest", *(rules if a == "RULES" else a for a in args),
               "--data-dir", str(folder))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [line.replace("RULES", rules)]


def test_backtest_of_a_silence_rule_on_a_source_is_one_line(wirewatch_bin: str, wirewatch_env: dict[str, str],
                                                           tmp_path: Path, processed_items: list[dict[str, Any]]) -> None:
    folder = _store(tmp_path / "desk", processed_items)
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - id: reuters-quiet\n    kind: silence\n    source: reuters\n    for: 2h\n")
    done = run(wirewatch_bin, wirewatch_env, "rules", "backtest", "reuters-quiet", "--rules", str(rules),
               "--data-dir", str(folder))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [
        "wirewatch rules: error: rule 'reuters-quiet' watches a source, not a query: nothing to backtest"]
