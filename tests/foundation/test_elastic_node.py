"""The real Elasticsearch node: what it has, and index/search round trips."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.elastic


async def test_elastic_node_is_a_minimal_core_node(es_client: Any) -> None:
    """Documents what the integ-test zip offers, so index design doesn't assume more."""
    plugins = await es_client.nodes.info(metric="plugins")
    (node,) = plugins["nodes"].values()
    assert node["version"].split(".")[0] == "9"
    modules = {m["name"] for m in node["modules"]}
    # No analysis-common (asciifolding, possessive), percolator, data streams or ILM here.
    assert modules.isdisjoint({"analysis-common", "percolator", "data-streams", "x-pack-ilm"})
    standard = await es_client.indices.analyze(analyzer="standard", text="Xi Jinping's Café")
    assert [t["token"] for t in standard["tokens"]] == ["xi", "jinping's", "café"]
    health = await es_client.cluster.health()
    assert health["status"] in ("green", "yellow")


async def test_elastic_index_and_search_round_trip(es_client: Any, index_prefix: str) -> None:
    index = f"{index_prefix}-items"
    await es_client.indices.create(
        index=index,
        mappings={"properties": {"title": {"type": "text"}, "published_at": {"type": "date"}}},
    )
    try:
        for n, title in enumerate(["Ceasefire talks resume", "Election results delayed", "Ceasefire holds"]):
            await es_client.index(index=index, id=f"doc-{n}", document={"title": title, "published_at": "2026-11-27T10:00:00Z"})
        await es_client.indices.refresh(index=index)
        result = await es_client.search(index=index, query={"query_string": {"query": "ceasefire", "default_field": "title"}})
        assert sorted(h["_id"] for h in result["hits"]["hits"]) == ["doc-0", "doc-2"]
    finally:
        await es_client.indices.delete(index=index)


async def test_elastic_external_versions_make_replays_harmless(es_client: Any, index_prefix: str) -> None:
    """The indexer's exactly-once-in-effect relies on external versioning: check the node honours it."""
    from elasticsearch import ConflictError

    index = f"{index_prefix}-versions"
    await es_client.indices.create(index=index)
    try:
        await es_client.index(index=index, id="a", document={"rev": 2}, version=2, version_type="external")
        with pytest.raises(ConflictError):
            await es_client.index(index=index, id="a", document={"rev": 1}, version=1, version_type="external")
        await es_client.indices.refresh(index=index)
        doc = await es_client.get(index=index, id="a")
        assert doc["_source"] == {"rev": 2}
        count = await es_client.count(index=index)
        assert count["count"] == 1
    finally:
        await es_client.indices.delete(index=index)


async def test_elastic_bulk_helper_reports_rejected_documents(es_client: Any, index_prefix: str) -> None:
    from elasticsearch.helpers import async_bulk

    index = f"{index_prefix}-bulk"
    await es_client.indices.create(index=index, mappings={"properties": {"n": {"type": "integer"}}})
    try:
        actions = [{"_index": index, "_id": str(i), "n": i} for i in range(10)]
        actions.append({"_index": index, "_id": "bad", "n": "not a number"})
        ok, errors = await async_bulk(es_client, actions, raise_on_error=False, refresh=True)
        assert ok == 10
        assert isinstance(errors, list)
        assert [e["index"]["_id"] for e in errors] == ["bad"]
        assert errors[0]["index"]["error"]["type"] == "document_parsing_exception"
    finally:
        await es_client.indices.delete(index=index)
