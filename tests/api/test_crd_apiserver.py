"""Integration tests of crds/ against the real local API server, with no webhook running.

Aspects: every example is accepted (server-side dry run) and stored exactly as written, under
strict field validation (the embedded Kubernetes schemas prune nothing of it); objects with
duplicate step names, unknown dependencies, a bad enum value, a self-dependency, a Manual step
with a template or a bad duration are rejected with messages naming the field; `kubectl
explain` shows the schema descriptions; the status subresource accepts a controller-written
status.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from zenflow.envtest.controlplane import ControlPlane

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


def _flow(name: str, namespace: str, *steps: dict[str, Any], **spec: Any) -> str:
    body: dict[str, Any] = {"steps": list(steps), **spec}
    return json.dumps(
        {
            "apiVersion": "workflow.zen.io/v1alpha1",
            "kind": "JobFlow",
            "metadata": {"name": name, "namespace": namespace},
            "spec": body,
        }
    )


# A complete Job template: the CRD checks a template against batch/v1's own schema, and a
# schema error (a required field missing) keeps the API server from evaluating the CEL rules.
_JOB: dict[str, Any] = {
    "spec": {
        "template": {
            "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox"}]}
        }
    }
}


def _run(name: str, *deps: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "dependencies": list(deps),
        "run": {"image": "busybox", "command": ["true"]},
        **extra,
    }


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_are_accepted(control_plane: ControlPlane, namespace: str, path: Path) -> None:
    result = control_plane.kubectl(
        "apply", "--dry-run=server", "-n", namespace, "-f", str(path), check=False
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_are_stored_unchanged(
    control_plane: ControlPlane, namespace: str, path: Path
) -> None:
    written = yaml.safe_load(path.read_text(encoding="utf-8"))
    result = control_plane.kubectl(
        "create", "--validate=strict", "-n", namespace, "-f", str(path), "-o", "json"
    )
    assert "Warning" not in result.stderr, result.stderr
    assert json.loads(result.stdout)["spec"] == written["spec"]


@pytest.mark.parametrize(
    ("steps", "spec", "expected"),
    [
        pytest.param(
            [_run("a"), _run("a")],
            {},
            ['spec.steps[1]: Duplicate value: {"name":"a"}'],
            id="duplicate-names",
        ),
        pytest.param(
            [_run("a"), _run("b", "trasnform")],
            {},
            ["spec.steps: Invalid value", "dependencies must name steps of this flow"],
            id="unknown-dependency",
        ),
        pytest.param(
            [_run("a")],
            {"executionPolicy": {"concurrencyPolicy": "Sometimes"}},
            ['spec.executionPolicy.concurrencyPolicy: Unsupported value: "Sometimes"'],
            id="bad-enum",
        ),
        pytest.param(
            [_run("a", "a")],
            {},
            ["spec.steps[0].dependencies", "a step cannot depend on itself"],
            id="self-dependency",
        ),
        pytest.param(
            [{"name": "gate", "type": "Manual", "template": _JOB}],
            {},
            ["spec.steps[0]", "a Manual step runs nothing"],
            id="manual-with-template",
        ),
        pytest.param(
            [_run("a", retryPolicy={"limit": 1, "backoff": {"duration": "10 seconds"}})],
            {},
            ["spec.steps[0].retryPolicy.backoff.duration"],
            id="bad-duration",
        ),
        pytest.param(
            [_run("a", retryPolicy={"limit": -1})],
            {},
            ["spec.steps[0].retryPolicy.limit", "greater than or equal to 0"],
            id="negative",
        ),
    ],
)
def test_invalid_flows_are_rejected_with_field_names(
    control_plane: ControlPlane,
    namespace: str,
    steps: list[dict[str, Any]],
    spec: dict[str, Any],
    expected: list[str],
) -> None:
    result = control_plane.kubectl(
        "create", "-f", "-", input=_flow("bad", namespace, *steps, **spec), check=False
    )
    assert result.returncode != 0
    for text in expected:
        assert text in result.stderr, result.stderr


def test_kubectl_explain_shows_descriptions(control_plane: ControlPlane) -> None:
    result = control_plane.kubectl("explain", "jobflow.spec.steps.retryPolicy.backoff")
    assert "Delay between attempts" in result.stdout
    assert "maxDuration" in result.stdout


def test_status_subresource_accepts_controller_status(
    control_plane: ControlPlane, namespace: str
) -> None:
    control_plane.kubectl("create", "-f", "-", input=_flow("ok", namespace, _run("a")))
    status = {
        "status": {
            "phase": "Running",
            "progress": "0/1",
            "total": 1,
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "Running",
                    "lastTransitionTime": "2026-01-01T00:00:00Z",
                }
            ],
            "steps": [
                {
                    "name": "a",
                    "phase": "Running",
                    "jobRef": "ok-a-1",
                    "attempt": 1,
                    "startTime": "2026-01-01T00:00:00Z",
                    "outputs": {"x": "1"},
                }
            ],
        }
    }
    control_plane.kubectl(
        "patch", "jobflow", "ok", "-n", namespace, "--subresource=status", "--type=merge",
        "-p", json.dumps(status),
    )  # fmt: skip
    shown = control_plane.kubectl("get", "jobflow", "ok", "-n", namespace).stdout
    assert "Running" in shown
    assert "0/1" in shown
