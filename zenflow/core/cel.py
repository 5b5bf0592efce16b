"""CEL on cel-python: parse, walk and evaluate ``when`` expressions — the part of
``zenflow.core.expressions`` that needs cel-python and its Lark parser (about 15 MiB of modules,
grammar tables and an ``Environment``). ``expressions`` loads this module the first time an
expression is compiled, so a process whose flows use no ``when`` never pays for it.

Everything here works on the parse tree cel-python builds; what an expression *means* for a flow
(its roots, references, errors) is ``expressions``'.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import celpy
from celpy import celtypes
from celpy.adapter import json_to_cel
from celpy.evaluation import base_functions
from lark import Token, Tree

MACROS: Final = frozenset({"all", "exists", "exists_one", "map", "filter"})
# What cel-python evaluates: its base functions (not the operators) and the macros.
FUNCTIONS: Final = frozenset(
    {name for name in base_functions if name[0].isalpha()} | MACROS | {"has"}
)

_ENV: Final = celpy.Environment()


def parse(source: str) -> Any:
    """The parse tree of ``source`` (raises cel-python's or Lark's errors)."""
    return _ENV.compile(source)


def evaluate(ast: Any, variables: Mapping[str, Any]) -> object:
    """Run a parsed expression on plain JSON-like ``variables``: a bool, another value, or an
    exception cel-python returns instead of raising (its own errors may also be raised)."""
    activation = {name: json_to_cel(value) for name, value in variables.items()}
    result = _ENV.program(ast).evaluate(activation)
    if isinstance(result, celtypes.BoolType):
        return bool(result)
    return result


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


def walk(
    node: Any,
    *,
    roots_of_interest: frozenset[str],
    chains: list[tuple[str, ...]],
    bound: set[str],
    roots: list[str],
    functions: list[str],
) -> None:
    """Collect, below ``node``: member chains starting at ``roots_of_interest``, macro variables
    (``bound``), identifiers used as variables (``roots``) and functions/methods called."""
    if not isinstance(node, Tree):
        return
    if node.data == "ident_arg" and node.children:
        functions.append(str(node.children[0]))
    if node.data == "member_dot_arg":
        method = node.children[1]
        functions.append(str(method))
        args = node.children[2] if len(node.children) > 2 else None
        if str(method) in MACROS and isinstance(args, Tree) and args.children:
            var = _bare_ident(args.children[0])
            if var is not None:
                bound.add(var)
    if node.data == "member":
        chain = _chain(node)
        if chain is not None and chain[0] in roots_of_interest:
            chains.append(tuple(chain))
    if node.data == "primary":
        ident = node.children[0] if node.children else None
        if isinstance(ident, Tree) and ident.data == "ident":
            roots.append(str(ident.children[0]))
    for child in node.children:
        walk(
            child,
            roots_of_interest=roots_of_interest,
            chains=chains,
            bound=bound,
            roots=roots,
            functions=functions,
        )


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
