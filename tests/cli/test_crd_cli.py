"""Tests of `zenflow crd` (zenflow.cli.crd).

Aspects: writes one file per kind; --check passes on fresh output and on the committed crds/,
fails (exit 1, naming the file) on stale or missing files; --refresh-kube-schemas --check reads
the OpenAPI of a running control plane (--kubeconfig) and finds the committed schemas current.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from zenflow.cli.main import main
from zenflow.envtest.controlplane import ControlPlane

FILES = [
    "workflow.zen.io_clusterjobflowtemplates.yaml",
    "workflow.zen.io_cronjobflows.yaml",
    "workflow.zen.io_jobflows.yaml",
    "workflow.zen.io_jobflowtemplates.yaml",
]


def test_writes_and_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["crd", "--output-dir", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == FILES
    assert main(["crd", "--check", "--output-dir", str(tmp_path)]) == 0
    stale = tmp_path / FILES[1]
    stale.write_text(stale.read_text() + "# edited\n")
    (tmp_path / FILES[0]).unlink()
    capsys.readouterr()
    assert main(["crd", "--check", "--output-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"{stale}: out of date" in err
    assert f"{tmp_path / FILES[0]}: out of date" in err


def test_committed_crds_are_current() -> None:
    crds = Path(__file__).parents[2] / "crds"
    assert main(["crd", "--check", "--output-dir", str(crds)]) == 0


def test_refresh_check_against_a_running_control_plane(
    control_plane: ControlPlane, capsys: pytest.CaptureFixture[str]
) -> None:
    crds = Path(__file__).parents[2] / "crds"
    kubeconfig = str(control_plane.kubeconfig_path)
    argv = ["crd", "--refresh-kube-schemas", "--kubeconfig", kubeconfig, "--check"]
    assert main([*argv, "--output-dir", str(crds)]) == 0, capsys.readouterr().err
