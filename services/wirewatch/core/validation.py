"""Pydantic's validation errors as one line in our own words.

pydantic words its errors for programmers ("Extra inputs are not permitted",
"Value error, ...", "Input should be 'rss', 'liveblog' or 'auto'"). A config
file's user gets instead the entry (``sources[2] (reuters)``), the key and
what to do: ``unknown key 'intervall' (did you mean 'interval'?)``. The close
match comes from :mod:`difflib` against the fields of the model at that exact
nesting level, found by walking the model's annotations along the error's
location.
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any, Literal, Union

from pydantic import BaseModel
from pydantic_core import ErrorDetails

#: Keys of a list entry that name it in a location: ``sources[2] (reuters)``.
_LABEL_KEYS = ("id", "name")
_LABEL_MAX = 60


class SecretValueError(ValueError):
    """A validator's complaint about a value that may be a secret: its message is the whole
    reason, and the value itself is never appended (a pasted cookie, a proxy password)."""


def first_error(errors: list[ErrorDetails]) -> ErrorDetails:
    """The error to report: an unknown key first (a misspelt key also reads as a missing one)."""
    return next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])


def explain(model: type[BaseModel], data: Any, error: ErrorDetails) -> tuple[str, str]:
    """``(location, reason)`` of one pydantic error on ``model.model_validate(data)``.

    The location is empty for the top level; the reason is one line.
    """
    loc = tuple(error["loc"])
    kind = error["type"]
    if kind in ("missing", "extra_forbidden") and loc and isinstance(loc[-1], str):
        parent, key = loc[:-1], loc[-1]
        where = describe_location(parent, data)
        if kind == "missing":
            return where, f"missing required key {key!r}"
        fields = field_names(model_at(model, parent))
        return where, f"unknown key {key!r}{_suggestion(key, fields, 'keys')}"
    if loc and loc[-1] == "[key]":  # pydantic's marker for a mapping key of the wrong type
        why = reason(error).removesuffix(f" (got {shown(error.get('input'))})")
        return describe_location(loc[:-2], data), f"key {shown(loc[-2])} {why}"
    return describe_location(loc, data), reason(error, annotation_at(model, loc))


def describe_location(loc: tuple[Any, ...], data: Any) -> str:
    """``('sources', 2, 'url')`` -> ``sources[2] (reuters).url``: entries named by their id or name."""
    out = ""
    node = data
    for part in loc:
        in_mapping = isinstance(node, dict)
        node = _child(node, part)
        if isinstance(part, int) and not in_mapping:
            out += f"[{part}]"
            label = _label(node)
            if label:
                out += f" ({label})"
        else:
            out += f".{_key_text(part)}" if out else _key_text(part)
    return out


def reason(error: ErrorDetails, annotation: Any = None) -> str:
    """What is wrong with the value, in our words (the value itself when it helps)."""
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    got = f" (got {shown(value)})"
    if kind in ("value_error", "assertion_error"):
        text = str(ctx.get("error", error["msg"]))
        if isinstance(ctx.get("error"), SecretValueError):
            return text
        return text if shown(value) in text or isinstance(value, dict | list) else text + got
    if kind == "literal_error":
        allowed = [str(a) for a in literal_values(annotation)]
        listed = ", ".join(allowed) if allowed else str(ctx.get("expected", ""))
        close = _suggestion(value, allowed, "")
        return f"must be one of {listed} (got {shown(value)}{'; ' + close[2:-1] if close else ''})"
    simple = _SIMPLE.get(kind)
    if simple is not None:
        return simple + got
    if kind in ("too_short", "too_long", "string_too_short", "string_too_long"):
        return _length(kind, ctx, value) + ("" if isinstance(value, list | dict) or value == "" else got)
    bound = _BOUNDS.get(kind)
    if bound is not None:
        word, key = bound
        return f"must be {word} {ctx.get(key)}{got}"
    if kind == "string_pattern_mismatch":
        return f"must match the pattern {ctx.get('pattern')}{got}"
    msg = str(error["msg"])  # a type this module does not know yet: pydantic's words, lower-cased
    return msg[:1].lower() + msg[1:] + got


def shown(value: Any) -> str:
    """A value as the user wrote it, shortened, on one line."""
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


_SIMPLE = {
    "string_type": "must be text",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be a mapping of keys to values",
    "model_type": "must be a mapping of keys to values",
    "model_attributes_type": "must be a mapping of keys to values",
    "timedelta_type": "must be a duration (e.g. 30s, 10m, 72h, 7d)",
    "timedelta_parsing": "must be a duration (e.g. 30s, 10m, 72h, 7d)",
}
_BOUNDS = {
    "greater_than_equal": ("at least", "ge"),
    "greater_than": ("more than", "gt"),
    "less_than_equal": ("at most", "le"),
    "less_than": ("less than", "lt"),
}


def _length(kind: str, ctx: dict[str, Any], value: Any) -> str:
    short = kind.endswith("too_short")
    limit = ctx.get("min_length" if short else "max_length")
    bound = "at least" if short else "at most"
    if isinstance(value, str):
        if short and limit == 1:
            return "must not be empty"
        return f"must be {bound} {limit} characters long"
    if short and limit == 1:
        return "must have at least one entry"
    return f"must have {bound} {limit} entries"


def _suggestion(word: Any, choices: list[str], what: str) -> str:
    """`` (did you mean 'x'?)``, else the choices themselves when there are any to list."""
    if not isinstance(word, str) or not choices:
        return ""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not close:
        close = difflib.get_close_matches(word.lower(), choices, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (known {what}: {', '.join(choices)})" if what else ""


def _key_text(part: Any) -> str:
    text = str(part)
    return text if text.isprintable() and len(text) <= _LABEL_MAX and text.strip() == text and text else repr(part)


def _child(node: Any, part: Any) -> Any:
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


def _label(entry: Any) -> str:
    if not isinstance(entry, dict):
        return ""
    for key in _LABEL_KEYS:
        value = entry.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool):
            text = " ".join(str(value).split())
            if text:
                return text if len(text) <= _LABEL_MAX else text[: _LABEL_MAX - 3] + "..."
    return ""


# ------------------------------------------------------------- the model at a location


def _unwrap(annotation: Any) -> Any:
    """``Annotated[X, ...]`` -> X; ``X | None`` -> X (the one non-None member)."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def annotation_at(model: type[BaseModel], loc: tuple[Any, ...]) -> Any:
    """The type annotation that validated ``loc`` (None where the walk cannot follow)."""
    annotation: Any = model
    for part in loc:
        annotation = _unwrap(annotation)
        origin = typing.get_origin(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = _field(annotation, part)
            if field is None:
                return None
            annotation = field.annotation
        elif origin in (list, set, frozenset, tuple) and isinstance(part, int):
            annotation = typing.get_args(annotation)[0]
        elif origin is dict and part != "[key]":
            annotation = typing.get_args(annotation)[1]
        else:
            return None
    return _unwrap(annotation)


def model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    found = annotation_at(model, loc)
    return found if isinstance(found, type) and issubclass(found, BaseModel) else None


def _field(model: type[BaseModel], name: Any) -> Any:
    for field_name, field in model.model_fields.items():
        if name in (field_name, field.alias):
            return field
    return None


def field_names(model: type[BaseModel] | None) -> list[str]:
    """The keys a model accepts, as written in the file (aliases where set)."""
    if model is None:
        return []
    return [field.alias or name for name, field in model.model_fields.items()]


def literal_values(annotation: Any) -> tuple[Any, ...]:
    return typing.get_args(annotation) if typing.get_origin(annotation) is Literal else ()
