"""The reconciler's spec cache (zenflow.controller.jobflow.parsing): one validation per generation,
an LRU bound, invalid flows raise with the validator's messages and keep what parsed, and an
Invalid status of an older generation is dropped so a fixed flow starts afresh; ``keep_spec``
keeps specs of running and queued flows (and suspended ones with Jobs in flight), not of
finished or idle suspended ones."""

from __future__ import annotations

from typing import Any

import pytest

from zenflow.api.status import FlowPhase, JobFlowStatus, StepPhase, StepStatus
from zenflow.controller.jobflow.parsing import InvalidFlowError, SpecCache, keep_spec


def _obj(uid: str, generation: int, steps: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "workflow.zen.io/v1alpha1",
        "kind": "JobFlow",
        "metadata": {"name": "f", "namespace": "ns", "uid": uid, "generation": generation},
        "spec": {"steps": steps},
        **extra,
    }


GOOD = [{"name": "a", "run": {"image": "x"}}]
CYCLE = [
    {"name": "a", "run": {"image": "x"}, "dependencies": ["b"]},
    {"name": "b", "run": {"image": "x"}, "dependencies": ["a"]},
]


def test_spec_is_parsed_once_per_generation_and_bounded() -> None:
    cache = SpecCache(size=2)
    first = cache.flow("u1", _obj("u1", 1, GOOD))
    again = cache.flow("u1", _obj("u1", 1, GOOD))
    assert first.spec is again.spec
    newer = cache.flow("u1", _obj("u1", 2, GOOD))
    assert newer.spec is not first.spec
    cache.flow("u2", _obj("u2", 1, GOOD))
    cache.flow("u3", _obj("u3", 1, GOOD))
    assert len(cache) == 2


def test_invalid_flow_raises_with_the_validators_message() -> None:
    cache = SpecCache()
    with pytest.raises(InvalidFlowError) as info:
        cache.flow("u1", _obj("u1", 1, CYCLE))
    assert "cycle" in info.value.problems
    assert [s.name for s in info.value.flow.spec.steps] == ["a", "b"]


def test_an_invalid_status_of_an_older_generation_is_dropped() -> None:
    status = {"phase": "Failed", "reason": "Invalid", "observedGeneration": 1}
    flow = SpecCache().flow("u1", _obj("u1", 2, GOOD, status=status))
    assert flow.status is None
    same = SpecCache().flow("u1", _obj("u1", 2, GOOD, status={**status, "observedGeneration": 2}))
    assert same.status is not None


@pytest.mark.parametrize(
    ("phase", "steps", "keep"),
    [
        pytest.param("Running", ["Succeeded", "Running"], True, id="running"),
        pytest.param("Pending", ["Pending"], True, id="queued-behind-a-peer"),
        pytest.param("Suspended", ["Pending", "Pending"], False, id="suspended-idle"),
        pytest.param("Suspended", ["Succeeded", "Running"], True, id="suspended-job-running"),
        pytest.param("Suspended", ["Retrying"], True, id="suspended-step-retrying"),
        pytest.param("Succeeded", ["Succeeded"], False, id="succeeded"),
        pytest.param("Failed", ["Failed", "Skipped"], False, id="failed"),
    ],
)
def test_keep_spec(phase: FlowPhase, steps: list[StepPhase], keep: bool) -> None:
    status = JobFlowStatus(
        phase=phase, steps=[StepStatus(name=f"s{i}", phase=p) for i, p in enumerate(steps)]
    )
    assert keep_spec(status) is keep
