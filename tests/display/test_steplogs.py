"""Where a flow's step logs are (``zenflow.display.steplogs``), from raw flow, Job and pod dicts.

Aspects: steps come in DAG order (level by level, spec order within a level) and the finally
steps last, a cycle falls back to spec order; a step's sources are the pods of its current
attempt's Job (or the asked attempt's), only of Jobs the flow controls; matrix shards are
labelled ``step/shard`` with their own attempts; a pod with several containers labels each
and lists init containers first; a container that has not started is marked so; a step without
a log says why: a Manual step, skipped (with the reason), no pod yet, pods deleted, no such
attempt; the prefix pads and colours.
"""

from __future__ import annotations

from typing import Any

import pytest

from zenflow.display.steplogs import GONE, RESET, color_of, prefix, step_logs, step_order

FLOW_UID = "flow-uid"


def _flow(
    steps: list[dict[str, Any]],
    statuses: list[dict[str, Any]],
    *,
    final: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"steps": steps}
    if final:
        spec["finally"] = final
    return {
        "metadata": {"name": "f", "namespace": "ns", "uid": FLOW_UID},
        "spec": spec,
        "status": {"phase": "Running", "steps": statuses},
    }


def _job(
    step: str, attempt: int, *, shard: int | None = None, owner: str = FLOW_UID
) -> dict[str, Any]:
    labels = {"workflow.zen.io/step": step, "workflow.zen.io/attempt": str(attempt)}
    if shard is not None:
        labels["workflow.zen.io/shard"] = str(shard)
    name = f"f-{step}-{attempt}" if shard is None else f"f-{step}-{shard}-{attempt}"
    return {
        "metadata": {
            "name": name,
            "uid": f"uid-{name}",
            "labels": labels,
            "ownerReferences": [{"uid": owner, "controller": True, "kind": "JobFlow"}],
        },
        "status": {},
    }


def _pod(
    job: dict[str, Any],
    *,
    name: str | None = None,
    containers: tuple[str, ...] = ("main",),
    init: tuple[str, ...] = (),
    state: str = "terminated",
    created: str = "2026-01-01T00:00:00Z",
) -> dict[str, Any]:
    states = {
        "running": {"running": {"startedAt": created}},
        "terminated": {"terminated": {"exitCode": 0, "startedAt": created}},
        "waiting": {"waiting": {"reason": "ContainerCreating"}},
    }

    def statuses(names: tuple[str, ...]) -> list[dict[str, Any]]:
        return [{"name": n, "state": states[state]} for n in names]

    return {
        "metadata": {
            "name": name or f"{job['metadata']['name']}-pod",
            "creationTimestamp": created,
            "labels": {"batch.kubernetes.io/controller-uid": job["metadata"]["uid"]},
        },
        "spec": {
            "containers": [{"name": n} for n in containers],
            "initContainers": [{"name": n} for n in init],
        },
        "status": {
            "containerStatuses": statuses(containers),
            "initContainerStatuses": statuses(init),
        },
    }


def _step(name: str, *deps: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "dependencies": list(deps), **extra}


def test_dag_order_then_finally() -> None:
    flow = _flow(
        [_step("report", "a", "b"), _step("b", "root"), _step("a", "root"), _step("root")],
        [],
        final=[_step("notify", "cleanup"), _step("cleanup")],
    )
    assert step_order(flow) == ["root", "b", "a", "report", "cleanup", "notify"]


def test_a_cycle_falls_back_to_spec_order() -> None:
    flow = _flow([_step("x", "y"), _step("y", "x")], [])
    assert step_order(flow) == ["x", "y"]


def test_sources_of_the_current_or_asked_attempt() -> None:
    first, second = _job("a", 1), _job("a", 2)
    foreign = _job("a", 2, owner="another-flow")
    foreign["metadata"]["uid"] = "foreign"
    pods = [_pod(first), _pod(second), _pod(foreign, name="foreign-pod")]
    flow = _flow([_step("a")], [{"name": "a", "phase": "Running", "attempt": 2}])
    (current,) = step_logs(flow, [first, second, foreign], pods)
    assert [(s.pod, s.attempt, s.label) for s in current.sources] == [("f-a-2-pod", 2, "a")]
    assert current.note is None
    (asked,) = step_logs(flow, [first, second, foreign], pods, attempt=1)
    assert [s.pod for s in asked.sources] == ["f-a-1-pod"]


def test_matrix_shards_and_containers() -> None:
    shard0, shard1 = _job("m", 1, shard=0), _job("m", 2, shard=1)
    pods = [
        _pod(shard0, containers=("main", "side"), init=("setup",)),
        _pod(shard1, state="waiting"),
    ]
    status = {
        "name": "m",
        "phase": "Running",
        "shards": [{"index": 0, "attempt": 1}, {"index": 1, "attempt": 2}],
    }
    (entry,) = step_logs(_flow([_step("m")], [status]), [shard0, shard1], pods)
    assert [(s.label, s.started, s.running) for s in entry.sources] == [
        ("m/0 setup", True, False),
        ("m/0 main", True, False),
        ("m/0 side", True, False),
        ("m/1", False, False),
    ]


def test_pods_in_creation_order() -> None:
    job = _job("a", 1)
    pods = [
        _pod(job, name="later", created="2026-01-01T00:00:09Z", state="running"),
        _pod(job, name="earlier", created="2026-01-01T00:00:01Z"),
    ]
    flow = _flow([_step("a")], [{"name": "a", "phase": "Running", "attempt": 1}])
    (entry,) = step_logs(flow, [job], pods)
    assert [(s.pod, s.running) for s in entry.sources] == [("earlier", False), ("later", True)]


@pytest.mark.parametrize(
    ("declared", "status", "jobs", "attempt", "note"),
    [
        pytest.param(
            {"type": "Manual"}, {"phase": "Waiting"}, [], None, "a Manual step: it runs no pod",
            id="manual",
        ),
        pytest.param(
            {}, {"phase": "Skipped", "message": "upstream a failed"}, [], None,
            "skipped: upstream a failed", id="skipped",
        ),
        pytest.param(
            {}, {"phase": "Pending", "message": "waiting for a"}, [], None,
            "no pod yet: the step is Pending (waiting for a)", id="pending",
        ),
        pytest.param(
            {}, {"phase": "Running", "attempt": 1}, [_job("s", 1)], None,
            "no pod yet: the step is Running", id="job-without-pod-yet",
        ),
        pytest.param(
            {}, {"phase": "Succeeded", "attempt": 1}, [_job("s", 1)], None, GONE,
            id="pods-deleted",
        ),
        pytest.param(
            {}, {"phase": "Failed", "attempt": 1}, [], None, GONE, id="job-deleted",
        ),
        pytest.param(
            {}, {"phase": "Failed", "attempt": 1}, [_job("s", 1)], 5,
            "no attempt 5: the step is at attempt 1", id="no-such-attempt",
        ),
    ],
)  # fmt: skip
def test_why_a_step_has_no_log(
    declared: dict[str, Any],
    status: dict[str, Any],
    jobs: list[dict[str, Any]],
    attempt: int | None,
    note: str,
) -> None:
    if jobs and status["phase"] in ("Succeeded", "Failed"):
        done = "Complete" if status["phase"] == "Succeeded" else "Failed"
        jobs[0]["status"] = {"conditions": [{"type": done, "status": "True"}]}
    flow = _flow([_step("s", **declared)], [{"name": "s", **status}])
    (entry,) = step_logs(flow, jobs, [], attempt=attempt)
    assert entry.sources == ()
    assert entry.note == note


def test_only_the_asked_step() -> None:
    flow = _flow([_step("a"), _step("b", "a")], [])
    assert [e.step for e in step_logs(flow, [], [], step="b")] == ["b"]


def test_prefix() -> None:
    assert prefix("a/1", width=5, color=None) == "a/1   | "
    assert prefix("a", width=1, color=color_of(0)) == f"{color_of(0)}a{RESET} | "
    assert color_of(0) != color_of(1)
