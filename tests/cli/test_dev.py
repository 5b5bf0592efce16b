"""``zenflow dev up | status | down | binaries`` (zenflow.cli.dev), against real processes.

Aspects: ``up`` starts a detached control plane with a Ready node and prints the kubeconfig to
export; a second ``up`` is refused while it runs; ``status`` reports it up with every process
running, and down (exit 3) once stopped; ``down`` leaves none of its processes behind and is a
no-op when nothing runs; ``up`` without binaries fails naming the cause; ``binaries`` prints the
directory holding the binaries.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from zenflow.cli import dev
from zenflow.envtest import ensure_binaries
from zenflow.envtest.devserver import read_state


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _dev(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="zenflow dev")
    dev.add_arguments(parser)
    return dev.run(parser.parse_args(list(argv)))


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    """A private state directory; whatever the test leaves running is stopped afterwards."""
    path = tmp_path / "dev"
    yield path
    _dev("down", "--state-dir", str(path))


@pytest.mark.integration
def test_up_status_down_leaves_nothing_behind(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _dev("up", "--state-dir", str(state_dir)) == 0
    out = capsys.readouterr().out
    state = read_state(state_dir)
    assert state is not None
    assert f"export KUBECONFIG={state.kubeconfig}" in out
    pids = [state.pid, *state.processes.values()]
    assert set(state.processes) == {
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "nodeagent",
    }

    assert _dev("up", "--state-dir", str(state_dir)) == 1
    assert "already running" in capsys.readouterr().err

    assert _dev("status", "--state-dir", str(state_dir)) == 0
    status = capsys.readouterr().out
    assert f"up (pid {state.pid}), apiserver {state.apiserver_url} ready" in status
    assert len(re.findall(r" running$", status, re.MULTILINE)) == 4

    kubectl = [str(ensure_binaries(progress=None).kubectl), "--kubeconfig", state.kubeconfig]
    nodes = json.loads(
        subprocess.run(
            [*kubectl, "get", "nodes", "-o", "json"], capture_output=True, check=True
        ).stdout
    )
    conditions = nodes["items"][0]["status"]["conditions"]
    assert {"type": "Ready", "status": "True"}.items() <= next(
        c for c in conditions if c["type"] == "Ready"
    ).items()

    assert _dev("down", "--state-dir", str(state_dir)) == 0
    assert "stopped (5 processes)" in capsys.readouterr().out
    assert not [pid for pid in pids if _alive(pid)]
    assert _dev("status", "--state-dir", str(state_dir)) == dev.NOT_RUNNING
    assert capsys.readouterr().out.strip() == "zenflow dev: down"
    assert not (state_dir / "cluster").exists()


def test_down_when_nothing_runs_is_a_no_op(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _dev("down", "--state-dir", str(tmp_path)) == 0
    assert "not running" in capsys.readouterr().out


@pytest.mark.integration  # may build the binaries: minutes on a fresh machine
def test_binaries_prints_their_directory(capsys: pytest.CaptureFixture[str]) -> None:
    assert _dev("binaries") == 0
    directory = Path(capsys.readouterr().out.strip())
    assert (directory / "kube-apiserver").is_file()


def test_up_without_binaries_fails_with_the_cause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(tmp_path / "nowhere"))
    assert _dev("up", "--state-dir", str(tmp_path / "dev")) == 1
    assert "KUBEBUILDER_ASSETS" in capsys.readouterr().err
    assert read_state(tmp_path / "dev") is None
