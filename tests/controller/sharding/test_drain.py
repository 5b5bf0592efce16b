"""The owner's side of a handover (zenflow.controller.sharding.drain.drain_guard), on a fake
transport and a plain store.

Aspects: an object not being drained (or not cached) is reconciled as usual and counted; a
drained object is not reconciled: one merge patch removes the shard and drain labels carrying
the cached resourceVersion and naming the replica's field manager; a 409 (our cache is behind)
and a 404 end the reconcile quietly (the newer version's event queues the key again).
"""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from tests.support.fake_transport import FakeTransport, reply, status_reply
from zenflow.api.constants import LABEL_DRAIN, LABEL_SHARD
from zenflow.controller.sharding.drain import drain_guard
from zenflow.controller.sharding.metrics import shard_metrics
from zenflow.kube.rest import MERGE_PATCH
from zenflow.machinery.reconcile import ObjectKey, Result
from zenflow.machinery.store import Store

FLOW = "/apis/workflow.zen.io/v1alpha1/namespaces/ns/jobflows/f"


def flow(labels: dict[str, str]) -> dict[str, Any]:
    return {"metadata": {"name": "f", "namespace": "ns", "resourceVersion": "7", "labels": labels}}


class Inner:
    def __init__(self) -> None:
        self.keys: list[str] = []

    async def __call__(self, key: ObjectKey) -> Result:
        self.keys.append(key)
        return Result(requeue_after=5)


def guarded(fake: FakeTransport, store: Store, inner: Inner) -> Any:
    registry = CollectorRegistry()
    metrics = shard_metrics(registry)
    wrap = drain_guard(
        store=store, plural="jobflows", kind="JobFlow", api=fake, shard="r1",
        field_manager="zenflow-controller/r1", metrics=metrics,
    )  # fmt: skip
    return wrap(inner), registry


@pytest.mark.parametrize("cached", [True, False])
async def test_an_object_not_drained_is_reconciled(cached: bool) -> None:
    store, inner, fake = Store(), Inner(), FakeTransport()
    if cached:
        store.upsert(flow({LABEL_SHARD: "r1"}))
    reconcile, registry = guarded(fake, store, inner)
    assert await reconcile(ObjectKey("ns/f")) == Result(requeue_after=5)
    assert inner.keys == ["ns/f"]
    assert fake.requests == []
    count = registry.get_sample_value("zenflow_shard_reconciles_total", {"kind": "JobFlow"})
    assert count == 1


async def test_a_drained_object_is_acknowledged_not_reconciled() -> None:
    store, inner, fake = Store(), Inner(), FakeTransport()
    store.upsert(flow({LABEL_SHARD: "r1", LABEL_DRAIN: "true"}))
    fake.answer("PATCH", FLOW, reply(flow({})))
    reconcile, registry = guarded(fake, store, inner)
    assert await reconcile(ObjectKey("ns/f")) == Result()
    assert inner.keys == []
    (patch,) = fake.sent("PATCH", FLOW)
    assert patch.body == {
        "metadata": {"resourceVersion": "7", "labels": {LABEL_SHARD: None, LABEL_DRAIN: None}}
    }
    assert patch.content_type == MERGE_PATCH
    assert ("fieldManager", "zenflow-controller/r1") in list(patch.query)
    acks = registry.get_sample_value("zenflow_shard_drains_acknowledged_total", {"kind": "JobFlow"})
    assert acks == 1


@pytest.mark.parametrize(
    "answer",
    [status_reply(409, "Conflict", "modified"), status_reply(404, "NotFound", "gone")],
    ids=["stale", "gone"],
)
async def test_a_stale_or_gone_acknowledgement_ends_quietly(answer: Any) -> None:
    store, inner, fake = Store(), Inner(), FakeTransport()
    store.upsert(flow({LABEL_SHARD: "r1", LABEL_DRAIN: "true"}))
    fake.answer("PATCH", FLOW, answer)
    reconcile, _ = guarded(fake, store, inner)
    assert await reconcile(ObjectKey("ns/f")) == Result()
    assert inner.keys == []
