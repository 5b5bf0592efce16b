"""``{{ … }}`` references in string fields: find them (for the validator) and substitute them
(for the planner, when it builds a step's Job).

Recognised references (whitespace inside the braces is optional):
  {{ params.NAME }}                 effective value of a flow param
  {{ flow.name }} / {{ flow.namespace }} / {{ flow.uid }}
  {{ steps.STEP.outputs.OUTPUT }}   an output of an upstream step
  {{ steps.STEP.phase }}            an upstream step's phase (handy in finally steps)
  {{ steps.STEP.artifacts.NAME.path }}       an output artifact's path in its workspace
  {{ steps.STEP.artifacts.NAME.workspace }}  the workspace holding it
  {{ matrix.KEY }}                  this shard's value of a matrix key
  {{ step.name }} / {{ step.attempt }}
Text in ``{{ }}`` that does not start with one of these roots (e.g. a Go template
``{{.metadata.name}}`` inside a script) is left untouched.
"""

from __future__ import annotations

import collections
import functools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

ROOTS: Final = frozenset({"params", "flow", "steps", "matrix", "step"})
FLOW_FIELDS: Final = frozenset({"name", "namespace", "uid"})
STEP_SELF_FIELDS: Final = frozenset({"name", "attempt"})
ARTIFACT_FIELDS: Final = frozenset({"path", "workspace"})

_BRACES: Final = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_SEGMENT: Final = r"[A-Za-z_][A-Za-z0-9_-]*"
_ROOT_LIKE: Final = re.compile(rf"^\s*({_SEGMENT})\s*(\.|$)")
_PATH: Final = re.compile(rf"^\s*({_SEGMENT}(?:\.{_SEGMENT})*)\s*$")


class TemplateError(ValueError):
    """A reference is malformed, or cannot be resolved when substituting."""


@dataclass(frozen=True)
class Reference:
    """One ``{{ root.a.b }}`` occurrence, already checked for shape."""

    text: str
    """The whole match including braces, e.g. ``{{ params.env }}``."""
    root: str
    parts: tuple[str, ...]
    """The path after the root: ``("a", "outputs", "x")`` for ``steps.a.outputs.x``."""

    @property
    def key(self) -> str:
        """Canonical dotted form, ``steps.a.outputs.x``."""
        return ".".join((self.root, *self.parts))


def parse_references(text: str) -> tuple[list[Reference], list[str]]:
    """References in ``text`` and error messages for malformed zenflow references."""
    if "{{" not in text:
        return [], []
    refs: list[Reference] = []
    errors: list[str] = []
    for match in _BRACES.finditer(text):
        parsed = _parse_one(match.group(0))
        if isinstance(parsed, Reference):
            refs.append(parsed)
        elif parsed is not None:
            errors.append(parsed)
    return refs, errors


_WHOLE: Final = re.compile(r"\{\{.*?\}\}", re.DOTALL)


_last_counted: tuple[str, collections.Counter[str]] = ("", collections.Counter())


def _occurrences(text: str) -> collections.Counter[str]:
    """Each distinct ``{{ … }}`` of ``text`` and its count; the last text's result is kept
    (the checks of one spec ask about the same large text several times)."""
    global _last_counted
    if _last_counted[0] is not text:
        _last_counted = (text, collections.Counter(_WHOLE.findall(text)))
    return _last_counted[1]


def unique_references(text: str) -> tuple[list[Reference], list[str]]:
    """Like ``parse_references`` but each distinct reference once (order not kept): the
    cheap way to learn *what* a large text refers to."""
    if "{{" not in text:
        return [], []
    refs: list[Reference] = []
    errors: list[str] = []
    for whole in _occurrences(text):
        parsed = _parse_one(whole)
        if isinstance(parsed, Reference):
            refs.append(parsed)
        elif parsed is not None:
            errors.append(parsed)
    return refs, errors


def references_in(text: str) -> list[Reference]:
    """The well-formed references of ``text``, in order (malformed ones are not reported)."""
    if "{{" not in text:
        return []
    return [
        ref for whole in _WHOLE.findall(text) if isinstance(ref := _parse_one(whole), Reference)
    ]


def reference_counts(text: str) -> list[tuple[Reference, int]]:
    """Each distinct well-formed reference in ``text`` and how often it occurs (order not
    kept): what a size bound needs."""
    if "{{" not in text:
        return []
    out = []
    for whole, count in _occurrences(text).items():
        parsed = _parse_one(whole)
        if isinstance(parsed, Reference):
            out.append((parsed, count))
    return out


@functools.lru_cache(maxsize=8192)
def _parse_one(whole: str) -> Reference | str | None:
    """One ``{{ … }}``: a Reference, an error message, or None when it is not ours. Cached:
    flows repeat the same few references many times."""
    inner = whole[2:-2]
    root_match = _ROOT_LIKE.match(inner)
    if root_match is None or root_match.group(1) not in ROOTS:
        return None  # not ours (e.g. a Go template); left as is
    path = _PATH.match(inner)
    if path is None:
        return f"malformed reference {whole!r}"
    root, *parts = path.group(1).split(".")
    problem = _shape_problem(root, parts)
    if problem:
        return f"{whole!r}: {problem}"
    return Reference(whole, root, tuple(parts))


def _shape_problem(root: str, parts: list[str]) -> str | None:
    if root in {"params", "matrix"}:
        return None if len(parts) == 1 else f"expected {root}.NAME"
    if root == "flow":
        if len(parts) == 1 and parts[0] in FLOW_FIELDS:
            return None
        return "expected flow.name, flow.namespace or flow.uid"
    if root == "step":
        if len(parts) == 1 and parts[0] in STEP_SELF_FIELDS:
            return None
        return "expected step.name or step.attempt"
    # steps
    if len(parts) == 3 and parts[1] == "outputs":
        return None
    if len(parts) == 2 and parts[1] == "phase":
        return None
    if len(parts) == 4 and parts[1] == "artifacts":
        if parts[3] in ARTIFACT_FIELDS:
            return None
        return "expected steps.STEP.artifacts.NAME.path or .workspace"
    return "expected steps.STEP.outputs.NAME, steps.STEP.phase or steps.STEP.artifacts.NAME.path"


def iter_strings(tree: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every string value in a dict/list tree with its field path (``…containers[0].image``)."""
    for parts, text in _strings(tree, lambda _: True):
        yield _join(path, parts), text


def find_references(
    tree: Any, path: str
) -> tuple[list[tuple[str, Reference]], list[tuple[str, str]]]:
    """All references in the strings of ``tree`` as (path, ref), and (path, error) pairs.

    Paths are only built for strings that contain ``{{``: validating a 1,000-step flow walks
    tens of thousands of strings and almost none of them need a path."""
    refs: list[tuple[str, Reference]] = []
    errors: list[tuple[str, str]] = []
    for parts, text in _strings(tree, _has_braces):
        found, bad = parse_references(text)
        if found or bad:
            where = _join(path, parts)
            refs.extend((where, r) for r in found)
            errors.extend((where, e) for e in bad)
    return refs, errors


def _has_braces(text: str) -> bool:
    return "{{" in text


# A path as a linked list (parent, key) so that no string is built while walking.
_Path = tuple[Any, str | int] | None


def _strings(tree: Any, wanted: Callable[[str], bool]) -> Iterator[tuple[_Path, str]]:
    stack: list[tuple[_Path, Any]] = [(None, tree)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, str):
            if wanted(node):
                yield where, node
        elif isinstance(node, Mapping):
            for key, value in reversed(list(node.items())):
                if isinstance(value, str | Mapping | list):
                    stack.append(((where, str(key)), value))
        elif isinstance(node, list):
            for i in range(len(node) - 1, -1, -1):
                value = node[i]
                if isinstance(value, str | Mapping | list):
                    stack.append(((where, i), value))


def _join(path: str, parts: _Path) -> str:
    keys: list[str | int] = []
    while parts is not None:
        parts, key = parts
        keys.append(key)
    out = path
    for key in reversed(keys):
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else key)
    return out


@dataclass(frozen=True)
class TemplateContext:
    """Values available to one step's substitution."""

    params: Mapping[str, str] = field(default_factory=dict)
    flow: Mapping[str, str] = field(default_factory=dict)
    step_outputs: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    step_phases: Mapping[str, str] = field(default_factory=dict)
    matrix: Mapping[str, str] = field(default_factory=dict)
    step: Mapping[str, str] = field(default_factory=dict)
    step_artifacts: Mapping[str, Mapping[str, Mapping[str, str]]] = field(default_factory=dict)
    """step → artifact → field (path, workspace) → value."""

    def resolve(self, ref: Reference) -> str:
        """The value of ``ref``; raises TemplateError when it is not available."""
        value: str | None
        if ref.root == "params":
            value = self.params.get(ref.parts[0])
        elif ref.root == "flow":
            value = self.flow.get(ref.parts[0])
        elif ref.root == "matrix":
            value = self.matrix.get(ref.parts[0])
        elif ref.root == "step":
            value = self.step.get(ref.parts[0])
        elif ref.parts[1] == "phase":
            value = self.step_phases.get(ref.parts[0])
        elif ref.parts[1] == "artifacts":
            artifact = self.step_artifacts.get(ref.parts[0], {}).get(ref.parts[2], {})
            value = artifact.get(ref.parts[3])
        else:
            value = self.step_outputs.get(ref.parts[0], {}).get(ref.parts[2])
        if value is None:
            raise TemplateError(f"{ref.text}: no value for {ref.key}")
        return value


def render_string(text: str, resolve: Callable[[Reference], str]) -> str:
    """``text`` with every zenflow reference replaced; malformed ones raise TemplateError.

    One pass over the original text: a substituted value is never scanned again, so an output
    that itself contains ``{{ params.x }}`` stays literal text (no second-order expansion)."""
    if "{{" not in text:
        return text

    def substitute(match: re.Match[str]) -> str:
        whole = match.group(0)
        parsed = _parse_one(whole)
        if parsed is None:
            return whole  # not ours (e.g. a Go template): left as is
        if isinstance(parsed, str):
            raise TemplateError(parsed)
        return resolve(parsed)

    return _BRACES.sub(substitute, text)


def render(tree: Any, context: TemplateContext) -> Any:
    """A copy of a dict/list tree with references substituted in every string (keys too are
    left as they are). Raises TemplateError on a missing value."""
    if isinstance(tree, str):
        return render_string(tree, context.resolve)
    if isinstance(tree, Mapping):
        return {k: render(v, context) for k, v in tree.items()}
    if isinstance(tree, list):
        return [render(v, context) for v in tree]
    return tree
