"""Tests of the API models (zenflow.api.jobflow, cronjobflow, status, common).

Aspects: camelCase wire names and snake_case Python names both accepted; dump is camelCase
without None; `finally` and matrix `from` aliases; unknown fields rejected; param values
stringified and the effective value rule; backoff delays per type and cap; Kubernetes timestamps;
every field carries a description; a 1,000-step status stays far below the object size limit;
every example parses.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from zenflow.api import common, cronjobflow, formats, jobflow, status, step
from zenflow.api.cronjobflow import CronJobFlow
from zenflow.api.flowtemplate import parse_template
from zenflow.api.jobflow import Backoff, JobFlow, JobFlowSpec, Matrix, Param, RunSpec, Step
from zenflow.api.limits import MAX_STEP_MESSAGE, MAX_STEPS
from zenflow.api.status import JobFlowStatus, StepStatus

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.yaml"))


def test_wire_and_python_names_round_trip() -> None:
    wire = {
        "apiVersion": "workflow.zen.io/v1alpha1",
        "kind": "JobFlow",
        "metadata": {"name": "f", "namespace": "ns", "uid": "u", "generation": 3},
        "spec": {
            "steps": [
                {
                    "name": "a",
                    "run": {"image": "busybox", "command": ["true"], "workingDir": "/"},
                    "retryPolicy": {"limit": 2, "backoff": {"type": "Linear", "maxDuration": "1m"}},
                    "continueOnFailure": True,
                    "matrix": {"from": {"k": "{{ steps.x.outputs.y }}"}, "maxParallel": 2},
                }
            ],
            "finally": [{"name": "z", "type": "Manual"}],
            "executionPolicy": {"ttlSecondsAfterFinished": 60, "failFast": False},
        },
    }
    flow = JobFlow.parse(wire)
    first = flow.spec.steps[0]
    assert first.retry_policy is not None
    assert first.retry_policy.backoff is not None
    assert first.retry_policy.backoff.max_duration == "1m"
    assert first.matrix is not None
    assert first.matrix.from_ == {"k": "{{ steps.x.outputs.y }}"}
    assert flow.spec.finally_[0].type == "Manual"
    assert flow.spec.execution_policy.fail_fast is False
    assert (flow.name, flow.namespace, flow.uid, flow.generation) == ("f", "ns", "u", 3)
    dumped = flow.dump()
    assert dumped["spec"]["finally"] == [
        {"name": "z", "type": "Manual", "dependencies": [], "continueOnFailure": False,
         "inputs": [], "outputs": [], "workspaces": [], "params": []}
    ]  # fmt: skip
    assert dumped["spec"]["steps"][0]["matrix"] == {
        "from": {"k": "{{ steps.x.outputs.y }}"},
        "maxParallel": 2,
        "failFast": True,
    }
    assert "status" not in dumped
    assert JobFlow.parse(dumped) == flow


def test_python_names_construct_models() -> None:
    spec = JobFlowSpec(
        steps=[Step(name="a", run=RunSpec(image="b"), continue_on_failure=True)],
        finally_=[Step(name="z", type="Manual")],
    )
    assert spec.dump()["steps"][0]["continueOnFailure"] is True
    assert [s.name for s in spec.all_steps()] == ["a", "z"]
    assert Matrix(from_={"k": "v"}).dump() == {"from": {"k": "v"}, "failFast": True}


@pytest.mark.parametrize(
    "model",
    [
        pytest.param(lambda: Step.parse({"name": "a", "dependecies": []}), id="step"),
        pytest.param(lambda: RunSpec.parse({"image": "b", "cmd": []}), id="run"),
        pytest.param(lambda: JobFlow.parse({"spec": {"steps": []}, "extra": 1}), id="top"),
    ],
)
def test_unknown_fields_are_rejected(model: object) -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        model()  # type: ignore[operator]


def test_job_templates_are_kept_verbatim() -> None:
    template = {"spec": {"template": {"spec": {"containers": [{"name": "m", "x": None}]}}}}
    step_model = Step.parse({"name": "a", "template": template})
    assert step_model.dump()["template"] == template


@pytest.mark.parametrize(
    ("param", "effective"),
    [
        pytest.param({"name": "p", "default": 3}, "3", id="int-default"),
        pytest.param({"name": "p", "default": 1.5, "value": True}, "true", id="bool-value"),
        pytest.param({"name": "p", "default": "a", "value": "b"}, "b", id="value-wins"),
        pytest.param({"name": "p"}, None, id="unset"),
    ],
)
def test_param_effective_value(param: dict[str, object], effective: str | None) -> None:
    assert Param.parse(param).effective == effective


def test_param_values_of_a_spec() -> None:
    spec = JobFlowSpec.parse(
        {"steps": [], "params": [{"name": "a", "default": "1"}, {"name": "b"}]}
    )
    assert spec.param_values() == {"a": "1"}


@pytest.mark.parametrize(
    ("backoff", "delays"),
    [
        pytest.param({"type": "Fixed", "duration": "10s"}, [10, 10, 10], id="fixed"),
        pytest.param({"type": "Linear", "duration": "5s"}, [5, 10, 15], id="linear"),
        pytest.param({"type": "Exponential", "duration": "1s"}, [1, 2, 4], id="exponential"),
        pytest.param(
            {"type": "Exponential", "duration": "1s", "factor": 3}, [1, 3, 9], id="factor"
        ),
        pytest.param(
            {"type": "Exponential", "duration": "10s", "maxDuration": "15s"},
            [10, 15, 15],
            id="capped",
        ),
        pytest.param({}, [10, 20, 40], id="defaults"),
    ],
)
def test_backoff_delays(backoff: dict[str, object], delays: list[float]) -> None:
    model = Backoff.parse(backoff)
    assert [model.delay_seconds(n) for n in (1, 2, 3)] == delays


def test_backoff_survives_huge_retry_numbers() -> None:
    assert Backoff(duration="1s", max_duration="1h").delay_seconds(10_000) == 3600


def test_times_dump_like_kubernetes() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=timezone(timedelta(hours=2)))
    dumped = StepStatus(name="a", phase="Running", start_time=when).dump()
    assert dumped == {"name": "a", "phase": "Running", "startTime": "2026-01-02T01:04:05Z"}
    parsed = StepStatus.parse(dumped)
    assert parsed.start_time == datetime(2026, 1, 2, 1, 4, 5, tzinfo=UTC)
    assert formats.format_time(datetime(2026, 1, 1)) == "2026-01-01T00:00:00Z"


def _models() -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    for module in (common, step, jobflow, status, cronjobflow):
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, common.ApiModel)
                and value is not common.ApiModel
            ):
                found.append(value)
    return found


@pytest.mark.parametrize("model", _models(), ids=lambda m: m.__name__)
def test_every_field_has_a_description(model: type[BaseModel]) -> None:
    assert model.__doc__
    missing = [name for name, info in model.model_fields.items() if not info.description]
    assert missing == []


def test_status_of_a_1000_step_flow_stays_compact() -> None:
    started = datetime(2026, 1, 1, tzinfo=UTC)
    steps = [
        StepStatus(
            name=f"step-with-a-long-descriptive-name-{i:04d}",
            phase="Failed",
            reason="BackoffLimitExceeded",
            message="x" * MAX_STEP_MESSAGE,
            start_time=started,
            completion_time=started,
            job_ref=f"some-flow-name-step-with-a-long-descriptive-name-{i:04d}-3",
            attempt=3,
            retry_count=2,
            outputs={"result": "y" * 64},
        )
        for i in range(MAX_STEPS)
    ]
    flow_status = JobFlowStatus(phase="Failed", progress="1000/1000", steps=steps)
    size = len(json.dumps(flow_status.dump()))
    assert size < 700 * 1024  # worst-typical: still under half of the 1.5 MiB limit


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_parses(path: Path) -> None:
    for doc in yaml.safe_load_all(path.read_text()):
        if doc["kind"] in ("JobFlowTemplate", "ClusterJobFlowTemplate"):
            assert parse_template(doc).dump()["kind"] == doc["kind"]
            continue
        model = CronJobFlow if doc["kind"] == "CronJobFlow" else JobFlow
        assert model.model_validate(doc).dump()["kind"] == doc["kind"]
