"""Prometheus metrics of the JobFlow reconciler (the machinery already counts reconciles, their
duration and errors per controller). Labels are bounded: phases and outcomes, never flow or
step names."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from zenflow.api.status import FLOW_PHASES, JobFlowStatus
from zenflow.machinery.metrics import labelled

_STEP_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600)


class FlowMetrics:
    """Flows by phase, step durations and outcomes, Job creations, status writes."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.flows = Gauge(
            "zenflow_jobflows",
            "JobFlows known to the controller, by phase",
            ["phase"],
            registry=registry,
        )
        self.step_duration = Histogram(
            "zenflow_step_duration_seconds",
            "Duration of finished steps (first attempt start to finish), by outcome",
            ["phase"],
            buckets=_STEP_BUCKETS,
            registry=registry,
        )
        self.jobs_created = Counter(
            "zenflow_jobs_created_total", "Step Jobs created", registry=registry
        )
        self.status_writes = Counter(
            "zenflow_status_writes_total", "JobFlow status patches", registry=registry
        )
        self.flow_errors = Counter(
            "zenflow_reconcile_errors_total",
            "JobFlow reconcile errors, by kind",
            ["kind"],
            registry=registry,
        )
        self._phases: dict[str, str] = {}
        self._flows = labelled(self.flows)  # children by phase, looked up once
        self._step_duration = labelled(self.step_duration)
        for phase in FLOW_PHASES:
            self._flows(phase).set(0)

    def set_phase(self, uid: str, phase: str | None) -> None:
        """Record the phase of flow ``uid`` (None: the flow is gone)."""
        old = self._phases.pop(uid, None)
        if old is not None:
            self._flows(old).dec()
        if phase is not None:
            self._phases[uid] = phase
            self._flows(phase).inc()

    def observe_step_durations(self, old: JobFlowStatus | None, new: JobFlowStatus) -> None:
        """Observe the duration of each step that finished between ``old`` and ``new``."""
        before = {s.name: s.phase for s in (old.steps or [])} if old else {}
        for st in new.steps or []:
            if (
                st.phase in ("Succeeded", "Failed")
                and before.get(st.name) != st.phase
                and st.start_time is not None
                and st.completion_time is not None
            ):
                seconds = (st.completion_time - st.start_time).total_seconds()
                self._step_duration(st.phase).observe(max(seconds, 0.0))
