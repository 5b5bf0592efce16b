"""Running one container instance as a local process: preparing its argv and environment,
waiting for it (or stopping it), and collecting its termination message.

The environment a process sees is small and explicit, like a container's: PATH (and locale/
timezone/TMPDIR) from the agent, HOME set to the pod directory, HOSTNAME set to the pod name, the
container's env as Kubernetes builds it, ``ZENFLOW_TERMINATION_LOG``, and ``ZENFLOW_MOUNT_<NAME>``
for each volume it mounts (whose mount paths are rewritten to host directories, ``volumes``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

from zenflow.envtest.nodeagent import spec as specs
from zenflow.envtest.nodeagent.logread import output_tail
from zenflow.envtest.nodeagent.process import LocalProcess, read_head
from zenflow.envtest.nodeagent.status import HOST_IP
from zenflow.envtest.nodeagent.volumes import HostMount, mount_env, rewrite, rewriter

_BASE_ENV_KEYS: Final = ("PATH", "LANG", "LC_ALL", "TZ", "TMPDIR")
_DEFAULT_PATH: Final = "/usr/local/bin:/usr/bin:/bin"


class EnvApi(Protocol):
    async def config_map_data(self, *, namespace: str, name: str) -> dict[str, str] | None: ...

    async def secret_data(self, *, namespace: str, name: str) -> dict[str, str] | None: ...


@dataclass(frozen=True)
class ExecPaths:
    """Where a container runs (the pod directory) and writes its termination message."""

    cwd: Path
    termination: Path

    @classmethod
    def for_container(cls, *, pod_dir: Path, name: str) -> ExecPaths:
        return cls(cwd=pod_dir, termination=pod_dir / f"{name}.termination-log")


async def container_env(
    *, api: EnvApi, pod: Mapping[str, Any], container: Mapping[str, Any]
) -> dict[str, str]:
    """The container's env, reading the config maps and secrets it refers to from the API."""
    namespace = pod["metadata"]["namespace"]
    sources = specs.env_sources(container)
    config_maps: dict[str, dict[str, str]] = {}
    secrets: dict[str, dict[str, str]] = {}
    for name in sources.config_maps:
        if (data := await api.config_map_data(namespace=namespace, name=name)) is not None:
            config_maps[name] = data
    for name in sources.secrets:
        if (data := await api.secret_data(namespace=namespace, name=name)) is not None:
            secrets[name] = data
    return specs.resolve_env(
        pod=pod, container=container, config_maps=config_maps, secrets=secrets, host_ip=HOST_IP
    )


async def prepare(
    *,
    api: EnvApi,
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    paths: ExecPaths,
    mounts: Sequence[HostMount] = (),
) -> tuple[list[str], dict[str, str]]:
    """argv and the full process environment; clears the termination-message file. Raises
    SpecError (or KubeError reading a config map/secret) when the container cannot start.
    ``mounts``: the container's volumes on the host (``volumes``): their mount paths are
    rewritten in argv and env values, and each is named by ``ZENFLOW_MOUNT_<NAME>``."""
    paths.termination.write_bytes(b"")
    env = await container_env(api=api, pod=pod, container=container)
    argv = specs.build_argv(container=container, env=env, termination_file=str(paths.termination))
    if mounts:
        pattern = rewriter(mounts)
        argv = [rewrite(part, mounts, pattern) for part in argv]
        env = {key: rewrite(value, mounts, pattern) for key, value in env.items()}
        env.update(mount_env(mounts))
    full = {key: os.environ[key] for key in _BASE_ENV_KEYS if key in os.environ}
    full.setdefault("PATH", _DEFAULT_PATH)
    full.update(HOME=str(paths.cwd), HOSTNAME=str(pod["metadata"]["name"]))
    full.update(env)
    full[specs.TERMINATION_LOG_ENV] = str(paths.termination)
    return argv, full


async def run_to_exit(
    *, process: LocalProcess, stopped: asyncio.Event, grace_s: Callable[[], float]
) -> int:
    """Wait for the process to exit, or stop it (grace read when the stop comes); exit code."""
    waiter = asyncio.create_task(process.wait())
    stopper = asyncio.create_task(stopped.wait())
    try:
        await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if waiter.done():
        return waiter.result()
    waiter.cancel()
    return await process.stop(grace_s=grace_s())


def collect_message(
    *, container: Mapping[str, Any], paths: ExecPaths, log_path: Path, exit_code: int
) -> str:
    """The termination message of the instance whose log is ``log_path``."""
    return specs.termination_message(
        container=container,
        file_text=read_head(paths.termination),
        log_tail=output_tail(log_path) if exit_code != 0 else b"",
        exit_code=exit_code,
    )
