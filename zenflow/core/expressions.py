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
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import celpy
from celpy import celtypes
from celpy.adapter import json_to_cel
from celpy.evaluation import base_functions
from lark import Token, Tree

from zenflow.api.limits import MAX_WHEN_NESTING, MAX_WHEN_SYNTAX_DEPTH

ROOTS: Final = frozenset({"params", "steps", "flow"})
STEP_FIELDS: Final = frozenset({"phase", "outputs", "retries"})
FLOW_FIELDS: Final = frozenset({"name", "namespace", "uid"})
_MACROS: Final = frozenset({"all", "exists", "exists_one", "map", "filter"})
# What cel-python evaluates: its base functions (not the operators) and the macros.
FUNCTIONS: Final = frozenset(
    {name for name in base_functions if name[0].isalpha()} | _MACROS | {"has"}
)

_ENV: Final = celpy.Environment()


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
        activation = {
            "params": json_to_cel(dict(params)),
            "steps": json_to_cel({k: dict(v) for k, v in steps.items()}),
            "flow": json_to_cel(dict(flow)),
        }
        try:
            result = _ENV.program(self.ast).evaluate(activation)
        except Exception as exc:  # cel-python raises assorted types on evaluation errors
            raise ExpressionError(_eval_message(self.source, exc)) from exc
        if isinstance(result, celtypes.BoolType):
            return bool(result)
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
        ast = _ENV.compile(source)
    except Exception as exc:  # CELParseError and lark errors
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExpressionError(f"does not compile: {first}") from exc
    depth = syntax_depth(ast)
    if depth > MAX_WHEN_SYNTAX_DEPTH:
        raise ExpressionError(
            f"is too deeply nested to evaluate safely (a parse tree {depth} levels deep; at "
            f"most {MAX_WHEN_SYNTAX_DEPTH}): shorten chains of operators or fields"
        )
    chains: list[tuple[str, ...]] = []
    bound: set[str] = set()
    roots: list[str] = []
    functions: list[str] = []
    _walk(ast, chains=chains, bound=bound, roots=roots, functions=functions)
    # Nested member nodes yield every prefix of a chain; keep only the longest ones.
    prefixes = {chain[:i] for chain in chains for i in range(1, len(chain))}
    refs = tuple(dict.fromkeys(_reference(c) for c in chains if c not in prefixes))
    unknown = tuple(dict.fromkeys(r for r in roots if r not in ROOTS and r not in bound))
    unknown_functions = tuple(dict.fromkeys(f for f in functions if f not in FUNCTIONS))
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


def syntax_depth(tree: Any) -> int:
    """How deep a parse tree is (iteratively: the tree may be deeper than the stack)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(node, Tree):
            stack.extend((child, depth + 1) for child in node.children)
    return deepest


def referenced_steps(source: str) -> set[str]:
    """Names of steps the expression reads (``steps.x…`` and ``steps["x"]…``)."""
    return {
        r.name
        for r in compile_expression(source).references
        if r.root == "steps" and r.name is not None
    }


def _walk(
    node: Any,
    *,
    chains: list[tuple[str, ...]],
    bound: set[str],
    roots: list[str],
    functions: list[str],
) -> None:
    if not isinstance(node, Tree):
        return
    if node.data == "ident_arg" and node.children:
        functions.append(str(node.children[0]))
    if node.data == "member_dot_arg":
        method = node.children[1]
        functions.append(str(method))
        args = node.children[2] if len(node.children) > 2 else None
        if str(method) in _MACROS and isinstance(args, Tree) and args.children:
            var = _bare_ident(args.children[0])
            if var is not None:
                bound.add(var)
    if node.data == "member":
        chain = _chain(node)
        if chain is not None and chain[0] in ROOTS:
            chains.append(tuple(chain))
    if node.data == "primary":
        ident = node.children[0] if node.children else None
        if isinstance(ident, Tree) and ident.data == "ident":
            roots.append(str(ident.children[0]))
    for child in node.children:
        _walk(child, chains=chains, bound=bound, roots=roots, functions=functions)


def _chain(member: Tree[Any]) -> list[str] | None:
    """A ``member`` node of the form root(.field | ["key"])* as a list of names."""
    parts: list[str] = []
    node: Any = member
    while isinstance(node, Tree):
        if node.data == "member" and len(node.children) == 1:
            node = node.children[0]
        elif node.data == "member_dot":
            parts.append(str(node.children[1]))
            node = node.children[0]
        elif node.data == "member_index":
            key = _string_literal(node.children[1])
            if key is None:
                return None
            parts.append(key)
            node = node.children[0]
        elif node.data == "primary":
            ident = node.children[0]
            if isinstance(ident, Tree) and ident.data == "ident":
                parts.append(str(ident.children[0]))
                parts.reverse()
                return parts
            return None
        else:
            return None
    return None


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


def _bare_ident(expr: Any) -> str | None:
    """The identifier if ``expr`` is just one (a macro's variable)."""
    node = expr
    while isinstance(node, Tree) and len(node.children) == 1 and node.data != "ident":
        node = node.children[0]
    if isinstance(node, Tree) and node.data == "ident":
        return str(node.children[0])
    return None


def _string_literal(expr: Any) -> str | None:
    node = expr
    while isinstance(node, Tree) and len(node.children) == 1 and node.data != "literal":
        node = node.children[0]
    if isinstance(node, Tree) and node.data == "literal":
        token = node.children[0]
        if isinstance(token, Token) and token.type == "STRING_LIT":
            text = str(token)
            if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
                return text[1:-1]
    return None
