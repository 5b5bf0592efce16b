"""Local processes as container instances.

Aspects: exit codes (normal and by signal); stop sends SIGTERM first and SIGKILL after the grace
period to a process ignoring SIGTERM; the whole process group dies with the main process;
stdout and stderr reach the output as separate streams, all of it by the time wait() returns;
orphans of an earlier agent (processes working in its pods directory) are killed at start,
other processes are not; reading a file's head (capped, missing files).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.support.wait import eventually
from zenflow.envtest.nodeagent.process import LocalProcess, exit_code_of, kill_orphans, read_head


class Output:
    """Collects what a process writes, per stream."""

    def __init__(self) -> None:
        self.streams: dict[str, bytes] = {}

    def write(self, stream: str, data: bytes) -> None:
        self.streams[stream] = self.streams.get(stream, b"") + data


@pytest.mark.parametrize(
    ("returncode", "expected"),
    [
        pytest.param(0, 0, id="success"),
        pytest.param(3, 3, id="failure"),
        pytest.param(-signal.SIGTERM, 143, id="sigterm"),
        pytest.param(-signal.SIGKILL, 137, id="sigkill"),
    ],
)
def test_exit_code_of(returncode: int, expected: int) -> None:
    assert exit_code_of(returncode) == expected


def _env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}


async def _start(script: str, tmp_path: Path, output: Output | None = None) -> LocalProcess:
    return await LocalProcess.start(
        argv=["sh", "-c", script], env=_env(), cwd=tmp_path, output=output or Output()
    )


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _read(path: Path) -> str:
    return path.read_text().strip() if path.exists() else ""


async def test_output_and_exit_code(tmp_path: Path) -> None:
    output = Output()
    process = await _start("echo out; echo err >&2; pwd; exit 4", tmp_path, output)
    assert await process.wait() == 4
    assert output.streams == {"stdout": f"out\n{tmp_path}\n".encode(), "stderr": b"err\n"}


async def test_stop_drains_the_output(tmp_path: Path) -> None:
    output = Output()
    marker = tmp_path / "ready"
    process = await _start(f"echo started; touch {marker}; exec sleep 300", tmp_path, output)

    async def ready() -> bool:
        return marker.exists()

    await eventually(ready, what="process started", within=5, interval=0.01)
    assert await process.stop(grace_s=5) == 143
    assert output.streams == {"stdout": b"started\n"}


async def test_stop_escalates_to_sigkill_after_grace(tmp_path: Path) -> None:
    marker = tmp_path / "ready"
    process = await _start(f"trap '' TERM; touch {marker}; while :; do sleep 0.05; done", tmp_path)

    async def ready() -> bool:
        return marker.exists()

    await eventually(ready, what="trap installed", within=5, interval=0.01)
    began = asyncio.get_running_loop().time()
    assert await process.stop(grace_s=0.3) == 137
    assert asyncio.get_running_loop().time() - began >= 0.3


async def test_group_dies_with_the_main_process(tmp_path: Path) -> None:
    child = tmp_path / "child"
    process = await _start(f"sleep 300 & echo $! > {child}; sleep 0.2", tmp_path)
    assert await process.wait() == 0
    pid = int(_read(child))

    async def dead() -> bool:
        return not _alive(pid)

    await eventually(dead, what=f"orphan {pid} killed", within=2, interval=0.01)


def test_read_head(tmp_path: Path) -> None:
    path = tmp_path / "f"
    assert read_head(path) == b""
    path.write_bytes(b"a" * 10_000 + b"END")
    assert read_head(path) == b"a" * 8192


def test_kill_orphans_only_touches_processes_in_the_pods_directory(tmp_path: Path) -> None:
    pod_dir = tmp_path / "pods" / "ns_p_uid"
    other_dir = tmp_path / "elsewhere"
    pod_dir.mkdir(parents=True)
    other_dir.mkdir()
    orphan = subprocess.Popen(["sleep", "300"], cwd=pod_dir, start_new_session=True)
    bystander = subprocess.Popen(["sleep", "300"], cwd=other_dir, start_new_session=True)
    try:
        assert kill_orphans(tmp_path / "pods") == [orphan.pid]
        assert orphan.wait(timeout=5) == -signal.SIGKILL
        assert bystander.poll() is None
    finally:
        for proc in (orphan, bystander):
            proc.kill()
            proc.wait(timeout=5)
