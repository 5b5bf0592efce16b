"""Checks of flow-level values: params (names, required, enum) and resource templates (PVC and
ConfigMap names, shapes)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from zenflow.api.jobflow import Param, ResourceTemplates
from zenflow.core.validation.problems import Collector

IDENTIFIER: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DNS1123_SUBDOMAIN: Final = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)


def check_params(params: list[Param], *, path: str, out: Collector) -> None:
    seen: set[str] = set()
    for i, param in enumerate(params):
        here = f"{path}[{i}]"
        if not IDENTIFIER.match(param.name):
            out.error(
                f"{here}.name",
                f"invalid param name {param.name!r}: a letter or '_', then letters, digits "
                "or '_' (so CEL can read params.NAME)",
            )
        if param.name in seen:
            out.error(f"{here}.name", f"duplicate param name {param.name!r}")
        seen.add(param.name)
        value = param.effective
        if param.required and value is None:
            out.error(here, f'param "{param.name}" is required: set value or default')
        if param.enum is not None and value is not None and value not in param.enum:
            out.error(
                f"{here}.{'value' if param.value is not None else 'default'}",
                f"{value!r} is not one of {param.enum}",
            )


def check_resource_templates(templates: ResourceTemplates, *, path: str, out: Collector) -> None:
    for field_name, items, kind in (
        ("volumeClaimTemplates", templates.volume_claim_templates, "PersistentVolumeClaim"),
        ("configMapTemplates", templates.config_map_templates, "ConfigMap"),
    ):
        seen: set[str] = set()
        for i, item in enumerate(items):
            here = f"{path}.{field_name}[{i}]"
            _check_resource(item, kind=kind, path=here, seen=seen, out=out)


def _check_resource(
    item: Mapping[str, Any], *, kind: str, path: str, seen: set[str], out: Collector
) -> None:
    item_kind = item.get("kind")
    if item_kind is not None and item_kind != kind:
        out.error(f"{path}.kind", f"must be {kind!r} when set, got {item_kind!r}")
    metadata = item.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    if not isinstance(name, str) or not name:
        out.error(f"{path}.metadata.name", f"required: the {kind}'s name")
    elif len(name) > 253 or not DNS1123_SUBDOMAIN.match(name):
        out.error(f"{path}.metadata.name", f"must be a DNS-1123 subdomain, got {name!r}")
    elif name in seen:
        out.error(f"{path}.metadata.name", f"duplicate {kind} name {name!r}")
    else:
        seen.add(name)
    if kind == "PersistentVolumeClaim" and not isinstance(item.get("spec"), Mapping):
        out.error(f"{path}.spec", "required: the claim's spec (accessModes, resources)")
    if kind == "ConfigMap":
        data = item.get("data")
        if data is not None and (
            not isinstance(data, Mapping) or not all(isinstance(v, str) for v in data.values())
        ):
            out.error(f"{path}.data", "must map keys to strings (quote numbers and booleans)")
