"""Child processes of the local control plane: start with a log file, watch, stop for sure.

Invariants: each child leads its own process group (so a stop also reaches whatever it spawned,
and a Ctrl-C in the terminal does not race our orderly shutdown); when started from the main
thread it also gets SIGTERM if our process dies (``PR_SET_PDEATHSIG``), so a killed test run
leaves nothing listening. ``stop()`` is idempotent and returns only once the process is reaped.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

from zenflow.errors import ControlPlaneError

_PR_SET_PDEATHSIG = 1


def tail(path: Path, *, lines: int = 25) -> str:
    """The last ``lines`` lines of a text file ('' if it does not exist)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            data = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-lines:])


def _die_with_parent(parent_pid: int) -> Callable[[], None]:
    def preexec() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


class ManagedProcess:
    """One named child process whose stdout and stderr go to ``log_path``."""

    def __init__(
        self,
        *,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> None:
        if self.alive():
            raise ControlPlaneError(f"{self.name} is already running (pid {self.pid})")
        in_main = threading.current_thread() is threading.main_thread()
        # The child keeps its own copy of the log descriptor; ours is closed right away.
        with open(self.log_path, "ab") as log:
            log.write(f"--- {time.strftime('%H:%M:%S')} $ {' '.join(self.argv)}\n".encode())
            log.flush()
            self._proc = self._spawn(log, in_main=in_main)

    def _spawn(self, log: IO[bytes], *, in_main: bool) -> subprocess.Popen[bytes]:
        try:
            return subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
                # PDEATHSIG fires when the spawning *thread* exits, so only the main thread,
                # which lives as long as the process, may arm it.
                preexec_fn=_die_with_parent(os.getpid()) if in_main else None,
            )
        except OSError as exc:
            raise ControlPlaneError(f"could not start {self.name} ({self.argv[0]}): {exc}") from exc

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def exit_code(self) -> int | None:
        return self._proc.poll() if self._proc is not None else None

    def check_alive(self, *, during: str) -> None:
        """Raise ControlPlaneError with the log's tail if the process has exited."""
        if self._proc is None:
            raise ControlPlaneError(f"{self.name} was never started")
        code = self._proc.poll()
        if code is not None:
            raise ControlPlaneError(
                f"{self.name} exited with code {code} {during}; last lines of {self.log_path}:\n"
                f"{tail(self.log_path)}"
            )

    def stop(self, *, timeout: float = 10.0) -> None:
        """SIGTERM the process group, SIGKILL it after ``timeout`` seconds, reap the process."""
        proc = self._proc
        if proc is not None:
            if proc.poll() is None:
                self._signal_group(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self._signal_group(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=timeout)
            # Whatever the leader spawned and left behind goes too.
            self._signal_group(proc.pid, signal.SIGKILL)

    @staticmethod
    def _signal_group(pgid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)


def wait_until(
    ready: Callable[[], bool],
    *,
    what: str,
    timeout: float,
    watch: Sequence[ManagedProcess],
    interval: float = 0.1,
) -> None:
    """Poll ``ready`` until true; fail fast if a watched process exits, or after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        for proc in watch:
            proc.check_alive(during=f"while waiting for {what}")
        if ready():
            return
        if time.monotonic() > deadline:
            logs = "\n".join(
                f"--- last lines of {proc.log_path}:\n{tail(proc.log_path, lines=10)}"
                for proc in watch
            )
            raise ControlPlaneError(f"timed out after {timeout:.0f}s waiting for {what}\n{logs}")
        time.sleep(interval)
