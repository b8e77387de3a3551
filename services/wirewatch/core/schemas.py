"""Topic contracts: the JSON Schema files in ``schemas/`` are the only copy.

Code validates messages against those files (a wheel ships them as the data
folder ``wirewatch/schemas``; a source checkout reads the top-level ``schemas/``) instead of restating the shapes in Python. Validation
runs on every message, so it uses jsonschema-rs (a compiled Draft 2020-12
validator, ~250x faster than the pure-Python one); the pure-Python
``jsonschema`` only checks the schema documents themselves.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal

import jsonschema_rs

from wirewatch.core.errors import SchemaError
from wirewatch.core.text import shorten

SchemaName = Literal["raw_item", "processed_item", "alert", "dead_letter", "delivery", "digest"]
SCHEMA_NAMES: tuple[SchemaName, ...] = ("raw_item", "processed_item", "alert", "dead_letter", "delivery", "digest")
#: Characters of a validation error's message and path: the message quotes the offending value
#: (a 20 MB string would make a 20 MB dead-letter reason and log line); head and tail are kept.
MESSAGE_MAX = 240
PATH_MAX = 100


@cache
def schema_dir() -> Traversable:
    """Where the contracts are: the installed package's ``schemas`` folder, else the checkout's.

    An editable install maps ``wirewatch`` to ``services/wirewatch``, and setuptools'
    editable finder cannot map a data folder from outside it (``schemas/`` has no
    ``__init__.py``), so a checkout reads ``<repo>/schemas`` directly.
    """
    packaged = resources.files("wirewatch").joinpath("schemas")
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "schemas"


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The parsed JSON Schema document ``schemas/<name>.json``."""
    text = schema_dir().joinpath(f"{name}.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _registry() -> jsonschema_rs.Registry:
    return jsonschema_rs.Registry([(load_schema(n)["$id"], load_schema(n)) for n in SCHEMA_NAMES])


# compiled once (jsonschema-rs: ~250x the pure-Python validator); tests/foundation/test_schemas.py
@cache
def validator(name: SchemaName) -> jsonschema_rs.Validator:
    """A compiled validator for one schema, with sibling ``$ref``s resolved."""
    from jsonschema import Draft202012Validator  # only here: a third of a CLI's start-up otherwise

    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    return jsonschema_rs.validator_for(schema, registry=_registry(), base_uri=schema["$id"])


def validate(name: SchemaName, message: Any) -> None:
    """Raise :class:`SchemaError` with the first problem if ``message`` breaks ``name``.

    The problem is cut to a few hundred characters (``…[N chars]…`` where the value was).
    """
    check = validator(name)
    try:
        if check.is_valid(message):
            return
        error = min(check.iter_errors(message), key=lambda e: len(e.instance_path))
    except UnicodeEncodeError:  # jsonschema-rs reads strings as UTF-8: a lone surrogate can't be
        raise SchemaError(name, "", "a string holds a lone surrogate (not valid Unicode text)") from None
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.instance_path)
    raise SchemaError(name, shorten(path.lstrip("."), PATH_MAX), shorten(error.message, MESSAGE_MAX))


def is_valid(name: SchemaName, message: Any) -> bool:
    try:
        return bool(validator(name).is_valid(message))
    except UnicodeEncodeError:  # a lone surrogate: see validate
        return False


def event_key(item: Mapping[str, Any]) -> str:
    """The event an item or alert belongs to: its ``event_id``, or its story before events existed."""
    return str(item.get("event_id") or item["story_id"])

