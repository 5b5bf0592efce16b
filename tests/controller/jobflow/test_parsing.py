"""The reconciler's spec cache (zenflow.controller.jobflow.parsing): one validation per generation,
an LRU bound, invalid flows raise with the validator's messages and keep what parsed, and an
Invalid status of an older generation is dropped so a fixed flow starts afresh; ``keep_spec``
keeps specs of running and queued flows (and suspended ones with Jobs in flight), not of
finished or idle suspended ones; a placeholder of an undecodable flow is invalid, saying why; the
parse step only ever raises InvalidFlowError, whatever the object holds (hypothesis)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.core.validation.test_fuzz import hostile_values
from zenflow.api.status import FlowPhase, JobFlowStatus, StepPhase, StepStatus
from zenflow.controller.jobflow.parsing import InvalidFlowError, SpecCache, keep_spec
from zenflow.machinery.listwatch import placeholder


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
    edited = [{"name": "a", "run": {"image": "y"}}]
    newer = cache.flow("u1", _obj("u1", 2, edited))
    assert newer.spec is not first.spec
    cache.flow("u2", _obj("u2", 1, GOOD))
    cache.flow("u3", _obj("u3", 1, GOOD))
    assert len(cache) == 2


def test_flows_with_equal_specs_share_one_parsed_spec() -> None:
    cache = SpecCache()
    one = cache.flow("u1", _obj("u1", 1, GOOD))
    two = cache.flow("u2", _obj("u2", 7, [dict(s) for s in GOOD]))
    other = cache.flow("u3", _obj("u3", 1, [{"name": "a", "run": {"image": "y"}}]))
    assert one.spec is two.spec
    assert other.spec is not one.spec
    assert other.spec.steps[0].run is not None
    assert other.spec.steps[0].run.image == "y"


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


def test_a_placeholder_of_an_undecodable_flow_is_invalid_saying_why() -> None:
    obj = placeholder(
        {**_obj("u1", 3, GOOD), "status": {"phase": "Running"}},
        "the object nests more than 64 levels deep",
    )
    assert obj is not None
    with pytest.raises(InvalidFlowError) as caught:
        SpecCache().flow("u1", obj)
    assert caught.value.problems == (
        "the object could not be decoded: the object nests more than 64 levels deep"
    )
    assert caught.value.flow.generation == 3
    assert caught.value.flow.spec.steps == []


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["spec", "status", "metadata"]), hostile_values)
def test_the_parse_step_only_ever_raises_invalid_flow_error(field: str, value: Any) -> None:
    """Random and adversarial values (nesting thousands deep, huge matrices, expression bombs)
    in the spec, the status or the metadata: the reconciler's parse step returns a flow or
    raises InvalidFlowError naming a field, nothing else."""
    obj = _obj("u1", 1, GOOD)
    obj[field] = value if field != "metadata" else {**obj["metadata"], "labels": value}
    problems = None
    try:
        SpecCache().flow("u1", obj)
    except InvalidFlowError as exc:
        problems = exc.problems
    if problems is not None:
        # The first problem names a field of the object (keys may hold any character).
        assert problems.startswith(("spec", "status", "metadata", "apiVersion", "kind")), problems
        assert ": " in problems
