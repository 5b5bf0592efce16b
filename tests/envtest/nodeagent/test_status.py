"""Pod status construction of the node agent.

Aspects: the kubelet-like phase (init containers, running/waiting/terminated counts, restart
policies, final stops); container status JSON (running, terminated with exit code/reason/
message, CrashLoopBackOff with lastState and restartCount, start errors without startedAt);
conditions (values, reasons, stable lastTransitionTime, foreign conditions kept); pod-level
fields (IPs, startTime, reason/message, observedGeneration).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from zenflow.envtest.nodeagent.status import (
    ContainerRecord,
    build_status,
    compute_phase,
    new_records,
    rfc3339,
)

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
T1 = T0 + timedelta(seconds=7)


def _rec(state: str, code: int | None = None, *, restarting: bool = False) -> ContainerRecord:
    record = ContainerRecord(name="c", image="img")
    if state in ("running", "terminated"):
        record.start(container_id="zenflow://1", now=T0)
    if state == "terminated":
        assert code is not None
        record.finish(exit_code=code, message="", now=T1)
        if restarting:
            record.back_off(delay_s=1)
    return record


@pytest.mark.parametrize(
    ("policy", "init", "main", "final", "expected"),
    [
        pytest.param("Never", [], [_rec("waiting")], False, "Pending", id="waiting"),
        pytest.param("Never", [], [_rec("running")], False, "Running", id="running"),
        pytest.param("Never", [], [_rec("terminated", 0)], False, "Succeeded", id="succeeded"),
        pytest.param("Never", [], [_rec("terminated", 3)], False, "Failed", id="failed"),
        pytest.param(
            "Never",
            [],
            [_rec("terminated", 0), _rec("running")],
            False,
            "Running",
            id="one-still-running",
        ),
        pytest.param(
            "Never",
            [],
            [_rec("terminated", 0), _rec("terminated", 1)],
            False,
            "Failed",
            id="one-of-two-failed",
        ),
        pytest.param(
            "OnFailure",
            [],
            [_rec("terminated", 1, restarting=True)],
            False,
            "Running",
            id="onfailure-backoff",
        ),
        pytest.param(
            "OnFailure", [], [_rec("terminated", 0)], False, "Succeeded", id="onfailure-success"
        ),
        pytest.param("Never", [_rec("running")], [_rec("waiting")], False, "Pending", id="init"),
        pytest.param(
            "Never", [_rec("terminated", 2)], [_rec("waiting")], False, "Failed", id="init-failed"
        ),
        pytest.param(
            "OnFailure",
            [_rec("terminated", 2)],
            [_rec("waiting")],
            False,
            "Pending",
            id="init-failed-will-retry",
        ),
        pytest.param(
            "Never",
            [_rec("terminated", 0)],
            [_rec("running")],
            False,
            "Running",
            id="init-done",
        ),
        pytest.param("OnFailure", [], [_rec("running")], True, "Failed", id="final-stop"),
        pytest.param(
            "OnFailure", [], [_rec("terminated", 0)], True, "Succeeded", id="final-succeeded"
        ),
    ],
)
def test_compute_phase(
    policy: str,
    init: list[ContainerRecord],
    main: list[ContainerRecord],
    final: bool,
    expected: str,
) -> None:
    assert compute_phase(restart_policy=policy, init=init, main=main, final=final) == expected


def _pod(**status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "namespace": "n", "uid": "u", "generation": 1},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "img"}]},
        "status": status,
    }


def _conditions(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status["conditions"]}


def test_running_status() -> None:
    status = build_status(pod=_pod(), init=[], main=[_rec("running")], start_time=T0, now=T0)
    assert status["phase"] == "Running"
    assert status["podIP"] == status["hostIP"] == "127.0.0.1"
    assert status["podIPs"] == [{"ip": "127.0.0.1"}]
    assert status["startTime"] == "2026-01-02T03:04:05Z"
    assert status["observedGeneration"] == 1
    (container,) = status["containerStatuses"]
    assert container == {
        "name": "c",
        "image": "img",
        "imageID": "zenflow-local://img",
        "ready": True,
        "started": True,
        "restartCount": 0,
        "state": {"running": {"startedAt": "2026-01-02T03:04:05Z"}},
        "lastState": {},
        "containerID": "zenflow://1",
    }
    conditions = _conditions(status)
    assert {k: v["status"] for k, v in conditions.items()} == {
        "PodReadyToStartContainers": "True",
        "Initialized": "True",
        "Ready": "True",
        "ContainersReady": "True",
        "PodScheduled": "True",
    }
    assert status["reason"] is None
    assert "initContainerStatuses" not in status


def test_terminated_status_carries_exit_code_and_message() -> None:
    record = _rec("running")
    record.finish(exit_code=3, message='{"x":1}', now=T1)
    status = build_status(pod=_pod(), init=[], main=[record], start_time=T0, now=T1)
    assert status["phase"] == "Failed"
    (container,) = status["containerStatuses"]
    assert container["ready"] is False
    assert container["state"] == {
        "terminated": {
            "exitCode": 3,
            "reason": "Error",
            "message": '{"x":1}',
            "startedAt": rfc3339(T0),
            "finishedAt": rfc3339(T1),
            "containerID": "zenflow://1",
        }
    }
    ready = _conditions(status)["Ready"]
    assert (ready["status"], ready["reason"]) == ("False", "PodCompleted")


def test_completed_reason_on_zero_exit() -> None:
    status = build_status(pod=_pod(), init=[], main=[_rec("terminated", 0)], start_time=T0, now=T1)
    assert status["phase"] == "Succeeded"
    assert status["containerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"


def test_crash_loop_backoff_shows_last_state_and_restart_count() -> None:
    record = _rec("terminated", 1, restarting=True)
    status = build_status(
        pod={**_pod(), "spec": {"restartPolicy": "OnFailure"}},
        init=[],
        main=[record],
        start_time=T0,
        now=T1,
    )
    (container,) = status["containerStatuses"]
    assert container["restartCount"] == 1
    assert container["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert container["lastState"]["terminated"]["exitCode"] == 1
    assert status["phase"] == "Running"
    record.start(container_id="zenflow://2", now=T1)
    again = build_status(pod=_pod(), init=[], main=[record], start_time=T0, now=T1)
    assert again["containerStatuses"][0]["state"] == {"running": {"startedAt": rfc3339(T1)}}
    assert again["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] == 1


def test_start_error_has_no_started_at() -> None:
    record = ContainerRecord(name="c", image="img")
    record.finish(exit_code=128, message="no such file", now=T1, reason="StartError")
    status = build_status(pod=_pod(), init=[], main=[record], start_time=T0, now=T1)
    terminated = status["containerStatuses"][0]["state"]["terminated"]
    assert terminated == {
        "exitCode": 128,
        "reason": "StartError",
        "message": "no such file",
        "finishedAt": rfc3339(T1),
    }


def test_init_containers_gate_initialized() -> None:
    init = new_records([{"name": "setup", "image": "i"}], waiting_reason="PodInitializing")
    main = new_records([{"name": "c", "image": "img"}], waiting_reason="PodInitializing")
    init[0].start(container_id="zenflow://9", now=T0)
    status = build_status(pod=_pod(), init=init, main=main, start_time=T0, now=T0)
    assert status["phase"] == "Pending"
    initialized = _conditions(status)["Initialized"]
    assert initialized["status"] == "False"
    assert initialized["message"] == "containers with incomplete status: [setup]"
    assert status["initContainerStatuses"][0]["ready"] is False
    assert status["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    init[0].finish(exit_code=0, message="", now=T1)
    status = build_status(pod=_pod(), init=init, main=main, start_time=T0, now=T1)
    assert status["initContainerStatuses"][0]["ready"] is True
    assert _conditions(status)["Initialized"]["status"] == "True"


def test_conditions_keep_transition_time_and_foreign_types() -> None:
    earlier = "2020-01-01T00:00:00Z"
    pod = _pod(
        conditions=[
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": earlier},
            {"type": "Ready", "status": "False", "lastTransitionTime": earlier},
            {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager"},
        ]
    )
    status = build_status(pod=pod, init=[], main=[_rec("running")], start_time=T0, now=T1)
    conditions = _conditions(status)
    assert conditions["PodScheduled"]["lastTransitionTime"] == earlier
    assert conditions["Ready"]["lastTransitionTime"] == rfc3339(T1)
    assert conditions["DisruptionTarget"]["reason"] == "DeletionByTaintManager"


def test_pod_level_reason_and_final_phase() -> None:
    status = build_status(
        pod=_pod(),
        init=[],
        main=[_rec("terminated", 137)],
        start_time=T0,
        now=T1,
        final=True,
        reason="DeadlineExceeded",
        message="Pod was active on the node longer than the specified deadline",
    )
    assert (status["phase"], status["reason"]) == ("Failed", "DeadlineExceeded")
    assert status["message"].startswith("Pod was active")


def test_started_sidecar_counts_as_initialized_and_never_decides_the_phase() -> None:
    init = new_records(
        [{"name": "proxy", "image": "p", "restartPolicy": "Always"}],
        waiting_reason="PodInitializing",
        init=True,
    )
    main = new_records([{"name": "c", "image": "img"}], waiting_reason="PodInitializing")
    assert init[0].sidecar
    status = build_status(pod=_pod(), init=init, main=main, start_time=T0, now=T0)
    assert status["phase"] == "Pending"
    init[0].start(container_id="zenflow://5", now=T0)
    main[0].start(container_id="zenflow://6", now=T0)
    status = build_status(pod=_pod(), init=init, main=main, start_time=T0, now=T0)
    assert status["phase"] == "Running"
    assert _conditions(status)["Initialized"]["status"] == "True"
    assert status["initContainerStatuses"][0]["ready"] is True
    main[0].finish(exit_code=0, message="", now=T1)
    init[0].finish(exit_code=143, message="", now=T1)
    final = build_status(pod=_pod(), init=init, main=main, start_time=T0, now=T1, final=True)
    assert final["phase"] == "Succeeded"
