"""Volumes for pods run as local processes (exec mode), where nothing can be mounted.

Each volume of a pod lives in a directory of the host:

- ``persistentVolumeClaim``: ``<work dir>/volumes/<namespace>/<claimName>``, shared by every pod
  that mounts the claim (across pods and steps: that is how files pass between them), kept as
  long as the agent's work directory. The claim must exist: like the kubelet, the agent waits
  for it before starting the containers (its binding is not checked: no volume is provisioned).
- ``configMap`` / ``secret``: ``<pod dir>/volumes/<name>``, one file per key (or per
  ``items`` entry, at its ``path``), written before the containers start. A missing object
  fails the pod's start unless the source is ``optional``.
- ``emptyDir``: ``<pod dir>/volumes/<name>``, empty, gone with the pod's directory.
- ``hostPath``: the path itself.
Other volume types (e.g. the projected service-account token) are not provided.

A container's ``volumeMounts`` (``mountPath``, ``subPath``; ``readOnly`` is not enforced) then
become what the process sees, by two means:

1. path rewriting: every occurrence of a mount path in the container's command, args and env
   values — as a whole path component, so ``/work`` is rewritten in ``/work/out`` but not in
   ``/workspace`` or ``/home/work`` — is replaced by the host directory (longest mount first);
2. ``ZENFLOW_MOUNT_<NAME>``: the host directory of each mount, ``NAME`` being the volume name in
   upper case with ``-`` as ``_`` (for programs that build paths themselves).

So ``sh -c 'echo hi > /work/out.txt'`` with ``/work`` mounted from a claim writes into the claim's
directory, and the next pod mounting the claim (anywhere) reads it there.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Final, Literal, Protocol

from zenflow.envtest.nodeagent.spec import SpecError

MOUNT_ENV_PREFIX: Final = "ZENFLOW_MOUNT_"
CLAIM_POLL_S: Final = 0.5
_PATH_CHAR: Final = "A-Za-z0-9._-"

Kind = Literal["claim", "configMap", "secret", "emptyDir", "hostPath"]


class VolumeApi(Protocol):
    async def config_map_data(self, *, namespace: str, name: str) -> dict[str, str] | None: ...

    async def secret_data(self, *, namespace: str, name: str) -> dict[str, str] | None: ...

    async def claim_exists(self, *, namespace: str, name: str) -> bool: ...


@dataclass(frozen=True)
class HostVolume:
    """Where one pod volume lives on the host, and what fills it."""

    name: str
    kind: Kind
    path: Path
    source: Mapping[str, Any]


@dataclass(frozen=True)
class HostMount:
    """One volumeMount of a container: its path in the container and on the host."""

    name: str
    mount_path: str
    host_path: Path


def plan_volumes(
    pod: Mapping[str, Any], *, volumes_root: Path, pod_dir: Path
) -> dict[str, HostVolume]:
    """Each supported volume of ``pod`` by name, with its host directory (no I/O)."""
    namespace = str(pod.get("metadata", {}).get("namespace", ""))
    out: dict[str, HostVolume] = {}
    for volume in pod.get("spec", {}).get("volumes") or []:
        name = str(volume.get("name", ""))
        if claim := volume.get("persistentVolumeClaim"):
            path = volumes_root / namespace / str(claim.get("claimName", ""))
            out[name] = HostVolume(name, "claim", path, claim)
        elif (source := volume.get("configMap")) is not None:
            out[name] = HostVolume(name, "configMap", pod_dir / "volumes" / name, source)
        elif (source := volume.get("secret")) is not None:
            out[name] = HostVolume(name, "secret", pod_dir / "volumes" / name, source)
        elif (source := volume.get("emptyDir")) is not None:
            out[name] = HostVolume(name, "emptyDir", pod_dir / "volumes" / name, source)
        elif (source := volume.get("hostPath")) is not None:
            out[name] = HostVolume(name, "hostPath", Path(str(source.get("path", "/"))), source)
    return out


async def materialise(
    api: VolumeApi,
    *,
    namespace: str,
    volumes: Mapping[str, HostVolume],
    stopped: asyncio.Event,
) -> bool:
    """Create the directories and files of ``volumes``; waits for missing claims (False when
    ``stopped`` was set meanwhile). Raises SpecError for a missing ConfigMap or Secret."""
    for volume in volumes.values():
        if volume.kind == "claim":
            claim = str(volume.source.get("claimName", ""))
            while not await api.claim_exists(namespace=namespace, name=claim):
                if await _stopped_within(stopped, CLAIM_POLL_S):
                    return False
            volume.path.mkdir(parents=True, exist_ok=True)
        elif volume.kind in ("configMap", "secret"):
            await _write_files(api, namespace=namespace, volume=volume)
        elif volume.kind == "emptyDir":
            volume.path.mkdir(parents=True, exist_ok=True)
    return True


async def _stopped_within(stopped: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(stopped.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True


async def _write_files(api: VolumeApi, *, namespace: str, volume: HostVolume) -> None:
    source = volume.source
    if volume.kind == "configMap":
        object_name = str(source.get("name", ""))
        data = await api.config_map_data(namespace=namespace, name=object_name)
    else:
        object_name = str(source.get("secretName", ""))
        data = await api.secret_data(namespace=namespace, name=object_name)
    volume.path.mkdir(parents=True, exist_ok=True)
    if data is None:
        if source.get("optional"):
            return
        raise SpecError(f"volume {volume.name!r}: {volume.kind} {object_name!r} not found")
    items = source.get("items")
    files: list[tuple[str, str]] = (
        [(str(i.get("key")), str(i.get("path"))) for i in items]
        if isinstance(items, list) and items
        else [(key, key) for key in data]
    )
    for key, relative in files:
        if key not in data:
            if source.get("optional"):
                continue
            raise SpecError(
                f"volume {volume.name!r}: key {key!r} not in {volume.kind} {object_name!r}"
            )
        target = _inside(volume.path, relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(data[key], encoding="utf-8")


def _inside(root: Path, relative: str) -> Path:
    parts = PurePosixPath(relative).parts
    if not parts or PurePosixPath(relative).is_absolute() or ".." in parts:
        raise SpecError(f"volume path {relative!r} must be relative, without '..'")
    return root.joinpath(*parts)


def container_mounts(
    container: Mapping[str, Any], volumes: Mapping[str, HostVolume]
) -> list[HostMount]:
    """The container's mounts of supported volumes, host paths with their subPath applied
    (subPath directories are created, as the kubelet does)."""
    out = []
    for mount in container.get("volumeMounts") or []:
        volume = volumes.get(str(mount.get("name", "")))
        mount_path = mount.get("mountPath")
        if volume is None or not isinstance(mount_path, str) or not mount_path.startswith("/"):
            continue
        host = volume.path
        sub = mount.get("subPath")
        if isinstance(sub, str) and sub:
            host = _inside(host, sub)
            host.mkdir(parents=True, exist_ok=True)
        out.append(HostMount(volume.name, mount_path.rstrip("/") or "/", host))
    return out


def rewriter(mounts: Sequence[HostMount]) -> re.Pattern[str] | None:
    """One pattern matching every mount path as whole path components (longest first)."""
    paths = sorted({m.mount_path for m in mounts if m.mount_path != "/"}, key=len, reverse=True)
    if not paths:
        return None
    alternatives = "|".join(re.escape(p) for p in paths)
    return re.compile(rf"(?<![{_PATH_CHAR}])({alternatives})(?![{_PATH_CHAR}])")


def rewrite(text: str, mounts: Sequence[HostMount], pattern: re.Pattern[str] | None) -> str:
    """``text`` with each mount path (as a whole component) replaced by its host directory."""
    if pattern is None:
        return text
    hosts = {m.mount_path: str(m.host_path) for m in mounts}
    return pattern.sub(lambda match: hosts[match.group(1)], text)


def mount_env(mounts: Sequence[HostMount]) -> dict[str, str]:
    """``ZENFLOW_MOUNT_<NAME>`` → host directory of each mount."""
    return {
        MOUNT_ENV_PREFIX + re.sub(r"[^A-Z0-9_]", "_", m.name.upper()): str(m.host_path)
        for m in mounts
    }
