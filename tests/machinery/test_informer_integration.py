"""Informers against the real local control plane (integration; MACHINERY.md #8, 10, 11, 12, 14,
16, 27): adds/updates/deletes of ConfigMaps reach handlers in order with the previous object on
update; after etcd compaction and a forced expired resourceVersion the informer relists and
delivers a tombstone (last known state) for an object deleted meanwhile; an apiserver stop/start
resumes the watch and the cache converges with nothing lost; a silent watch is detected by a short
stall timeout and resumed; the Job informer caches only zenflow-labelled Jobs and maps a Job to
its JobFlow key through its owner reference, and a Job status change reaches a handler at once.
Nothing waits for a time: the apiserver stays down until the informer saw its watch cut and its
next watch fail, and a Job the selector leaves out is created before one it selects, so once the
second arrives the first would have (a watch delivers events in order)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import aiohttp
import pytest
from kubernetes_asyncio import client

from tests.support.plane import start_apiserver_and_recover
from tests.support.wait import eventually
from zenflow.api.constants import API_VERSION
from zenflow.controller.listwatch import jobs_lister_watcher
from zenflow.envtest.controlplane import ControlPlane
from zenflow.errors import UnreachableError
from zenflow.kube.listwatch import KubeListerWatcher
from zenflow.machinery.informer import OWNER_INDEX, Informer, owner_indexer, owner_key
from zenflow.machinery.listwatch import ListerWatcher
from zenflow.machinery.store import Obj

pytestmark = pytest.mark.integration


class ControlledListerWatcher(ListerWatcher):
    """The real ListerWatcher with test switches: ``cut`` drops the connection (at the next event
    and on every reconnect), ``silent`` keeps the stream open but swallows events, ``force_rv``
    makes the next watch start from that resourceVersion."""

    def __init__(self, inner: KubeListerWatcher) -> None:
        self.inner = inner
        self.resource = inner.resource
        self.cut = False
        self.silent = False
        self.force_rv: str | None = None
        self.watch_rvs: list[str] = []

    async def list(self) -> tuple[list[dict[str, Any]], str]:
        return await self.inner.list()

    async def watch(
        self, resource_version: str, *, timeout_seconds: int, allow_bookmarks: bool
    ) -> AsyncGenerator[object, None]:
        if self.force_rv is not None:
            resource_version, self.force_rv = self.force_rv, None
        self.watch_rvs.append(resource_version)
        if self.cut:
            raise UnreachableError("test: connection cut")
        stream = self.inner.watch(
            resource_version, timeout_seconds=timeout_seconds, allow_bookmarks=allow_bookmarks
        )
        async with contextlib.aclosing(stream):
            async for raw in stream:
                if self.cut:
                    raise UnreachableError("test: connection cut")
                if self.silent:
                    continue
                yield raw


class Log:
    def __init__(self, informer: Informer) -> None:
        self.calls: list[tuple[str, str, str]] = []  # (kind, name, data value)
        self.deleted: list[Obj] = []
        informer.add_event_handler(self.on_add, self.on_update, self.on_delete)

    @staticmethod
    def _v(o: Obj) -> str:
        return str((o.get("data") or {}).get("v", ""))

    def on_add(self, o: Obj) -> None:
        self.calls.append(("add", o["metadata"]["name"], self._v(o)))

    def on_update(self, old: Obj, new: Obj) -> None:
        self.calls.append(("update", new["metadata"]["name"], f"{self._v(old)}->{self._v(new)}"))

    def on_delete(self, o: Obj) -> None:
        self.deleted.append(o)
        self.calls.append(("delete", o["metadata"]["name"], self._v(o)))


@contextlib.asynccontextmanager
async def running(informer: Informer) -> AsyncIterator[Informer]:
    task = asyncio.create_task(informer.run())
    try:
        await asyncio.wait_for(informer.wait_synced(), 30)
        yield informer
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def configmaps(api: client.ApiClient, namespace: str) -> KubeListerWatcher:
    return KubeListerWatcher(api, group="", version="v1", plural="configmaps", namespace=namespace)


def cm(name: str, v: str) -> Any:  # a dict body is accepted (sanitized as JSON)
    return {"metadata": {"name": name}, "data": {"v": v}}


async def test_adds_updates_deletes_in_order(api_client: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api_client)
    informer = Informer(configmaps(api_client, namespace))
    log = Log(informer)
    async with running(informer):
        await core.create_namespaced_config_map(namespace, cm("x", "0"))
        await core.replace_namespaced_config_map("x", namespace, cm("x", "1"))
        await core.patch_namespaced_config_map("x", namespace, {"data": {"v": "2"}})
        await core.delete_namespaced_config_map("x", namespace)

        def mine() -> list[tuple[str, str, str]]:
            return [c for c in log.calls if c[1] == "x"]

        await eventually(lambda: len(mine()) == 4, what="four events for x")
        assert mine() == [
            ("add", "x", "0"),
            ("update", "x", "0->1"),
            ("update", "x", "1->2"),
            ("delete", "x", "2"),
        ]
        assert informer.store.get(f"{namespace}/x") is None


async def test_expired_version_relists_with_tombstone(
    api_client: client.ApiClient, namespace: str, control_plane: ControlPlane
) -> None:
    core = client.CoreV1Api(api_client)
    await core.create_namespaced_config_map(namespace, cm("keep", "0"))
    await core.create_namespaced_config_map(namespace, cm("doomed", "0"))
    lw = ControlledListerWatcher(configmaps(api_client, namespace))
    informer = Informer(lw)
    log = Log(informer)
    async with running(informer):
        last_known = informer.store.get(f"{namespace}/doomed")
        assert last_known is not None
        lw.cut = True  # the connection drops: the delete below is never seen by a watch
        await core.delete_namespaced_config_map("doomed", namespace)
        for i in range(5):
            await core.create_namespaced_config_map(namespace, cm(f"filler{i}", "0"))
        await eventually(lambda: len(lw.watch_rvs) >= 2, what="a failed reconnect")
        expired_rv = informer.reflector.resource_version
        await asyncio.to_thread(control_plane.compact_etcd)
        # A restarted apiserver's watch cache starts at the current revision, so the informer's
        # version is now expired everywhere (etcd compacted, cache too young): 410 Gone.
        await asyncio.to_thread(control_plane.stop_apiserver)
        await asyncio.to_thread(start_apiserver_and_recover, control_plane)
        lw.cut = False
        await eventually(lambda: informer.reflector.lists >= 2, within=90, what="relist")
        await eventually(lambda: any(c[0] == "delete" for c in log.calls), what="tombstone")
        tomb = next(o for o in log.deleted if o["metadata"]["name"] == "doomed")
        assert tomb["metadata"]["resourceVersion"] == last_known["metadata"]["resourceVersion"]
        assert lw.watch_rvs[-1] != expired_rv  # after the 410, never "retry the same version"
        names = {o["metadata"]["name"] for o in informer.store.list()}
        assert "doomed" not in names
        assert {"keep", "filler0", "filler4"} <= names


async def test_apiserver_restart_resumes_watch_without_losing_updates(
    api_client: client.ApiClient, namespace: str, control_plane: ControlPlane
) -> None:
    core = client.CoreV1Api(api_client)
    await core.create_namespaced_config_map(namespace, cm("a", "0"))
    informer = Informer(configmaps(api_client, namespace))
    log = Log(informer)
    async with running(informer):
        await core.patch_namespaced_config_map("a", namespace, {"data": {"v": "1"}})
        watches = informer.reflector.watches
        await asyncio.to_thread(control_plane.stop_apiserver)
        try:
            # Down until the informer saw it: its watch was cut and its next watch failed too.
            await eventually(
                lambda: informer.reflector.watches >= watches + 2, what="the outage seen"
            )
        finally:
            await asyncio.to_thread(start_apiserver_and_recover, control_plane)

        async def changed() -> bool:
            await core.patch_namespaced_config_map("a", namespace, {"data": {"v": "2"}})
            return True

        async def created() -> bool:
            await core.create_namespaced_config_map(namespace, cm("b", "0"))
            return True

        # Pooled connections to the old apiserver process may fail once.
        transient = (client.ApiException, aiohttp.ClientError, OSError, TimeoutError)
        await eventually(changed, what="patch after the restart", retry_on=transient)
        await eventually(created, what="create after the restart", retry_on=transient)
        await eventually(
            lambda: (
                ("add", "b", "0") in log.calls
                and (informer.store.get(f"{namespace}/a") or {}).get("data", {}).get("v") == "2"
            ),
            within=90,
            what="updates after the restart",
        )
        server = await core.list_namespaced_config_map(namespace)
        cached = {
            o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in informer.store.list()
        }
        assert cached == {o.metadata.name: o.metadata.resource_version for o in server.items}
        values_of_a = [c[2] for c in log.calls if c[1] == "a"]
        assert values_of_a[-1].endswith("2")


async def test_silent_watch_is_detected_by_stall_timeout(
    api_client: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(api_client)
    lw = ControlledListerWatcher(configmaps(api_client, namespace))
    informer = Informer(lw, stall_timeout=2.0)
    log = Log(informer)
    async with running(informer):
        lw.silent = True
        await core.create_namespaced_config_map(namespace, cm("quiet", "0"))
        await eventually(lambda: informer.reflector.watches >= 2, within=15, what="stall detected")
        assert ("add", "quiet", "0") not in log.calls
        lw.silent = False
        await eventually(lambda: ("add", "quiet", "0") in log.calls, within=15, what="resumed")
        assert informer.reflector.lists == 1  # resumed from the last version, no relist


JOBFLOW = {
    "apiVersion": "workflow.zen.io/v1alpha1",
    "kind": "JobFlow",
    "metadata": {"name": "owner-flow"},
    "spec": {"steps": [{"name": "a", "run": {"image": "busybox:1.36", "command": ["true"]}}]},
}


def _job(name: str, *, labels: dict[str, str], owner: dict[str, Any] | None) -> Any:
    meta: dict[str, Any] = {"name": name, "labels": labels}
    if owner is not None:
        meta["ownerReferences"] = [owner]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": {
            "suspend": True,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "c", "image": "busybox:1.36", "command": ["true"]}],
                }
            },
        },
    }


async def test_job_informer_selects_zenflow_jobs_and_maps_them_to_their_flow(
    api_client: client.ApiClient, namespace: str
) -> None:
    custom = client.CustomObjectsApi(api_client)
    batch = client.BatchV1Api(api_client)
    flow = await custom.create_namespaced_custom_object(
        "workflow.zen.io", "v1alpha1", namespace, "jobflows", JOBFLOW
    )
    owner = {
        "apiVersion": "workflow.zen.io/v1alpha1",
        "kind": "JobFlow",
        "name": "owner-flow",
        "uid": flow["metadata"]["uid"],
        "controller": True,
    }
    informer = Informer(jobs_lister_watcher(api_client, namespace=namespace))
    informer.add_indexer(OWNER_INDEX, owner_indexer("JobFlow", api_version=API_VERSION))
    queued: list[tuple[str, float]] = []

    def enqueue_owner(o: Obj) -> None:
        key = owner_key(o, "JobFlow", api_version=API_VERSION)
        if key is not None:
            queued.append((key, time.monotonic()))

    informer.add_event_handler(enqueue_owner, lambda old, new: enqueue_owner(new), enqueue_owner)
    async with running(informer):
        managed = {"app.kubernetes.io/managed-by": "zenflow"}
        # The foreign Job first: once "mine" (created after it) arrived, it would have too.
        await batch.create_namespaced_job(namespace, _job("foreign", labels={}, owner=None))
        await batch.create_namespaced_job(namespace, _job("mine", labels=managed, owner=owner))
        await eventually(lambda: informer.store.get(f"{namespace}/mine") is not None, what="job")
        assert [o["metadata"]["name"] for o in informer.store.list()] == ["mine"]
        assert [
            o["metadata"]["name"]
            for o in informer.store.by_index(OWNER_INDEX, f"{namespace}/owner-flow")
        ] == ["mine"]
        queued.clear()
        changed_at = time.monotonic()
        await batch.patch_namespaced_job(
            "mine", namespace, {"metadata": {"annotations": {"x": "1"}}}
        )
        await eventually(lambda: bool(queued), within=5, what="owner key queued")
        assert queued[0][0] == f"{namespace}/owner-flow"
        assert queued[0][1] - changed_at < 1.0  # at once, not after a requeue delay
