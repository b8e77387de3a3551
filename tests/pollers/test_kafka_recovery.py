"""Crash between "items acknowledged" and "state saved": the raw topic folds back into state."""

from __future__ import annotations

import time

import pytest

from wirewatch.bus.kafka import KafkaPublisher, PartitionReader, TopicSpec, ensure_topics
from wirewatch.pollers.group import recover_from_log
from wirewatch.pollers.state import SourceState

pytestmark = pytest.mark.kafka


def item(item_id: str, revision: int, digest: str) -> dict[str, object]:
    return {"id": item_id, "revision": revision, "content_hash": digest}


async def test_kafka_items_published_after_last_save_are_not_emitted_again(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    raw = f"{topic_prefix}.raw"
    await ensure_topics(kafka_bootstrap, [TopicSpec(raw, 3)])
    saved = SourceState("src", saved_at=time.time())  # the state saved before the crash: empty
    async with KafkaPublisher(kafka_bootstrap) as publisher:
        await publisher.publish_many(
            raw,
            [
                ("src", item("src:a", 1, "h-a")),
                ("src", item("src:b", 2, "h-b")),
                ("other", item("other:x", 1, "h-x")),
            ],
        )
    reader = PartitionReader(kafka_bootstrap)
    try:
        recovered = await recover_from_log(reader, raw, 3, {"src": saved})
    finally:
        await reader.close()
    state = recovered["src"]
    assert {k: (e.hash, e.revision) for k, e in state.entries.items()} == {
        "src:a": ("h-a", 1),
        "src:b": ("h-b", 2),
    }
    # The next poll sees the same content: nothing is re-emitted; an edit continues the revisions.
    emitted, _ = state.plan(
        [{"id": "src:a", "content_hash": "h-a"}, {"id": "src:b", "content_hash": "h-b2"}],
        etag=None,
        last_modified=None,
    )
    assert [(i["id"], i["revision"]) for i in emitted] == [("src:b", 3)]
