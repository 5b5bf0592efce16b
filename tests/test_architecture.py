"""The architecture is a fact, not a wish:

- the import-linter contracts in pyproject.toml hold for the tree as it is;
- they catch a wrong-way import (a copy of the package with the pure core importing the
  controller fails ``lint-imports``, naming the import);
- no import hides inside a function to dodge a cycle (only ``TYPE_CHECKING`` blocks may import
  outside module level);
- the core stays small enough to read: at most 12 top-level entries, each placed in the
  core's layers contract.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "zenflow"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint_imports(*, cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_contracts_hold() -> None:
    result = _lint_imports(cwd=ROOT, pythonpath=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_contracts_catch_a_wrong_way_import(tmp_path: Path) -> None:
    copy = tmp_path / "zenflow"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    dag = copy / "core" / "dag.py"
    dag.write_text(dag.read_text() + "\nimport zenflow.controller.setup  # wrong way\n")
    result = _lint_imports(cwd=tmp_path, pythonpath=tmp_path)
    assert result.returncode != 0
    assert "zenflow.core.dag" in result.stdout
    assert "zenflow.controller.setup" in result.stdout
    assert "BROKEN" in result.stdout


def _function_level_imports(tree: ast.Module) -> list[int]:
    """Line numbers of imports that are not at module level (TYPE_CHECKING blocks allowed)."""
    allowed: set[int] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            allowed.update(id(n) for n in ast.walk(node))
        if isinstance(node, ast.Import | ast.ImportFrom):
            allowed.add(id(node))
        if isinstance(node, ast.Try):  # optional dependencies: try: import x / except ImportError
            allowed.update(id(n) for n in node.body if isinstance(n, ast.Import | ast.ImportFrom))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in allowed
    ]


@pytest.mark.parametrize(
    "path",
    [pytest.param(p, id=str(p.relative_to(ROOT))) for p in sorted(PACKAGE.rglob("*.py"))],
)
def test_no_function_level_imports(path: Path) -> None:
    lines = _function_level_imports(ast.parse(path.read_text(encoding="utf-8")))
    assert not lines, f"{path.relative_to(ROOT)}: imports inside functions at lines {lines}"


def test_core_has_few_top_level_entries() -> None:
    entries = [
        p.name
        for p in (PACKAGE / "core").iterdir()
        if p.name != "__pycache__" and (p.suffix == ".py" or p.is_dir())
    ]
    assert len(entries) <= 12, sorted(entries)


def test_every_core_module_has_a_place_in_the_core_layers() -> None:
    """A new top-level core module must be put in a layer, or the contract says nothing of it."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    (core,) = [c for c in contracts if c["name"].startswith("the core is layered")]
    placed = {m.strip() for layer in core["layers"] for m in layer.split("|")}
    modules = {
        f"zenflow.core.{p.stem}"
        for p in (PACKAGE / "core").iterdir()
        if p.name not in {"__init__.py", "__pycache__"} and (p.suffix == ".py" or p.is_dir())
    }
    assert modules - placed == set()
