"""The stream matcher finds exactly what Elasticsearch finds for the same query.

Documents are indexed as the indexer does (``search.*`` = ``search_fields(item)``,
plain ``standard`` analyzer), then each query in the fixture runs through the
real node's ``query_string`` (``to_es_query``) and through ``compile_query``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from wirewatch.search.analysis import search_fields
from wirewatch.search.matcher import compile_query, prepare
from wirewatch.search.query import FIELDS, INDEX_FIELD_PREFIX, to_es_query

pytestmark = pytest.mark.elastic

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "rules"
ITEMS: list[dict[str, Any]] = yaml.safe_load((FIXTURES / "parity_items.yaml").read_text("utf-8"))


def _queries(name: str) -> list[tuple[str, str]]:
    """(query, expectation) pairs; expectation "none" marks a query meant to select nothing."""
    lines = (FIXTURES / name).read_text("utf-8").splitlines()
    pairs = []
    for line in lines:
        if line.strip() and not line.startswith("#"):
            query, _, expect = line.partition("\t")
            pairs.append((query, expect))
    return pairs


async def _index(es: Any, name: str) -> None:
    text = {"type": "text"}  # the node's default: standard analyzer, position_increment_gap 100
    aliases = {f: {"type": "alias", "path": INDEX_FIELD_PREFIX + target} for f, target in FIELDS.items()}
    await es.indices.create(
        index=name,
        settings={"number_of_shards": 1, "number_of_replicas": 0},
        mappings={
            "dynamic": "strict",
            "properties": {
                "search": {"properties": {f: text for f in set(FIELDS.values())}},
                **aliases,
            },
        },
    )
    operations: list[dict[str, Any]] = []
    for item in ITEMS:
        operations += [{"index": {"_id": item["id"]}}, {"search": search_fields(item)}]
    result = await es.bulk(index=name, operations=operations, refresh=True)
    assert not result["errors"], result


async def _es_ids(es: Any, index: str, query: dict[str, Any]) -> set[str]:
    result = await es.search(index=index, query=query, size=len(ITEMS) + 10, source=False)
    return {hit["_id"] for hit in result["hits"]["hits"]}


def _stream_ids(query: str) -> set[str]:
    compiled = compile_query(query)
    return {item["id"] for item in ITEMS if compiled.matches(prepare(item))}


async def test_elastic_query_string_and_matcher_find_the_same_items(es_client: Any, index_prefix: str) -> None:
    index = f"{index_prefix}-parity"
    queries = _queries("parity_queries.txt")
    await _index(es_client, index)
    try:
        mismatches, undiscriminating = {}, []
        for q, expect in queries:
            es, stream = await _es_ids(es_client, index, to_es_query(q)), _stream_ids(q)
            if es != stream:
                mismatches[q] = {"elastic only": sorted(es - stream), "stream only": sorted(stream - es)}
            if (expect == "none") != (not es) or len(es) == len(ITEMS):
                undiscriminating.append((q, len(es)))
    finally:
        await es_client.indices.delete(index=index)
    assert mismatches == {}
    # the fixture discriminates: every query selects some items but not all, unless meant to
    assert undiscriminating == []


async def test_elastic_parses_operator_quirks_like_the_matcher(es_client: Any, index_prefix: str) -> None:
    """Elasticsearch parsing the query text itself (not our rendering) agrees: so parse()
    resolves AND/OR/NOT/+/- as Lucene does, not just consistently with itself."""
    index = f"{index_prefix}-quirks"
    queries = _queries("parity_raw_queries.txt")
    await _index(es_client, index)
    try:
        mismatches = {}
        for q, _ in queries:
            raw = {"query_string": {**to_es_query(q)["query_string"], "query": q}}
            es, stream = await _es_ids(es_client, index, raw), _stream_ids(q)
            if es != stream:
                mismatches[q] = {"elastic only": sorted(es - stream), "stream only": sorted(stream - es)}
    finally:
        await es_client.indices.delete(index=index)
    assert mismatches == {}
