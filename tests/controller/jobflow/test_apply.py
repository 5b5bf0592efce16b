"""What the reconciler keeps of its status patch's answer (zenflow.controller.jobflow.apply.
written_copy): with the resourceVersion precondition, the cached flow's own parts with the
answer's status and resourceVersion (no managedFields); without one, the answer stripped."""

from __future__ import annotations

from typing import Any

from zenflow.controller.jobflow.apply import written_copy


def cached_flow() -> dict[str, Any]:
    return {
        "apiVersion": "workflow.zen.io/v1alpha1",
        "kind": "JobFlow",
        "metadata": {"name": "f", "namespace": "ns", "uid": "u", "resourceVersion": "7"},
        "spec": {"steps": [{"name": "a"}]},
        "status": {"phase": "Pending"},
    }


def answer(rv: str) -> dict[str, Any]:
    return {
        **cached_flow(),
        "metadata": {
            "name": "f",
            "namespace": "ns",
            "uid": "u",
            "resourceVersion": rv,
            "managedFields": [{"manager": "zenflow-controller"}],
        },
        "status": {"phase": "Running", "steps": [{"name": "a", "phase": "Running"}]},
    }


def test_the_copy_is_the_cached_flow_with_the_answers_status_and_version() -> None:
    obj = cached_flow()
    copy = written_copy(obj, answer("8"))
    assert copy["metadata"] == {**obj["metadata"], "resourceVersion": "8"}
    assert copy["status"] == answer("8")["status"]
    assert copy["spec"] is obj["spec"]  # shared, not decoded and interned again
    assert obj["metadata"]["resourceVersion"] == "7"  # the cached object is not edited


def test_without_a_precondition_the_answer_is_kept_stripped() -> None:
    obj = cached_flow()
    del obj["metadata"]["resourceVersion"]
    copy = written_copy(obj, answer("8"))
    assert copy["metadata"]["resourceVersion"] == "8"
    assert "managedFields" not in copy["metadata"]
    assert copy["status"]["phase"] == "Running"
