"""A status the real API server refuses as too large (``etcdserver: request is too large``).

The validator keeps a flow's own status far below the object limit, so the test makes the rest
of the object big: ~1.45 MB of labels (other writers can grow metadata) and an annotation that
tunes the room left for the status. A twin flow in a namespace nobody reconciles measures that
room exactly (the largest status message etcd still accepts), then the real flow gets ~3 KB of
room: enough for its compact status (~2 KB), not for the full one listing its 40 matrix shards.

Aspects: the flow does not freeze — it fails with reason StatusTooLarge (the Failed condition
and the flow message quoting the API server), its running shard Jobs are deleted, its status is
compact (no shard entries), and a StatusTooLarge Warning Event is recorded. Before: the refused
patch was retried for ever while its 40 Jobs ran on under a status that never changed.
"""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes_asyncio import client

from tests.support.jobflows import Running, condition, jobflow, step, step_status
from tests.support.wait import eventually
from zenflow.api.constants import GROUP, JOBFLOW_PLURAL, VERSION
from zenflow.errors import KubeError
from zenflow.kube.rest import Rest

pytestmark = pytest.mark.integration

NAME = "too-large-status-flow-with-a-long-name-x"
LABELS = 17_500
ROOM = 3_000
"""Bytes of status the real flow may write: its compact status fits, the full one does not."""
PAD = "zenflow.test/pad"


def _flow(annotation: str) -> dict[str, Any]:
    values = [f"shard-{i:02d}" for i in range(40)]
    shards = step("shards-of-a-matrix-step", seconds=120, matrix={"values": {"k": values}})
    labels = {f"p-{i:05d}": "v" * 63 for i in range(LABELS)}
    return jobflow(NAME, [shards], labels=labels, annotations={PAD: annotation})


def _path(namespace: str, name: str = NAME) -> str:
    return f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{JOBFLOW_PLURAL}/{name}"


async def _room(rest: Rest, namespace: str) -> int:
    """The longest status message the twin flow can still be written with."""
    fits, refused = 0, 400_000
    while refused - fits > 16:
        size = (fits + refused) // 2
        error: KubeError | None = None
        try:
            await rest.merge_patch(
                _path(namespace) + "/status", {"status": {"message": "x" * size}}
            )
        except KubeError as exc:
            error = exc
        if error is None:
            fits = size
        else:
            assert "too large" in str(error), error
            refused = size
    return fits


# aiohttp advises streaming bodies over 1 MiB; these objects are that large on purpose.
@pytest.mark.filterwarnings("ignore:Sending a large body directly:ResourceWarning")
async def test_a_status_refused_as_too_large_stops_the_flow_compactly(zf: Running) -> None:
    rest = Rest(zf.api)
    core = client.CoreV1Api(zf.api)
    twin_ns = zf.namespace[:-1] + ("a" if zf.namespace[-1] != "a" else "b")  # same length
    await rest.create("/api/v1/namespaces", {"metadata": {"name": twin_ns}})
    try:
        twin = _flow("")
        twin["metadata"]["namespace"] = twin_ns
        await rest.create(f"/apis/{GROUP}/{VERSION}/namespaces/{twin_ns}/{JOBFLOW_PLURAL}", twin)
        room = await _room(rest, twin_ns)
    finally:
        await core.delete_namespace(twin_ns)
    assert room > ROOM
    await zf.create(_flow("x" * (room - ROOM)))

    failed = await zf.wait_phase(NAME, ("Failed",), within=120)
    status = failed["status"]
    assert status["reason"] == "StatusTooLarge"
    assert "etcdserver: request is too large" in status["message"]
    cond = condition(failed, "Failed")
    assert cond is not None
    assert (cond["status"], cond["reason"]) == ("True", "StatusTooLarge")
    shards = step_status(failed, "shards-of-a-matrix-step")
    assert (shards["phase"], shards["reason"]) == ("Failed", "StatusTooLarge")
    assert "shards" not in shards

    async def jobs_stopped() -> bool:
        jobs = await zf.jobs(NAME)
        return all(j["metadata"].get("deletionTimestamp") for j in jobs)

    await eventually(jobs_stopped, what="the shard Jobs deleted", within=60)
    reasons = {e["reason"] for e in await zf.events(NAME)}
    assert {"StatusTooLarge", "FlowFailed"} <= reasons
