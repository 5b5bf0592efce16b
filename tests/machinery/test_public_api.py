"""The curated public surface of zenflow.machinery: every name in ``__all__`` resolves, and every
public class or function of the layer's core modules is exported (so the surface stays complete)."""

from __future__ import annotations

import importlib
import inspect

import pytest

import zenflow.machinery as machinery

CORE_MODULES = [
    "queue",
    "delaying",
    "ratelimit",
    "ratelimiting",
    "reconcile",
    "controller",
    "expectations",
    "watcher",
    "ring",
    "sharding",
]


def test_all_names_resolve() -> None:
    for name in machinery.__all__:
        assert getattr(machinery, name) is not None
    assert sorted(machinery.__all__) == sorted(set(machinery.__all__))


@pytest.mark.parametrize("module_name", CORE_MODULES)
def test_core_module_public_names_are_exported(module_name: str) -> None:
    module = importlib.import_module(f"zenflow.machinery.{module_name}")
    defined_here = [
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and getattr(value, "__module__", "") == module.__name__
    ]
    internal = {"NoopQueueMetrics", "ResultQueue", "OnTerminal", "Reconcile"}
    missing = [n for n in defined_here if n not in machinery.__all__ and n not in internal]
    assert missing == []
