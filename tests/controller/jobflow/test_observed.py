"""Building the planner's view from informer caches (zenflow.controller.jobflow.observed).

Aspects: the concurrency-group index; peers exclude the flow itself and flows being deleted and
carry policy, started and finished; Jobs come from the owner index, keep only those controlled by
this flow's uid, and expectations fill in Jobs the cache has not shown yet.
"""

from __future__ import annotations

from typing import Any

from zenflow.api.constants import API_VERSION, LABEL_CONCURRENCY_GROUP
from zenflow.controller.jobflow.observed import (
    GROUP_INDEX,
    group_index,
    observe_jobs,
    observe_peers,
)
from zenflow.machinery.informer import OWNER_INDEX, owner_indexer
from zenflow.machinery.store import Store


def _flow(name: str, **meta: Any) -> dict[str, Any]:
    status = meta.pop("status", None)
    policy = meta.pop("policy", "Forbid")
    body: dict[str, Any] = {
        "metadata": {
            "name": name,
            "namespace": "ns",
            "uid": f"u-{name}",
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": {LABEL_CONCURRENCY_GROUP: "g"},
            **meta,
        },
        "spec": {"executionPolicy": {"concurrencyPolicy": policy}},
    }
    if status is not None:
        body["status"] = status
    return body


def _job(name: str, *, owner_uid: str, step: str = "a", attempt: int = 1) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": "ns",
            "labels": {"workflow.zen.io/step": step, "workflow.zen.io/attempt": str(attempt)},
            "ownerReferences": [
                {
                    "apiVersion": "workflow.zen.io/v1alpha1",
                    "kind": "JobFlow",
                    "name": "f",
                    "uid": owner_uid,
                    "controller": True,
                }
            ],
        }
    }


def test_group_index() -> None:
    assert group_index(_flow("a")) == ["ns/g"]
    alone = {"metadata": {"name": "x", "namespace": "ns"}}
    assert group_index(alone) == []


def test_peers() -> None:
    flows = Store()
    flows.add_indexer(GROUP_INDEX, group_index)
    me = _flow("me")
    flows.upsert(me)
    flows.upsert(_flow("running", status={"phase": "Running", "startTime": "2026-01-01T00:00:01Z"}))
    flows.upsert(_flow("done", status={"phase": "Succeeded"}, policy="Replace"))
    flows.upsert(_flow("leaving", deletionTimestamp="2026-01-01T00:00:05Z"))
    peers = {p.name: p for p in observe_peers(flows=flows, flow=me)}
    assert sorted(peers) == ["done", "running"]
    assert (peers["running"].started, peers["running"].finished) == (True, False)
    assert (peers["done"].policy, peers["done"].finished) == ("Replace", True)


def test_jobs_by_owner_uid_with_expectations() -> None:
    jobs = Store()
    jobs.add_indexer(OWNER_INDEX, owner_indexer("JobFlow", api_version=API_VERSION))
    jobs.upsert(_job("f-a-1", owner_uid="u1"))
    jobs.upsert(_job("f-b-1", owner_uid="old-incarnation", step="b"))
    expected = {"f-c-1": _job("f-c-1", owner_uid="u1", step="c")}
    seen = observe_jobs(jobs=jobs, flow_key="ns/f", flow_uid="u1", expected=expected)
    assert {step: [j.name for j in records] for step, records in seen.items()} == {
        "a": ["f-a-1"],
        "c": ["f-c-1"],
    }
