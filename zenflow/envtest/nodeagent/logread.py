"""Reading a container log as the kubelet's ``/containerLogs`` endpoint serves it.

``LogOptions`` are the query parameters the API server passes on from ``pods/log``
(``follow``, ``tailLines``, ``sinceSeconds``/``sinceTime``, ``timestamps``, ``limitBytes``;
``previous`` chooses the file, see ``LogStore.find``). ``read_log`` yields the log's output:
each record's content (a newline after a record that ends its line), prefixed with its time
when ``timestamps`` is asked, only records at or after ``since``, only the last ``tail_lines``
lines, cut after ``limit_bytes``. With ``follow`` it then yields what the running instance
writes, as it is written, and ends once the instance has finished and everything is read.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from zenflow.envtest.nodeagent.logs import LogSource, Record, format_time, rotated_path

_TRUE = frozenset({"1", "t", "T", "true", "TRUE", "True"})
_FALSE = frozenset({"0", "f", "F", "false", "FALSE", "False"})


@dataclass(frozen=True, slots=True)
class LogOptions:
    follow: bool = False
    previous: bool = False
    timestamps: bool = False
    tail_lines: int | None = None
    since: str | None = None  # a format_time() stamp: older records are left out
    limit_bytes: int | None = None


def parse_options(
    query: Mapping[str, str], *, now_ns: Callable[[], int] = time.time_ns
) -> LogOptions:
    """The options of a ``/containerLogs`` query; ValueError names a malformed parameter."""
    if "sinceSeconds" in query and "sinceTime" in query:
        raise ValueError("at most one of sinceTime or sinceSeconds may be specified")
    since: str | None = None
    if (seconds := _int(query, "sinceSeconds", minimum=1)) is not None:
        since = format_time(now_ns() - seconds * 1_000_000_000)
    elif "sinceTime" in query:
        try:
            moment = datetime.fromisoformat(query["sinceTime"])
        except ValueError:
            raise ValueError(f"sinceTime: {query['sinceTime']!r} is not an RFC 3339 time") from None
        if moment.tzinfo is None:
            raise ValueError(f"sinceTime: {query['sinceTime']!r} has no time zone")
        since = format_time(int(moment.timestamp() * 1_000_000_000))
    return LogOptions(
        follow=_bool(query, "follow"),
        previous=_bool(query, "previous"),
        timestamps=_bool(query, "timestamps"),
        tail_lines=_int(query, "tailLines", minimum=0),
        since=since,
        limit_bytes=_int(query, "limitBytes", minimum=1),
    )


def _bool(query: Mapping[str, str], key: str) -> bool:
    raw = query.get(key)
    if raw is None or raw in _FALSE:
        return False
    if raw in _TRUE or raw == "":
        return True
    raise ValueError(f"{key}: {raw!r} is not a boolean")


def _int(query: Mapping[str, str], key: str, *, minimum: int) -> int | None:
    raw = query.get(key)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{key}: {raw!r} is not an integer") from None
    if value < minimum:
        raise ValueError(f"{key}: must be greater than or equal to {minimum}")
    return value


class _Renderer:
    """Turns records into output bytes, honouring timestamps and the byte limit."""

    def __init__(self, options: LogOptions) -> None:
        self._timestamps = options.timestamps
        self._left = options.limit_bytes
        self._at_line_start = True

    @property
    def exhausted(self) -> bool:
        return self._left is not None and self._left <= 0

    def render(self, records: list[Record]) -> bytes:
        parts: list[bytes] = []
        for record in records:
            if self._timestamps and self._at_line_start:
                parts.append(record.at.encode() + b" ")
            parts.append(record.content + b"\n" if record.full else record.content)
            self._at_line_start = record.full
        out = b"".join(parts)
        if self._left is not None:
            out = out[: max(self._left, 0)]
            self._left -= len(out)
        return out


def _split(data: bytes) -> tuple[list[Record], bytes]:
    """The complete records in ``data`` and what is left after the last newline."""
    lines = data.split(b"\n")
    rest = lines.pop()
    return [r for line in lines if (r := Record.decode(line)) is not None], rest


def _last_lines(records: list[Record], count: int) -> list[Record]:
    """The records of the last ``count`` lines (a line: partial records up to a full one)."""
    if count == 0:
        return []
    seen = 0
    for index in range(len(records) - 1, -1, -1):
        # A full record ends a line; so does the unterminated tail of the output.
        if records[index].full or index == len(records) - 1:
            seen += 1
            if seen > count:
                return records[index + 1 :]
    return records


def _read_all(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


async def read_log(source: LogSource, options: LogOptions) -> AsyncIterator[bytes]:
    """The log's output in chunks (see the module docstring)."""
    live = source.live if options.follow else None
    # Taken before reading: a write after this point sets the event, so none is missed.
    changed = live.changed() if live is not None else None
    finished = live.finished if live is not None else True
    rotations = live.rotations if live is not None else 0
    renderer = _Renderer(options)
    handle: IO[bytes] | None = None
    try:
        with contextlib.suppress(OSError):
            handle = source.path.open("rb")
        data = _read_all(rotated_path(source.path)) + (handle.read() if handle else b"")
        records, pending = _split(data)
        if options.since is not None:
            records = [r for r in records if r.at >= options.since]
        if options.tail_lines is not None:
            records = _last_lines(records, options.tail_lines)
        if out := renderer.render(records):
            yield out
        while live is not None and changed is not None and not finished:
            if renderer.exhausted or handle is None:
                return
            await changed.wait()
            changed, finished = live.changed(), live.finished
            chunk = handle.read()
            if live.rotations != rotations:
                handle.close()
                handle = None
                rotations = live.rotations
                with contextlib.suppress(OSError):
                    handle = source.path.open("rb")
                    chunk += handle.read()
            records, pending = _split(pending + chunk)
            if options.since is not None:
                records = [r for r in records if r.at >= options.since]
            if out := renderer.render(records):
                yield out
    finally:
        if handle is not None:
            handle.close()


TAIL_WINDOW = 64 * 1024


def output_tail(path: Path) -> bytes:
    """The output at the end of an instance's log file (at most its last ``TAIL_WINDOW`` bytes
    of records), without times: what ``FallbackToLogsOnError`` takes the message from."""
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, 2)
            handle.seek(max(0, size - TAIL_WINDOW))
            data = handle.read()
    except OSError:
        return b""
    if len(data) < size:
        data = data[data.find(b"\n") + 1 :]  # the first line may be cut
    records, _ = _split(data)
    return b"".join(r.content + b"\n" if r.full else r.content for r in records)
