"""Build deploy/kibana/saved_objects.ndjson (Kibana 9.x saved-objects import format).

The ndjson is generated, not hand-edited: run ``python deploy/kibana/build_saved_objects.py``
after changing this file. ``tests/sinks/test_elastic_kibana.py`` checks the two agree and
that every field referenced here exists in the installed mapping of the real node.

Import: ``curl -X POST http://kibana:5601/api/saved_objects/_import?overwrite=true
-H 'kbn-xsrf: true' --form file=@saved_objects.ndjson``

Every query is Lucene (``"language": "lucene"``), the syntax of rules and ``wirewatch search``:
Kibana sends it as a ``query_string`` without fields, so words without a field search the item
index's ``index.query.default_field`` (search.title and search.body, set by the template).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PREFIX = "wirewatch"
ITEMS = f"{PREFIX}-items"
ALERTS = f"{PREFIX}-alerts"
OUT = Path(__file__).resolve().parent / "saved_objects.ndjson"
#: The query language of every saved query: Lucene, as rules and `wirewatch search` (not KQL).
LANGUAGE = "lucene"


def data_view(view_id: str, title: str, name: str, time_field: str) -> dict[str, Any]:
    return {
        "id": view_id,
        "type": "index-pattern",
        "typeMigrationVersion": "8.0.0",
        "coreMigrationVersion": "8.8.0",
        "attributes": {
            "title": title,
            "name": name,
            "timeFieldName": time_field,
            "allowNoIndex": True,
            "fieldFormatMap": "{}",
            "runtimeFieldMap": "{}",
            "sourceFilters": "[]",
            "fields": "[]",
        },
        "references": [],
    }


def saved_search(search_id: str, title: str, view: str, query: str, columns: list[str],
                 sort: list[list[str]], description: str) -> dict[str, Any]:
    source = {
        "query": {"query": query, "language": LANGUAGE},
        "filter": [],
        "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index",
    }
    return {
        "id": search_id,
        "type": "search",
        "typeMigrationVersion": "8.0.0",
        "coreMigrationVersion": "8.8.0",
        "attributes": {
            "title": title,
            "description": description,
            "columns": columns,
            "sort": sort,
            "grid": {},
            "hideChart": False,
            "isTextBasedQuery": False,
            "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(source)},
        },
        "references": [
            {"id": view, "name": "kibanaSavedObjectMeta.searchSourceJSON.index", "type": "index-pattern"}
        ],
    }


def _count() -> dict[str, Any]:
    return {"label": "Count", "dataType": "number", "operationType": "count",
            "sourceField": "___records___", "isBucketed": False}


def _terms(field: str, label: str, size: int = 10) -> dict[str, Any]:
    return {
        "label": label, "dataType": "string", "operationType": "terms", "sourceField": field,
        "isBucketed": True,
        "params": {"size": size, "orderBy": {"type": "column", "columnId": "count"},
                   "orderDirection": "desc", "otherBucket": True, "missingBucket": False},
    }


def _histogram(field: str) -> dict[str, Any]:
    return {"label": field, "dataType": "date", "operationType": "date_histogram", "sourceField": field,
            "isBucketed": True, "params": {"interval": "auto", "includeEmptyRows": True}}


def lens(lens_id: str, title: str, view: str, columns: dict[str, dict[str, Any]],
         visualization_type: str, visualization: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": lens_id,
        "type": "lens",
        "typeMigrationVersion": "8.9.0",
        "coreMigrationVersion": "8.8.0",
        "attributes": {
            "title": title,
            "description": "",
            "visualizationType": visualization_type,
            "state": {
                "datasourceStates": {
                    "formBased": {"layers": {"layer1": {"columns": columns, "columnOrder": list(columns),
                                                        "incompleteColumns": {}}}}
                },
                "visualization": visualization,
                "query": {"query": "", "language": LANGUAGE},
                "filters": [],
                "internalReferences": [],
                "adHocDataViews": {},
            },
        },
        "references": [{"type": "index-pattern", "id": view, "name": "indexpattern-datasource-layer-layer1"}],
    }


def bar(x: str, split: str | None, horizontal: bool = False) -> dict[str, Any]:
    series = "bar_horizontal" if horizontal else ("bar_stacked" if split else "bar")
    layer: dict[str, Any] = {"layerId": "layer1", "layerType": "data", "seriesType": series,
                             "xAccessor": x, "accessors": ["count"]}
    if split:
        layer["splitAccessor"] = split
    return {"preferredSeriesType": series, "legend": {"isVisible": True, "position": "right"},
            "valueLabels": "hide", "layers": [layer]}


def donut(group: str) -> dict[str, Any]:
    return {"shape": "donut", "layers": [{"layerId": "layer1", "layerType": "data", "primaryGroups": [group],
                                          "metrics": ["count"], "numberDisplay": "percent",
                                          "categoryDisplay": "default", "legendDisplay": "default"}]}


def dashboard(dash_id: str, title: str, panels: list[tuple[str, int, int, int, int]]) -> dict[str, Any]:
    panels_json = []
    references = []
    for index, (lens_id, x, y, w, h) in enumerate(panels, start=1):
        panels_json.append({"type": "lens", "panelIndex": str(index), "panelRefName": f"panel_{index}",
                            "gridData": {"x": x, "y": y, "w": w, "h": h, "i": str(index)},
                            "embeddableConfig": {"enhancements": {}}})
        references.append({"id": lens_id, "name": f"{index}:panel_{index}", "type": "lens"})
    return {
        "id": dash_id,
        "type": "dashboard",
        "typeMigrationVersion": "8.9.0",
        "coreMigrationVersion": "8.8.0",
        "attributes": {
            "title": title,
            "description": "Items over time by source, top entities, alerts per rule, dedupe verdicts, languages.",
            "panelsJSON": json.dumps(panels_json),
            "optionsJSON": json.dumps({"useMargins": True, "syncColors": False, "hidePanelTitles": False}),
            "timeRestore": True,
            "timeFrom": "now-7d",
            "timeTo": "now",
            "refreshInterval": {"pause": False, "value": 60000},
            "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(
                {"query": {"query": "", "language": LANGUAGE}, "filter": []})},
        },
        "references": references,
    }


def saved_objects() -> list[dict[str, Any]]:
    return [
        data_view(ITEMS, ITEMS, "Wirewatch items", "published_at"),
        data_view(ALERTS, ALERTS, "Wirewatch alerts", "matched_at"),
        saved_search("wirewatch-new-stories", "Wirewatch: new stories", ITEMS, "is_story:true",
                     ["source.id", "language", "title", "entities.name", "dedupe.status"], [["published_at", "desc"]],
                     "One row per story (its first item); duplicates and updates hidden."),
        saved_search("wirewatch-alerts-by-rule", "Wirewatch: alerts by rule", ALERTS, "",
                     ["rule", "title", "source.id", "dedupe_status", "notify"],
                     [["rule", "asc"], ["matched_at", "desc"]],
                     "Every alert, grouped by rule; filter on rule to follow one."),
        saved_search("wirewatch-items-by-entity", "Wirewatch: items by entity", ITEMS, "entities.name:*",
                     ["entities.name", "entities.type", "title", "source.id", "story_id"],
                     [["published_at", "desc"]],
                     "Items with tagged entities; add a filter on entities.name to follow one."),
        lens("wirewatch-lens-items-by-source", "Items over time by source", ITEMS,
             {"source": _terms("source.id", "Source"), "time": _histogram("published_at"), "count": _count()},
             "lnsXY", bar("time", "source")),
        lens("wirewatch-lens-top-entities", "Top entities", ITEMS,
             {"entity": _terms("entities.name", "Entity", 20), "count": _count()},
             "lnsXY", bar("entity", None, horizontal=True)),
        lens("wirewatch-lens-alerts-per-rule", "Alerts per rule", ALERTS,
             {"rule": _terms("rule", "Rule", 20), "count": _count()},
             "lnsXY", bar("rule", None, horizontal=True)),
        lens("wirewatch-lens-dedupe-verdicts", "Dedupe verdicts", ITEMS,
             {"status": _terms("dedupe.status", "Verdict", 5), "count": _count()},
             "lnsPie", donut("status")),
        lens("wirewatch-lens-items-by-language", "Items by language", ITEMS,
             {"language": _terms("language", "Language", 20), "count": _count()},
             "lnsPie", donut("language")),
        dashboard("wirewatch-overview", "Wirewatch overview", [
            ("wirewatch-lens-items-by-source", 0, 0, 48, 15),
            ("wirewatch-lens-top-entities", 0, 15, 12, 15),
            ("wirewatch-lens-alerts-per-rule", 12, 15, 12, 15),
            ("wirewatch-lens-dedupe-verdicts", 24, 15, 12, 15),
            ("wirewatch-lens-items-by-language", 36, 15, 12, 15),
        ]),
    ]


def render() -> str:
    return "".join(json.dumps(obj, sort_keys=True) + "\n" for obj in saved_objects())


if __name__ == "__main__":
    OUT.write_text(render(), "utf-8")
    print(f"wrote {OUT}")
