"""Pure construction of a Pod's status from the node agent's view of its containers (no I/O).

The agent keeps one :class:`ContainerRecord` per container (what the runtime would report) and
turns the records into the ``status`` the kubelet would write: phase (computed like the kubelet's
``getPhase``), conditions, IPs, start time and container statuses. Conditions the agent does not
own (e.g. ``DisruptionTarget`` written by a controller) are carried over unchanged, and a
condition keeps its ``lastTransitionTime`` while its status does not change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

HOST_IP: Final = "127.0.0.1"
IMAGE_ID_PREFIX: Final = "zenflow-local://"

REASON_COMPLETED: Final = "Completed"
REASON_ERROR: Final = "Error"
REASON_START_ERROR: Final = "StartError"
REASON_DEADLINE_EXCEEDED: Final = "DeadlineExceeded"
MESSAGE_DEADLINE_EXCEEDED: Final = "Pod was active on the node longer than the specified deadline"
# Exit code the runtime reports when a container could not be started at all.
START_ERROR_EXIT_CODE: Final = 128

# Condition types the agent writes; any other type on the pod belongs to someone else.
OWNED_CONDITIONS: Final = (
    "PodReadyToStartContainers",
    "Initialized",
    "Ready",
    "ContainersReady",
    "PodScheduled",
)

StateName = Literal["waiting", "running", "terminated"]


def rfc3339(moment: datetime) -> str:
    """Seconds-precision UTC timestamp, the format of metav1.Time."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Terminated:
    exit_code: int
    reason: str
    message: str
    started_at: datetime | None
    finished_at: datetime
    container_id: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "exitCode": self.exit_code,
            "reason": self.reason,
            "finishedAt": rfc3339(self.finished_at),
        }
        # startedAt is omitted for a container that never started, as the kubelet does.
        if self.started_at is not None:
            out["startedAt"] = rfc3339(self.started_at)
        if self.message:
            out["message"] = self.message
        if self.container_id:
            out["containerID"] = self.container_id
        return out


@dataclass
class ContainerRecord:
    """The runtime view of one container. Invariant: ``state == "terminated"`` iff
    ``terminated`` is set; ``state == "running"`` implies ``started_at`` is set. A ``sidecar``
    is an init container with restartPolicy Always: it runs beside the containers and counts as
    initialized once it has started."""

    name: str
    image: str
    sidecar: bool = False
    ever_started: bool = False
    state: StateName = "waiting"
    waiting_reason: str = "ContainerCreating"
    waiting_message: str = ""
    container_id: str = ""
    started_at: datetime | None = None
    terminated: Terminated | None = None
    restart_count: int = 0
    last_terminated: Terminated | None = None

    def start(self, *, container_id: str, now: datetime) -> None:
        self.state = "running"
        self.ever_started = True
        self.container_id = container_id
        self.started_at = now
        self.terminated = None

    def finish(self, *, exit_code: int, message: str, now: datetime, reason: str = "") -> None:
        self.state = "terminated"
        self.terminated = Terminated(
            exit_code=exit_code,
            reason=reason or (REASON_COMPLETED if exit_code == 0 else REASON_ERROR),
            message=message,
            started_at=self.started_at,
            finished_at=now,
            container_id=self.container_id,
        )

    def back_off(self, *, delay_s: float) -> None:
        """The container failed and will restart after ``delay_s``: it waits in
        CrashLoopBackOff with the failure as its last state, like the kubelet shows it."""
        assert self.terminated is not None
        self.last_terminated = self.terminated
        self.terminated = None
        self.state = "waiting"
        self.waiting_reason = "CrashLoopBackOff"
        self.waiting_message = f"back-off {delay_s:g}s restarting failed container={self.name}"
        self.restart_count += 1

    @property
    def succeeded(self) -> bool:
        return self.terminated is not None and self.terminated.exit_code == 0

    @property
    def initialized(self) -> bool:
        """For an init container: whether the containers after it may start."""
        return self.ever_started if self.sidecar else self.succeeded

    def to_json(self, *, init: bool) -> dict[str, Any]:
        state: dict[str, Any]
        if self.state == "running":
            assert self.started_at is not None
            state = {"running": {"startedAt": rfc3339(self.started_at)}}
        elif self.state == "terminated":
            assert self.terminated is not None
            state = {"terminated": self.terminated.to_json()}
        else:
            waiting = {"reason": self.waiting_reason}
            if self.waiting_message:
                waiting["message"] = self.waiting_message
            state = {"waiting": waiting}
        out: dict[str, Any] = {
            "name": self.name,
            "image": self.image,
            "imageID": IMAGE_ID_PREFIX + self.image,
            "ready": self.succeeded if init and not self.sidecar else self.state == "running",
            "started": self.state == "running",
            "restartCount": self.restart_count,
            "state": state,
            "lastState": (
                {"terminated": self.last_terminated.to_json()} if self.last_terminated else {}
            ),
        }
        if self.container_id:
            out["containerID"] = self.container_id
        return out


def new_records(
    containers: Sequence[Mapping[str, Any]], *, waiting_reason: str, init: bool = False
) -> list[ContainerRecord]:
    return [
        ContainerRecord(
            name=c["name"],
            image=c.get("image") or "none",
            waiting_reason=waiting_reason,
            sidecar=init and c.get("restartPolicy") == "Always",
        )
        for c in containers
    ]


def compute_phase(
    *,
    restart_policy: str,
    init: Sequence[ContainerRecord],
    main: Sequence[ContainerRecord],
    final: bool,
) -> str:
    """The pod phase, like the kubelet's getPhase. ``final`` means nothing will run or restart
    any more (the pod was stopped, or the agent gave up on it): then the pod is Succeeded when
    every container succeeded, else Failed. Sidecars never decide the phase."""
    if final:
        done = all(r.succeeded for r in init if not r.sidecar) and all(r.succeeded for r in main)
        return "Succeeded" if done else "Failed"
    for record in init:
        if record.sidecar:
            if not record.ever_started:
                return "Pending"
            continue
        if record.state == "terminated" and not record.succeeded and restart_policy == "Never":
            return "Failed"
        if not record.succeeded:
            return "Pending"
    running = waiting = stopped = succeeded = 0
    for record in main:
        if record.state == "running":
            running += 1
        elif record.state == "terminated":
            stopped += 1
            succeeded += record.succeeded
        elif record.last_terminated is not None:
            stopped += 1
        else:
            waiting += 1
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if stopped:
        if restart_policy == "Always":
            return "Running"
        if succeeded == stopped:
            return "Succeeded"
        if restart_policy == "OnFailure":
            return "Running"
        return "Failed"
    return "Pending"


def _condition(
    kind: str,
    ok: bool,
    *,
    previous: Mapping[str, Mapping[str, Any]],
    now: datetime,
    reason: str = "",
    message: str = "",
) -> dict[str, Any]:
    status = "True" if ok else "False"
    before = previous.get(kind)
    same = before is not None and before.get("status") == status
    transition = before.get("lastTransitionTime") if same and before else None
    out: dict[str, Any] = {
        "type": kind,
        "status": status,
        "lastTransitionTime": transition or rfc3339(now),
    }
    if not ok and reason:
        out["reason"] = reason
    if not ok and message:
        out["message"] = message
    return out


def build_status(
    *,
    pod: Mapping[str, Any],
    init: Sequence[ContainerRecord],
    main: Sequence[ContainerRecord],
    start_time: datetime,
    now: datetime,
    final: bool = False,
    reason: str = "",
    message: str = "",
) -> dict[str, Any]:
    """The full pod ``status`` to write (a JSON merge patch replaces its lists wholesale)."""
    spec = pod.get("spec", {})
    phase = compute_phase(
        restart_policy=spec.get("restartPolicy", "Always"), init=init, main=main, final=final
    )
    terminal = phase in ("Succeeded", "Failed")
    existing = (pod.get("status") or {}).get("conditions") or []
    previous = {c["type"]: c for c in existing}
    initialized = all(r.initialized for r in init)
    unready = [r.name for r in main if r.state != "running"]
    if terminal:
        ready_reason, ready_message = "PodCompleted", ""
    else:
        ready_reason = "ContainersNotReady"
        ready_message = f"containers with unready status: [{' '.join(unready)}]"
    if not initialized:
        pending = [r.name for r in init if not r.initialized]
        init_reason = "ContainersNotInitialized"
        init_message = f"containers with incomplete status: [{' '.join(pending)}]"
    else:
        init_reason = init_message = ""
    ready = not unready and not terminal
    conditions = [
        _condition("PodReadyToStartContainers", not terminal, previous=previous, now=now),
        _condition(
            "Initialized",
            initialized,
            previous=previous,
            now=now,
            reason=init_reason,
            message=init_message,
        ),
        _condition(
            "Ready", ready, previous=previous, now=now, reason=ready_reason, message=ready_message
        ),
        _condition(
            "ContainersReady",
            ready,
            previous=previous,
            now=now,
            reason=ready_reason,
            message=ready_message,
        ),
        _condition("PodScheduled", True, previous=previous, now=now),
    ]
    conditions += [c for c in existing if c.get("type") not in OWNED_CONDITIONS]
    status: dict[str, Any] = {
        "phase": phase,
        "conditions": conditions,
        "hostIP": HOST_IP,
        "hostIPs": [{"ip": HOST_IP}],
        "podIP": HOST_IP,
        "podIPs": [{"ip": HOST_IP}],
        "startTime": rfc3339(start_time),
        "containerStatuses": [r.to_json(init=False) for r in main],
    }
    if init:
        status["initContainerStatuses"] = [r.to_json(init=True) for r in init]
    if generation := pod.get("metadata", {}).get("generation"):
        status["observedGeneration"] = generation
    # reason/message are set only for a pod-level cause (e.g. DeadlineExceeded); null clears a
    # stale one in the merge patch.
    status["reason"] = reason or None
    status["message"] = message or None
    return status
