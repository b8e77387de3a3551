"""``wirewatch search`` and ``wirewatch rules backtest`` as subprocesses against the real node."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from wirewatch.sinks.elasticsearch import ElasticsearchStore

from .helpers import FIXTURES

pytestmark = pytest.mark.elastic


@pytest.fixture
async def indexed_env(es_store: ElasticsearchStore, processed_items, wirewatch_env: dict[str, str],
                      elasticsearch_url: str) -> dict[str, str]:
    await es_store.index_items(processed_items)
    await es_store.refresh()
    return {**wirewatch_env, "WIREWATCH_ELASTICSEARCH_URL": elasticsearch_url,
            "WIREWATCH_INDEX_PREFIX": es_store.prefix}


def run(wirewatch_bin: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([wirewatch_bin, *args], capture_output=True, text=True, env=env, timeout=60)


def ids(stdout: str) -> list[str]:
    return [json.loads(line)["id"] for line in stdout.splitlines()]


def test_elastic_backtest_by_rule_id_uses_the_rule_query(indexed_env: dict[str, str], wirewatch_bin: str):
    done = run(wirewatch_bin, indexed_env, "rules", "backtest", "putin-warrant", "--since", "3650d",
               "--rules", str(FIXTURES / "rules.yaml"), "--json")
    assert done.returncode == 0, done.stderr
    assert ids(done.stdout) == ["reuters:77", "bbc:1001"]
    assert done.stderr.strip().splitlines()[-1] == (
        "rule putin-warrant '\"arrest warrant\" AND Putin': 2 item(s) in 1 story(ies) over the last 3650d")


def test_elastic_backtest_by_query_and_window(indexed_env: dict[str, str], wirewatch_bin: str):
    done = run(wirewatch_bin, indexed_env, "rules", "backtest", "--query", "flood*", "--since", "3650d", "--json")
    assert done.returncode == 0, done.stderr
    assert ids(done.stdout) == ["guardian:live-5:b1"]
    recent = run(wirewatch_bin, indexed_env, "rules", "backtest", "--query", "flood*", "--since", "1h", "--json")
    assert (recent.returncode, recent.stdout) == (0, "")


def test_elastic_search_stories_and_limit(indexed_env: dict[str, str], wirewatch_bin: str):
    done = run(wirewatch_bin, indexed_env, "search", "putin OR floods OR bank", "--stories", "--json")
    assert ids(done.stdout) == ["ap:9", "guardian:live-5:b1", "bbc:1001"]
    done = run(wirewatch_bin, indexed_env, "search", "putin", "--limit", "1", "--json")
    assert ids(done.stdout) == ["reuters:77"]


def test_elastic_search_bad_query_is_one_line(indexed_env: dict[str, str], wirewatch_bin: str):
    done = run(wirewatch_bin, indexed_env, "search", '"unclosed phrase')
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wirewatch search: error: bad query '\"unclosed phrase': ")


def test_search_without_elasticsearch_uses_the_embedded_store(wirewatch_env: dict[str, Any], wirewatch_bin: str):
    data = wirewatch_env["WIREWATCH_DATA_DIR"]
    done = run(wirewatch_bin, wirewatch_env, "search", "putin", "--json")  # the folder holds no store: no hit
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith(f"wirewatch search: error: no Wirewatch store at {data}/wirewatch.db")
