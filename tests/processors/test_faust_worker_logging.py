"""The Faust worker logs at the configured level, through Wirewatch's structlog handler."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from wirewatch.core.config import Settings
from wirewatch.core.logging import LibraryHandler, configure_logging
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
def test_worker_keeps_debug_logging_off_and_our_handler_on(level: str, restore_logging: None, tmp_path: Path) -> None:
    # no broker is contacted: the app and worker are only built, and the worker's first-start
    # logging step (mode's Worker.default_on_first_start) is run as the worker would run it
    settings = Settings(kafka_bootstrap="127.0.0.1:1", log_level=level, data_dir=tmp_path)
    configure_logging(settings.log_level, "json")
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules: []\n")
    app = create_app(settings, ProcessorConfig(rules=rules, ner="off"))
    worker = make_worker(app, settings)
    if worker.override_logging:
        worker._setup_logging()
    assert [type(h) for h in logging.getLogger().handlers] == [LibraryHandler]
    assert not logging.getLogger("aiokafka.producer.producer").isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("faust.topics").isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("faust.worker").isEnabledFor(logging.INFO)  # Faust's start-up steps: chatter
