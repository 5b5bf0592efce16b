"""Reading container logs as the kubelet serves them (``nodeagent.logread``).

Aspects: the query parameters and their errors; the whole output, the last N lines (a line
being partial records up to a full one), records since a time, timestamps at the start of
each line, a byte limit; the rotated file is read before the current one; following yields
what is written as it is written, across a rotation, and ends once the instance has finished;
a finished instance is read once even with follow; the output tail FallbackToLogsOnError uses.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.wait import eventually
from zenflow.envtest.nodeagent.logread import (
    LogOptions,
    output_tail,
    parse_options,
    read_log,
)
from zenflow.envtest.nodeagent.logs import ContainerLog, LogSource, format_time

SECOND = 1_000_000_000
NOW = 1_700_000_100 * SECOND


class Clock:
    def __init__(self, start: int) -> None:
        self.now = start

    def __call__(self) -> int:
        return self.now


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param({}, LogOptions(), id="defaults"),
        pytest.param(
            {"follow": "true", "previous": "1", "timestamps": "True"},
            LogOptions(follow=True, previous=True, timestamps=True),
            id="booleans",
        ),
        pytest.param({"tailLines": "0"}, LogOptions(tail_lines=0), id="tail-0"),
        pytest.param(
            {"sinceSeconds": "10"}, LogOptions(since=format_time(NOW - 10 * SECOND)), id="since-s"
        ),
        pytest.param(
            {"sinceTime": "2023-11-14T22:13:20Z"},
            LogOptions(since=format_time(1_700_000_000 * SECOND)),
            id="since-time",
        ),
        pytest.param({"limitBytes": "5"}, LogOptions(limit_bytes=5), id="limit"),
    ],
)
def test_parse_options(query: dict[str, str], expected: LogOptions) -> None:
    assert parse_options(query, now_ns=lambda: NOW) == expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        pytest.param({"follow": "yes"}, "follow: 'yes' is not a boolean", id="bool"),
        pytest.param({"tailLines": "-1"}, "tailLines: must be greater than", id="tail"),
        pytest.param({"limitBytes": "x"}, "limitBytes: 'x' is not an integer", id="limit"),
        pytest.param({"sinceSeconds": "0"}, "sinceSeconds: must be greater", id="since-0"),
        pytest.param({"sinceTime": "yesterday"}, "not an RFC 3339 time", id="since-time"),
        pytest.param(
            {"sinceTime": "2023-11-14T22:13:20Z", "sinceSeconds": "1"},
            "at most one of sinceTime or sinceSeconds",
            id="both",
        ),
    ],
)
def test_parse_options_refuses(query: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_options(query)


async def _read(source: LogSource, options: LogOptions) -> bytes:
    return b"".join([chunk async for chunk in read_log(source, options)])


def _written(tmp_path: Path, clock: Clock, *, max_bytes: int = 1 << 20) -> ContainerLog:
    log = ContainerLog(tmp_path / "0.log", max_bytes=max_bytes, clock=clock)
    for number in range(1, 5):
        clock.now = NOW + number * SECOND
        log.write("stdout", f"line {number}\n".encode())
    log.write("stderr", b"partial ")
    clock.now = NOW + 5 * SECOND
    log.write("stderr", b"still ")
    return log


async def test_reading_options(tmp_path: Path) -> None:
    clock = Clock(NOW)
    log = _written(tmp_path, clock)
    log.finish()
    source = LogSource(path=log.path, live=None)
    everything = b"line 1\nline 2\nline 3\nline 4\npartial still "
    assert await _read(source, LogOptions()) == everything
    assert await _read(source, LogOptions(tail_lines=2)) == b"line 4\npartial still "
    assert await _read(source, LogOptions(tail_lines=0)) == b""
    assert await _read(source, LogOptions(tail_lines=99)) == everything
    since = format_time(NOW + 3 * SECOND)
    assert await _read(source, LogOptions(since=since)) == b"line 3\nline 4\npartial still "
    assert await _read(source, LogOptions(limit_bytes=9)) == b"line 1\nli"
    stamped = await _read(source, LogOptions(tail_lines=2, timestamps=True))
    assert (
        stamped
        == (
            f"{format_time(NOW + 4 * SECOND)} line 4\n"
            f"{format_time(NOW + 5 * SECOND)} partial still "
        ).encode()
    )


async def test_the_rotated_file_comes_first(tmp_path: Path) -> None:
    clock = Clock(NOW)
    log = _written(tmp_path, clock, max_bytes=120)
    log.finish()
    assert log.rotations >= 1
    text = await _read(LogSource(path=log.path, live=None), LogOptions())
    assert text.endswith(b"line 4\npartial still ")
    assert text.splitlines() == sorted(text.splitlines())


def _has(chunks: list[bytes], line: bytes) -> bool:
    return line in b"".join(chunks)


async def _collect(chunks: AsyncIterator[bytes], into: list[bytes]) -> None:
    async for chunk in chunks:
        into.append(chunk)


async def test_follow_streams_writes_and_ends_with_the_instance(tmp_path: Path) -> None:
    clock = Clock(NOW)
    log = ContainerLog(tmp_path / "0.log", max_bytes=60, clock=clock)
    log.write("stdout", b"before\n")
    got: list[bytes] = []
    reader = asyncio.create_task(
        _collect(read_log(LogSource(log.path, log), LogOptions(follow=True)), got)
    )
    for number in range(8):  # several rotations at 60 bytes
        log.write("stdout", f"live {number}\n".encode())
        await eventually(
            functools.partial(_has, got, f"live {number}\n".encode()), what="line read", within=5
        )
    assert log.rotations >= 2
    assert not reader.done()
    log.finish()
    await asyncio.wait_for(reader, timeout=2)
    assert b"".join(got) == b"before\n" + b"".join(f"live {n}\n".encode() for n in range(8))


async def test_follow_of_a_finished_instance_reads_it_once(tmp_path: Path) -> None:
    log = ContainerLog(tmp_path / "0.log")
    log.write("stdout", b"done\n")
    log.finish()
    source = LogSource(path=log.path, live=None)
    assert await asyncio.wait_for(_read(source, LogOptions(follow=True)), 2) == b"done\n"


def test_output_tail(tmp_path: Path) -> None:
    assert output_tail(tmp_path / "missing.log") == b""
    log = ContainerLog(tmp_path / "0.log")
    log.write("stdout", b"a\n" * 40_000 + b"boom\n")
    log.write("stderr", b"no newline")
    log.finish()
    tail = output_tail(log.path)
    assert tail.endswith(b"a\nboom\nno newline")
    assert tail.startswith(b"a\n")
    assert len(tail) < 64 * 1024
