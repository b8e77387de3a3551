"""`wirewatch poll --once --config FILE --state DIR`: the exact CLI contract."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from wirewatch.core.schemas import validate

from .helpers import Site, fixture_bytes

CONFIG = """\
fetch:
  min_host_delay: 0s
  total_timeout: 5s
sources:
  - id: wire
    kind: rss
    url: {rss}
  - id: broken
    url: {broken}
  - id: crash-live
    kind: liveblog
    url: {live}
    liveblog:
      block: "article.block"
      id_attr: "data-block-id"
      time: "time[datetime]"
      title: "h2"
      body: "div.block-elements"
"""


def poll(
    wirewatch_bin: str, env: dict[str, str], config: Path, state: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [wirewatch_bin, "poll", "--once", "--config", str(config), "--state", str(state)],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip


def test_poll_once_prints_new_items_then_nothing(
    site: Site, tmp_path: Path, wirewatch_bin: str, wirewatch_env: dict[str, str]
) -> None:
    config = tmp_path / "sources.yaml"
    config.write_text(
        CONFIG.format(
            rss=site.serve(
                "/rss.xml",
                fixture_bytes("rss_v1.xml"),
                headers={"Content-Type": "application/rss+xml"},
            ),
            broken=site.serve("/broken", b"oops", status=500),
            live=site.serve(
                "/live",
                fixture_bytes("liveblog_selectors_v1.html"),
                headers={"Content-Type": "text/html"},
            ),
        )
    )
    state = tmp_path / "state"
    first = poll(wirewatch_bin, wirewatch_env, config, state)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    items = [json.loads(line) for line in lines]
    for item in items:
        validate("raw_item", item)
    # sources are polled concurrently and each one's items printed when it is done:
    # the order holds within a source, not between sources
    by_source: dict[str, list[tuple[str, int]]] = {}
    for i in items:
        by_source.setdefault(i["source"]["id"], []).append((i["id"], i["revision"]))
    assert by_source == {
        "wire": [("wire:wire-1", 1), ("wire:wire-2", 1), ("wire:https://news.example/storm", 1)],
        "crash-live": [("crash-live:blk-103", 1), ("crash-live:blk-102", 1), ("crash-live:blk-101", 1)],
    }
    logs = [json.loads(line) for line in first.stderr.splitlines()]
    failures = [entry for entry in logs if entry.get("event") == "source_failed"]
    assert [(f["source"], f["kind"], f["reason"]) for f in failures] == [
        ("broken", "http_status", "HTTP 500")
    ]
    assert sorted(p.name for p in state.iterdir()) == ["crash-live.json", "wire.json"]

    second = poll(wirewatch_bin, wirewatch_env, config, state)
    assert (second.returncode, second.stdout) == (0, "")

    site.serve(
        "/live", fixture_bytes("liveblog_selectors_v2.html"), headers={"Content-Type": "text/html"}
    )
    third = poll(wirewatch_bin, wirewatch_env, config, state)
    assert third.returncode == 0
    assert [(i["id"], i["revision"]) for i in map(json.loads, third.stdout.splitlines())] == [
        ("crash-live:blk-104", 1),
        ("crash-live:blk-103", 2),
    ]


def test_malformed_config_is_one_line_exit_2(
    tmp_path: Path, wirewatch_bin: str, wirewatch_env: dict[str, str]
) -> None:
    config = tmp_path / "sources.yaml"
    config.write_text("sources:\n  - id: a\n    url: ftp://example.org/feed\n")
    result = poll(wirewatch_bin, wirewatch_env, config, tmp_path / "state")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines() == [
        f"wirewatch poll: error: {config}: sources[0].url: Value error, must be an http:// or https:// URL "
        "(got 'ftp://example.org/feed')"
    ]


def test_help_has_examples(wirewatch_bin: str, wirewatch_env: dict[str, str]) -> None:
    for command in ("poll", "poller"):
        result = subprocess.run(
            [wirewatch_bin, command, "--help"], capture_output=True, text=True, env=wirewatch_env
        )
        assert result.returncode == 0 and "examples:" in result.stdout
