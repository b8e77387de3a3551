"""`wirewatch run` re-reads its rules file while running, as every long-running path does."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import yaml

from wirewatch.core.config import load_settings
from wirewatch.embedded.runner import Runner, RunOptions, load_config


def _write_rules(path: Path, rules: list[dict[str, object]], tick: int) -> None:
    path.write_text(yaml.safe_dump({"rules": rules}))
    os.utime(path, ns=(tick * 10**9, tick * 10**9))


async def _until(check: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.1)
    return False


async def test_run_reloads_rules_and_keeps_them_when_an_edit_is_wrong(tmp_path: Path) -> None:
    sources = tmp_path / "sources.yaml"
    # a source nobody answers: the pollers keep retrying it, which does not matter here
    sources.write_text(yaml.safe_dump({"sources": [
        {"id": "feed", "kind": "rss", "url": "http://127.0.0.1:9/feed.xml", "interval": "60s"}]}))
    rules = tmp_path / "rules.yaml"
    _write_rules(rules, [{"id": "first", "query": "court"}], 1)
    destinations = tmp_path / "destinations.yaml"
    destinations.write_text(yaml.safe_dump({"destinations": {"desk": {"url": "http://127.0.0.1:9/hook"}}}))
    options = RunOptions(sources=sources, rules=rules, destinations=destinations, web=None, ner="off")
    runner = Runner(options, load_settings(data_dir=tmp_path / "data"), load_config(options))
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        assert await _until(runner.ready.is_set, 30)
        assert runner.processor is not None
        ids = lambda: [rule.id for rule in runner.processor.rules.rules]  # type: ignore[union-attr]  # noqa: E731

        _write_rules(rules, [{"id": "second", "query": "corridor"}], 2)
        assert await _until(lambda: ids() == ["second"], 10)

        # notifies a destination --destinations lacks (a typo): refused like at start, the rules in force stay
        _write_rules(rules, [{"id": "third", "query": "x", "notify": ["nowhere"]}], 3)
        assert not await _until(lambda: ids() != ["second"], 5)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
