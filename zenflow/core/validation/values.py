"""Checks of single values: object names (metadata), params (names, required, enum), resource
templates (PVC and ConfigMap names, shapes), and a CronJobFlow's schedule (croniter) and time
zone (zoneinfo)."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping
from typing import Any, Final

from zenflow.api.jobflow import Param, ResourceTemplates
from zenflow.core.schedule import fires, normalize_schedule, valid_expression
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


def check_metadata(
    metadata: Mapping[str, Any], *, max_name: int, out: Collector, why: str = ""
) -> None:
    """``metadata.name`` (or ``generateName``) is a DNS-1123 subdomain of at most
    ``max_name`` characters (``why``: the reason for that maximum, appended to the message). A
    missing name is fine offline: the API server requires one."""
    name = metadata.get("name")
    if name is not None:
        if not isinstance(name, str) or not DNS1123_SUBDOMAIN.match(name):
            out.error("metadata.name", f"must be a DNS-1123 subdomain, got {name!r}")
        elif len(name) > max_name:
            reason = f": {why}" if why else ""
            out.error(
                "metadata.name",
                f"must be at most {max_name} characters (has {len(name)}){reason}",
            )
    generate = metadata.get("generateName")
    if generate is not None and (not isinstance(generate, str) or len(generate) > max_name - 5):
        out.error("metadata.generateName", f"must be a string of at most {max_name - 5} chars")


def check_schedule(schedule: str, time_zone: str | None, *, path: str, out: Collector) -> None:
    text = normalize_schedule(schedule)
    if "TZ=" in text or "CRON_TZ=" in text:
        out.error(f"{path}.schedule", "set the time zone in timeZone, not in the schedule")
    elif len(text.split()) != 5:
        out.error(
            f"{path}.schedule",
            f'invalid cron schedule {schedule!r}: expected 5 fields "MIN HOUR DOM MON DOW" '
            "or a macro like @daily",
        )
    elif not valid_expression(text):
        out.error(f"{path}.schedule", f"invalid cron schedule {schedule!r}")
    elif not fires(text):
        out.error(
            f"{path}.schedule",
            f"cron schedule {schedule!r} never fires: no date matches its day of month and "
            "month (e.g. February 30th)",
        )
    if time_zone is not None:
        try:
            zoneinfo.ZoneInfo(time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            out.error(f"{path}.timeZone", f"unknown time zone {time_zone!r} (use an IANA name)")
