"""Volumes of exec-mode pods (zenflow.envtest.nodeagent.volumes).

Aspects: each supported volume gets its host directory (a claim shared by namespace and claim
name, ConfigMaps/Secrets/emptyDirs in the pod's directory, hostPath itself; others ignored);
materialising writes ConfigMap and Secret keys as files (items with their paths), refuses a
missing one unless optional, and waits for a missing claim until it exists or the pod stops;
mounts apply subPath (created); mount paths are rewritten as whole path components, the longest
first, and named by ZENFLOW_MOUNT_<NAME>.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.support.wait import eventually
from zenflow.envtest.nodeagent.spec import SpecError
from zenflow.envtest.nodeagent.volumes import (
    HostMount,
    container_mounts,
    materialise,
    mount_env,
    plan_volumes,
    rewrite,
    rewriter,
)


class FakeVolumeApi:
    def __init__(self) -> None:
        self.config_maps: dict[str, dict[str, str]] = {"conf": {"a.txt": "A", "b.txt": "B"}}
        self.secrets: dict[str, dict[str, str]] = {"creds": {"token": "s3cret"}}
        self.claims: set[str] = {"data"}
        self.claim_asks = 0

    async def config_map_data(self, *, namespace: str, name: str) -> dict[str, str] | None:
        return self.config_maps.get(name)

    async def secret_data(self, *, namespace: str, name: str) -> dict[str, str] | None:
        return self.secrets.get(name)

    async def claim_exists(self, *, namespace: str, name: str) -> bool:
        self.claim_asks += 1
        return name in self.claims


def pod(*volumes: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "ns"}, "spec": {"volumes": list(volumes)}}


VOLUMES = (
    {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
    {"name": "conf", "configMap": {"name": "conf", "items": [{"key": "a.txt", "path": "x/a"}]}},
    {"name": "creds", "secret": {"secretName": "creds"}},
    {"name": "scratch", "emptyDir": {}},
    {"name": "host", "hostPath": {"path": "/opt/shared"}},
    {"name": "kube-api-access", "projected": {"sources": []}},
)


def test_each_volume_has_its_host_directory(tmp_path: Path) -> None:
    planned = plan_volumes(pod(*VOLUMES), volumes_root=tmp_path / "v", pod_dir=tmp_path / "p")
    assert {name: (v.kind, v.path) for name, v in planned.items()} == {
        "data": ("claim", tmp_path / "v" / "ns" / "data"),
        "conf": ("configMap", tmp_path / "p" / "volumes" / "conf"),
        "creds": ("secret", tmp_path / "p" / "volumes" / "creds"),
        "scratch": ("emptyDir", tmp_path / "p" / "volumes" / "scratch"),
        "host": ("hostPath", Path("/opt/shared")),
    }


async def test_materialise_writes_files_and_waits_for_claims(tmp_path: Path) -> None:
    api = FakeVolumeApi()
    planned = plan_volumes(pod(*VOLUMES[:4]), volumes_root=tmp_path / "v", pod_dir=tmp_path / "p")
    assert await materialise(api, namespace="ns", volumes=planned, stopped=asyncio.Event())
    assert (tmp_path / "p" / "volumes" / "conf" / "x" / "a").read_text() == "A"
    assert not (tmp_path / "p" / "volumes" / "conf" / "b.txt").exists()  # items chose one key
    assert (tmp_path / "p" / "volumes" / "creds" / "token").read_text() == "s3cret"
    assert (tmp_path / "v" / "ns" / "data").is_dir()
    assert (tmp_path / "p" / "volumes" / "scratch").is_dir()

    missing = plan_volumes(
        pod({"name": "c", "configMap": {"name": "nope"}}), volumes_root=tmp_path, pod_dir=tmp_path
    )
    with pytest.raises(SpecError, match="volume 'c': configMap 'nope' not found"):
        await materialise(api, namespace="ns", volumes=missing, stopped=asyncio.Event())
    optional = plan_volumes(
        pod({"name": "c", "configMap": {"name": "nope", "optional": True}}),
        volumes_root=tmp_path,
        pod_dir=tmp_path,
    )
    assert await materialise(api, namespace="ns", volumes=optional, stopped=asyncio.Event())

    later = plan_volumes(
        pod({"name": "l", "persistentVolumeClaim": {"claimName": "later"}}),
        volumes_root=tmp_path / "v",
        pod_dir=tmp_path,
    )
    waiting = asyncio.create_task(
        materialise(api, namespace="ns", volumes=later, stopped=asyncio.Event())
    )
    await eventually(lambda: api.claim_asks >= 3, what="asked again while the claim is missing")
    assert not waiting.done()
    api.claims.add("later")
    assert await asyncio.wait_for(waiting, timeout=5)
    stopped = asyncio.Event()
    stopped.set()
    gone = plan_volumes(
        pod({"name": "g", "persistentVolumeClaim": {"claimName": "never"}}),
        volumes_root=tmp_path,
        pod_dir=tmp_path,
    )
    assert not await materialise(api, namespace="ns", volumes=gone, stopped=stopped)


def test_mounts_apply_sub_paths_and_rewrite_whole_components(tmp_path: Path) -> None:
    planned = plan_volumes(pod(*VOLUMES[:4]), volumes_root=tmp_path / "v", pod_dir=tmp_path / "p")
    container = {
        "volumeMounts": [
            {"name": "data", "mountPath": "/work"},
            {"name": "scratch", "mountPath": "/work/cache/", "subPath": "c"},
            {"name": "unknown", "mountPath": "/elsewhere"},
        ]
    }
    mounts = container_mounts(container, planned)
    data, cache = tmp_path / "v" / "ns" / "data", tmp_path / "p" / "volumes" / "scratch" / "c"
    assert mounts == [HostMount("data", "/work", data), HostMount("scratch", "/work/cache", cache)]
    assert cache.is_dir()
    pattern = rewriter(mounts)
    cases = {
        "echo hi > /work/out.txt": f"echo hi > {data}/out.txt",
        "cd /work && ls /work/cache/x": f"cd {data} && ls {cache}/x",
        "/workspace /home/work /work": f"/workspace /home/work {data}",
        "--dir=/work/": f"--dir={data}/",
    }
    for text, expected in cases.items():
        assert rewrite(text, mounts, pattern) == expected
    assert mount_env(mounts) == {
        "ZENFLOW_MOUNT_DATA": str(data),
        "ZENFLOW_MOUNT_SCRATCH": str(cache),
    }
    assert rewriter([]) is None
