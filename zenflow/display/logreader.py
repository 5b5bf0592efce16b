"""Reading a JobFlow's step logs through the API server, with the caller's own credentials.

Everything goes through ``pods/log`` and plain lists of the flow's Jobs and pods (label
``workflow.zen.io/jobflow``), so what a user may read is exactly what their RBAC allows:
``get`` on jobflows, ``list`` on jobs and pods, ``get`` on ``pods/log``. Which pods hold which
step's log is decided by ``steplogs`` (pure); this module only asks and reads. Refusals and
failures leave as ``KubeError`` with the API server's own message.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Final

from zenflow.api.constants import GROUP, JOBFLOW_PLURAL, LABEL_JOBFLOW, VERSION
from zenflow.core.planning.jobspec import label_value
from zenflow.display.steplogs import LogSource, StepLogs, step_logs
from zenflow.errors import KubeError
from zenflow.kube.rest import Rest

TAIL_LINES: Final = 5
TAIL_LIMIT_BYTES: Final = 64 * 1024

Obj = dict[str, Any]


def api_message(exc: KubeError) -> str:
    """The API server's own message in a ``KubeError`` (``pods "x" is forbidden: User …``),
    without the request and status it was about; the whole text for other errors."""
    text = str(exc)
    marker = f": {exc.status} " if exc.status else ""
    at = text.find(marker) if marker else -1
    if at < 0:
        return text
    _reason, sep, message = text[at + len(marker) :].partition(": ")
    return message if sep and message else text


async def lines_of(chunks: AsyncIterator[bytes]) -> AsyncIterator[str]:
    """The lines of a byte stream as they complete (a last unterminated one at the end)."""
    buffer = b""
    async for chunk in chunks:
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        for line in complete:
            yield line.decode("utf-8", errors="replace")
    if buffer:
        yield buffer.decode("utf-8", errors="replace")


class StepLogReader:
    """One namespace's flows, Jobs, pods and pod logs, read with one ``Rest``."""

    def __init__(self, rest: Rest, namespace: str) -> None:
        self.rest = rest
        self.namespace = namespace

    async def flow(self, name: str) -> Obj:
        path = f"/apis/{GROUP}/{VERSION}/namespaces/{self.namespace}/{JOBFLOW_PLURAL}/{name}"
        return await self.rest.get(path)

    async def jobs_and_pods(self, name: str) -> tuple[list[Obj], list[Obj]]:
        query = [("labelSelector", f"{LABEL_JOBFLOW}={label_value(name)}")]
        jobs = await self.rest.get(f"/apis/batch/v1/namespaces/{self.namespace}/jobs", query)
        pods = await self.rest.get(f"/api/v1/namespaces/{self.namespace}/pods", query)
        return _items(jobs), _items(pods)

    async def plan(
        self, flow: Mapping[str, Any], *, step: str | None = None, attempt: int | None = None
    ) -> list[StepLogs]:
        """Where each step's log is now (see ``steplogs.step_logs``)."""
        name = str((flow.get("metadata") or {}).get("name", ""))
        jobs, pods = await self.jobs_and_pods(name)
        return step_logs(flow, jobs, pods, step=step, attempt=attempt)

    def read(
        self,
        source: LogSource,
        *,
        follow: bool = False,
        tail: int | None = None,
        since_s: int | None = None,
        timestamps: bool = False,
        limit_bytes: int | None = None,
    ) -> AsyncIterator[bytes]:
        """The container's log as the API server streams it (``kubectl logs`` semantics)."""
        query = [("container", source.container)]
        if follow:
            query.append(("follow", "true"))
        if tail is not None and tail >= 0:
            query.append(("tailLines", str(tail)))
        if since_s is not None:
            query.append(("sinceSeconds", str(since_s)))
        if timestamps:
            query.append(("timestamps", "true"))
        if limit_bytes is not None:
            query.append(("limitBytes", str(limit_bytes)))
        path = f"/api/v1/namespaces/{self.namespace}/pods/{source.pod}/log"
        return self.rest.stream(path, query, what=f"read the log of pod {source.pod}")

    async def failed_tails(
        self, flow: Mapping[str, Any], *, lines: int = TAIL_LINES
    ) -> dict[str, list[str]]:
        """Failed step → the last ``lines`` lines of its failed attempt's log (each failed
        matrix shard's, labelled), or one line saying why there is none to show."""
        failed = [
            s for s in (flow.get("status") or {}).get("steps") or [] if s.get("phase") == "Failed"
        ]
        if not failed:
            return {}
        try:
            plan = await self.plan(flow)
        except KubeError as exc:
            return {str(s.get("name")): [f"(log unavailable: {api_message(exc)})"] for s in failed}
        shards = {
            str(s.get("name")): {
                int(x.get("index", -1)) for x in s.get("shards") or [] if x.get("phase") == "Failed"
            }
            for s in failed
        }
        out: dict[str, list[str]] = {}
        for entry in plan:
            if entry.step not in shards:
                continue
            sources = [
                src
                for src in entry.sources
                if src.started and (src.shard is None or src.shard in shards[entry.step])
            ]
            if not sources:
                out[entry.step] = [f"({entry.note or 'no log'})"]
                continue
            out[entry.step] = await self._tails(sources, lines=lines)
        return out

    async def _tails(self, sources: list[LogSource], *, lines: int) -> list[str]:
        shown: list[str] = []
        for source in sources:
            label = f"{source.label}: " if source.shard is not None or " " in source.label else ""
            try:
                chunks = self.read(source, tail=lines, limit_bytes=TAIL_LIMIT_BYTES)
                shown += [f"{label}{line}" async for line in lines_of(chunks)]
            except KubeError as exc:
                shown.append(f"{label}(log unavailable: {api_message(exc)})")
        return shown


def _items(doc: Mapping[str, Any]) -> list[Obj]:
    return [item for item in doc.get("items") or [] if isinstance(item, dict)]
