"""Per-step decisions of one reconcile: derive each step's state from its Jobs, decide retries,
then walk the DAG in topological order starting what may start.

Gates on starting a step, in order: readiness (``readiness.decide_readiness``), fail-fast (a
regular step that failed without ``continueOnFailure`` stops new regular steps when
``failFast`` is true; they end Skipped, reason FailFast), ``spec.suspend`` (stay Pending),
``parallelism`` (stay Pending until a slot frees). Retries of a failed attempt go on under
fail-fast (they continue a step already started) but respect suspend and parallelism.
``finally`` steps are considered only once every regular step is terminal.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from zenflow.api.approvals import entries_of
from zenflow.api.formats import clip
from zenflow.api.jobflow import JobFlow, Step
from zenflow.api.reasons import REASON_FAIL_FAST, REASON_TEMPLATE_ERROR
from zenflow.api.status import JobFlowStatus, StepStatus, is_step_terminal
from zenflow.core.dag import Dag
from zenflow.core.observed import Observed
from zenflow.core.planning.approvals import gate_status
from zenflow.core.planning.artifacts import input_gate, settle
from zenflow.core.planning.derive import Derived, derive
from zenflow.core.planning.flowstatus import EventSpec
from zenflow.core.planning.jobspec import JobCreate, build_job, template_context
from zenflow.core.planning.jobwaits import create_held, create_wait_status, job_deleted_event
from zenflow.core.planning.matrix import MatrixGates, plan_matrix_step
from zenflow.core.planning.outputs import OutputBudget
from zenflow.core.planning.readiness import decide_readiness
from zenflow.core.planning.retry import decide_retry
from zenflow.core.planning.workspaces import ClaimGate
from zenflow.core.templating import TemplateError


class StatusBoard(dict[str, StepStatus]):
    """``name → StepStatus`` plus derived views (only ``__setitem__`` is used to write)."""

    def __init__(self) -> None:
        super().__init__()
        self.phases: dict[str, str] = {}
        self.outputs: dict[str, dict[str, str]] = {}
        self.when_steps: dict[str, dict[str, Any]] = {}
        self.failed: dict[str, None] = {}
        """Names of Failed steps, in the order they were recorded."""

    def __setitem__(self, name: str, status: StepStatus) -> None:
        super().__setitem__(name, status)
        self.phases[name] = status.phase
        if status.outputs:
            self.outputs[name] = dict(status.outputs)
        else:
            self.outputs.pop(name, None)
        self.when_steps[name] = {
            "phase": status.phase,
            "outputs": dict(status.outputs or {}),
            "retries": status.retry_count or 0,
        }
        if status.phase == "Failed":
            self.failed[name] = None
        else:
            self.failed.pop(name, None)


class StepPlanner:
    """Decides every step of one flow for one reconcile (``frozen``: derive only, start
    nothing — used when the flow is being stopped)."""

    def __init__(
        self,
        *,
        flow: JobFlow,
        observed: Observed,
        previous: JobFlowStatus,
        now: datetime,
        frozen: bool = False,
    ) -> None:
        self.flow = flow
        self.observed = observed
        self.now = now
        self.frozen = frozen
        self.previous = {s.name: s for s in previous.steps or []}
        self.regular = flow.spec.steps
        self.final = flow.spec.finally_
        self.by_name: dict[str, Step] = {s.name: s for s in flow.spec.all_steps()}
        self.statuses = StatusBoard()
        self.creates: list[JobCreate] = []
        self.requeue_after: float | None = None
        self._cof = {s.name: s.continue_on_failure for s in flow.spec.all_steps()}
        self._params = flow.spec.param_values()
        self._flow_vars = {"name": flow.name, "namespace": flow.namespace, "uid": flow.uid}
        self._running = 0
        self._retries = 0
        self._known_failures: list[str] = []
        self.events: list[EventSpec] = []
        """Events of this reconcile that no status transition tells (a deleted Job)."""
        self._outputs = OutputBudget(previous.steps or [])
        self._decisions = entries_of({"metadata": flow.metadata})
        self.run_start = previous.start_time or now
        self._claims = ClaimGate(flow, running=())

    # -- results ---------------------------------------------------------------------------

    def ordered_statuses(self) -> list[StepStatus]:
        """Step statuses in spec order (steps, then finally)."""
        return [
            self.statuses.get(s.name) or StepStatus(name=s.name, phase="Pending")
            for s in self.flow.spec.all_steps()
        ]

    def all_terminal(self) -> bool:
        return all(is_step_terminal(st.phase) for st in self.ordered_statuses())

    def failed_steps(self) -> list[StepStatus]:
        """Steps that failed without continueOnFailure (they fail the flow), in spec order."""
        return [
            st
            for st in self.ordered_statuses()
            if st.phase == "Failed" and not self._cof.get(st.name, False)
        ]

    # -- the walk --------------------------------------------------------------------------

    def run(self) -> None:
        derived = {s.name: self._derive(s) for s in self.flow.spec.all_steps()}
        for name, d in derived.items():
            if d.deleted is not None:
                self.events.append(job_deleted_event(name, d.deleted, d.attempt))
        self._retries = sum(
            (d.status.retry_count or 0) for d in derived.values() if d.status is not None
        )
        self._running = sum(1 for d in derived.values() if d.kind == "running")
        self._claims = ClaimGate(self.flow, running=_holding(derived))
        for step in self.flow.spec.all_steps():
            d = derived[step.name]
            if d.kind == "failed_attempt":
                derived[step.name] = self._decide_retry(step, d)
        # Failures known from the Jobs already stop new steps anywhere in the DAG (fail-fast),
        # not only those after the failed step in the walk.
        self._known_failures = [
            s.name
            for s in self.regular
            if derived[s.name].kind == "kept"
            and derived[s.name].status is not None
            and derived[s.name].status.phase == "Failed"  # type: ignore[union-attr]
            and not s.continue_on_failure
        ]
        for step in _topological(self.regular):
            self._decide(step, derived[step.name], finally_step=False)
        regular_done = all(is_step_terminal(self.statuses[s.name].phase) for s in self.regular)
        for step in _topological(self.final):
            d = derived[step.name]
            if regular_done:
                self._decide(step, d, finally_step=True)
            elif d.kind == "new":
                self.statuses[step.name] = self._pending(step, d.status, None)
            else:
                assert d.status is not None
                self.statuses[step.name] = d.status

    def _derive(self, step: Step) -> Derived:
        if step.matrix is not None:
            # Shards are derived by ``matrix`` when the step is decided.
            prev = self.previous.get(step.name)
            if prev is not None and is_step_terminal(prev.phase):
                return Derived("kept", prev)
            return Derived("new", prev)
        outputs, output_error = self._outputs.admit(step.name, self.observed.outputs.get(step.name))
        derived = derive(
            step=step,
            previous=self.previous.get(step.name),
            jobs=self.observed.jobs.get(step.name, ()),
            outputs=outputs,
            output_error=output_error or self.observed.output_errors.get(step.name),
            create_conflict=self.observed.create_conflicts.get(step.name),
            now=self.now,
            vanished=self.observed.vanished,
        )
        return settle(
            step,
            derived,
            report=self.observed.artifacts.get(step.name),
            previous=self.previous.get(step.name),
        )

    def _decide_retry(self, step: Step, d: Derived) -> Derived:
        """A failed attempt either ends the step (Failed) or schedules the next attempt."""
        assert d.status is not None
        assert d.job is not None
        if d.status.phase == "Retrying" and d.status.next_retry_time is not None:
            # Decided in an earlier reconcile; the failed Job is gone since: the schedule stands.
            self._retries += 1
            return Derived("failed_attempt", d.status, job=d.job, attempt=d.attempt + 1)
        decision = decide_retry(
            step=step,
            retry_count=d.job.retry_count,
            failed_at=d.status.completion_time or self.now,
            flow_retries=self._retries,
            backoff_limit=self.flow.spec.execution_policy.backoff_limit,
        )
        if not decision.retry:
            status = d.status
            if decision.reason == "BackoffLimitExceeded":
                status = status.model_copy(
                    update={
                        "reason": "BackoffLimitExceeded",
                        "message": clip(
                            f"executionPolicy.backoffLimit reached; last attempt: "
                            f"{d.status.reason}: {d.status.message or ''}".rstrip(": ")
                        ),
                    }
                )
            return Derived("kept", status, job=d.job, attempt=d.attempt)
        self._retries += 1
        assert decision.at is not None
        status = d.status.model_copy(
            update={
                "phase": "Retrying",
                "completion_time": None,
                "next_retry_time": decision.at,
            }
        )
        return Derived("failed_attempt", status, job=d.job, attempt=d.attempt + 1)

    def _decide(self, step: Step, d: Derived, *, finally_step: bool) -> None:
        name = step.name
        stopping = not finally_step and self._fail_fast_blocker() is not None
        if d.kind == "kept" and d.status is not None and d.status.phase == "Waiting":
            if self.frozen:
                self.statuses[name] = d.status
            elif stopping:
                self.statuses[name] = self._fail_fast_skip(step, d.status)
            else:
                self.statuses[name] = self._manual(step, d.status)
            return
        if d.kind in ("running", "succeeded", "kept"):
            assert d.status is not None
            self.statuses[name] = d.status
            return
        if d.kind == "failed_attempt":
            self._retry(step, d)
            return
        # kind "new": not started (or its Job is not in the cache yet).
        prev = d.status
        if step.matrix is not None and prev is not None and prev.shards is not None:
            self._matrix(step, prev, stopping=stopping)
            return
        if prev is not None and prev.phase in ("Running", "Retrying"):
            if self.frozen:
                self.statuses[name] = prev
            else:
                # The status already counts on this Job: re-issue the create (AlreadyExists is
                # adopted when the Job is ours).
                self._start(step, attempt=d.attempt, retry_count=prev.retry_count or 0, prev=prev)
            return
        readiness = decide_readiness(
            step=step,
            statuses=self.statuses,
            continue_on_failure=self._cof,
            params=self._params,
            flow=self._flow_vars,
            when_steps=self.statuses.when_steps,
        )
        if readiness.verdict == "wait" or self.frozen:
            self.statuses[name] = self._pending(step, prev, None)
            return
        if readiness.verdict in ("skip", "error"):
            self.statuses[name] = StepStatus(
                name=name,
                phase="Skipped" if readiness.verdict == "skip" else "Failed",
                reason=readiness.reason,
                message=clip(readiness.message),
                completion_time=self.now,
                attempt=prev.attempt if prev is not None else None,
            )
            return
        unavailable = input_gate(step, self.statuses)
        if unavailable is not None:
            self.statuses[name] = StepStatus(
                name=name,
                phase="Skipped",
                reason=unavailable[0],
                message=clip(unavailable[1]),
                completion_time=self.now,
                attempt=prev.attempt if prev is not None else None,
            )
            return
        if stopping:
            self.statuses[name] = self._fail_fast_skip(step, prev)
            return
        if step.type == "Manual":
            self.statuses[name] = self._manual(step, prev)
            return
        if self.flow.spec.suspend:
            self.statuses[name] = self._pending(step, prev, "held: spec.suspend is true")
            return
        blocked = self._claims.blocker(name)
        if blocked is not None:
            self.statuses[name] = self._pending(step, prev, blocked)
            return
        if step.matrix is not None:
            self._matrix(step, prev, stopping=stopping)
            return
        if not self._slot_free():
            self.statuses[name] = self._pending(step, prev, "waiting for a parallelism slot")
            return
        if prev is not None and create_held(prev, self.now):
            assert prev.next_retry_time is not None
            self.statuses[name] = prev
            self._wake_in((prev.next_retry_time - self.now).total_seconds())
            return
        self._start(step, attempt=d.attempt, retry_count=0, prev=prev)

    def _fail_fast_blocker(self) -> str | None:
        """The first regular step whose failure stops new regular steps, if failFast.

        Only failures of the current run count: a failure that finished before the flow's
        ``startTime`` was left over by a ``retry-step`` that did not re-run that step."""
        if not self.flow.spec.execution_policy.fail_fast:
            return None
        for name in self._known_failures:
            if self._current(self.previous.get(name)):
                return name
        for name in self.statuses.failed:
            st = self.statuses[name]
            if not self._cof.get(name, False) and self._current(st):
                return name
        return None

    def _current(self, st: StepStatus | None) -> bool:
        if st is None or st.completion_time is None or self.run_start is None:
            return True
        return st.completion_time >= self.run_start

    def _fail_fast_skip(self, step: Step, prev: StepStatus | None) -> StepStatus:
        return StepStatus(
            name=step.name,
            phase="Skipped",
            reason=REASON_FAIL_FAST,
            message=clip(f'not started: step "{self._fail_fast_blocker()}" failed (failFast)'),
            completion_time=self.now,
            attempt=prev.attempt if prev is not None else None,
        )

    def _retry(self, step: Step, d: Derived) -> None:
        assert d.status is not None
        assert d.status.next_retry_time is not None
        due = d.status.next_retry_time
        blocked = self._claims.blocker(step.name) is not None
        if (
            self.frozen
            or self.flow.spec.suspend
            or due > self.now
            or not self._slot_free()
            or blocked
        ):
            self.statuses[step.name] = d.status
            if due > self.now and not self.frozen and not self.flow.spec.suspend:
                self._wake_in((due - self.now).total_seconds())
            return
        retry_count = (d.job.retry_count if d.job else 0) + 1
        self._start(step, attempt=d.attempt, retry_count=retry_count, prev=d.status)

    def _start(
        self, step: Step, *, attempt: int, retry_count: int, prev: StepStatus | None
    ) -> None:
        context = template_context(
            flow=self.flow,
            step=step,
            attempt=attempt,
            outputs=self.statuses.outputs,
            phases=self.statuses.phases,
        )
        try:
            manifest = build_job(
                flow=self.flow,
                step=step,
                attempt=attempt,
                retry_count=retry_count,
                context=context,
            )
        except TemplateError as exc:
            self.statuses[step.name] = StepStatus(
                name=step.name,
                phase="Failed",
                reason=REASON_TEMPLATE_ERROR,
                message=clip(str(exc)),
                completion_time=self.now,
                attempt=attempt,
            )
            return
        start = prev.start_time if prev is not None and prev.start_time else self.now
        refused = self.observed.create_waits.get(manifest["metadata"]["name"])
        if refused is not None:
            waiting = create_wait_status(
                step=step.name,
                prev=prev,
                job=manifest["metadata"]["name"],
                refused=refused,
                attempt=attempt,
                since=start,
                now=self.now,
            )
            self.statuses[step.name] = waiting
            assert waiting.next_retry_time is not None
            self._wake_in((waiting.next_retry_time - self.now).total_seconds())
            return
        self.creates.append(JobCreate(step=step.name, attempt=attempt, manifest=manifest))
        self._running += 1
        self._claims.hold(step.name)
        self.statuses[step.name] = StepStatus(
            name=step.name,
            phase="Running",
            start_time=start,
            job_ref=manifest["metadata"]["name"],
            attempt=attempt,
            retry_count=retry_count or None,
        )

    def _matrix(self, step: Step, prev: StepStatus | None, *, stopping: bool) -> None:
        if self.frozen:
            self.statuses[step.name] = prev or StepStatus(name=step.name, phase="Pending")
            return
        outcome = plan_matrix_step(
            flow=self.flow,
            step=step,
            prev=prev,
            outputs=self.statuses.outputs,
            phases=self.statuses.phases,
            jobs=self.observed.jobs.get(step.name, ()),
            gates=MatrixGates(
                may_start=not self.flow.spec.suspend and not stopping,
                slot=self._take_slot,
                retry_budget=lambda: (
                    self._retries,
                    self.flow.spec.execution_policy.backoff_limit,
                ),
                use_retry=self._use_retry,
            ),
            now=self.now,
            create_waits=self.observed.create_waits,
            vanished=self.observed.vanished,
        )
        self.events.extend(outcome.events)
        self.statuses[step.name] = outcome.status
        if outcome.status.phase == "Running":
            self._claims.hold(step.name)
        self.creates.extend(outcome.creates)
        if outcome.requeue_after is not None:
            self._wake_in(outcome.requeue_after)

    def _take_slot(self) -> bool:
        if not self._slot_free():
            return False
        self._running += 1
        return True

    def _use_retry(self) -> None:
        self._retries += 1

    def _manual(self, step: Step, prev: StepStatus | None) -> StepStatus:
        gate = gate_status(
            step=step,
            prev=prev,
            annotations=self.flow.metadata.get("annotations") or {},
            entries=self._decisions,
            now=self.now,
        )
        if gate.wake_in is not None:
            self._wake_in(gate.wake_in)
        return gate.status

    def _pending(self, step: Step, prev: StepStatus | None, message: str | None) -> StepStatus:
        if prev is not None and prev.phase == "Pending" and prev.message == message:
            return prev
        return StepStatus(
            name=step.name,
            phase="Pending",
            message=message,
            attempt=prev.attempt if prev is not None else None,
        )

    def _slot_free(self) -> bool:
        cap = self.flow.spec.execution_policy.parallelism
        return cap is None or self._running < cap

    def _wake_in(self, seconds: float) -> None:
        if self.requeue_after is None or seconds < self.requeue_after:
            self.requeue_after = max(seconds, 0.0)


def _holding(derived: dict[str, Derived]) -> list[str]:
    """Steps running when the reconcile starts (they hold the claims they write)."""
    return [
        name
        for name, d in derived.items()
        if d.kind == "running"
        or (d.kind == "new" and d.status is not None and d.status.phase == "Running")
    ]


def _topological(steps: list[Step]) -> list[Step]:
    """``steps`` in a topological order of their dependencies among themselves (spec order
    among independent ones). Dependencies outside ``steps`` are ignored."""
    names = {s.name for s in steps}
    dag = Dag.from_edges(
        [s.name for s in steps], {s.name: [d for d in s.dependencies if d in names] for s in steps}
    )
    by_name = {s.name: s for s in steps}
    return [by_name[n] for n in dag.topological_order()]
