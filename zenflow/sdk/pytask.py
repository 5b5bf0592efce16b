"""Turning a Python function into the command of a step (``Flow.task``).

The step runs ``python -c SCRIPT``, where SCRIPT is the function's own source (decorators
removed) followed by a call that reads each parameter from the environment variable of the same
name and, if the function returns a dict, writes it as JSON to ``/dev/termination-log`` — the
container's termination message, from which zenflow reads the step's outputs.

Invariants: the script is a pure function of the function's source text (no ``ast.unparse``,
whose output may change between Python versions), so a flow and its YAML twin stay equal;
a function whose source cannot be read, that is a lambda, takes ``*args``/``**kwargs``, or has
a parameter not given as an input is refused with a message naming the problem.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Sequence
from typing import Any, Final

TERMINATION_LOG: Final = "/dev/termination-log"

_RUNNER: Final = """
if __name__ == "__main__":
    import json as _json
    import os as _os

    _result = {call}
    if _result is not None:
        with open({log!r}, "w") as _log:
            _json.dump(_result, _log)
"""


def task_command(fn: Callable[..., Any], *, python: str, inputs: Sequence[str]) -> list[str]:
    """``[python, "-c", script]`` running ``fn`` with its parameters read from the environment.

    Raises ``ValueError`` when ``fn`` cannot be shipped this way."""
    source, params = _function_source(fn)
    missing = [p for p in params if p not in inputs]
    if missing:
        raise ValueError(
            f"parameter(s) {', '.join(missing)} of {fn.__name__}() must be given in inputs"
        )
    args = ", ".join(f"{p}=_os.environ[{p!r}]" for p in params)
    script = source + _RUNNER.format(call=f"{fn.__name__}({args})", log=TERMINATION_LOG)
    return [python, "-c", script]


def _function_source(fn: Callable[..., Any]) -> tuple[str, list[str]]:
    """The dedented ``def`` (without decorators) and the names of its parameters."""
    try:
        lines, _ = inspect.getsourcelines(fn)
    except (OSError, TypeError) as exc:
        raise ValueError(f"the source of {getattr(fn, '__name__', fn)!r} is unavailable") from exc
    text = textwrap.dedent("".join(lines))
    tree = ast.parse(text)
    node = tree.body[0] if tree.body else None
    if not isinstance(node, ast.FunctionDef) or node.name != fn.__name__:
        raise ValueError(f"{getattr(fn, '__name__', fn)!r} is not a plain def function")
    spec = node.args
    if spec.vararg or spec.kwarg or spec.posonlyargs:
        raise ValueError(f"{fn.__name__}() may take only named parameters")
    params = [a.arg for a in (*spec.args, *spec.kwonlyargs)]
    body = text.splitlines(keepends=True)[node.lineno - 1 :]
    return "".join(body).rstrip() + "\n", params
