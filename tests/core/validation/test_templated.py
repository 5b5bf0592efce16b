"""Validation with templates at hand (zenflow.core.validation.templated).

Aspects: a flow whose step uses a template is judged by what it will run — an output the
template declares may be referenced, a workspace the template step mounts must be declared by
the flow (the problem says which template it comes from); a missing template and a reference
that does not fit (an undeclared or missing required param) are errors at the referring field;
a CronJobFlow's template references are resolved too; a template is validated as a flow spec
(required params need no value there; a template using templateRef is refused);
``validate_document`` dispatches by kind.
"""

from __future__ import annotations

from typing import Any

from tests.core.planning.flows import flow, job
from zenflow.core.validation.templated import (
    validate_document,
    validate_template,
    validate_with_templates,
)

TEMPLATE: dict[str, Any] = {
    "apiVersion": "workflow.zen.io/v1alpha1",
    "kind": "JobFlowTemplate",
    "metadata": {"name": "scan", "namespace": "default"},
    "spec": {
        "params": [{"name": "image", "required": True}],
        "steps": [
            {
                "name": "scan",
                "run": {"image": "scanner", "command": ["scan", "{{ params.image }}"]},
                "outputs": [{"name": "findings"}],
                "workspaces": [{"name": "src", "mountPath": "/src", "readOnly": True}],
            }
        ],
    },
}
TEMPLATES = {("JobFlowTemplate", "default", "scan"): TEMPLATE}
CLAIM = {
    "name": "src",
    "volumeClaimTemplate": {
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    },
}


def scan_step(**extra: Any) -> dict[str, Any]:
    return {
        "name": "scan-app",
        "templateRef": {"name": "scan"},
        "params": [{"name": "image", "value": "app:1"}],
        **extra,
    }


def test_a_flow_is_judged_by_what_its_templates_make_it_run() -> None:
    obj = flow(
        scan_step(),
        job(
            "gate",
            "scan-app",
            run={"image": "b", "command": ["{{ steps.scan-app.outputs.findings }}"]},
        ),
        workspaces=[CLAIM],
    )
    report = validate_with_templates(obj, TEMPLATES)
    assert report.errors == ()
    undeclared = flow(
        scan_step(),
        job("gate", "scan-app", run={"image": "b", "command": ["{{ steps.scan-app.outputs.x }}"]}),
    )
    assert [str(p) for p in validate_with_templates(undeclared, TEMPLATES).errors] == [
        'spec.steps[0].workspaces[0].name: unknown workspace "src"; spec.workspaces has: none '
        '(from JobFlowTemplate "scan" in namespace "default", step \'scan\')',
        'spec.steps[1].run.command[0]: {{ steps.scan-app.outputs.x }}: step "scan-app" declares '
        "no output 'x' (declared: findings)",
    ]


def test_missing_template_and_missing_param_are_field_errors() -> None:
    missing = flow(scan_step(templateRef={"name": "scann"}), workspaces=[CLAIM])
    assert [str(p) for p in validate_with_templates(missing, TEMPLATES).errors] == [
        'spec.steps[0].templateRef.name: JobFlowTemplate "scann" in namespace "default" not found'
    ]
    no_param = flow(scan_step(params=[{"name": "tag", "value": "1"}]), workspaces=[CLAIM])
    assert [str(p) for p in validate_with_templates(no_param, TEMPLATES).errors] == [
        'spec.steps[0].params[0].name: JobFlowTemplate "scan" in namespace "default" declares no '
        'param "tag" (declared: image)',
        'spec.steps[0].params: param "image" of JobFlowTemplate "scan" in namespace "default" is '
        "required: give it",
    ]


def test_a_cronjobflow_resolves_its_flow_template() -> None:
    cron = {
        "apiVersion": "workflow.zen.io/v1alpha1",
        "kind": "CronJobFlow",
        "metadata": {"name": "nightly"},
        "spec": {
            "schedule": "@daily",
            "jobFlowTemplate": {"spec": {"steps": [scan_step(params=[])], "workspaces": [CLAIM]}},
        },
    }
    assert [str(p) for p in validate_with_templates(cron, TEMPLATES).errors] == [
        'spec.jobFlowTemplate.spec.steps[0].params: param "image" of JobFlowTemplate "scan" in '
        'namespace "default" is required: give it'
    ]


def test_templates_are_validated_as_flow_specs() -> None:
    assert validate_template(TEMPLATE).errors == ()
    broken = {
        **TEMPLATE,
        "spec": {
            **TEMPLATE["spec"],
            "steps": [
                {"name": "a", "run": {"image": "x", "command": ["x"]}, "dependencies": ["b"]},
                {"name": "c", "templateRef": {"name": "other"}},
            ],
        },
    }
    assert [str(p) for p in validate_template(broken).errors] == [
        "spec: a template's steps cannot use templateRef (templates do not nest)",
        'spec.steps[0].dependencies[0]: unknown step "b"',
    ]
    assert validate_document(TEMPLATE, {}).ok
    assert not validate_document(flow(scan_step(), workspaces=[CLAIM]), {}).ok
