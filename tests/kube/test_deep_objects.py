"""Objects nested deeper than the decoder's bound, stored by the real API server (issue 9).

The API server stores objects up to 10,000 levels deep wherever a CRD preserves unknown fields
(zenflow's own CRDs no longer do, but a cluster may still run older ones, and the informers are
generic). Aspects: with a 3,000-level and a 9,000-level object among ordinary ones, the informer
(the controller's own list+watch and transform) still syncs, caches every ordinary object, and
caches the deep ones as placeholders holding their metadata; the same holds for objects that
arrive through the watch afterwards, and an ordinary object's update still arrives after them;
each deep object is counted in ``zenflow_informer_undecodable_objects_total``. Before, the
informer's list raised RecursionError (the interpreter's decoder at ~8,000 levels, the cache's
transform at ~1,000) and retried for ever: no cache ever synced.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from kubernetes_asyncio import client
from prometheus_client import CollectorRegistry

from tests.support.wait import eventually
from zenflow.errors import AlreadyExistsError
from zenflow.kube.listwatch import KubeListerWatcher
from zenflow.kube.rest import Rest
from zenflow.machinery.informer import Informer
from zenflow.machinery.listwatch import UNDECODABLE
from zenflow.machinery.metrics import machinery_metrics
from zenflow.machinery.transform import strip_unused_metadata

pytestmark = pytest.mark.integration

GROUP = "hostile.zenflow.test"
PLURAL = "deepobjects"
CRD_NAME = f"{PLURAL}.{GROUP}"


@pytest_asyncio.fixture(loop_scope="session")
async def deep_crd(api_client: client.ApiClient) -> AsyncIterator[None]:
    """A namespaced CRD whose ``spec`` preserves unknown fields (so it may nest freely)."""
    ext = client.ApiextensionsV1Api(api_client)
    body: dict[str, Any] = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": CRD_NAME},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": PLURAL, "singular": "deepobject", "kind": "DeepObject"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "x-kubernetes-preserve-unknown-fields": True,
                                }
                            },
                        }
                    },
                }
            ],
        },
    }
    with contextlib.suppress(AlreadyExistsError):
        await Rest(api_client).create(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", body
        )

    async def established() -> bool:
        crd = await ext.read_custom_resource_definition(CRD_NAME)
        conditions = crd.status.conditions or []
        return any(c.type == "Established" and c.status == "True" for c in conditions)

    await eventually(established, what=f"CRD {CRD_NAME} established")
    yield


def document(name: str, depth: int = 0) -> bytes:
    """A DeepObject whose ``spec.x`` nests ``depth`` objects (raw JSON: client libraries'
    serializers recurse per level)."""
    head = {"apiVersion": f"{GROUP}/v1", "kind": "DeepObject", "metadata": {"name": name}}
    nested = b'{"a":' * depth + b"1" + b"}" * depth
    return json.dumps(head).encode()[:-1] + b', "spec": {"x": ' + nested + b"}}"


async def create_raw(api: client.ApiClient, namespace: str, body: bytes) -> None:
    """POST raw bytes through the ApiClient's own session (TLS and bearer token)."""
    cfg = api.configuration
    url = f"{cfg.host}/apis/{GROUP}/v1/namespaces/{namespace}/{PLURAL}"
    headers = {
        "Content-Type": "application/json",
        "Authorization": await cfg.get_api_key_with_prefix("BearerToken") or "",
    }
    session = api.rest_client.pool_manager
    async with session.post(url, data=body, headers=headers) as resp:
        text = await resp.text()
        assert resp.status == 201, f"create: {resp.status} {text[:300]}"


async def patch_labels(
    api: client.ApiClient, namespace: str, name: str, labels: dict[str, str]
) -> None:
    path = f"/apis/{GROUP}/v1/namespaces/{namespace}/{PLURAL}/{name}"
    await Rest(api).merge_patch(path, {"metadata": {"labels": labels}})


@pytest.mark.usefixtures("deep_crd")
async def test_deep_objects_never_stop_an_informer(
    api_client: client.ApiClient, namespace: str
) -> None:
    for body in (
        document("plain-a"),
        document("deep-3000", 3_000),
        document("deep-9000", 9_000),
        document("plain-b"),
    ):
        await create_raw(api_client, namespace, body)
    registry = CollectorRegistry()
    lw = KubeListerWatcher(
        api_client, group=GROUP, version="v1", plural=PLURAL, namespace=namespace
    )
    informer = Informer(lw, transform=strip_unused_metadata, metrics=machinery_metrics(registry))
    task = asyncio.create_task(informer.run())
    try:
        await eventually(informer.has_synced, what="informer synced", within=60)

        def cached(name: str) -> dict[str, Any] | None:
            return informer.store.get(f"{namespace}/{name}")

        for name in ("plain-a", "plain-b"):
            obj = cached(name)
            assert obj is not None
            assert obj["spec"] == {"x": 1}
        for name in ("deep-3000", "deep-9000"):
            deep = cached(name)
            assert deep is not None
            assert deep[UNDECODABLE] == "the object nests more than 64 levels deep"
            assert deep["metadata"]["name"] == name
            assert "spec" not in deep

        # Through the watch: a deep object, then an ordinary update (events arrive in order).
        await create_raw(api_client, namespace, document("deep-late", 5_000))
        await patch_labels(api_client, namespace, "plain-a", {"seen": "after"})

        def updated() -> bool:
            obj = cached("plain-a")
            return obj is not None and (obj["metadata"].get("labels") or {}).get("seen") == "after"

        await eventually(updated, what="the update after the deep object", within=60)
        late = cached("deep-late")
        assert late is not None
        assert late[UNDECODABLE] == "the object nests more than 64 levels deep"
        count = registry.get_sample_value(
            "zenflow_informer_undecodable_objects_total", {"resource": PLURAL}
        )
        assert count == 3.0
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
