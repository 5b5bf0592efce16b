"""A status refused as too large (zenflow.core.planning.toolarge).

Aspects: the flow stops — running Jobs (shards too) deleted, unfinished steps ended, phase
Failed with reason StatusTooLarge, a Failed condition and a FlowFailed Event quoting the API
server — with a compact status (no outputs, no shard entries, short messages) much smaller than
the refused one; which API server answers mean "too large".
"""

from __future__ import annotations

import json

import pytest

from tests.core.planning.driver import Driver, at, job, make_flow, record
from zenflow.api.status import CONDITION_FAILED
from zenflow.core.observed import Observed
from zenflow.core.planning.toolarge import refused_as_too_large, too_large_plan

REFUSAL = "PATCH …/jobflows/f/status: 500 Internal Server Error: etcdserver: request is too large"


def test_a_refused_status_stops_the_flow_with_a_compact_status() -> None:
    values = {"k": [f"v{i}" for i in range(50)]}
    d = Driver(
        make_flow(
            job("a", outputs=[{"name": "big"}]),
            job("m", "a", matrix={"values": values}),
            job("later", "m"),
        )
    )
    d.step()
    d.set(record("a", "Succeeded"))
    d.step(now=at(1), outputs={"a": {"big": "x" * 1000}})
    d.set(record("m", "Succeeded", shard=0))
    full = d.status()
    assert len(full.model_dump_json()) > 3000
    result = too_large_plan(d.flow, Observed(jobs=d.jobs), at(2), refusal=REFUSAL)
    st = result.status
    assert (st.phase, st.reason) == ("Failed", "StatusTooLarge")
    assert st.message is not None
    assert REFUSAL in st.message
    failed = next(c for c in st.conditions or [] if c.type == CONDITION_FAILED)
    assert (failed.status, failed.reason) == ("True", "StatusTooLarge")
    assert sorted(result.deletes) == sorted(f"f-m-{i}-1" for i in range(1, 50))
    phases = {s.name: (s.phase, s.reason) for s in st.steps or []}
    assert phases == {
        "a": ("Succeeded", None),
        "m": ("Failed", "StatusTooLarge"),
        "later": ("Skipped", "StatusTooLarge"),
    }
    assert all(s.outputs is None and s.shards is None for s in st.steps or [])
    assert all(len(s.message or "") <= 80 for s in st.steps or [])
    # As stored (None fields omitted): well under half the refused status.
    assert len(json.dumps(st.dump())) < len(json.dumps(full.dump())) / 2
    assert any(e.reason == "FlowFailed" and REFUSAL in e.message for e in result.events)


@pytest.mark.parametrize(
    ("status", "message", "too_large"),
    [
        pytest.param(500, "etcdserver: request is too large", True, id="etcd"),
        pytest.param(413, "Request Entity Too Large", True, id="413"),
        pytest.param(
            422, "metadata: Too long: must have at most 1572864 bytes", True, id="422-size"
        ),
        pytest.param(500, "etcdserver: leader changed", False, id="other-500"),
        pytest.param(409, "the object has been modified", False, id="conflict"),
        pytest.param(422, "status.phase: Unsupported value", False, id="other-422"),
    ],
)
def test_which_refusals_mean_too_large(status: int, message: str, too_large: bool) -> None:
    assert refused_as_too_large(status, message) is too_large


def test_a_matrix_step_whose_first_status_was_refused_ends_failed_not_skipped() -> None:
    """Its shard Jobs were created before the status write that was refused: it ran."""
    d = Driver(make_flow(job("m", matrix={"values": {"k": ["x", "y"]}})))
    first = d.step()
    jobs = {"m": [record("m", "Running", shard=i) for i in range(2)]}
    flow = d.flow.model_copy(update={"status": None})  # the first status was never written
    result = too_large_plan(flow, Observed(jobs=jobs), at(1), refusal=REFUSAL)
    (m,) = result.status.steps or []
    assert (m.phase, m.reason) == ("Failed", "StatusTooLarge")
    assert m.message is not None
    assert m.message.startswith("its Jobs terminated")
    assert sorted(result.deletes) == sorted(c.manifest["metadata"]["name"] for c in first.creates)
