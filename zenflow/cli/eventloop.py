"""The event loop of zenflow's long-running servers (``zenflow controller``, ``zenflow webhook``).

uvloop: libuv's loop with its transports and TLS in C. In the 200 x 10 throughput benchmark the
controller spends most of its CPU receiving watch events and answers, a few kilobytes each;
asyncio's own loop does that in Python (``sslproto``, selector callbacks). Everything else --
``asyncio.run`` semantics, signals, tasks, timeouts -- is the same; tests run the servers both
in-process on pytest's asyncio loop and as processes on this one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on a new uvloop event loop."""
    return asyncio.run(main, loop_factory=uvloop.new_event_loop)
