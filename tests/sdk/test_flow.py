"""The Flow builder: models, wire form, YAML, validation, Python tasks.

Aspects: each builder argument lands in the model field the YAML would set (run shorthand,
template, dependencies, when, inputs, outputs, matrix values and from, retries and backoff,
timeouts, gates, finally, env, execution policy, extra fields); misuse is refused at once naming
the step (duplicates, wrong shapes, command without image, max_parallel without matrix, a flow
without steps); ``to_dict`` omits defaults and round-trips through ``to_yaml``; ``validate``
reports what the shared validator finds and ``check`` raises with it; a Python task's generated
script runs its function with parameters from the environment and writes the returned dict as
the termination message."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from zenflow.api.jobflow import Backoff, JobFlow, RetryPolicy
from zenflow.sdk import Flow, FlowDefinitionError, FlowInvalidError, output
from zenflow.sdk.pytask import TERMINATION_LOG, task_command


def test_builder_fields_land_in_the_model() -> None:
    flow = Flow(
        "full",
        namespace="team-a",
        labels={"team": "a"},
        env={"REGION": "eu"},
        execution_policy={"parallelism": 2, "failFast": False},
    )
    env = flow.param("env", default="dev", enum=["dev", "prod"])
    build = flow.step(
        "build",
        image="busybox",
        script="echo building for {{ params.env }}",
        env={"TARGET": env},
        outputs=["version", output("digest", json_path="{.status.succeeded}")],
        retries=2,
        backoff="5s",
        timeout_seconds=60,
    )
    gate = flow.gate("approve", message="ship?", after=[build])
    flow.step(
        "deploy",
        image="busybox",
        command=["echo", f"deploy {build.outputs.version}"],
        after=[gate, "build"],
        when=env.eq("prod"),
        inputs={"DIGEST": build.outputs.digest},
        matrix={"region": ["us", "eu"], "zone": build.outputs.version},
        max_parallel=1,
        continue_on_failure=True,
        metadata={"labels": {"tier": "web"}},
    )
    flow.step(
        "raw",
        template={"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}}},
        retries=RetryPolicy(limit=1),
        backoff=Backoff(type="Fixed", duration="1s"),
    )
    flow.step("notify", image="busybox", command=["echo", "done"], final=True)

    model = flow.to_model()
    assert model.metadata == {"name": "full", "namespace": "team-a", "labels": {"team": "a"}}
    spec = model.spec
    assert spec.env == [{"name": "REGION", "value": "eu"}]
    assert spec.execution_policy.parallelism == 2
    assert spec.execution_policy.fail_fast is False
    assert spec.params[0].enum == ["dev", "prod"]
    b, g, d, r = spec.steps
    assert b.run is not None
    assert b.run.script == "echo building for {{ params.env }}"
    assert b.run.env == [{"name": "TARGET", "value": "{{ params.env }}"}]
    assert [o.name for o in b.outputs] == ["version", "digest"]
    assert b.outputs[1].value_from is not None
    assert b.outputs[1].value_from.json_path == "{.status.succeeded}"
    assert b.retry_policy == RetryPolicy(limit=2, backoff=Backoff(duration="5s"))
    assert b.timeout_seconds == 60
    assert (g.type, g.message, g.dependencies) == ("Manual", "ship?", ["build"])
    assert d.dependencies == ["approve", "build"]
    assert d.when == 'params.env == "prod"'
    assert d.inputs[0].value == "{{ steps.build.outputs.digest }}"
    assert d.matrix is not None
    assert d.matrix.values == {"region": ["us", "eu"]}
    assert d.matrix.from_ == {"zone": "{{ steps.build.outputs.version }}"}
    assert d.matrix.max_parallel == 1
    assert d.continue_on_failure is True
    assert d.metadata is not None
    assert d.metadata.labels == {"tier": "web"}
    assert r.template is not None
    assert r.retry_policy == RetryPolicy(limit=1, backoff=Backoff(type="Fixed", duration="1s"))
    assert [s.name for s in spec.finally_] == ["notify"]
    assert flow.validate().ok, flow.validate().summary()


def test_wire_form_is_compact_and_round_trips_through_yaml() -> None:
    flow = Flow("small")
    a = flow.step("a", image="busybox", command=["sh", "-c", "echo one\necho two"])
    flow.step("b", image="busybox", command=["true"], after=[a])
    doc = flow.to_dict()
    assert list(doc) == ["apiVersion", "kind", "metadata", "spec"]
    assert doc["spec"] == {
        "steps": [
            {
                "name": "a",
                "run": {"image": "busybox", "command": ["sh", "-c", "echo one\necho two"]},
            },
            {"name": "b", "dependencies": ["a"], "run": {"image": "busybox", "command": ["true"]}},
        ]
    }
    text = flow.to_yaml()
    assert "- |-\n        echo one\n        echo two\n" in text  # a literal block
    assert JobFlow.model_validate(yaml.safe_load(text)) == flow.to_model()


@pytest.mark.parametrize(
    ("build", "message"),
    [
        pytest.param(
            lambda f: [f.step("a", image="x"), f.step("a", image="y")],
            "step 'a' is declared twice",
            id="duplicate-step",
        ),
        pytest.param(
            lambda f: [f.param("p"), f.param("p")], "param 'p' is declared twice", id="dup-param"
        ),
        pytest.param(
            lambda f: f.step("a", command=["true"]),
            "step 'a': command, args, script and env need an image",
            id="command-without-image",
        ),
        pytest.param(
            lambda f: f.step("a", image="x", max_parallel=2),
            "step 'a': max_parallel needs a matrix",
            id="max-parallel-without-matrix",
        ),
        pytest.param(
            lambda f: f.step("a", image="x", timeout_seconds=0),
            "step 'a': timeoutSeconds: Input should be greater than or equal to 1",
            id="wrong-shape",
        ),
        pytest.param(
            lambda f: f.step("a", image="x", dependecies=["b"]),
            "step 'a': dependecies: Extra inputs are not permitted",
            id="unknown-field",
        ),
        pytest.param(lambda f: f.to_model(), "flow 'bad' has no steps", id="no-steps"),
    ],
)
def test_misuse_is_refused_naming_the_step(build: object, message: str) -> None:
    flow = Flow("bad")
    with pytest.raises(FlowDefinitionError) as err:
        build(flow)  # type: ignore[operator]
    assert message in str(err.value)


def test_a_flow_needs_a_name() -> None:
    with pytest.raises(FlowDefinitionError, match="needs a name or a generate_name"):
        Flow()
    assert Flow(generate_name="run-").name == "run-"


def test_validate_reports_and_check_raises() -> None:
    flow = Flow("cyclic")
    flow.step("a", image="x", command=["true"], after=["b"])
    flow.step("b", image="x", command=["true"], after=["a"], when="steps.nope.phase == 'x'")
    report = flow.validate()
    messages = [str(p) for p in report.errors]
    assert any("dependency cycle" in m for m in messages), messages
    assert any(m.startswith("spec.steps[1].when") for m in messages), messages
    with pytest.raises(FlowInvalidError) as err:
        flow.check()
    assert err.value.report == report
    assert "JobFlow 'cyclic' is invalid: " in str(err.value)


def test_python_task_runs_its_function(tmp_path: Path) -> None:
    flow = Flow("tasks")
    size = flow.param("size", default="3")

    @flow.task(inputs={"size": size, "label": "squares"}, outputs=["squares"])
    def make_squares(size: str, label: str) -> dict[str, object]:
        return {"squares": [i * i for i in range(int(size))], "label": label}

    step = flow.to_model().spec.steps[0]
    assert make_squares.name == "make-squares"
    assert step.run is not None
    assert step.run.command is not None
    assert step.run.command[:2] == ["python3", "-c"]
    assert [(i.name, i.value) for i in step.inputs] == [
        ("size", "{{ params.size }}"),
        ("label", "squares"),
    ]
    # Run the script as the node agent does: /dev/termination-log rewritten to a file of ours.
    log = tmp_path / "termination-log"
    script = step.run.command[2].replace(TERMINATION_LOG, str(log))
    env = {**os.environ, "size": "4", "label": "squares"}
    subprocess.run([sys.executable, "-c", script], env=env, check=True)
    assert json.loads(log.read_text()) == {"squares": [0, 1, 4, 9], "label": "squares"}
    assert flow.validate().ok


def test_python_task_refusals() -> None:
    flow = Flow("tasks")

    def needs_input(x: str) -> None:
        print(x)

    with pytest.raises(FlowDefinitionError, match=r"parameter\(s\) x of needs_input\(\)"):
        flow.task()(needs_input)

    def star(*args: str) -> None:
        print(args)

    with pytest.raises(FlowDefinitionError, match="may take only named parameters"):
        flow.task()(star)
    with pytest.raises(ValueError, match="is not a plain def function"):
        task_command(lambda: None, python="python3", inputs=[])
    with pytest.raises(ValueError, match="source of 'print' is unavailable"):
        task_command(print, python="python3", inputs=[])


def test_notifications_and_approval_policies() -> None:
    hook = {"urlFrom": {"secretKeyRef": {"name": "hooks", "key": "url"}}}
    flow = Flow("governed", notifications=[{"name": "ops", "events": ["Failed"], "slack": hook}])
    build = flow.step("build", image="busybox", command=["true"])
    flow.gate(
        "ship",
        after=[build],
        approval={"approvers": {"groups": ["release"]}, "required": 2, "timeoutSeconds": 600},
    )
    model = flow.to_model()
    assert [n.name for n in model.spec.notifications] == ["ops"]
    gate = model.spec.steps[1].approval
    assert gate is not None
    assert (gate.required, gate.timeout_seconds, gate.on_timeout) == (2, 600, "Fail")
    assert flow.to_dict()["spec"]["steps"][1]["approval"]["approvers"] == {"groups": ["release"]}
    assert flow.validate().ok
