"""The CronJobFlow controller (zenflow.controller.cronjobflow.reconciler):

Unit: the run object (template spec, labels, annotations, controller owner reference) and how a
cached JobFlow becomes a ChildRun.

Integration (real control plane; the controller runs in-process with an injected wall clock, so
no test waits for a real minute): a due run is created with its owner reference, label and
name ``<cron>-<unix minutes>`` and recorded in status (lastScheduleTime, active); a forced
re-reconcile at the same time creates nothing more; a finished run sets lastSuccessfulTime and
leaves ``active``; the next schedule time creates the next run and the history limit deletes the
oldest finished one; Forbid skips while a run is active; Replace cancels the active run; an
invalid schedule sets Ready=False (reason Invalid) and creates nothing. Each of these leaves its
core/v1 Event on the CronJobFlow (RunCreated naming the run, RunDeleted, RunSkipped naming the
active run — once per schedule time —, RunReplaced, MissedSchedule past startingDeadlineSeconds,
InvalidSchedule once). "Nothing more" is checked after a reconcile that began once the
controller's caches held the change, and after the Events it recorded were written.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from kubernetes_asyncio import client
from prometheus_client import CollectorRegistry

from tests.support.jobflows import cache_holds, running_controller
from tests.support.wait import eventually
from zenflow.api.constants import (
    ANNOTATION_CANCEL,
    CRONJOBFLOW_PLURAL,
    GROUP,
    JOBFLOW_PLURAL,
    LABEL_CRONJOBFLOW,
    VERSION,
)
from zenflow.controller.bootstrap import ZenflowInformers, build_informers
from zenflow.controller.cronjobflow.client import MERGE_PATCH, CronApi
from zenflow.controller.cronjobflow.reconciler import build_cron_controller, child_run, run_object
from zenflow.controller.events import EventRecorder, EventWriter
from zenflow.core.schedule import ANNOTATION_SCHEDULED_TIME, run_name
from zenflow.machinery.controller import Controller
from zenflow.machinery.ratelimiting import RateLimitingQueue
from zenflow.machinery.reconcile import ObjectKey, make_key

MERGE: dict[str, Any] = {"_content_type": MERGE_PATCH}

CRON: dict[str, Any] = {
    "apiVersion": "workflow.zen.io/v1alpha1",
    "kind": "CronJobFlow",
    "metadata": {"name": "every", "namespace": "ns", "uid": "u-1"},
    "spec": {
        "schedule": "* * * * *",
        "jobFlowTemplate": {
            "metadata": {"labels": {"team": "data"}, "annotations": {"a": "b"}},
            "spec": {"steps": [{"name": "one", "run": {"image": "busybox", "command": ["true"]}}]},
        },
    },
}


def test_run_object_is_the_template_owned_by_the_cronjobflow() -> None:
    t = datetime(2026, 1, 1, 12, 1, tzinfo=UTC)
    body = run_object(CRON, name="every-29444161", scheduled=t)
    meta = body["metadata"]
    assert (body["kind"], meta["name"], meta["namespace"]) == ("JobFlow", "every-29444161", "ns")
    assert meta["labels"] == {"team": "data", LABEL_CRONJOBFLOW: "every"}
    assert meta["annotations"] == {"a": "b", ANNOTATION_SCHEDULED_TIME: "2026-01-01T12:01:00Z"}
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "workflow.zen.io/v1alpha1",
            "kind": "CronJobFlow",
            "name": "every",
            "uid": "u-1",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert body["spec"] == CRON["spec"]["jobFlowTemplate"]["spec"]
    assert body["spec"] is not CRON["spec"]["jobFlowTemplate"]["spec"]


def test_child_run_from_a_cached_jobflow() -> None:
    run = child_run(
        {
            "metadata": {
                "name": "r",
                "creationTimestamp": "2026-01-01T12:00:00Z",
                "annotations": {ANNOTATION_CANCEL: "true"},
            },
            "status": {"phase": "Succeeded", "completionTime": "2026-01-01T12:00:09Z"},
        }
    )
    assert run.name == "r"
    assert run.finished
    assert run.succeeded
    assert run.cancel_requested
    assert run.completion_time == datetime(2026, 1, 1, 12, 0, 9, tzinfo=UTC)
    assert not child_run({"metadata": {"name": "x"}}).finished


# -- integration ------------------------------------------------------------------------------


@dataclass
class MovableClock:
    """Real time plus an offset the test moves forward."""

    offset: timedelta = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def past_boundaries(self, count: int) -> None:
        """Move the clock past ``count`` more minute boundaries (schedule times of "* * * * *")
        to ``INTO_MINUTE`` into that minute, however far into its minute it was: every reconcile
        of the next seconds then sees the same schedule time (near a boundary a reconcile could
        see the next one, a second Event or run the test does not expect)."""
        now = self()
        self.offset += minute(now) + timedelta(minutes=count) + INTO_MINUTE - now


INTO_MINUTE = timedelta(seconds=10)


@dataclass
class Running:
    clock: MovableClock
    objects: client.CustomObjectsApi
    namespace: str
    core: client.CoreV1Api | None = None
    informers: ZenflowInformers | None = None
    controller: Controller | None = None
    recorder: EventRecorder | None = None

    async def events(self, name: str) -> list[tuple[str, str, str]]:
        """(type, reason, message) of the Events on CronJobFlow ``name``, oldest first."""
        assert self.core is not None
        out = await self.core.list_namespaced_event(
            self.namespace, field_selector=f"involvedObject.name={name}"
        )
        items = sorted(out.items, key=lambda e: (e.first_timestamp, e.metadata.name))
        return [
            (e.type, e.reason, e.message) for e in items if e.involved_object.kind == "CronJobFlow"
        ]

    async def occurrences(self, name: str, reason: str) -> int:
        """How often ``reason`` happened on CronJobFlow ``name``: the recorder aggregates
        repeats into one Event's count."""
        assert self.core is not None
        out = await self.core.list_namespaced_event(
            self.namespace, field_selector=f"involvedObject.name={name}"
        )
        return sum(
            e.count or 1
            for e in out.items
            if e.involved_object.kind == "CronJobFlow" and e.reason == reason
        )

    async def event(self, name: str, reason: str) -> tuple[str, str, str]:
        """The first Event ``reason`` on CronJobFlow ``name``, waiting for it."""

        async def find() -> tuple[str, str, str] | None:
            return next((e for e in await self.events(name) if e[1] == reason), None)

        return await eventually(find, what=f"{reason} Event on {name}", within=20)

    async def runs(self) -> list[dict[str, Any]]:
        out = await self.objects.list_namespaced_custom_object(
            GROUP, VERSION, self.namespace, JOBFLOW_PLURAL
        )
        return sorted(out["items"], key=lambda o: o["metadata"]["name"])

    async def cron(self, name: str) -> dict[str, Any]:
        obj: dict[str, Any] = await self.objects.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, CRONJOBFLOW_PLURAL, name
        )
        return obj

    async def poke(self, name: str) -> None:
        """Change the CronJobFlow (an annotation) so the controller reconciles it now."""
        body = {"metadata": {"annotations": {"test/poke": datetime.now(UTC).isoformat()}}}
        await self.objects.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, CRONJOBFLOW_PLURAL, name, body,
            **MERGE,
        )  # fmt: skip

    async def finish(self, run: str, phase: str) -> None:
        status = {
            "phase": phase,
            "completionTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        await self.objects.patch_namespaced_custom_object_status(
            GROUP, VERSION, self.namespace, JOBFLOW_PLURAL, run, {"status": status},
            **MERGE,
        )  # fmt: skip

    async def reconciled(self, name: str) -> None:
        """Return once the controller finished a reconcile of CronJobFlow ``name`` that began
        after its caches held it and its runs as the API server holds them now, and the Events
        it recorded are written."""
        assert self.informers is not None
        assert self.controller is not None
        assert self.recorder is not None
        held = [(self.informers.cronjobflows.store, await self.cron(name))]
        held += [(self.informers.jobflows.store, run) for run in await self.runs()]
        await eventually(
            lambda: all(cache_holds(store, obj) for store, obj in held),
            what=f"caches hold {name} and its runs as the API server does",
            interval=0.02,
        )
        key, queue = make_key(self.namespace, name), self.controller.queue
        reconciles = self.controller.reconciles
        queue.add(key)
        await eventually(lambda: not queue.pending(key), what=f"a reconcile of {name}")
        assert self.controller.reconciles > reconciles
        await self.recorder.flush()


@pytest_asyncio.fixture(loop_scope="session")
async def running(api_client: client.ApiClient, namespace: str) -> AsyncIterator[Running]:
    clock = MovableClock()
    informers = build_informers(api_client, namespace=namespace, registry=CollectorRegistry())
    queue: RateLimitingQueue[ObjectKey] = RateLimitingQueue("cron-test")
    # Events are written as `zenflow controller` writes them (setup_controllers' sink).
    recorder = EventRecorder(EventWriter(api_client))
    controller = build_cron_controller(
        informers, CronApi(api_client), queue=queue, now=clock, recorder=recorder
    )
    tasks = [asyncio.create_task(i.run()) for i in informers.all()]
    tasks.append(asyncio.create_task(recorder.run()))
    await asyncio.gather(*(i.wait_synced() for i in informers.all()))
    tasks.append(asyncio.create_task(controller.run()))
    try:
        yield Running(
            clock,
            client.CustomObjectsApi(api_client),
            namespace,
            client.CoreV1Api(api_client),
            informers,
            controller,
            recorder,
        )
    finally:
        await controller.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def cron_object(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "workflow.zen.io/v1alpha1",
        "kind": "CronJobFlow",
        "metadata": {"name": name},
        "spec": {
            "schedule": "* * * * *",
            "jobFlowTemplate": {
                "spec": {
                    "steps": [{"name": "one", "run": {"image": "busybox", "command": ["true"]}}]
                }
            },
            **spec,
        },
    }


def minute(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0)


@pytest.mark.integration
async def test_runs_are_created_recorded_and_pruned(running: Running) -> None:
    await running.objects.create_namespaced_custom_object(
        GROUP, VERSION, running.namespace, CRONJOBFLOW_PLURAL,
        cron_object("every", successfulJobsHistoryLimit=1),
    )  # fmt: skip
    # Nothing is due until the clock passes the next minute boundary.
    running.clock.past_boundaries(1)
    await running.poke("every")
    runs = await eventually(running.runs, what="first run", within=20)
    first = runs[0]["metadata"]
    assert first["name"] == run_name("every", minute(running.clock()))
    assert first["labels"][LABEL_CRONJOBFLOW] == "every"
    assert first["ownerReferences"][0]["kind"] == "CronJobFlow"

    async def recorded() -> dict[str, Any] | None:
        status = (await running.cron("every")).get("status") or {}
        return status if status.get("active") else None

    status = await eventually(recorded, what="status", within=20)
    assert [a["name"] for a in status["active"]] == [first["name"]]
    created = await running.event("every", "RunCreated")
    assert created[0] == "Normal"
    assert created[2].startswith(f"Created JobFlow {first['name']} for ")
    assert status["lastScheduleTime"] == first["annotations"][ANNOTATION_SCHEDULED_TIME]

    # A forced reconcile at the same time creates nothing more.
    await running.poke("every")
    await running.reconciled("every")
    assert len(await running.runs()) == 1

    await running.finish(first["name"], "Succeeded")

    async def succeeded() -> dict[str, Any] | None:
        status = (await running.cron("every")).get("status") or {}
        return status if status.get("lastSuccessfulTime") and not status.get("active") else None

    await eventually(succeeded, what="lastSuccessfulTime", within=20)

    # The next minute: a second run; once it succeeds, history limit 1 deletes the first.
    running.clock.past_boundaries(1)
    await running.poke("every")

    async def two_runs() -> list[str] | None:
        names = [r["metadata"]["name"] for r in await running.runs()]
        return names if len(names) == 2 else None

    names = await eventually(two_runs, what="second run", within=20)
    second = next(n for n in names if n != first["name"])
    await running.finish(second, "Succeeded")

    async def pruned() -> bool:
        runs = [r for r in await running.runs() if "deletionTimestamp" not in r["metadata"]]
        return [r["metadata"]["name"] for r in runs] == [second]

    await eventually(pruned, what="history pruned", within=20)
    deleted = await running.event("every", "RunDeleted")
    assert deleted == ("Normal", "RunDeleted", f"Deleted finished JobFlow {first['name']} "
                       "(history limit)")  # fmt: skip
    assert running.recorder is not None
    await running.recorder.flush()
    assert await running.occurrences("every", "RunCreated") == 2


@pytest.mark.integration
async def test_forbid_skips_and_replace_cancels(running: Running) -> None:
    for name, policy in (("forbid", "Forbid"), ("replace", "Replace")):
        await running.objects.create_namespaced_custom_object(
            GROUP, VERSION, running.namespace, CRONJOBFLOW_PLURAL,
            cron_object(name, concurrencyPolicy=policy),
        )  # fmt: skip
    running.clock.past_boundaries(1)
    for name in ("forbid", "replace"):
        await running.poke(name)

    async def both() -> bool:
        owners = [r["metadata"]["labels"][LABEL_CRONJOBFLOW] for r in await running.runs()]
        return sorted(owners) == ["forbid", "replace"]

    await eventually(both, what="one run each", within=20)
    running.clock.past_boundaries(1)
    for name in ("forbid", "replace"):
        await running.poke(name)

    async def replaced() -> list[dict[str, Any]] | None:
        runs = [
            r
            for r in await running.runs()
            if r["metadata"]["labels"][LABEL_CRONJOBFLOW] == "replace"
        ]
        return runs if len(runs) == 2 else None

    runs = await eventually(replaced, what="replace created a second run", within=20)
    cancelled = [r for r in runs if ANNOTATION_CANCEL in (r["metadata"].get("annotations") or {})]
    assert len(cancelled) == 1
    newest = max(r["metadata"]["name"] for r in runs)
    assert cancelled[0]["metadata"]["name"] < newest
    old = cancelled[0]["metadata"]["name"]
    assert await running.event("replace", "RunReplaced") == (
        "Normal",
        "RunReplaced",
        f"Cancelled active JobFlow {old} to start {newest} (concurrencyPolicy Replace)",
    )
    await running.reconciled("forbid")  # at the time that made "replace" start a second run
    forbid = [
        r for r in await running.runs() if r["metadata"]["labels"][LABEL_CRONJOBFLOW] == "forbid"
    ]
    assert len(forbid) == 1
    kind, reason, message = await running.event("forbid", "RunSkipped")
    assert (kind, reason) == ("Normal", "RunSkipped")
    assert f"JobFlow {forbid[0]['metadata']['name']} is still active" in message
    assert "(concurrencyPolicy Forbid)" in message
    # Each reconcile re-decides the skip; the same schedule time is one Event.
    await running.poke("forbid")
    await running.reconciled("forbid")
    assert await running.occurrences("forbid", "RunSkipped") == 1


@pytest.mark.integration
async def test_a_time_missed_past_the_deadline_is_reported(running: Running) -> None:
    await running.objects.create_namespaced_custom_object(
        GROUP, VERSION, running.namespace, CRONJOBFLOW_PLURAL,
        cron_object("late", startingDeadlineSeconds=10),
    )  # fmt: skip
    # 30 s past the next minute boundary: that time is due, but 20 s beyond the deadline.
    now = datetime.now(UTC)
    due = minute(now) + timedelta(minutes=1)
    running.clock.offset = due + timedelta(seconds=30) - now
    await running.poke("late")
    kind, reason, message = await running.event("late", "MissedSchedule")
    assert (kind, reason) == ("Warning", "MissedSchedule")
    assert message == (
        f"Missed the run for {due.strftime('%Y-%m-%dT%H:%M:%SZ')}: more than "
        "startingDeadlineSeconds (10) late"
    )
    assert await running.runs() == []


@pytest.mark.integration
async def test_an_invalid_schedule_is_reported_not_retried(running: Running) -> None:
    await running.objects.create_namespaced_custom_object(
        GROUP, VERSION, running.namespace, CRONJOBFLOW_PLURAL,
        cron_object("broken", schedule="61 * * * *"),
    )  # fmt: skip

    async def invalid() -> dict[str, Any] | None:
        status = (await running.cron("broken")).get("status") or {}
        return next((c for c in status.get("conditions") or [] if c["type"] == "Ready"), None)

    condition = await eventually(invalid, what="Ready=False", within=20)
    assert (condition["status"], condition["reason"]) == ("False", "Invalid")
    assert "invalid cron schedule '61 * * * *'" in condition["message"]
    assert await running.runs() == []
    assert await running.event("broken", "InvalidSchedule") == (
        "Warning",
        "InvalidSchedule",
        condition["message"],
    )
    # Reconciled again (any change does), the same problem is not reported twice.
    await running.poke("broken")
    await running.reconciled("broken")
    assert [e[1] for e in await running.events("broken")] == ["InvalidSchedule"]


@pytest.mark.integration
async def test_a_schedule_that_never_fires_is_reported(running: Running) -> None:
    """Without the webhook the API server admits "0 0 31 2 *": the controller reports it."""
    await running.objects.create_namespaced_custom_object(
        GROUP, VERSION, running.namespace, CRONJOBFLOW_PLURAL,
        cron_object("february", schedule="0 0 31 2 *"),
    )  # fmt: skip
    kind, reason, message = await running.event("february", "InvalidSchedule")
    assert (kind, reason) == ("Warning", "InvalidSchedule")
    assert message == "cron schedule '0 0 31 2 *' never fires: no date matches"
    status = (await running.cron("february")).get("status") or {}
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == ("False", "Invalid", message)


@pytest.mark.integration
async def test_zenflow_controller_runs_the_cron_controller(
    kube_config: client.Configuration, namespace: str
) -> None:
    """``setup_controllers`` (what ``zenflow controller`` runs) registers this controller with
    the Event recorder: a due time is not needed to see it act, an invalid schedule is reported
    at once (condition and Event)."""
    async with running_controller(kube_config, namespace) as ctl:
        objects = client.CustomObjectsApi(ctl.api)
        await objects.create_namespaced_custom_object(
            GROUP, VERSION, namespace, CRONJOBFLOW_PLURAL,
            cron_object("wired", schedule="0 0 1 1 *"),
        )  # fmt: skip
        helper = Running(MovableClock(), objects, namespace)

        async def ready() -> dict[str, Any] | None:
            status = (await helper.cron("wired")).get("status") or {}
            return next((c for c in status.get("conditions") or [] if c["type"] == "Ready"), None)

        condition = await eventually(ready, what="Ready condition", within=20)
        assert (condition["status"], condition["reason"]) == ("True", "Scheduling")
        # Its Events go through the JobFlow controller's recorder.
        await objects.create_namespaced_custom_object(
            GROUP, VERSION, namespace, CRONJOBFLOW_PLURAL,
            cron_object("never", schedule="0 0 30 2 *"),
        )  # fmt: skip
        helper.core = client.CoreV1Api(ctl.api)
        event = await helper.event("never", "InvalidSchedule")
        assert event[2] == "cron schedule '0 0 30 2 *' never fires: no date matches"
