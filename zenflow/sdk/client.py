"""``AsyncFlowClient``: submit flows, wait for them with progress, read their results.

It talks to the API server with the caller's own credentials (kubeconfig, context or
in-cluster), so RBAC and the admission webhook judge the caller exactly as with ``kubectl``.
Every API failure is a ``zenflow.errors.KubeError`` subclass carrying the server's message.

Invariants: ``submit`` validates with the shared validator before sending (an invalid flow never
reaches the server unless ``validate=False``); ``wait`` polls the object (every ``interval``
seconds) and calls ``on_progress`` once per visible change (phase, progress, a step's phase or
attempt), never twice for the same state; it returns at the first read in a finished phase, or
raises ``WaitTimeoutError`` naming the last phase seen.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TextIO

from kubernetes_asyncio import client, config

from zenflow.api.actions import decision_patch, with_params
from zenflow.api.constants import GROUP, JOBFLOW_PLURAL, VERSION
from zenflow.api.jobflow import JobFlow
from zenflow.core.validation.validator import validate_object
from zenflow.display import flowview
from zenflow.display.live import LiveView
from zenflow.errors import ConflictError
from zenflow.kube.client import DEFAULT_REQUEST_TIMEOUT_S, load_configuration, new_api_client
from zenflow.kube.errors import wrapped
from zenflow.kube.identity import whoami
from zenflow.sdk.errors import FlowInvalidError, WaitTimeoutError
from zenflow.sdk.flow import Flow
from zenflow.sdk.results import FlowRun

__all__ = ["AsyncFlowClient", "FlowLike", "ProgressCallback"]

FlowLike = Flow | JobFlow | Mapping[str, Any]
ProgressCallback = Callable[[FlowRun], None]
MERGE_PATCH = "application/merge-patch+json"
DEFAULT_INTERVAL_S = 0.5
APPROVE_ATTEMPTS = 5


def document(flow: FlowLike) -> dict[str, Any]:
    """The wire form of a flow given as a ``Flow``, a ``JobFlow`` model or a dict."""
    if isinstance(flow, Flow):
        return flow.to_dict()
    if isinstance(flow, JobFlow):
        return flow.dump()
    return dict(flow)


def context_namespace(kubeconfig: str | None, context: str | None) -> str:
    """The kubeconfig context's namespace, else ``default``."""
    try:
        contexts, active = config.list_kube_config_contexts(config_file=kubeconfig)
    except Exception:  # no kubeconfig (in-cluster): the default namespace
        return "default"
    chosen = next((c for c in contexts if c.get("name") == context), active)
    namespace = (chosen or {}).get("context", {}).get("namespace")
    return str(namespace) if namespace else "default"


class AsyncFlowClient:
    """JobFlows in one namespace (each call may name another). Use ``connect`` (or pass an
    ``ApiClient`` you own) and close it with ``await client.close()`` or ``async with``."""

    def __init__(
        self, api: client.ApiClient, *, namespace: str = "default", owns_api: bool = False
    ) -> None:
        self.api = api
        self.namespace = namespace
        self._objects = client.CustomObjectsApi(api)
        self._owns_api = owns_api

    @classmethod
    async def connect(
        cls,
        *,
        kubeconfig: str | None = None,
        context: str | None = None,
        namespace: str | None = None,
        configuration: client.Configuration | None = None,
    ) -> AsyncFlowClient:
        """Connect as ``kubectl`` would (``kubeconfig`` argument, ``$KUBECONFIG``, in-cluster,
        ``~/.kube/config``), or with a ready ``configuration``; ``namespace`` defaults to the
        context's."""
        cfg = configuration or await load_configuration(kubeconfig, context=context)
        ns = namespace or context_namespace(kubeconfig, context)
        return cls(new_api_client(cfg, pool_size=4), namespace=ns, owns_api=True)

    async def close(self) -> None:
        if self._owns_api:
            await self.api.close()

    async def __aenter__(self) -> AsyncFlowClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- writing ---------------------------------------------------------------------------

    async def submit(
        self,
        flow: FlowLike,
        *,
        params: Mapping[str, str] | None = None,
        name: str | None = None,
        namespace: str | None = None,
        validate: bool = True,
    ) -> FlowRun:
        """Create the flow (with ``params`` values set, under ``name`` if given) and return
        it as created. Raises ``FlowInvalidError`` before sending anything if the shared
        validator finds an error."""
        doc = document(flow)
        if params:
            doc = with_params(doc, params)
        meta = dict(doc.get("metadata") or {})
        if name is not None:
            meta["name"] = name
            meta.pop("generateName", None)
        ns = namespace or str(meta.get("namespace") or self.namespace)
        meta["namespace"] = ns
        doc["metadata"] = meta
        if validate:
            report = validate_object(doc)
            if not report.ok:
                raise FlowInvalidError(str(meta.get("name") or meta.get("generateName")), report)
        async with wrapped(f"create JobFlow in {ns}"):
            created: dict[str, Any] = await self._objects.create_namespaced_custom_object(
                GROUP, VERSION, ns, JOBFLOW_PLURAL, doc, _request_timeout=DEFAULT_REQUEST_TIMEOUT_S
            )
        return FlowRun.from_object(created)

    async def delete(self, name: str, *, namespace: str | None = None) -> None:
        """Delete the flow (its Jobs go with it: they are owned by it)."""
        ns = namespace or self.namespace
        async with wrapped(f"delete JobFlow {ns}/{name}"):
            await self._objects.delete_namespaced_custom_object(
                GROUP, VERSION, ns, JOBFLOW_PLURAL, name, _request_timeout=DEFAULT_REQUEST_TIMEOUT_S
            )

    async def patch(
        self, name: str, body: Mapping[str, Any], *, namespace: str | None = None
    ) -> FlowRun:
        """A JSON merge patch of the flow (what every ``kubectl jobflow`` verb sends)."""
        ns = namespace or self.namespace
        # A dict body is sent as JSON Patch unless the content type says merge patch.
        options: dict[str, Any] = {
            "_content_type": MERGE_PATCH,
            "_request_timeout": DEFAULT_REQUEST_TIMEOUT_S,
        }
        async with wrapped(f"patch JobFlow {ns}/{name}"):
            obj: dict[str, Any] = await self._objects.patch_namespaced_custom_object(
                GROUP, VERSION, ns, JOBFLOW_PLURAL, name, dict(body), **options
            )  # fmt: skip
        return FlowRun.from_object(obj)

    async def approve(self, name: str, step: str, *, namespace: str | None = None) -> FlowRun:
        """Approve the Manual step ``step`` in your own name (as ``kubectl jobflow approve``:
        the API server says who you are; the admission webhook enforces the step's policy)."""
        user = await whoami(self.api)
        return await self._patch_retrying(
            name,
            namespace,
            lambda obj: decision_patch(obj, step, user=user, now=datetime.now(UTC)),
        )

    async def reject(
        self, name: str, step: str, *, reason: str, namespace: str | None = None
    ) -> FlowRun:
        """Reject the Manual step ``step``, failing it with ``reason`` and your name."""
        user = await whoami(self.api)
        return await self._patch_retrying(
            name,
            namespace,
            lambda obj: decision_patch(
                obj, step, user=user, now=datetime.now(UTC), decision="reject", reason=reason
            ),
        )

    async def _patch_retrying(
        self,
        name: str,
        namespace: str | None,
        make: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> FlowRun:
        """Read, build the patch (guarded by the resourceVersion read), re-read on 409."""
        for attempt in range(APPROVE_ATTEMPTS):
            current = await self.get(name, namespace=namespace)
            try:
                return await self.patch(name, make(dict(current.raw)), namespace=namespace)
            except ConflictError:
                if attempt == APPROVE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    # -- reading ---------------------------------------------------------------------------

    async def get(self, name: str, *, namespace: str | None = None) -> FlowRun:
        """The flow as it is now (``NotFoundError`` if it does not exist)."""
        ns = namespace or self.namespace
        async with wrapped(f"get JobFlow {ns}/{name}"):
            obj: dict[str, Any] = await self._objects.get_namespaced_custom_object(
                GROUP, VERSION, ns, JOBFLOW_PLURAL, name, _request_timeout=DEFAULT_REQUEST_TIMEOUT_S
            )
        return FlowRun.from_object(obj)

    async def results(self, name: str, *, namespace: str | None = None) -> FlowRun:
        """The flow's phase, steps and outputs (the same read as ``get``)."""
        return await self.get(name, namespace=namespace)

    async def wait_for(
        self,
        name: str,
        predicate: Callable[[FlowRun], bool],
        *,
        namespace: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (the caller's deadline, as in asyncio.wait_for)
        interval: float = DEFAULT_INTERVAL_S,
        on_progress: ProgressCallback | None = None,
        show: TextIO | bool = False,
        what: str = "the condition",
    ) -> FlowRun:
        """Poll the flow until ``predicate`` holds; progress as in ``wait``."""
        stream: TextIO | None = sys.stderr if show is True else (show or None)
        live = LiveView(stream, started=datetime.now(UTC)) if stream is not None else None
        seen: tuple[Any, ...] | None = None
        last: FlowRun | None = None
        try:
            async with asyncio.timeout(timeout):
                while True:
                    last = await self.get(name, namespace=namespace)
                    if last.fingerprint() != seen:
                        seen = last.fingerprint()
                        if on_progress is not None:
                            on_progress(last)
                        if live is not None:
                            live.update(flowview.snapshot(last.raw), now=datetime.now(UTC))
                    if predicate(last):
                        return last
                    await asyncio.sleep(interval)
        except TimeoutError:
            phase = last.phase if last is not None else "unknown (never read)"
            raise WaitTimeoutError(
                f"JobFlow {name!r}: {what} not reached within {timeout}s (last phase {phase})"
            ) from None

    async def wait(
        self,
        name: str,
        *,
        namespace: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (the caller's deadline, as in asyncio.wait_for)
        interval: float = DEFAULT_INTERVAL_S,
        on_progress: ProgressCallback | None = None,
        show: TextIO | bool = False,
    ) -> FlowRun:
        """Wait until the flow is Succeeded or Failed and return it. ``on_progress`` is called
        with each changed state; ``show`` draws the live step table (``True``: on stderr)."""
        return await self.wait_for(
            name,
            lambda run: run.finished,
            namespace=namespace,
            timeout=timeout,
            interval=interval,
            on_progress=on_progress,
            show=show,
            what="a finished phase",
        )

    async def run(
        self,
        flow: FlowLike,
        *,
        params: Mapping[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (the caller's deadline, as in asyncio.wait_for)
        on_progress: ProgressCallback | None = None,
        show: TextIO | bool = False,
    ) -> FlowRun:
        """``submit`` then ``wait``: the finished flow."""
        created = await self.submit(flow, params=params)
        return await self.wait(
            created.name,
            namespace=created.namespace,
            timeout=timeout,
            on_progress=on_progress,
            show=show,
        )
