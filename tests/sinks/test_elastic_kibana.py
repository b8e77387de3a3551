"""Kibana saved objects: well-formed, current, and every referenced field exists in the real mapping."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest

from wirewatch.search.matcher import compile_query, prepare
from wirewatch.sinks.elasticsearch import ElasticsearchStore, field_paths

KIBANA = Path(__file__).resolve().parents[2] / "deploy" / "kibana"
NDJSON = KIBANA / "saved_objects.ndjson"


def saved_objects() -> list[dict[str, Any]]:
    return [json.loads(line) for line in NDJSON.read_text("utf-8").splitlines() if line.strip()]


def referenced_fields(objects: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Data-view id -> the fields the saved objects use on it (time field, columns, sorts, queries, Lens)."""
    views = {o["id"]: o for o in objects if o["type"] == "index-pattern"}
    fields: dict[str, set[str]] = {view: {o["attributes"]["timeFieldName"]} for view, o in views.items()}
    for obj in objects:
        view_refs = [r["id"] for r in obj["references"] if r["type"] == "index-pattern"]
        if obj["type"] == "search":
            attrs = obj["attributes"]
            source = json.loads(attrs["kibanaSavedObjectMeta"]["searchSourceJSON"])
            used = set(attrs["columns"]) | {s[0] for s in attrs["sort"]}
            used |= set(re.findall(r"([A-Za-z_@][\w.@]*)\s*:", source["query"]["query"]))
            fields[view_refs[0]] |= used
        elif obj["type"] == "lens":
            layers = obj["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]
            for layer_id, layer in layers.items():
                view = next(r["id"] for r in obj["references"]
                            if r["name"] == f"indexpattern-datasource-layer-{layer_id}")
                fields[view] |= {c["sourceField"] for c in layer["columns"].values()
                                 if c["sourceField"] != "___records___"}
    return fields


def test_kibana_saved_objects_are_generated_from_the_builder():
    spec = importlib.util.spec_from_file_location("build_saved_objects", KIBANA / "build_saved_objects.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert NDJSON.read_text("utf-8") == module.render()


def test_kibana_references_resolve_and_the_dashboard_has_the_five_panels():
    objects = saved_objects()
    ids = {(o["type"], o["id"]) for o in objects}
    assert len(ids) == len(objects)
    for obj in objects:
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in ids, f"{obj['id']} -> {ref}"
    dashboard = next(o for o in objects if o["type"] == "dashboard")
    panels = json.loads(dashboard["attributes"]["panelsJSON"])
    assert [p["panelRefName"] for p in panels] == ["panel_1", "panel_2", "panel_3", "panel_4", "panel_5"]
    titles = {o["id"]: o["attributes"]["title"] for o in objects}
    assert [titles[r["id"]] for r in dashboard["references"]] == [
        "Items over time by source", "Top entities", "Alerts per rule", "Dedupe verdicts", "Items by language"]
    assert sorted(o["attributes"]["title"] for o in objects if o["type"] == "index-pattern") == [
        "wirewatch-alerts", "wirewatch-items"]


@pytest.mark.elastic
async def test_elastic_kibana_fields(es_store: ElasticsearchStore, es_client: Any, processed_items, alerts):
    await es_store.index_items(processed_items)
    await es_store.index_alerts(alerts)
    installed = {
        "wirewatch-items": set(field_paths(await es_store.installed_mapping(es_store.items_alias))),
        "wirewatch-alerts": set(field_paths(await es_store.installed_mapping(es_store.alerts_alias))),
    }
    used = referenced_fields(saved_objects())
    assert set(used) == set(installed)
    for view, fields in used.items():
        assert fields - installed[view] == set(), view
    assert {"entities.name", "source.id", "dedupe.status", "published_at", "is_story"} <= used["wirewatch-items"]
    assert {"rule", "matched_at"} <= used["wirewatch-alerts"]


def _queries(objects: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Saved object id -> its query ({"query": ..., "language": ...}), searches, Lens and dashboards."""
    found = {}
    for obj in objects:
        attrs = obj["attributes"]
        if obj["type"] in ("search", "dashboard"):
            found[obj["id"]] = json.loads(attrs["kibanaSavedObjectMeta"]["searchSourceJSON"])["query"]
        elif obj["type"] == "lens":
            found[obj["id"]] = attrs["state"]["query"]
    return found


def test_kibana_queries_are_lucene_as_rules_and_search_are():
    """Issue 17: the saved searches were KQL, whose syntax and meaning are not the rules' Lucene."""
    queries = _queries(saved_objects())
    assert len(queries) == 9
    assert {q["language"] for q in queries.values()} == {"lucene"}


@pytest.mark.elastic
async def test_elastic_saved_searches_find_what_the_matcher_finds(es_store: ElasticsearchStore, es_client: Any,
                                                                  processed_items):
    """Each saved item search, sent as Kibana's Lucene bar sends it (a query_string without fields,
    analyze_wildcard), finds on the real node exactly what `wirewatch search` and rules find."""
    await es_store.index_items(processed_items)
    await es_store.refresh()
    searches = {o["id"]: q["query"] for o in saved_objects() if o["type"] == "search"
                for q in [_queries([o])[o["id"]]] if o["references"][0]["id"] == "wirewatch-items" and q["query"]}
    assert searches == {"wirewatch-new-stories": "is_story:true", "wirewatch-items-by-entity": "entities.name:*"}
    typed = ["putin", '"arrest warrant" AND putin', "source.id:reuters OR floods", 'entity:"Vladimir Putin"',
             "entity:russia", "tag:economy", "search.entity:bank", "language:en AND published_at:[2025-03-01 TO *]",
             "revision:>1", "published_at:<now"]
    for query in [*searches.values(), *typed]:
        kibana = await es_client.search(index=es_store.items_alias, size=50, query={
            "query_string": {"query": query, "analyze_wildcard": True, "time_zone": "UTC"}})
        found = {hit["_id"] for hit in kibana["hits"]["hits"]}
        compiled = compile_query(query)
        assert found == {i["id"] for i in processed_items if compiled.matches(prepare(i))}, query
        assert found == {h.id for h in await es_store.search(query, limit=50)}, query
        assert found, query  # the fixture has an item for each
