"""Validation of flows that use templates, with the templates read from the API server.

The review worker judges the object as written; for an admitted JobFlow or CronJobFlow that
refers to templates (``Outcome.templates``), ``TemplateChecker.check`` reads each template
(GET, on the webhook's own API client, under the review's deadline) and runs the shared
validator on the resolved flow (``zenflow.core.validation.templated``) in a thread, so the event
loop stays free. A template that does not exist, a reference that does not fit it (a step or
param the template does not declare, a required param without a value) or a problem of the
resolved flow denies the review with the referring field named, as the controller would fail
the flow. The access the author must hold (``zenflow.webhook.access``) is recomputed from the
resolved flow, so a ServiceAccount or claim a template brings is checked too.

Fail closed: a template that cannot be read (API server unreachable, the webhook's RBAC
missing, the deadline passing) denies the review with a message saying so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from zenflow.api.templateref import template_api_path
from zenflow.core.flowtemplates.resolve import TemplateKey, describe
from zenflow.core.validation.problems import ValidationReport
from zenflow.core.validation.templated import resolve_object, validate_with_templates, with_spec
from zenflow.errors import KubeError, NotFoundError
from zenflow.kube.rest import Rest
from zenflow.logging import get_logger
from zenflow.webhook.access import AccessPlan, required_access
from zenflow.webhook.admission import Outcome, invalid
from zenflow.webhook.warmup import WARM_UP_OBJECTS

log = get_logger(__name__)


class TemplateChecker:
    """Reads templates through ``rest`` and validates flows resolved from them."""

    def __init__(self, rest: Rest) -> None:
        self._rest = rest

    async def warm_up(self) -> None:
        """Judge the warm-up objects once, as ``check`` judges: in a thread of this process.
        The validator's lazily loaded parts (the CEL compiler above all: ~170 ms) and that
        thread are then ready before the first review that uses a template; otherwise that
        review pays for them, holding the GIL the event loop needs for every other review."""
        for obj in WARM_UP_OBJECTS:
            await asyncio.to_thread(validate_with_templates, obj, {}, namespace="warm-up")

    async def check(self, outcome: Outcome, *, deadline: float) -> Outcome:
        use = outcome.templates
        if outcome.result != "allowed" or use is None:
            return outcome
        keys = sorted({n.key for n in use.needed})
        try:
            async with asyncio.timeout_at(deadline):
                read = await asyncio.gather(*(self._get(key) for key in keys))
                found = {key: obj for key, obj in zip(keys, read, strict=True) if obj}
                report, access = await asyncio.to_thread(self._judge, outcome, found)
        except TimeoutError:
            return invalid(outcome, ["spec: the templates could not be read in time; try again"])
        except KubeError as exc:
            log.warning("admission_template_read_failed", error=str(exc))
            return invalid(outcome, [f"spec: a template could not be read: {exc}"])
        if not report.ok:
            return invalid(outcome, [str(p) for p in report.errors])
        return replace(outcome, access=access)

    @staticmethod
    def _judge(
        outcome: Outcome, found: Mapping[TemplateKey, Mapping[str, Any]]
    ) -> tuple[ValidationReport, AccessPlan | None]:
        """The resolved flow's report, and the access its author needs to run it: what the
        templates make the controller do counts too (a ServiceAccount a template names)."""
        use = outcome.templates
        assert use is not None
        report = validate_with_templates(use.obj, found, namespace=use.namespace)
        resolution = resolve_object(use.obj, found, namespace=use.namespace)
        if not report.ok or resolution is None or resolution.spec is None:
            return report, outcome.access
        resolved = required_access(outcome.kind, use.namespace, with_spec(use.obj, resolution.spec))
        if outcome.access is None:
            return report, resolved
        known = set(outcome.access.requirements)
        extra = tuple(r for r in resolved.requirements if r not in known)
        return report, replace(
            outcome.access,
            requirements=outcome.access.requirements + extra,
            problems=tuple(dict.fromkeys(outcome.access.problems + resolved.problems)),
        )

    async def _get(self, key: TemplateKey) -> Mapping[str, Any] | None:
        try:
            return await self._rest.get(template_api_path(*key))
        except NotFoundError:
            return None
        except KubeError as exc:
            raise KubeError(f"{describe(key)}: {exc}", status=exc.status) from exc
