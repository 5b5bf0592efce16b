"""The webhook's template cache against the real local apiserver (integration).

Aspects: once the cache holds a template, a flow using it is judged without reading it; a
template the cache does not hold yet (created a moment ago, before its watch event) is read, so
a fresh template is never taken for a missing one; a missing template is refused naming it; an
edited template is judged in its new form once the cache has it; after ``stop`` the informers'
tasks are gone.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from typing import Any

import pytest
from kubernetes_asyncio import client

from tests.support.wait import eventually
from tests.webhook.hostile import review_of
from zenflow.api.constants import API_VERSION, GROUP, VERSION
from zenflow.core.validation.validator import validate_object
from zenflow.kube.rest import Rest
from zenflow.kube.transport import Query
from zenflow.webhook.admission import Outcome, handle_review
from zenflow.webhook.templatecache import TemplateCache
from zenflow.webhook.templatejudge import Found, judge
from zenflow.webhook.templates import TemplateChecker

pytestmark = pytest.mark.integration


def template(name: str) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "JobFlowTemplate",
        "metadata": {"name": name},
        "spec": {
            "params": [{"name": "image", "default": "busybox"}],
            "steps": [
                {
                    "name": "scan",
                    "run": {"image": "busybox", "command": ["echo", "{{ params.image }}"]},
                }
            ],
        },
    }


def flow_using(name: str) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "JobFlow",
        "metadata": {"name": "f"},
        "spec": {"steps": [{"name": "s", "templateRef": {"name": name}}]},
    }


class CountingRest(Rest):
    """Counts the GETs the checker makes."""

    gets: int = 0

    async def get(self, path: str, query: Query = ()) -> dict[str, Any]:
        self.gets += 1
        return await super().get(path, query)


async def judge_here(outcome: Outcome, found: Found) -> Outcome:
    return judge(outcome, found)


@pytest.fixture
async def cache(api_client: client.ApiClient) -> AsyncIterator[TemplateCache]:
    cached = TemplateCache(api_client)
    cached.start()
    yield cached
    await cached.stop()


async def checked(checker: TemplateChecker, namespace: str, name: str) -> Outcome:
    outcome = handle_review(
        review_of(flow_using(name), uid=name, namespace=namespace), validate=validate_object
    )
    assert outcome.result == "allowed"
    deadline = asyncio.get_running_loop().time() + 30
    return await checker.check(outcome, deadline=deadline, judge=judge_here)


async def test_templates_are_judged_from_the_cache_and_read_when_not_cached(
    api_client: client.ApiClient, namespace: str, cache: TemplateCache
) -> None:
    objects = client.CustomObjectsApi(api_client)
    rest = CountingRest(api_client)
    checker = TemplateChecker(rest, cache=cache)

    await objects.create_namespaced_custom_object(
        GROUP, VERSION, namespace, "jobflowtemplates", template("cached")
    )
    key = ("JobFlowTemplate", namespace, "cached")
    await eventually(lambda: cache.get(key), what="the template in the cache")
    assert (await checked(checker, namespace, "cached")).result == "allowed"
    assert rest.gets == 0

    # Not in the cache yet, or already: either way it is found, never taken for missing.
    await objects.create_namespaced_custom_object(
        GROUP, VERSION, namespace, "jobflowtemplates", template("fresh")
    )
    assert (await checked(checker, namespace, "fresh")).result == "allowed"

    missing = await checked(checker, namespace, "nowhere")
    assert missing.result == "denied"
    assert f'JobFlowTemplate "nowhere" in namespace "{namespace}" not found' in str(
        missing.messages
    )
    assert rest.gets >= 1  # the missing one was read

    # Edited: the param becomes required, and the flow gives none.
    stored = await objects.get_namespaced_custom_object(
        GROUP, VERSION, namespace, "jobflowtemplates", "cached"
    )
    edited = copy.deepcopy(stored)
    edited["spec"]["params"][0] = {"name": "image", "required": True}
    await objects.replace_namespaced_custom_object(
        GROUP, VERSION, namespace, "jobflowtemplates", "cached", edited
    )
    await eventually(
        lambda: (cache.get(key) or {}).get("spec", {}).get("params", [{}])[0].get("required"),
        what="the edit in the cache",
    )
    refused = await checked(checker, namespace, "cached")
    assert refused.result == "denied"
    assert 'param "image"' in str(refused.messages)


async def test_stop_ends_the_informers(api_client: client.ApiClient) -> None:
    cache = TemplateCache(api_client)
    cache.start()
    await eventually(
        lambda: cache.templates.has_synced() and cache.cluster_templates.has_synced(),
        what="both informers synced",
    )
    names = {"webhook-jobflowtemplates-informer", "webhook-clusterjobflowtemplates-informer"}
    tasks = {t for t in asyncio.all_tasks() if t.get_name() in names}
    assert len(tasks) == 2
    await cache.stop()
    assert all(t.done() for t in tasks)
