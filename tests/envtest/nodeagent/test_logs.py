"""Container log files of the node agent (``nodeagent.logs``).

Aspects: complete lines become records at once, per stream, with a fixed-width UTC time; a
line without its newline waits for it and is kept as a partial record when the instance ends;
a line longer than LINE_LIMIT is cut into partial records; a write past the cap rotates the
file, keeping one older file; waiters are woken by writes and by the end; the store finds the
current and the previous instance (and says "waiting to start" / "previous … not found" like
the kubelet), keeps only two instances, finds a pod an earlier agent ran, and removes a pod's
logs with it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from zenflow.envtest.nodeagent.logs import (
    LINE_LIMIT,
    ContainerLog,
    LogNotFound,
    LogStore,
    Record,
    format_time,
    rotated_path,
)

T0 = 1_700_000_000_123_456_789


def _records(path: Path) -> list[Record]:
    lines = path.read_bytes().splitlines()
    return [r for line in lines if (r := Record.decode(line)) is not None]


def _log(path: Path, *, max_bytes: int = 1 << 20) -> ContainerLog:
    return ContainerLog(path, max_bytes=max_bytes, clock=lambda: T0)


def test_format_time_is_fixed_width_utc() -> None:
    assert format_time(T0) == "2023-11-14T22:13:20.123456789Z"
    assert format_time(1_000_000_000) == "1970-01-01T00:00:01.000000000Z"


def test_lines_become_records_per_stream(tmp_path: Path) -> None:
    log = _log(tmp_path / "0.log")
    log.write("stdout", b"one\ntw")
    log.write("stderr", b"oops\n")
    log.write("stdout", b"o\n")
    log.finish()
    assert [(r.stream, r.full, r.content) for r in _records(log.path)] == [
        ("stdout", True, b"one"),
        ("stderr", True, b"oops"),
        ("stdout", True, b"two"),
    ]
    assert {r.at for r in _records(log.path)} == {format_time(T0)}


def test_unterminated_output_is_kept_as_a_partial_record(tmp_path: Path) -> None:
    log = _log(tmp_path / "0.log")
    log.write("stdout", b"no newline")
    assert _records(log.path) == []
    log.finish()
    assert [(r.full, r.content) for r in _records(log.path)] == [(False, b"no newline")]
    log.write("stdout", b"after the end\n")
    assert len(_records(log.path)) == 1


def test_long_lines_are_cut(tmp_path: Path) -> None:
    log = _log(tmp_path / "0.log")
    log.write("stdout", b"x" * (LINE_LIMIT * 2 + 5) + b"\n")
    log.finish()
    assert [(r.full, len(r.content)) for r in _records(log.path)] == [
        (False, LINE_LIMIT),
        (False, LINE_LIMIT),
        (True, 5),
    ]


def test_a_write_past_the_cap_rotates_the_file(tmp_path: Path) -> None:
    log = _log(tmp_path / "0.log", max_bytes=200)
    for number in range(20):
        log.write("stdout", f"line {number:02d}\n".encode())
    log.finish()
    assert log.rotations > 1
    kept = _records(rotated_path(log.path)) + _records(log.path)
    assert kept[-1].content == b"line 19"
    assert [int(r.content.split()[1]) for r in kept] == list(range(20 - len(kept), 20))
    assert log.path.stat().st_size <= 200
    assert rotated_path(log.path).stat().st_size <= 200


async def test_waiters_are_woken_by_writes_and_the_end(tmp_path: Path) -> None:
    log = _log(tmp_path / "0.log")
    first = log.changed()
    log.write("stdout", b"partial")
    assert not first.is_set()  # nothing readable yet
    log.write("stdout", b" line\n")
    assert first.is_set()
    second = log.changed()
    assert not second.is_set()
    log.finish()
    await asyncio.wait_for(second.wait(), timeout=1)
    assert log.finished


def _open(store: LogStore, instance: int, *, uid: str = "u1") -> ContainerLog:
    return store.open(namespace="ns", pod="p", uid=uid, container="c", instance=instance)


def test_store_finds_the_current_and_the_previous_instance(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "pods")
    with pytest.raises(LogNotFound, match='container "c" in pod "p" is waiting to start'):
        store.find(namespace="ns", pod="p", container="c", previous=False)
    first = _open(store, 0)
    assert store.find(namespace="ns", pod="p", container="c", previous=False).live is first
    with pytest.raises(LogNotFound, match='previous terminated container "c" in pod "p"'):
        store.find(namespace="ns", pod="p", container="c", previous=True)
    first.finish()
    second = _open(store, 1)
    current = store.find(namespace="ns", pod="p", container="c", previous=False)
    previous = store.find(namespace="ns", pod="p", container="c", previous=True)
    assert (current.path, current.live) == (second.path, second)
    assert (previous.path, previous.live) == (first.path, None)


def test_store_keeps_two_instances(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "pods")
    for instance in range(4):
        _open(store, instance).finish()
    directory = store.pod_dir(namespace="ns", name="p", uid="u1") / "logs" / "c"
    assert sorted(p.name for p in directory.iterdir()) == ["2.log", "3.log"]


def test_store_finds_a_pod_an_earlier_agent_ran(tmp_path: Path) -> None:
    _open(LogStore(tmp_path / "pods"), 0).finish()
    again = LogStore(tmp_path / "pods")
    found = again.find(namespace="ns", pod="p", container="c", previous=False)
    assert found.path.name == "0.log"
    assert found.live is None


def test_remove_pod_finishes_writers_and_deletes_the_logs(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "pods")
    log = _open(store, 0)
    other = _open(store, 0, uid="u2")  # a newer pod of the same name
    store.remove_pod(namespace="ns", name="p", uid="u1")
    assert log.finished
    assert not other.finished
    assert not store.pod_dir(namespace="ns", name="p", uid="u1").exists()
    assert store.find(namespace="ns", pod="p", container="c", previous=False).live is other
