"""`wirewatch poll --once --config FILE --state DIR`: the exact CLI contract."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

from wirewatch.core.deadletter import dead_letter
from wirewatch.core.schemas import validate
from wirewatch.pollers.poller import StdoutPublisher

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
        f"wirewatch poll: error: {config}: sources[0] (a).url: must be an http:// or https:// URL "
        "(got 'ftp://example.org/feed')"
    ]


def test_help_has_examples(wirewatch_bin: str, wirewatch_env: dict[str, str]) -> None:
    for command in ("poll", "poller"):
        result = subprocess.run(
            [wirewatch_bin, command, "--help"], capture_output=True, text=True, env=wirewatch_env
        )
        assert result.returncode == 0 and "examples:" in result.stdout
        if command == "poll":
            assert "--dead-letters FILE" in result.stdout


ODD_DATES_RSS = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Desk</title><link>https://desk.example/</link>
<item><guid isPermaLink="false">today</guid><title>Budget passes</title>
<description>The council voted.</description><pubDate>Tue, 03 Mar 2026 10:15:00 GMT</pubDate></item>
<item><guid isPermaLink="false">year-one</guid><title>Archive entry</title>
<description>From the archive.</description><pubDate>Mon, 01 Jan 0001 00:00:00 GMT</pubDate></item>
<item><guid isPermaLink="false">forever</guid><title>Pinned notice</title>
<description>Pinned.</description><pubDate>Fri, 31 Dec 9999 23:59:59 GMT</pubDate></item>
</channel></rss>
"""


def test_poll_once_stdout_has_raw_items_only(
    site: Site, tmp_path: Path, wirewatch_bin: str, wirewatch_env: dict[str, str]
) -> None:
    """Issue #16: a year-1 date was dead-lettered, and the dead letter printed among the items."""
    config = tmp_path / "sources.yaml"
    url = site.serve("/desk.xml", ODD_DATES_RSS, headers={"Content-Type": "application/rss+xml"})
    config.write_text(f"fetch:\n  min_host_delay: 0s\nsources:\n  - id: desk\n    kind: rss\n    url: {url}\n")
    dead = tmp_path / "dead.jsonl"
    plain = poll(wirewatch_bin, wirewatch_env, config, tmp_path / "state")
    with_file = subprocess.run(
        [wirewatch_bin, "poll", "--once", "--config", str(config), "--state", str(tmp_path / "state2"),
         "--dead-letters", str(dead)],
        capture_output=True, text=True, env=wirewatch_env, timeout=60,
    )  # fmt: skip
    for result in (plain, with_file):
        assert result.returncode == 0, result.stderr
        items = [json.loads(line) for line in result.stdout.splitlines()]
        for item in items:
            validate("raw_item", item)
        assert [(i["id"], i["published_at"] == i["fetched_at"], "date_note" in i) for i in items] == [
            ("desk:today", False, False),
            ("desk:year-one", True, True),
            ("desk:forever", True, True),
        ]
    assert dead.read_text() == ""


async def test_stdout_publisher_sends_dead_letters_to_their_file_never_to_stdout() -> None:
    stdout, dead = io.StringIO(), io.StringIO()
    publisher = StdoutPublisher(stdout, raw_topic="w.raw", dead_letters=dead)
    record = dead_letter("poller", "not a valid raw_item at title: 3 is not a string", {"title": 3})
    await publisher.publish_many("w.raw", [("desk", {"id": "desk:1"})])
    await publisher.publish("w.dead-letter", record, key="desk")
    assert [json.loads(line) for line in stdout.getvalue().splitlines()] == [{"id": "desk:1"}]
    assert [json.loads(line) for line in dead.getvalue().splitlines()] == [record]

    quiet = io.StringIO()  # without --dead-letters: only the poller's warning line (stderr) remains
    await StdoutPublisher(quiet, raw_topic="w.raw").publish("w.dead-letter", record, key="desk")
    assert quiet.getvalue() == ""
