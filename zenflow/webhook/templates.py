"""Flows that use templates: the templates for their judgement, cached or read.

The review worker judges the object as written; for an admitted JobFlow or CronJobFlow that
refers to templates (``Outcome.templates``), ``TemplateChecker.check`` takes each template from
its cache (``zenflow.webhook.templatecache``, when given: informers like those the controller
resolves from) or, when the cache does not hold it, reads it (GET, on the webhook's own API
client, under the review's deadline); then it hands the outcome and the templates to ``judge``
— the server's review executor, which runs ``zenflow.webhook.templatejudge`` where the reviews
run (a review worker process by default), so no validation holds this process's event loop. A
template that does not exist, a reference that does not fit it or a problem of the resolved flow
denies the review with the referring field named, as the controller would fail the flow; the
access the author must hold is recomputed from the resolved flow.

Fail closed: a template that cannot be read (API server unreachable, the webhook's RBAC
missing, the deadline passing) denies the review with a message saying so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from zenflow.api.templateref import template_api_path
from zenflow.core.flowtemplates.resolve import TemplateKey, describe
from zenflow.errors import KubeError, NotFoundError
from zenflow.kube.rest import Rest
from zenflow.logging import get_logger
from zenflow.webhook.admission import Outcome, invalid
from zenflow.webhook.templatecache import TemplateCache
from zenflow.webhook.templatejudge import Judge

log = get_logger(__name__)


class TemplateChecker:
    """Templates for the judgement of flows resolved from them: from ``cache`` (if any), else
    read through ``rest``."""

    def __init__(self, rest: Rest, *, cache: TemplateCache | None = None) -> None:
        self._rest = rest
        self._cache = cache

    def start(self) -> None:
        if self._cache is not None:
            self._cache.start()

    async def stop(self) -> None:
        if self._cache is not None:
            await self._cache.stop()

    async def check(self, outcome: Outcome, *, deadline: float, judge: Judge) -> Outcome:
        use = outcome.templates
        if outcome.result != "allowed" or use is None:
            return outcome
        found: dict[TemplateKey, Mapping[str, Any]] = {}
        misses = []
        for key in sorted({n.key for n in use.needed}):
            cached = self._cache.get(key) if self._cache is not None else None
            if cached is not None:
                found[key] = cached
            else:
                misses.append(key)
        try:
            async with asyncio.timeout_at(deadline):
                read = await asyncio.gather(*(self._get(key) for key in misses))
        except TimeoutError:
            return invalid(outcome, ["spec: the templates could not be read in time; try again"])
        except KubeError as exc:
            log.warning("admission_template_read_failed", error=str(exc))
            return invalid(outcome, [f"spec: a template could not be read: {exc}"])
        found.update({key: obj for key, obj in zip(misses, read, strict=True) if obj})
        return await judge(outcome, found)

    async def _get(self, key: TemplateKey) -> Mapping[str, Any] | None:
        try:
            return await self._rest.get(template_api_path(*key))
        except NotFoundError:
            return None
        except KubeError as exc:
            raise KubeError(f"{describe(key)}: {exc}", status=exc.status) from exc
