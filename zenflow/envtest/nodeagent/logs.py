"""Container logs on the local node, kept as a kubelet's container runtime keeps them.

Each container instance (a start of a container; a restart is a new instance) writes its stdout
and stderr into one file in the CRI log format, one record per line::

    <time: RFC 3339, UTC, 9 decimals> <stdout|stderr> <F|P> <content>

``F`` ends a line of output; ``P`` is part of one (lines are cut every ``LINE_LIMIT`` bytes, and
output that ends without a newline is kept as a last ``P`` record). Files live at
``<pod dir>/logs/<container>/<instance>.log`` (``.log.1`` after a rotation); only the current
and the previous instance of each container are kept: what ``kubectl logs`` and ``--previous``
can ask for.

Invariants: a file is written only by its ``ContainerLog``, one whole record per unbuffered
``write``, so a reader in the same process never sees a torn record; a file holds at most
``max_bytes`` (the write that would pass it first rotates the file to ``.1``, replacing an older
``.1``), so an instance keeps at most twice that; after ``finish`` nothing more is written and
every waiter of :meth:`ContainerLog.changed` is woken.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

LINE_LIMIT: Final = 16 * 1024
DEFAULT_MAX_BYTES: Final = 10 * 1024 * 1024
STREAMS: Final = ("stdout", "stderr")


def format_time(ns: int) -> str:
    """``2024-05-01T10:00:00.123456789Z``: fixed width, so later times sort after earlier."""
    seconds, nanos = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos:09d}Z"


def encode(*, at: str, stream: str, full: bool, content: bytes) -> bytes:
    return b"%s %s %s %s\n" % (at.encode(), stream.encode(), b"F" if full else b"P", content)


@dataclass(frozen=True, slots=True)
class Record:
    """One record of a log file."""

    at: str
    stream: str
    full: bool
    content: bytes

    @classmethod
    def decode(cls, line: bytes) -> Record | None:
        """The record of one file line (without its newline); None when it is not one."""
        parts = line.split(b" ", 3)
        if len(parts) < 3 or parts[2] not in (b"F", b"P"):
            return None
        content = parts[3] if len(parts) == 4 else b""
        return cls(parts[0].decode(), parts[1].decode(), parts[2] == b"F", content)


def rotated_path(path: Path) -> Path:
    return path.with_name(path.name + ".1")


class ContainerLog:
    """The writing end of one container instance's log file."""

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        clock: Callable[[], int] = time.time_ns,
        on_finish: Callable[[ContainerLog], None] | None = None,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._max = max_bytes
        self._clock = clock
        self._on_finish = on_finish
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._size = os.fstat(self._fd).st_size
        self._pending: dict[str, bytes] = {}
        self._changed = asyncio.Event()
        self.rotations = 0
        self.finished = False

    def changed(self) -> asyncio.Event:
        """An event set at the next write, rotation or finish (take it before reading)."""
        return self._changed

    def write(self, stream: str, data: bytes) -> None:
        """Append output of ``stream``; complete lines become records at once, the rest waits
        for its newline (or ``LINE_LIMIT`` bytes)."""
        if self.finished or not data:
            return
        lines = (self._pending.pop(stream, b"") + data).split(b"\n")
        rest = lines.pop()
        at = format_time(self._clock())
        wrote = False
        for line in lines:
            while len(line) > LINE_LIMIT:
                self._append(encode(at=at, stream=stream, full=False, content=line[:LINE_LIMIT]))
                line = line[LINE_LIMIT:]
            self._append(encode(at=at, stream=stream, full=True, content=line))
            wrote = True
        while len(rest) >= LINE_LIMIT:
            self._append(encode(at=at, stream=stream, full=False, content=rest[:LINE_LIMIT]))
            rest = rest[LINE_LIMIT:]
            wrote = True
        if rest:
            self._pending[stream] = rest
        if wrote:
            self._notify()

    def finish(self) -> None:
        """The instance ended: keep its unterminated output as a last partial record, close."""
        if self.finished:
            return
        at = format_time(self._clock())
        for stream, rest in sorted(self._pending.items()):
            self._append(encode(at=at, stream=stream, full=False, content=rest))
        self._pending.clear()
        self.finished = True
        os.close(self._fd)
        self._notify()
        if self._on_finish is not None:
            self._on_finish(self)

    def _append(self, record: bytes) -> None:
        if self._size and self._size + len(record) > self._max:
            os.close(self._fd)
            os.replace(self.path, rotated_path(self.path))
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._size = 0
            self.rotations += 1
        os.write(self._fd, record)
        self._size += len(record)

    def _notify(self) -> None:
        event, self._changed = self._changed, asyncio.Event()
        event.set()


@dataclass(frozen=True, slots=True)
class LogSource:
    """What to read for one request: an instance's file, and its writer while it runs."""

    path: Path
    live: ContainerLog | None


class LogNotFound(LookupError):
    """No log to serve; the message is the kubelet's (``… is waiting to start …``)."""


class LogStore:
    """Every container log of the node, by pod directory. Invariant: ``_live`` holds exactly the
    unfinished ``ContainerLog``s, by path."""

    def __init__(self, pods_dir: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.pods_dir = pods_dir
        self.max_bytes = max_bytes
        self._live: dict[Path, ContainerLog] = {}
        self._uids: dict[tuple[str, str], str] = {}

    def pod_dir(self, *, namespace: str, name: str, uid: str) -> Path:
        # Namespace and pod names are DNS names: no "_", so the directory name splits back.
        return self.pods_dir / f"{namespace}_{name}_{uid}"

    def open(
        self, *, namespace: str, pod: str, uid: str, container: str, instance: int
    ) -> ContainerLog:
        """A new instance's log; instances older than the previous one are removed."""
        directory = self.pod_dir(namespace=namespace, name=pod, uid=uid) / "logs" / container
        directory.mkdir(parents=True, exist_ok=True)
        for number, path in _instances(directory):
            if number < instance - 1:
                path.unlink(missing_ok=True)
                rotated_path(path).unlink(missing_ok=True)
        self._uids[(namespace, pod)] = uid
        log = ContainerLog(
            directory / f"{instance}.log", max_bytes=self.max_bytes, on_finish=self._finished
        )
        self._live[log.path] = log
        return log

    def _finished(self, log: ContainerLog) -> None:
        self._live.pop(log.path, None)

    def find(self, *, namespace: str, pod: str, container: str, previous: bool) -> LogSource:
        """The log a kubelet would serve; raises LogNotFound with the kubelet's message."""
        pod_dir = self._pod_dir_of(namespace, pod)
        instances = _instances(pod_dir / "logs" / container) if pod_dir is not None else []
        if previous:
            if len(instances) < 2:
                raise LogNotFound(
                    f'previous terminated container "{container}" in pod "{pod}" not found'
                )
            path = instances[-2][1]
        elif not instances:
            raise LogNotFound(
                f'container "{container}" in pod "{pod}" is waiting to start: ContainerCreating'
            )
        else:
            path = instances[-1][1]
        return LogSource(path=path, live=self._live.get(path))

    def remove_pod(self, *, namespace: str, name: str, uid: str) -> None:
        """The pod is gone: its logs go too (open writers are finished first)."""
        pod_dir = self.pod_dir(namespace=namespace, name=name, uid=uid)
        for path, log in list(self._live.items()):
            if pod_dir in path.parents:
                log.finish()
        if self._uids.get((namespace, name)) == uid:
            del self._uids[(namespace, name)]
        shutil.rmtree(pod_dir, ignore_errors=True)

    def _pod_dir_of(self, namespace: str, pod: str) -> Path | None:
        uid = self._uids.get((namespace, pod))
        if uid is not None:
            return self.pod_dir(namespace=namespace, name=pod, uid=uid)
        # Not seen since this agent started (an earlier agent ran it): the newest directory.
        candidates = list(self.pods_dir.glob(f"{namespace}_{pod}_*"))
        with contextlib.suppress(OSError):
            return max(candidates, key=lambda p: p.stat().st_mtime) if candidates else None
        return None


def _instances(directory: Path) -> list[tuple[int, Path]]:
    """``(instance, path)`` of the log files in ``directory``, oldest first."""
    found = []
    for path in directory.glob("*.log"):
        stem = path.name.removesuffix(".log")
        if stem.isdigit():
            found.append((int(stem), path))
    return sorted(found)
