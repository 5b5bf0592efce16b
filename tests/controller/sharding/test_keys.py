"""Tests of shard keys (zenflow.controller.sharding.keys).

Aspects: the precedence group > cron > alone for JobFlows (group label, generateName prefix,
cron label, plain name); a CronJobFlow's key is its template's group, else its own cron key; a
cron and its runs always share a key, with or without a group.
"""

from __future__ import annotations

from typing import Any

import pytest

from zenflow.api.constants import LABEL_CONCURRENCY_GROUP, LABEL_CRONJOBFLOW
from zenflow.controller.sharding.keys import cron_shard_key, flow_shard_key


@pytest.mark.parametrize(
    ("metadata", "key"),
    [
        pytest.param({"namespace": "ns", "name": "a"}, "ns/flow/a", id="alone"),
        pytest.param(
            {"namespace": "ns", "name": "a", "labels": {LABEL_CONCURRENCY_GROUP: "g"}},
            "ns/group/g",
            id="group-label",
        ),
        pytest.param(
            {"namespace": "ns", "name": "etl-x1", "generateName": "etl-"},
            "ns/group/etl-",
            id="generate-name",
        ),
        pytest.param(
            {"namespace": "ns", "name": "c-1", "labels": {LABEL_CRONJOBFLOW: "c"}},
            "ns/cron/c",
            id="cron-run",
        ),
        pytest.param(
            {
                "namespace": "ns",
                "name": "c-1",
                "labels": {LABEL_CRONJOBFLOW: "c", LABEL_CONCURRENCY_GROUP: "g"},
            },
            "ns/group/g",
            id="group-before-cron",
        ),
    ],
)
def test_flow_key_precedence(metadata: dict[str, Any], key: str) -> None:
    assert flow_shard_key(metadata) == key


@pytest.mark.parametrize("template_labels", [{}, {LABEL_CONCURRENCY_GROUP: "nightly"}])
def test_a_cron_and_its_runs_share_a_key(template_labels: dict[str, str]) -> None:
    cron = {"namespace": "ns", "name": "c"}
    run = {
        "namespace": "ns",
        "name": "c-29000",
        "labels": {**template_labels, LABEL_CRONJOBFLOW: "c"},
    }
    assert cron_shard_key(cron, template_labels) == flow_shard_key(run)
