"""Helpers for end-to-end tests of the JobFlow controller on the real local control plane.

``running_controller`` runs the real Manager + ``setup_controllers`` in-process (admin
credentials, leader election off, watching only the test's namespace). Flows use
annotation-mode pods: the node agent completes each pod per ``envtest.zenflow.io/*``
annotations on the step's pod template, so timing and exit codes are deterministic.

``Running.reconciled`` is how a test proves that nothing happened: it returns once the
controller finished a reconcile of the flow that began after its caches held what the API server
holds now, so a Job or status write that was due would exist by then.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from kubernetes_asyncio import client
from prometheus_client import CollectorRegistry

from tests.support.wait import eventually
from zenflow.api.constants import API_VERSION, GROUP, JOBFLOW_KIND, JOBFLOW_PLURAL, VERSION
from zenflow.controller.settings import ControllerSettings
from zenflow.controller.setup import JobFlowController, setup_controllers
from zenflow.envtest.nodeagent.spec import (
    ANNOTATION_DURATION_SECONDS,
    ANNOTATION_EXIT_CODE,
    ANNOTATION_TERMINATION_MESSAGE,
)
from zenflow.kube.client import new_api_client
from zenflow.machinery.manager import Manager
from zenflow.machinery.reconcile import make_key
from zenflow.machinery.store import Store

MERGE_PATCH = "application/merge-patch+json"


@dataclass
class Running:
    """An in-process controller and an admin API client for the test's own requests."""

    manager: Manager
    jobflow: JobFlowController
    api: client.ApiClient
    namespace: str

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    @property
    def batch(self) -> client.BatchV1Api:
        return client.BatchV1Api(self.api)

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    async def create(self, flow: dict[str, Any]) -> dict[str, Any]:
        created: dict[str, Any] = await self.custom.create_namespaced_custom_object(
            GROUP, VERSION, self.namespace, JOBFLOW_PLURAL, flow
        )
        return created

    async def get(self, name: str) -> dict[str, Any]:
        obj: dict[str, Any] = await self.custom.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, JOBFLOW_PLURAL, name
        )
        return obj

    async def patch(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """A JSON merge patch of the flow (as ``kubectl patch --type merge``)."""
        path = f"/apis/{GROUP}/{VERSION}/namespaces/{self.namespace}/{JOBFLOW_PLURAL}/{name}"
        resp = await self.api.call_api(
            path,
            "PATCH",
            header_params={"Accept": "application/json", "Content-Type": MERGE_PATCH},
            body=body,
            auth_settings=["BearerToken"],
            _preload_content=False,
        )
        try:
            assert resp.status == 200, await resp.text()
            doc: dict[str, Any] = json.loads(await resp.read())
        finally:
            resp.release()
        return doc

    async def wait_for(
        self,
        name: str,
        predicate: Callable[[dict[str, Any]], bool],
        *,
        within: float = 60.0,
        what: str = "condition",
    ) -> dict[str, Any]:
        """Poll the flow until ``predicate`` holds (``{}`` once it is gone); fails with the
        last status."""

        async def current() -> tuple[dict[str, Any]]:
            try:
                obj = await self.get(name)
            except client.ApiException as exc:
                if exc.status != 404:
                    raise
                obj = {}
            assert predicate(obj), f"last status: {obj.get('status')}"
            return (obj,)

        found: tuple[dict[str, Any]] = await eventually(
            current, what=f"flow {name}: {what}", within=within
        )
        return found[0]

    async def wait_phase(
        self, name: str, phases: tuple[str, ...] = ("Succeeded", "Failed"), within: float = 60.0
    ) -> dict[str, Any]:
        return await self.wait_for(
            name,
            lambda o: (o.get("status") or {}).get("phase") in phases,
            within=within,
            what=f"phase in {phases}",
        )

    async def get_json(self, path: str, query: list[tuple[str, str]]) -> dict[str, Any]:
        resp = await self.api.call_api(
            path,
            "GET",
            query_params=query,
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
            _preload_content=False,
        )
        try:
            assert resp.status == 200, await resp.text()
            doc: dict[str, Any] = json.loads(await resp.read())
        finally:
            resp.release()
        return doc

    async def jobs(self, flow: str) -> list[dict[str, Any]]:
        """The flow's Jobs (raw), by the seed guide's selector ``jobflow=<flow>``."""
        doc = await self.get_json(
            f"/apis/batch/v1/namespaces/{self.namespace}/jobs",
            [("labelSelector", f"jobflow={flow}")],
        )
        return list(doc["items"])

    async def events(self, flow: str) -> list[dict[str, Any]]:
        doc = await self.get_json(
            f"/api/v1/namespaces/{self.namespace}/events",
            [("fieldSelector", f"involvedObject.name={flow}")],
        )
        return list(doc["items"])

    async def reconciled(self, name: str, *, within: float = 30.0) -> None:
        """Return once the controller finished a reconcile of flow ``name`` that began after
        its caches held the flow and its Jobs as the API server holds them now."""
        informers = self.jobflow.informers
        held = [(informers.jobflows.store, await self.get(name))]
        held += [(informers.jobs.store, job) for job in await self.jobs(name)]
        await eventually(
            lambda: all(cache_holds(store, obj) for store, obj in held),
            what=f"caches hold flow {name} and its Jobs as the API server does",
            within=within,
            interval=0.02,
        )
        key = make_key(self.namespace, name)
        queue, controller = self.jobflow.queue, self.jobflow.controller
        reconciles = controller.reconciles
        queue.add(key)
        await eventually(
            lambda: not queue.pending(key), what=f"a reconcile of {name}", within=within
        )
        assert controller.reconciles > reconciles


def cache_holds(store: Store, obj: dict[str, Any]) -> bool:
    """Whether ``store`` holds ``obj`` at its resourceVersion or later (etcd revisions: integers
    that grow; opaque to clients in general, comparable on this test control plane)."""
    meta = obj["metadata"]
    held = store.get(make_key(meta["namespace"], meta["name"]))
    version = int(meta["resourceVersion"])
    return held is not None and int(held["metadata"]["resourceVersion"]) >= version


def step_status(flow: dict[str, Any], name: str) -> dict[str, Any]:
    for st in (flow.get("status") or {}).get("steps") or []:
        if st["name"] == name:
            return dict(st)
    raise AssertionError(f"no status for step {name}: {flow.get('status')}")


def condition(flow: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for cond in (flow.get("status") or {}).get("conditions") or []:
        if cond["type"] == kind:
            return dict(cond)
    return None


def step(
    name: str,
    *deps: str,
    exit_code: int = 0,
    seconds: float = 0.0,
    message: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A step whose pod the node agent completes with ``exit_code`` after ``seconds``."""
    annotations = {
        ANNOTATION_EXIT_CODE: str(exit_code),
        ANNOTATION_DURATION_SECONDS: str(seconds),
    }
    if message is not None:
        annotations[ANNOTATION_TERMINATION_MESSAGE] = message
    body: dict[str, Any] = {
        "name": name,
        "template": {
            "spec": {
                "template": {
                    "metadata": {"annotations": annotations},
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "main", "image": "busybox", "command": ["true"]}],
                    },
                }
            }
        },
    }
    if deps:
        body["dependencies"] = list(deps)
    body.update(extra)
    return body


def jobflow(name: str, steps: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    for key in ("labels", "annotations", "generateName"):
        if key in spec:
            meta[key] = spec.pop(key)
    if "generateName" in meta and not name:
        del meta["name"]
    return {
        "apiVersion": API_VERSION,
        "kind": JOBFLOW_KIND,
        "metadata": meta,
        "spec": {"steps": steps, **spec},
    }


@contextlib.asynccontextmanager
async def running_controller(
    kube_config: client.Configuration, namespace: str, *, workers: int = 4
) -> AsyncIterator[Running]:
    """Run the controller (informers scoped to ``namespace``) until the block exits."""
    settings = ControllerSettings(namespace=namespace, leader_election=False, workers=workers)
    registry = CollectorRegistry()
    api = new_api_client(kube_config)
    manager = Manager(elector=None, registry=registry, http_port=None, handle_signals=False)
    manager.add_cleanup(api.close)
    jobflow_ctl = setup_controllers(manager, settings, api)
    task = asyncio.create_task(manager.run())
    own = new_api_client(kube_config)
    try:
        async with asyncio.timeout(30):
            await manager.leader_started.wait()
        yield Running(manager, jobflow_ctl, own, namespace)
    finally:
        manager.stop()
        try:
            async with asyncio.timeout(30):
                await task
        finally:
            await own.close()
