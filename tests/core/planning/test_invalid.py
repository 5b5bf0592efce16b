"""The plan of an invalid flow (zenflow.core.planning.invalid).

Aspects: phase Failed with reason Invalid and the validator's message (clipped to the status
limit); every step Skipped (Invalid); a start time is kept and a completion time kept or set
now; Ready False and Failed True conditions; one FlowFailed Event; nothing created, deleted
or requeued; planning it again with its own status changes nothing and records no Event.
"""

from __future__ import annotations

from tests.core.planning.driver import T0, at, job, make_flow
from zenflow.api.limits import MAX_STEP_MESSAGE
from zenflow.api.status import JobFlowStatus
from zenflow.core.planning.invalid import invalid_plan


def test_an_invalid_flow_fails_with_the_validators_message() -> None:
    flow = make_flow(job("a"), job("b", "a"))
    result = invalid_plan(flow, "spec.steps[1].dependencies: unknown step", T0)
    status = result.status
    assert (status.phase, status.reason) == ("Failed", "Invalid")
    assert status.message == "spec.steps[1].dependencies: unknown step"
    assert status.completion_time == T0
    assert status.observed_generation == 1
    assert [(s.name, s.phase, s.reason) for s in status.steps or []] == [
        ("a", "Skipped", "Invalid"),
        ("b", "Skipped", "Invalid"),
    ]
    conditions = {c.type: (c.status, c.reason) for c in status.conditions or []}
    assert conditions == {"Ready": ("False", "Invalid"), "Failed": ("True", "Invalid")}
    assert [(e.type, e.reason) for e in result.events] == [("Warning", "FlowFailed")]
    assert (result.creates, result.deletes, result.resources) == ([], [], [])
    assert (result.requeue_after, result.delete_flow) == (None, False)


def test_a_long_message_is_clipped_and_earlier_times_are_kept() -> None:
    started = JobFlowStatus(phase="Running", start_time=T0)
    flow = make_flow(job("a")).model_copy(update={"status": started})
    result = invalid_plan(flow, "x" * (MAX_STEP_MESSAGE * 2), at(5))
    assert len(result.status.message or "") <= MAX_STEP_MESSAGE
    assert (result.status.start_time, result.status.completion_time) == (T0, at(5))


def test_a_flow_without_parsable_steps_has_no_step_statuses() -> None:
    flow = make_flow(job("a"))
    flow = flow.model_copy(update={"spec": flow.spec.model_copy(update={"steps": []})})
    assert invalid_plan(flow, "bad", T0).status.steps is None


def test_planning_it_again_changes_nothing() -> None:
    flow = make_flow(job("a"))
    first = invalid_plan(flow, "bad", T0)
    again = invalid_plan(flow.model_copy(update={"status": first.status}), "bad", at(60))
    assert again.status.dump() == first.status.dump()
    assert again.events == []
