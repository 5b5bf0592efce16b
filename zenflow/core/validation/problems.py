"""The result types of validation: a ``Problem`` (field path + message), a
``ValidationReport`` (errors and warnings), and the ``Collector`` checks write into; ``guarded``
turns an exception escaping a check into an error naming the part being checked."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    """One finding, e.g. ``spec.steps[3].dependencies[0]: unknown step "trasnform"``."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


@dataclass(frozen=True)
class ValidationReport:
    """Every error (the object is invalid) and warning (allowed, but suspicious) found."""

    errors: tuple[Problem, ...] = ()
    warnings: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings do not count)."""
        return not self.errors

    def summary(self, *, limit: int = 10) -> str:
        """Errors as one line each (at most ``limit``), for conditions and webhook denials."""
        lines = [str(p) for p in self.errors[:limit]]
        if len(self.errors) > limit:
            lines.append(f"… and {len(self.errors) - limit} more")
        return "; ".join(lines)


@dataclass
class Collector:
    """Accumulates problems while checks run; ``report()`` freezes them."""

    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def error(self, path: str, message: str) -> None:
        self.errors.append(Problem(path, message))

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(Problem(path, message))

    def report(self) -> ValidationReport:
        return ValidationReport(tuple(self.errors), tuple(self.warnings))


def describe_exception(exc: BaseException) -> str:
    """``Type: message`` of ``exc``, short enough for a condition (a 10,000-character message or
    one whose ``str`` itself fails must not spoil the report)."""
    try:
        text = str(exc)
    except Exception:
        text = ""
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= 200 else text[:199] + "…"


@contextlib.contextmanager
def guarded(out: Collector, path: str, what: str) -> Iterator[None]:
    """Run a check; an exception it raises becomes an error at ``path`` (the validator is
    total: a flow it cannot judge is invalid, with a message, never a crash)."""
    try:
        yield
    except Exception as exc:
        out.error(path, f"{what} could not be checked: {describe_exception(exc)}")
