"""Local processes standing in for container instances (the node agent's "runtime").

Each container instance is one process started in its own session, so its process group holds
everything it spawns; like a container's cgroup, the whole group is killed when the main process
exits or the container is stopped. stdout and stderr go to one log file per container.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

# Read at most this much of a file the command wrote (the API limit is 4096 bytes).
_READ_LIMIT: Final = 8192


def exit_code_of(returncode: int) -> int:
    """A shell-style exit code: a process killed by signal N reports 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


class LocalProcess:
    """One running container instance. Invariant: the process is its own group leader, so
    ``pid`` is also the process group id."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self._proc = proc

    @property
    def pid(self) -> int:
        return self._proc.pid

    @classmethod
    async def start(
        cls,
        *,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: Path,
        log_path: Path,
    ) -> LocalProcess:
        """Start ``argv``; OSError (e.g. executable not found) propagates to the caller."""
        with log_path.open("ab") as log:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                cwd=cwd,
                env=dict(env),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        return cls(proc)

    async def wait(self) -> int:
        """Wait for the main process, then kill what is left of its group; the exit code."""
        returncode = await self._proc.wait()
        _signal_group(self._proc.pid, signal.SIGKILL)
        return exit_code_of(returncode)

    async def stop(self, *, grace_s: float) -> int:
        """SIGTERM the group, SIGKILL it after ``grace_s``; the exit code."""
        if self._proc.returncode is None:
            _signal_group(self._proc.pid, signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._proc.wait()), timeout=grace_s)
        _signal_group(self._proc.pid, signal.SIGKILL)
        return exit_code_of(await self._proc.wait())

    def kill_now(self) -> None:
        """Synchronous last resort (agent shutdown): SIGKILL the group."""
        _signal_group(self._proc.pid, signal.SIGKILL)


def read_head(path: Path) -> bytes:
    """The first bytes of a file the command may have written; empty when absent."""
    try:
        with path.open("rb") as handle:
            return handle.read(_READ_LIMIT)
    except OSError:
        return b""


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def read_tail(path: Path, *, since: int = 0) -> bytes:
    """The last bytes of a log file written after offset ``since``; empty when absent."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(since, size - _READ_LIMIT, 0))
            return handle.read()
    except OSError:
        return b""


def kill_orphans(pods_dir: Path) -> list[int]:
    """SIGKILL every process whose working directory lies under ``pods_dir``: container
    processes left behind by an earlier agent that died without stopping them (the agent runs
    each container in its pod's directory there). Returns the pids signalled."""
    root = str(pods_dir.resolve())
    killed: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:  # gone meanwhile, or not ours to inspect
            continue
        if cwd == root or cwd.startswith(root + os.sep):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(entry.name), signal.SIGKILL)
                killed.append(int(entry.name))
    return killed
