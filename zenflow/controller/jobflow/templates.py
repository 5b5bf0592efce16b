"""Templates in the JobFlow reconciler: the spec a flow runs, resolved once from the templates
it refers to (``zenflow.core.flowtemplates``).

``FlowTemplates.view(obj)`` is the flow as it runs (the resolved spec stored in
``status.resolved`` swapped in; the object itself for flows without templates). ``resolve``
resolves a flow that needs it: each template from the informer caches (JobFlowTemplates,
ClusterJobFlowTemplates), or, on a cache miss, read from the API server (a template created just
before the flow may not be in the cache yet; 404 means it does not exist). Then:

- every template found and the references fit: the view with the new record, which the
  reconciler writes with the first status patch (``keep``);
- a template missing: ``TemplateNotFoundError`` (the reconciler records a Failed status, reason
  ``TemplateNotFound``, naming the template and the referring field; not retried);
- a reference that does not fit its template: ``InvalidFlowError`` (as any invalid flow).

The resolved spec itself is validated by the reconciler's spec cache like any spec.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pydantic

from zenflow.api.jobflow import JobFlow, JobFlowSpec
from zenflow.api.templateref import (
    CLUSTER_TEMPLATE_KIND,
    ResolvedSpec,
    template_api_path,
)
from zenflow.controller.jobflow.parsing import InvalidFlowError, parse_status
from zenflow.core.flowtemplates.resolve import TemplateKey, needed, resolve_spec
from zenflow.core.flowtemplates.stored import needs_resolution, view
from zenflow.core.planning.plan import Plan
from zenflow.errors import NotFoundError
from zenflow.kube.rest import Rest
from zenflow.logging import get_logger
from zenflow.machinery.store import Store

log = get_logger(__name__)


class TemplateNotFoundError(Exception):
    """A template the flow refers to does not exist; ``flow`` is as much of it as parsed."""

    def __init__(self, flow: JobFlow, message: str) -> None:
        super().__init__(message)
        self.flow = flow
        self.message = message


class FlowTemplates:
    """Template lookups of one reconciler: ``templates``/``cluster`` are the informer stores
    (None: read every template from the API server through ``rest``)."""

    def __init__(
        self, *, rest: Rest | None, templates: Store | None = None, cluster: Store | None = None
    ) -> None:
        self._rest, self._templates, self._cluster = rest, templates, cluster

    @staticmethod
    def view(obj: dict[str, Any]) -> dict[str, Any]:
        return dict(view(obj))

    async def resolve(self, obj: dict[str, Any]) -> tuple[dict[str, Any], ResolvedSpec | None]:
        """(the view to run, the record to keep in the status); resolves when needed."""
        if not needs_resolution(obj):
            current = view(obj)
            raw = (current.get("status") or {}).get("resolved")
            return dict(current), ResolvedSpec.model_validate(raw) if raw else None
        meta = obj.get("metadata") or {}
        namespace = str(meta.get("namespace", ""))
        spec = obj.get("spec") or {}
        wanted = needed(spec, namespace=namespace)
        found = await self._fetch({n.key for n in wanted})
        resolution = resolve_spec(spec, namespace=namespace, templates=found)
        if resolution.missing:
            message = "; ".join(f"{path}: {text}" for path, text in resolution.missing)
            log.info("flow_template_not_found", flow=meta.get("name"), message=message)
            raise TemplateNotFoundError(_partial(obj), message)
        if resolution.spec is None:
            problems = "; ".join(f"{path}: {text}" for path, text in resolution.problems)
            raise InvalidFlowError(_partial(obj), problems)
        record = ResolvedSpec.of(
            generation=int(meta.get("generation") or 0),
            templates=resolution.sources,
            spec=resolution.spec,
        )
        log.info(
            "flow_templates_resolved",
            flow=meta.get("name"),
            templates=[f"{s.kind}/{s.name}@{s.resource_version}" for s in resolution.sources],
        )
        return dict(view(obj, record)), record

    @staticmethod
    def keep(result: Plan, record: ResolvedSpec | None) -> None:
        """The resolved spec stays in every status the reconciler writes."""
        if record is not None and result.status.resolved is None:
            result.status.resolved = record

    async def _fetch(self, keys: set[TemplateKey]) -> dict[TemplateKey, Mapping[str, Any]]:
        found: dict[TemplateKey, Mapping[str, Any]] = {}
        misses = []
        for key in keys:
            cached = self._cached(key)
            if cached is not None:
                found[key] = cached
            else:
                misses.append(key)
        if misses and self._rest is not None:
            read = await asyncio.gather(*(self._get(key) for key in misses))
            found.update({key: obj for key, obj in zip(misses, read, strict=True) if obj})
        return found

    def _cached(self, key: TemplateKey) -> Mapping[str, Any] | None:
        kind, namespace, name = key
        if kind == CLUSTER_TEMPLATE_KIND:
            return self._cluster.get(name) if self._cluster is not None else None
        if self._templates is None:
            return None
        return self._templates.get(f"{namespace}/{name}")

    async def _get(self, key: TemplateKey) -> dict[str, Any] | None:
        assert self._rest is not None
        try:
            return await self._rest.get(template_api_path(*key))
        except NotFoundError:
            return None


def _partial(obj: Mapping[str, Any]) -> JobFlow:
    """As much of the flow as parses (for the status of a flow that cannot run)."""
    try:
        spec = JobFlowSpec.model_validate(obj.get("spec") or {})
    except pydantic.ValidationError:
        spec = JobFlowSpec.model_construct(steps=[])
    return JobFlow.model_construct(
        api_version=str(obj.get("apiVersion", "")),
        kind=str(obj.get("kind", "")),
        metadata=dict(obj.get("metadata") or {}),
        spec=spec,
        status=parse_status(obj.get("status")),
    )
