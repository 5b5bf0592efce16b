"""Loading the SDK examples of ``examples/sdk/`` (scripts, not a package) and their YAML twins."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from zenflow.api.jobflow import JobFlow
from zenflow.sdk import Flow

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

TWINS = {
    "fallback_finally": "fallback-finally.yaml",
    "matrix_from_output": "matrix-from-output.yaml",
    "params": "params.yaml",
    "python_tasks": "python-tasks.yaml",
}
"""SDK example module → the YAML example it builds."""


def load_example(module: str) -> ModuleType:
    path = EXAMPLES / "sdk" / f"{module}.py"
    spec = importlib.util.spec_from_file_location(f"zenflow_sdk_example_{module}", path)
    assert spec is not None
    assert spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def build(module: str) -> Flow:
    flow = load_example(module).build()
    assert isinstance(flow, Flow)
    return flow


def twin(module: str) -> JobFlow:
    doc: dict[str, Any] = yaml.safe_load((EXAMPLES / TWINS[module]).read_text())
    return JobFlow.model_validate(doc)
