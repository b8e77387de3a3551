"""The stream matcher finds exactly what Elasticsearch finds for the same query.

Documents are indexed as the indexer does (:func:`item_document`, the item index's
mapping), then each query in the fixture runs through the real node's
``query_string`` (``to_es_query``) and through ``compile_query``. The index's own
fields (keywords, dates, ``revision``, whole entity names) are checked a third
way too, through the SQLite store, on the real item template.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from wirewatch.core.times import rfc3339
from wirewatch.search.analysis import search_fields
from wirewatch.search.matcher import compile_query, prepare
from wirewatch.search.query import FIELDS, SPECS, Kind, QuerySyntaxError, parse, to_es_query
from wirewatch.sinks.elasticsearch import (
    ClusterFeatures,
    ElasticsearchStore,
    item_analysis,
    item_document,
)
from wirewatch.sinks.sqlite import SqliteStore

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
    """The items as the item index holds them (the template's mapping, item_document)."""
    _settings, mappings = item_analysis(ClusterFeatures(ilm=False, data_streams=False))
    await es.indices.create(index=name, settings={"number_of_shards": 1, "number_of_replicas": 0}, mappings=mappings)
    operations: list[dict[str, Any]] = []
    for item in ITEMS:
        operations += [{"index": {"_id": item["id"]}}, item_document(item)]
    result = await es.bulk(index=name, operations=operations, refresh=True)
    assert not result["errors"], result


async def _index_text_only(es: Any, name: str) -> None:
    """Only search.* with the text short names as aliases, so raw queries typed with them
    reach the normalised fields (``title`` is the raw text field in the item index)."""
    text = {"type": "text"}  # the node's default: standard analyzer, position_increment_gap 100
    text_fields = {name: spec.key for name, spec in ((n, SPECS[k]) for n, k in FIELDS.items()) if spec.kind is Kind.TEXT}
    aliases = {f: {"type": "alias", "path": "search." + key} for f, key in text_fields.items() if "." not in f}
    await es.indices.create(
        index=name,
        settings={"number_of_shards": 1, "number_of_replicas": 0},
        mappings={
            "dynamic": "strict",
            "properties": {"search": {"properties": {f: text for f in set(text_fields.values())}}, **aliases},
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
    await _index_text_only(es_client, index)
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


# ------------------------------------------------- the index's own fields, three ways

_AGO = re.compile(r"-(\d+)([mhd])")


def _field_items(now: datetime) -> list[dict[str, Any]]:
    """field_items.yaml with its "-30m"-style times made absolute (that long before ``now``)."""
    items: list[dict[str, Any]] = yaml.safe_load((FIXTURES / "field_items.yaml").read_text("utf-8"))
    unit = {"m": "minutes", "h": "hours", "d": "days"}
    for item in items:
        for key in ("published_at", "fetched_at", "processed_at"):
            m = _AGO.fullmatch(str(item.get(key, "")))
            if m:
                item[key] = rfc3339(now - timedelta(**{unit[m.group(2)]: int(m.group(1))}))
    return items


def _expected(name: str) -> list[tuple[str, set[str] | None]]:
    """(query, expected ids) pairs; None: the query must be refused."""
    pairs = []
    for query, expect in _queries(name):
        pairs.append((query, None if expect == "error" else set() if expect == "none" else set(expect.split())))
    return pairs


async def test_index_fields_find_the_same_items_in_elastic_sqlite_and_the_matcher(
    es_store: ElasticsearchStore, tmp_path: Path
) -> None:
    """Keyword, name, boolean, date and number fields on the real item template: Elasticsearch
    (store.search), the SQLite store and the matcher give exactly the expected ids."""
    items = _field_items(datetime.now(UTC))
    assert all(o.status == "indexed" for o in await es_store.index_items(items))
    await es_store.refresh()
    sqlite = SqliteStore(tmp_path / "data")
    assert all(o.status == "indexed" for o in sqlite.index_items_sync(items))
    wrong: dict[str, dict[str, list[str]]] = {}
    for query, expected in _expected("field_queries.txt"):
        if expected is None:
            with pytest.raises(QuerySyntaxError):
                parse(query)
            continue
        found = {
            "elastic": {h.id for h in await es_store.search(query, limit=100)},
            "sqlite": {h.id for h in sqlite.search_sync(query, limit=100)},
            "matcher": {i["id"] for i in items if compile_query(query).matches(prepare(i))},
        }
        for where, ids in found.items():
            if ids != expected:
                wrong.setdefault(query, {})[where] = sorted(ids)
    await sqlite.close()
    assert wrong == {}


async def test_a_bare_query_string_searches_the_normalised_title_and_body(
    es_store: ElasticsearchStore, es_client: Any
) -> None:
    """index.query.default_field is search.title and search.body: what Kibana's Lucene bar sends
    (a query_string without fields) finds what ``wirewatch search`` finds, not source ids or tags."""
    items = _field_items(datetime.now(UTC))
    await es_store.index_items(items)
    await es_store.refresh()

    async def bare(query: str) -> set[str]:
        result = await es_client.search(index=es_store.items_alias, query={"query_string": {"query": query}}, size=50)
        return {hit["_id"] for hit in result["hits"]["hits"]}

    assert await bare("reuters") == set()  # source.id and source.name hold it, title and body don't
    assert await bare("nikkei OR economy OR GPE") == set()  # a source name, a tag, an entity type
    assert await bare("japan") == {"f01", "f02", "f03", "f04", "f05"}  # f05: "Japan's" in its body
    assert await bare("election") == {"f07"}  # "Élection" as search.title holds it (folded)
    assert await bare("source.id:reuters") == {"f05", "f08", "f10"}  # a named field still works
