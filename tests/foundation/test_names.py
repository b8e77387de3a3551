"""Topic and consumer-group names are built in Settings only, and stay exactly what deployments use."""

from __future__ import annotations

from wirewatch.core.config import Settings


def test_topic_and_group_names_keep_their_deployed_spelling() -> None:
    s = Settings(topic_prefix="news")
    assert [s.raw_topic, s.processed_topic, s.alerts_topic, s.dead_letter_topic, s.poller_state_topic,
            s.dedupe_topic, s.delivered_topic] == [
        "news.raw", "news.processed", "news.alerts", "news.dead-letter", "news.poller-state",
        "news.processor-dedupe", "news.notifier-delivered",
    ]
    # the pollers' group has a dot, the others a dash: committed offsets live under these names
    assert [s.poller_group, s.processor_group, s.indexer_group, s.notifier_group] == [
        "news.pollers", "news-processor", "news-indexer", "news-notifier",
    ]
