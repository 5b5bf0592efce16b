"""The one way a test waits: on a condition or on an event, never for a fixed time.

``eventually`` polls a condition (a plain or an async function) until it returns something
truthy and returns that; past its deadline it fails with the last value the condition returned,
or the last assertion it raised, so a timeout says what was seen. ``eventually_sync`` is the same
for tests that run without an event loop (child processes, threads).

``consistently`` asserts that something stays true while an awaitable proof runs: the proof is
the event showing that enough happened for a change to have shown (the controller finished a
reconcile that saw the new state, a lease was renewed past its duration), never a length of
time. A test that checks that nothing happened waits on such a proof, so it cannot pass merely
because it looked too early.

Invariants: a condition is checked at least once, and once more after the proof completed; the
deadline bounds only how long a test can hang, it never decides an outcome that could pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

T = TypeVar("T")

RETRY_ON: tuple[type[BaseException], ...] = (AssertionError,)
"""Exceptions a condition may raise while it does not hold yet (its message is kept)."""


async def _value(check: Callable[[], Any]) -> Any:
    value = check()
    if inspect.isawaitable(value):
        value = await value
    return value


def _timed_out(what: str, within: float, last: object, error: BaseException | None) -> str:
    seen = f"last error: {error!r}" if error is not None else f"last value: {last!r}"
    return f"{what} not reached within {within:g}s; {seen}"


@overload
async def eventually(
    check: Callable[[], Awaitable[T | None]],
    *,
    what: str = ...,
    within: float = ...,
    interval: float = ...,
    retry_on: tuple[type[BaseException], ...] = ...,
    between: Callable[[], object] | None = ...,
) -> T: ...


@overload
async def eventually(
    check: Callable[[], T | None],
    *,
    what: str = ...,
    within: float = ...,
    interval: float = ...,
    retry_on: tuple[type[BaseException], ...] = ...,
    between: Callable[[], object] | None = ...,
) -> T: ...


async def eventually(
    check: Callable[[], Any],
    *,
    what: str = "condition",
    within: float = 30.0,
    interval: float = 0.1,
    retry_on: tuple[type[BaseException], ...] = RETRY_ON,
    between: Callable[[], object] | None = None,
) -> Any:
    """Poll ``check`` every ``interval`` seconds until it returns something truthy; return it.

    ``retry_on`` exceptions raised by ``check`` count as "not yet". ``between`` runs between
    polls (for example to move a fake clock on)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last: object = None
    error: BaseException | None = None
    while True:
        try:
            value = await _value(check)
        except retry_on as exc:
            error = exc
        else:
            if value:
                return value
            last, error = value, None
        if loop.time() >= deadline:
            raise AssertionError(_timed_out(what, within, last, error)) from error
        if between is not None:
            between()
        await asyncio.sleep(interval)


def eventually_sync(
    check: Callable[[], T | None],
    *,
    what: str = "condition",
    within: float = 30.0,
    interval: float = 0.1,
    retry_on: tuple[type[BaseException], ...] = RETRY_ON,
) -> T:
    """``eventually`` for code without an event loop: blocks the calling thread."""
    deadline = time.monotonic() + within
    last: object = None
    error: BaseException | None = None
    while True:
        try:
            value = check()
        except retry_on as exc:
            error = exc
        else:
            if value:
                return value
            last, error = value, None
        if time.monotonic() >= deadline:
            raise AssertionError(_timed_out(what, within, last, error)) from error
        time.sleep(interval)


async def consistently(
    check: Callable[[], Awaitable[object]] | Callable[[], object],
    *,
    until: Awaitable[object],
    what: str = "condition",
    within: float = 60.0,
    interval: float = 0.1,
) -> None:
    """Assert ``check`` is truthy at every poll while ``until`` runs, and once after it ended.

    ``until`` is the proof that enough happened (its failure fails the test); if it does not
    complete within ``within`` seconds the test fails too: an unproven absence is no pass."""
    proof: asyncio.Future[object] = asyncio.ensure_future(until)
    deadline = asyncio.timeout(within)
    try:
        async with deadline:
            while True:
                proven = proof.done()
                value = await _value(check)
                if not value:
                    raise AssertionError(f"{what} stopped holding: {value!r}")
                if proven:
                    proof.result()
                    return
                await asyncio.wait({proof}, timeout=interval)
    except TimeoutError:
        if not deadline.expired():
            raise  # the proof itself timed out: its own error
        raise AssertionError(f"{what}: the proof did not complete within {within:g}s") from None
    finally:
        if not proof.done():
            proof.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await proof
