"""Fixtures for the sinks tests: fixture documents and an ES store with clean-up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from .helpers import drop_prefix, load_jsonl


@pytest.fixture
def processed_items() -> list[dict[str, Any]]:
    """Five processed items: a story and its mirror, a live-blog post in two revisions, one more story."""
    return load_jsonl("processed_items.jsonl")


@pytest.fixture
def alerts() -> list[dict[str, Any]]:
    """Four alerts to destinations ``desk`` and ``archive`` (one an update, revision 2)."""
    return load_jsonl("alerts.jsonl")


@pytest.fixture
async def es_store(es_client: Any, index_prefix: str) -> AsyncIterator[Any]:
    """An ElasticsearchStore on the shared node with this test's prefix; indices and templates removed after."""
    from wirewatch.sinks.elasticsearch import ElasticsearchStore

    store = ElasticsearchStore(es_client, index_prefix)
    await store.setup()
    try:
        yield store
    finally:
        await drop_prefix(es_client, index_prefix)
