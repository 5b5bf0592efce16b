"""``FlowClient``: the synchronous face of ``AsyncFlowClient``, for scripts and notebooks.

Each ``FlowClient`` owns one event loop running in a daemon thread; every method submits the
matching ``AsyncFlowClient`` coroutine to that loop and blocks until it finishes, so the sync
API has exactly the async API's behaviour (it *is* the async API) and works even when the caller
already runs an event loop of its own (Jupyter). ``on_progress`` callbacks run on that thread.

Invariant: ``close()`` (or leaving the ``with`` block) closes the API connection, then stops the
loop and joins the thread; a closed client refuses further calls.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Mapping
from types import TracebackType
from typing import Any, TextIO, TypeVar

from kubernetes_asyncio import client

from zenflow.sdk.client import AsyncFlowClient, FlowLike, ProgressCallback
from zenflow.sdk.results import FlowRun

__all__ = ["FlowClient"]

T = TypeVar("T")


class _LoopThread:
    """An event loop in a daemon thread; ``call`` runs a coroutine there and waits."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="zenflow-sdk", daemon=True
        )
        self._thread.start()

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._loop.is_closed():
            coro.close()
            raise RuntimeError("this FlowClient is closed")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def stop(self) -> None:
        if self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


class FlowClient:
    """Blocking ``submit``/``get``/``wait``/``run``/``approve``/``reject``/``delete``; arguments and
    results as in ``AsyncFlowClient``."""

    def __init__(
        self,
        *,
        kubeconfig: str | None = None,
        context: str | None = None,
        namespace: str | None = None,
        configuration: client.Configuration | None = None,
    ) -> None:
        self._loop = _LoopThread()
        try:
            self._client = self._loop.call(
                AsyncFlowClient.connect(
                    kubeconfig=kubeconfig,
                    context=context,
                    namespace=namespace,
                    configuration=configuration,
                )
            )
        except BaseException:
            self._loop.stop()
            raise

    @property
    def namespace(self) -> str:
        return self._client.namespace

    def close(self) -> None:
        try:
            self._loop.call(self._client.close())
        except RuntimeError:
            return  # already closed
        finally:
            self._loop.stop()

    def __enter__(self) -> FlowClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def submit(
        self,
        flow: FlowLike,
        *,
        params: Mapping[str, str] | None = None,
        name: str | None = None,
        namespace: str | None = None,
        validate: bool = True,
    ) -> FlowRun:
        return self._loop.call(
            self._client.submit(
                flow, params=params, name=name, namespace=namespace, validate=validate
            )
        )

    def get(self, name: str, *, namespace: str | None = None) -> FlowRun:
        return self._loop.call(self._client.get(name, namespace=namespace))

    def results(self, name: str, *, namespace: str | None = None) -> FlowRun:
        return self._loop.call(self._client.results(name, namespace=namespace))

    def approve(self, name: str, step: str, *, namespace: str | None = None) -> FlowRun:
        return self._loop.call(self._client.approve(name, step, namespace=namespace))

    def reject(self, name: str, step: str, *, reason: str, namespace: str | None = None) -> FlowRun:
        return self._loop.call(self._client.reject(name, step, reason=reason, namespace=namespace))

    def delete(self, name: str, *, namespace: str | None = None) -> None:
        self._loop.call(self._client.delete(name, namespace=namespace))

    def wait_for(
        self,
        name: str,
        predicate: Callable[[FlowRun], bool],
        *,
        namespace: str | None = None,
        timeout: float | None = None,
        interval: float = 0.5,
        on_progress: ProgressCallback | None = None,
        show: TextIO | bool = False,
        what: str = "the condition",
    ) -> FlowRun:
        return self._loop.call(
            self._client.wait_for(
                name,
                predicate,
                namespace=namespace,
                timeout=timeout,
                interval=interval,
                on_progress=on_progress,
                show=show,
                what=what,
            )
        )

    def wait(
        self,
        name: str,
        *,
        namespace: str | None = None,
        timeout: float | None = None,
        interval: float = 0.5,
        on_progress: ProgressCallback | None = None,
        show: TextIO | bool = False,
    ) -> FlowRun:
        return self._loop.call(
            self._client.wait(
                name,
                namespace=namespace,
                timeout=timeout,
                interval=interval,
                on_progress=on_progress,
                show=show,
            )
        )

    def run(
        self,
        flow: FlowLike,
        *,
        params: Mapping[str, str] | None = None,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        show: TextIO | bool = False,
    ) -> FlowRun:
        return self._loop.call(
            self._client.run(
                flow, params=params, timeout=timeout, on_progress=on_progress, show=show
            )
        )
