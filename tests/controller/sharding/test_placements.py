"""What the sharder keeps of each object (zenflow.controller.sharding.placements).

Aspects: a metadata-only JobFlow is slimmed to name, namespace, resourceVersion, generateName
and the labels that matter, and marked reconciled when a ``/status`` managedFields entry
exists; a CronJobFlow keeps its template's group label; placements carry owner, drain, history
and the shard key (a cron and its run share one).
"""

from __future__ import annotations

from typing import Any

from zenflow.api.constants import (
    LABEL_CONCURRENCY_GROUP,
    LABEL_CRONJOBFLOW,
    LABEL_DRAIN,
    LABEL_SHARD,
)
from zenflow.controller.sharding.placements import placement_of, slim_cron, slim_flow
from zenflow.machinery.sharding import Placement


def partial(name: str, labels: dict[str, str], *, status: bool) -> dict[str, Any]:
    fields = [{"manager": "kubectl", "operation": "Update"}]
    if status:
        fields.append({"manager": "zenflow-controller/r1", "subresource": "status"})
    return {
        "kind": "PartialObjectMetadata",
        "metadata": {
            "name": name,
            "namespace": "ns",
            "uid": "u",
            "resourceVersion": "9",
            "labels": {**labels, "team": "x"},
            "annotations": {"big": "y" * 1000},
            "managedFields": fields,
        },
    }


def test_a_flow_is_slimmed_and_placed() -> None:
    slim = slim_flow(partial("a", {LABEL_SHARD: "r1", LABEL_DRAIN: "true"}, status=True))
    assert slim == {
        "metadata": {
            "name": "a",
            "namespace": "ns",
            "resourceVersion": "9",
            "labels": {LABEL_SHARD: "r1", LABEL_DRAIN: "true"},
        },
        "zenflowHistory": True,
    }
    assert placement_of(slim, "JobFlow") == Placement(
        "JobFlow", "ns/a", "ns/flow/a", "r1", draining=True, has_history=True, resource_version="9"
    )


def test_a_new_flow_has_no_owner_and_no_history() -> None:
    p = placement_of(slim_flow(partial("a", {}, status=False)), "JobFlow")
    assert (p.owner, p.draining, p.has_history) == (None, False, False)


def test_a_cron_and_its_run_share_a_shard_key() -> None:
    cron = {
        "metadata": {"name": "c", "namespace": "ns", "resourceVersion": "3"},
        "spec": {"jobFlowTemplate": {"metadata": {"labels": {LABEL_CONCURRENCY_GROUP: "g"}}}},
    }
    run = partial("c-1", {LABEL_CRONJOBFLOW: "c", LABEL_CONCURRENCY_GROUP: "g"}, status=False)
    cron_place = placement_of(slim_cron(cron), "CronJobFlow")
    run_place = placement_of(slim_flow(run), "JobFlow")
    assert cron_place.shard_key == run_place.shard_key == "ns/group/g"
