"""Structural validation: run pydantic on the wire form and turn its errors into ``Problem``s
with Kubernetes-style field paths (``spec.steps[0].retryPolicy.limit``) and plain messages
(``unknown field "dependecies" (did you mean "dependencies"?)``)."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from zenflow.core.validation.problems import Collector

M = TypeVar("M", bound=BaseModel)


def parse_model(cls: type[M], data: Mapping[str, Any], *, out: Collector) -> M | None:
    """The parsed model, or None after recording every structural error in ``out``."""
    try:
        return cls.model_validate(data)
    except RecursionError:
        out.error("spec", "nests too deeply to be read")
        return None
    except ValidationError as exc:
        merged: dict[str, list[str]] = {}
        for err in exc.errors(include_url=False):
            path, message = _describe(cls, data, err)
            messages = merged.setdefault(path, [])
            if message not in messages:
                messages.append(message)
        for path, messages in merged.items():
            out.error(path, " or ".join(messages) if len(messages) > 1 else messages[0])
        return None


def format_path(parts: Sequence[str | int]) -> str:
    """``("spec", "steps", 0, "name")`` → ``spec.steps[0].name``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif out:
            out += f".{part}"
        else:
            out = str(part)
    return out


def _describe(cls: type[BaseModel], data: Any, err: ErrorDetails) -> tuple[str, str]:
    loc = _real_loc(data, err["loc"], missing=err["type"] == "missing")
    kind = err["type"]
    if kind == "extra_forbidden" and loc:
        field = str(loc[-1])
        message = f'unknown field "{field}"'
        allowed = _field_names(_model_at(cls, loc[:-1]))
        close = difflib.get_close_matches(field, allowed, n=1, cutoff=0.75)
        if close:
            message += f' (did you mean "{close[0]}"?)'
        return format_path(loc), message
    if kind == "missing":
        return format_path(loc), "required field is missing"
    msg = err["msg"]
    ctx = err.get("ctx") or {}
    got = _show(err.get("input"))
    if kind in _BOUNDS:
        word, key = _BOUNDS[kind]
        msg = f"must be {word} {ctx.get(key)}, got {got}"
    elif kind in {"string_too_long", "too_long"}:
        unit = "characters" if kind == "string_too_long" else "items"
        msg = f"must have at most {ctx.get('max_length')} {unit}"
    elif kind in {"string_too_short", "too_short"}:
        unit = "characters" if kind == "string_too_short" else "items"
        msg = f"must have at least {ctx.get('min_length')} {unit}"
    elif kind in {"int_type", "int_parsing", "int_from_float"}:
        msg = f"must be an integer, got {got}"
    elif kind in {"float_type", "float_parsing"}:
        msg = f"must be a number, got {got}"
    elif kind in {"bool_type", "bool_parsing"}:
        msg = f"must be true or false, got {got}"
    elif kind == "string_type":
        msg = f"must be a string, got {_type_name(err.get('input'))}"
    elif kind in {"model_type", "dict_type", "model_attributes_type"}:
        msg = f"must be an object, got {_type_name(err.get('input'))}"
    elif kind == "list_type":
        msg = f"must be a list, got {_type_name(err.get('input'))}"
    elif kind == "literal_error":
        expected = ctx.get("expected", "")
        msg = f"must be one of {expected}, got {err.get('input')!r}"
    else:
        msg = msg[0].lower() + msg[1:] if msg else kind
    return format_path(loc), msg


_BOUNDS = {
    "greater_than_equal": (">=", "ge"),
    "greater_than": (">", "gt"),
    "less_than_equal": ("<=", "le"),
    "less_than": ("<", "lt"),
}


def _show(value: Any) -> str:
    if isinstance(value, Mapping | list) and len(value) > 20:
        return f"a {_type_name(value)} of {len(value)} items"
    try:
        text = repr(value)
    except RecursionError:  # a deeply nested value: its type says enough
        return f"a deeply nested {_type_name(value)}"
    return text if len(text) <= 60 else text[:57] + "..."


def _real_loc(data: Any, loc: tuple[int | str, ...], *, missing: bool) -> list[str | int]:
    """Keep only the parts of ``loc`` that address the input; drop union/validator tags."""
    out: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        if _addresses(node, part):
            out.append(part)
            node = node[part]
        elif missing and i == len(loc) - 1 and isinstance(part, str):
            out.append(part)
        # else: a tag such as "str", "int" or "function-after[...]" naming a union member.
    return out


def _addresses(node: Any, part: int | str) -> bool:
    """True when ``part`` is a key of the mapping ``node`` or an index into the list ``node``."""
    if isinstance(node, Mapping):
        return isinstance(part, str) and part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


def _model_at(cls: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    """Best effort: the model class addressed by ``loc`` (None if not a model)."""
    current: Any = cls
    for part in loc:
        if isinstance(part, int):
            continue  # list index: the element type is already unwrapped below
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = _field_by_alias(current, part)
        if field is None:
            return None
        current = _unwrap(field)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _field_by_alias(cls: type[BaseModel], name: str) -> Any:
    for field_name, info in cls.model_fields.items():
        if name in (info.alias, field_name):
            return info.annotation
    return None


def _unwrap(annotation: Any) -> Any:
    """``list[Step] | None`` → ``Step``; a mapping's value type likewise."""
    while True:
        origin = typing.get_origin(annotation)
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return None
            annotation = args[0]
        elif origin in (list, tuple, Sequence):
            annotation = typing.get_args(annotation)[0]
        elif origin in (dict, Mapping):
            annotation = typing.get_args(annotation)[1]
        else:
            return annotation


def _field_names(cls: type[BaseModel] | None) -> list[str]:
    if cls is None:
        return []
    return [info.alias or name for name, info in cls.model_fields.items()]


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "list"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__
