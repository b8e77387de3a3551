"""The Faust worker logs at the configured level: no terminal spinner turning DEBUG on."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from wirewatch.core.config import Settings
from wirewatch.processors.faust_app import create_app, make_worker
from wirewatch.processors.pipeline import ProcessorConfig


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    root.setLevel(level)
    root.handlers[:] = handlers


@pytest.mark.parametrize("level", ["info", "warning", "error"])
def test_worker_keeps_debug_logging_off(level: str, restore_logging: None, tmp_path: Path) -> None:
    # no broker is contacted: the app and worker are only built and their logging set up
    settings = Settings(kafka_bootstrap="127.0.0.1:1", log_level=level, data_dir=tmp_path)
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules: []\n")
    app = create_app(settings, ProcessorConfig(rules=rules, ner="off"))
    worker = make_worker(app, settings)
    worker._setup_logging()
    assert not logging.getLogger("aiokafka.producer.producer").isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("faust.topics").isEnabledFor(logging.DEBUG)
