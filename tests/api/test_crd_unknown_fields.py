"""Integration tests of what the API server stores, with only crds/ installed (no webhook).

Aspects: an unknown field (a typo) in a step's Job template, the ``run`` shorthand's env,
``spec.env``, podFailurePolicy, a PVC or ConfigMap template, or a CronJobFlow's template is
refused with strict field validation (``kubectl create --validate=strict``) naming its path, and
otherwise pruned with an "unknown field" warning; ``kubectl explain`` reaches a step's
containers; a JobFlow whose step template nests an unknown field ~9,990 levels deep is refused
or pruned, and afterwards jobflows stay readable, listable, watchable and deletable
(issue 9: with ``x-kubernetes-preserve-unknown-fields`` such an object was stored and every
GET, LIST, WATCH and DELETE of jobflows failed cluster-wide).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from zenflow.envtest.controlplane import ControlPlane

pytestmark = pytest.mark.integration

_CONTAINER: dict[str, Any] = {"name": "main", "image": "busybox:1.36", "command": ["true"]}
_JOB: dict[str, Any] = {
    "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [_CONTAINER]}}}
}


def _jobflow(name: str, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"steps": [{"name": "a", "template": copy.deepcopy(_JOB)}], **spec}
    return {
        "apiVersion": "workflow.zen.io/v1alpha1",
        "kind": "JobFlow",
        "metadata": {"name": name},
        "spec": body,
    }


def _cronjobflow(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "workflow.zen.io/v1alpha1",
        "kind": "CronJobFlow",
        "metadata": {"name": name},
        "spec": {"schedule": "@daily", "jobFlowTemplate": {"spec": _jobflow(name)["spec"]}},
    }


def _with_run_step(obj: dict[str, Any]) -> dict[str, Any]:
    obj["spec"]["steps"] = [
        {"name": "a", "run": {"image": "busybox", "env": [{"name": "X", "value": "1"}]}}
    ]
    return obj


def _job_with_pod_labels() -> dict[str, Any]:
    job = copy.deepcopy(_JOB)
    job["spec"]["template"]["metadata"] = {"labels": {"team": "data"}}
    return job


_CONTAINER_PATH = ("spec", "steps", 0, "template", "spec", "template", "spec", "containers", 0)

# (object, path to the object holding the typo, the typo); the typo's value is "oops".
CASES = [
    pytest.param(
        _jobflow("typo"),
        _CONTAINER_PATH,
        "imagePullPolcy",
        id="container",
    ),
    pytest.param(
        _jobflow("typo"), ("spec", "steps", 0, "template", "spec"), "backofLimit", id="job-spec"
    ),
    pytest.param(
        _jobflow("typo", **{"finally": [{"name": "z", "template": _job_with_pod_labels()}]}),
        ("spec", "finally", 0, "template", "spec", "template", "metadata"),
        "label",
        id="finally-pod-metadata",
    ),
    pytest.param(
        _with_run_step(_jobflow("typo")),
        ("spec", "steps", 0, "run", "env", 0),
        "valu",
        id="run-env",
    ),
    pytest.param(
        _jobflow("typo", env=[{"name": "X", "value": "1"}]), ("spec", "env", 0), "valu", id="env"
    ),
    pytest.param(
        _jobflow(
            "typo",
            executionPolicy={
                "podFailurePolicy": {
                    "rules": [
                        {"action": "Ignore", "onExitCodes": {"operator": "In", "values": [42]}}
                    ]
                }
            },
        ),
        ("spec", "executionPolicy", "podFailurePolicy", "rules", 0),
        "actoin",
        id="pod-failure-policy",
    ),
    pytest.param(
        _jobflow(
            "typo",
            resourceTemplates={
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "data"},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "1Gi"}},
                        },
                    }
                ]
            },
        ),
        ("spec", "resourceTemplates", "volumeClaimTemplates", 0, "spec"),
        "acessModes",
        id="pvc",
    ),
    pytest.param(
        _jobflow(
            "typo",
            resourceTemplates={
                "configMapTemplates": [{"metadata": {"name": "cfg"}, "data": {"k": "v"}}]
            },
        ),
        ("spec", "resourceTemplates", "configMapTemplates", 0),
        "dat",
        id="configmap",
    ),
    pytest.param(
        _cronjobflow("typo"),
        ("spec", "jobFlowTemplate", *_CONTAINER_PATH),
        "comand",
        id="cronjobflow-container",
    ),
]


def _at(obj: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        obj = obj[part]
    return obj


def _field_path(path: tuple[str | int, ...], typo: str) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return f"{text}.{typo}".lstrip(".")


@pytest.mark.parametrize(("obj", "path", "typo"), CASES)
def test_unknown_field_refused_with_strict_validation(
    control_plane: ControlPlane,
    namespace: str,
    obj: dict[str, Any],
    path: tuple[str | int, ...],
    typo: str,
) -> None:
    obj = copy.deepcopy(obj)
    _at(obj, path)[typo] = "oops"
    result = control_plane.kubectl(
        "create", "--validate=strict", "-n", namespace, "-f", "-",
        input=json.dumps(obj), check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert f'unknown field "{_field_path(path, typo)}"' in result.stderr, result.stderr
    listed = control_plane.kubectl("get", obj["kind"].lower(), "-n", namespace, "-o", "name")
    assert listed.stdout == ""


@pytest.mark.parametrize(("obj", "path", "typo"), CASES)
def test_unknown_field_pruned_with_a_warning(
    control_plane: ControlPlane,
    namespace: str,
    obj: dict[str, Any],
    path: tuple[str | int, ...],
    typo: str,
) -> None:
    obj = copy.deepcopy(obj)
    _at(obj, path)[typo] = "oops"
    result = control_plane.kubectl(
        "create", "--validate=warn", "-n", namespace, "-f", "-", input=json.dumps(obj)
    )
    assert f'Warning: unknown field "{_field_path(path, typo)}"' in result.stderr, result.stderr
    stored = json.loads(
        control_plane.kubectl(
            "get", obj["kind"].lower(), obj["metadata"]["name"], "-n", namespace, "-o", "json"
        ).stdout
    )
    held = _at(stored, path)
    del _at(obj, path)[typo]
    assert held == _at(obj, path)


def test_kubectl_explain_reaches_a_steps_containers(control_plane: ControlPlane) -> None:
    shown = control_plane.kubectl(
        "explain", "jobflow.spec.steps.template.spec.template.spec.containers"
    ).stdout
    assert "List of containers belonging to the pod" in shown
    assert "imagePullPolicy" in shown
    assert "volumeMounts" in shown
    image = control_plane.kubectl(
        "explain", "cronjobflow.spec.jobFlowTemplate.spec.steps.template.spec.template.spec"
        ".containers.image"
    ).stdout  # fmt: skip
    assert "Container image name" in image
    # Deeper than the described types, fields are still listed (without their prose).
    caps = control_plane.kubectl(
        "explain",
        "jobflow.spec.steps.template.spec.template.spec.containers.securityContext.capabilities",
    ).stdout
    assert "drop" in caps


def _deep_jobflow(name: str, namespace: str, depth: int) -> str:
    """A JobFlow whose step template holds an unknown field nested ``depth`` objects deep, as
    JSON text (json.dumps would hit the interpreter's recursion limit)."""
    deep = '{"x":' * depth + "1" + "}" * depth
    body = _jobflow(name)
    body["metadata"]["namespace"] = namespace
    text = json.dumps(body)
    marker = '"template": {"spec": {"template"'
    assert text.count(marker) == 1
    return text.replace(marker, f'"template": {{"x": {deep}, "spec": {{"template"', 1)


@pytest.mark.parametrize(
    ("how", "stored"),
    [
        # kubectl validates strictly by default: refused, naming the unknown field.
        pytest.param(("create", "-f"), False, id="kubectl-create"),
        # A plain POST (the API server's default, fieldValidation=Warn): pruned, then stored.
        pytest.param(("create", "--raw", "{url}", "-f"), True, id="raw-post"),
    ],
)
def test_deeply_nested_unknown_field_never_bricks_jobflows(
    control_plane: ControlPlane,
    namespace: str,
    tmp_path: Path,
    how: tuple[str, ...],
    stored: bool,
) -> None:
    api = "/apis/workflow.zen.io/v1alpha1"
    url = f"{api}/namespaces/{namespace}/jobflows"
    path = tmp_path / "deep.json"
    path.write_text(_deep_jobflow("deep", namespace, 9990), encoding="utf-8")
    created = control_plane.kubectl(*(arg.format(url=url) for arg in how), str(path), check=False)
    if not stored:
        assert created.returncode != 0
        assert 'unknown field "spec.steps[0].template.x"' in created.stderr, created.stderr
    # Users list jobflows (the old CRDs: "exceeded max depth" here, for every namespace) ...
    listed = control_plane.kubectl("get", "jobflows", "-n", namespace, "-o", "name").stdout
    assert listed.split() == (["jobflow.workflow.zen.io/deep"] if stored else [])
    control_plane.kubectl("get", "jobflows", "--all-namespaces")
    # ... and so do controllers, whose JSON decoders had to parse ~10,000 levels.
    items = json.loads(control_plane.kubectl("get", "--raw", url).stdout)["items"]
    assert [item["metadata"]["name"] for item in items] == (["deep"] if stored else [])
    watched = control_plane.kubectl("get", "--raw", f"{url}?watch=true&timeoutSeconds=1").stdout
    assert ('"type":"ADDED"' in watched) is stored
    if stored:
        (flow,) = items
        assert flow["spec"]["steps"][0]["template"] == _JOB
        got = json.loads(control_plane.kubectl("get", "--raw", f"{url}/deep").stdout)
        assert got["metadata"]["uid"] == flow["metadata"]["uid"]
        control_plane.kubectl("delete", "jobflow", "deep", "-n", namespace, "--wait=true")
    assert control_plane.kubectl("get", "jobflows", "-n", namespace, "-o", "name").stdout == ""
