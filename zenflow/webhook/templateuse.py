"""Which admitted objects need their templates looked at: pure, run in the review worker.

A JobFlow or CronJobFlow whose (flow) spec refers to a JobFlowTemplate or
ClusterJobFlowTemplate is marked on its ``Outcome`` with a ``TemplateUse``: the object and the
templates it names. The server then reads those templates and validates the resolved flow
(``zenflow.webhook.templates``); the worker cannot, as it has no API access.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from zenflow.core.flowtemplates.resolve import Needed, needed, uses_templates
from zenflow.core.validation.templated import spec_location


@dataclass(frozen=True)
class TemplateUse:
    """An admitted object that refers to templates, and which (with the referring fields)."""

    obj: Mapping[str, Any]
    namespace: str
    needed: tuple[Needed, ...]


def template_use(obj: Mapping[str, Any], *, namespace: str) -> TemplateUse | None:
    located = spec_location(obj)
    if located is None or not uses_templates(located[1]):
        return None
    path, spec = located
    return TemplateUse(obj, namespace, tuple(needed(spec, namespace=namespace, path=path)))
