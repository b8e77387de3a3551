"""Fixtures for the sinks tests: fixture documents and an ES store with clean-up."""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import load_jsonl


@pytest.fixture
def processed_items() -> list[dict[str, Any]]:
    """Five processed items: a story and its mirror, a live-blog post in two revisions, one more story."""
    return load_jsonl("processed_items.jsonl")


@pytest.fixture
def alerts() -> list[dict[str, Any]]:
    """Four alerts to destinations ``desk`` and ``archive`` (one an update, revision 2)."""
    return load_jsonl("alerts.jsonl")

