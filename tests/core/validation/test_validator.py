"""Tests of the shared validator's semantic checks (zenflow.core.validation.validator).

Aspects: valid flows produce no errors; each kind of semantic error is reported with its field
path (names, duplicates, dependencies, cycles, Job templates, Manual/Job rules, durations,
matrix, params, `when`, `{{ }}` references and whether the referenced step surely finished,
resource templates, size limits, cron/time zone, metadata); warnings are separate from errors;
every problem is returned at once; report helpers.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.core.planning.flows import cron, flow, job, template
from zenflow.api.jobflow import JobFlowSpec
from zenflow.api.limits import MAX_STEPS
from zenflow.core.validation.validator import (
    Problem,
    ValidationReport,
    validate_object,
    validate_spec,
)


def errors_of(obj: dict[str, Any]) -> list[str]:
    return [str(p) for p in validate_object(obj).errors]


def warnings_of(obj: dict[str, Any]) -> list[str]:
    return [str(p) for p in validate_object(obj).warnings]


def test_a_valid_flow_has_no_problems() -> None:
    report = validate_object(
        flow(
            job("extract"),
            job("transform", "extract", outputs=[{"name": "rows"}]),
            job(
                "load",
                "transform",
                when='steps.transform.outputs.rows != "0"',
                run={"image": "busybox", "command": ["echo", "{{ steps.transform.outputs.rows }}"]},
            ),
            finally_=[job("cleanup", run={"image": "b", "script": "echo {{ steps.load.phase }}"})],
        )
    )
    assert report.ok
    assert report.errors == ()
    assert report.warnings == ()


CASES = [
    pytest.param(
        flow(job("a"), job("a")),
        'spec.steps[1].name: duplicate step name "a" (also spec.steps[0].name)',
        id="duplicate-name",
    ),
    pytest.param(
        flow(job("a"), finally_=[job("a")]),
        'spec.finally[0].name: duplicate step name "a" (also spec.steps[0].name)',
        id="duplicate-across-finally",
    ),
    pytest.param(flow(job("Bad_Name")), "spec.steps[0].name: invalid step name", id="bad-name"),
    pytest.param(
        flow(job("a"), job("")),
        "spec.steps[1].name: invalid step name '': must not be empty",
        id="empty-name",
    ),
    pytest.param(
        flow(job("a"), finally_=[job("z-")]),
        "spec.finally[0].name: invalid step name 'z-'",
        id="bad-finally-name",
    ),
    pytest.param(flow(job("x" * 41)), "must be at most 40 characters (has 41)", id="name-too-long"),
    pytest.param(
        flow(job("transform"), job("load", "trasnform")),
        'spec.steps[1].dependencies[0]: unknown step "trasnform" (did you mean "transform"?)',
        id="unknown-dependency",
    ),
    pytest.param(
        flow(job("a", "a")),
        'spec.steps[0].dependencies[0]: step "a" cannot depend on itself',
        id="self-dependency",
    ),
    pytest.param(
        flow(job("a", "c"), job("b", "a"), job("c", "b")),
        "spec.steps[0].dependencies: dependency cycle: a -> b -> c -> a",
        id="cycle",
    ),
    pytest.param(
        flow(job("a", "cleanup"), finally_=[job("cleanup")]),
        'spec.steps[0].dependencies[0]: a step cannot depend on the finally step "cleanup"',
        id="step-on-finally",
    ),
    pytest.param(
        flow(job("a"), finally_=[job("cleanup", "a")]),
        "spec.finally[0].dependencies[0]: finally steps run after every step",
        id="finally-on-step",
    ),
    pytest.param(
        flow(job("a", run=None, template=template(containers=[]))),
        "spec.steps[0].template.spec.template.spec.containers: must be a non-empty list",
        id="no-containers",
    ),
    pytest.param(
        flow(job("a", run=None, template={"spec": {"template": {"spec": {}}}})),
        "spec.steps[0].template.spec.template.spec.containers: a Job needs at least one container",
        id="containers-missing",
    ),
    pytest.param(
        flow(job("a", run=None, template=template(restartPolicy="Always"))),
        'restartPolicy: a Job allows only "Never" or "OnFailure", got \'Always\'',
        id="restart-policy",
    ),
    pytest.param(
        flow(job("a", run=None, template={"spec": "oops"})),
        "spec.steps[0].template.spec: must be an object",
        id="template-spec-not-object",
    ),
    pytest.param(
        flow(job("a", run=None, template={"apiVersion": "v1", "kind": "Pod", "spec": {}})),
        'spec.steps[0].template.apiVersion: must be "batch/v1" when set',
        id="template-wrong-kind",
    ),
    pytest.param(
        flow(
            job(
                "a",
                run=None,
                template=template(containers=[{"name": "m", "image": "b", "command": "echo"}]),
            )
        ),
        "containers[0].command: must be a list of strings",
        id="command-not-list",
    ),
    pytest.param(
        flow(job("a", run=None, template=template(containers=[{"name": "m"}]))),
        "containers[0].image: required: the container image",
        id="no-image",
    ),
    pytest.param(
        flow(
            job(
                "a",
                run=None,
                template={"spec": {"template": {"spec": {}}}, "x": 1}
                | {"spec": {"backoffLimit": -1, "template": template()["spec"]["template"]}},
            )
        ),
        "spec.steps[0].template.spec.backoffLimit: must be >= 0, got -1",
        id="job-negative",
    ),
    pytest.param(
        flow(job("gate", type="Manual", run=None, template=template())),
        "spec.steps[0].template: a Manual step runs nothing: remove it",
        id="manual-with-template",
    ),
    pytest.param(
        flow(job("a", run=None)),
        "spec.steps[0]: a Job step needs either template or run",
        id="neither-template-nor-run",
    ),
    pytest.param(
        flow(job("a", template=template())),
        "spec.steps[0].run: set either template or run, not both",
        id="template-and-run",
    ),
    pytest.param(
        flow(job("a", run={"image": "b", "command": ["x"], "script": "y"})),
        "spec.steps[0].run.script: set either command or script, not both",
        id="command-and-script",
    ),
    pytest.param(
        flow(job("a", retryPolicy={"limit": 2, "backoff": {"duration": "10 seconds"}})),
        "spec.steps[0].retryPolicy.backoff.duration: invalid duration '10 seconds'",
        id="bad-duration",
    ),
    pytest.param(
        flow(job("a", when="steps.a.phase ==")),
        "spec.steps[0].when: does not compile",
        id="when-syntax",
    ),
    pytest.param(
        flow(job("a"), job("b", "a", when='steps.deploy.phase == "Failed"')),
        'spec.steps[1].when: steps.deploy: unknown step "deploy"',
        id="when-unknown-step",
    ),
    pytest.param(
        flow(job("a"), job("b", when='steps.a.phase == "Failed"')),
        'step "a" is not guaranteed to finish before "b"',
        id="when-not-ancestor",
    ),
    pytest.param(
        flow(job("a", when="env == 1")),
        "spec.steps[0].when: unknown variable 'env': use params, steps or flow",
        id="when-unknown-variable",
    ),
    pytest.param(
        flow(job("a", when='flow.name.lowerAscii() == "x"')),
        "spec.steps[0].when: unknown function 'lowerAscii'",
        id="when-unknown-function",
    ),
    pytest.param(
        flow(job("a"), job("b", "a", when="steps.a.status == 1")),
        "steps.a has no field 'status' (phase, outputs, retries)",
        id="when-unknown-field",
    ),
    pytest.param(
        flow(job("a", run={"image": "b", "command": ["echo", "{{ params.region }}"]})),
        "spec.steps[0].run.command[1]: {{ params.region }}: unknown param 'region'",
        id="unknown-param-ref",
    ),
    pytest.param(
        flow(job("a"), job("b", "a", inputs=[{"name": "X", "value": "{{ steps.a.outputs.y }}"}])),
        'spec.steps[1].inputs[0].value: {{ steps.a.outputs.y }}: step "a" declares no output'
        " 'y' (declared: none)",
        id="unknown-output-ref",
    ),
    pytest.param(
        flow(job("a", run={"image": "b", "command": ["{{ steps.zz.outputs.y }}"]})),
        'spec.steps[0].run.command[0]: {{ steps.zz.outputs.y }}: unknown step "zz"',
        id="unknown-step-ref",
    ),
    pytest.param(
        flow(job("a", run={"image": "b", "command": ["{{ matrix.k }}"]})),
        "no matrix key 'k' in a step without a matrix",
        id="matrix-ref-without-matrix",
    ),
    pytest.param(
        flow(job("a", run={"image": "b", "command": ["{{ params.a.b }}"]})),
        "spec.steps[0].run.command[0]: '{{ params.a.b }}': expected params.NAME",
        id="malformed-ref",
    ),
    pytest.param(
        flow(job("a", outputs=[{"name": "1st"}])),
        "spec.steps[0].outputs[0].name: invalid output name '1st'",
        id="output-name",
    ),
    pytest.param(
        flow(job("a", outputs=[{"name": "x"}, {"name": "x"}])),
        "spec.steps[0].outputs[1].name: duplicate output name 'x'",
        id="duplicate-output",
    ),
    pytest.param(
        flow(
            job(
                "a",
                outputs=[
                    {
                        "name": "x",
                        "valueFrom": {"terminationMessage": {}, "jsonPath": "{.status}"},
                    }
                ],
            )
        ),
        "spec.steps[0].outputs[0].valueFrom: set exactly one of terminationMessage or jsonPath",
        id="output-two-sources",
    ),
    pytest.param(
        flow(job("a", inputs=[{"name": "MY-VAR", "value": "x"}])),
        "spec.steps[0].inputs[0].name: invalid input name 'MY-VAR'",
        id="input-name",
    ),
    pytest.param(
        flow(job("a", matrix={"values": {}})),
        "spec.steps[0].matrix: a matrix needs at least one key",
        id="matrix-empty",
    ),
    pytest.param(
        flow(job("a", matrix={"values": {"k": []}})),
        "spec.steps[0].matrix.values.k: must list at least one value",
        id="matrix-no-values",
    ),
    pytest.param(
        flow(job("a", matrix={"values": {"a": list(range(20)), "b": list(range(20))}})),
        "expands to 400 Jobs; at most 256 are allowed",
        id="matrix-too-big",
    ),
    pytest.param(
        flow(job("a"), job("b", "a", matrix={"from": {"k": "{{ steps.a.phase }}"}})),
        "spec.steps[1].matrix.from.k: must be exactly one output reference",
        id="matrix-from-not-output",
    ),
    pytest.param(
        flow(job("map", matrix={"values": {"k": [1]}}), job("map-1")),
        'spec.steps[1].name: "map-1" clashes with the Job names of matrix step "map"',
        id="shard-name-clash",
    ),
    pytest.param(
        flow(job("a"), params=[{"name": "x", "required": True}]),
        'spec.params[0]: param "x" is required: set value or default',
        id="required-param",
    ),
    pytest.param(
        flow(job("a"), params=[{"name": "mode", "default": "fast", "enum": ["batch"]}]),
        "spec.params[0].default: 'fast' is not one of ['batch']",
        id="param-enum",
    ),
    pytest.param(
        flow(job("a"), params=[{"name": "my-param", "default": "1"}]),
        "spec.params[0].name: invalid param name 'my-param'",
        id="param-name",
    ),
    pytest.param(
        flow(
            job("a"),
            resourceTemplates={"volumeClaimTemplates": [{"metadata": {"name": "Data"}}]},
        ),
        "spec.resourceTemplates.volumeClaimTemplates[0].metadata.name: must be a DNS-1123",
        id="pvc-name",
    ),
    pytest.param(
        flow(job("a"), resourceTemplates={"configMapTemplates": [{"data": {"k": 1}}]}),
        "spec.resourceTemplates.configMapTemplates[0].metadata.name: required",
        id="configmap-no-name",
    ),
    pytest.param(
        flow(
            job("a", run=None, template=template(restartPolicy="OnFailure")),
            executionPolicy={"podFailurePolicy": {"rules": []}},
        ),
        'restartPolicy: must be "Never" when a podFailurePolicy applies',
        id="pod-failure-policy-restart",
    ),
    pytest.param(flow(), "spec.steps: at least one step is required", id="no-steps"),
    pytest.param(
        flow(*(job(f"s{i}") for i in range(2))) | {"metadata": {"name": "Bad"}},
        "metadata.name: must be a DNS-1123 subdomain",
        id="metadata-name",
    ),
    pytest.param(cron("61 * * * *"), "spec.schedule: invalid cron schedule", id="cron-range"),
    pytest.param(cron("every day"), 'expected 5 fields "MIN HOUR DOM MON DOW"', id="cron-text"),
    pytest.param(
        cron(timeZone="Mars/Olympus"),
        "spec.timeZone: unknown time zone 'Mars/Olympus'",
        id="time-zone",
    ),
    pytest.param(
        cron() | {"metadata": {"name": "x" * 53}},
        "metadata.name: must be at most 52 characters",
        id="cron-name-length",
    ),
    pytest.param(
        cron(jobFlowTemplate={"spec": {"steps": [job("a", "b")]}}),
        'spec.jobFlowTemplate.spec.steps[0].dependencies[0]: unknown step "b"',
        id="cron-template-checked",
    ),
]


@pytest.mark.parametrize(("obj", "expected"), CASES)
def test_semantic_errors_name_the_field(obj: dict[str, Any], expected: str) -> None:
    found = errors_of(obj)
    assert any(expected in e for e in found), found


WARNING_CASES = [
    pytest.param(
        flow(job("a"), params=[{"name": "unused", "default": "1"}]),
        'spec.params[0]: param "unused" is never used',
        id="unused-param",
    ),
    pytest.param(
        flow(job("gate", type="Manual", run=None, retryPolicy={"limit": 1})),
        "spec.steps[0].retryPolicy: has no effect on a Manual step",
        id="manual-retry",
    ),
    pytest.param(
        flow(job("a", retryPolicy={"limit": 0, "backoff": {"duration": "1s"}})),
        "spec.steps[0].retryPolicy.limit: is 0, so the backoff is never used",
        id="retry-zero",
    ),
    pytest.param(
        flow(job("a", retryPolicy={"limit": 1, "backoff": {"type": "Fixed", "factor": 3}})),
        "spec.steps[0].retryPolicy.backoff.factor: is only used by Exponential backoff",
        id="factor-unused",
    ),
    pytest.param(
        flow(job("a"), job("b", "a", "a")),
        'spec.steps[1].dependencies[1]: "a" is listed twice',
        id="duplicate-dependency",
    ),
    pytest.param(
        flow(job("a", run=None, template={"metadata": {"name": "x"}} | template())),
        "spec.steps[0].template.metadata.name: is ignored",
        id="template-name-ignored",
    ),
]


@pytest.mark.parametrize(("obj", "expected"), WARNING_CASES)
def test_warnings_are_separate_from_errors(obj: dict[str, Any], expected: str) -> None:
    report = validate_object(obj)
    assert report.ok, report.errors
    assert any(expected in str(w) for w in report.warnings), report.warnings


def test_every_problem_is_reported_at_once() -> None:
    found = errors_of(
        flow(
            job("a", "ghost"),
            job("a"),
            job("b", run=None),
            job("c", when="("),
        )
    )
    assert len(found) >= 4
    assert any("unknown step" in e for e in found)
    assert any("duplicate step name" in e for e in found)
    assert any("needs either template or run" in e for e in found)
    assert any("does not compile" in e for e in found)


def test_graph_problems_are_reported_even_when_the_structure_is_invalid() -> None:
    obj = flow(job("a", "ghost", retryPolicy={"limit": -1}), job("b", "b"))
    found = errors_of(obj)
    assert "spec.steps[0].retryPolicy.limit: must be >= 0, got -1" in found
    assert 'spec.steps[0].dependencies[0]: unknown step "ghost"' in found
    assert 'spec.steps[1].dependencies[0]: step "b" cannot depend on itself' in found


def test_too_many_steps_and_too_large_spec() -> None:
    steps = [job(f"s{i}") for i in range(MAX_STEPS + 1)]
    assert any("spec.steps: must have at most 1000 items" in e for e in errors_of(flow(*steps)))
    big = "x" * 4000
    steps = [job(f"s{i}", run={"image": "b", "script": big}) for i in range(70)]
    assert any("at most 262144 are allowed" in e for e in errors_of(flow(*steps)))


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param([], "expected an object, got list", id="not-object"),
        pytest.param({"kind": "JobFlow"}, "apiVersion: must be", id="no-api-version"),
        pytest.param(
            {"apiVersion": "workflow.zen.io/v1alpha1", "kind": "Pod"},
            "kind: must be 'JobFlow' or 'CronJobFlow', got 'Pod'",
            id="wrong-kind",
        ),
    ],
)
def test_kind_and_api_version(obj: Any, expected: str) -> None:
    assert any(expected in e for e in errors_of(obj))


def test_finally_steps_may_read_any_regular_step() -> None:
    obj = flow(
        job("a", outputs=[{"name": "x"}]),
        job("b"),
        finally_=[
            job("f1", run={"image": "b", "command": ["{{ steps.a.outputs.x }}"]}),
            job("f2", "f1", when='steps.b.phase == "Failed" && steps.f1.phase == "Succeeded"'),
        ],
    )
    assert errors_of(obj) == []


def test_validate_spec_uses_the_given_path() -> None:
    spec = JobFlowSpec.model_validate({"steps": [job("a", "b")]})
    report = validate_spec(spec, path="spec.jobFlowTemplate.spec")
    assert [str(p) for p in report.errors] == [
        'spec.jobFlowTemplate.spec.steps[0].dependencies[0]: unknown step "b"'
    ]


def test_report_helpers() -> None:
    problem = Problem("spec.steps[3].dependencies[0]", 'unknown step "trasnform"')
    assert str(problem) == 'spec.steps[3].dependencies[0]: unknown step "trasnform"'
    assert str(Problem("", "bad")) == "bad"
    report = ValidationReport(errors=tuple(Problem(f"p{i}", "m") for i in range(12)))
    assert not report.ok
    assert report.summary(limit=2) == "p0: m; p1: m; … and 10 more"
    assert ValidationReport(warnings=(problem,)).ok
