"""An informer run for the length of a block: ``async with synced(informer): ...`` starts it,
returns once its cache has synced (or fails after ``within`` seconds), and stops it at the end."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from zenflow.machinery.informer import Informer


@contextlib.asynccontextmanager
async def synced(informer: Informer, *, within: float = 30.0) -> AsyncIterator[Informer]:
    task = asyncio.create_task(informer.run())
    try:
        async with asyncio.timeout(within):
            await informer.wait_synced()
        yield informer
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
