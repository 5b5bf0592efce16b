"""The settled-flow rule (zenflow.core.planning.finished), read off raw JobFlow dicts.

Aspects: only a terminal phase settles a flow; a retry nonce the status has not acted on, or an
Invalid verdict on an older generation, hands the flow to the planner; the TTL decision (keep,
wait, delete) from completionTime and ttlSecondsAfterFinished, ignoring non-integer values;
and the raw rule agrees with ``plan`` on the parsed flow for every settled case.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tests.core.planning.driver import T0, at, job
from zenflow.api.constants import ANNOTATION_RETRY
from zenflow.api.jobflow import JobFlow
from zenflow.api.status import JobFlowStatus
from zenflow.core.observed import Observed
from zenflow.core.planning.finished import requested_retry, settled, stale_invalid
from zenflow.core.planning.plan import plan


def _raw(
    *,
    phase: str = "Succeeded",
    ttl: Any = None,
    annotations: dict[str, str] | None = None,
    generation: int = 1,
    **status: Any,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"steps": [job("a")]}
    if ttl is not None:
        spec["executionPolicy"] = {"ttlSecondsAfterFinished": ttl}
    body = JobFlowStatus(
        phase=phase, completion_time=T0, observed_generation=generation, **status
    ).dump()
    meta: dict[str, Any] = {"name": "f", "namespace": "ns", "uid": "u", "generation": generation}
    if annotations:
        meta["annotations"] = annotations
    return {
        "apiVersion": "workflow.zen.io/v1alpha1",
        "kind": "JobFlow",
        "metadata": meta,
        "spec": spec,
        "status": body,
    }


@pytest.mark.parametrize("phase", ["Pending", "Running", "Suspended"])
def test_only_a_terminal_phase_settles(phase: str) -> None:
    assert settled(_raw(phase=phase), T0) is None
    without_status = _raw()
    del without_status["status"]
    assert settled(without_status, T0) is None


def test_a_retry_not_acted_on_goes_to_the_planner() -> None:
    asked = _raw(phase="Failed", annotations={ANNOTATION_RETRY: "n2"}, retry_nonce="n1")
    assert settled(asked, T0) is None
    done = _raw(phase="Failed", annotations={ANNOTATION_RETRY: "n1"}, retry_nonce="n1")
    assert settled(done, T0) is not None


def test_an_invalid_verdict_holds_only_for_its_generation() -> None:
    same = _raw(phase="Failed", reason="Invalid", generation=3)
    assert settled(same, T0) is not None
    edited = _raw(phase="Failed", reason="Invalid", generation=3)
    edited["metadata"]["generation"] = 4
    assert settled(edited, T0) is None
    assert stale_invalid(reason="Invalid", observed_generation=3, generation=4)
    assert not stale_invalid(reason="StepFailed", observed_generation=3, generation=4)


@pytest.mark.parametrize(
    ("ttl", "now", "delete", "requeue"),
    [
        pytest.param(None, at(100), False, None, id="unset-keeps"),
        pytest.param(60, at(30), False, 30.0, id="waits"),
        pytest.param(60, at(60), True, None, id="expired"),
        pytest.param("60", at(100), False, None, id="not-an-int-keeps"),
        pytest.param(True, at(100), False, None, id="bool-keeps"),
    ],
)
def test_ttl_decision(ttl: Any, now: datetime, delete: bool, requeue: float | None) -> None:
    found = settled(_raw(ttl=ttl), now)
    assert found is not None
    assert found.phase == "Succeeded"
    assert (found.ttl.delete, found.ttl.requeue_after) == (delete, requeue)


def test_requested_retry() -> None:
    assert requested_retry({}, None) is None
    assert requested_retry({ANNOTATION_RETRY: ""}, None) is None
    assert requested_retry({ANNOTATION_RETRY: "x"}, "x") is None
    assert requested_retry({ANNOTATION_RETRY: "y"}, "x") == "y"


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(_raw(), id="succeeded-kept"),
        pytest.param(_raw(phase="Failed", ttl=60), id="failed-waits"),
        pytest.param(_raw(ttl=5), id="expired"),
        pytest.param(
            _raw(annotations={ANNOTATION_RETRY: "n"}, retry_nonce="n"), id="retry-acted-on"
        ),
    ],
)
def test_the_raw_rule_agrees_with_the_planner(raw: dict[str, Any]) -> None:
    now = at(30)
    found = settled(raw, now)
    assert found is not None
    planned = plan(JobFlow.model_validate(raw), Observed(), now)
    assert (planned.delete_flow, planned.requeue_after) == (
        found.ttl.delete,
        found.ttl.requeue_after,
    )
    assert planned.status.dump() == raw["status"]
    assert (planned.creates, planned.deletes, planned.events) == ([], [], [])
