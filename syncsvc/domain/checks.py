"""Typed fields and one-line messages shared by every model that validates outside input.

A rejected value gets ONE line naming the field and what is allowed (``syncType must be one of
PRODUCT, CUSTOMER, INVOICE, got "ORDER"``). The message is derived from the field's JSON schema,
the same schema the OpenAPI document publishes, so the two can't drift: a new field gets a
sensible message without writing one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticCustomError

HINT = "x-when-omitted"
"""A field's JSON-schema extra: what leaving it out means (``all items``), told in its message."""


def show_json(value: Any) -> str:
    """A rejected value as the client wrote it in JSON, cut to 60 characters."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def show_text(value: Any) -> str:
    """A rejected query-string value, quoted, cut to 40 characters."""
    return repr(value[:40] if isinstance(value, str) else value)


def one_of(values: tuple[str, ...]) -> Callable[[str], str]:
    """An after-validator keeping a string to ``values`` (the schema says ``enum``)."""

    def check(value: str) -> str:
        if value not in values:
            raise PydanticCustomError("enum", "not an allowed value")
        return value

    return check


def ascii_int(value: Any) -> Any:
    """Query strings: ASCII digits only. ``str.isdigit()`` also accepts '²' and other Unicode
    digits, which ``int()`` refuses (that was a 500) or reads as ASCII ones."""
    if isinstance(value, str):
        if not (value.isascii() and value.isdigit()) or len(value) > 9:
            raise PydanticCustomError("int_parsing", "not an integer")
        return int(value)
    return value


@cache
def _properties(model: type[BaseModel]) -> Mapping[str, Any]:
    props: Mapping[str, Any] = model.model_json_schema(by_alias=True).get("properties", {})
    return props


def concrete(prop: Mapping[str, Any]) -> Mapping[str, Any]:
    """The non-null branch of ``anyOf: [X, null]``."""
    for branch in prop.get("anyOf", ()):
        if branch.get("type") != "null":
            return {**prop, **branch}
    return prop


def one_line(exc: ValidationError, model: type[BaseModel], show: Callable[[Any], str] = show_json) -> str:
    """The first problem of ``exc`` as one line naming the field and what is allowed."""
    props = _properties(model)
    errors = exc.errors(include_url=False)
    unknown = sorted(str(e["loc"][0]) for e in errors if e["type"] == "extra_forbidden" and e["loc"])
    if unknown:
        return f"unknown field(s) {', '.join(unknown)}; allowed fields: {', '.join(props)}"
    error = errors[0]
    if not error["loc"]:
        return f"expected an object, got {show(error.get('input'))}"
    name = str(error["loc"][0])
    field = model.model_fields.get(name)
    name = field.alias if field is not None and field.alias else name  # the name the client used
    prop = concrete(props.get(name, {}))
    got = show(error.get("input"))
    enum = prop.get("enum")
    if error["type"] == "missing":
        return f"{name} is required" + (f"; allowed values: {', '.join(map(str, enum))}" if enum else "")
    if enum:
        return f"{name} must be one of {', '.join(map(str, enum))}, got {got}"
    kind = prop.get("type")
    if kind == "boolean":
        return f"{name} must be true or false, got {got}"
    if kind == "integer":
        low, high = prop.get("minimum"), prop.get("maximum")
        if high is not None and error["type"] in ("greater_than_equal", "less_than_equal"):
            return f"{name} must be between {low} and {high}, got {got}"
        what = "a positive integer" if low == 1 else "an integer" if low is None else f"an integer >= {low}"
        hint = f" (or omitted for {prop[HINT]})" if HINT in prop else ""
        return f"{name} must be {what}{hint}, got {got}"
    return f"{name}: {error['msg']}, got {got}"
