"""What the sharder keeps of each JobFlow and CronJobFlow, and their ``Placement``.

The sharder watches every JobFlow metadata-only (``PartialObjectMetadata``) and every
CronJobFlow whole, and keeps of each only what the decision reads (``slim_flow``,
``slim_cron``): name, namespace, resourceVersion, generateName, the labels that decide a shard
key or a placement, and whether the object was ever reconciled (a ``/status`` entry in its
managedFields: then it may have Jobs that must follow it). About 300 bytes per flow.
"""

from __future__ import annotations

from typing import Any, Final

from zenflow.api.constants import (
    CRONJOBFLOW_KIND,
    LABEL_CONCURRENCY_GROUP,
    LABEL_CRONJOBFLOW,
    LABEL_DRAIN,
    LABEL_SHARD,
)
from zenflow.controller.sharding.keys import cron_shard_key, flow_shard_key
from zenflow.machinery.reconcile import key_of
from zenflow.machinery.sharding import Placement

KEPT_LABELS: Final = (LABEL_SHARD, LABEL_DRAIN, LABEL_CONCURRENCY_GROUP, LABEL_CRONJOBFLOW)
HISTORY: Final = "zenflowHistory"
TEMPLATE_LABELS: Final = "zenflowTemplateLabels"


def _slim_metadata(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    slim: dict[str, Any] = {
        key: meta[key]
        for key in ("name", "namespace", "resourceVersion", "generateName")
        if key in meta
    }
    slim["labels"] = {k: labels[k] for k in KEPT_LABELS if k in labels}
    return slim


def _reconciled(obj: dict[str, Any]) -> bool:
    fields = (obj.get("metadata") or {}).get("managedFields") or []
    return any(isinstance(f, dict) and f.get("subresource") == "status" for f in fields)


def slim_flow(obj: dict[str, Any]) -> dict[str, Any]:
    """The sharder's cache transform for JobFlows (metadata-only objects)."""
    return {"metadata": _slim_metadata(obj), HISTORY: _reconciled(obj)}


def slim_cron(obj: dict[str, Any]) -> dict[str, Any]:
    """The sharder's cache transform for CronJobFlows (its template's labels are kept)."""
    template = ((obj.get("spec") or {}).get("jobFlowTemplate") or {}).get("metadata") or {}
    labels = template.get("labels") or {}
    return {
        "metadata": _slim_metadata(obj),
        HISTORY: _reconciled(obj),
        TEMPLATE_LABELS: {k: labels[k] for k in (LABEL_CONCURRENCY_GROUP,) if k in labels},
    }


def placement_of(obj: dict[str, Any], kind: str) -> Placement:
    """A slim cached object's placement."""
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    if kind == CRONJOBFLOW_KIND:
        shard_key = cron_shard_key(meta, obj.get(TEMPLATE_LABELS) or {})
    else:
        shard_key = flow_shard_key(meta)
    owner = labels.get(LABEL_SHARD)
    return Placement(
        kind=kind,
        key=key_of(obj),
        shard_key=shard_key,
        owner=owner if isinstance(owner, str) and owner else None,
        draining=labels.get(LABEL_DRAIN) == "true",
        has_history=bool(obj.get(HISTORY)),
        resource_version=str(meta.get("resourceVersion", "")),
    )


__all__ = ["HISTORY", "TEMPLATE_LABELS", "placement_of", "slim_cron", "slim_flow"]
