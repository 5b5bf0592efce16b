"""Child processes of the control plane (zenflow.envtest.process).

Aspects: stop() ends the process and whatever it spawned (its process group), and is idempotent;
a process that exits is reported with its exit code and its log's tail; wait_until fails fast
when a watched process exits, times out naming what it waited for, and returns once ready;
tail() of missing and long files.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from tests.support.wait import eventually_sync
from zenflow.envtest.process import ManagedProcess, tail, wait_until
from zenflow.errors import ControlPlaneError


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _python(tmp_path: Path, code: str, name: str = "child") -> ManagedProcess:
    return ManagedProcess(
        name=name, argv=[sys.executable, "-c", code], log_path=tmp_path / f"{name}.log"
    )


def test_stop_ends_the_process_and_its_children(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    code = (
        "import subprocess, sys, time\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(p.pid))\n"
        "time.sleep(60)\n"
    )
    proc = _python(tmp_path, code)
    proc.start()
    wait_until(pid_file.exists, what="the grandchild", timeout=10, watch=[proc])
    grandchild = int(pid_file.read_text())
    proc.stop(timeout=5)
    proc.stop(timeout=5)
    assert not proc.alive()
    eventually_sync(lambda: not _alive(grandchild), what="the grandchild gone", within=5)


def test_stop_kills_a_process_ignoring_sigterm(tmp_path: Path) -> None:
    code = (
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('up', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = _python(tmp_path, code)
    proc.start()
    wait_until(lambda: "up" in tail(proc.log_path), what="start", timeout=10, watch=[proc])
    started = time.monotonic()
    proc.stop(timeout=0.5)
    assert not proc.alive()
    assert time.monotonic() - started < 5


def test_exited_process_is_reported_with_its_log(tmp_path: Path) -> None:
    proc = _python(tmp_path, "import sys; print('bad flag --nope', flush=True); sys.exit(4)")
    proc.start()
    started = time.monotonic()
    with pytest.raises(ControlPlaneError) as info:
        wait_until(lambda: False, what="never", timeout=30, watch=[proc])
    assert time.monotonic() - started < 10
    message = str(info.value)
    assert "child exited with code 4 while waiting for never" in message
    assert "bad flag --nope" in message


def test_wait_until_times_out_naming_what_it_waited_for(tmp_path: Path) -> None:
    proc = _python(tmp_path, "import time; time.sleep(60)")
    proc.start()
    try:
        with pytest.raises(ControlPlaneError, match="timed out after 0s waiting for the moon"):
            wait_until(lambda: False, what="the moon", timeout=0.3, watch=[proc])
    finally:
        proc.stop()


def test_wait_until_returns_when_ready(tmp_path: Path) -> None:
    calls: list[int] = []

    def ready() -> bool:
        calls.append(1)
        return len(calls) >= 3

    wait_until(ready, what="three calls", timeout=10, watch=[], interval=0.01)
    assert len(calls) == 3


def test_start_of_a_missing_executable_is_a_control_plane_error(tmp_path: Path) -> None:
    proc = ManagedProcess(name="ghost", argv=[str(tmp_path / "nope")], log_path=tmp_path / "g.log")
    with pytest.raises(ControlPlaneError, match="could not start ghost"):
        proc.start()


def test_tail_of_missing_and_long_files(tmp_path: Path) -> None:
    assert tail(tmp_path / "missing") == ""
    path = tmp_path / "long.log"
    path.write_text("".join(f"line {i}\n" for i in range(1000)))
    assert tail(path, lines=2) == "line 998\nline 999"
    assert os.path.getsize(path) > 0
