"""Shard keys: which JobFlows and CronJobFlows must be reconciled by the same replica.

Precedence of a JobFlow's key (first match wins):
  1. its concurrency group (``concurrency_group``: the group label, else its ``generateName``
     prefix) -> ``<ns>/group/<group>``: Forbid and Replace read a flow's peers from the owner's
     cache, so every flow of a group lives on one shard;
  2. the CronJobFlow that created it (``workflow.zen.io/cronjobflow`` label) ->
     ``<ns>/cron/<cron>``: a CronJobFlow reads its runs from its owner's cache;
  3. the flow alone -> ``<ns>/flow/<name>``.
A CronJobFlow's key is the group its ``jobFlowTemplate`` labels name, if any (its runs carry
those labels, so they land in that group), else ``<ns>/cron/<name>``. Thus a cron and all of its
runs always share a key, and so do all flows of a concurrency group.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from zenflow.api.constants import LABEL_CONCURRENCY_GROUP, LABEL_CRONJOBFLOW
from zenflow.core.planning.concurrency import concurrency_group


def flow_shard_key(metadata: Mapping[str, Any]) -> str:
    """A JobFlow's shard key from its metadata (namespace, name, labels, generateName)."""
    namespace = str(metadata.get("namespace") or "")
    group = concurrency_group(metadata)
    if group:
        return f"{namespace}/group/{group}"
    labels = metadata.get("labels") or {}
    cron = labels.get(LABEL_CRONJOBFLOW)
    if isinstance(cron, str) and cron:
        return f"{namespace}/cron/{cron}"
    return f"{namespace}/flow/{metadata.get('name', '')}"


def cron_shard_key(metadata: Mapping[str, Any], template_labels: Mapping[str, Any]) -> str:
    """A CronJobFlow's shard key (``template_labels``: its ``jobFlowTemplate``'s labels)."""
    namespace = str(metadata.get("namespace") or "")
    group = template_labels.get(LABEL_CONCURRENCY_GROUP)
    if isinstance(group, str) and group:
        return f"{namespace}/group/{group}"
    return f"{namespace}/cron/{metadata.get('name', '')}"
