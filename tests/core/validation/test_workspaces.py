"""Validation of workspaces, artifacts and template references (the parts that need no template).

Aspects: a build→test flow passing a file through a claim is valid; every bad input is an error
naming its field — an unknown workspace (with a suggestion), a source missing or doubled, a claim
template without access modes or storage, clashing mount paths (two workspaces, or a workspace
and the Job template's own volumeMount), relative mount paths, subPaths that climb out, an
emptyDir shared by two steps, a matrix writing a ReadWriteOnce claim, artifacts outside a
writable claim mount, artifact inputs from a step that is not upstream or an undeclared artifact,
an unknown ``{{ steps.S.artifacts.A.path }}``; templateRef beside run, params without
templateRef, a flow templateRef beside steps; an unmounted workspace is a warning.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.core.planning.flows import flow, job, template
from zenflow.core.validation.validator import validate_object

CLAIM = {
    "name": "src",
    "volumeClaimTemplate": {
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    },
}
SHARED = {
    "name": "shared",
    "volumeClaimTemplate": {
        "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "1Gi"}}}
    },
}
CONFIG = {"name": "cfg", "configMap": {"name": "settings"}}
SCRATCH = {"name": "tmp", "emptyDir": {}}


def mount(name: str, path: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "mountPath": path, **extra}


def build_step(**extra: Any) -> dict[str, Any]:
    return job(
        "build",
        workspaces=[mount("src", "/work")],
        artifacts={
            "outputs": [{"name": "dist", "path": "dist/app", "source": {"workspace": "src"}}]
        },
        **extra,
    )


def test_build_then_test_through_a_claim_is_valid() -> None:
    report = validate_object(
        flow(
            build_step(),
            job(
                "test",
                "build",
                workspaces=[mount("src", "/in", readOnly=True), mount("cfg", "/etc/app")],
                artifacts={
                    "inputs": [{"name": "app", "from": {"step": "build", "artifact": "dist"}}]
                },
                run={
                    "image": "busybox",
                    "command": ["sh", "-c", "test -s {{ steps.build.artifacts.dist.path }}"],
                },
            ),
            workspaces=[CLAIM, CONFIG],
        )
    )
    assert report.errors == ()
    assert report.warnings == ()


def errors(obj: dict[str, Any]) -> list[str]:
    return [str(p) for p in validate_object(obj).errors]


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param(
            flow(job("a", workspaces=[mount("srcc", "/w")]), workspaces=[CLAIM]),
            'spec.steps[0].workspaces[0].name: unknown workspace "srcc" (did you mean "src"?); '
            "spec.workspaces has: src",
            id="unknown-workspace",
        ),
        pytest.param(
            flow(job("a"), workspaces=[{"name": "x"}]),
            "spec.workspaces[0]: set exactly one of volumeClaimTemplate, persistentVolumeClaim, "
            "configMap, secret, emptyDir (got none)",
            id="no-source",
        ),
        pytest.param(
            flow(job("a"), workspaces=[{**CONFIG, "emptyDir": {}}]),
            "spec.workspaces[0]: set exactly one of volumeClaimTemplate, persistentVolumeClaim, "
            "configMap, secret, emptyDir (got configMap, emptyDir)",
            id="two-sources",
        ),
        pytest.param(
            flow(job("a"), workspaces=[{"name": "c", "volumeClaimTemplate": {"spec": {}}}]),
            "spec.workspaces[0].volumeClaimTemplate.spec.accessModes: required: e.g. "
            "[ReadWriteOnce]",
            id="claim-without-access-modes",
        ),
        pytest.param(
            flow(job("a"), workspaces=[CLAIM, {**CLAIM}]),
            'spec.workspaces[1].name: duplicate workspace name "src"',
            id="duplicate-workspace",
        ),
        pytest.param(
            flow(
                job("a", workspaces=[mount("src", "/w"), mount("cfg", "/w/")]),
                workspaces=[CLAIM, CONFIG],
            ),
            'spec.steps[0].workspaces[1].mountPath: /w/ is also where workspace "src" is mounted',
            id="mount-path-clash",
        ),
        pytest.param(
            flow(
                job(
                    "a",
                    run=None,
                    template=template(
                        containers=[
                            {
                                "name": "c",
                                "image": "i",
                                "command": ["true"],
                                "volumeMounts": [{"name": "own", "mountPath": "/data"}],
                            }
                        ],
                        volumes=[{"name": "own", "emptyDir": {}}],
                    ),
                    workspaces=[mount("src", "/data")],
                ),
                workspaces=[CLAIM],
            ),
            "spec.steps[0].workspaces[0].mountPath: /data is also a volumeMount of the Job "
            "template (container 'c')",
            id="clash-with-template-mount",
        ),
        pytest.param(
            flow(job("a", workspaces=[mount("src", "work")]), workspaces=[CLAIM]),
            "spec.steps[0].workspaces[0].mountPath: must be an absolute path, got 'work'",
            id="relative-mount-path",
        ),
        pytest.param(
            flow(job("a", workspaces=[mount("src", "/w", subPath="../up")]), workspaces=[CLAIM]),
            "spec.steps[0].workspaces[0].subPath: must not contain '..', got '../up'",
            id="sub-path-climbs",
        ),
        pytest.param(
            flow(
                job("a", workspaces=[mount("tmp", "/t")]),
                job("b", "a", workspaces=[mount("tmp", "/t")]),
                workspaces=[SCRATCH],
            ),
            'spec.steps[1].workspaces[0].name: workspace "tmp" is an emptyDir, private to one '
            "step's pod, and spec.steps[0] mounts it already; share files through a "
            "volumeClaimTemplate",
            id="empty-dir-shared",
        ),
        pytest.param(
            flow(
                job("m", workspaces=[mount("src", "/w")], matrix={"values": {"k": [1, 2]}}),
                workspaces=[CLAIM],
            ),
            'spec.steps[0].workspaces[0].readOnly: workspace "src" is a ReadWriteOnce claim: the '
            "shards of this matrix step would write it at once; mount it readOnly, set "
            "matrix.maxParallel: 1, or use a ReadWriteMany claim",
            id="matrix-writes-rwo",
        ),
        pytest.param(
            flow(
                job(
                    "a",
                    workspaces=[mount("src", "/w", readOnly=True)],
                    artifacts={
                        "outputs": [{"name": "o", "path": "o", "source": {"workspace": "src"}}]
                    },
                ),
                workspaces=[CLAIM],
            ),
            "spec.steps[0].artifacts.outputs[0].source.workspace: the step must mount workspace "
            '"src" writable to leave an artifact there (it mounts it readOnly)',
            id="artifact-on-read-only-mount",
        ),
        pytest.param(
            flow(
                job(
                    "a",
                    workspaces=[mount("cfg", "/c")],
                    artifacts={
                        "outputs": [{"name": "o", "path": "o", "source": {"workspace": "cfg"}}]
                    },
                ),
                workspaces=[CONFIG],
            ),
            'spec.steps[0].artifacts.outputs[0].source.workspace: workspace "cfg" is not a '
            "claim: artifacts live on a volumeClaimTemplate or persistentVolumeClaim workspace",
            id="artifact-not-on-a-claim",
        ),
        pytest.param(
            flow(
                job(
                    "a",
                    workspaces=[mount("src", "/w", subPath="out")],
                    artifacts={
                        "outputs": [{"name": "o", "path": "dist/o", "source": {"workspace": "src"}}]
                    },
                ),
                workspaces=[CLAIM],
            ),
            "spec.steps[0].artifacts.outputs[0].path: dist/o is outside the step's subPath 'out' "
            'of workspace "src"',
            id="artifact-outside-sub-path",
        ),
        pytest.param(
            flow(
                build_step(run={"image": "busybox", "args": ["x"]}),
                workspaces=[CLAIM],
            ),
            "spec.steps[0].artifacts.outputs: zenflow checks artifacts by wrapping the step's "
            "first container command: give it a command (run.command or run.script, or template "
            "... containers[0].command)",
            id="artifact-without-command",
        ),
        pytest.param(
            flow(
                build_step(),
                job(
                    "test",
                    workspaces=[mount("src", "/in")],
                    artifacts={
                        "inputs": [{"name": "a", "from": {"step": "build", "artifact": "dist"}}]
                    },
                ),
                workspaces=[CLAIM],
            ),
            'spec.steps[1].artifacts.inputs[0].from.step: step "build" is not guaranteed to '
            'finish before "test"; add it to dependencies (directly or indirectly)',
            id="input-not-upstream",
        ),
        pytest.param(
            flow(
                build_step(),
                job(
                    "test",
                    "build",
                    workspaces=[mount("src", "/in")],
                    artifacts={
                        "inputs": [{"name": "a", "from": {"step": "build", "artifact": "dst"}}]
                    },
                ),
                workspaces=[CLAIM],
            ),
            'spec.steps[1].artifacts.inputs[0].from.artifact: step "build" declares no output '
            'artifact "dst" (dist)',
            id="input-undeclared-artifact",
        ),
        pytest.param(
            flow(
                build_step(),
                job(
                    "test",
                    "build",
                    artifacts={
                        "inputs": [{"name": "a", "from": {"step": "build", "artifact": "dist"}}]
                    },
                ),
                workspaces=[CLAIM],
            ),
            'spec.steps[1].artifacts.inputs[0]: the artifact lives in workspace "src": this step '
            "must mount it to read it",
            id="input-workspace-not-mounted",
        ),
        pytest.param(
            flow(
                build_step(),
                job(
                    "t",
                    "build",
                    run={"image": "b", "command": ["{{ steps.build.artifacts.x.path }}"]},
                ),
                workspaces=[CLAIM],
            ),
            'spec.steps[1].run.command[0]: {{ steps.build.artifacts.x.path }}: step "build" '
            "declares no output artifact 'x' (dist)",
            id="unknown-artifact-reference",
        ),
        pytest.param(
            flow(job("a", templateRef={"name": "scan"})),
            "spec.steps[0].run: comes from the template (templateRef): remove it",
            id="template-ref-beside-run",
        ),
        pytest.param(
            flow(job("a", params=[{"name": "x", "value": "1"}])),
            "spec.steps[0].params: params give a template's param values: set templateRef too",
            id="params-without-template-ref",
        ),
        pytest.param(
            flow(job("a"), templateRef={"name": "scan"}),
            "spec.steps: comes from the template (spec.templateRef): remove it",
            id="flow-template-ref-beside-steps",
        ),
    ],
)
def test_bad_input_names_the_field(obj: dict[str, Any], expected: str) -> None:
    assert expected in errors(obj)


def test_read_only_writers_of_rwo_and_rwx_claims_are_fine() -> None:
    report = validate_object(
        flow(
            job(
                "m",
                workspaces=[mount("src", "/w", readOnly=True)],
                matrix={"values": {"k": [1, 2]}},
            ),
            job("n", workspaces=[mount("shared", "/s")], matrix={"values": {"k": [1, 2]}}),
            job(
                "o",
                workspaces=[mount("src", "/w")],
                matrix={"values": {"k": [1]}, "maxParallel": 1},
            ),
            workspaces=[CLAIM, SHARED],
        )
    )
    assert report.errors == ()


def test_an_unmounted_workspace_is_a_warning() -> None:
    report = validate_object(flow(job("a"), workspaces=[CLAIM]))
    assert report.errors == ()
    assert [str(w) for w in report.warnings] == [
        'spec.workspaces[0]: workspace "src" is not mounted by any step'
    ]


def test_template_ref_steps_are_checked_once_resolved() -> None:
    """Without the template, what it gives (outputs, mounts) cannot be judged: no error."""
    scan = {
        "name": "scan",
        "templateRef": {"name": "scan"},
        "params": [{"name": "image", "value": "x"}],
    }
    report = validate_object(
        flow(
            scan,
            job("after", "scan", run={"image": "b", "command": ["{{ steps.scan.outputs.score }}"]}),
            workspaces=[CLAIM],
        )
    )
    assert report.errors == ()


def test_a_flow_from_a_template_is_valid_with_params_only() -> None:
    obj = flow(job("x"), templateRef={"name": "scan"}, params=[{"name": "image", "value": "a"}])
    del obj["spec"]["steps"]
    assert validate_object(obj).errors == ()
