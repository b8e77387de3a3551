"""Topic contracts: the JSON Schema files in ``schemas/`` are the only copy.

Code validates messages against those files (shipped as package data under
``wirewatch.schemas``) instead of restating the shapes in Python.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any, Literal

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from wirewatch.core.errors import SchemaError

SchemaName = Literal["raw_item", "processed_item", "alert", "dead_letter"]
SCHEMA_NAMES: tuple[SchemaName, ...] = ("raw_item", "processed_item", "alert", "dead_letter")


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The parsed JSON Schema document ``schemas/<name>.json``."""
    text = resources.files("wirewatch.schemas").joinpath(f"{name}.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _registry() -> Registry:
    resources_ = []
    for name in SCHEMA_NAMES:
        doc = load_schema(name)
        resource = Resource.from_contents(doc)
        resources_.append((f"{name}.json", resource))
        resources_.append((doc["$id"], resource))
    return Registry().with_resources(resources_)


@cache
def validator(name: SchemaName) -> Draft202012Validator:
    """A compiled validator for one schema, with sibling ``$ref``s resolved."""
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, registry=_registry())


def validate(name: SchemaName, message: Any) -> None:
    """Raise :class:`SchemaError` with the first problem if ``message`` breaks ``name``."""
    error = next(iter(sorted(validator(name).iter_errors(message), key=lambda e: list(e.path))), None)
    if error is None:
        return
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    raise SchemaError(name, path.lstrip("."), error.message)


def is_valid(name: SchemaName, message: Any) -> bool:
    return validator(name).is_valid(message)
