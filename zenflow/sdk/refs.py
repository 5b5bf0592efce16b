"""References a flow written in Python hands from one step to another, rendered as the exact
text the JobFlow API reads.

Two notations exist in a JobFlow, and every reference knows both:

- in string fields of a step (command, args, env, inputs, matrix ``from``): ``{{ … }}``
  templates. ``str(ref)`` (and so an f-string) gives that form: ``{{ params.env }}``,
  ``{{ steps.split.outputs.partitions }}``, ``{{ steps.main-process.phase }}``.
- in ``when``: a CEL expression. ``ref.cel`` gives the operand (``params.env``,
  ``steps["main-process"].phase``), and comparisons build a ``Cel`` expression:
  ``env.eq("prod")`` → ``params.env == "prod"``; ``Cel`` values combine with ``&``, ``|``
  and ``~``.

Invariant: nothing here checks that a name exists; the flow builder and the shared validator
do that, with messages naming the field.
"""

from __future__ import annotations

import json
import re
from typing import Final

_IDENT: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

__all__ = [
    "FLOW_NAME",
    "FLOW_NAMESPACE",
    "FLOW_UID",
    "Cel",
    "MatrixRef",
    "OutputRef",
    "ParamRef",
    "StepRef",
    "literal",
    "matrix_value",
]

FLOW_NAME: Final = "{{ flow.name }}"
"""The running flow's name, in a string field."""
FLOW_NAMESPACE: Final = "{{ flow.namespace }}"
FLOW_UID: Final = "{{ flow.uid }}"


def literal(value: str | int | float | bool) -> str:
    """A CEL literal: strings double-quoted (JSON escaping), numbers and booleans as such."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value)


class Cel(str):
    """A CEL expression for a step's ``when`` (a ``str``, so it goes straight into the model).

    ``a & b`` is ``(a) && (b)``, ``a | b`` is ``(a) || (b)``, ``~a`` is ``!(a)``."""

    __slots__ = ()

    def __and__(self, other: str) -> Cel:
        return Cel(f"({self}) && ({other})")

    def __or__(self, other: str) -> Cel:
        return Cel(f"({self}) || ({other})")

    def __invert__(self) -> Cel:
        return Cel(f"!({self})")


class _Operand:
    """Something a ``when`` expression can compare."""

    @property
    def cel(self) -> str:
        raise NotImplementedError

    def eq(self, value: str | int | float | bool) -> Cel:
        return Cel(f"{self.cel} == {literal(value)}")

    def ne(self, value: str | int | float | bool) -> Cel:
        return Cel(f"{self.cel} != {literal(value)}")

    def is_in(self, values: list[str]) -> Cel:
        return Cel(f"{self.cel} in [{', '.join(literal(v) for v in values)}]")


class ParamRef(_Operand):
    """A flow parameter: ``{{ params.NAME }}`` in strings, ``params.NAME`` in ``when``."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __str__(self) -> str:
        return f"{{{{ params.{self.name} }}}}"

    def __repr__(self) -> str:
        return f"ParamRef({self.name!r})"

    @property
    def cel(self) -> str:
        return f"params.{self.name}"


def _step_cel(step: str) -> str:
    return f"steps.{step}" if _IDENT.match(step) else f"steps[{json.dumps(step)}]"


class OutputRef(_Operand):
    """An output parameter of an upstream step."""

    __slots__ = ("name", "step")

    def __init__(self, step: str, name: str) -> None:
        self.step = step
        self.name = name

    def __str__(self) -> str:
        return f"{{{{ steps.{self.step}.outputs.{self.name} }}}}"

    def __repr__(self) -> str:
        return f"OutputRef({self.step!r}, {self.name!r})"

    @property
    def cel(self) -> str:
        base = _step_cel(self.step)
        if _IDENT.match(self.name):
            return f"{base}.outputs.{self.name}"
        return f"{base}.outputs[{json.dumps(self.name)}]"


class _Phase(_Operand):
    __slots__ = ("step",)

    def __init__(self, step: str) -> None:
        self.step = step

    def __str__(self) -> str:
        return f"{{{{ steps.{self.step}.phase }}}}"

    @property
    def cel(self) -> str:
        return f"{_step_cel(self.step)}.phase"


class _Outputs:
    """``step.outputs.NAME`` or ``step.outputs["NAME"]``."""

    __slots__ = ("_step",)

    def __init__(self, step: str) -> None:
        self._step = step

    def __getattr__(self, name: str) -> OutputRef:
        if name.startswith("__"):
            raise AttributeError(name)
        return OutputRef(self._step, name)

    def __getitem__(self, name: str) -> OutputRef:
        return OutputRef(self._step, name)


class StepRef:
    """A step of the flow being built. Pass it in ``after=[…]`` for a dependency; read
    ``.outputs.NAME`` for its outputs and ``.phase`` for its phase (``str(step.phase)`` is
    the template, ``step.phase.eq("Failed")`` a ``when``); ``succeeded``/``failed``/
    ``skipped`` are the usual ``when`` tests."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"StepRef({self.name!r})"

    @property
    def outputs(self) -> _Outputs:
        return _Outputs(self.name)

    def output(self, name: str) -> OutputRef:
        return OutputRef(self.name, name)

    @property
    def phase(self) -> _Phase:
        return _Phase(self.name)

    @property
    def succeeded(self) -> Cel:
        return self.phase.eq("Succeeded")

    @property
    def failed(self) -> Cel:
        return self.phase.eq("Failed")

    @property
    def skipped(self) -> Cel:
        return self.phase.eq("Skipped")


class MatrixRef:
    """This shard's value of a matrix key: ``{{ matrix.KEY }}``."""

    __slots__ = ("key",)

    def __init__(self, key: str) -> None:
        self.key = key

    def __str__(self) -> str:
        return f"{{{{ matrix.{self.key} }}}}"

    def __repr__(self) -> str:
        return f"MatrixRef({self.key!r})"


def matrix_value(key: str) -> MatrixRef:
    """The template of a matrix key's value in the current shard."""
    return MatrixRef(key)
