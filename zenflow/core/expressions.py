"""CEL ``when`` expressions (cel-python): compile once, list what they reference, evaluate.

Variables an expression sees:
  params             map of param name → effective value (string)
  steps              map of step name → {phase: string, outputs: map string→string, retries: int}
                     (``steps.build.phase``; names with '-' need ``steps["unit-tests"].phase``)
  flow               {name, namespace, uid}
The result must be a bool. ``when: "true"`` makes an always-run step.

Nesting is bounded before anything recursive runs: at most ``MAX_WHEN_NESTING`` levels of
parentheses, brackets and braces (counted outside string literals), and a parse tree at most
``MAX_WHEN_SYNTAX_DEPTH`` deep (long runs of ``!``/``-`` or member chains), so neither compiling,
walking nor evaluating an expression can exhaust the interpreter's recursion limit.

The CEL machinery itself (``zenflow.core.cel``: cel-python, its Lark parser and environment) is
loaded the first time an expression is compiled: a process whose flows have no ``when`` (a
controller at idle, say) never loads its ~15 MiB.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Final

from zenflow.api.limits import MAX_WHEN_NESTING, MAX_WHEN_SYNTAX_DEPTH

ROOTS: Final = frozenset({"params", "steps", "flow"})
STEP_FIELDS: Final = frozenset({"phase", "outputs", "retries"})
FLOW_FIELDS: Final = frozenset({"name", "namespace", "uid"})
CEL_MODULE: Final = "zenflow.core.cel"


@functools.cache
def _cel() -> ModuleType:
    """``zenflow.core.cel`` (cel-python and Lark), loaded on first use: about 15 MiB that a
    process whose flows use no ``when`` never needs."""
    return importlib.import_module(CEL_MODULE)


class ExpressionError(ValueError):
    """A ``when`` expression does not compile or does not evaluate to a bool."""


@dataclass(frozen=True)
class Reference:
    """A use of ``steps.<step>[.<field>[.<key>]]``, ``params.<name>`` or ``flow.<field>``."""

    root: str
    name: str | None
    field: str | None = None
    key: str | None = None


@dataclass(frozen=True)
class CompiledExpression:
    """A parsed expression and what it references."""

    source: str
    ast: Any
    references: tuple[Reference, ...]
    unknown_roots: tuple[str, ...]
    """Identifiers used as variables that are neither roots nor macro variables."""
    unknown_functions: tuple[str, ...] = ()
    """Functions and methods cel-python does not provide (they would fail at run time)."""

    def evaluate(
        self,
        *,
        params: Mapping[str, str],
        steps: Mapping[str, Mapping[str, Any]],
        flow: Mapping[str, str],
    ) -> bool:
        """Evaluate to a bool; raises ExpressionError on evaluation errors or a non-bool."""
        variables = {
            "params": dict(params),
            "steps": {k: dict(v) for k, v in steps.items()},
            "flow": dict(flow),
        }
        try:
            result = _cel().evaluate(self.ast, variables)
        except Exception as exc:  # cel-python raises assorted types on evaluation errors
            raise ExpressionError(_eval_message(self.source, exc)) from exc
        if isinstance(result, bool):
            return result
        if isinstance(result, Exception):  # CELEvalError is returned, not raised, at times
            raise ExpressionError(_eval_message(self.source, result))
        raise ExpressionError(
            f"when {self.source!r} must be a bool, got {type(result).__name__} {result!r}"
        )


@functools.lru_cache(maxsize=4096)
def compile_expression(source: str) -> CompiledExpression:
    """Parse ``source``; raises ExpressionError with CEL's message when it does not compile.
    Cached: flows repeat the same expressions and reconciles re-evaluate them often."""
    if not source.strip():
        raise ExpressionError("expression is empty")
    nesting = bracket_nesting(source)
    if nesting > MAX_WHEN_NESTING:
        raise ExpressionError(
            f"nests {nesting} levels of parentheses/brackets; at most {MAX_WHEN_NESTING} "
            "are allowed"
        )
    try:
        ast = _cel().parse(source)
    except Exception as exc:  # CELParseError and lark errors
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExpressionError(f"does not compile: {first}") from exc
    cel = _cel()
    depth = cel.syntax_depth(ast)
    if depth > MAX_WHEN_SYNTAX_DEPTH:
        raise ExpressionError(
            f"is too deeply nested to evaluate safely (a parse tree {depth} levels deep; at "
            f"most {MAX_WHEN_SYNTAX_DEPTH}): shorten chains of operators or fields"
        )
    chains: list[tuple[str, ...]] = []
    bound: set[str] = set()
    roots: list[str] = []
    functions: list[str] = []
    cel.walk(
        ast, roots_of_interest=ROOTS, chains=chains, bound=bound, roots=roots, functions=functions
    )
    # Nested member nodes yield every prefix of a chain; keep only the longest ones.
    prefixes = {chain[:i] for chain in chains for i in range(1, len(chain))}
    refs = tuple(dict.fromkeys(_reference(c) for c in chains if c not in prefixes))
    unknown = tuple(dict.fromkeys(r for r in roots if r not in ROOTS and r not in bound))
    unknown_functions = tuple(dict.fromkeys(f for f in functions if f not in cel.FUNCTIONS))
    return CompiledExpression(source, ast, refs, unknown, unknown_functions)


def bracket_nesting(source: str) -> int:
    """The deepest nesting of ``()``, ``[]`` and ``{}`` in ``source`` outside string literals
    (quotes of either kind, backslash escapes; triple quotes count as an empty string then an
    open one, which nests the same)."""
    deepest = depth = 0
    quote = ""
    escaped = False
    for char in source:
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}":
            depth -= 1
    return deepest


def referenced_steps(source: str) -> set[str]:
    """Names of steps the expression reads (``steps.x…`` and ``steps["x"]…``)."""
    return {
        r.name
        for r in compile_expression(source).references
        if r.root == "steps" and r.name is not None
    }


def _reference(chain: tuple[str, ...]) -> Reference:
    root = chain[0]
    rest: list[str | None] = [*chain[1:], None, None, None]
    if root == "flow":
        return Reference(root="flow", name=None, field=rest[0])
    return Reference(root=root, name=rest[0], field=rest[1], key=rest[2])


def _eval_message(source: str, exc: BaseException) -> str:
    detail = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
    # cel-python appends a dump of the whole activation; the first clause says it all.
    detail = detail.split(" (in activation", 1)[0]
    return f"when {source!r} could not be evaluated: {detail[:300]}"
