"""What the API models say about a field path, for ``zenflow validate``'s repairs and
suggestions: which model a document is, the field a pydantic error location names (its
annotation, whether it is required), and the fields reachable from a model.

Locations are pydantic's, reduced to the parts that address the data (``real_loc``): keys and
list indices, without the tags pydantic adds for union members and validators.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from zenflow.api.constants import CRONJOBFLOW_KIND, JOBFLOW_KIND
from zenflow.api.cronjobflow import CronJobFlow
from zenflow.api.flowtemplate import ClusterFlowTemplate, FlowTemplate
from zenflow.api.jobflow import JobFlow
from zenflow.api.templateref import CLUSTER_TEMPLATE_KIND, TEMPLATE_KIND

Loc = tuple[str | int, ...]

MODELS: Mapping[str, type[BaseModel]] = {
    JOBFLOW_KIND: JobFlow,
    CRONJOBFLOW_KIND: CronJobFlow,
    TEMPLATE_KIND: FlowTemplate,
    CLUSTER_TEMPLATE_KIND: ClusterFlowTemplate,
}


def model_for(obj: object) -> type[BaseModel] | None:
    """The model of a document, by its ``kind``."""
    return MODELS.get(str(obj.get("kind"))) if isinstance(obj, Mapping) else None


def format_path(loc: Sequence[str | int]) -> str:
    """``("spec", "steps", 0, "name")`` → ``spec.steps[0].name`` (the validator's form)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out = f"{out}.{part}" if out else str(part)
    return out


def real_loc(data: Any, loc: Sequence[int | str], *, missing: bool = False) -> Loc:
    """The parts of a pydantic error location that address ``data`` (a missing field's own
    name kept last)."""
    out: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        if _addresses(node, part):
            out.append(part)
            node = node[part]
        elif missing and i == len(loc) - 1 and isinstance(part, str):
            out.append(part)
    return tuple(out)


def _addresses(node: Any, part: int | str) -> bool:
    """``part`` is a key of the mapping ``node`` or an index into the list ``node``."""
    if isinstance(node, Mapping):
        return isinstance(part, str) and part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


def unwrap(annotation: Any) -> Any:
    """``list[Step] | None`` → ``Step``; a mapping's value type likewise; a union of several
    types → its first."""
    while True:
        origin = typing.get_origin(annotation)
        if origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if not members:
                return None
            annotation = members[0]
        elif origin in (list, tuple, Sequence, dict, Mapping):
            params = typing.get_args(annotation)
            annotation = params[-1] if params else Any
        elif origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        else:
            return annotation


def _strip_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


@dataclass(frozen=True, slots=True)
class Field:
    """A field named by a location: its annotation (``None`` removed) and whether the model
    requires it; ``item`` when the location ends at an item of a list or mapping field."""

    annotation: Any
    required: bool
    item: bool = False


def field_at(model: type[BaseModel], loc: Loc) -> Field | None:
    """The field ``loc`` names under ``model``, when the models know it."""
    current: Any = model
    field: Field | None = None
    for part in loc:
        if isinstance(part, int) or (field is not None and not is_model(current)):
            # An item of the list (or mapping) field reached last.
            if field is None:
                return None
            item = unwrap(field.annotation)
            field = Field(item, True, item=True)
            current = item
            continue
        if not is_model(current):
            return None
        info = _by_alias(current, part)
        if info is None:
            return None
        annotation = _strip_optional(info.annotation)
        field = Field(annotation, info.is_required())
        current = unwrap(annotation) if _is_container(annotation) else annotation
        if _is_container(annotation):
            current = None  # the next part indexes the container
    return field


def _is_container(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (list, tuple, Sequence, dict, Mapping)


def _by_alias(model: type[BaseModel], name: str) -> Any:
    for field_name, info in model.model_fields.items():
        if name in (info.alias, field_name):
            return info
    return None


def model_at(model: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model class at ``loc`` (items of list fields included), else None."""
    if not loc:
        return model
    field = field_at(model, loc)
    if field is None:
        return None
    target = field.annotation if field.item else _strip_optional(field.annotation)
    return target if is_model(target) else None


def fields_under(model: type[BaseModel], *, depth: int) -> Iterator[tuple[str, ...]]:
    """Alias paths of the fields reachable from ``model`` through model-valued fields (not
    into lists or mappings, where a path would need an index), at most ``depth`` deep."""
    for name, info in model.model_fields.items():
        alias = info.alias or name
        yield (alias,)
        annotation = _strip_optional(info.annotation)
        if depth > 1 and is_model(annotation):
            for rest in fields_under(annotation, depth=depth - 1):
                yield (alias, *rest)
