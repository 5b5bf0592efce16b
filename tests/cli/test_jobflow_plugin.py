"""``kubectl-jobflow`` (zenflow.cli.jobflow_plugin):

Unit: argument parsing of every verb (flags after the verb, required arguments), namespace
resolution from the kubeconfig context, ``get`` list rendering, bad input exit codes.

Integration (real control plane, CRDs installed): each verb writes what the controller reads —
approve (an approvals entry naming the requester, as a SelfSubjectReview says), cancel/retry
annotations, spec.suspend — and ``run`` creates the flow with param values; approving a step
that is not a Manual one exits 2;
``status``/``graph``/``get`` render the stored object; an unknown flow exits 1 with the API's
message.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from zenflow.api.approvals import parse_entries
from zenflow.api.constants import (
    ANNOTATION_APPROVALS,
    ANNOTATION_CANCEL,
    ANNOTATION_RETRY,
    ANNOTATION_RETRY_STEP,
)
from zenflow.cli import jobflow_plugin
from zenflow.envtest import ControlPlane

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


def parse(*argv: str) -> argparse.Namespace:
    return jobflow_plugin.build_parser().parse_args(argv)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        pytest.param(["get"], {"verb": "get", "name": None}, id="get-list"),
        pytest.param(["get", "f", "-n", "ns"], {"name": "f", "namespace": "ns"}, id="get-one"),
        pytest.param(["status", "f"], {"verb": "status", "name": "f", "watch": False}, id="status"),
        pytest.param(["status", "f", "-w"], {"watch": True}, id="status-watch"),
        pytest.param(["graph", "f", "--format", "dot"], {"format": "dot"}, id="graph"),
        pytest.param(["approve", "f", "gate"], {"name": "f", "step": "gate"}, id="approve"),
        pytest.param(
            ["reject", "f", "gate", "--reason", "not now"],
            {"name": "f", "step": "gate", "reason": "not now"},
            id="reject",
        ),
        pytest.param(["retry", "f"], {"step": None}, id="retry"),
        pytest.param(["retry", "f", "--step", "b"], {"step": "b"}, id="retry-step"),
        pytest.param(["suspend", "f", "--no-color"], {"no_color": True}, id="suspend"),
        pytest.param(
            ["run", "-f", "x.yaml", "-p", "a=1", "--param", "b=2"],
            {"filename": "x.yaml", "param": ["a=1", "b=2"]},
            id="run",
        ),
    ],
)
def test_parse_arguments(argv: list[str], expected: dict[str, Any]) -> None:
    args = vars(parse(*argv))
    assert {k: args[k] for k in expected} == expected


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["approve", "f"], id="approve-without-step"),
        pytest.param(["reject", "f", "gate"], id="reject-without-reason"),
        pytest.param(["run"], id="run-without-file"),
        pytest.param(["cancel"], id="cancel-without-name"),
    ],
)
def test_parse_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        parse(*argv)
    assert info.value.code == 2


def test_namespace_from_flag_context_or_default(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [
                    {"name": "a", "context": {"cluster": "c", "user": "u", "namespace": "team"}},
                    {"name": "b", "context": {"cluster": "c", "user": "u"}},
                ],
                "current-context": "a",
            }
        )
    )
    base = ["status", "f", "--kubeconfig", str(kubeconfig)]
    assert jobflow_plugin.namespace_of(parse(*base)) == "team"
    assert jobflow_plugin.namespace_of(parse(*base, "--context", "b")) == "default"
    assert jobflow_plugin.namespace_of(parse(*base, "-n", "x")) == "x"


def test_render_list() -> None:
    items = [
        {
            "metadata": {"name": "long-name", "creationTimestamp": "2026-01-01T11:58:00Z"},
            "spec": {"steps": [{"name": "a"}, {"name": "b"}]},
            "status": {"phase": "Running", "progress": "1/2"},
        },
        {"metadata": {"name": "new"}, "spec": {"steps": []}},
    ]
    assert jobflow_plugin.render_list(items, now=NOW) == [
        "NAME        PHASE     PROGRESS   AGE",
        "long-name   Running   1/2        2m00s",
        "new         Pending   0/0        -",
    ]


def test_render_list_wide_shows_the_shard() -> None:
    items = [
        {
            "metadata": {"name": "a", "labels": {"workflow.zen.io/shard": "pod-1_ab12cd34"}},
            "spec": {"steps": [{"name": "a"}]},
            "status": {"phase": "Running", "progress": "0/1"},
        },
        {"metadata": {"name": "b"}, "spec": {"steps": []}},
    ]
    assert jobflow_plugin.render_list(items, now=NOW, wide=True) == [
        "NAME   PHASE     PROGRESS   AGE   SHARD",
        "a      Running   0/1        -     pod-1_ab12cd34",
        "b      Pending   0/0        -     <none>",
    ]
    args = jobflow_plugin.build_parser().parse_args(["get", "-o", "wide"])
    assert args.output == "wide"


def test_run_with_an_undeclared_param_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text(yaml.safe_dump({"kind": "JobFlow", "metadata": {"name": "f"}, "spec": {}}))
    kubeconfig = tmp_path / "none"
    code = jobflow_plugin.main(
        ["run", "-f", str(path), "-p", "x=1", "--kubeconfig", str(kubeconfig)]
    )
    assert code == 2
    assert "does not exist" in capsys.readouterr().err


# -- integration: what each verb writes on the real apiserver ----------------------------------

FLOW_YAML: dict[str, Any] = {
    "apiVersion": "workflow.zen.io/v1alpha1",
    "kind": "JobFlow",
    "metadata": {"name": "plugin-flow"},
    "spec": {
        "params": [{"name": "greeting", "default": "hi"}],
        "steps": [
            {"name": "gate", "type": "Manual", "message": "ok?"},
            {
                "name": "say",
                "dependencies": ["gate"],
                "run": {"image": "busybox", "command": ["echo", "{{ params.greeting }}"]},
            },
        ],
    },
}


def plugin(
    plane: ControlPlane, namespace: str, *argv: str, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    base = ["--kubeconfig", str(plane.kubeconfig_path), "-n", namespace, "--no-color"]
    code = jobflow_plugin.main([*argv, *base])
    out = capsys.readouterr()
    return code, out.out, out.err


def stored(plane: ControlPlane, namespace: str, name: str) -> dict[str, Any]:
    out = plane.kubectl("get", "jobflow", name, "-n", namespace, "-o", "json").stdout
    obj: dict[str, Any] = json.loads(out)
    return obj


@pytest.mark.integration
def test_verbs_write_what_the_controller_reads(
    control_plane: ControlPlane,
    namespace: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text(yaml.safe_dump(FLOW_YAML))
    code, out, err = plugin(
        control_plane, namespace, "run", "-f", str(path), "-p", "greeting=hello", capsys=capsys
    )
    assert (code, err) == (0, "")
    assert out.strip() == "jobflow.workflow.zen.io/plugin-flow created"
    obj = stored(control_plane, namespace, "plugin-flow")
    assert obj["spec"]["params"][0]["value"] == "hello"

    code, out, _ = plugin(control_plane, namespace, "approve", "plugin-flow", "gate", capsys=capsys)
    assert (code, out.strip()) == (
        0,
        "jobflow.workflow.zen.io/plugin-flow step gate approved by admin",
    )
    assert plugin(control_plane, namespace, "suspend", "plugin-flow", capsys=capsys)[0] == 0
    obj = stored(control_plane, namespace, "plugin-flow")
    entries = parse_entries(obj["metadata"]["annotations"][ANNOTATION_APPROVALS])
    assert [(e.step, e.user, e.decision) for e in entries] == [("gate", "admin", "approve")]
    code, _, err = plugin(control_plane, namespace, "approve", "plugin-flow", "say", capsys=capsys)
    assert code == 2
    assert "'say' is not a Manual step of it" in err
    code, _, err = plugin(control_plane, namespace, "approve", "plugin-flow", "nope", capsys=capsys)
    assert code == 2
    assert "'nope' is not a step of it" in err
    assert obj["spec"]["suspend"] is True

    assert plugin(control_plane, namespace, "resume", "plugin-flow", capsys=capsys)[0] == 0
    assert stored(control_plane, namespace, "plugin-flow")["spec"]["suspend"] is False

    assert (
        plugin(control_plane, namespace, "retry", "plugin-flow", "--step", "say", capsys=capsys)[0]
        == 0
    )
    first = stored(control_plane, namespace, "plugin-flow")["metadata"]["annotations"]
    assert first[ANNOTATION_RETRY_STEP] == "say"
    assert plugin(control_plane, namespace, "retry", "plugin-flow", capsys=capsys)[0] == 0
    second = stored(control_plane, namespace, "plugin-flow")["metadata"]["annotations"]
    assert second[ANNOTATION_RETRY] != first[ANNOTATION_RETRY]
    assert ANNOTATION_RETRY_STEP not in second

    assert plugin(control_plane, namespace, "cancel", "plugin-flow", capsys=capsys)[0] == 0
    annotations = stored(control_plane, namespace, "plugin-flow")["metadata"]["annotations"]
    assert annotations[ANNOTATION_CANCEL] == "true"

    code, out, _ = plugin(control_plane, namespace, "status", "plugin-flow", capsys=capsys)
    assert code == 0
    assert out.splitlines()[0].startswith(f"JobFlow {namespace}/plugin-flow")
    assert [line.split()[0] for line in out.splitlines()[2:]] == ["gate", "say"]
    code, out, _ = plugin(control_plane, namespace, "graph", "plugin-flow", capsys=capsys)
    assert code == 0
    assert "say  <- gate" in out
    code, out, _ = plugin(control_plane, namespace, "get", capsys=capsys)
    assert code == 0
    assert out.splitlines()[1].startswith("plugin-flow")


@pytest.mark.integration
def test_watch_follows_until_the_flow_ends(
    control_plane: ControlPlane,
    namespace: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text(yaml.safe_dump({**FLOW_YAML, "metadata": {"name": "watched"}}))
    assert plugin(control_plane, namespace, "run", "-f", str(path), capsys=capsys)[0] == 0
    # No controller runs here: write a finished status as the controller would.
    status = {
        "status": {
            "phase": "Succeeded",
            "progress": "2/2",
            "steps": [
                {"name": "gate", "phase": "Succeeded"},
                {"name": "say", "phase": "Succeeded"},
            ],
        }
    }
    control_plane.kubectl(
        "patch", "jobflow", "watched", "-n", namespace, "--subresource=status",
        "--type=merge", "-p", json.dumps(status),
    )  # fmt: skip
    code, out, _ = plugin(control_plane, namespace, "status", "watched", "-w", capsys=capsys)
    assert code == 0
    lines = [line.split("] ", 1)[1] for line in out.splitlines()]
    assert lines == [
        "step gate: Pending -> Succeeded",
        "step say: Pending -> Succeeded",
        "flow watched: - -> Succeeded (2/2)",
    ]


@pytest.mark.integration
def test_unknown_flow_exits_1_with_the_api_message(
    control_plane: ControlPlane, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = plugin(control_plane, namespace, "cancel", "missing", capsys=capsys)
    assert code == 1
    assert 'jobflows.workflow.zen.io "missing" not found' in err
