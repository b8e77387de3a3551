"""The Elasticsearch store on the real node: template, alias, versions, stories, search, rejections."""

from __future__ import annotations

import copy
from typing import Any

from wirewatch.sinks.elasticsearch import ClusterFeatures, ElasticsearchStore, item_analysis

from .helpers import drop_prefix


async def test_elastic_items_land_in_monthly_indices_behind_the_alias(es_store: ElasticsearchStore,
                                                                      es_client: Any, processed_items):
    outcomes = await es_store.index_items(processed_items)
    assert [o.status for o in outcomes] == ["indexed"] * 5
    aliases = (await es_client.indices.get_alias(name=es_store.items_alias)).body
    prefix = es_store.prefix
    assert sorted(aliases) == [f"{prefix}-items-2025.03", f"{prefix}-items-2025.04"]
    mapping = await es_store.installed_mapping(es_store.items_alias)
    assert mapping["search"]["properties"]["title"] == {"type": "text", "analyzer": "standard"}
    assert mapping["entities"]["properties"]["name"]["type"] == "keyword"
    assert mapping["published_at"] == {"type": "date"}
    assert mapping["title"]["fields"]["keyword"]["type"] == "keyword"


async def test_elastic_replay_is_stale_and_the_newest_revision_wins(es_store: ElasticsearchStore,
                                                                    processed_items):
    await es_store.index_items(processed_items)
    replay = await es_store.index_items(processed_items)
    assert [o.status for o in replay] == ["stale"] * 5
    revision_1 = processed_items[2]
    assert (await es_store.index_items([revision_1]))[0].status == "stale"
    await es_store.refresh()
    assert await es_store.count() == 4
    hits = await es_store.search("stranded")
    assert [(h.id, h.document["revision"], h.document["title"]) for h in hits] == [
        ("guardian:live-5:b1", 2, "Zürich floods: rescuers reach all stranded residents")
    ]


async def test_elastic_search_matches_like_the_rule_matcher(es_store: ElasticsearchStore, processed_items):
    await es_store.index_items(processed_items)
    await es_store.refresh()
    hits = await es_store.search('"arrest warrant" AND Putin')
    assert [h.id for h in hits] == ["reuters:77", "bbc:1001"]  # newest first
    assert [h.id for h in await es_store.search("zurich")] == ["guardian:live-5:b1"]  # folded like analysis
    assert [h.id for h in await es_store.search("Putin", limit=1)] == ["reuters:77"]


async def test_elastic_is_story_gives_one_row_per_story(es_store: ElasticsearchStore, processed_items):
    await es_store.index_items(processed_items)
    await es_store.refresh()
    anything = "floods OR putin OR bank"
    stories = await es_store.search(anything, stories_only=True)
    assert sorted(h.id for h in stories) == ["ap:9", "bbc:1001", "guardian:live-5:b1"]
    everything = await es_store.search(anything)
    assert len(everything) == 4
    mirror = next(h for h in everything if h.id == "reuters:77")
    assert (mirror.document["is_story"], mirror.document["story_id"]) == (False, "bbc:1001")


async def test_elastic_rejected_document_reports_the_reason(es_store: ElasticsearchStore, processed_items):
    bad = copy.deepcopy(processed_items[4])
    bad["id"] = "ap:bad-date"
    bad["published_at"] = "2025-02-30T12:00:00Z"  # matches the schema pattern, not a real date
    outcomes = await es_store.index_items([bad, processed_items[0]])
    assert [o.status for o in outcomes] == ["rejected", "indexed"]
    assert outcomes[0].reason == "published_at 2025-02-30T12:00:00Z is not a real date (day is out of range for month)"


async def test_elastic_alerts_indexed_once_by_alert_id(es_store: ElasticsearchStore, es_client: Any, alerts):
    assert [o.status for o in await es_store.index_alerts(alerts)] == ["indexed"] * 4
    assert [o.status for o in await es_store.index_alerts(alerts)] == ["duplicate"] * 4
    await es_store.refresh()
    assert (await es_client.count(index=es_store.alerts_alias))["count"] == 4


async def test_elastic_core_node_has_neither_ilm_nor_data_streams(es_store: ElasticsearchStore):
    features = await es_store.detect_features()
    assert (features.ilm, features.data_streams, features.ascii_folding) == (False, False, False)


def test_typed_words_are_folded_where_the_cluster_has_asciifolding() -> None:
    """The production image (analysis-common): Kibana's ``café`` searches ``cafe``. The test node has
    no asciifolding filter, so this checks the template Wirewatch would install, not the analyzer."""
    settings, mappings = item_analysis(ClusterFeatures(ilm=False, data_streams=False))
    assert settings == {}
    assert mappings["properties"]["search"]["properties"]["title"] == {"type": "text", "analyzer": "standard"}
    settings, mappings = item_analysis(ClusterFeatures(ilm=True, data_streams=True, ascii_folding=True))
    assert settings == {"analysis": {
        "analyzer": {"wirewatch_search": {
            "type": "custom", "tokenizer": "standard", "filter": ["lowercase", "asciifolding", "lowercase"]}},
        "normalizer": {"wirewatch_fold": {"type": "custom", "filter": ["lowercase", "asciifolding", "lowercase"]}},
    }}
    folded = {"type": "text", "analyzer": "standard", "search_analyzer": "wirewatch_search"}
    name = {"type": "keyword", "ignore_above": 1024, "normalizer": "wirewatch_fold"}  # whole names (entity:)
    assert mappings["properties"]["search"]["properties"] == {
        **{field: folded for field in ("title", "body", "source", "tags", "language")},
        "entity": {**folded, "fields": {"exact": name}}, "source_name": name,
    }
    assert mappings["properties"]["title"] == {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 512}}}


async def test_bodies_are_serialised_with_orjson(elasticsearch_url: str, index_prefix: str, processed_items):
    from elasticsearch import OrjsonSerializer

    store = ElasticsearchStore.from_url(elasticsearch_url, index_prefix)
    try:
        assert isinstance(store.client.transport.serializers.get_serializer("application/json"), OrjsonSerializer)
        await store.setup()
        item = copy.deepcopy(processed_items[0])
        item["title"] = "Зеленский — 习近平 «تحديث» 🚀 \u2028 end"
        assert [o.status for o in await store.index_items([item])] == ["indexed"]
        await store.client.indices.refresh(index=store.items_alias)
        stored = (await store.client.search(index=store.items_alias, query={"ids": {"values": [item["id"]]}})).body
        assert stored["hits"]["hits"][0]["_source"]["title"] == item["title"]
    finally:
        await drop_prefix(store.client, index_prefix)
        await store.close()


def test_every_field_of_a_processed_item_is_mapped() -> None:
    """The item mapping is not dynamic: a schema field without a mapping would be stored but never searchable."""
    from wirewatch.core.schemas import load_schema
    from wirewatch.sinks.elasticsearch import ITEM_PROPERTIES

    fields = set(load_schema("raw_item")["$defs"]["fields"]["properties"]) | set(load_schema("processed_item")["properties"])
    assert sorted(fields - set(ITEM_PROPERTIES)) == []
    # what the store adds, and the aliases of rules' short names (entity:, tag:)
    assert sorted(set(ITEM_PROPERTIES) - fields) == ["entity", "is_story", "search", "tag"]
