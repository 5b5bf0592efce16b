"""The SDK's errors, part of zenflow's exception tree (``zenflow.errors.ZenflowError``).

API failures reach SDK users as ``zenflow.errors.KubeError`` subclasses (``NotFoundError``,
``ConflictError``, …) with the API server's message; the SDK adds only what is its own."""

from __future__ import annotations

from zenflow.core.validation.problems import ValidationReport
from zenflow.errors import ZenflowError

__all__ = ["FlowDefinitionError", "FlowInvalidError", "WaitTimeoutError"]


class FlowDefinitionError(ZenflowError, ValueError):
    """The builder was used wrongly (a duplicate step name, a field of the wrong shape); the
    message names the step and field."""


class FlowInvalidError(ZenflowError, ValueError):
    """The shared validator found errors; ``report`` holds every problem (field-named), the
    message lists them."""

    def __init__(self, name: str, report: ValidationReport) -> None:
        super().__init__(f"JobFlow {name!r} is invalid: {report.summary()}")
        self.report = report


class WaitTimeoutError(ZenflowError, TimeoutError):
    """``wait`` gave up before the flow reached what it waited for; the message says the last
    phase seen."""
