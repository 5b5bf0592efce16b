"""Every problem of a document in one run of ``zenflow validate``, structural ones included.

The validator judges a document whose shape does not fit the API models by that shape alone:
one bad field (``retryPolicy.limit: -1``) hides the invalid name, the uncompilable ``when`` and
the Job template's mistakes until it is fixed. Here, after the validator's first report, the
fields pydantic refuses are repaired in a copy (an unknown or bad optional field removed, a bad
or missing required one given a neutral value of its type, a bound, or the first allowed
value) and the copy validated again, until it has the models' shape or nothing more can be
repaired (``MAX_PASSES``). Problems found in a later pass are kept unless they are about a
repaired field or one under it (those are the repair's own doing, and the first pass reported
the real problem there). The webhook and the controller do not do this: they refuse at the
first structural problem, with the validator's messages.

Each unknown field also gets, when the validator offered no same-level suggestion, the path
where it probably belongs (``suggest.elsewhere``).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from zenflow.cli.validatefiles.models import (
    Field,
    Loc,
    field_at,
    format_path,
    is_model,
    model_for,
    real_loc,
)
from zenflow.cli.validatefiles.suggest import elsewhere
from zenflow.core.validation.problems import Problem, ValidationReport

MAX_PASSES: Final = 6
_QUOTED = re.compile(r"'([^']*)'")
_REMOVE = object()

Validate = Callable[[Any], ValidationReport]


@dataclass
class Findings:
    """Everything found about one document."""

    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    passes: int = 1

    def add(self, report: ValidationReport, *, repaired: list[str]) -> None:
        seen = {str(p) for p in [*self.errors, *self.warnings]}
        for kept, found in ((self.errors, report.errors), (self.warnings, report.warnings)):
            for problem in found:
                if str(problem) not in seen and not _under(problem.path, repaired):
                    kept.append(problem)
                    seen.add(str(problem))


def _under(path: str, repaired: list[str]) -> bool:
    return any(path == r or path.startswith((r + ".", r + "[")) for r in repaired)


def every_problem(obj: Any, validate: Validate) -> Findings:
    """The validator's problems with ``obj``, then those its structural errors hid."""
    findings = Findings()
    findings.add(validate(obj), repaired=[])
    model = model_for(obj)
    if model is None:
        return findings
    hints: dict[str, str] = {}
    current, repaired = obj, []
    for _ in range(MAX_PASSES):
        errors = _structural(model, current)
        if not errors:
            break
        repairs: dict[Loc, Any] = {}
        for error in errors:
            loc = real_loc(current, error["loc"], missing=error["type"] == "missing")
            if error["type"] == "extra_forbidden" and (hint := elsewhere(model, loc)):
                hints.setdefault(format_path(loc), hint)
            value = _repair(model, loc, error)
            if loc and value is not None:
                repairs.setdefault(loc, value)
        if not repairs:
            break
        current = _apply(current, repairs)
        repaired += [format_path(loc) for loc in repairs]
        findings.passes += 1
        findings.add(validate(current), repaired=repaired)
    findings.errors = [_with_hint(p, hints) for p in findings.errors]
    return findings


def _structural(model: type[BaseModel], data: Any) -> list[ErrorDetails]:
    try:
        model.model_validate(data)
    except ValidationError as exc:
        return exc.errors(include_url=False)
    return []


def _with_hint(problem: Problem, hints: Mapping[str, str]) -> Problem:
    hint = hints.get(problem.path)
    if hint is None or "did you mean" in problem.message:
        return problem
    return Problem(problem.path, f'{problem.message} (did you mean "{hint}"?)')


def _repair(model: type[BaseModel], loc: Loc, error: ErrorDetails) -> Any:
    """What to put at ``loc`` (``_REMOVE``: remove it), or None when it cannot be repaired."""
    kind = error["type"]
    if kind == "extra_forbidden":
        return _REMOVE
    known = field_at(model, loc)
    if kind != "missing" and known is not None and not known.required and not known.item:
        return _REMOVE
    value = _value_for(error, known)
    if value is None and known is None and kind != "missing":
        return _REMOVE if loc and isinstance(loc[-1], str) else None
    return value


def _value_for(error: ErrorDetails, known: Field | None) -> Any:
    """A value the field accepts: from the error (a bound, an allowed value, a cut), else
    a neutral value of the field's type."""
    kind, ctx, given = error["type"], error.get("ctx") or {}, error.get("input")
    if kind in ("greater_than_equal", "less_than_equal"):
        return ctx.get("ge", ctx.get("le"))
    if kind in ("greater_than", "less_than"):
        bound = ctx.get("gt", ctx.get("lt"))
        return bound + (1 if kind == "greater_than" else -1) if isinstance(bound, int) else None
    if kind == "literal_error":
        allowed = _QUOTED.findall(str(ctx.get("expected", "")))
        return allowed[0] if allowed else None
    if kind in ("string_too_long", "too_long") and isinstance(given, str | list):
        return given[: int(ctx.get("max_length", 0))]
    return _neutral(known.annotation if known is not None else None)


def _neutral(annotation: Any) -> Any:
    origin = getattr(annotation, "__origin__", None)
    if annotation is str:
        return "x"
    if annotation is bool:
        return False
    if annotation in (int, float):
        return annotation(0)
    if origin in (list, tuple) or annotation in (list, tuple):
        return []
    if origin is dict or annotation is dict or is_model(annotation):
        return {}
    return None


def _apply(data: Any, repairs: Mapping[Loc, Any]) -> Any:
    """A deep copy of ``data`` with each location removed or set (parents first)."""
    out = copy.deepcopy(data)
    for loc, value in sorted(repairs.items(), key=lambda item: len(item[0])):
        parent: Any = out
        for part in loc[:-1]:
            try:
                parent = parent[part]
            except (KeyError, IndexError, TypeError):
                parent = None
                break
        last = loc[-1]
        if isinstance(parent, dict) and isinstance(last, str):
            if value is _REMOVE:
                parent.pop(last, None)
            else:
                parent[last] = value
        elif isinstance(parent, list) and isinstance(last, int) and last < len(parent):
            parent[last] = None if value is _REMOVE else value
    return out
