"""The ``zenflow`` dispatcher: how a command's process ends when its reader goes away."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    steps = [{"name": "s0", "run": {"image": "busybox", "command": ["true"]}}]
    steps += [
        {"name": f"s{i}", "dependencies": [f"s{i - 1}"], "run": {"image": "busybox"}}
        for i in range(1, 400)
    ]
    flow = {
        "apiVersion": "workflow.zen.io/v1alpha1",
        "kind": "JobFlow",
        "metadata": {"name": "long"},
        "spec": {"steps": steps},
    }
    path = tmp_path / "long.yaml"
    path.write_text(yaml.safe_dump(flow), encoding="utf-8")
    # Like `zenflow graph long.yaml | head -1`: the reader is gone before the output is written.
    proc = subprocess.Popen(
        [sys.executable, "-m", "zenflow", "graph", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert b"Traceback" not in err, err.decode()
    assert b"BrokenPipeError" not in err, err.decode()
    assert proc.returncode == 0
