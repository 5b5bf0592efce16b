"""Resolving templateRefs (zenflow.core.flowtemplates.resolve) and the stored resolution.

Aspects: a step reference copies the template step under the flow step's name, substitutes the
template's params (given value, else default) and leaves other references for run time, keeps the
flow step's own fields (dependencies, when, metadata merged, inputs added), records each template
once with its resourceVersion; the template step's own dependencies are dropped; a template is
found by kind and namespace (a ClusterJobFlowTemplate in any namespace); a missing template, a
missing step, an ambiguous step, an unknown param, a missing required param, a value outside an
enum and a field the template gives are reported at the flow's field; a whole-flow reference
takes the template's spec with the flow's param values and its suspend; the stored view swaps
in the resolved spec (keeping the live suspend) and is redone only for a new generation of a
flow that has not started.
"""

from __future__ import annotations

from typing import Any

from zenflow.api.templateref import ResolvedSpec
from zenflow.core.flowtemplates.resolve import needed, resolve_spec, uses_templates
from zenflow.core.flowtemplates.stored import needs_resolution, view


def scan_template(*, kind: str = "JobFlowTemplate", namespace: str | None = "ci") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "scan", "uid": "t-uid", "resourceVersion": "7"}
    if namespace:
        meta["namespace"] = namespace
    return {
        "apiVersion": "workflow.zen.io/v1alpha1",
        "kind": kind,
        "metadata": meta,
        "spec": {
            "params": [
                {"name": "image", "required": True},
                {"name": "severity", "default": "HIGH", "enum": ["LOW", "HIGH"]},
            ],
            "steps": [
                {
                    "name": "scan",
                    "dependencies": ["elsewhere"],
                    "run": {
                        "image": "scanner",
                        "command": [
                            "scan",
                            "--image={{ params.image }}",
                            "--severity={{ params.severity }}",
                            "--flow={{ flow.name }}",
                        ],
                    },
                    "outputs": [{"name": "findings"}],
                    "metadata": {"labels": {"team": "sec", "tier": "a"}},
                    "inputs": [{"name": "MODE", "value": "fast"}],
                },
                {"name": "report", "run": {"image": "r", "command": ["report"]}},
            ],
        },
    }


KEY = ("JobFlowTemplate", "ci", "scan")
CLUSTER_KEY = ("ClusterJobFlowTemplate", "", "scan")


def test_a_step_reference_takes_the_template_step_with_its_params() -> None:
    spec = {
        "steps": [
            {
                "name": "build",
                "run": {"image": "b", "command": ["b"]},
                "outputs": [{"name": "tag"}],
            },
            {
                "name": "scan-app",
                "dependencies": ["build"],
                "templateRef": {"name": "scan", "step": "scan"},
                "params": [{"name": "image", "value": "app:{{ steps.build.outputs.tag }}"}],
                "metadata": {"labels": {"tier": "b"}},
                "inputs": [{"name": "MODE", "value": "deep"}],
                "retryPolicy": {"limit": 2},
            },
        ]
    }
    assert uses_templates(spec)
    assert [(n.key, n.path) for n in needed(spec, namespace="ci")] == [
        (KEY, "spec.steps[1].templateRef")
    ]
    result = resolve_spec(spec, namespace="ci", templates={KEY: scan_template()})
    assert result.ok, (result.missing, result.problems)
    assert result.spec is not None
    assert result.spec["steps"][0] == spec["steps"][0]
    assert result.spec["steps"][1] == {
        "name": "scan-app",
        "dependencies": ["build"],
        "run": {
            "image": "scanner",
            "command": [
                "scan",
                "--image=app:{{ steps.build.outputs.tag }}",
                "--severity=HIGH",
                "--flow={{ flow.name }}",
            ],
        },
        "outputs": [{"name": "findings"}],
        "metadata": {"labels": {"team": "sec", "tier": "b"}},
        "inputs": [{"name": "MODE", "value": "deep"}],
        "retryPolicy": {"limit": 2},
    }
    (source,) = result.sources
    assert (source.kind, source.name, source.namespace, source.resource_version) == (
        "JobFlowTemplate",
        "scan",
        "ci",
        "7",
    )
    assert result.origins == {
        "spec.steps[1]": 'JobFlowTemplate "scan" in namespace "ci", step \'scan\''
    }
    assert "templateRef" not in spec["steps"][1] or spec["steps"][1]["templateRef"]  # not mutated


def test_a_cluster_template_serves_every_namespace() -> None:
    spec = {
        "steps": [
            {
                "name": "s",
                "templateRef": {"name": "scan", "kind": "ClusterJobFlowTemplate", "step": "report"},
            }
        ]
    }
    templates = {CLUSTER_KEY: scan_template(kind="ClusterJobFlowTemplate", namespace=None)}
    result = resolve_spec(spec, namespace="team-a", templates=templates)
    assert result.spec is not None
    assert result.spec["steps"][0] == {"name": "s", "run": {"image": "r", "command": ["report"]}}


def test_a_missing_template_names_the_referring_field() -> None:
    spec = {"steps": [{"name": "s", "templateRef": {"name": "scan"}}]}
    result = resolve_spec(spec, namespace="other", templates={KEY: scan_template()})
    assert result.spec is None
    assert result.missing == [
        ("spec.steps[0].templateRef.name", 'JobFlowTemplate "scan" in namespace "other" not found')
    ]


def test_references_that_do_not_fit_the_template() -> None:
    spec = {
        "steps": [
            {"name": "a", "templateRef": {"name": "scan"}},
            {"name": "b", "templateRef": {"name": "scan", "step": "nope"}},
            {
                "name": "c",
                "templateRef": {"name": "scan", "step": "scan"},
                "params": [{"name": "imge", "value": "x"}, {"name": "severity", "value": "MID"}],
            },
            {
                "name": "d",
                "templateRef": {"name": "scan", "step": "report"},
                "outputs": [{"name": "x"}],
            },
        ]
    }
    result = resolve_spec(spec, namespace="ci", templates={KEY: scan_template()})
    assert result.spec is None
    what = 'JobFlowTemplate "scan" in namespace "ci"'
    assert result.problems == [
        ("spec.steps[0].templateRef.step", f"required: {what} has 2 steps (scan, report)"),
        ("spec.steps[1].templateRef.step", f'{what} has no step "nope" (steps: scan, report)'),
        (
            "spec.steps[2].params[0].name",
            f'{what} declares no param "imge" (declared: image, severity)',
        ),
        ("spec.steps[2].params[1].value", f"'MID' is not one of ['LOW', 'HIGH'] ({what})"),
        ("spec.steps[2].params", f'param "image" of {what} is required: give it'),
        ("spec.steps[3].outputs", f"comes from {what}: remove it (templateRef)"),
    ]


def test_a_refusal_lists_at_most_ten_of_a_large_templates_steps() -> None:
    template = scan_template()
    run = {"image": "busybox", "command": ["true"]}
    template["spec"]["steps"] = [{"name": f"s{i}", "run": run} for i in range(1000)]
    spec = {"steps": [{"name": "a", "templateRef": {"name": "scan"}}]}
    result = resolve_spec(spec, namespace="ci", templates={KEY: template})
    what = 'JobFlowTemplate "scan" in namespace "ci"'
    first = ", ".join(f"s{i}" for i in range(10))
    assert result.problems == [
        (
            "spec.steps[0].templateRef.step",
            f"required: {what} has 1000 steps ({first}, … and 990 more)",
        )
    ]


def test_a_whole_flow_from_a_template() -> None:
    spec = {
        "templateRef": {"name": "scan"},
        "params": [{"name": "image", "value": "app:1"}],
        "suspend": True,
    }
    result = resolve_spec(spec, namespace="ci", templates={KEY: scan_template()})
    assert result.spec is not None
    assert result.spec["params"] == [
        {"name": "image", "required": True, "value": "app:1"},
        {"name": "severity", "default": "HIGH", "enum": ["LOW", "HIGH"]},
    ]
    assert [s["name"] for s in result.spec["steps"]] == ["scan", "report"]
    assert result.spec["suspend"] is True
    assert "templateRef" not in result.spec
    bad = resolve_spec(
        {"templateRef": {"name": "scan"}, "params": [{"name": "x", "value": "1"}], "steps": []},
        namespace="ci",
        templates={KEY: scan_template()},
    )
    assert bad.problems == [
        ("spec.steps", 'comes from JobFlowTemplate "scan" in namespace "ci" (spec.templateRef): '
         "remove it"),
        ("spec.params[0].name", 'JobFlowTemplate "scan" in namespace "ci" declares no param "x" '
         "(declared: image, severity)"),
    ]  # fmt: skip


def _flow(spec: dict[str, Any], *, generation: int = 1, status: Any = None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "workflow.zen.io/v1alpha1",
        "kind": "JobFlow",
        "metadata": {"name": "f", "namespace": "ci", "generation": generation},
        "spec": spec,
    }
    if status is not None:
        obj["status"] = status
    return obj


def test_the_stored_resolution_is_what_the_flow_runs() -> None:
    spec = {"templateRef": {"name": "scan"}, "params": [{"name": "image", "value": "a"}]}
    plain = _flow({"steps": [{"name": "x"}]})
    assert view(plain) is plain
    assert not needs_resolution(plain)
    fresh = _flow(spec)
    assert needs_resolution(fresh)
    resolved = resolve_spec(spec, namespace="ci", templates={KEY: scan_template()})
    assert resolved.spec is not None
    record = ResolvedSpec.of(generation=1, templates=resolved.sources, spec=resolved.spec)
    stored = _flow(
        {**spec, "suspend": True}, status={"phase": "Running", "resolved": record.dump()}
    )
    shown = view(stored)
    assert shown["spec"]["steps"] == resolved.spec["steps"]
    assert shown["spec"]["suspend"] is True  # the live switch counts
    assert not needs_resolution(stored)
    edited_pending = _flow(spec, generation=2, status={"resolved": record.dump()})
    assert needs_resolution(edited_pending)
    edited_running = _flow(
        spec, generation=2, status={"phase": "Running", "startTime": "x", "resolved": record.dump()}
    )
    assert not needs_resolution(edited_running)
