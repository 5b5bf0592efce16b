"""Local processes standing in for container instances (the node agent's "runtime").

Each container instance is one process started in its own session, so its process group holds
everything it spawns; like a container's cgroup, the whole group is killed when the main process
exits or the container is stopped. stdout and stderr are pipes the agent reads, like a
container runtime's shim, into the instance's log (``nodeagent.logs``): ``wait``/``stop`` return
once both pipes are drained (or ``DRAIN_TIMEOUT_S`` after the group was killed, should a process
that left the group still hold them).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final, Protocol

# Read at most this much of a file the command wrote (the API limit is 4096 bytes).
_READ_LIMIT: Final = 8192
DRAIN_TIMEOUT_S: Final = 2.0


class Output(Protocol):
    """Where a process's output goes (a ``ContainerLog``)."""

    def write(self, stream: str, data: bytes) -> None: ...


def exit_code_of(returncode: int) -> int:
    """A shell-style exit code: a process killed by signal N reports 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _same(protocol: _OutputPipe) -> _OutputPipe:
    return protocol


class _OutputPipe(asyncio.Protocol):
    """The read end of one output pipe: hands every chunk to the output as it arrives."""

    def __init__(self, stream: str, output: Output) -> None:
        self._stream = stream
        self._output = output
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self._output.write(self._stream, data)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


class LocalProcess:
    """One running container instance. Invariants: the process is its own group leader, so
    ``pid`` is also the process group id; its stdout/stderr are plain OS pipes read by the
    event loop (not the subprocess transport's, whose ``wait`` would also wait for every
    process holding them)."""

    def __init__(
        self,
        proc: asyncio.subprocess.Process,
        pipes: list[tuple[asyncio.ReadTransport, _OutputPipe]],
    ) -> None:
        self._proc = proc
        self._pipes = pipes

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
        output: Output,
    ) -> LocalProcess:
        """Start ``argv``; OSError (e.g. executable not found) propagates to the caller."""
        loop = asyncio.get_running_loop()
        fds = {stream: os.pipe() for stream in ("stdout", "stderr")}
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                cwd=cwd,
                env=dict(env),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=fds["stdout"][1],
                stderr=fds["stderr"][1],
                start_new_session=True,
            )
        except BaseException:
            for read_fd, _ in fds.values():
                os.close(read_fd)
            raise
        finally:
            for _, write_fd in fds.values():
                os.close(write_fd)
        pipes: list[tuple[asyncio.ReadTransport, _OutputPipe]] = []
        for stream, (read_fd, _) in fds.items():
            protocol = _OutputPipe(stream, output)
            transport, _ = await loop.connect_read_pipe(
                functools.partial(_same, protocol), os.fdopen(read_fd, "rb", buffering=0)
            )
            pipes.append((transport, protocol))
        return cls(proc, pipes)

    async def wait(self) -> int:
        """Wait for the main process, then kill what is left of its group and drain its
        output; the exit code."""
        returncode = await self._proc.wait()
        _signal_group(self._proc.pid, signal.SIGKILL)
        await self._drain()
        return exit_code_of(returncode)

    async def _drain(self) -> None:
        closed = [protocol.closed for _, protocol in self._pipes]
        await asyncio.wait(closed, timeout=DRAIN_TIMEOUT_S)
        for transport, _ in self._pipes:
            transport.close()

    async def stop(self, *, grace_s: float) -> int:
        """SIGTERM the group, SIGKILL it after ``grace_s``; the exit code."""
        if self._proc.returncode is None:
            _signal_group(self._proc.pid, signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._proc.wait()), timeout=grace_s)
        _signal_group(self._proc.pid, signal.SIGKILL)
        returncode = await self._proc.wait()
        await self._drain()
        return exit_code_of(returncode)

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
