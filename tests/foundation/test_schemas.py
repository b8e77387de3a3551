"""The topic contracts in schemas/ accept what they should and nothing else."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from wirewatch.core.deadletter import dead_letter
from wirewatch.core.errors import SchemaError
from wirewatch.core.schemas import SCHEMA_NAMES, is_valid, load_schema, validate, validator

REPO = Path(__file__).resolve().parents[2]

RAW = {
    "id": "reuters:abc",
    "source": {"id": "reuters", "name": "Reuters"},
    "url": "https://www.reuters.example/world/abc",
    "title": "Court issues arrest warrant",
    "body": "The court issued an arrest warrant on Friday.",
    "published_at": "2026-11-27T09:30:00Z",
}
PROCESSED = {
    **RAW,
    "dedupe": {"status": "new", "of": None},
    "story_id": "reuters:abc",
    "entities": [{"name": "International Criminal Court", "type": "ORG"}],
    "alerts": [{"rule": "icc-warrant", "notify": ["desk-slack"]}],
}
ALERT = {
    "id": "icc-warrant:reuters:abc",
    "rule": "icc-warrant",
    "item_id": "reuters:abc",
    "story_id": "reuters:abc",
    "dedupe_status": "new",
    "title": RAW["title"],
    "url": RAW["url"],
    "source": RAW["source"],
    "published_at": RAW["published_at"],
    "matched_at": "2026-11-27T09:30:01.250Z",
}


def test_every_schema_file_is_a_valid_json_schema_and_is_packaged() -> None:
    on_disk = sorted(p.stem for p in (REPO / "schemas").glob("*.json"))
    assert on_disk == sorted(SCHEMA_NAMES)
    for name in SCHEMA_NAMES:
        assert load_schema(name) == json.loads((REPO / "schemas" / f"{name}.json").read_text())
        validator(name)  # raises if the schema itself is invalid


def test_minimal_items_validate() -> None:
    validate("raw_item", RAW)
    validate("processed_item", PROCESSED)
    validate("alert", ALERT)


def test_raw_item_optional_fields_validate() -> None:
    full = {
        **RAW,
        "summary": "s",
        "authors": ["A. Reporter"],
        "language": "en",
        "tags": ["ukraine"],
        "liveblog": {"page_url": "https://live.example/page", "block_id": "b-17"},
        "revision": 2,
        "content_hash": "abc",
        "updated_at": "2026-11-27T09:31:00.5Z",
    }
    validate("raw_item", full)


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda d: d.pop("title"), ""),
        (lambda d: d.__setitem__("published_at", "2026-11-27 09:30"), "published_at"),
        (lambda d: d.__setitem__("published_at", "2026-11-27T09:30:00+02:00"), "published_at"),
        (lambda d: d["source"].pop("id"), "source"),
        (lambda d: d.__setitem__("liveblog", {"page_url": "x"}), "liveblog"),
        (lambda d: d.__setitem__("surprise", 1), ""),
        (lambda d: d.__setitem__("id", ""), "id"),
    ],
)
def test_raw_item_rejects_with_the_offending_path(change, path: str) -> None:
    item = copy.deepcopy(RAW)
    change(item)
    with pytest.raises(SchemaError) as err:
        validate("raw_item", item)
    assert err.value.path == path
    assert "raw_item" in str(err.value)


def test_processed_item_needs_a_known_verdict_and_typed_entities() -> None:
    bad_status: dict[str, Any] = copy.deepcopy(PROCESSED)
    bad_status["dedupe"]["status"] = "maybe"
    assert not is_valid("processed_item", bad_status)
    bad_entity = copy.deepcopy(PROCESSED)
    bad_entity["entities"] = [{"name": "Kyiv", "type": "CITY"}]
    assert not is_valid("processed_item", bad_entity)
    missing = copy.deepcopy(PROCESSED)
    del missing["alerts"]
    assert not is_valid("processed_item", missing)
    # A raw item is not a processed item, and a processed item is not a raw one.
    assert not is_valid("processed_item", RAW)
    assert not is_valid("raw_item", PROCESSED)


def test_dead_letter_builder_produces_a_valid_one_line_record() -> None:
    record = dead_letter("processor", "bad JSON:\n  line 1", b"{oops \xff", topic="t", partition=0, offset=7)
    validate("dead_letter", record)
    assert record["reason"] == "bad JSON: line 1"
    assert record["payload"] == "{oops \ufffd"
    assert record["offset"] == 7


def test_a_lone_surrogate_is_a_schema_error_not_an_encoding_crash() -> None:
    """Python code can build such a string (JSON decoders refuse it); validation must still say no."""
    with pytest.raises(SchemaError, match="lone surrogate"):
        validate("raw_item", {**RAW, "title": ["x\ud800"]})  # the error message quotes the value
