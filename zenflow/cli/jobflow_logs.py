"""``kubectl jobflow logs NAME [STEP] [--attempt N] [-f] [--tail N] [--since D] [--timestamps]``.

Prints the logs of every step of a flow (or of one), in DAG order, each line prefixed with its
``step`` (``step/shard`` for a matrix shard, plus the container when a pod has several),
coloured per step on a terminal. A step without a log says why on stderr: no pod yet, skipped,
a Manual step, or its pods already deleted. With ``-f`` the logs of running containers are
streamed as they are written and steps that start later are picked up (the flow is re-read
every ``POLL_S``), until the flow has ended and every stream is done.

Everything is read through the API server with the user's kubeconfig (``logreader``), so RBAC
applies: ``get`` on jobflows and ``pods/log``, ``list`` on jobs and pods. A refusal ends the
command with the API server's message and what is needed.

Exit status: 0 done (also when some step had no log), 1 the flow or step does not exist or the
API refused.
"""

from __future__ import annotations

import argparse
import asyncio
import math
from dataclasses import dataclass, field
from typing import Any, Final, TextIO

from zenflow.api.duration import DurationError, parse_duration
from zenflow.display.logreader import StepLogReader, api_message, lines_of
from zenflow.display.steplogs import LogSource, StepLogs, color_of, prefix, step_order
from zenflow.errors import ConfigError, KubeError, NotFoundError
from zenflow.kube.rest import Rest

POLL_S: Final = 0.5
FINISHED: Final = ("Succeeded", "Failed")
NEEDED: Final = "get on jobflows and pods/log, list on jobs and pods"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="JobFlow name")
    parser.add_argument(
        "step", metavar="STEP", nargs="?", help="only this step (default: every step)"
    )
    parser.add_argument(
        "--attempt", type=int, metavar="N", help="this attempt (default: each step's current)"
    )
    parser.add_argument(
        "-f",
        "--follow",
        action="store_true",
        help="stream the logs, and those of steps as they start, until the flow ends",
    )
    parser.add_argument(
        "--tail", type=int, default=-1, metavar="N", help="the last N lines of each container"
    )
    parser.add_argument("--since", metavar="DURATION", help="only newer lines (5s, 2m, 3h)")
    parser.add_argument("--timestamps", action="store_true", help="each line's time first")


@dataclass(frozen=True, slots=True)
class LogOptions:
    step: str | None
    attempt: int | None
    follow: bool
    tail: int | None
    since_s: int | None
    timestamps: bool


def options_from_args(args: argparse.Namespace) -> LogOptions:
    """The verb's options; ConfigError names a bad one."""
    since_s = None
    if args.since:
        try:
            seconds = parse_duration(args.since)
        except DurationError as exc:
            raise ConfigError(f"--since {args.since!r}: {exc}") from None
        if seconds <= 0:
            raise ConfigError(f"--since {args.since!r}: must be positive")
        since_s = math.ceil(seconds)
    if args.attempt is not None and args.attempt < 1:
        raise ConfigError(f"--attempt {args.attempt}: attempts count from 1")
    return LogOptions(
        step=args.step,
        attempt=args.attempt,
        follow=args.follow,
        tail=args.tail if args.tail >= 0 else None,
        since_s=since_s,
        timestamps=args.timestamps,
    )


@dataclass
class Printer:
    """Writes prefixed log lines to ``out`` and notes to ``err``, one whole line at a time."""

    out: TextIO
    err: TextIO
    color: bool
    order: list[str]
    width: int = 0
    _colors: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.width = max((len(name) for name in self.order), default=0)

    def _prefix(self, label: str, step: str) -> str:
        self.width = max(self.width, len(label))
        index = self.order.index(step) if step in self.order else len(self.order)
        return prefix(label, width=self.width, color=color_of(index) if self.color else None)

    def line(self, label: str, step: str, text: str) -> None:
        self.out.write(f"{self._prefix(label, step)}{text}\n")
        self.out.flush()

    def note(self, label: str, step: str, text: str) -> None:
        self.err.write(f"{self._prefix(label, step)}({text})\n")
        self.err.flush()


class LogsCommand:
    """One run of the verb."""

    def __init__(self, reader: StepLogReader, options: LogOptions, printer: Printer) -> None:
        self.reader = reader
        self.options = options
        self.printer = printer
        self._streamed: set[tuple[str, str]] = set()
        self._noted: set[tuple[str, str]] = set()
        self._failures: list[KubeError] = []

    async def _print(self, source: LogSource, *, follow: bool) -> None:
        """Print one container's log; a "not there" answer (400) becomes a note."""
        chunks = self.reader.read(
            source,
            follow=follow,
            tail=self.options.tail,
            since_s=self.options.since_s,
            timestamps=self.options.timestamps,
        )
        try:
            async for text in lines_of(chunks):
                self.printer.line(source.label, source.step, text)
        except KubeError as exc:
            if exc.status != 400:
                raise
            self.printer.note(source.label, source.step, api_message(exc))

    async def once(self, flow: dict[str, Any]) -> None:
        """Every step's log as it is now, step after step."""
        plan = await self.reader.plan(flow, step=self.options.step, attempt=self.options.attempt)
        for entry in plan:
            if entry.note:
                self.printer.note(entry.step, entry.step, entry.note)
            for source in entry.sources:
                if source.started:
                    await self._print(source, follow=False)
                else:
                    self.printer.note(source.label, entry.step, "the container has not started")

    async def follow(self, name: str, flow: dict[str, Any]) -> None:
        """Stream every started container; re-read the flow until it ended, then drain. A flow
        that has already ended is shown as without ``-f``: step after step, in DAG order."""
        if str((flow.get("status") or {}).get("phase")) in FINISHED:
            await self.once(flow)
            return
        tasks: set[asyncio.Task[None]] = set()
        try:
            while True:
                finished = str((flow.get("status") or {}).get("phase")) in FINISHED
                plan = await self.reader.plan(
                    flow, step=self.options.step, attempt=self.options.attempt
                )
                for entry in plan:
                    tasks |= self._start_streams(entry)
                if self._failures:
                    raise self._failures[0]
                if finished:
                    break
                await asyncio.sleep(POLL_S)
                try:
                    flow = await self.reader.flow(name)
                except NotFoundError:
                    self.printer.note(name, "", "the flow was deleted")
                    break
            await asyncio.gather(*tasks)
            if self._failures:
                raise self._failures[0]
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _start_streams(self, entry: StepLogs) -> set[asyncio.Task[None]]:
        started = set()
        for source in entry.sources:
            key = (source.pod, source.container)
            if source.started and key not in self._streamed:
                self._streamed.add(key)
                started.add(asyncio.create_task(self._stream(source)))
        # Steps that have not started yet are waited for, not noted.
        note = entry.note
        if note and not note.startswith("no pod yet") and (entry.step, note) not in self._noted:
            self._noted.add((entry.step, note))
            self.printer.note(entry.step, entry.step, note)
        return started

    async def _stream(self, source: LogSource) -> None:
        try:
            await self._print(source, follow=True)
        except KubeError as exc:
            self._failures.append(exc)


async def run_logs(
    args: argparse.Namespace,
    rest: Rest,
    namespace: str,
    *,
    out: TextIO,
    err: TextIO,
    color: bool,
) -> int:
    """Run the verb; the exit status."""
    options = options_from_args(args)
    reader = StepLogReader(rest, namespace)
    try:
        flow = await reader.flow(args.name)
    except NotFoundError:
        err.write(f'error: jobflow "{args.name}" not found in namespace "{namespace}"\n')
        return 1
    except KubeError as exc:
        return _refused(exc, namespace, err)
    order = step_order(flow)
    if options.step is not None and options.step not in order:
        err.write(f'error: jobflow "{args.name}" has no step "{options.step}" ')
        err.write(f"(its steps: {', '.join(order)})\n")
        return 1
    command = LogsCommand(reader, options, Printer(out=out, err=err, color=color, order=order))
    try:
        if options.follow:
            await command.follow(args.name, flow)
        else:
            await command.once(flow)
    except KubeError as exc:
        return _refused(exc, namespace, err)
    return 0


def _refused(exc: KubeError, namespace: str, err: TextIO) -> int:
    err.write(f"error: {api_message(exc)}\n")
    if exc.status == 403:
        err.write(f'(reading step logs needs {NEEDED} in namespace "{namespace}")\n')
    return 1
