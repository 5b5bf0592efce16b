"""Small raw-JSON helpers for integration tests of the node agent: create, read and delete
objects through an ApiClient without the generated models (waiting: tests.support.wait)."""

from __future__ import annotations

import json
from typing import Any

from kubernetes_asyncio import client

Obj = dict[str, Any]


async def request(
    api: client.ApiClient,
    method: str,
    path: str,
    body: Obj | None = None,
    *,
    query: list[tuple[str, str]] | None = None,
) -> tuple[int, Obj]:
    """(HTTP status, JSON body) of one request; never raises for an HTTP error status."""
    response = await api.call_api(
        path,
        method,
        query_params=query or [],
        header_params={"Content-Type": "application/json", "Accept": "application/json"},
        body=body,
        auth_settings=["BearerToken"],
        _preload_content=False,
        _request_timeout=30,
    )
    try:
        raw = await response.read()
    finally:
        response.release()
    return int(response.status), json.loads(raw) if raw else {}


async def ok(api: client.ApiClient, method: str, path: str, body: Obj | None = None) -> Obj:
    status, doc = await request(api, method, path, body)
    assert 200 <= status <= 299, f"{method} {path}: {status} {doc}"
    return doc


async def create_job(api: client.ApiClient, namespace: str, job: Obj) -> Obj:
    return await ok(api, "POST", f"/apis/batch/v1/namespaces/{namespace}/jobs", job)


async def create_pod(api: client.ApiClient, namespace: str, pod: Obj) -> Obj:
    return await ok(api, "POST", f"/api/v1/namespaces/{namespace}/pods", pod)


async def get_job(api: client.ApiClient, namespace: str, name: str) -> Obj:
    return await ok(api, "GET", f"/apis/batch/v1/namespaces/{namespace}/jobs/{name}")


async def get_pod(api: client.ApiClient, namespace: str, name: str) -> Obj | None:
    status, doc = await request(api, "GET", f"/api/v1/namespaces/{namespace}/pods/{name}")
    if status == 404:
        return None
    assert status == 200, doc
    return doc


async def job_pods(api: client.ApiClient, namespace: str, job: str) -> list[Obj]:
    status, doc = await request(
        api,
        "GET",
        f"/api/v1/namespaces/{namespace}/pods",
        query=[("labelSelector", f"batch.kubernetes.io/job-name={job}")],
    )
    assert status == 200, doc
    return list(doc.get("items") or [])


def condition(obj: Obj, kind: str) -> Obj | None:
    """The ``kind`` condition of an object's status when its status is True."""
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind and cond.get("status") == "True":
            return dict(cond)
    return None


def job_manifest(
    name: str,
    command: list[str],
    *,
    backoff_limit: int = 0,
    restart_policy: str = "Never",
    annotations: dict[str, str] | None = None,
    active_deadline_s: int | None = None,
    grace_s: int | None = None,
) -> Obj:
    pod_spec: Obj = {
        "restartPolicy": restart_policy,
        "containers": [{"name": "main", "image": "busybox", "command": command}],
    }
    if grace_s is not None:
        pod_spec["terminationGracePeriodSeconds"] = grace_s
    spec: Obj = {
        "backoffLimit": backoff_limit,
        "template": {"metadata": {"annotations": annotations or {}}, "spec": pod_spec},
    }
    if active_deadline_s is not None:
        spec["activeDeadlineSeconds"] = active_deadline_s
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": spec}
